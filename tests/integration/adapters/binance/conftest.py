"""The sandbox venue on a free loopback port, and the adapter's clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest_asyncio

from zq.adapters.binance import BinanceCredentials, BinanceHttpClient
from zq.sandbox import AccountConfig, MarketConfig, SandboxVenue, VenueConfig

API_KEY = "adapter-test-key"
SECRET = "adapter-test-secret-0123456789"
SYMBOL = "BTCUSDT"


def manual_config(**overrides: Any) -> VenueConfig:
    """A venue whose market moves only when the test moves it."""
    options: dict[str, Any] = {
        "accounts": (
            AccountConfig(API_KEY, SECRET, {"USDT": Decimal("100000"), "BTC": Decimal("1")}),
        ),
        "market": MarketConfig(kind="manual"),
    }
    options.update(overrides)
    return VenueConfig(**options)


@pytest_asyncio.fixture
async def venue() -> AsyncIterator[SandboxVenue]:
    async with SandboxVenue(manual_config()) as running:
        yield running


@pytest_asyncio.fixture
async def http(venue: SandboxVenue) -> AsyncIterator[BinanceHttpClient]:
    async with BinanceHttpClient(venue.url, BinanceCredentials(API_KEY, SECRET)) as client:
        await client.sync_time()
        yield client
