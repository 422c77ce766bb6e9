"""The backtest result's frames computed the plain way: a reference for zq.backtest.result.

Row by row, one getter per column, exact ``Decimal`` arithmetic for the round trips: how the
frames were first computed (before the column-wise, integer implementation). The tests
compare the library's frames with these bit for bit. Not fast; not used by zq itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal, localcontext
from typing import Any

import pandas as pd

from zq.model.enums import OrderSide
from zq.model.events import OrderEvent, OrderFilled
from zq.model.position import (
    EXACT_CONTEXT,
    PositionChanged,
    PositionClosed,
    PositionEvent,
    PositionOpened,
)


def _f(value: Any) -> float | None:
    # Prices, quantities and money become floats at this edge (statistics, charts).
    if value is None:
        return None
    return float(value.as_decimal() if hasattr(value, "as_decimal") else value)


# -- orders, fills, positions, accounts ----------------------------------------------------------

ORDER_COLUMNS = [
    "client_order_id",
    "venue_order_id",
    "strategy_id",
    "instrument_id",
    "side",
    "type",
    "quantity",
    "price",
    "time_in_force",
    "status",
    "filled_qty",
    "avg_px",
    "ts_init",
]


def _frame(
    items: list[Any], columns: dict[str, Callable[[Any], Any]], nullable: tuple[str, ...] = ()
) -> pd.DataFrame:
    # Column by column: a long run has hundreds of thousands of rows, and a dict per row
    # would double the memory the frame needs while it is built.
    data: dict[str, Any] = {}
    for name, get in columns.items():
        values = [get(item) for item in items]
        # Nullable integers (times that may be missing) from the Python ints: through
        # float64 (None makes NaN) nanoseconds would lose digits.
        data[name] = pd.array(values, dtype="Int64") if name in nullable else values
    return pd.DataFrame(data, columns=list(columns))


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


_ORDER_GETTERS: dict[str, Callable[[Any], Any]] = {
    "client_order_id": lambda o: str(o.client_order_id),
    "venue_order_id": lambda o: _str_or_none(o.venue_order_id),
    "strategy_id": lambda o: str(o.strategy_id),
    "instrument_id": lambda o: str(o.instrument_id),
    "side": lambda o: o.side.name,
    "type": lambda o: o.order_type.name,
    "quantity": lambda o: _f(o.quantity),
    "price": lambda o: _f(o.price),
    "time_in_force": lambda o: o.time_in_force.name,
    "status": lambda o: o.status.name,
    "filled_qty": lambda o: _f(o.filled_qty),
    "avg_px": lambda o: _f(o.avg_px),
    "ts_init": lambda o: o.init.ts_init,
}


def orders_frame(orders: list[Any]) -> pd.DataFrame:
    """Return one row per order, in its final state."""
    return _frame(list(orders), _ORDER_GETTERS)


FILL_COLUMNS = [
    "ts_event",
    "client_order_id",
    "venue_order_id",
    "trade_id",
    "strategy_id",
    "instrument_id",
    "account_id",
    "side",
    "last_qty",
    "last_px",
    "commission",
    "commission_currency",
    "liquidity_side",
]


_FILL_GETTERS: dict[str, Callable[[Any], Any]] = {
    "ts_event": lambda f: f.ts_event,
    "client_order_id": lambda f: str(f.client_order_id),
    "venue_order_id": lambda f: str(f.venue_order_id),
    "trade_id": lambda f: str(f.trade_id),
    "strategy_id": lambda f: str(f.strategy_id),
    "instrument_id": lambda f: str(f.instrument_id),
    "account_id": lambda f: str(f.account_id),
    "side": lambda f: f.order_side.name,
    "last_qty": lambda f: _f(f.last_qty),
    "last_px": lambda f: _f(f.last_px),
    "commission": lambda f: _f(f.commission),
    "commission_currency": lambda f: f.commission.currency.code,
    "liquidity_side": lambda f: f.liquidity_side.name,
}


def fills_frame(fills: list[OrderFilled]) -> pd.DataFrame:
    """Return one row per fill, in the order they happened."""
    return _frame(list(fills), _FILL_GETTERS)


POSITION_COLUMNS = [
    "position_id",
    "strategy_id",
    "instrument_id",
    "side",
    "signed_qty",
    "peak_qty",
    "avg_px_open",
    "avg_px_close",
    "realized_pnl",
    "currency",
    "ts_opened",
    "ts_closed",
]


_POSITION_GETTERS: dict[str, Callable[[Any], Any]] = {
    "position_id": lambda p: str(p.id),
    "strategy_id": lambda p: str(p.strategy_id),
    "instrument_id": lambda p: str(p.instrument_id),
    "side": lambda p: p.side.name,
    "signed_qty": lambda p: float(p.signed_qty),
    "peak_qty": lambda p: _f(p.peak_qty),
    "avg_px_open": lambda p: float(p.avg_px_open),
    "avg_px_close": lambda p: _f(p.avg_px_close),
    "realized_pnl": lambda p: _f(p.realized_pnl),
    "currency": lambda p: p.currency.code,
    "ts_opened": lambda p: p.ts_opened,
    "ts_closed": lambda p: p.ts_closed,
}


def positions_frame(positions: list[Any]) -> pd.DataFrame:
    """Return one row per position, in its final state (its last round trip's fields).

    ``ts_closed`` is a nullable integer: missing while the position is open.
    """
    return _frame(list(positions), _POSITION_GETTERS, nullable=("ts_closed",))


ACCOUNT_HISTORY_COLUMNS = [
    "ts_event",
    "account_id",
    "reason",
    "currency",
    "total",
    "locked",
    "free",
    "margin_call",
]


_ACCOUNT_GETTERS: dict[str, Callable[[Any], Any]] = {
    "ts_event": lambda row: row[0].ts_event,
    "account_id": lambda row: str(row[0].account_id),
    "reason": lambda row: row[0].reason,
    "currency": lambda row: row[1].total.currency.code,
    "total": lambda row: _f(row[1].total),
    "locked": lambda row: _f(row[1].locked),
    "free": lambda row: _f(row[1].free),
    "margin_call": lambda row: row[0].margin_call,
}


def accounts_frame(accounts: list[Any]) -> pd.DataFrame:
    """Return one row per account change and currency (the settled balances)."""
    rows = [
        (state, balance)
        for account in accounts
        for state in account.events
        for balance in state.balances
    ]
    return _frame(rows, _ACCOUNT_GETTERS)


# -- round trips ---------------------------------------------------------------------------------

ROUND_TRIP_COLUMNS: list[str] = [
    "position_id",
    "strategy_id",
    "instrument_id",
    "account_id",
    "side",
    "quantity",
    "peak_qty",
    "avg_px_open",
    "avg_px_close",
    "gross_pnl",
    "fees",
    "net_pnl",
    "currency",
    "ts_opened",
    "ts_closed",
    "duration_ns",
    "fill_count",
]


class _RoundTrip:
    """One round trip being built from its position's events (exact decimals)."""

    __slots__ = (
        "account_id",
        "currency",
        "entry_qty",
        "entry_value",
        "exit_qty",
        "exit_value",
        "fees",
        "fill_count",
        "held",
        "instrument_id",
        "inverse",
        "peak",
        "position_id",
        "realized_end",
        "realized_start",
        "side",
        "strategy_id",
        "ts_closed",
        "ts_opened",
    )

    def __init__(
        self, event: PositionOpened, inverse: bool, name: Callable[[object], str]
    ) -> None:
        self.position_id = name(event.position_id)
        self.strategy_id = name(event.strategy_id)
        self.instrument_id = name(event.instrument_id)
        self.account_id = name(event.account_id)
        self.side = "LONG" if event.entry is OrderSide.BUY else "SHORT"
        self.currency = event.currency.code
        self.inverse = inverse
        # Realized PnL of the position before this round trip: the round trip's own is
        # what it adds (a reopened NETTING position keeps its earlier PnL).
        self.realized_start = event.realized_pnl.as_decimal()
        self.realized_end = self.realized_start
        self.entry_qty = self.entry_value = Decimal(0)
        self.exit_qty = self.exit_value = Decimal(0)
        self.held = Decimal(0)
        self.peak = Decimal(0)
        self.fees = Decimal(0)
        self.fill_count = 0
        self.ts_opened = event.ts_event
        self.ts_closed: int | None = None

    def add(self, event: PositionEvent, fee: Decimal) -> None:
        qty = event.last_qty.as_decimal()
        px = event.last_px.as_decimal()
        value = qty / px if self.inverse else qty * px
        held = abs(event.signed_qty)
        if isinstance(event, PositionClosed) or held < self.held:
            self.exit_qty += qty
            self.exit_value += value
        else:
            self.entry_qty += qty
            self.entry_value += value
        self.held = held
        self.peak = max(self.peak, held)
        self.fees += fee
        self.fill_count += 1
        self.realized_end = event.realized_pnl.as_decimal()
        if isinstance(event, PositionClosed):
            self.ts_closed = event.ts_closed

    def average(self, qty: Decimal, value: Decimal) -> float | None:
        if qty == 0:
            return None
        return float(qty / value if self.inverse else value / qty)

    @property
    def gross_pnl(self) -> Decimal:
        return self.realized_end - self.realized_start

    @property
    def duration_ns(self) -> int | None:
        return None if self.ts_closed is None else self.ts_closed - self.ts_opened


_ROUND_TRIP_GETTERS: dict[str, Callable[[_RoundTrip], Any]] = {
    "position_id": lambda t: t.position_id,
    "strategy_id": lambda t: t.strategy_id,
    "instrument_id": lambda t: t.instrument_id,
    "account_id": lambda t: t.account_id,
    "side": lambda t: t.side,
    "quantity": lambda t: float(t.entry_qty),
    "peak_qty": lambda t: float(t.peak),
    "avg_px_open": lambda t: t.average(t.entry_qty, t.entry_value),
    "avg_px_close": lambda t: t.average(t.exit_qty, t.exit_value),
    "gross_pnl": lambda t: float(t.gross_pnl),
    "fees": lambda t: float(t.fees),
    "net_pnl": lambda t: float(t.gross_pnl - t.fees),
    "currency": lambda t: t.currency,
    "ts_opened": lambda t: t.ts_opened,
    "ts_closed": lambda t: t.ts_closed,
    "duration_ns": lambda t: t.duration_ns,
    "fill_count": lambda t: t.fill_count,
}


def round_trips_frame(
    events: Iterable[OrderEvent | PositionEvent], inverse: Iterable[str] = ()
) -> pd.DataFrame:
    """Return the round trips of the positions in ``events`` (see the module's notes).

    Parameters
    ----------
    events : Iterable
        Order and position events in the order they were published: each fill
        (``OrderFilled``) before the position events it caused.
    inverse : Iterable[str]
        The ids of the inverse instruments (their average prices are harmonic means).

    Returns
    -------
    pandas.DataFrame
        One row per round trip (columns :data:`ROUND_TRIP_COLUMNS`), ordered by opening;
        ``ts_closed`` and ``duration_ns`` are nullable integers (missing while open).

    Raises
    ------
    ValueError
        If a position event names a fill that did not come before it, or a position that
        was not opened.
    """
    inverse_ids = set(inverse)
    names: dict[object, str] = {}

    def name(identifier: object) -> str:
        # One string per id, shared by the rows (a long run has many round trips).
        found = names.get(identifier)
        if found is None:
            found = names[identifier] = str(identifier)
        return found

    fills: dict[tuple[str, str], OrderFilled] = {}
    open_trips: dict[str, _RoundTrip] = {}
    trips: list[_RoundTrip] = []
    with localcontext(EXACT_CONTEXT):
        for event in events:
            if isinstance(event, OrderFilled):
                fills[(str(event.instrument_id), str(event.trade_id))] = event
                continue
            if not isinstance(event, PositionOpened | PositionChanged | PositionClosed):
                continue
            fill = fills.get((str(event.instrument_id), str(event.last_trade_id)))
            if fill is None:
                raise ValueError(
                    f"position {event.position_id}: event {type(event).__name__} names trade "
                    f"{event.last_trade_id}, whose fill was not seen before it"
                )
            fee = Decimal(0)
            if fill.commission.currency.code == event.currency.code:
                # A fill through zero is split between two round trips: each gets the
                # commission in proportion to its part of the fill's quantity.
                fee = (
                    fill.commission.as_decimal()
                    * event.last_qty.as_decimal()
                    / fill.last_qty.as_decimal()
                )
            key = str(event.position_id)
            if isinstance(event, PositionOpened):
                trip = _RoundTrip(event, name(event.instrument_id) in inverse_ids, name)
                open_trips[key] = trip
                trips.append(trip)
            else:
                found = open_trips.get(key)
                if found is None:
                    raise ValueError(
                        f"position {event.position_id}: {type(event).__name__} at "
                        f"{event.ts_event} without an open round trip"
                    )
                trip = found
            trip.add(event, fee)
            if isinstance(event, PositionClosed):
                del open_trips[key]
    with localcontext(EXACT_CONTEXT):
        return _frame(
            trips, _ROUND_TRIP_GETTERS, nullable=("ts_opened", "ts_closed", "duration_ns")
        )


