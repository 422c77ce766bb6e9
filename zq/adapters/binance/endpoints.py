"""Binance spot endpoints, their request weights, headers and error codes, in one place.

Weights are those Binance documents for each endpoint of the spot REST API
(``/api/v3``); where a weight depends on a parameter, a function computes it.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ERROR_INVALID_LISTEN_KEY",
    "ERROR_TIMESTAMP_OUTSIDE_RECV_WINDOW",
    "ERROR_TOO_MANY_ORDERS",
    "ERROR_TOO_MANY_REQUESTS",
    "ERROR_UNKNOWN_ORDER",
    "HEADER_API_KEY",
    "HEADER_ORDER_COUNT_PREFIX",
    "HEADER_RETRY_AFTER",
    "HEADER_USED_WEIGHT_PREFIX",
    "depth_weight",
    "open_orders_weight",
]

# -- REST paths ------------------------------------------------------------------------------

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

# -- WebSocket paths ---------------------------------------------------------------------------

COMBINED_STREAM: Final = "/stream"  # /stream?streams=a/b: messages wrapped as {stream, data}
RAW_STREAM: Final = "/ws"  # /ws/<name>: messages unwrapped (the user data stream)

# -- request weights ---------------------------------------------------------------------------

WEIGHT_TIME: Final = 1
WEIGHT_EXCHANGE_INFO: Final = 20
WEIGHT_NEW_ORDER: Final = 1
WEIGHT_QUERY_ORDER: Final = 4
WEIGHT_CANCEL_ORDER: Final = 1
WEIGHT_CANCEL_REPLACE: Final = 1
WEIGHT_CANCEL_OPEN_ORDERS: Final = 1
WEIGHT_ALL_ORDERS: Final = 20
WEIGHT_MY_TRADES: Final = 20
WEIGHT_ACCOUNT: Final = 20
WEIGHT_LISTEN_KEY: Final = 2


def depth_weight(limit: int) -> int:
    """Return the weight of ``GET /api/v3/depth`` for ``limit`` levels."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def open_orders_weight(symbol: str | None) -> int:
    """Return the weight of ``GET /api/v3/openOrders`` (one symbol, or every symbol)."""
    return 6 if symbol else 80


# -- headers -----------------------------------------------------------------------------------

HEADER_API_KEY: Final = "X-MBX-APIKEY"
HEADER_RETRY_AFTER: Final = "Retry-After"
#: ``X-MBX-USED-WEIGHT-1M``: weight used by this IP in the current interval.
HEADER_USED_WEIGHT_PREFIX: Final = "X-MBX-USED-WEIGHT-"
#: ``X-MBX-ORDER-COUNT-10S``, ``X-MBX-ORDER-COUNT-1D``: orders placed by this account.
HEADER_ORDER_COUNT_PREFIX: Final = "X-MBX-ORDER-COUNT-"

# -- error codes ---------------------------------------------------------------------------------

ERROR_TOO_MANY_REQUESTS: Final = -1003
ERROR_TOO_MANY_ORDERS: Final = -1015
ERROR_TIMESTAMP_OUTSIDE_RECV_WINDOW: Final = -1021
ERROR_UNKNOWN_ORDER: Final = -2013  # "Order does not exist."
ERROR_CANCEL_REJECTED: Final = -2011  # "Unknown order sent." on cancel
ERROR_INVALID_LISTEN_KEY: Final = -1125  # "This listenKey does not exist."
ERROR_CANCEL_REPLACE_PARTIAL: Final = -2021  # one half of a cancel-replace failed
ERROR_CANCEL_REPLACE_FAILED: Final = -2022  # both halves failed (or the new one was not tried)
