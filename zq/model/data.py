"""Market data: quotes, trades, bars, order-book deltas and depth, instrument status.

Every item carries ``ts_event`` (when it happened at the venue) and ``ts_init`` (when zq
created the object), both UNIX nanoseconds. Items are frozen ``msgspec.Struct`` values,
so they are cheap to create and serialize (see :mod:`zq.model.serialization`), except
``TradeTick``: the compiled ``zq_core.data.TradeTick``, as immutable and serializable, and
made by the backtest replay loop in one allocation.
"""

from __future__ import annotations

import itertools
from enum import IntFlag

import msgspec

from zq.model.enums import (
    AggregationSource,
    AggressorSide,
    BarAggregation,
    BookAction,
    MarketStatus,
    OrderSide,
    PriceType,
)
from zq.model.identifiers import InstrumentId, TradeId
from zq_core.data import TradeTick, _register_types
from zq_core.fixed import Price, Quantity

__all__ = [
    "Bar",
    "BarSpecification",
    "BarType",
    "BookFlags",
    "BookLevel",
    "InstrumentStatus",
    "OrderBookDelta",
    "OrderBookDepth",
    "QuoteTick",
    "TradeTick",
]


class QuoteTick(msgspec.Struct, frozen=True, gc=False, tag=True):
    """Best bid and ask with their sizes."""

    instrument_id: InstrumentId
    bid_price: Price
    ask_price: Price
    bid_size: Quantity
    ask_size: Quantity
    ts_event: int
    ts_init: int


# TradeTick is compiled (zq_core.data: one allocation holding raw fields and the price, with
# the size, aggressor side and trade id made on access); it hands out these types, and zq_core
# never imports zq.
_register_types(tuple(AggressorSide(value) for value in range(len(AggressorSide))), TradeId)

_TIME_AGGREGATIONS = {
    BarAggregation.MILLISECOND,
    BarAggregation.SECOND,
    BarAggregation.MINUTE,
    BarAggregation.HOUR,
    BarAggregation.DAY,
}
_NANOS = {
    BarAggregation.MILLISECOND: 1_000_000,
    BarAggregation.SECOND: 1_000_000_000,
    BarAggregation.MINUTE: 60_000_000_000,
    BarAggregation.HOUR: 3_600_000_000_000,
    BarAggregation.DAY: 86_400_000_000_000,
}


class BarSpecification(msgspec.Struct, frozen=True, gc=False):
    """How a bar is aggregated: ``step`` units of ``aggregation`` over ``price_type`` prices."""

    step: int
    aggregation: BarAggregation
    price_type: PriceType

    def __post_init__(self) -> None:
        if self.step <= 0:
            raise ValueError(f"BarSpecification step must be positive, got {self.step}")

    @property
    def is_time_aggregated(self) -> bool:
        """Whether bars close on the clock (rather than on ticks, volume or value)."""
        return self.aggregation in _TIME_AGGREGATIONS

    @property
    def interval_ns(self) -> int:
        """The bar length in nanoseconds; only for time-aggregated bars."""
        if not self.is_time_aggregated:
            raise ValueError(f"{self} is not time-aggregated, it has no fixed interval")
        return self.step * _NANOS[self.aggregation]

    def __str__(self) -> str:
        return f"{self.step}-{self.aggregation.name}-{self.price_type.name}"


class BarType(msgspec.Struct, frozen=True, gc=False):
    """An instrument, a specification and a source: ``ESH4.GLBX-1-MINUTE-LAST-EXTERNAL``."""

    instrument_id: InstrumentId
    spec: BarSpecification
    source: AggregationSource = AggregationSource.EXTERNAL

    @classmethod
    def from_str(cls, value: str) -> BarType:
        """Parse ``INSTRUMENT-STEP-AGGREGATION-PRICE_TYPE[-SOURCE]``."""
        parts = value.rsplit("-", 4)
        if len(parts) == 5 and parts[4].upper() not in AggregationSource.__members__:
            parts = value.rsplit("-", 3)
        if len(parts) not in (4, 5):
            raise ValueError(
                f"invalid BarType {value!r}; "
                "expected INSTRUMENT-STEP-AGGREGATION-PRICE_TYPE[-SOURCE]"
            )
        try:
            step = int(parts[1])
        except ValueError:
            raise ValueError(
                f"invalid BarType {value!r}: step {parts[1]!r} is not an integer"
            ) from None
        source = (
            AggregationSource.from_str(parts[4]) if len(parts) == 5 else AggregationSource.EXTERNAL
        )
        spec = BarSpecification(
            step, BarAggregation.from_str(parts[2]), PriceType.from_str(parts[3])
        )
        return cls(InstrumentId(parts[0]), spec, source)

    def __str__(self) -> str:
        return f"{self.instrument_id}-{self.spec}-{self.source.name}"


class Bar(msgspec.Struct, frozen=True, gc=False, tag=True):
    """An OHLCV bar. ``ts_event`` is the bar's close: the bar is known only once it closed."""

    bar_type: BarType
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Quantity
    ts_event: int
    ts_init: int

    def __post_init__(self) -> None:
        if self.high < self.low or not (
            self.low <= self.open <= self.high and self.low <= self.close <= self.high
        ):
            raise ValueError(
                f"inconsistent bar {self.bar_type} at {self.ts_event}: open={self.open} "
                f"high={self.high} low={self.low} close={self.close}"
            )


class BookFlags(IntFlag):
    """Flags on book deltas (the Databento convention, so DBN records map one to one)."""

    NONE = 0
    LAST = 128  # last delta of one venue event: the book is consistent after it
    TOB = 64  # top-of-book message
    SNAPSHOT = 32  # part of a snapshot, not an incremental update
    MBP = 16  # aggregated price level, not an individual order
    BAD_TS_RECV = 8
    MAYBE_BAD_BOOK = 4


class OrderBookDelta(msgspec.Struct, frozen=True, gc=False, tag=True):
    """One change to a book: add, update, delete an order or level, or clear the book.

    ``order_id`` identifies an order in a market-by-order (L3) book; in price-level
    books it is 0. ``sequence`` is the venue's sequence number.
    """

    instrument_id: InstrumentId
    action: BookAction
    side: OrderSide
    price: Price
    size: Quantity
    order_id: int
    flags: int
    sequence: int
    ts_event: int
    ts_init: int


class BookLevel(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One aggregated price level of a depth snapshot."""

    price: Price
    size: Quantity
    count: int = 0


class OrderBookDepth(msgspec.Struct, frozen=True, gc=False, tag=True):
    """A snapshot of the top levels of a book, best first on each side."""

    instrument_id: InstrumentId
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    sequence: int
    ts_event: int
    ts_init: int

    def __post_init__(self) -> None:
        for side, levels in (("bid", self.bids), ("ask", self.asks)):
            for previous, level in itertools.pairwise(levels):
                ordered = (
                    previous.price > level.price if side == "bid" else previous.price < level.price
                )
                if not ordered:
                    raise ValueError(
                        f"depth snapshot of {self.instrument_id} at {self.ts_event}: {side} levels "
                        f"not strictly ordered best first ({previous.price} then {level.price})"
                    )


class InstrumentStatus(msgspec.Struct, frozen=True, gc=False, tag=True):
    """A change of an instrument's trading status (open, halt, close...)."""

    instrument_id: InstrumentId
    status: MarketStatus
    ts_event: int
    ts_init: int
    reason: str | None = None
