"""``BacktestResult``: what a backtest run did, as DataFrames, and the helpers that build it.

The frames are built once, after the run, from the cache, the events the strategies saw and
the records of the :class:`~zq.backtest.sampler.ResultSampler`. Prices, quantities and money
become floats here (for statistics and charts); the exact values stay in ``balances``,
``realized_pnl`` and ``commissions`` (``Money``). Each float is the exact value rounded once
(as ``float(Decimal)`` rounds it): the frames are built column by column, the round trips in
int64 arithmetic on the raw fixed-point values where they fit (else with Decimals), so a long
run's frames take a few microseconds per order.

Round trips
-----------
A round trip is one life of a position from flat to flat: it opens on the fill that takes the
position away from zero and closes on the fill that brings it back to zero. Fills in between
that add to it (scale in) or reduce it without closing it (scale out) belong to it. A fill
through zero (long 10, sell 15) closes one round trip on the first 10 and opens the next with
the other 5; its commission is shared between the two in proportion to those quantities.
With NETTING a position reopens after it went flat, so one position has many round trips;
with HEDGING each position id has its own.

PnL is the position's own, computed on the **average price** (average cost) method: a
reduction realizes ``(exit price − average entry price) × quantity``, as
:class:`~zq.model.position.Position` does. A round trip's ``gross_pnl`` is the change of its
position's realized PnL (rounded to the currency, as ``Position.realized_pnl``) between the
round trip's first and last fill, so the round trips of a position add up to exactly its
realized PnL. ``avg_px_open`` and ``avg_px_close`` are the quantity-weighted prices of the
fills on each side (the harmonic mean for inverse contracts); when every entry precedes every
exit, ``gross_pnl == ±(avg_px_close − avg_px_open) × quantity × multiplier``.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from itertools import repeat
from operator import attrgetter, eq
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pyarrow as pa  # type: ignore[import-untyped]

from zq.model.enums import OrderSide
from zq.model.events import OrderEvent, OrderFilled
from zq.model.position import (
    EXACT_CONTEXT,
    PositionChanged,
    PositionClosed,
    PositionEvent,
    PositionOpened,
)
from zq_core.fixed import FIXED_PRECISION_MAX, Money, Quantity
from zq_core.sampling import identities, read_columns, take

__all__ = [
    "ACCOUNT_HISTORY_COLUMNS",
    "EQUITY_COLUMNS",
    "FILL_COLUMNS",
    "ORDER_COLUMNS",
    "POSITION_COLUMNS",
    "POSITION_HISTORY_COLUMNS",
    "PRICE_COLUMNS",
    "ROUND_TRIP_COLUMNS",
    "BacktestResult",
    "SampleRecords",
    "accounts_frame",
    "equity_frame",
    "fill_events",
    "fills_and_round_trips",
    "fills_frame",
    "orders_frame",
    "positions_frame",
    "positions_history_frame",
    "prices_frame",
    "round_trips_frame",
]


@dataclass
class BacktestResult:
    """What a backtest run did.

    Attributes
    ----------
    orders, fills, positions, account_history : pandas.DataFrame
        One row per order (final state), fill, position (final state) and account change.
        Prices, quantities and money are floats (for statistics and charts); ids are strings;
        times are UNIX nanoseconds.
    balances : dict[str, dict[str, Money]]
        Final total balance per account id and currency.
    realized_pnl : dict[str, Money]
        Gross realized PnL per currency, all positions.
    commissions : dict[str, Money]
        Commissions paid per currency, all positions.
    events : list
        Every order and position event published to the strategies, in order.
    data_count : int
        Data replayed.
    elapsed_seconds : float
        Wall time of the replay (build and teardown excluded).
    start_ns, end_ns : int or None
        The configured time range.
    round_trips : pandas.DataFrame
        One row per round trip, flat to flat (see the module's notes): ``position_id``,
        ``strategy_id``, ``instrument_id``, ``account_id``, ``side`` (``LONG``/``SHORT``),
        ``quantity`` (entered), ``peak_qty``, ``avg_px_open``, ``avg_px_close``,
        ``gross_pnl``, ``fees`` (in the settlement currency), ``net_pnl``, ``currency``,
        ``ts_opened``, ``ts_closed`` and ``duration_ns`` (both missing while open),
        ``fill_count``. The last round trip of a position may still be open.
    equity : pandas.DataFrame
        Mark-to-market equity sampled over data time: ``ts``, ``account_id``, ``currency``,
        ``balance``, ``unrealized``, ``equity`` (see :mod:`zq.backtest.sampler`).
    prices : pandas.DataFrame
        The mark price of each instrument at the same samples: ``ts``, ``instrument_id``,
        ``price``.
    positions_history : pandas.DataFrame
        Net signed quantity per instrument and strategy at the same samples: ``ts``,
        ``instrument_id``, ``strategy_id``, ``signed_qty``.
    sample_interval_ns : int
        The period of the timer samples (fills and the end of the run are sampled too).
    cpu_seconds : float
        CPU time the replay's thread spent over ``elapsed_seconds`` (steadier than wall
        time on a shared machine: another process's work is not counted).
    """

    orders: pd.DataFrame
    fills: pd.DataFrame
    positions: pd.DataFrame
    account_history: pd.DataFrame
    balances: dict[str, dict[str, Money]]
    realized_pnl: dict[str, Money]
    commissions: dict[str, Money]
    events: list[OrderEvent | PositionEvent] = field(repr=False)
    data_count: int
    elapsed_seconds: float
    start_ns: int | None
    end_ns: int | None
    round_trips: pd.DataFrame = field(default_factory=lambda: _empty(ROUND_TRIP_COLUMNS))
    equity: pd.DataFrame = field(default_factory=lambda: _empty(EQUITY_COLUMNS))
    prices: pd.DataFrame = field(default_factory=lambda: _empty(PRICE_COLUMNS))
    positions_history: pd.DataFrame = field(
        default_factory=lambda: _empty(POSITION_HISTORY_COLUMNS)
    )
    sample_interval_ns: int = 60 * 1_000_000_000
    cpu_seconds: float = 0.0

    @property
    def order_count(self) -> int:
        """Orders the strategies created."""
        return len(self.orders)

    @property
    def fill_count(self) -> int:
        """Fills."""
        return len(self.fills)

    @property
    def position_count(self) -> int:
        """Positions (open and closed)."""
        return len(self.positions)

    @property
    def round_trip_count(self) -> int:
        """Closed round trips."""
        return int(self.round_trips["ts_closed"].notna().sum())

    @property
    def events_per_second(self) -> float:
        """Data replayed per second of wall time."""
        return self.data_count / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def cpu_events_per_second(self) -> float:
        """Data replayed per second of the replay's CPU time."""
        return self.data_count / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    def summary(self) -> str:
        """Return the result as a few lines of text."""
        lines = [
            f"data: {self.data_count:,} events in {self.elapsed_seconds:.3f} s "
            f"({self.events_per_second:,.0f} events/s)",
            f"orders: {self.order_count:,}  fills: {self.fill_count:,}  "
            f"positions: {self.position_count:,}  round trips: {self.round_trip_count:,}",
        ]
        for account_id, balances in self.balances.items():
            text = ", ".join(f"{money.as_decimal()} {code}" for code, money in balances.items())
            lines.append(f"balance {account_id}: {text}")
        pnl = ", ".join(f"{m.as_decimal()} {code}" for code, m in self.realized_pnl.items())
        fees = ", ".join(f"{m.as_decimal()} {code}" for code, m in self.commissions.items())
        lines.append(f"realized PnL: {pnl or '0'}  commissions: {fees or '0'}")
        return "\n".join(lines)


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


# -- building columns ------------------------------------------------------------------------------
#
# The frames are built column by column from lists the comprehensions below fill in one pass
# each; no per-row function calls where a C-level attribute read or dict lookup does. Prices,
# quantities and money become floats through ``as_double`` (raw / 10**precision, rounded
# once, as ``float(value.as_decimal())``). Text columns (ids, enum names) are built through
# Arrow as pandas would store the lists (see _texts): pandas converting a list of strings
# one by one was a third of the frames' time.


def _identities(values: list[Any]) -> Any:
    """``id`` of each value as int64 (compiled: no int object per value)."""
    if type(values) is not list:
        values = list(values)
    return np.frombuffer(identities(values), dtype=np.int64)


def _doubles(values: list[Any]) -> Any:
    """Fixed-point values as float64; with a None among them (or none at all), a list of
    floats and None, which pandas makes a float64 column with NaN, or an object column when
    every value is None (as the frames always had)."""
    if values:
        try:
            return np.fromiter(
                (value.as_double() for value in values), dtype=np.float64, count=len(values)
            )
        except AttributeError:  # a None
            pass
    return [None if value is None else value.as_double() for value in values]


def _decimals(values: list[Any]) -> list[float | None]:
    return [None if value is None else float(value) for value in values]


def _names(values: list[Any]) -> Any:
    """The ``name`` of each member of one enum in ``values``, as a text column."""
    # One enum per column: IntEnum members of different enums compare equal as ints. An
    # enum member hashes in Python, so the members are told apart by identity (a vector
    # compare per member of the enum), not through a dict.
    if values and _STR_DTYPE is not None:
        ids = _identities(values)
        codes = np.full(len(values), -1, dtype=np.int32)
        names: list[str] = []
        for member in type(values[0]):
            same = ids == id(member)
            if same.any():
                codes[same] = len(names)
                names.append(member.name)
        if not (codes < 0).any():
            return pd.array(pa.array(names, pa.large_string()).take(codes), dtype=_STR_DTYPE)
    known = {value: value.name for value in set(values)}
    return [known[value] for value in values]


def _strings(values: list[Any]) -> Any:
    # Identifiers are str subclasses: pandas stores their text as it does a str's. A None
    # where a string is expected becomes "None", as it always has.
    if not _has_none(values):
        return _texts(values)
    return [value if isinstance(value, str) else str(value) for value in values]


def _has_none(values: list[Any]) -> bool:
    """``None in values``, told by identity (no value compared: a column of distinct ids
    would be read once more for it)."""
    return bool(values) and bool(np.any(_identities(values) == id(None)))


def _texts(values: list[str]) -> Any:
    """A column of ``str`` values (subclasses too) as pandas makes it from the list, built
    through Arrow: a column of one repeated value (an account, an instrument) is one value
    repeated ``len(values)`` times instead of ``len(values)`` strings converted."""
    if not values or _STR_DTYPE is None:
        return values
    first = values[0]
    # One object repeated, told by identity (no string compared: a column of distinct ids
    # would read every string twice); equal strings of distinct objects make the same
    # column through pa.array.
    ids = _identities(values)
    if bool(np.all(ids == ids[0])):
        column = pa.repeat(pa.scalar(first, pa.large_string()), len(values))
    else:
        column = pa.array(values, pa.large_string())
    return pd.array(column, dtype=_STR_DTYPE)


def _default_str_dtype() -> Any:
    # pandas >= 3 stores a list of str as an Arrow-backed str column; the text columns are
    # built that way then, and handed to pandas as lists otherwise.
    dtype = pd.Series(["text"]).dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return dtype
    return None


_STR_DTYPE = _default_str_dtype()


def _strings_or_none(values: list[Any]) -> Any:
    if not _has_none(values) and all(issubclass(kind, str) for kind in set(map(type, values))):
        return _texts(values)
    return [value if value is None or isinstance(value, str) else str(value) for value in values]


def _nullable_ints(values: list[int | None]) -> Any:
    # Through float64 (None makes NaN) nanoseconds would lose digits.
    return pd.array(values, dtype="Int64")


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


def orders_frame(
    orders: Iterable[Any], fills: Iterable[OrderFilled] | None = None
) -> pd.DataFrame:
    """Return one row per order, in its final state.

    ``fills``, when given, are every fill of the orders (the run's ``OrderFilled`` events):
    the average prices are computed from them rather than from each order's events.
    """
    rows = list(orders)
    try:
        numbers, names = _read(rows, _ORDER_NUMBERS, _ORDER_NAMES)
    except (TypeError, OverflowError):  # not an order of zq_core.orders
        numbers = None
    if numbers is None or not rows:
        return _orders_frame_by_attribute(rows, fills)
    quantity, quantity_p, price, price_p, filled, filled_p, ts_init = numbers.T
    client_order_ids, venue_order_ids, strategy_ids, instrument_ids = names[:4]
    sides, types, times_in_force, statuses = names[4:]
    data = {
        "client_order_id": _strings(client_order_ids),
        "venue_order_id": _strings_or_none(venue_order_ids),
        "strategy_id": _strings(strategy_ids),
        "instrument_id": _strings(instrument_ids),
        "side": _names(sides),
        "type": _names(types),
        "quantity": _fixed_floats(quantity, quantity_p),
        "price": _fixed_floats(price, price_p),
        "time_in_force": _names(times_in_force),
        "status": _names(statuses),
        "filled_qty": _fixed_floats(filled, filled_p),
        "avg_px": _average_prices(rows, filled, filled_p, client_order_ids, fills),
        "ts_init": ts_init.copy(),
    }
    return pd.DataFrame(data, columns=ORDER_COLUMNS)


# What the orders frame reads of each order (in one pass).
_ORDER_NUMBERS = (
    "quantity.raw",
    "quantity.precision",
    "price.raw",
    "price.precision",
    "filled_qty.raw",
    "filled_qty.precision",
    "ts_init",
)
_ORDER_NAMES = (
    "client_order_id",
    "venue_order_id",
    "strategy_id",
    "instrument_id",
    "side",
    "order_type",
    "time_in_force",
    "status",
)


def _orders_frame_by_attribute(rows: list[Any], fills: Iterable[OrderFilled] | None) -> Any:
    filled = _column((o.filled_qty.raw for o in rows), len(rows))
    filled_p = _column((o.filled_qty.precision for o in rows), len(rows))
    client_order_ids = [o.client_order_id for o in rows]
    data = {
        "client_order_id": _strings(client_order_ids),
        "venue_order_id": _strings_or_none([o.venue_order_id for o in rows]),
        "strategy_id": _strings([o.strategy_id for o in rows]),
        "instrument_id": _strings([o.instrument_id for o in rows]),
        "side": _names([o.side for o in rows]),
        "type": _names([o.order_type for o in rows]),
        "quantity": _doubles([o.quantity for o in rows]),
        "price": _doubles([o.price for o in rows]),
        "time_in_force": _names([o.time_in_force for o in rows]),
        "status": _names([o.status for o in rows]),
        "filled_qty": _doubles([o.filled_qty for o in rows]),
        "avg_px": _average_prices(rows, filled, filled_p, client_order_ids, fills),
        "ts_init": _column((o.ts_init for o in rows), len(rows)) if rows else [],
    }
    return pd.DataFrame(data, columns=ORDER_COLUMNS)


def _read(
    objects: list[Any], numbers: tuple[str, ...], names: tuple[str, ...]
) -> tuple[Any, list[list[Any]]]:
    """The integers (an int64 matrix, a row per object) and the attributes (a list per
    name) of ``objects``, read in one pass (see ``read_columns``)."""
    raw, columns, _ = read_columns(objects, numbers, names)
    return np.frombuffer(raw, dtype=np.int64).reshape(len(objects), len(numbers)), columns


# 10.0**k for the precisions of fixed-point values (exact doubles), looked up per value.
_POW10_DOUBLES = np.array([10.0**k for k in range(FIXED_PRECISION_MAX + 1)])


def _fixed_floats(raws: Any, precisions: Any) -> Any:
    """Fixed-point values read as raw integers and precisions (-1: None) as ``_doubles``
    makes them: each ``raw / 10**precision`` rounded once (as ``as_double``)."""
    if len(raws) == 0:
        return []
    present = precisions >= 0
    values = raws.astype(np.float64) / _POW10_DOUBLES[np.where(present, precisions, 0)]
    for index in np.flatnonzero(np.abs(raws) > _EXACT_FLOAT_RAW).tolist():
        values[index] = int(raws[index]) / 10 ** int(precisions[index])
    if present.all():
        return values
    out: list[float | None] = values.tolist()
    for index in np.flatnonzero(~present).tolist():
        out[index] = None
    return out


def _average_prices(
    orders: list[Any],
    filled: Any,
    qty_p: Any,
    client_order_ids: list[Any],
    known_fills: Iterable[OrderFilled] | None,
) -> Any:
    """Each order's ``avg_px`` as a float (None without a fill), as ``float(order.avg_px)``.

    ``avg_px`` sums the fills' ``last_qty × last_px`` as Decimals (28 digits) and divides
    by the filled quantity: where the sums fit int64 and the quotient is exact at the
    price's precision, the Decimals are exact and the float is that quotient rounded once,
    computed here from the raw integers at once; any other order is asked for its
    ``avg_px``. A fill is matched to its order by client order id; an order whose matched
    fills do not add up to its filled quantity (``filled``, at precision ``qty_p``) is
    asked too.
    """
    count = len(orders)
    if count == 0:
        return []
    fills: list[Any]
    if known_fills is None:
        pairs = [
            (row, event)
            for row, order in enumerate(orders)
            for event in order.events
            if type(event) is OrderFilled
        ]
        fills = [event for _, event in pairs]
    else:
        fills = list(known_fills)
    try:
        numbers, names = _read(fills, _FILL_PRICE_NUMBERS, ("client_order_id",))
    except (TypeError, OverflowError):  # not fixed-point values: every order is asked
        return _decimals([order.avg_px for order in orders])
    if known_fills is None:
        rows = np.array([row for row, _ in pairs], dtype=np.int64)
    else:
        by_identity = _rows_by_identity(client_order_ids, names[0])
        if by_identity is None:
            row_of = {order_id: row for row, order_id in enumerate(client_order_ids)}
            if len(row_of) != count:
                return _decimals([order.avg_px for order in orders])
            found = map(row_of.get, names[0], repeat(-1))
            by_identity = np.fromiter(found, dtype=np.int64, count=len(fills))
        rows = by_identity
    exact = np.zeros(count, dtype=bool)
    averages = np.full(count, np.nan)
    ours = rows >= 0
    rows = rows[ours]
    last_qty, last_qty_p, last_px, last_px_p = numbers[ours].T
    if len(rows):
        px_p = np.full(count, -1, dtype=np.int64)
        px_p[rows] = last_px_p
        # Orders whose fills share the order's quantity precision and one price precision.
        uniform = np.ones(count, dtype=bool)
        np.logical_and.at(uniform, rows, (last_qty_p == qty_p[rows]) & (last_px_p == px_p[rows]))
        bound = int(np.abs(last_qty).max()) * int(np.abs(last_px).max())
        if bound * int(np.bincount(rows, minlength=count).max()) < _INT64_SAFE:
            value = np.zeros(count, dtype=np.int64)
            np.add.at(value, rows, last_qty * last_px)
            summed = np.zeros(count, dtype=np.int64)
            np.add.at(summed, rows, last_qty)
            exact = uniform & (filled > 0) & (summed == filled) & (px_p >= 0)
            divisor = np.where(exact, filled, 1)
            exact &= value % divisor == 0
            quotient = value // divisor
            scale = _POW10_DOUBLES[np.where(exact, px_p, 0)]
            averages = np.where(exact, quotient.astype(np.float64) / scale, np.nan)
            large = exact & (np.abs(quotient) > _EXACT_FLOAT_RAW)
            for row in np.flatnonzero(large).tolist():
                averages[row] = int(quotient[row]) / 10 ** int(px_p[row])
    if np.all(exact):
        return averages
    out: list[float | None] = averages.tolist()
    unfilled = filled == 0
    for row in np.flatnonzero(~exact).tolist():
        out[row] = None if unfilled[row] else float(orders[row].avg_px)
    return out


def _rows_by_identity(keys: list[Any], wanted: list[Any]) -> Any:
    """The row of ``keys`` holding each of ``wanted`` as the same object (a fill and its
    order share the id object: no hashing of each id), or None if one is not found so or
    two rows hold one object."""
    ids = _identities(keys)
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    if len(ordered) == 0 or np.any(ordered[1:] == ordered[:-1]):
        return None
    found = _identities(wanted)
    at = np.minimum(np.searchsorted(ordered, found), len(ordered) - 1)
    if np.any(ordered[at] != found):
        return None
    return order[at].astype(np.int64)  # an int64 array of the rows


_FILL_PRICE_NUMBERS = ("last_qty.raw", "last_qty.precision", "last_px.raw", "last_px.precision")


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


def fills_frame(fills: Iterable[OrderFilled]) -> pd.DataFrame:
    """Return one row per fill, in the order they happened."""
    rows = list(fills)
    return _fills_frame(rows, _read_fills(rows))


def _read_fills(rows: list[OrderFilled]) -> tuple[Any, list[list[Any]]] | None:
    """What the fills frame reads of the fills, or None when they are not fixed-point
    values (a fill made by hand)."""
    try:
        return _read(rows, _FILL_FRAME_NUMBERS, _FILL_FRAME_NAMES)
    except (TypeError, OverflowError):
        return None


def _fills_frame(rows: list[OrderFilled], read: tuple[Any, list[list[Any]]] | None) -> Any:
    if read is None or not rows:
        return _fills_frame_by_attribute(rows)
    numbers, names = read
    ts_event, last_qty, last_qty_p, last_px, last_px_p, commission, commission_p = numbers.T
    data = {
        "ts_event": ts_event.copy(),
        "client_order_id": _strings(names[0]),
        "venue_order_id": _strings(names[1]),
        "trade_id": _strings(names[2]),
        "strategy_id": _strings(names[3]),
        "instrument_id": _strings(names[4]),
        "account_id": _strings(names[5]),
        "side": _names(names[6]),
        "last_qty": _fixed_floats(last_qty, last_qty_p),
        "last_px": _fixed_floats(last_px, last_px_p),
        "commission": _fixed_floats(commission, commission_p),
        "commission_currency": _texts(names[7]),
        "liquidity_side": _names(names[8]),
    }
    return pd.DataFrame(data, columns=FILL_COLUMNS)


# What the fills frame reads of each fill (in one pass).
_FILL_FRAME_NUMBERS = (
    "ts_event",
    "last_qty.raw",
    "last_qty.precision",
    "last_px.raw",
    "last_px.precision",
    "commission.raw",
    "commission.precision",
)
_FILL_FRAME_NAMES = (
    "client_order_id",
    "venue_order_id",
    "trade_id",
    "strategy_id",
    "instrument_id",
    "account_id",
    "order_side",
    "commission.currency.code",
    "liquidity_side",
)


def _fills_frame_by_attribute(rows: list[OrderFilled]) -> pd.DataFrame:
    commissions = [f.commission for f in rows]
    data = {
        "ts_event": [f.ts_event for f in rows],
        "client_order_id": _strings([f.client_order_id for f in rows]),
        "venue_order_id": _strings([f.venue_order_id for f in rows]),
        "trade_id": _strings([f.trade_id for f in rows]),
        "strategy_id": _strings([f.strategy_id for f in rows]),
        "instrument_id": _strings([f.instrument_id for f in rows]),
        "account_id": _strings([f.account_id for f in rows]),
        "side": _names([f.order_side for f in rows]),
        "last_qty": _doubles([f.last_qty for f in rows]),
        "last_px": _doubles([f.last_px for f in rows]),
        "commission": _doubles(commissions),
        "commission_currency": _texts([c.currency.code for c in commissions]),
        "liquidity_side": _names([f.liquidity_side for f in rows]),
    }
    return pd.DataFrame(data, columns=FILL_COLUMNS)


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


def positions_frame(positions: Iterable[Any]) -> pd.DataFrame:
    """Return one row per position, in its final state (its last round trip's fields).

    ``ts_closed`` is a nullable integer: missing while the position is open.
    """
    rows = list(positions)
    data = {
        "position_id": _strings([p.id for p in rows]),
        "strategy_id": _strings([p.strategy_id for p in rows]),
        "instrument_id": _strings([p.instrument_id for p in rows]),
        "side": _names([p.side for p in rows]),
        "signed_qty": [float(p.signed_qty) for p in rows],
        "peak_qty": _doubles([p.peak_qty for p in rows]),
        "avg_px_open": [float(p.avg_px_open) for p in rows],
        "avg_px_close": _decimals([p.avg_px_close for p in rows]),
        "realized_pnl": _doubles([p.realized_pnl for p in rows]),
        "currency": [p.currency.code for p in rows],
        "ts_opened": [p.ts_opened for p in rows],
        "ts_closed": _nullable_ints([p.ts_closed for p in rows]),
    }
    return pd.DataFrame(data, columns=POSITION_COLUMNS)


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


# Called with the states, a column per field (text) and the rows of each account's list of
# states (by the list's id: start, stop).
_OnStateColumns = Callable[[list[Any], dict[str, Any], dict[int, tuple[int, int]]], None]


def accounts_frame(
    accounts: Iterable[Any], on_state_columns: _OnStateColumns | None = None
) -> pd.DataFrame:
    """Return one row per account change and currency (the settled balances).

    ``on_state_columns``, when given, is called with the columns read of the accounts'
    states when they were read in one pass (states of one balance each; see
    ``ResultSampler.use_state_columns``): the sampler's records then need not read them
    again.
    """
    lists = [account.events for account in accounts]
    states = [state for events in lists for state in events]
    single = _single_balances(states)
    if single is None or not states:
        return _accounts_frame_by_attribute(states)
    numbers, names = single
    if on_state_columns is not None:
        spans: dict[int, tuple[int, int]] = {}
        start = 0
        for events in lists:
            spans[id(events)] = (start, start + len(events))
            start += len(events)
        columns: dict[str, Any] = dict(zip(_STATE_NUMBERS, numbers.T, strict=True))
        columns.update(zip(_STATE_NAMES, names, strict=True))
        on_state_columns(states, columns, spans)
    ts_event, total, total_p, locked, locked_p, free, free_p = numbers.T
    account_ids, reasons, currencies, margin_calls = names[:4]
    data = {
        "ts_event": ts_event.copy(),
        "account_id": _strings(account_ids),
        "reason": _strings(reasons),
        "currency": _texts(currencies),
        "total": _fixed_floats(total, total_p),
        "locked": _fixed_floats(locked, locked_p),
        "free": _fixed_floats(free, free_p),
        "margin_call": margin_calls,
    }
    return pd.DataFrame(data, columns=ACCOUNT_HISTORY_COLUMNS)


# What the account history reads of each state of one balance (in one pass).
_STATE_NUMBERS = (
    "ts_event",
    "balances.0.total.raw",
    "balances.0.total.precision",
    "balances.0.locked.raw",
    "balances.0.locked.precision",
    "balances.0.free.raw",
    "balances.0.free.precision",
)
_STATE_NAMES = (
    "account_id",
    "reason",
    "balances.0.total.currency.code",
    "margin_call",
    "balances",
)


def _single_balances(states: list[Any]) -> tuple[Any, list[list[Any]]] | None:
    """The columns of account states that each hold one balance, or None (states of
    several currencies, or values read_columns does not read)."""
    try:
        numbers, names = _read(states, _STATE_NUMBERS, _STATE_NAMES)
    except (AttributeError, IndexError, TypeError, OverflowError):
        return None
    if set(map(len, names[4])) - {1}:
        return None
    return numbers, names


def _accounts_frame_by_attribute(states: list[Any]) -> pd.DataFrame:
    rows = [(state, balance) for state in states for balance in state.balances]
    totals = [balance.total for _, balance in rows]
    data = {
        "ts_event": [state.ts_event for state, _ in rows],
        "account_id": _strings([state.account_id for state, _ in rows]),
        "reason": _strings([state.reason for state, _ in rows]),
        "currency": _texts([total.currency.code for total in totals]),
        "total": _doubles(totals),
        "locked": _doubles([balance.locked for _, balance in rows]),
        "free": _doubles([balance.free for _, balance in rows]),
        "margin_call": [state.margin_call for state, _ in rows],
    }
    return pd.DataFrame(data, columns=ACCOUNT_HISTORY_COLUMNS)


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

# Quantities and prices of a round trip are summed as integers at the largest fixed-point
# precision (exact for any mix of precisions); fees as an integer at the currency's precision
# plus _FEE_DIGITS, which holds exactly every share of a commission split by a quantity ratio
# whose reduced denominator divides 10**_FEE_DIGITS; after any other share the round trip's
# fees are a 60-digit Decimal, summed as the exact arithmetic always summed them.
_SCALE_DIGITS = FIXED_PRECISION_MAX
_SCALE = 10**_SCALE_DIGITS
_FEE_DIGITS = 12
_FEE_SCALE = 10**_FEE_DIGITS
_POW10 = [10**k for k in range(_SCALE_DIGITS + 1)]
_POW10_PX = [10**k for k in range(_SCALE_DIGITS + 1)]
_EXACT_FLOAT_RAW = 1 << 53


class _RoundTrip:
    """One round trip being built from its position's events (exact integers)."""

    __slots__ = (
        "entry_qty",
        "entry_value",
        "event",
        "exit_qty",
        "exit_value",
        "fee_decimal",
        "fee_digits",
        "fees",
        "fill_count",
        "held",
        "inverse",
        "peak",
        "realized_end",
        "realized_start",
        "ts_closed",
    )

    def __init__(self, event: PositionOpened, inverse: bool) -> None:
        self.event = event  # the opening event: ids, side, currency, ts_opened
        self.inverse = inverse
        # Realized PnL of the position before this round trip: the round trip's own is
        # what it adds (a reopened NETTING position keeps its earlier PnL).
        self.realized_start = self.realized_end = event.realized_pnl.raw
        self.entry_qty = self.exit_qty = 0
        # Linear: sums of qty × px (integers at twice the scale); inverse: sums of the
        # 60-digit Decimal quotients qty / px, as the reference computes them.
        self.entry_value: int | Decimal = Decimal(0) if inverse else 0
        self.exit_value: int | Decimal = Decimal(0) if inverse else 0
        self.held = self.peak = Decimal(0)
        # Commissions in the settlement currency, as an integer at its precision plus
        # _FEE_DIGITS while every share is exact there, else as a Decimal.
        self.fees = 0
        self.fee_digits = event.currency.precision + _FEE_DIGITS
        self.fee_decimal: Decimal | None = None  # once a share has no exact integer form
        self.fill_count = 0
        self.ts_closed: int | None = None

    def add(self, event: PositionEvent, fill: OrderFilled, closed: bool) -> None:
        qty_value = event.last_qty
        px_value = event.last_px
        qty = qty_value.raw * _POW10[_SCALE_DIGITS - qty_value.precision]
        if self.inverse:
            value: int | Decimal = qty_value.as_decimal() / px_value.as_decimal()
        else:
            value = qty * px_value.raw * _POW10[_SCALE_DIGITS - px_value.precision]
        held = abs(event.signed_qty)
        if closed or held < self.held:
            self.exit_qty += qty
            self.exit_value += value
        else:
            self.entry_qty += qty
            self.entry_value += value
        self.held = held
        if held > self.peak:
            self.peak = held
        commission = fill.commission
        if commission.currency.code == event.currency.code:
            self._add_fee(commission, qty_value, fill.last_qty)
        self.fill_count += 1
        self.realized_end = event.realized_pnl.raw
        if closed:
            self.ts_closed = event.ts_closed  # type: ignore[attr-defined]

    def _add_fee(self, commission: Money, part: Quantity, fill_qty: Quantity) -> None:
        # fee = commission × part / fill quantity (a fill through zero is shared by quantity)
        part_raw = part.raw * _POW10[_SCALE_DIGITS - part.precision]
        fill_raw = fill_qty.raw * _POW10[_SCALE_DIGITS - fill_qty.precision]
        if self.fee_decimal is None:
            numerator = commission.raw * part_raw * _FEE_SCALE
            if numerator % fill_raw == 0:
                self.fees += numerator // fill_raw
                return
            self.fee_decimal = Decimal(self.fees).scaleb(-self.fee_digits)
        self.fee_decimal += commission.as_decimal() * part.as_decimal() / fill_qty.as_decimal()

    def fees_decimal(self) -> Decimal:
        if self.fee_decimal is not None:
            return self.fee_decimal
        return Decimal(self.fees).scaleb(-self.fee_digits)

    def average(self, qty: int, value: int | Decimal) -> float | None:
        if qty == 0:
            return None
        quantity = Decimal(qty).scaleb(-_SCALE_DIGITS)
        if self.inverse:
            return float(quantity / value)
        return float(Decimal(value).scaleb(-2 * _SCALE_DIGITS) / quantity)


_POSITION_KINDS = (PositionOpened, PositionChanged, PositionClosed)
_FILL_KEY = attrgetter("instrument_id", "trade_id")
_POSITION_FILL_KEY = attrgetter("instrument_id", "last_trade_id")

# The code of each kind of event in the round trips' columns.
_OTHER, _FILL, _OPENED, _CHANGED, _CLOSED = range(5)


class _EventKinds(dict[type, int]):
    """The code of each type of event, found on first sight of the type."""

    def __missing__(self, kind: type) -> int:
        if issubclass(kind, OrderFilled):
            code = _FILL
        elif issubclass(kind, PositionClosed):
            code = _CLOSED
        elif issubclass(kind, PositionOpened):
            code = _OPENED
        elif issubclass(kind, PositionEvent):
            code = _CHANGED
        else:
            code = _OTHER
        self[kind] = code
        return code


@dataclass
class _PairColumns:
    """What the columnar round trips read of the position events and of their fills, read
    in one pass over each (see ``read_columns``)."""

    numbers: Any  # int64, a row per event: _EVENT_NUMBERS_FIELDS
    names: list[list[Any]]  # a list per _EVENT_NAMES
    kinds: Any  # int8 codes: _OPENED, _CHANGED, _CLOSED
    fill_numbers: Any  # int64, a row per fill: _FILL_NUMBERS_FIELDS
    fill_names: list[list[Any]]  # a list per _FILL_NAMES

    @classmethod
    def read(
        cls,
        events: list[PositionEvent],
        fills: list[OrderFilled],
        kinds: Any = None,
        fill_columns: tuple[Any, list[list[Any]]] | None = None,
    ) -> _PairColumns | None:
        """The columns, or None when an event has no fixed-point value where expected;
        ``fill_columns``, the fills' columns read already (see _latest_fill_columns)."""
        try:
            numbers, names, codes = read_columns(
                events,
                _EVENT_NUMBERS_FIELDS,
                _EVENT_NAMES,
                None if kinds is not None else _EventKinds(),
            )
            if fill_columns is None:
                raw, fill_names, _ = read_columns(fills, _FILL_NUMBERS_FIELDS, _FILL_NAMES)
                fill_numbers = np.frombuffer(raw, dtype=np.int64).reshape(
                    len(fills), len(_FILL_NUMBERS_FIELDS)
                )
            else:
                fill_numbers, fill_names = fill_columns
        except (TypeError, OverflowError):  # a time past int64
            return None
        return cls(
            np.frombuffer(numbers, dtype=np.int64).reshape(
                len(events), len(_EVENT_NUMBERS_FIELDS)
            ),
            names,
            kinds if kinds is not None else np.frombuffer(codes, dtype=np.int8),
            fill_numbers,
            fill_names,
        )


def _latest_fill_columns(
    coded: _CodedEvents, candidates: Any
) -> tuple[Any, list[list[Any]]] | None:
    """The round trips' columns of the fills at event rows ``candidates`` (each a fill),
    taken from the fills frame's columns of all the fills when they were read (a fill
    causes one or two position events: a pick of its columns, not a second read)."""
    if coded.fill_read is None:
        return None
    numbers, names = coded.fill_read
    fill_number = np.cumsum(coded.codes == _FILL) - 1  # each row's latest fill, numbered
    rows = fill_number[candidates]
    return (
        numbers[:, _FILL_FRAME_PICKED_NUMBERS][rows],
        [_pick(names[column], rows) for column in _FILL_FRAME_PICKED_NAMES],
    )


# The names the pairing of events and fills compares come first (instrument, trade id).
_EVENT_NAMES = (
    "position_id",
    "instrument_id",
    "last_trade_id",
    "currency.code",
    "strategy_id",
    "account_id",
    "entry",
    "side",  # not for the round trips: for the sampler (see fills_and_round_trips)
)
_FILL_NAMES = ("instrument_id", "trade_id", "commission.currency.code")


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
    return _round_trips(_CodedEvents(list(events)), inverse)


def _round_trips(
    coded: _CodedEvents,
    inverse: Iterable[str],
    on_position_columns: _OnPositionColumns | None = None,
) -> pd.DataFrame:
    inverse_ids = set(inverse)
    position_events, position_fills, columns = _with_fills(coded, on_position_columns)
    with localcontext(EXACT_CONTEXT):
        if not inverse_ids or not any(
            str(e.instrument_id) in inverse_ids for e in position_events
        ):
            frame = _round_trips_columnar(position_events, position_fills, columns)
            if frame is not None:
                return frame
        return _round_trips_one_by_one(position_events, position_fills, inverse_ids)


def fill_events(events: list[Any]) -> list[OrderFilled]:
    """Return the fills (``OrderFilled``, subclasses too) among ``events``, in order."""
    return _CodedEvents(events).fills()


# Called with the position events, a column per field (text), the code of each type of
# event and each position event's code.
_OnPositionColumns = Callable[[list[Any], dict[str, Any], dict[type, int], Any], None]


def fills_and_round_trips(
    events: list[OrderEvent | PositionEvent],
    inverse: Iterable[str] = (),
    on_position_columns: _OnPositionColumns | None = None,
) -> tuple[list[OrderFilled], pd.DataFrame, pd.DataFrame]:
    """Return :func:`fill_events`, their :func:`fills_frame` and the
    :func:`round_trips_frame` of ``events``: the events' types read once for all, and the
    fills once for both frames (one pass over a long run's events, which no longer fit the
    CPU's caches, and one over its fills).

    ``on_position_columns``, when given, is called with the columns the round trips read of
    the position events, if they read them in one pass (see
    ``ResultSampler.use_position_columns``): the sampler's records then need not read them
    again.
    """
    coded = _CodedEvents(events)
    fills = coded.fills()
    coded.fill_read = _read_fills(fills)
    return fills, _fills_frame(fills, coded.fill_read), _round_trips(
        coded, inverse, on_position_columns
    )


class _CodedEvents:
    """Events with the code of each one's type (``_EventKinds``), read in one pass."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.kinds = _EventKinds()
        codes = read_columns(events, (), (), self.kinds)[2]
        self.codes = np.frombuffer(codes, dtype=np.int8)
        # The fills frame's columns of the fills (of codes _FILL, in order), when read.
        self.fill_read: tuple[Any, list[list[Any]]] | None = None

    def fills(self) -> list[OrderFilled]:
        return _pick(self.events, np.flatnonzero(self.codes == _FILL))


def _with_fills(
    coded: _CodedEvents, on_position_columns: _OnPositionColumns | None = None
) -> tuple[list[PositionEvent], list[OrderFilled], _PairColumns | None]:
    """The position events, each with the fill it names (the last fill of that trade id
    published before it), and their columns when read on the way."""
    events, kinds, codes = coded.events, coded.kinds, coded.codes
    fill_types = {t for t, code in kinds.items() if code == _FILL}
    position_types = {t for t, code in kinds.items() if code >= _OPENED}
    # Usually a position event's fill is the latest fill before it: then it is the last
    # fill of that trade id before it, whatever came earlier.
    rows = np.arange(len(events))
    latest_fill = np.maximum.accumulate(np.where(codes == _FILL, rows, -1))
    position_rows = np.flatnonzero(codes >= _OPENED)
    candidates = latest_fill[position_rows]
    if np.all(candidates >= 0):
        positions = _pick(events, position_rows)
        latest = _pick(events, candidates)
        columns = _PairColumns.read(
            positions, latest, codes[position_rows], _latest_fill_columns(coded, candidates)
        )
        if columns is not None and on_position_columns is not None:
            read = dict(zip(_EVENT_NUMBERS_FIELDS, columns.numbers.T, strict=True))
            read.update(zip(_EVENT_NAMES, columns.names, strict=True))
            on_position_columns(positions, read, dict(kinds), columns.kinds)
        if columns is None:  # not fixed-point values (the one-by-one path says why)
            if list(map(_FILL_KEY, latest)) == list(map(_POSITION_FILL_KEY, positions)):
                return positions, latest, None
        elif columns.fill_names[0] == columns.names[1] and (
            columns.fill_names[1] == columns.names[2]
        ):
            return positions, latest, columns
    # One by one: a position event whose fill is not the latest fill before it.
    fills: dict[tuple[object, object], OrderFilled] = {}
    position_events: list[PositionEvent] = []
    position_fills: list[OrderFilled] = []
    for event in events:
        if type(event) in fill_types:
            fills[(event.instrument_id, event.trade_id)] = event
        elif type(event) in position_types:
            fill = fills.get((event.instrument_id, event.last_trade_id))
            if fill is None:
                raise ValueError(
                    f"position {event.position_id}: event {type(event).__name__} names trade "
                    f"{event.last_trade_id}, whose fill was not seen before it"
                )
            position_events.append(event)
            position_fills.append(fill)
    return position_events, position_fills, None


def _round_trips_one_by_one(
    events: list[PositionEvent], fills: list[OrderFilled], inverse_ids: set[str]
) -> pd.DataFrame:
    # Any mix of instruments, precisions and magnitudes; reports a position event that
    # names no open round trip.
    open_trips: dict[object, _RoundTrip] = {}
    trips: list[_RoundTrip] = []
    for event, fill in zip(events, fills, strict=True):
        key = event.position_id
        if isinstance(event, PositionOpened):
            trip = _RoundTrip(event, str(event.instrument_id) in inverse_ids)
            open_trips[key] = trip
            trips.append(trip)
        else:
            found = open_trips.get(key)
            if found is None:
                raise ValueError(
                    f"position {key}: {type(event).__name__} at "
                    f"{event.ts_event} without an open round trip"
                )
            trip = found
        closed = isinstance(event, PositionClosed)
        trip.add(event, fill, closed)
        if closed:
            del open_trips[key]
    return _round_trip_rows(trips)


# Products and sums below stay under this bound in int64 (checked before they are formed).
_INT64_SAFE = 1 << 62


def _uniform_column(values: Any) -> int | None:
    first = int(values[0])
    return first if bool(np.all(values == first)) else None


# What the columnar round trips read of each position event and of its fill.
_EVENT_NUMBERS_FIELDS = (
    "last_qty.raw",
    "last_qty.precision",
    "last_px.raw",
    "last_px.precision",
    "quantity.raw",
    "quantity.precision",
    "realized_pnl.raw",
    "realized_pnl.precision",
    "ts_event",
)
_FILL_NUMBERS_FIELDS = ("commission.raw", "last_qty.raw", "last_qty.precision")
# Where the fills frame's columns hold them.
_FILL_FRAME_PICKED_NUMBERS = [_FILL_FRAME_NUMBERS.index(f) for f in _FILL_NUMBERS_FIELDS]
_FILL_FRAME_PICKED_NAMES = [_FILL_FRAME_NAMES.index(f) for f in _FILL_NAMES]


def _pick(values: list[Any], rows: Any) -> list[Any]:
    """``[values[row] for row in rows]``: ``rows`` an integer array (picked in C) or list."""
    if isinstance(rows, np.ndarray) and type(values) is list:
        return take(values, np.ascontiguousarray(rows, dtype=np.int64))
    return list(map(values.__getitem__, rows))


def _sides(entries: list[Any]) -> Any:
    """``LONG`` for a round trip entered by a buy, else ``SHORT``, as a text column."""
    if not entries or _STR_DTYPE is None:
        return ["LONG" if entry is OrderSide.BUY else "SHORT" for entry in entries]
    ids = _identities(entries)
    short = (ids != id(OrderSide.BUY)).astype(np.int8)
    return pd.array(pa.array(["LONG", "SHORT"], pa.large_string()).take(short), dtype=_STR_DTYPE)


def _round_trips_columnar(
    events: list[PositionEvent], fills: list[OrderFilled], columns: _PairColumns | None = None
) -> pd.DataFrame | None:
    """The round trips computed column-wise with exact int64 arithmetic, or None when the
    events do not allow it (mixed precisions, magnitudes past int64, a position event with
    no open round trip): :func:`_round_trips_one_by_one` then computes them."""
    count = len(events)
    if count == 0:
        return None
    if columns is None:
        columns = _PairColumns.read(events, fills)
        if columns is None:
            return None
    qty, qty_p, px, px_p, held, held_p, realized, currency_p, ts_event = columns.numbers.T
    commission, fill_raw, fill_p = columns.fill_numbers.T
    position_ids, _, _, currency_codes, strategy_ids, account_ids, entry_sides, _ = columns.names
    commission_codes = columns.fill_names[2]
    precisions = [
        _uniform_column(np.concatenate([qty_p, fill_p])),
        _uniform_column(px_p),
        _uniform_column(held_p),
        _uniform_column(currency_p),
    ]
    known = [p for p in precisions if p is not None and p >= 0]
    if len(known) < len(precisions):
        return None  # mixed precisions, or no value (None)
    qty_precision, px_precision, held_precision, currency_precision = known
    opened_flags = columns.kinds == _OPENED
    closed_flags = columns.kinds == _CLOSED
    position = _codes(position_ids)
    # Each event's round trip: the last opening of its position at or before it; none (an
    # error, reported by the one-by-one path) if the position closed since or never opened.
    order = np.argsort(position, kind="stable")
    rows = np.arange(count)
    sorted_position = position[order]
    group_start = np.zeros(count, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_position[1:] != sorted_position[:-1]])
    group_start[starts] = starts
    group_start = np.maximum.accumulate(group_start)
    last_open = np.maximum.accumulate(np.where(opened_flags[order], rows, -1))
    last_close = np.maximum.accumulate(np.where(closed_flags[order], rows, -1))
    previous_close = np.r_[-1, last_close[:-1]]
    if np.any(last_open < group_start) or np.any(
        ~opened_flags[order] & (previous_close >= last_open)
    ):
        return None
    trip_number = np.cumsum(opened_flags) - 1
    trip = np.empty(count, dtype=np.int64)
    trip[order] = trip_number[order[last_open]]
    trips = int(opened_flags.sum())
    # Held before the event, within its round trip (0 at the opening).
    sorted_held = held[order]
    previous_held = np.r_[0, sorted_held[:-1]]
    previous_held[opened_flags[order]] = 0
    before = np.empty(count, dtype=np.int64)
    before[order] = previous_held
    exits = closed_flags | (held < before)
    entries = ~exits
    longest = int(np.bincount(trip, minlength=trips).max())
    if int(np.abs(qty).max()) * int(np.abs(px).max()) * longest >= _INT64_SAFE:
        return None
    value = qty * px
    entry_qty = _sum_by(trip, qty, entries, trips)
    exit_qty = _sum_by(trip, qty, exits, trips)
    entry_value = _sum_by(trip, value, entries, trips)
    exit_value = _sum_by(trip, value, exits, trips)
    peak = np.zeros(trips, dtype=np.int64)
    np.maximum.at(peak, trip, held)
    fill_count = np.bincount(trip, minlength=trips).astype(np.int64)
    opening = np.flatnonzero(opened_flags)
    last_event = np.zeros(trips, dtype=np.int64)
    np.maximum.at(last_event, trip, rows)
    if np.abs(realized).max() >= _INT64_SAFE // 2:
        return None
    gross_raw = realized[last_event] - realized[opening]
    # Fees: each share commission × part / fill quantity, exact at _FEE_DIGITS more digits
    # where it divides; the round trips with another share sum theirs as Decimals.
    charged = _equal(commission_codes, currency_codes)
    product_bound = int(np.abs(commission).max()) * int(np.abs(qty).max()) * longest
    fee_digits = 0
    while fee_digits < _FEE_DIGITS and product_bound * 10 ** (fee_digits + 1) < _INT64_SAFE:
        fee_digits += 1
    if product_bound * 10**fee_digits >= _INT64_SAFE:
        return None
    numerator = commission * qty * 10**fee_digits
    exact_share = numerator % fill_raw == 0
    share = np.where(charged & exact_share, numerator // fill_raw, 0)
    fee_raw = _sum_by(trip, share, charged, trips)
    decimal_trips = np.unique(trip[charged & ~exact_share])
    gross_scaled_bound = int(np.abs(gross_raw).max(initial=0)) * 10**fee_digits
    if gross_scaled_bound + int(np.abs(fee_raw).max(initial=0)) >= _INT64_SAFE:
        return None
    fee_scale = currency_precision + fee_digits
    gross = _raw_floats(gross_raw, currency_precision)
    fees: Any = _raw_floats(fee_raw, fee_scale)
    net: Any = _raw_floats(gross_raw * 10**fee_digits - fee_raw, fee_scale)
    if len(decimal_trips):
        fees = fees.astype(object)
        net = net.astype(object)
        members = np.flatnonzero(np.isin(trip, decimal_trips) & charged)
        sums: dict[int, Decimal] = {}
        for row in members.tolist():
            share_value = (
                fills[row].commission.as_decimal()
                * events[row].last_qty.as_decimal()
                / fills[row].last_qty.as_decimal()
            )
            number = int(trip[row])
            sums[number] = sums.get(number, Decimal(0)) + share_value
        for number, total in sums.items():
            gross_value = Decimal(int(gross_raw[number])).scaleb(-currency_precision)
            fees[number] = float(total)
            net[number] = float(gross_value - total)
        fees = fees.astype(np.float64)
        net = net.astype(np.float64)
    closing = np.full(trips, -1, dtype=np.int64)
    closing[trip[closed_flags]] = np.flatnonzero(closed_flags)
    ts_opened = ts_event[opening]
    is_closed = closing >= 0
    ts_closed = np.zeros(trips, dtype=np.int64)
    ts_closed[is_closed] = [
        getattr(events[i], "ts_closed") for i in closing[is_closed].tolist()  # noqa: B009
    ]
    data = {
        "position_id": _strings(_pick(position_ids, opening)),
        "strategy_id": _strings(_pick(strategy_ids, opening)),
        "instrument_id": _strings(_pick(columns.names[1], opening)),
        "account_id": _strings(_pick(account_ids, opening)),
        "side": _sides(_pick(entry_sides, opening)),
        "quantity": _raw_floats(entry_qty, qty_precision),
        "peak_qty": _raw_floats(peak, held_precision),
        "avg_px_open": _averages(entry_value, entry_qty, qty_precision, px_precision),
        "avg_px_close": _averages(exit_value, exit_qty, qty_precision, px_precision),
        "gross_pnl": gross,
        "fees": fees,
        "net_pnl": net,
        "currency": _texts(_pick(currency_codes, opening)),
        "ts_opened": pd.arrays.IntegerArray(ts_opened, np.zeros(trips, dtype=bool)),
        "ts_closed": pd.arrays.IntegerArray(ts_closed, ~is_closed),
        "duration_ns": pd.arrays.IntegerArray(ts_closed - ts_opened, ~is_closed),
        "fill_count": fill_count,
    }
    return pd.DataFrame(data, columns=ROUND_TRIP_COLUMNS)


def _codes(values: list[Any]) -> Any:
    """A code per value, equal for equal values (in no particular order), as int64."""
    # The events of a position share its id object: coded by identity (no hashing of each
    # value), unless two of the objects are equal.
    ids = _identities(values)
    _, first, codes = np.unique(ids, return_index=True, return_inverse=True)
    distinct = [values[i] for i in first.tolist()]
    if len(set(distinct)) == len(distinct):
        return codes.astype(np.int64)
    return pd.factorize(np.array(values, dtype=object))[0].astype(np.int64)


def _equal(left: list[Any], right: list[Any]) -> Any:
    """``left[i] == right[i]`` for each i, as a bool array."""
    if left and left.count(left[0]) == len(left) and right.count(right[0]) == len(right):
        return np.full(len(left), left[0] == right[0], dtype=bool)
    return np.fromiter(map(eq, left, right), dtype=bool, count=len(left))


def _column(values: Iterable[int], count: int, dtype: Any = np.int64) -> Any:
    """An integer column filled straight from ``values`` (no list of int objects first: a
    long run's columns would make millions of them at once)."""
    return np.fromiter(values, dtype=dtype, count=count)


def _sum_by(group: Any, values: Any, where: Any, groups: int) -> Any:
    """Sum int64 ``values`` per group where ``where`` holds (exact, unlike bincount)."""
    total = np.zeros(groups, dtype=np.int64)
    np.add.at(total, group[where], values[where])
    return total


def _raw_floats(raws: Any, precision: int) -> Any:
    """``raw / 10**precision`` as float64, rounded once (as ``as_double`` and
    ``float(Decimal)`` round): exact doubles divide in one rounding; past 2**53 Python's
    integer division does it."""
    values = raws.astype(np.float64) / 10.0**precision
    if precision > 22:  # 10**precision is no longer an exact double
        return np.array([int(r) / 10**precision for r in raws.tolist()], dtype=np.float64)
    for index in np.flatnonzero(np.abs(raws) > _EXACT_FLOAT_RAW).tolist():
        values[index] = int(raws[index]) / 10**precision
    return values


def _averages(value: Any, qty: Any, qty_precision: int, px_precision: int) -> Any:
    """Average prices ``value / qty`` as floats (None without quantity), as the exact
    arithmetic gives them: the quotient rounded at 60 digits, then to a float (an exact
    quotient at the price's precision is rounded once, all at once)."""
    with_qty = qty != 0
    quotient, remainder = np.divmod(value, np.where(with_qty, qty, 1))
    exact = with_qty & (remainder == 0)
    averages = _raw_floats(np.where(exact, quotient, 0), px_precision)
    for row in np.flatnonzero(with_qty & ~exact).tolist():
        amount = Decimal(int(value[row])).scaleb(-(qty_precision + px_precision))
        averages[row] = float(amount / Decimal(int(qty[row])).scaleb(-qty_precision))
    if len(averages) and bool(with_qty.all()):
        return averages
    out: list[float | None] = averages.tolist()
    for row in np.flatnonzero(~with_qty).tolist():
        out[row] = None
    return out


def _round_trip_rows(trips: list[_RoundTrip]) -> pd.DataFrame:
    opened = [t.event for t in trips]
    gross: list[Decimal] = []
    fees: list[Decimal] = []
    for trip, event in zip(trips, opened, strict=True):
        gross.append(
            Decimal(trip.realized_end - trip.realized_start).scaleb(-event.realized_pnl.precision)
        )
        fees.append(trip.fees_decimal())
    ts_opened = [e.ts_event for e in opened]
    ts_closed = [t.ts_closed for t in trips]
    data = {
        "position_id": _strings([e.position_id for e in opened]),
        "strategy_id": _strings([e.strategy_id for e in opened]),
        "instrument_id": _strings([e.instrument_id for e in opened]),
        "account_id": _strings([e.account_id for e in opened]),
        "side": _sides([e.entry for e in opened]),
        "quantity": [t.entry_qty / _SCALE for t in trips],
        "peak_qty": [float(t.peak) for t in trips],
        "avg_px_open": [t.average(t.entry_qty, t.entry_value) for t in trips],
        "avg_px_close": [t.average(t.exit_qty, t.exit_value) for t in trips],
        "gross_pnl": [float(g) for g in gross],
        "fees": [float(f) for f in fees],
        "net_pnl": [float(g - f) for g, f in zip(gross, fees, strict=True)],
        "currency": [e.currency.code for e in opened],
        "ts_opened": _nullable_ints(ts_opened),  # type: ignore[arg-type]
        "ts_closed": _nullable_ints(ts_closed),
        "duration_ns": _nullable_ints(
            [None if c is None else c - o for o, c in zip(ts_opened, ts_closed, strict=True)]
        ),
        "fill_count": [t.fill_count for t in trips],
    }
    return pd.DataFrame(data, columns=ROUND_TRIP_COLUMNS)


# -- samples ---------------------------------------------------------------------------------------


def _int64s() -> array[int]:
    return array("q")


def _float64s() -> array[float]:
    return array("d")


@dataclass
class SampleRecords:
    """What the sampler recorded, column by column.

    Numbers are kept in typed arrays (8 bytes a value, no Python object each); the id
    columns hold references to one shared string per id.
    """

    equity_ts: array[int] = field(default_factory=_int64s)
    equity_account: list[str] = field(default_factory=list)
    equity_currency: list[str] = field(default_factory=list)
    equity_balance: array[float] = field(default_factory=_float64s)
    equity_unrealized: array[float] = field(default_factory=_float64s)
    equity_value: array[float] = field(default_factory=_float64s)
    price_ts: array[int] = field(default_factory=_int64s)
    price_instrument: list[str] = field(default_factory=list)
    price_value: array[float] = field(default_factory=_float64s)
    position_ts: array[int] = field(default_factory=_int64s)
    position_instrument: list[str] = field(default_factory=list)
    position_strategy: list[str] = field(default_factory=list)
    position_qty: array[float] = field(default_factory=_float64s)


EQUITY_COLUMNS: list[str] = ["ts", "account_id", "currency", "balance", "unrealized", "equity"]
PRICE_COLUMNS: list[str] = ["ts", "instrument_id", "price"]
POSITION_HISTORY_COLUMNS: list[str] = ["ts", "instrument_id", "strategy_id", "signed_qty"]


def _last_per_key(columns: dict[str, Any], keys: list[str]) -> pd.DataFrame:
    # Several samples at one instant (a timer, then fills at the same time; the two events
    # of a fill through zero): the last one is the state after that instant. Rows ordered
    # by time, as ``drop_duplicates(subset=keys, keep="last")`` then a stable sort by ts:
    # the rows kept are found on integer codes (the id columns share one string per id),
    # and only they become the frame's columns (no hashing of every row's strings).
    ts = columns["ts"]
    count = len(ts)
    if count == 0:
        frame = pd.DataFrame(columns, columns=list(columns))
        frame = frame.drop_duplicates(subset=keys, keep="last")
        return frame.sort_values("ts", kind="stable").reset_index(drop=True)
    codes = [ts, *(_codes(columns[key]) for key in keys[1:])]
    order = np.lexsort(codes[::-1])  # by ts, then the ids; equal keys in their order
    last = np.ones(count, dtype=bool)
    for code in codes:
        ordered = code[order]
        last[:-1] &= ordered[1:] == ordered[:-1]
    last[:-1] = ~last[:-1]  # the last of each run of equal keys
    last[-1] = True
    kept = np.sort(order[last])
    kept = kept[np.argsort(ts[kept], kind="stable")]
    data = {
        name: _texts(_pick(values, kept)) if isinstance(values, list) else values[kept]
        for name, values in columns.items()
    }
    return pd.DataFrame(data, columns=list(columns))


def equity_frame(records: SampleRecords) -> pd.DataFrame:
    """Return the equity samples, one row per time, account and currency."""
    columns = {
        "ts": np.asarray(records.equity_ts, dtype=np.int64),
        "account_id": records.equity_account,
        "currency": records.equity_currency,
        "balance": np.asarray(records.equity_balance, dtype=np.float64),
        "unrealized": np.asarray(records.equity_unrealized, dtype=np.float64),
        "equity": np.asarray(records.equity_value, dtype=np.float64),
    }
    return _last_per_key(columns, ["ts", "account_id", "currency"])


def prices_frame(records: SampleRecords) -> pd.DataFrame:
    """Return the mark-price samples, one row per time and instrument."""
    columns = {
        "ts": np.asarray(records.price_ts, dtype=np.int64),
        "instrument_id": records.price_instrument,
        "price": np.asarray(records.price_value, dtype=np.float64),
    }
    return _last_per_key(columns, ["ts", "instrument_id"])


def positions_history_frame(records: SampleRecords) -> pd.DataFrame:
    """Return the net-position samples, one row per time, instrument and strategy."""
    columns = {
        "ts": np.asarray(records.position_ts, dtype=np.int64),
        "instrument_id": records.position_instrument,
        "strategy_id": records.position_strategy,
        "signed_qty": np.asarray(records.position_qty, dtype=np.float64),
    }
    return _last_per_key(columns, ["ts", "instrument_id", "strategy_id"])

