"""The sandbox venue replaying a real Binance spot capture (ZQ_DATA)."""

from __future__ import annotations

import asyncio
from decimal import ROUND_DOWN, Decimal

import aiohttp
import pytest

from tests.integration.sandbox.conftest import API_KEY, SECRET, SYMBOL, Client, manual_config
from tests.integration.sandbox.test_streams import apply_levels, receive
from zq.data.loaders.binance import BinanceCaptureLoader
from zq.sandbox import MarketConfig, SandboxVenue
from zq.sandbox.market import ReplayMarket
from zq_core.book import L2Book

pytestmark = [pytest.mark.asyncio, pytest.mark.realdata]

STEP = Decimal("0.00001")


def reference_book(path) -> tuple[L2Book, int]:
    """The capture's final book and trade count, read by the loader alone."""
    loader = BinanceCaptureLoader(path, market="spot", price_precision=2, size_precision=8)
    book = L2Book("BTCUSDT.BINANCE", 2, 8)
    trades = 0
    for chunk in loader.chunks():
        book.apply_batch(chunk.deltas)
        trades += len(chunk.trades)
    return book, trades


async def test_replay_streams_and_depth_match_the_capture(market_data, session: aiohttp.ClientSession):
    path = market_data / "binance" / "spot" / "btcusdt_20240808.gz"
    config = manual_config(market=MarketConfig(kind="replay", path=path, speed=0, loop=False))
    venue = SandboxVenue(config)
    assert isinstance(venue.market, ReplayMarket)
    async with venue:
        client = Client(session, venue.url, API_KEY, SECRET)
        async with session.ws_connect(f"{venue.ws_url}/ws/btcusdt@depth@100ms") as ws:
            snapshot = (await client.request("GET", "/api/v3/depth", {"symbol": SYMBOL, "limit": 5000})).body
            diffs = []
            async with asyncio.timeout(60):
                while venue.market.passes == 0:
                    await asyncio.sleep(0.05)
                final_id = venue.exchange.symbols[SYMBOL].update_id
                while not diffs or diffs[-1]["u"] < final_id:
                    diffs.append(await receive(ws, timeout=10))
        final = (await client.request("GET", "/api/v3/depth", {"symbol": SYMBOL, "limit": 5000})).body
        # After the replay the book takes a market buy at its best ask.
        best_ask, best_size = final["asks"][0]
        quantity = min(Decimal(best_size), Decimal("0.001")).quantize(Decimal("0.00001"))
        order = (await client.order(side="BUY", type="MARKET", quantity=str(quantity))).body
        assert order["fills"][0]["price"] == best_ask
        trades = venue.exchange.symbols[SYMBOL].next_trade_id - 1 - len(order["fills"])
    book, capture_trades = reference_book(path)
    assert trades == capture_trades
    # Snapshot + diffs (Binance's rules) rebuild the venue's final book ...
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    apply_levels(bids, snapshot["bids"])
    apply_levels(asks, snapshot["asks"])
    last = snapshot["lastUpdateId"]
    for diff in diffs:
        if diff["u"] <= last:
            continue
        assert diff["U"] <= last + 1 <= diff["u"]
        apply_levels(bids, diff["b"])
        apply_levels(asks, diff["a"])
        last = diff["u"]
    assert last == final["lastUpdateId"]
    assert sorted(bids.items(), reverse=True) == [(Decimal(p), Decimal(q)) for p, q in final["bids"]]
    assert sorted(asks.items()) == [(Decimal(p), Decimal(q)) for p, q in final["asks"]]
    # ... which is the book the loader builds from the capture on its own, with sizes
    # rounded down to the 0.00001 step (levels under a step dropped).
    for side, levels in (("bids", book.bids(5000)), ("asks", book.asks(5000))):
        stepped = [(p.as_decimal(), q.as_decimal().quantize(STEP, ROUND_DOWN)) for p, q in levels]
        assert [(Decimal(p), Decimal(q)) for p, q in final[side]] == [
            (p, q) for p, q in stepped if q > 0
        ]
