"""Enumerations of the domain model.

They are ``IntEnum``s so that the compiled core can use them as plain integers and msgspec
encodes them as small integers; ``from_str`` parses names case-insensitively for configs.
"""

from __future__ import annotations

from enum import IntEnum, unique
from typing import Self

__all__ = [
    "AccountType",
    "AggregationSource",
    "AggressorSide",
    "AssetClass",
    "BarAggregation",
    "BookAction",
    "BookType",
    "CurrencyType",
    "Environment",
    "LiquiditySide",
    "MarketStatus",
    "OmsType",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PositionSide",
    "PriceType",
    "TimeInForce",
    "TriggerType",
]


class _ZqEnum(IntEnum):
    @classmethod
    def from_str(cls, value: str) -> Self:
        """Parse a member name, case-insensitively; the error lists the valid names."""
        try:
            return cls[value.strip().upper()]
        except KeyError:
            valid = ", ".join(member.name for member in cls)
            raise ValueError(
                f"invalid {cls.__name__} {value!r}; expected one of: {valid}"
            ) from None


@unique
class OrderSide(_ZqEnum):
    NO_ORDER_SIDE = 0
    BUY = 1
    SELL = 2

    @property
    def opposite(self) -> OrderSide:
        return {OrderSide.BUY: OrderSide.SELL, OrderSide.SELL: OrderSide.BUY}.get(
            self, OrderSide.NO_ORDER_SIDE
        )


@unique
class OrderType(_ZqEnum):
    MARKET = 1
    LIMIT = 2
    STOP_MARKET = 3
    STOP_LIMIT = 4
    MARKET_IF_TOUCHED = 5
    LIMIT_IF_TOUCHED = 6


@unique
class TimeInForce(_ZqEnum):
    GTC = 1
    IOC = 2
    FOK = 3
    GTD = 4
    DAY = 5


@unique
class OrderStatus(_ZqEnum):
    INITIALIZED = 1
    DENIED = 2
    SUBMITTED = 3
    ACCEPTED = 4
    REJECTED = 5
    CANCELED = 6
    EXPIRED = 7
    TRIGGERED = 8
    PENDING_UPDATE = 9
    PENDING_CANCEL = 10
    PARTIALLY_FILLED = 11
    FILLED = 12


@unique
class TriggerType(_ZqEnum):
    """Which price a stop or if-touched order watches."""

    DEFAULT = 0
    LAST_PRICE = 1
    BID_ASK = 2
    MID_POINT = 3
    MARK_PRICE = 4


@unique
class LiquiditySide(_ZqEnum):
    NO_LIQUIDITY_SIDE = 0
    MAKER = 1
    TAKER = 2


@unique
class AggressorSide(_ZqEnum):
    NO_AGGRESSOR = 0
    BUYER = 1
    SELLER = 2


@unique
class BookAction(_ZqEnum):
    ADD = 1
    UPDATE = 2
    DELETE = 3
    CLEAR = 4
    FILL = 5  # a resting order traded: reduce it by the size (market-by-order books)


@unique
class BookType(_ZqEnum):
    L1_MBP = 1  # top of book
    L2_MBP = 2  # aggregated price levels
    L3_MBO = 3  # market by order


@unique
class PriceType(_ZqEnum):
    BID = 1
    ASK = 2
    MID = 3
    LAST = 4


@unique
class BarAggregation(_ZqEnum):
    TICK = 1
    VOLUME = 2
    VALUE = 3
    MILLISECOND = 4
    SECOND = 5
    MINUTE = 6
    HOUR = 7
    DAY = 8


@unique
class AggregationSource(_ZqEnum):
    EXTERNAL = 1  # bars delivered by the venue or the data file
    INTERNAL = 2  # bars aggregated by zq from ticks


@unique
class MarketStatus(_ZqEnum):
    PRE_OPEN = 1
    OPEN = 2
    PAUSE = 3
    HALT = 4
    CLOSE = 5
    NOT_AVAILABLE = 6


@unique
class PositionSide(_ZqEnum):
    FLAT = 0
    LONG = 1
    SHORT = 2


@unique
class OmsType(_ZqEnum):
    """Position bookkeeping: one net position per instrument, or one per opening order."""

    NETTING = 1
    HEDGING = 2


@unique
class AccountType(_ZqEnum):
    CASH = 1
    MARGIN = 2


@unique
class CurrencyType(_ZqEnum):
    FIAT = 1
    CRYPTO = 2
    COMMODITY = 3


@unique
class AssetClass(_ZqEnum):
    CRYPTOCURRENCY = 1
    EQUITY = 2
    INDEX = 3
    COMMODITY = 4
    FX = 5
    INTEREST_RATE = 6


@unique
class Environment(_ZqEnum):
    BACKTEST = 1
    LIVE = 2
