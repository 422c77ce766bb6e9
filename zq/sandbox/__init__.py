"""The sandbox venue: a local exchange on loopback speaking the Binance spot protocol.

REST (api/v3) on a lean HTTP/1.1 protocol and WebSocket streams on aiohttp (one port),
orders matched by the compiled matching core against a generated or replayed market,
accounts with balances, rate limits and fault injection. Exports ``SandboxVenue`` and its
configuration types.
"""

from zq.sandbox.config import (
    AccountConfig,
    FaultConfig,
    MarketConfig,
    SymbolConfig,
    VenueConfig,
    default_account,
    default_symbol,
)
from zq.sandbox.errors import BinanceError
from zq.sandbox.exchange import SandboxExchange
from zq.sandbox.faults import FaultInjector
from zq.sandbox.server import SandboxVenue

__all__ = [
    "AccountConfig",
    "BinanceError",
    "FaultConfig",
    "FaultInjector",
    "MarketConfig",
    "SandboxExchange",
    "SandboxVenue",
    "SymbolConfig",
    "VenueConfig",
    "default_account",
    "default_symbol",
]
