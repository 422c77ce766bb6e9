"""Recovery: rebuild a node's orders, positions and accounts from its journal.

:func:`rebuild` replays a :class:`~zq.live.journal.Journal` into a fresh
:class:`~zq.cache.Cache` and :class:`~zq.portfolio.Portfolio` by re-applying the events, the
way the engines applied them the first time: an order is created from its
``OrderInitialized`` and moved by :meth:`Order.apply <zq.model.orders.Order.apply>`; each
fill goes through :meth:`Portfolio.process_fill <zq.portfolio.Portfolio.process_fill>`;
deposits and withdrawals through the account's own methods. Nothing is set directly.

Position events and account states in the journal are not applied: they are what the
portfolio produced from the fills, so the rebuild checks that it produces the same ones, and
refuses the journal (:class:`RecoveryError`) when it does not.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from zq.cache import Cache
from zq.live.journal import Journal, JournalMarker, JournalRecord
from zq.model.currency import Currency
from zq.model.enums import AccountType
from zq.model.events import OrderEvent, OrderFilled, OrderInitialized
from zq.model.identifiers import AccountId, ClientOrderId, PositionId, StrategyId
from zq.model.instruments import Instrument
from zq.model.orders import DuplicateFillError, InvalidStateTransition, Order, OverfillError
from zq.model.position import PositionEvent
from zq.portfolio import Portfolio
from zq.portfolio.account import Account, AccountError, AccountState, CashAccount, MarginAccount
from zq_core.fixed import Money

__all__ = ["RecoveryError", "RecoverySummary", "rebuild"]


class RecoveryError(RuntimeError):
    """A journal record that cannot be re-applied; names the file, sequence and type."""

    def __init__(self, path: Path, record: JournalRecord, reason: str) -> None:
        self.path = path
        self.sequence = record.sequence
        self.type_name = record.type_name
        super().__init__(
            f"journal {path}: record {record.sequence} ({record.type_name}) cannot be "
            f"re-applied: {reason}"
        )


@dataclass(frozen=True, slots=True)
class RecoverySummary:
    """What :func:`rebuild` found.

    Attributes
    ----------
    records : int
        Records replayed.
    last_sequence : int
        The sequence number of the last record (0 for an empty journal).
    orders_by_status : dict[str, int]
        Orders per status name (``"ACCEPTED"``, ``"FILLED"``...).
    open_orders : tuple[ClientOrderId, ...]
        Orders working at the venue when the journal ends.
    inflight_orders : tuple[ClientOrderId, ...]
        Orders sent and not answered (``SUBMITTED``, ``PENDING_UPDATE``, ``PENDING_CANCEL``):
        the node must ask the venue about each before trading.
    positions_open, positions_closed : tuple[PositionId, ...]
        The positions rebuilt from the fills.
    accounts : tuple[AccountId, ...]
        The accounts rebuilt or checked.
    fills : int
        Fills re-applied.
    unjournaled_consequences : int
        Position events and account states the fills produced that the journal does not hold
        (normal for the last fill when the node died before journaling them).
    last_marker : JournalMarker or None
        The last node marker (a ``"stop"`` here means the node stopped cleanly).
    order_counts : dict[StrategyId, int]
        Per strategy, the highest count ending its client order ids (the ``OrderFactory``
        format): give it to the strategy's ``OrderFactory.set_count`` so no id is issued twice.
    """

    records: int
    last_sequence: int
    orders_by_status: dict[str, int]
    open_orders: tuple[ClientOrderId, ...]
    inflight_orders: tuple[ClientOrderId, ...]
    positions_open: tuple[PositionId, ...]
    positions_closed: tuple[PositionId, ...]
    accounts: tuple[AccountId, ...]
    fills: int
    unjournaled_consequences: int
    last_marker: JournalMarker | None
    order_counts: dict[StrategyId, int]


class _Rebuild:
    """Re-applies records one by one; holds what the fills produced and is still to match."""

    def __init__(self, path: Path, cache: Cache, portfolio: Portfolio) -> None:
        self.path = path
        self.cache = cache
        self.portfolio = portfolio
        self.expected_positions: deque[PositionEvent] = deque()
        self.expected_accounts: deque[AccountState] = deque()
        self.accounts: dict[AccountId, None] = {}
        self.records = 0
        self.last_sequence = 0
        self.fills = 0
        self.unjournaled = 0
        self.last_marker: JournalMarker | None = None

    def apply(self, record: JournalRecord) -> None:
        entry = record.entry
        if isinstance(entry, OrderEvent):
            self._order_event(record, entry)
        elif isinstance(entry, PositionEvent):
            self._check(record, entry, self.expected_positions, "position event")
        elif isinstance(entry, AccountState):
            self._account_state(record, entry)
        elif isinstance(entry, Instrument):
            self.cache.add_instrument(entry)
        elif isinstance(entry, JournalMarker):
            self.last_marker = entry
        else:  # the journal decodes only the types above
            raise RecoveryError(self.path, record, f"unexpected entry {entry!r}")
        self.records += 1
        self.last_sequence = record.sequence

    def _refuse(self, record: JournalRecord, reason: str) -> RecoveryError:
        return RecoveryError(self.path, record, reason)

    # -- orders and fills --------------------------------------------------------------------

    def _order_event(self, record: JournalRecord, event: OrderEvent) -> None:
        if isinstance(event, OrderInitialized):
            if self.cache.order_exists(event.client_order_id):
                raise self._refuse(record, f"order {event.client_order_id} is initialized twice")
            self.cache.add_order(Order.create(event))
            return
        order = self.cache.order(event.client_order_id)
        if order is None:
            raise self._refuse(
                record, f"order {event.client_order_id} has no OrderInitialized before it"
            )
        instrument = None
        if isinstance(event, OrderFilled):
            instrument = self.cache.instrument(event.instrument_id)
            if instrument is None:  # checked first: a refused fill must change nothing
                raise self._refuse(
                    record,
                    f"instrument {event.instrument_id} is neither in the cache nor journaled "
                    "before the fill; add the node's instruments to the cache first",
                )
        try:
            order.apply(event)
        except (InvalidStateTransition, OverfillError, DuplicateFillError) as exc:
            raise self._refuse(record, str(exc)) from exc
        self.cache.update_order(order)
        if isinstance(event, OrderFilled) and instrument is not None:
            self._fill(record, event, instrument)

    def _fill(self, record: JournalRecord, fill: OrderFilled, instrument: Instrument) -> None:
        # Consequences of the previous fill that were never journaled are dropped here.
        self.unjournaled += len(self.expected_positions) + len(self.expected_accounts)
        self.expected_positions.clear()
        self.expected_accounts.clear()
        account = self.portfolio.account_for(fill)
        states_before = 0 if account is None else len(account.events)
        try:
            produced = self.portfolio.process_fill(fill, instrument)
        except (AccountError, ValueError) as exc:
            raise self._refuse(record, f"the portfolio refused the fill: {exc}") from exc
        self.fills += 1
        self.expected_positions.extend(produced)
        if account is not None:
            self.expected_accounts.extend(account.events[states_before:])

    def _check(
        self,
        record: JournalRecord,
        journaled: PositionEvent | AccountState,
        expected: deque[PositionEvent] | deque[AccountState],
        what: str,
    ) -> None:
        if not expected:
            raise self._refuse(record, f"the {what} follows no fill that produces it")
        produced = expected.popleft()
        if produced != journaled:
            raise self._refuse(
                record,
                f"the {what} differs from the one the rebuilt portfolio produced:\n"
                f"  journaled: {journaled!r}\n  rebuilt:   {produced!r}",
            )

    # -- accounts ----------------------------------------------------------------------------

    def _account_state(self, record: JournalRecord, state: AccountState) -> None:
        if state.reason == "fill":
            self._check(record, state, self.expected_accounts, "account state")
            return
        account = self.cache.account(state.account_id)
        if state.reason == "opening":
            if account is None:
                account = self._open_account(record, state)
                self.cache.add_account(account)
            self.accounts[state.account_id] = None
            self._compare_totals(record, account, state)
            return
        if not isinstance(account, Account):
            raise self._refuse(record, f"account {state.account_id} has no opening state before")
        if state.reason not in ("deposit", "withdrawal"):
            raise self._refuse(
                record,
                f"account state reason {state.reason!r} is not one the rebuild re-applies "
                "(opening, deposit, withdrawal, fill)",
            )
        # Re-apply the movement: the difference of each balance, by deposit or withdrawal.
        try:
            for balance in state.balances:
                change = balance.total - account.balance(balance.total.currency.code)
                if change.raw > 0:
                    account.deposit(change, state.ts_event)
                elif change.raw < 0:
                    account.withdraw(-change, state.ts_event)
        except AccountError as exc:
            raise self._refuse(record, str(exc)) from exc
        self._compare_totals(record, account, state)

    def _open_account(self, record: JournalRecord, state: AccountState) -> Account:
        balances: dict[Currency | str, Money] = {
            b.total.currency.code: b.total for b in state.balances
        }
        if state.account_type is AccountType.CASH:
            return CashAccount(state.account_id, state.base_currency, balances, state.ts_event)
        if state.account_type is AccountType.MARGIN:
            # Leverage is not in the state: a node trading on leverage adds its account,
            # configured, to the cache before the rebuild, and it is checked here instead.
            return MarginAccount(
                state.account_id,
                balances=balances,
                base_currency=state.base_currency,
                ts_event=state.ts_event,
            )
        raise self._refuse(record, f"account type {state.account_type.name} is not supported")

    def _compare_totals(self, record: JournalRecord, account: object, state: AccountState) -> None:
        if not isinstance(account, Account):
            raise self._refuse(record, f"account {state.account_id} in the cache is {account!r}")
        journaled = {b.total.currency.code: b.total for b in state.balances}
        rebuilt = {code: b.total for code, b in account.balances().items()}
        if journaled != rebuilt:
            raise self._refuse(
                record,
                f"account {state.account_id} balances {_show(rebuilt)} differ from the "
                f"journal's {_show(journaled)}",
            )

    # -- result ------------------------------------------------------------------------------

    def summary(self) -> RecoverySummary:
        cache = self.cache
        statuses = Counter(order.status.name for order in cache.orders())
        return RecoverySummary(
            records=self.records,
            last_sequence=self.last_sequence,
            orders_by_status=dict(sorted(statuses.items())),
            open_orders=tuple(o.client_order_id for o in cache.orders_open()),
            inflight_orders=tuple(o.client_order_id for o in cache.orders_inflight()),
            positions_open=tuple(p.id for p in cache.positions_open()),
            positions_closed=tuple(p.id for p in cache.positions_closed()),
            accounts=tuple(self.accounts),
            fills=self.fills,
            unjournaled_consequences=(
                self.unjournaled + len(self.expected_positions) + len(self.expected_accounts)
            ),
            last_marker=self.last_marker,
            order_counts=_order_counts(cache.orders()),
        )


def _order_counts(orders: Iterable[Order]) -> dict[StrategyId, int]:
    counts: dict[StrategyId, int] = {}
    for order in orders:
        tail = str(order.client_order_id).rpartition("-")[2]
        if tail.isdigit():
            counts[order.strategy_id] = max(counts.get(order.strategy_id, 0), int(tail))
    return counts


def _show(totals: Mapping[str, object]) -> str:
    return "{" + ", ".join(f"{code}: {money}" for code, money in sorted(totals.items())) + "}"


def rebuild(
    journal: Journal | Iterable[JournalRecord],
    cache: Cache,
    portfolio: Portfolio,
    *,
    path: Path | None = None,
) -> RecoverySummary:
    """Rebuild orders, positions and accounts in ``cache`` and ``portfolio`` from a journal.

    Parameters
    ----------
    journal : Journal or iterable of JournalRecord
        The journal to replay (or records already read from one).
    cache : Cache
        A cache holding no orders or positions yet. Instruments the journal does not hold
        must be in it; so must a margin account whose leverage is not 1.
    portfolio : Portfolio
        The portfolio over ``cache``, configured like the node's (position modes).
    path : Path, optional
        The file to name in errors when ``journal`` is an iterable of records.

    Returns
    -------
    RecoverySummary
        Orders by status, open and in-flight orders, positions, accounts, last sequence.

    Raises
    ------
    RecoveryError
        At the first record that cannot be re-applied; the cache holds what came before.
    JournalCorrupt
        If the journal is damaged (from :meth:`Journal.replay`).
    ValueError
        If ``cache`` already holds orders or positions.
    """
    if cache.orders() or cache.positions():
        raise ValueError("rebuild needs a cache without orders or positions")
    records = journal.replay() if isinstance(journal, Journal) else journal
    source = journal.path if isinstance(journal, Journal) else (path or Path("<records>"))
    state = _Rebuild(source, cache, portfolio)
    for record in records:
        state.apply(record)
    return state.summary()
