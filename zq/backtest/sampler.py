"""``ResultSampler``: mark-to-market equity, mark prices and net positions over data time.

The sampler costs nothing per market datum: it runs only on a clock timer (every
``interval_ns`` of data time, on whole multiples of the interval), on each position event (so
every fill is sampled, after the portfolio applied it), when the run starts (stamped 1 ns
before the first datum) and when it stops.

At each sample it records:

- per instrument, the **mark price**: the mid of the matching core's book when both sides
  are quoted, else the core's last trade (with an L1 book built from trades both are the
  last trade); nothing before the instrument has a market;
- per instrument and strategy ever held, the **net signed quantity** (``0.0`` when flat);
- per account and currency, the settled **balance**, the **unrealized** PnL of the open
  positions settling in that currency at the mark price (at the position's last fill price
  while its instrument has no mark), and the **equity**:

  - margin account: ``equity = balance + unrealized``;
  - cash account: the balance already paid for the open positions (a spot buy moves the quote
    balance), so ``equity = balance + market value`` of those positions
    (``signed_qty × mark × multiplier``, i.e. their cost plus the unrealized PnL). The base
    currency's own balance row is reported as it is, so do not add rows of different
    currencies.

Values are floats (this is the statistics edge); the PnL itself is computed exactly
(``Decimal``) and rounded once here.

How it stays cheap
------------------
A sample during the run only notes where things stand, in typed columns: its time, each
instrument's mark as a raw integer and its precision, and how many position events and
account states had been published. The position events themselves are kept (the result holds
them anyway). Values are computed once, when :attr:`ResultSampler.records` is read after the
run: the open positions are rebuilt from their events, exactly as
:class:`~zq.model.position.Position` keeps them (signed quantity and entry value), and each
balance is read from the account state current at the sample. So a fill costs the sampler a
few appends (well under a microsecond), whatever the number of positions; linear positions are
then valued for all samples at once in integers (see ``_LinearReplay``), anything else sample
by sample with Decimals.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from zq.backtest.result import SampleRecords, _codes, _equal, _identities
from zq.common import topics
from zq.common.component import Component
from zq.model.enums import PositionSide
from zq.model.position import (
    EXACT_CONTEXT,
    PositionChanged,
    PositionClosed,
    PositionEvent,
    PositionOpened,
)
from zq.portfolio.account import Account, CashAccount
from zq_core.book_base import OrderBook as BaseOrderBook
from zq_core.fixed import FIXED_PRECISION_MAX, Price
from zq_core.sampling import SampleColumns, read_columns, replay_linear, take

if TYPE_CHECKING:
    from zq.backtest.exchange import SimulatedExchange
    from zq.cache import Cache
    from zq.common.clock import Clock, TimeEvent
    from zq.model.identifiers import InstrumentId, StrategyId, Venue
    from zq.portfolio.account import AccountState
    from zq_core.bus import MessageBus
    from zq_core.matching import MatchingCore

__all__ = ["DEFAULT_SAMPLE_INTERVAL_NS", "SAMPLE_TIMER", "ResultSampler", "mark_price"]

#: One minute of data time.
DEFAULT_SAMPLE_INTERVAL_NS = 60 * 1_000_000_000
#: The name of the sampler's timer on the clock.
SAMPLE_TIMER = "zq.backtest.sample"

# The precision recorded for an instrument without a mark at a sample.
_NO_MARK = -1
# Raw integers up to 2**53 convert to float64 exactly, so raw / 10**p rounds once (as
# Price.as_double and float(Decimal) do); larger ones take Python's exact int division.
_EXACT_FLOAT_RAW = 1 << 53
# Position's quantum for a reduction's share of the entry value and an inverse value.
_QUANTUM = Decimal("1e-30")
_ZERO = Decimal(0)


def _keeps_best_raw(book: object) -> bool:
    # Whether the book's best_bid_raw and best_ask_raw are the compiled base's, so the
    # sampler may read its best prices from its ladders instead of calling them.
    kind = type(book)
    return (
        isinstance(book, BaseOrderBook)
        and getattr(kind, "best_bid_raw", None) is BaseOrderBook.best_bid_raw
        and getattr(kind, "best_ask_raw", None) is BaseOrderBook.best_ask_raw
    )


def mark_price(core: MatchingCore) -> Price | None:
    """Return the mark price of a matching core: its book's mid, else its last trade.

    The mid of two prices of precision ``p`` is exact at precision ``p + 1``; at the
    largest precision it is rounded down (it stays inside the spread).
    """
    raw, precision = _mark_raw(core, core.price_precision)
    return None if precision == _NO_MARK else Price.from_raw(raw, precision)


def _mark_raw(core: MatchingCore, precision: int) -> tuple[int, int]:
    book = core.book
    bid, ask = book.best_bid_raw(), book.best_ask_raw()
    if bid is not None and ask is not None:
        if precision < FIXED_PRECISION_MAX:
            return (bid + ask) * 5, precision + 1
        return (bid + ask) // 2, precision
    last = core.last_trade
    return (0, _NO_MARK) if last is None else (last, precision)


class ResultSampler(Component):
    """Sample prices, positions and mark-to-market equity during a backtest.

    Parameters
    ----------
    clock : Clock
        The node's clock; the timer runs on it.
    bus : MessageBus
        The position events of ``strategy_ids`` are sampled (one sample per fill).
    cache : Cache
        Where the accounts, instruments and positions are read.
    exchanges : Mapping[Venue, SimulatedExchange]
        The simulated venues; their matching cores give the mark prices.
    strategy_ids : Iterable[StrategyId]
        The strategies whose fills are sampled.
    interval_ns : int, default one minute
        The period of the timer samples, in nanoseconds of data time.

    Raises
    ------
    ValueError
        If ``interval_ns`` is not positive.
    """

    def __init__(
        self,
        clock: Clock,
        bus: MessageBus,
        cache: Cache,
        exchanges: Mapping[Venue, SimulatedExchange],
        strategy_ids: Iterable[StrategyId],
        interval_ns: int = DEFAULT_SAMPLE_INTERVAL_NS,
    ) -> None:
        if not isinstance(interval_ns, int) or interval_ns <= 0:
            raise ValueError(f"sample_interval_ns must be a positive int, got {interval_ns!r}")
        super().__init__("ResultSampler")
        self.clock = clock
        self.bus = bus
        self.cache = cache
        self.interval_ns = interval_ns
        self._exchanges = dict(exchanges)
        self._topics = [topics.position_events(s) for s in strategy_ids]
        self._clear()

    def _clear(self) -> None:
        # One entry per sample in each column (the account columns: one per account).
        self._ts = array("q")
        self._position_counts = array("q")
        self._position_events: list[PositionEvent] = []
        self._instrument_ids: list[InstrumentId] = []
        # Per instrument: its book's best bid and ask (bound), its core, its price precision,
        # the columns of its mark (raw, precision) at each sample, and the book when its best
        # prices can be read from its ladders in C (see SampleColumns).
        self._marks: list[
            tuple[
                Callable[[], int | None],
                Callable[[], int | None],
                MatchingCore,
                int,
                array[int],
                array[int],
                BaseOrderBook | None,
            ]
        ] = []
        self._accounts: list[_AccountColumns] = []
        self._account_counts: list[tuple[Account, array[int]]] = []
        self._records: SampleRecords | None = None
        # The counts of samples and position events _records was computed at.
        self._records_at = (-1, -1)
        # Columns of position events read already (see use_position_columns).
        self._read_columns: tuple[list[Any], Mapping[str, Any], Mapping[type, int], Any] | None
        self._read_columns = None
        # Columns of the accounts' states read already (see use_state_columns).
        self._state_columns: (
            tuple[list[Any], Mapping[str, Any], Mapping[int, tuple[int, int]]] | None
        ) = None
        self._new_columns()

    def _new_columns(self) -> None:
        # The compiled recorder of the samples, writing into the columns above: the
        # subscriber to the position events and the timer's sampler.
        self._columns = SampleColumns(
            self._ts,
            self._position_counts,
            self._position_events,
            self._marks,
            self._account_counts,
        )
        self._handler = self._columns.on_position_event

    @property
    def sample_count(self) -> int:
        """Samples taken so far."""
        return len(self._ts)

    # -- lifecycle ---------------------------------------------------------------------------

    def _on_start(self) -> None:
        self._clear()
        for instrument in self.cache.instruments():
            exchange = self._exchanges.get(instrument.id.venue)
            if exchange is not None:
                core = exchange.core(instrument.id)
                book = core.book  # a core keeps its book for life
                self._instrument_ids.append(instrument.id)
                self._marks.append(
                    (
                        book.best_bid_raw,
                        book.best_ask_raw,
                        core,
                        core.price_precision,
                        array("q"),
                        array("b"),
                        book if _keeps_best_raw(book) else None,
                    )
                )
        self._accounts = [
            _AccountColumns(account)
            for account in self.cache.accounts()
            if isinstance(account, Account)
        ]
        self._account_counts = [(a.account, a.counts) for a in self._accounts]
        self._new_columns()
        now = self.clock.timestamp_ns()
        # The opening sample is stamped 1 ns before the start, so it stays apart from the
        # samples of fills at the first datum's time (samples at one instant keep the last).
        self.sample(max(now - 1, 0))
        interval = self.interval_ns
        boundary = -(-now // interval) * interval  # the first whole multiple at or after now
        self.clock.set_timer(
            SAMPLE_TIMER,
            interval,
            self._on_timer,
            start_ns=boundary,
            fire_immediately=boundary > now,  # at `now` itself the opening sample is taken
        )
        for topic in self._topics:
            self.bus.subscribe(topic, self._handler)

    def _on_stop(self) -> None:
        for topic in self._topics:
            self.bus.unsubscribe(topic, self._handler)
        if SAMPLE_TIMER in self.clock.timer_names:
            self.clock.cancel_timer(SAMPLE_TIMER)
        self.sample(self.clock.timestamp_ns())

    def _on_timer(self, event: TimeEvent) -> None:
        self.sample(event.ts_event)

    def _on_position_event(self, event: PositionEvent) -> None:
        # Keep the event and sample at its time, once per fill (a fill through zero
        # publishes two events, closed then opened, after the portfolio applied the whole
        # fill: one sample covers both). The bus calls the compiled recorder directly.
        self._columns.on_position_event(event)

    # -- sampling ------------------------------------------------------------------------------

    def sample(self, ts: int) -> None:
        """Record the mark prices, net positions and equity at ``ts``."""
        # The marks in raw integers, as mark_price computes them (see SampleColumns).
        self._columns.sample(ts)

    def use_position_columns(
        self,
        events: list[PositionEvent],
        columns: Mapping[str, Any],
        kinds: Mapping[type, int],
        codes: Any,
    ) -> None:
        """Take the columns of position events read already, for the records to use when
        they were computed from these very events (one pass over a long run's events less).

        Parameters
        ----------
        events : list
            The position events, in order.
        columns : Mapping
            A column per field text, as ``read_columns`` reads it (``"last_qty.raw"``: an
            int64 array; ``"position_id"``: a list): at least the fields the replay reads.
        kinds, codes
            The code of each type of event, and each event's code (an int8 array), as
            ``zq.backtest.result`` codes them.
        """
        self._read_columns = (events, columns, kinds, codes)

    def use_state_columns(
        self,
        states: list[AccountState],
        columns: Mapping[str, Any],
        spans: Mapping[int, tuple[int, int]],
    ) -> None:
        """Take the columns of account states read already (states of one balance each),
        for the records to use for the accounts whose very list of states they read.

        Parameters
        ----------
        states : list
            The states, account after account.
        columns : Mapping
            A column per field text, as ``read_columns`` reads it
            (``"balances.0.total.raw"``: an int64 array; ``"balances.0.total.currency.code"``:
            a list).
        spans : Mapping
            The rows of each account's list of states (``account.events``), by the list's
            ``id``: (start, stop).
        """
        self._state_columns = (states, columns, spans)

    @property
    def records(self) -> SampleRecords:
        """The samples so far, computed (once) into :class:`SampleRecords` columns."""
        # Samples are taken by the compiled recorder: the records are computed anew once
        # a sample or a position event was added.
        at = (len(self._ts), len(self._position_events))
        if self._records is None or self._records_at != at:
            self._records = self._compute()
            self._records_at = at
        return self._records

    # -- computing the samples ---------------------------------------------------------------

    def _compute(self) -> SampleRecords:
        records = SampleRecords()
        ts = np.frombuffer(self._ts, dtype=np.int64)
        self._record_prices(records, ts)
        rows = _linear_rows(self, ts)
        if rows is None:
            self._record_exactly(records, ts)
            return records
        position_rows, equity_rows = rows
        records.position_ts.frombytes(position_rows[0].tobytes())
        records.position_instrument.extend(position_rows[1])
        records.position_strategy.extend(position_rows[2])
        records.position_qty.frombytes(position_rows[3].tobytes())
        records.equity_ts.frombytes(equity_rows[0].tobytes())
        records.equity_account.extend(equity_rows[1])
        records.equity_currency.extend(equity_rows[2])
        records.equity_balance.frombytes(equity_rows[3].tobytes())
        records.equity_unrealized.frombytes(equity_rows[4].tobytes())
        records.equity_value.frombytes(equity_rows[5].tobytes())
        return records

    def _record_exactly(self, records: SampleRecords, ts: np.ndarray) -> None:
        # Any instrument (inverse ones too), sample by sample with exact Decimals.
        marks = self._decimal_marks()
        book = _PositionBook(self.cache, self._position_events)
        held_names: list[tuple[str, str]] = []
        with localcontext(EXACT_CONTEXT):
            for sample in range(len(ts)):
                at = int(ts[sample])
                book.advance(self._position_counts[sample])
                held_names.extend((str(i), str(s)) for i, s in book.held[len(held_names) :])
                for pair, (instrument_name, strategy_name) in zip(
                    book.held, held_names, strict=True
                ):
                    records.position_ts.append(at)
                    records.position_instrument.append(instrument_name)
                    records.position_strategy.append(strategy_name)
                    records.position_qty.append(book.net(pair))
                sample_marks = {
                    instrument_id: mark
                    for instrument_id, column in marks.items()
                    if (mark := column[sample]) is not None
                }
                unrealized, market_value = book.valuations(sample_marks)
                for account in self._accounts:
                    name = account.name
                    for code, balance in account.balances_at(sample).items():
                        key = (name, code)
                        gain = unrealized.get(key, _ZERO)
                        added = market_value.get(key, _ZERO) if account.cash else gain
                        records.equity_ts.append(at)
                        records.equity_account.append(name)
                        records.equity_currency.append(code)
                        records.equity_balance.append(float(balance))
                        records.equity_unrealized.append(float(gain))
                        records.equity_value.append(float(balance + added))

    def _decimal_marks(self) -> dict[InstrumentId, list[Decimal | None]]:
        return {
            instrument_id: [
                None if p == _NO_MARK else Decimal(r).scaleb(-p)
                for r, p in zip(raw, precision, strict=True)
            ]
            for instrument_id, (*_, raw, precision, _) in zip(
                self._instrument_ids, self._marks, strict=True
            )
        }

    def _record_prices(self, records: SampleRecords, ts: np.ndarray) -> None:
        # The price rows, sample by sample in instrument order, from the raw columns at once.
        count, width = len(ts), len(self._marks)
        if width == 0 or count == 0:
            return
        raws, precisions = self._mark_matrix()
        present = (precisions != _NO_MARK).ravel()
        names = np.array([str(i) for i in self._instrument_ids], dtype=object)
        records.price_ts.frombytes(np.repeat(ts, width)[present].tobytes())
        records.price_instrument.extend(np.tile(names, count)[present].tolist())
        values = _raw_floats(raws.ravel()[present], precisions.ravel()[present])
        records.price_value.frombytes(values.tobytes())

    def _mark_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """The marks as (samples × instruments) raw and precision matrices."""
        count, width = len(self._ts), len(self._marks)
        raws = np.empty((count, width), dtype=np.int64)
        precisions = np.empty((count, width), dtype=np.int8)
        for index, (*_, raw, precision, _) in enumerate(self._marks):
            raws[:, index] = np.frombuffer(raw, dtype=np.int64)
            precisions[:, index] = np.frombuffer(precision, dtype=np.int8)
        return raws, precisions


def _raw_floats(raws: np.ndarray, precisions: np.ndarray) -> np.ndarray:
    """Return ``raw / 10**precision`` as float64, rounded once (as ``Price.as_double``)."""
    values = raws.astype(np.float64) / np.power(10.0, precisions.astype(np.float64))
    for index in np.flatnonzero(np.abs(raws) > _EXACT_FLOAT_RAW):
        values[index] = int(raws[index]) / 10 ** int(precisions[index])
    return values


class _AccountColumns:
    """One account's column: how many account states it had published at each sample.

    Every balance change is followed by an account state before the fill's position events
    (a margin update that adds a settlement currency, with a zero balance, comes just before
    the fill's state), so the state current at a sample holds the balances of the account's
    currencies then, in the account's order.
    """

    __slots__ = ("_balances", "_balances_count", "account", "cash", "counts", "name")

    def __init__(self, account: Account) -> None:
        self.name = str(account.id)
        self.cash = isinstance(account, CashAccount)
        self.account = account
        self.counts = array("q")
        self._balances: dict[str, Decimal] = {}
        self._balances_count = -1

    @property
    def states(self) -> list[AccountState]:
        """The account's states (a fill's is made when read: read them after the run)."""
        return self.account.events

    def balances_at(self, sample: int) -> dict[str, Decimal]:
        """Return the balance of each currency at a sample, by currency code."""
        count = self.counts[sample]
        if count != self._balances_count:
            state = self.states[count - 1] if count else None
            self._balances = {} if state is None else _state_balances(state)
            self._balances_count = count
        return self._balances


def _state_balances(state: AccountState) -> dict[str, Decimal]:
    return {b.total.currency.code: b.total.as_decimal() for b in state.balances}


class _OpenPosition:
    """A position's exact state as :class:`Position` keeps it, rebuilt from its events."""

    __slots__ = (
        "account",
        "currency",
        "entry_value",
        "instrument_id",
        "inverse",
        "last_px",
        "multiplier",
        "pair",
        "signed_qty",
    )

    def __init__(self, event: PositionEvent, multiplier: Decimal, inverse: bool) -> None:
        self.pair = (event.instrument_id, event.strategy_id)
        self.instrument_id = event.instrument_id
        self.multiplier = multiplier
        self.inverse = inverse
        self.currency = event.currency.code
        self.account = str(event.account_id)
        self.signed_qty = _ZERO
        self.entry_value = _ZERO
        self.last_px = event.last_px.as_decimal()

    def value(self, qty: Decimal, px: Decimal) -> Decimal:
        # The entry value of ``qty`` at ``px``: qty × px, or qty / px for inverse contracts.
        return (qty / px).quantize(_QUANTUM) if self.inverse else qty * px

    def apply(self, event: PositionEvent) -> None:
        qty = event.last_qty.as_decimal()
        px = event.last_px.as_decimal()
        held = abs(self.signed_qty)
        if isinstance(event, PositionOpened) or held == 0:
            self.entry_value = self.value(qty, px)
        elif isinstance(event, PositionClosed):
            self.entry_value = _ZERO
        elif abs(event.signed_qty) > held:
            self.entry_value += self.value(qty, px)
        else:
            # The reduction's share of the entry value, rounded as the position rounds it.
            self.entry_value -= (self.entry_value * qty / held).quantize(_QUANTUM)
        self.signed_qty = event.signed_qty
        self.account = str(event.account_id)
        self.last_px = px

    def unrealized(self, px: Decimal) -> Decimal:
        qty = abs(self.signed_qty)
        if self.inverse:
            gain = self.entry_value - self.value(qty, px)
        else:
            gain = qty * px - self.entry_value
        return gain * self.multiplier if self.signed_qty > 0 else -gain * self.multiplier


class _PositionBook:
    """The open positions after the first ``n`` position events, advanced sample by sample."""

    def __init__(self, cache: Cache, events: list[PositionEvent]) -> None:
        self._cache = cache
        self._events = events
        self._applied = 0
        self._positions: dict[object, _OpenPosition] = {}
        self._open: dict[object, _OpenPosition] = {}  # in the order they (re)opened
        #: Every (instrument, strategy) held so far, in the order first held.
        self.held: list[tuple[InstrumentId, StrategyId]] = []
        self._sums: dict[tuple[InstrumentId, StrategyId], Decimal] = {}
        self._net: dict[tuple[InstrumentId, StrategyId], float] = {}
        self._instruments: dict[object, tuple[Decimal, bool]] = {}

    def advance(self, count: int) -> None:
        """Apply the position events up to the ``count``-th."""
        events = self._events
        while self._applied < count:
            event = events[self._applied]
            self._applied += 1
            if not isinstance(event, PositionOpened | PositionChanged | PositionClosed):
                continue
            position = self._positions.get(event.position_id)
            if position is None:
                multiplier, inverse = self._instrument(event.instrument_id)
                position = self._positions[event.position_id] = _OpenPosition(
                    event, multiplier, inverse
                )
            before = position.signed_qty
            position.apply(event)
            pair = position.pair
            if position.signed_qty == 0:
                self._open.pop(event.position_id, None)
            else:
                self._open.setdefault(event.position_id, position)
                if pair not in self._sums:
                    self.held.append(pair)
                    self._sums[pair] = _ZERO
            if pair in self._sums:
                # The net of the pair's open positions, kept exact; a float per change.
                total = self._sums[pair] = self._sums[pair] + (position.signed_qty - before)
                self._net[pair] = float(total)

    def _instrument(self, instrument_id: InstrumentId) -> tuple[Decimal, bool]:
        found = self._instruments.get(instrument_id)
        if found is None:
            instrument = self._cache.instrument(instrument_id)
            if instrument is None:
                raise ValueError(f"position events of {instrument_id}, which is not in the cache")
            found = self._instruments[instrument_id] = (
                instrument.multiplier.as_decimal(),
                instrument.is_inverse,
            )
        return found

    def net(self, pair: tuple[InstrumentId, StrategyId]) -> float:
        return self._net[pair]

    def valuations(
        self, marks: Mapping[InstrumentId, Decimal]
    ) -> tuple[dict[tuple[str, str], Decimal], dict[tuple[str, str], Decimal]]:
        """Return the unrealized PnL and the market value per (account, currency)."""
        unrealized: dict[tuple[str, str], Decimal] = {}
        market_value: dict[tuple[str, str], Decimal] = {}
        for position in self._open.values():
            mark = marks.get(position.instrument_id, position.last_px)
            key = (position.account, position.currency)
            unrealized[key] = unrealized.get(key, _ZERO) + position.unrealized(mark)
            value = position.signed_qty * mark * position.multiplier
            market_value[key] = market_value.get(key, _ZERO) + value
        return unrealized, market_value


# -- the samples of linear positions, column-wise -------------------------------------------------
#
# For linear contracts a position's unrealized PnL is linear in the mark: with ``S`` its signed
# quantity, ``V`` its entry value and ``k`` the multiplier, ``S × mark × k − sign(S) × V × k``.
# So per (account, currency, instrument) two exact integers, A = Σ S × k and
# C = Σ sign(S) × V × k, kept while the events are replayed, value every sample:
# ``unrealized = A × mark − C`` and, for a cash account, ``market value = A × mark``. The sums
# run in int64 at fixed scales (checked against overflow first) and become floats rounded once,
# as float(Decimal) rounds the exact values. Anything else (an inverse contract, mixed
# precisions, a reduction whose share of the entry value is not exact at the fills' scale, a
# position without a mark) is valued sample by sample with Decimals instead. The events are
# read in one pass (zq_core.sampling.read_columns) and replayed in C (replay_linear), which
# stops at the first sum past int64 (then the Decimals value the samples); _LinearReplay.run,
# event by event in Python, replays what they do not read.

_SAFE = 1 << 62
_OPENED, _CHANGED, _CLOSED = 0, 1, 2
_EVENT_KINDS = {PositionOpened: _OPENED, PositionChanged: _CHANGED, PositionClosed: _CLOSED}
_SHORT = PositionSide.SHORT
# The code of a position event of another type (valued exactly), and of an object that is
# no position event (skipped; the compiled replay leaves such runs to _LinearReplay.run).
_UNKNOWN, _NOT_POSITION = 3, 4

# What the compiled replay reads of each position event.
_REPLAY_NUMBERS = (
    "last_qty.raw",
    "last_qty.precision",
    "last_px.raw",
    "last_px.precision",
    "quantity.raw",
    "quantity.precision",
)
_REPLAY_NAMES = (
    "position_id",
    "instrument_id",
    "strategy_id",
    "account_id",
    "currency.code",
    "side",
)


def _columns_read(
    read: tuple[list[Any], Mapping[str, Any], Mapping[type, int], Any] | None,
    events: list[PositionEvent],
) -> tuple[list[Any], list[list[Any]], Any] | None:
    """The replay's columns (numbers, names, kinds) out of columns read already of these
    very events, or None when they were not (other events, a type coded otherwise)."""
    if read is None:
        return None
    read_events, columns, kinds, codes = read
    if len(read_events) != len(events) or read_events != events:
        return None
    if any(field not in columns for field in _REPLAY_NUMBERS + _REPLAY_NAMES):
        return None
    # Their codes to the replay's: each code must stand for types of one replay code.
    table = np.full(256, _NOT_POSITION, dtype=np.int8)
    seen: dict[int, int] = {}
    replay_kinds = _ReplayKinds()
    for kind, code in kinds.items():
        replay_code = replay_kinds[kind]
        if seen.setdefault(code, replay_code) != replay_code:
            return None
        table[code & 0xFF] = replay_code
    replayed = table[np.asarray(codes, dtype=np.int8).view(np.uint8)]
    return (
        [columns[field] for field in _REPLAY_NUMBERS],
        [columns[field] for field in _REPLAY_NAMES],
        replayed,
    )


class _ReplayKinds(dict[type, int]):
    """The code of each type of position event, found on first sight of the type."""

    def __missing__(self, kind: type) -> int:
        code: int | None = _EVENT_KINDS.get(kind)  # type: ignore[call-overload]
        if code is None:
            code = _UNKNOWN if issubclass(kind, PositionEvent) else _NOT_POSITION
        self[kind] = code
        return code


def _int64s(values: np.ndarray) -> array[int]:
    column = array("q")
    column.frombytes(np.ascontiguousarray(values, dtype=np.int64).tobytes())
    return column

_PositionRows = tuple[np.ndarray, list[str], list[str], np.ndarray]
_EquityRows = tuple[np.ndarray, list[str], list[str], np.ndarray, np.ndarray, np.ndarray]


class _Column:
    """A and C (see above) and the open positions of one (account, currency, instrument),
    with their values at each sample."""

    __slots__ = ("a", "a_at", "c", "c_at", "multiplier", "open", "open_at")

    def __init__(self, samples_before: int, multiplier: int) -> None:
        self.multiplier = multiplier  # the instrument's multiplier, raw
        self.a = self.c = self.open = 0
        # Typed columns (8 bytes a sample); a value past int64 raises OverflowError.
        self.a_at = array("q", bytes(8 * samples_before))
        self.c_at = array("q", bytes(8 * samples_before))
        self.open_at = array("q", bytes(8 * samples_before))


def _linear_rows(
    sampler: ResultSampler, ts: np.ndarray
) -> tuple[_PositionRows, _EquityRows] | None:
    replay = _LinearReplay(sampler)
    done = replay.run_compiled(len(ts))
    if done is None:  # events replay_linear does not read: one by one
        replay = _LinearReplay(sampler)
        done = replay.run(len(ts))
    if not done:
        return None
    positions = replay.position_rows(ts)
    equity = replay.equity_rows(ts)
    if positions is None or equity is None:
        return None
    return positions, equity


class _LinearReplay:
    """The position events replayed in integers, sample by sample (see above)."""

    def __init__(self, sampler: ResultSampler) -> None:
        self.sampler = sampler
        self.mark_index = {iid: k for k, iid in enumerate(sampler._instrument_ids)}
        # instrument -> (mark column, multiplier raw, multiplier precision, price precision)
        self.instruments: dict[object, list[int]] = {}
        self.qty_precision = -1
        self.positions: dict[object, list[Any]] = {}
        self.columns: dict[tuple[object, str, object], _Column] = {}
        self.nets: dict[tuple[object, object], int] = {}
        self.net_at: dict[tuple[object, object], array[int]] = {}
        self.first_held: dict[tuple[object, object], int] = {}

    def run_compiled(self, samples: int) -> bool | None:
        """Replay the events as :meth:`run` does, read in one pass and applied in C
        (``replay_linear``); None if an event is not read so (a non-position event, a
        value that is not fixed-point): :meth:`run` replays them then."""
        sampler = self.sampler
        counts = sampler._position_counts
        used = counts[samples - 1] if samples else 0
        events = sampler._position_events[:used]
        read = _columns_read(sampler._read_columns, events)
        if read is None:
            try:
                raw, names, kinds = read_columns(
                    events, _REPLAY_NUMBERS, _REPLAY_NAMES, _ReplayKinds()
                )
            except (AttributeError, TypeError, OverflowError):
                return None
            numbers = np.frombuffer(raw, dtype=np.int64).reshape(used, len(_REPLAY_NUMBERS))
            read = list(numbers.T), names, np.frombuffer(kinds, dtype=np.int8)
        number_columns, names, kind = read
        if np.any(kind == _NOT_POSITION):
            return None
        if np.any(kind == _UNKNOWN):
            return False  # an unknown position event: exactly
        qty, qty_p, px, px_p, size, size_p = number_columns
        position_ids, instrument_ids, strategy_ids, account_ids, currencies, sides = names
        if used == 0:
            return True  # nothing held: no column, no pair
        position = _codes(position_ids)
        _, first_rows = np.unique(position, return_index=True)
        first_rows.sort()  # the positions in the order they were first seen
        self.qty_precision = int(qty_p[0])
        column_keys: dict[tuple[object, str, object], int] = {}
        pair_keys: dict[tuple[object, object], int] = {}
        position_column = np.zeros(len(first_rows), dtype=np.int64)
        position_pair = np.zeros(len(first_rows), dtype=np.int64)
        position_px_p = np.zeros(len(first_rows), dtype=np.int64)
        first_of = np.zeros(int(position.max()) + 1, dtype=np.int64)
        for number, row in enumerate(first_rows.tolist()):
            first_of[position[row]] = number
            instrument_id = instrument_ids[row]
            facts = self.instruments.get(instrument_id)
            if facts is None:
                instrument = sampler.cache.instrument(instrument_id)
                mark_column = self.mark_index.get(instrument_id)
                if instrument is None or instrument.is_inverse or mark_column is None:
                    return False
                contract = instrument.multiplier
                facts = [mark_column, contract.raw, contract.precision, int(px_p[row])]
                self.instruments[instrument_id] = facts
            key = (account_ids[row], currencies[row], instrument_id)
            position_column[number] = column_keys.setdefault(key, len(column_keys))
            pair = (instrument_id, strategy_ids[row])
            position_pair[number] = pair_keys.setdefault(pair, len(pair_keys))
            position_px_p[number] = facts[3]
        number_of = first_of[position]  # each event's position, numbered
        accounts = _codes(account_ids)
        if (
            np.any(qty_p != self.qty_precision)
            or np.any(size_p != self.qty_precision)
            or np.any(px_p != position_px_p[number_of])
            or np.any(accounts != accounts[first_rows][number_of])
        ):
            return False  # mixed precisions, or the position moved to another account
        side_ids = _identities(sides)
        signed = np.where(
            side_ids == id(PositionSide.LONG),
            size,
            np.where(side_ids == id(_SHORT), -size, 0),
        )
        multipliers = [0] * len(column_keys)
        for (_, _, instrument_id), index in column_keys.items():
            multipliers[index] = self.instruments[instrument_id][1]
        replayed = replay_linear(
            counts[:samples] if len(counts) != samples else counts,
            array("b", kind.tobytes()),
            _int64s(number_of),
            _int64s(qty),
            _int64s(px),
            _int64s(signed),
            _int64s(position_column),
            _int64s(position_pair),
            array("q", multipliers),
            len(pair_keys),
        )
        if replayed is None:
            return False  # past int64, or a reduction not exact at the fills' scale
        self._columns_from(samples, list(column_keys), list(pair_keys), multipliers, replayed)
        return True

    def _columns_from(
        self,
        samples: int,
        column_keys: list[tuple[object, str, object]],
        pairs: list[tuple[object, object]],
        multipliers: list[int],
        replayed: Any,
    ) -> None:
        """Set the columns and the pairs' nets as :meth:`run` leaves them."""
        a_at, c_at, open_at, net_at, first_held, order = replayed
        width = len(column_keys)
        a = np.frombuffer(a_at, dtype=np.int64).reshape(samples, width)
        c = np.frombuffer(c_at, dtype=np.int64).reshape(samples, width)
        opened = np.frombuffer(open_at, dtype=np.int64).reshape(samples, width)
        for index, key in enumerate(column_keys):
            column = _Column(0, multipliers[index])
            column.a_at = _int64s(a[:, index])
            column.c_at = _int64s(c[:, index])
            column.open_at = _int64s(opened[:, index])
            column.a = int(a[-1, index])
            column.c = int(c[-1, index])
            column.open = int(opened[-1, index])
            self.columns[key] = column
        nets = np.frombuffer(net_at, dtype=np.int64).reshape(samples, len(pairs))
        for index in order:
            pair = pairs[index]
            self.nets[pair] = int(nets[-1, index])
            self.net_at[pair] = _int64s(nets[:, index])
            self.first_held[pair] = int(first_held[index])

    def run(self, samples: int) -> bool:
        events = self.sampler._position_events
        counts = self.sampler._position_counts
        applied = 0
        columns = self.columns
        nets, net_at = self.nets, self.net_at
        try:
            for sample in range(samples):
                target = counts[sample]
                while applied < target:
                    if not self.apply(events[applied], sample):
                        return False
                    applied += 1
                for column in columns.values():
                    column.a_at.append(column.a)
                    column.c_at.append(column.c)
                    column.open_at.append(column.open)
                for pair, total in nets.items():
                    net_at[pair].append(total)
        except OverflowError:  # a sum past int64: the exact path values it
            return False
        return True

    def apply(self, event: PositionEvent, sample: int) -> bool:
        kind = _EVENT_KINDS.get(type(event))
        if kind is None:
            return not isinstance(event, PositionEvent)  # an unknown position event: exactly
        qty, px, size = event.last_qty, event.last_px, event.quantity
        position_id = event.position_id
        state = self.positions.get(position_id)
        if state is None:
            state = self._track(event, sample)
            if state is None:
                return False
        signed, value, column, pair, account, px_precision = state
        if (
            qty.precision != self.qty_precision
            or size.precision != self.qty_precision
            or px.precision != px_precision
            or event.account_id != account
        ):
            return False  # mixed precisions, or the position moved to another account
        side = event.side
        new = size.raw if side is PositionSide.LONG else -size.raw if side is _SHORT else 0
        held = signed if signed >= 0 else -signed
        if kind == _OPENED or held == 0:
            entry = qty.raw * px.raw
        elif kind == _CLOSED:
            entry = 0
        elif (new if new >= 0 else -new) > held:
            entry = value + qty.raw * px.raw
        else:
            # The reduction's share of the entry value, exact at the fills' scale or not here.
            removed, remainder = divmod(value * qty.raw, held)
            if remainder:
                return False
            entry = value - removed
        multiplier = column.multiplier
        column.a += (new - signed) * multiplier
        column.c += (
            ((new > 0) - (new < 0)) * entry - ((signed > 0) - (signed < 0)) * value
        ) * multiplier
        column.open += (new != 0) - (signed != 0)
        state[0] = new
        state[1] = entry
        nets = self.nets
        if pair not in nets and new != 0:
            nets[pair] = 0
            self.net_at[pair] = array("q", bytes(8 * sample))
            self.first_held[pair] = sample
        if pair in nets:
            nets[pair] += new - signed
        return True

    def _track(self, event: PositionEvent, sample: int) -> list[Any] | None:
        """Start following a position: its state [signed qty, entry value, column, (instrument,
        strategy), account, price precision]; None if it needs the exact path."""
        instrument_id = event.instrument_id
        facts = self.instruments.get(instrument_id)
        if facts is None:
            instrument = self.sampler.cache.instrument(instrument_id)
            mark_column = self.mark_index.get(instrument_id)
            if instrument is None or instrument.is_inverse or mark_column is None:
                return None
            contract = instrument.multiplier
            facts = [mark_column, contract.raw, contract.precision, event.last_px.precision]
            self.instruments[instrument_id] = facts
        if self.qty_precision < 0:
            self.qty_precision = event.last_qty.precision
        key = (event.account_id, event.currency.code, instrument_id)
        column = self.columns.get(key)
        if column is None:
            column = self.columns[key] = _Column(sample, facts[1])
        state = [0, 0, column, (instrument_id, event.strategy_id), event.account_id, facts[3]]
        self.positions[event.position_id] = state
        return state

    def position_rows(self, ts: np.ndarray) -> _PositionRows | None:
        pairs = list(self.nets)
        count = len(ts)
        if not pairs or count == 0:
            return np.zeros(0, np.int64), [], [], np.zeros(0, np.float64)
        nets = np.stack([np.frombuffer(self.net_at[pair], dtype=np.int64) for pair in pairs], 1)
        first = np.array([self.first_held[pair] for pair in pairs], dtype=np.int64)
        held = (np.arange(count)[:, None] >= first[None, :]).ravel()
        width = len(pairs)
        instruments = np.array([str(p[0]) for p in pairs], dtype=object)
        strategies = np.array([str(p[1]) for p in pairs], dtype=object)
        qty = _raw_floats(nets.ravel()[held], np.full(int(held.sum()), self.qty_precision))
        return (
            np.repeat(ts, width)[held],
            np.tile(instruments, count)[held].tolist(),
            np.tile(strategies, count)[held].tolist(),
            qty,
        )

    def _gains(
        self, count: int
    ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, int]] | None:
        """Per (account, currency): the unrealized PnL and the market value of the positions
        at each sample, as int64 at one scale (returned with them)."""
        sampler = self.sampler
        raws, precisions = sampler._mark_matrix()
        # (scale of A × mark, scale of C, mark, A, C) per instrument column of a key
        parts: dict[tuple[str, str], list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]]
        parts = {}
        for (account, code, instrument_id), column in self.columns.items():
            mark_column, _, multiplier_precision, px_precision = self.instruments[instrument_id]
            core_precision = sampler._marks[mark_column][3]
            mark_scale = core_precision + (core_precision < FIXED_PRECISION_MAX)
            precision = precisions[:, mark_column].astype(np.int64)
            missing = precision == _NO_MARK
            if np.any(missing & (np.frombuffer(column.open_at, dtype=np.int64) > 0)):
                return None  # valued at the position's last fill price: the exact path
            # A mid is recorded at the mark scale, a last trade one digit short of it.
            short = ~missing & (precision < mark_scale)
            mark = np.where(short, raws[:, mark_column] * 10, raws[:, mark_column])
            a = np.frombuffer(column.a_at, dtype=np.int64)
            c = np.frombuffer(column.c_at, dtype=np.int64)
            a_scale = self.qty_precision + multiplier_precision
            parts.setdefault((str(account), code), []).append(
                (a_scale + mark_scale, a_scale + px_precision, mark, a, c)
            )
        gains: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, int]] = {}
        for key, terms in parts.items():
            scale = max(max(worth_scale, c_scale) for worth_scale, c_scale, *_ in terms)
            bound = sum(
                _max_abs(a) * _max_abs(mark) * 10 ** (scale - worth_scale)
                + _max_abs(c) * 10 ** (scale - c_scale)
                for worth_scale, c_scale, mark, a, c in terms
            )
            if bound >= _SAFE:
                return None
            unrealized = np.zeros(count, dtype=np.int64)
            worth_total = np.zeros(count, dtype=np.int64)
            for worth_scale, c_scale, mark, a, c in terms:
                worth = a * mark * 10 ** (scale - worth_scale)
                worth_total += worth
                unrealized += worth - c * 10 ** (scale - c_scale)
            gains[key] = (unrealized, worth_total, scale)
        return gains

    def equity_rows(self, ts: np.ndarray) -> _EquityRows | None:
        count = len(ts)
        gains = self._gains(count)
        if gains is None:
            return None
        pieces: list[tuple[np.ndarray, str, str, np.ndarray, np.ndarray, np.ndarray]] = []
        for account in self.sampler._accounts:
            counts = np.frombuffer(account.counts, dtype=np.int64)
            used = _unique(counts[counts > 0])
            states = account.states
            # code -> (precision, whether each used state holds it, its raw total there), in
            # the account's order
            table = _shared_balance_table(self.sampler._state_columns, states, used - 1)
            if table is None:
                table = _balance_table([states[number - 1] for number in used.tolist()])
            if not len(used):
                continue
            state_of = np.minimum(np.searchsorted(used, counts), len(used) - 1)
            for code, (precision, held, raws) in table.items():
                present = (counts > 0) & held[state_of]
                balance = raws[state_of]
                zero = np.zeros(count, dtype=np.int64)
                gain, worth, scale = gains.get((account.name, code), (zero, zero, precision))
                lift = 10 ** max(precision - scale, 0)  # to the finer of the two scales
                scale = max(scale, precision)
                gain, worth = gain * lift, worth * lift
                added = worth if account.cash else gain
                if _max_abs(balance) * 10 ** (scale - precision) + _max_abs(added) >= _SAFE:
                    return None
                total = balance * 10 ** (scale - precision) + added
                pieces.append(
                    (
                        present,
                        account.name,
                        code,
                        _raw_floats(balance, np.full(count, precision)),
                        _raw_floats(gain, np.full(count, scale)),
                        _raw_floats(total, np.full(count, scale)),
                    )
                )
        if not pieces:
            empty = np.zeros(0, np.float64)
            return np.zeros(0, np.int64), [], [], empty, empty, empty
        # Rows go sample by sample, then account by account, currency by currency.
        present = np.stack([p[0] for p in pieces], axis=1).ravel()
        width = len(pieces)
        names = np.array([p[1] for p in pieces], dtype=object)
        codes = np.array([p[2] for p in pieces], dtype=object)
        return (
            np.repeat(ts, width)[present],
            np.tile(names, count)[present].tolist(),
            np.tile(codes, count)[present].tolist(),
            np.stack([p[3] for p in pieces], axis=1).ravel()[present],
            np.stack([p[4] for p in pieces], axis=1).ravel()[present],
            np.stack([p[5] for p in pieces], axis=1).ravel()[present],
        )


def _balance_table(states: list[AccountState]) -> dict[str, tuple[int, Any, Any]]:
    """Per currency code, in the order the states first hold them: its precision (as first
    held), whether each state holds it, and its raw total in each state (0 where not)."""
    try:  # states of one balance each: read in one pass
        raw, names, _ = read_columns(states, _TOTAL_NUMBERS, _TOTAL_NAMES)
        single = not set(map(len, names[1])) - {1}
    except (AttributeError, IndexError, TypeError, OverflowError):
        single = False
    if single and states:
        totals, precisions = np.frombuffer(raw, dtype=np.int64).reshape(len(states), 2).T
        return _single_table(totals, precisions, names[0])
    rows: list[dict[str, int]] = []
    currencies: dict[str, int] = {}
    for state in states:
        row: dict[str, int] = {}
        for balance in state.balances:
            total = balance.total
            currencies.setdefault(total.currency.code, total.precision)
            row[total.currency.code] = total.raw
        rows.append(row)
    return {
        code: (
            precision,
            np.array([code in row for row in rows], dtype=bool),
            np.array([row.get(code, 0) for row in rows], dtype=np.int64),
        )
        for code, precision in currencies.items()
    }


def _unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)``; of values in order (an account's state counts only grow), by
    comparing neighbours (no hashing, no sort)."""
    if len(values) and bool(np.all(values[1:] >= values[:-1])):
        return values[np.r_[True, values[1:] != values[:-1]]]
    return np.unique(values)


def _single_table(
    totals: Any, precisions: Any, codes: list[Any]
) -> dict[str, tuple[int, Any, Any]]:
    # _balance_table of states of one balance each, from their columns.
    table: dict[str, tuple[int, Any, Any]] = {}
    for code in dict.fromkeys(codes):
        held = _equal(codes, [code] * len(codes))
        first = int(np.argmax(held))
        table[code] = (int(precisions[first]), held, np.where(held, totals, 0))
    return table


def _shared_balance_table(
    shared: tuple[list[Any], Mapping[str, Any], Mapping[int, tuple[int, int]]] | None,
    states: list[AccountState],
    rows: np.ndarray,
) -> dict[str, tuple[int, Any, Any]] | None:
    """_balance_table of ``states[rows]`` from the columns read already of these very
    states (see ResultSampler.use_state_columns), or None when they were not."""
    if shared is None or not len(rows):
        return None
    read_states, columns, spans = shared
    span = spans.get(id(states))
    if span is None or any(field not in columns for field in _TOTAL_NUMBERS + _TOTAL_NAMES[:1]):
        return None
    start, stop = span
    if stop - start != len(states) or read_states[start:stop] != states:
        return None
    at = rows + start
    codes = columns[_TOTAL_NAMES[0]]
    return _single_table(
        np.asarray(columns[_TOTAL_NUMBERS[0]])[at],
        np.asarray(columns[_TOTAL_NUMBERS[1]])[at],
        take(codes, at) if type(codes) is list else [codes[row] for row in at.tolist()],
    )


_TOTAL_NUMBERS = ("balances.0.total.raw", "balances.0.total.precision")
_TOTAL_NAMES = ("balances.0.total.currency.code", "balances")


def _max_abs(values: np.ndarray) -> int:
    return int(np.abs(values).max(initial=0))
