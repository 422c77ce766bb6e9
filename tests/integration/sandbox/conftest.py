"""Fixtures of the sandbox venue suite: a venue on a free loopback port and signed clients.

The client signs requests itself (HMAC-SHA256 of the query string followed by the body, as
Binance documents it), independently of the venue's verification code.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from zq.sandbox import AccountConfig, MarketConfig, SandboxVenue, VenueConfig

API_KEY = "test-key"
SECRET = "test-secret"
OTHER_KEY = "other-key"
OTHER_SECRET = "other-secret"
SYMBOL = "BTCUSDT"


def d(text: str) -> Decimal:
    return Decimal(text)


def manual_config(**overrides: Any) -> VenueConfig:
    """A venue whose market moves only when the test moves it."""
    accounts = (
        AccountConfig(API_KEY, SECRET, {"USDT": d("100000"), "BTC": d("1")}),
        AccountConfig(OTHER_KEY, OTHER_SECRET, {"USDT": d("1000")}),
    )
    options: dict[str, Any] = {"accounts": accounts, "market": MarketConfig(kind="manual")}
    options.update(overrides)
    return VenueConfig(**options)


class Reply:
    """Status, JSON body and headers of one response."""

    def __init__(self, status: int, body: Any, headers: Any) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body!r})"


class Client:
    """A minimal Binance spot REST client (what an adapter does, written for the tests)."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, api_key: str, secret: str
    ) -> None:
        self.session = session
        self.base = base
        self.api_key = api_key
        self.secret = secret

    def sign(self, payload: str) -> str:
        return hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        signed: bool = False,
        key: bool = False,
        in_body: bool = False,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> Reply:
        params = dict(params or {})
        headers = {}
        if signed or key:
            headers["X-MBX-APIKEY"] = self.api_key
        if signed:
            params["timestamp"] = timestamp if timestamp is not None else int(time.time() * 1000)
        query = urlencode(params)
        if signed:
            sig = signature if signature is not None else self.sign(query)
            query = f"{query}&signature={sig}" if query else f"signature={sig}"
        url = f"{self.base}{path}"
        data = None
        if in_body:
            data = query
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif query:
            url = f"{url}?{query}"
        # encoded=True: send the query exactly as signed (yarl would otherwise requote it).
        target = URL(url, encoded=True)
        async with self.session.request(method, target, data=data, headers=headers) as response:
            body = await response.json(content_type=None)
            return Reply(response.status, body, response.headers)

    async def order(self, **params: Any) -> Reply:
        params.setdefault("symbol", SYMBOL)
        return await self.request("POST", "/api/v3/order", params, signed=True)


@pytest_asyncio.fixture
async def venue() -> AsyncIterator[SandboxVenue]:
    async with SandboxVenue(manual_config()) as running:
        yield running


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def client(venue: SandboxVenue, session: aiohttp.ClientSession) -> Client:
    return Client(session, venue.url, API_KEY, SECRET)


def seed_book(venue: SandboxVenue) -> None:
    """Bids 59990 (1.0), 59980 (2.0); asks 60000 (0.5), 60010 (1.0), 60020 (2.0)."""
    venue.set_levels(
        SYMBOL,
        bids=[(d("59990"), d("1")), (d("59980"), d("2"))],
        asks=[(d("60000"), d("0.5")), (d("60010"), d("1")), (d("60020"), d("2"))],
    )
