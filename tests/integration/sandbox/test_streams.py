"""WebSocket streams of the sandbox venue: diff depth against /depth, bookTicker, trades,
combined streams, subscriptions, and the user data stream."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.integration.sandbox.conftest import SYMBOL, Client, d, seed_book
from zq.sandbox import SandboxVenue
from zq.sandbox.market import GeneratedMarket

pytestmark = pytest.mark.asyncio


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> Any:
    message = await ws.receive(timeout=timeout)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def receive_until(ws, predicate, timeout: float = 5.0) -> list[Any]:
    """Return the messages received up to and including the first that satisfies predicate."""
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            seen.append(await receive(ws))
            if predicate(seen[-1]):
                return seen


def apply_levels(book: dict[Decimal, Decimal], levels: list[list[str]]) -> None:
    for price, size in levels:
        if Decimal(size) == 0:
            book.pop(Decimal(price), None)
        else:
            book[Decimal(price)] = Decimal(size)


async def test_snapshot_plus_diffs_rebuild_the_venue_book(
    venue: SandboxVenue, session: aiohttp.ClientSession, client: Client
):
    market = GeneratedMarket(venue.exchange, d("60000"), levels=10, seed=5)
    state = venue.exchange.symbols[SYMBOL]
    diffs: list[dict[str, Any]] = []
    async with session.ws_connect(f"{venue.ws_url}/ws/btcusdt@depth@100ms") as ws:

        async def collect() -> None:
            while True:
                diffs.append(await receive(ws, timeout=30))

        collector = asyncio.create_task(collect())
        for _ in range(15):
            market.step()
            await asyncio.sleep(0.01)
        snapshot = (await client.request("GET", "/api/v3/depth", {"symbol": SYMBOL, "limit": 5000})).body
        for _ in range(15):
            market.step()
            await asyncio.sleep(0.01)
        final_id = state.update_id
        async with asyncio.timeout(5):
            while not diffs or diffs[-1]["u"] < final_id:
                await asyncio.sleep(0.02)
        collector.cancel()
        final = (await client.request("GET", "/api/v3/depth", {"symbol": SYMBOL, "limit": 5000})).body
    # Binance's rules for a local book: drop diffs with u <= lastUpdateId; the first applied
    # has U <= lastUpdateId + 1 <= u; each next one starts at the previous u + 1.
    last = snapshot["lastUpdateId"]
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    apply_levels(bids, snapshot["bids"])
    apply_levels(asks, snapshot["asks"])
    applied = 0
    for diff in diffs:
        assert (diff["e"], diff["s"]) == ("depthUpdate", SYMBOL)
        if diff["u"] <= last:
            continue
        if applied == 0:
            assert diff["U"] <= last + 1 <= diff["u"]
        else:
            assert diff["U"] == last + 1
        apply_levels(bids, diff["b"])
        apply_levels(asks, diff["a"])
        last = diff["u"]
        applied += 1
    assert applied >= 2
    assert last == final["lastUpdateId"] == final_id
    assert sorted(bids.items(), reverse=True) == [(Decimal(p), Decimal(q)) for p, q in final["bids"]]
    assert sorted(asks.items()) == [(Decimal(p), Decimal(q)) for p, q in final["asks"]]


async def test_combined_stream_wraps_book_ticker_and_trades(
    venue: SandboxVenue, session: aiohttp.ClientSession
):
    url = f"{venue.ws_url}/stream?streams=btcusdt@bookTicker/btcusdt@trade"
    async with session.ws_connect(url) as ws:
        await asyncio.sleep(0.05)
        seed_book(venue)
        ticker = await receive(ws)
        assert ticker["stream"] == "btcusdt@bookTicker"
        assert ticker["data"] == {
            "u": 1, "s": SYMBOL, "b": "59990.00000000", "B": "1.00000000",
            "a": "60000.00000000", "A": "0.50000000",
        }
        venue.trade(SYMBOL, d("60000"), d("0.25"), buyer_is_maker=False)
        trade = await receive(ws)
        assert trade["stream"] == "btcusdt@trade"
        data = trade["data"]
        assert (data["e"], data["s"], data["p"], data["q"], data["m"]) == (
            "trade", SYMBOL, "60000.00000000", "0.25000000", False
        )


async def test_subscribe_and_list_subscriptions(venue: SandboxVenue, session: aiohttp.ClientSession):
    async with session.ws_connect(f"{venue.ws_url}/ws/btcusdt@trade") as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 1}))
        assert await receive(ws) == {"result": None, "id": 1}
        await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        assert await receive(ws) == {"result": ["btcusdt@bookTicker", "btcusdt@trade"], "id": 2}
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": 3}))
        reply = await receive(ws)
        assert reply["id"] == 3 and reply["error"]["code"] == 2
        seed_book(venue)
        ticker = await receive(ws)
        assert "stream" not in ticker and ticker["s"] == SYMBOL


async def test_unknown_stream_is_refused_before_the_upgrade(venue: SandboxVenue, session: aiohttp.ClientSession):
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await session.ws_connect(f"{venue.ws_url}/ws/btcusdt@kline_1m")
    assert caught.value.status == 400


async def test_user_stream_reports_new_trade_cancel_and_balances(
    venue: SandboxVenue, session: aiohttp.ClientSession, client: Client
):
    seed_book(venue)
    key = (await client.request("POST", "/api/v3/userDataStream", key=True)).body["listenKey"]
    assert (await client.request("POST", "/api/v3/userDataStream", key=True)).body["listenKey"] == key
    async with session.ws_connect(f"{venue.ws_url}/ws/{key}") as ws:
        await asyncio.sleep(0.05)
        await client.order(side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.4",
                           price="60050", newClientOrderId="u-1")
        new, position = await receive(ws), await receive(ws)
        assert (new["e"], new["x"], new["X"], new["c"], new["q"], new["p"], new["w"]) == (
            "executionReport", "NEW", "NEW", "u-1", "0.40000000", "60050.00000000", True
        )
        assert position["e"] == "outboundAccountPosition"
        assert position["B"] == [{"a": "BTC", "f": "0.60000000", "l": "0.40000000"}]
        venue.trade(SYMBOL, d("60050"), d("0.1"), buyer_is_maker=False)
        fill, position = await receive(ws), await receive(ws)
        # 0.1 at 60050 = 6005 USDT, commission 6.005 USDT.
        assert (fill["x"], fill["X"], fill["l"], fill["L"], fill["z"], fill["n"], fill["N"], fill["m"]) == (
            "TRADE", "PARTIALLY_FILLED", "0.10000000", "60050.00000000", "0.10000000",
            "6.00500000", "USDT", True,
        )
        assert fill["t"] > 0
        assert {b["a"]: (b["f"], b["l"]) for b in position["B"]} == {
            "BTC": ("0.60000000", "0.30000000"),
            "USDT": ("105998.99500000", "0.00000000"),
        }
        await client.request("DELETE", "/api/v3/order",
                             {"symbol": SYMBOL, "origClientOrderId": "u-1", "newClientOrderId": "k-1"},
                             signed=True)
        cancel = await receive(ws)
        assert (cancel["x"], cancel["X"], cancel["c"], cancel["C"], cancel["z"]) == (
            "CANCELED", "CANCELED", "k-1", "u-1", "0.10000000"
        )
        assert (await client.request("PUT", "/api/v3/userDataStream", {"listenKey": key}, key=True)).body == {}
        closed = await client.request("DELETE", "/api/v3/userDataStream", {"listenKey": key}, key=True)
        assert closed.body == {}
        messages = await receive_until_close(ws)
        assert [m["e"] for m in messages] == ["outboundAccountPosition"]
    bad = await client.request("PUT", "/api/v3/userDataStream", {"listenKey": key}, key=True)
    assert bad.body["code"] == -1125


async def receive_until_close(ws: aiohttp.ClientWebSocketResponse) -> list[Any]:
    messages = []
    async with asyncio.timeout(5):
        while True:
            message = await ws.receive()
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.CLOSING):
                return messages
            messages.append(json.loads(message.data))


async def test_listen_key_past_its_time_gets_listen_key_expired(session: aiohttp.ClientSession):
    from tests.integration.sandbox.conftest import API_KEY, SECRET, manual_config

    async with SandboxVenue(manual_config(listen_key_ttl=0.3)) as venue:
        client = Client(session, venue.url, API_KEY, SECRET)
        key = (await client.request("POST", "/api/v3/userDataStream", key=True)).body["listenKey"]
        async with session.ws_connect(f"{venue.ws_url}/ws/{key}") as ws:
            messages = await receive_until_close(ws)
        assert [(m["e"], m["listenKey"]) for m in messages] == [("listenKeyExpired", key)]
        gone = await client.request("PUT", "/api/v3/userDataStream", {"listenKey": key}, key=True)
        assert gone.body["code"] == -1125
