"""The paths the sandbox venue serves and their Binance request weights."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACCOUNT",
    "ALL_ORDERS",
    "CANCEL_REPLACE",
    "DEPTH",
    "EXCHANGE_INFO",
    "FAULTS",
    "MARKET_STEP",
    "MY_TRADES",
    "OPEN_ORDERS",
    "ORDER",
    "PING",
    "STREAM_COMBINED",
    "STREAM_RAW",
    "TIME",
    "USER_DATA_STREAM",
    "WEIGHTS",
    "depth_weight",
    "open_orders_weight",
]

PING: Final = "/api/v3/ping"
TIME: Final = "/api/v3/time"
EXCHANGE_INFO: Final = "/api/v3/exchangeInfo"
DEPTH: Final = "/api/v3/depth"
ORDER: Final = "/api/v3/order"
CANCEL_REPLACE: Final = "/api/v3/order/cancelReplace"
OPEN_ORDERS: Final = "/api/v3/openOrders"
ALL_ORDERS: Final = "/api/v3/allOrders"
MY_TRADES: Final = "/api/v3/myTrades"
ACCOUNT: Final = "/api/v3/account"
USER_DATA_STREAM: Final = "/api/v3/userDataStream"
STREAM_RAW: Final = "/ws/{streams:.*}"  # /ws/<stream>/<stream>..., or /ws/<listenKey>
STREAM_COMBINED: Final = "/stream"  # /stream?streams=<stream>/<stream>...
FAULTS: Final = "/sandbox/faults"  # the admin endpoints (not Binance)
MARKET_STEP: Final = "/sandbox/market/step"  # moves a paused replay

#: Request weight of (method, path); DEPTH and GET OPEN_ORDERS depend on parameters.
WEIGHTS: Final = {
    ("GET", PING): 1,
    ("GET", TIME): 1,
    ("GET", EXCHANGE_INFO): 20,
    ("POST", ORDER): 1,
    ("GET", ORDER): 4,
    ("DELETE", ORDER): 1,
    ("POST", CANCEL_REPLACE): 1,
    ("DELETE", OPEN_ORDERS): 1,
    ("GET", ALL_ORDERS): 20,
    ("GET", MY_TRADES): 20,
    ("GET", ACCOUNT): 20,
    ("POST", USER_DATA_STREAM): 2,
    ("PUT", USER_DATA_STREAM): 2,
    ("DELETE", USER_DATA_STREAM): 2,
}


def depth_weight(limit: int) -> int:
    """Return the weight of GET /api/v3/depth with ``limit``."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def open_orders_weight(with_symbol: bool) -> int:
    """Return the weight of GET /api/v3/openOrders (one symbol, or all of them)."""
    return 6 if with_symbol else 80
