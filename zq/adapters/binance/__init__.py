"""The Binance spot protocol adapter: credentials and signing, the REST client with its
rate limiter, instruments from ``exchangeInfo``, the market-data WebSocket with order-book
sync, and the user data stream.

Exports the clients, their typed answers and errors; see ``docs/live/binance-adapter.md``.
"""

from zq.adapters.binance.credentials import BinanceCredentials, CredentialsError
from zq.adapters.binance.depth import DepthSync
from zq.adapters.binance.enums import (
    BinanceEnumError,
    order_side_to_binance,
    order_type_to_binance,
    parse_liquidity_side,
    parse_order_side,
    parse_order_status,
    parse_order_type,
    parse_time_in_force,
    time_in_force_to_binance,
)
from zq.adapters.binance.errors import (
    BinanceCancelReplaceError,
    BinanceError,
    BinanceIpBannedError,
    BinanceProtocolError,
    BinanceRateLimitError,
    BinanceStreamError,
    BinanceUnknownStatusError,
)
from zq.adapters.binance.http import BinanceHttpClient, Security
from zq.adapters.binance.instruments import (
    BINANCE_VENUE,
    BinanceInstrumentError,
    parse_exchange_info,
    parse_symbol,
)
from zq.adapters.binance.limits import RateLimit, RateLimiter, RateLimitKind
from zq.adapters.binance.market_data import BinanceMarketDataClient
from zq.adapters.binance.parsing import MarketDataParser, market_size_precision
from zq.adapters.binance.schemas import (
    Account,
    AccountBalance,
    AccountTrade,
    CancelReplaceResult,
    DepthSnapshot,
    OrderFill,
    OrderResponse,
)
from zq.adapters.binance.signing import Signer, encode_params
from zq.adapters.binance.user_stream import (
    AccountPosition,
    BalanceUpdate,
    BinanceUserStream,
    ExecutionReport,
    ListenKeyExpired,
    UnknownUserEvent,
    UserEvent,
    parse_user_event,
)
from zq.adapters.binance.websocket import BinanceWebSocketClient

__all__ = [
    "BINANCE_VENUE",
    "Account",
    "AccountBalance",
    "AccountPosition",
    "AccountTrade",
    "BalanceUpdate",
    "BinanceCancelReplaceError",
    "BinanceCredentials",
    "BinanceEnumError",
    "BinanceError",
    "BinanceHttpClient",
    "BinanceInstrumentError",
    "BinanceIpBannedError",
    "BinanceMarketDataClient",
    "BinanceProtocolError",
    "BinanceRateLimitError",
    "BinanceStreamError",
    "BinanceUnknownStatusError",
    "BinanceUserStream",
    "BinanceWebSocketClient",
    "CancelReplaceResult",
    "CredentialsError",
    "DepthSnapshot",
    "DepthSync",
    "ExecutionReport",
    "ListenKeyExpired",
    "MarketDataParser",
    "OrderFill",
    "OrderResponse",
    "RateLimit",
    "RateLimitKind",
    "RateLimiter",
    "Security",
    "Signer",
    "UnknownUserEvent",
    "UserEvent",
    "encode_params",
    "market_size_precision",
    "order_side_to_binance",
    "order_type_to_binance",
    "parse_exchange_info",
    "parse_liquidity_side",
    "parse_order_side",
    "parse_order_status",
    "parse_order_type",
    "parse_symbol",
    "parse_time_in_force",
    "parse_user_event",
    "time_in_force_to_binance",
]
