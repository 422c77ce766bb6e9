"""The Binance spot protocol adapter: credentials and signing, the REST client with its
rate limiter, instruments from ``exchangeInfo``, the market-data WebSocket with order-book
sync, and the user data stream.

Exports the clients and their typed answers; see ``docs/live/binance-adapter.md``.
"""

from zq.adapters.binance.credentials import BinanceCredentials, CredentialsError
from zq.adapters.binance.errors import (
    BinanceError,
    BinanceIpBannedError,
    BinanceProtocolError,
    BinanceRateLimitError,
    BinanceUnknownStatusError,
)
from zq.adapters.binance.http import BinanceHttpClient, Security
from zq.adapters.binance.limits import RateLimit, RateLimiter, RateLimitKind
from zq.adapters.binance.signing import Signer, encode_params

__all__ = [
    "BinanceCredentials",
    "BinanceError",
    "BinanceHttpClient",
    "BinanceIpBannedError",
    "BinanceProtocolError",
    "BinanceRateLimitError",
    "BinanceUnknownStatusError",
    "CredentialsError",
    "RateLimit",
    "RateLimitKind",
    "RateLimiter",
    "Security",
    "Signer",
    "encode_params",
]
