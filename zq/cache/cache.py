"""The Cache: the node's in-memory state, read by strategies and kept by the engines.

Orders are indexed by status category (open, closed, in flight; see
:mod:`zq.model.orders`), strategy, instrument and venue, and client order id ↔ venue order
id. The engines call :meth:`Cache.update_order` after every order event, so the indices are
right after each event. Query results come in the order the orders entered the queried
state (creation order for :meth:`Cache.orders`), which is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from zq.model.data import Bar, BarType, QuoteTick, TradeTick
from zq.model.enums import OrderSide, OrderStatus
from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    PositionId,
    StrategyId,
    Venue,
    VenueOrderId,
)
from zq.model.instruments import Instrument
from zq.model.orders import CLOSED_STATUSES, INFLIGHT_STATUSES, OPEN_STATUSES, Order
from zq_core.cache import CacheCore
from zq_core.cache import OrderIndex as _OrderIndex

__all__ = ["AccountLike", "Cache", "CacheError", "PositionLike"]

_Index = dict[ClientOrderId, None]  # an insertion-ordered set
_EMPTY: _Index = {}


class CacheError(KeyError):
    """A cache operation on something unknown or already present."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PositionLike(Protocol):
    """What the cache needs of a position (the portfolio's ``Position`` satisfies it)."""

    @property
    def id(self) -> PositionId: ...
    @property
    def instrument_id(self) -> InstrumentId: ...
    @property
    def strategy_id(self) -> StrategyId: ...
    @property
    def is_closed(self) -> bool: ...
    @property
    def signed_qty(self) -> Decimal: ...


class AccountLike(Protocol):
    """What the cache needs of an account."""

    @property
    def id(self) -> AccountId: ...


class _PositionIndex:
    """The ids of the open (or of the closed) positions, also keyed by instrument, strategy,
    and the pair of both (the query a strategy makes per signal: O(1)).

    Each dict is an insertion-ordered set, changed by the same adds and removes as ``ids``,
    so a keyed query returns its positions in the order a filter over ``ids`` would. A
    key's dict, once made, stays the key's for the index's life (emptied, never dropped):
    the portfolio's compiled fill path keeps the one of the pair and instrument it filled
    last.
    """

    __slots__ = ("by_instrument", "by_pair", "by_strategy", "ids")

    def __init__(self) -> None:
        self.ids: dict[PositionId, None] = {}
        self.by_instrument: dict[InstrumentId, dict[PositionId, None]] = {}
        self.by_strategy: dict[StrategyId, dict[PositionId, None]] = {}
        self.by_pair: dict[tuple[InstrumentId, StrategyId], dict[PositionId, None]] = {}

    def add(self, position: PositionLike) -> None:
        position_id, instrument_id, strategy_id = (
            position.id,
            position.instrument_id,
            position.strategy_id,
        )
        self.ids[position_id] = None
        self.by_instrument.setdefault(instrument_id, {})[position_id] = None
        self.by_strategy.setdefault(strategy_id, {})[position_id] = None
        self.by_pair.setdefault((instrument_id, strategy_id), {})[position_id] = None

    def remove(self, position: PositionLike) -> None:
        position_id, instrument_id, strategy_id = (
            position.id,
            position.instrument_id,
            position.strategy_id,
        )
        del self.ids[position_id]
        del self.by_instrument[instrument_id][position_id]
        del self.by_strategy[strategy_id][position_id]
        del self.by_pair[instrument_id, strategy_id][position_id]

    def select(
        self, instrument_id: InstrumentId | None, strategy_id: StrategyId | None
    ) -> dict[PositionId, None]:
        """Return the ids of the given instrument and strategy (``None`` matches any)."""
        if instrument_id is not None:
            if strategy_id is not None:
                return self.by_pair.get((instrument_id, strategy_id), _NO_POSITIONS)
            return self.by_instrument.get(instrument_id, _NO_POSITIONS)
        if strategy_id is not None:
            return self.by_strategy.get(strategy_id, _NO_POSITIONS)
        return self.ids


_NO_POSITIONS: dict[PositionId, None] = {}
_ZERO = Decimal(0)


class Cache(CacheCore):
    """The node's state: instruments, orders, positions, accounts, latest market data.

    Lookups by identifier (:meth:`order`, :meth:`instrument`, :meth:`position`,
    :meth:`quote`...) are compiled; queries filter by strategy, instrument, venue and side.
    """

    __slots__ = (
        "_net_positions",
        "_order_books",
        "_positions_closed",
        "_positions_open",
    )

    if TYPE_CHECKING:  # the compiled lookups, typed for users and mypy

        def order(self, client_order_id: ClientOrderId, /) -> Order | None: ...
        def instrument(self, instrument_id: InstrumentId, /) -> Instrument | None: ...
        def position(self, position_id: PositionId, /) -> Any: ...
        def account(self, account_id: AccountId, /) -> Any: ...
        def quote(self, instrument_id: InstrumentId, /) -> QuoteTick | None: ...
        def trade(self, instrument_id: InstrumentId, /) -> TradeTick | None: ...
        def bar(self, bar_type: BarType, /) -> Bar | None: ...
        def venue_order_id(self, client_order_id: ClientOrderId, /) -> VenueOrderId | None: ...
        def client_order_id(self, venue_order_id: VenueOrderId, /) -> ClientOrderId | None: ...
        def order_exists(self, client_order_id: ClientOrderId, /) -> bool: ...

        # The order indexing, compiled (CacheCore): per order event, no Python frame.
        def add_order(self, order: Order, /) -> None: ...
        def update_order(self, order: Order, /) -> None: ...

    _cache_error = CacheError  # raised by the compiled add_order / update_order

    def __init__(self) -> None:
        # Kept for the cache's life (reset empties it in place): the portfolio holds it.
        self._net_positions: dict[tuple[InstrumentId, StrategyId], Decimal] = {}
        self._init_indices()

    def _init_indices(self) -> None:
        self._order_books: dict[InstrumentId, Any] = {}
        self._init_order_indices(OPEN_STATUSES, CLOSED_STATUSES, INFLIGHT_STATUSES)
        self._set_initial_status(OrderStatus.INITIALIZED)
        self._positions_open = _PositionIndex()
        self._positions_closed = _PositionIndex()
        self._net_positions.clear()

    def reset(self) -> None:
        """Forget everything (between backtest runs)."""
        for store in (
            self._instruments,
            self._orders,
            self._positions,
            self._accounts,
            self._quotes,
            self._trades,
            self._bars,
            self._stale_quotes,
            self._stale_trades,
            self._stale_bars,
            self._venue_order_ids,
            self._client_order_ids,
        ):
            store.clear()
        self._init_indices()

    # -- instruments -----------------------------------------------------------------------

    def add_instrument(self, instrument: Instrument) -> None:
        """Add or replace an instrument (definitions can be updated by the venue)."""
        self._instruments[instrument.id] = instrument

    def instruments(self, venue: Venue | None = None) -> list[Instrument]:
        """Return the instruments, optionally of one venue, in the order they were added."""
        return [i for i in self._instruments.values() if venue is None or i.id.venue == venue]

    def instrument_ids(self, venue: Venue | None = None) -> list[InstrumentId]:
        """Return the instrument ids, optionally of one venue."""
        return [i.id for i in self.instruments(venue)]

    # -- orders ----------------------------------------------------------------------------
    # add_order and update_order are compiled (zq_core.cache.CacheCore).

    def orders(
        self,
        venue: Venue | None = None,
        instrument_id: InstrumentId | None = None,
        strategy_id: StrategyId | None = None,
        side: OrderSide | None = None,
    ) -> list[Order]:
        """Return all orders matching the filters (``None`` matches anything)."""
        return self._query(self._index_all, venue, instrument_id, strategy_id, side)

    def orders_open(
        self,
        venue: Venue | None = None,
        instrument_id: InstrumentId | None = None,
        strategy_id: StrategyId | None = None,
        side: OrderSide | None = None,
    ) -> list[Order]:
        """Return the open orders (working at the venue) matching the filters."""
        return self._query(self._index_open, venue, instrument_id, strategy_id, side)

    def orders_closed(
        self,
        venue: Venue | None = None,
        instrument_id: InstrumentId | None = None,
        strategy_id: StrategyId | None = None,
        side: OrderSide | None = None,
    ) -> list[Order]:
        """Return the closed orders matching the filters."""
        return self._query(self._index_closed, venue, instrument_id, strategy_id, side)

    def orders_inflight(
        self,
        venue: Venue | None = None,
        instrument_id: InstrumentId | None = None,
        strategy_id: StrategyId | None = None,
        side: OrderSide | None = None,
    ) -> list[Order]:
        """Return the orders sent and not yet answered by the venue, matching the filters."""
        return self._query(self._index_inflight, venue, instrument_id, strategy_id, side)

    def orders_open_count(
        self,
        venue: Venue | None = None,
        instrument_id: InstrumentId | None = None,
        strategy_id: StrategyId | None = None,
        side: OrderSide | None = None,
    ) -> int:
        """Return how many open orders match the filters."""
        if venue is None and instrument_id is None and strategy_id is None and side is None:
            return len(self._index_open.ids)
        return len(self._query(self._index_open, venue, instrument_id, strategy_id, side))

    def is_order_open(self, client_order_id: ClientOrderId) -> bool:
        return client_order_id in self._index_open.ids

    def is_order_closed(self, client_order_id: ClientOrderId) -> bool:
        return client_order_id in self._index_closed.ids

    def is_order_inflight(self, client_order_id: ClientOrderId) -> bool:
        return client_order_id in self._index_inflight.ids

    def _query(
        self,
        index: _OrderIndex,
        venue: Venue | None,
        instrument_id: InstrumentId | None,
        strategy_id: StrategyId | None,
        side: OrderSide | None,
    ) -> list[Order]:
        orders = self._orders
        selected = index.select(venue, instrument_id, strategy_id, orders)
        if side is None:
            return [orders[c] for c in selected]
        return [order for order in map(orders.__getitem__, selected) if order.side is side]

    # -- positions -------------------------------------------------------------------------

    def add_position(self, position: PositionLike) -> None:
        """Add a new position.

        Raises
        ------
        CacheError
            If a position with the same id is already in the cache.
        """
        if position.id in self._positions:
            raise CacheError(f"position {position.id} is already in the cache")
        self._positions[position.id] = position
        self.update_position(position)

    def update_position(self, position: PositionLike) -> None:
        """Re-index ``position`` after a fill changed it."""
        position_id = position.id
        if self._positions.get(position_id) is not position:
            raise CacheError(f"position {position_id} is not in the cache; add_position it first")
        if position.is_closed:
            into, out_of = self._positions_closed, self._positions_open
        else:
            into, out_of = self._positions_open, self._positions_closed
        if position_id in out_of.ids:
            out_of.remove(position)
        if position_id not in into.ids:
            into.add(position)
        # The pair's net quantity, summed as a query over its open positions would sum it
        # (in their order, from zero): the same Decimal, exponent included.
        pair = (position.instrument_id, position.strategy_id)
        open_ids = self._positions_open.by_pair.get(pair)
        if open_ids:
            positions = self._positions
            total = _ZERO
            for open_id in open_ids:
                total += positions[open_id].signed_qty
            self._net_positions[pair] = total
        else:
            self._net_positions.pop(pair, None)

    def net_positions(self) -> Mapping[tuple[InstrumentId, StrategyId], Decimal]:
        """Return the net signed quantity of the open positions per (instrument, strategy).

        A live view, kept by :meth:`update_position` (pairs with no open position are
        absent) for the cache's whole life: the portfolio's per-signal query is one look-up
        in it. Do not change it.
        """
        return self._net_positions

    def open_position_ids(self, instrument_id: InstrumentId) -> Collection[PositionId]:
        """Return the ids of the open positions in ``instrument_id`` (a live view)."""
        return self._positions_open.by_instrument.get(instrument_id, _NO_POSITIONS).keys()

    def positions(
        self,
        venue: Venue | None = None,
        instrument_id: InstrumentId | None = None,
        strategy_id: StrategyId | None = None,
    ) -> list[Any]:
        """Return all positions matching the filters."""
        return self._filter_positions(self._positions, venue, instrument_id, strategy_id)

    def positions_open(
        self,
        venue: Venue | None = None,
        instrument_id: InstrumentId | None = None,
        strategy_id: StrategyId | None = None,
    ) -> list[Any]:
        """Return the open positions matching the filters."""
        return self._select_positions(self._positions_open, venue, instrument_id, strategy_id)

    def positions_closed(
        self,
        venue: Venue | None = None,
        instrument_id: InstrumentId | None = None,
        strategy_id: StrategyId | None = None,
    ) -> list[Any]:
        """Return the closed positions matching the filters."""
        return self._select_positions(self._positions_closed, venue, instrument_id, strategy_id)

    def _select_positions(
        self,
        index: _PositionIndex,
        venue: Venue | None,
        instrument_id: InstrumentId | None,
        strategy_id: StrategyId | None,
    ) -> list[Any]:
        positions = self._positions
        selected = [positions[i] for i in index.select(instrument_id, strategy_id)]
        if venue is None:
            return selected
        return [p for p in selected if p.instrument_id.venue == venue]

    def _filter_positions(
        self,
        ids: Iterable[PositionId],
        venue: Venue | None,
        instrument_id: InstrumentId | None,
        strategy_id: StrategyId | None,
    ) -> list[Any]:
        positions = (self._positions[position_id] for position_id in ids)
        return [
            p
            for p in positions
            if (venue is None or p.instrument_id.venue == venue)
            and (instrument_id is None or p.instrument_id == instrument_id)
            and (strategy_id is None or p.strategy_id == strategy_id)
        ]

    # -- accounts --------------------------------------------------------------------------

    def add_account(self, account: AccountLike) -> None:
        """Add or replace an account."""
        self._accounts[account.id] = account

    def accounts(self) -> list[Any]:
        return list(self._accounts.values())

    def account_for_venue(self, venue: Venue) -> Any:
        """Return the (first) account at ``venue``, or None."""
        for account_id, account in self._accounts.items():
            if account_id.venue == venue:
                return account
        return None

    # -- market data -----------------------------------------------------------------------

    def add_order_book(self, instrument_id: InstrumentId, book: Any) -> None:
        """Record the book the DataEngine keeps for an instrument (it updates it in place)."""
        self._order_books[instrument_id] = book

    def remove_order_book(self, instrument_id: InstrumentId) -> None:
        """Forget an instrument's book (its last subscription ended)."""
        self._order_books.pop(instrument_id, None)

    def order_book(self, instrument_id: InstrumentId) -> Any:
        """Return the book the DataEngine keeps for ``instrument_id``, or None.

        It is the live object: read it, do not change it.
        """
        return self._order_books.get(instrument_id)

    def add_quote(self, quote: QuoteTick) -> None:
        """Record the latest quote of its instrument."""
        self._quotes[quote.instrument_id] = quote
        if self._stale_quotes:
            self._stale_quotes.pop(quote.instrument_id, None)

    def add_trade(self, trade: TradeTick) -> None:
        """Record the latest trade of its instrument."""
        self._trades[trade.instrument_id] = trade
        if self._stale_trades:
            self._stale_trades.pop(trade.instrument_id, None)

    def add_bar(self, bar: Bar) -> None:
        """Record the latest bar of its bar type."""
        self._bars[bar.bar_type] = bar
        if self._stale_bars:
            self._stale_bars.pop(bar.bar_type, None)

    # -- integrity -------------------------------------------------------------------------

    def check_integrity(self) -> list[str]:
        """Recompute every order index from the orders and return the differences found."""
        problems: list[str] = []

        def compare(name: str, actual: Iterable[Any], expected: Iterable[Any]) -> None:
            actual_set, expected_set = set(actual), set(expected)
            if actual_set != expected_set:
                problems.append(
                    f"{name}: missing {sorted(expected_set - actual_set)}, "
                    f"extra {sorted(actual_set - expected_set)}"
                )

        orders = list(self._orders.values())
        categories: list[tuple[str, _OrderIndex, Callable[[Order], bool]]] = [
            ("all", self._index_all, lambda o: True),
            ("open", self._index_open, lambda o: o.is_open),
            ("closed", self._index_closed, lambda o: o.is_closed),
            ("inflight", self._index_inflight, lambda o: o.is_inflight),
        ]
        for category, index, member in categories:
            index.build_keys(self._orders)
            members = [o for o in orders if member(o)]
            compare(category, index.ids, (o.client_order_id for o in members))
            keyed: list[tuple[str, dict[Any, _Index], Callable[[Order], Any]]] = [
                ("strategy", dict(index.by_strategy), lambda o: o.strategy_id),
                ("instrument", dict(index.by_instrument), lambda o: o.instrument_id),
                ("venue", dict(index.by_venue), lambda o: o.instrument_id.venue),
            ]
            for key, by_key, attribute in keyed:
                for value in {attribute(o) for o in members} | set(by_key):
                    expected = (o.client_order_id for o in members if attribute(o) == value)
                    compare(f"{category} by {key} {value}", by_key.get(value, _EMPTY), expected)
        expected_venue_ids = {
            o.client_order_id: o.venue_order_id for o in orders if o.venue_order_id is not None
        }
        if self._venue_order_ids != expected_venue_ids:
            problems.append("client -> venue order id map differs from the orders")
        if self._client_order_ids != {v: c for c, v in expected_venue_ids.items()}:
            problems.append("venue -> client order id map differs from the orders")
        return problems
