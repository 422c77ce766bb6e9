"""The domain model: identifiers, fixed-point values, instruments, market data, orders,
events and commands, and their serialization."""

from zq.model import enums, events, identifiers
from zq.model.commands import CancelAllOrders, CancelOrder, ModifyOrder, QueryOrder, SubmitOrder
from zq.model.currency import Currency
from zq.model.data import (
    Bar,
    BarSpecification,
    BarType,
    BookFlags,
    BookLevel,
    InstrumentStatus,
    OrderBookDelta,
    OrderBookDepth,
    QuoteTick,
    TradeTick,
)
from zq.model.enums import *  # noqa: F403
from zq.model.events import *  # noqa: F403
from zq.model.identifiers import *  # noqa: F403
from zq.model.instruments import (
    CryptoPerpetual,
    CurrencyPair,
    Equity,
    FuturesContract,
    Instrument,
    InstrumentError,
)
from zq.model.orders import (
    InvalidOrder,
    InvalidStateTransition,
    LimitIfTouchedOrder,
    LimitOrder,
    MarketIfTouchedOrder,
    MarketOrder,
    Order,
    StopLimitOrder,
    StopMarketOrder,
)
from zq_core.fixed import Money, Price, Quantity

__all__ = [
    *enums.__all__,
    *events.__all__,
    *identifiers.__all__,
    "Bar",
    "BarSpecification",
    "BarType",
    "BookFlags",
    "BookLevel",
    "CancelAllOrders",
    "CancelOrder",
    "CryptoPerpetual",
    "Currency",
    "CurrencyPair",
    "Equity",
    "FuturesContract",
    "Instrument",
    "InstrumentError",
    "InstrumentStatus",
    "InvalidOrder",
    "InvalidStateTransition",
    "LimitIfTouchedOrder",
    "LimitOrder",
    "MarketIfTouchedOrder",
    "MarketOrder",
    "ModifyOrder",
    "Money",
    "Order",
    "OrderBookDelta",
    "OrderBookDepth",
    "Price",
    "Quantity",
    "QueryOrder",
    "QuoteTick",
    "StopLimitOrder",
    "StopMarketOrder",
    "SubmitOrder",
    "TradeTick",
]
