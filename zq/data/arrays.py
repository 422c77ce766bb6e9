"""Columnar layouts of market data: numpy structured dtypes, and their conversion to objects.

Loaders produce these arrays in chunks; the catalog stores them; order books apply
``DELTA_DTYPE`` arrays in compiled code without creating a Python object per row. Prices
and sizes are raw fixed-point integers at the instrument's precision (value × 10**precision),
timestamps are UNIX nanoseconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from zq.model.data import Bar, BarType, OrderBookDelta, QuoteTick, TradeTick
from zq.model.enums import AggressorSide, BookAction, OrderSide
from zq.model.identifiers import InstrumentId, TradeId
from zq_core.fixed import Price, Quantity

__all__ = [
    "BAR_DTYPE",
    "DELTA_DTYPE",
    "QUOTE_DTYPE",
    "TRADE_DTYPE",
    "bars_to_objects",
    "deltas_to_objects",
    "quotes_to_objects",
    "trades_to_objects",
]

#: One order-book change (``OrderBookDelta``): 56 bytes, aligned. ``action`` is a
#: ``BookAction``, ``side`` an ``OrderSide`` (1 bid, 2 ask), ``flags`` ``BookFlags``.
DELTA_DTYPE = np.dtype(
    [
        ("ts_event", "<i8"),
        ("ts_init", "<i8"),
        ("price", "<i8"),
        ("size", "<i8"),
        ("order_id", "<u8"),
        ("sequence", "<u8"),
        ("action", "u1"),
        ("side", "u1"),
        ("flags", "u1"),
        ("_pad", "V5"),
    ]
)

#: One trade (``TradeTick``). ``trade_id`` is the venue's numeric id (0 when it has none).
TRADE_DTYPE = np.dtype(
    [
        ("ts_event", "<i8"),
        ("ts_init", "<i8"),
        ("price", "<i8"),
        ("size", "<i8"),
        ("trade_id", "<u8"),
        ("aggressor_side", "u1"),
        ("_pad", "V7"),
    ]
)

#: One top-of-book quote (``QuoteTick``).
QUOTE_DTYPE = np.dtype(
    [
        ("ts_event", "<i8"),
        ("ts_init", "<i8"),
        ("bid_price", "<i8"),
        ("ask_price", "<i8"),
        ("bid_size", "<i8"),
        ("ask_size", "<i8"),
    ]
)

#: One bar (``Bar``); ``ts_event`` is the bar's close.
BAR_DTYPE = np.dtype(
    [
        ("ts_event", "<i8"),
        ("ts_init", "<i8"),
        ("open", "<i8"),
        ("high", "<i8"),
        ("low", "<i8"),
        ("close", "<i8"),
        ("volume", "<i8"),
    ]
)

_Array = npt.NDArray[np.void]


def deltas_to_objects(
    deltas: _Array, instrument_id: InstrumentId, price_precision: int, size_precision: int
) -> Iterator[OrderBookDelta]:
    """Yield an ``OrderBookDelta`` per row of a ``DELTA_DTYPE`` array."""
    for row in deltas.tolist():
        ts_event, ts_init, price, size, order_id, sequence, action, side, flags, _ = row
        yield OrderBookDelta(
            instrument_id,
            BookAction(action),
            OrderSide(side),
            Price.from_raw(price, price_precision),
            Quantity.from_raw(size, size_precision),
            order_id,
            flags,
            sequence,
            ts_event,
            ts_init,
        )


def trades_to_objects(
    trades: _Array, instrument_id: InstrumentId, price_precision: int, size_precision: int
) -> Iterator[TradeTick]:
    """Yield a ``TradeTick`` per row of a ``TRADE_DTYPE`` array."""
    for ts_event, ts_init, price, size, trade_id, aggressor, _ in trades.tolist():
        yield TradeTick(
            instrument_id,
            Price.from_raw(price, price_precision),
            Quantity.from_raw(size, size_precision),
            AggressorSide(aggressor),
            TradeId(str(trade_id)),
            ts_event,
            ts_init,
        )


def quotes_to_objects(
    quotes: _Array, instrument_id: InstrumentId, price_precision: int, size_precision: int
) -> Iterator[QuoteTick]:
    """Yield a ``QuoteTick`` per row of a ``QUOTE_DTYPE`` array."""
    for ts_event, ts_init, bid, ask, bid_size, ask_size in quotes.tolist():
        yield QuoteTick(
            instrument_id,
            Price.from_raw(bid, price_precision),
            Price.from_raw(ask, price_precision),
            Quantity.from_raw(bid_size, size_precision),
            Quantity.from_raw(ask_size, size_precision),
            ts_event,
            ts_init,
        )


def bars_to_objects(
    bars: _Array, bar_type: BarType, price_precision: int, size_precision: int
) -> Iterator[Bar]:
    """Yield a ``Bar`` per row of a ``BAR_DTYPE`` array."""
    for ts_event, ts_init, open_, high, low, close, volume in bars.tolist():
        yield Bar(
            bar_type,
            Price.from_raw(open_, price_precision),
            Price.from_raw(high, price_precision),
            Price.from_raw(low, price_precision),
            Price.from_raw(close, price_precision),
            Quantity.from_raw(volume, size_precision),
            ts_event,
            ts_init,
        )
