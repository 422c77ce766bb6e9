"""Fixtures of the live node suite: a sandbox venue on loopback, a signed reader of its REST
API, and small scripted strategies.

The reader signs requests itself (HMAC-SHA256 of the query string, as Binance documents it),
independently of the adapter under test, so the venue's state it reads is the venue's own.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest_asyncio
from yarl import URL

from zq.adapters.binance import BinanceCredentials
from zq.live.config import LiveVenueConfig, TradingNodeConfig
from zq.model.data import QuoteTick
from zq.model.enums import OrderSide
from zq.model.events import OrderAccepted
from zq.model.identifiers import InstrumentId
from zq.sandbox import AccountConfig, MarketConfig, SandboxVenue, VenueConfig
from zq.strategy import Strategy

API_KEY = "node-test-key"
SECRET = "node-test-secret"
SYMBOL = "BTCUSDT"
BTCUSDT = InstrumentId("BTCUSDT.BINANCE")
CREDENTIALS = {"BINANCE": BinanceCredentials(API_KEY, SECRET)}


def sandbox_config(**overrides: Any) -> VenueConfig:
    """A generated BTCUSDT market moving every 10 ms; 100,000 USDT and 1 BTC."""
    options: dict[str, Any] = {
        "accounts": (
            AccountConfig(API_KEY, SECRET, {"USDT": Decimal("100000"), "BTC": Decimal("1")}),
        ),
        "market": MarketConfig(kind="generated", interval=0.01, seed=3),
        "orders_per_10s": 1000,
    }
    options.update(overrides)
    return VenueConfig(**options)


def node_config(venue: SandboxVenue, **overrides: Any) -> TradingNodeConfig:
    """A node trading BTCUSDT on ``venue`` (as a remote venue: the test owns the sandbox)."""
    venue_options: dict[str, Any] = {
        "venue": "remote",
        "rest_url": venue.url,
        "ws_url": venue.ws_url,
        "symbols": [SYMBOL],
    }
    venue_options.update(overrides.pop("venue_options", {}))
    options: dict[str, Any] = {
        "venues": [LiveVenueConfig(**venue_options)],
        "heartbeat_interval_s": 0.5,
        "stop_timeout_s": 5.0,
    }
    options.update(overrides)
    return TradingNodeConfig(**options)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VenueReader:
    """Signed reads of the venue's REST API: what the venue says it holds."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def request(self, method: str, path: str, **params: Any) -> Any:
        params["timestamp"] = int(time.time() * 1000)
        query = urlencode(params)
        signature = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
        url = URL(f"{self.base}{path}?{query}&signature={signature}", encoded=True)
        async with self.session.request(method, url, headers={"X-MBX-APIKEY": API_KEY}) as response:
            body = await response.json(content_type=None)
            assert response.status == 200, (path, response.status, body)
            return body

    async def all_orders(self) -> list[dict[str, Any]]:
        return list(await self.request("GET", "/api/v3/allOrders", symbol=SYMBOL, limit=1000))

    async def open_orders(self) -> list[dict[str, Any]]:
        return list(await self.request("GET", "/api/v3/openOrders", symbol=SYMBOL))

    async def trades(self) -> list[dict[str, Any]]:
        return list(await self.request("GET", "/api/v3/myTrades", symbol=SYMBOL, limit=1000))

    async def balances(self) -> dict[str, Decimal]:
        account = await self.request("GET", "/api/v3/account")
        return {
            entry["asset"]: Decimal(entry["free"]) + Decimal(entry["locked"])
            for entry in account["balances"]
        }

    async def place(self, **params: Any) -> dict[str, Any]:
        return dict(await self.request("POST", "/api/v3/order", symbol=SYMBOL, **params))


@pytest_asyncio.fixture
async def venue() -> AsyncIterator[SandboxVenue]:
    async with SandboxVenue(sandbox_config()) as running:
        yield running


@pytest_asyncio.fixture
async def reader(venue: SandboxVenue) -> AsyncIterator[VenueReader]:
    async with aiohttp.ClientSession() as session:
        yield VenueReader(session, venue.url)


class RestingOrders(Strategy):  # type: ignore[type-arg]
    """On the first quotes, place ``count`` limit orders far from the market (10 % away, half
    bids, half asks, 0.001 BTC each), one per quote; call ``on_all_accepted`` once all are
    accepted."""

    def __init__(self, count: int = 2, on_all_accepted: Any = None) -> None:
        super().__init__(strategy_id="Resting-001", order_id_tag="001")
        self.count = count
        self.placed = 0
        self.accepted = 0
        self.on_all_accepted = on_all_accepted

    def on_start(self) -> None:
        self.subscribe_quotes(BTCUSDT)

    def on_quote(self, quote: QuoteTick) -> None:
        if self.placed >= self.count:
            return
        instrument = self.cache.instrument(BTCUSDT)
        assert instrument is not None
        buy = self.placed % 2 == 0
        if buy:
            price = quote.bid_price.as_decimal() * Decimal("0.9")
        else:
            price = quote.ask_price.as_decimal() * Decimal("1.1")
        order = self.order_factory.limit(
            BTCUSDT,
            OrderSide.BUY if buy else OrderSide.SELL,
            instrument.make_qty(Decimal("0.001")),
            instrument.make_price(price.quantize(Decimal("0.01"))),
        )
        self.placed += 1
        self.submit_order(order)

    def on_order_accepted(self, event: OrderAccepted) -> None:
        self.accepted += 1
        if self.accepted == self.count and self.on_all_accepted is not None:
            self.on_all_accepted()
