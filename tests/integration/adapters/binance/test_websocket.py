"""The WebSocket client's ping/pong against real loopback peers: a venue that answers
pings keeps the connection; a peer that stops answering is dropped and reconnected to."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import WSMsgType, web

from zq.adapters.binance.websocket import BinanceWebSocketClient

from .helpers import wait_for


@pytest.mark.asyncio
async def test_heartbeat_keeps_a_quiet_connection_to_the_venue(venue):
    client = BinanceWebSocketClient(venue.ws_url, lambda *a: None, heartbeat_s=0.1)
    await client.start()
    try:
        await client.subscribe(["btcusdt@trade"])
        await client.wait_connected(5)
        await asyncio.sleep(0.6)  # six heartbeats with no market data: pongs keep it up
        assert client.is_connected
        assert client.stats.connects == 1 and client.stats.reconnects == 0
    finally:
        await client.stop()


@pytest.mark.asyncio
async def test_a_peer_that_stops_answering_pings_is_dropped_and_reconnected():
    # A stream server that never answers pings (autoping off, pings ignored).
    connections = 0

    async def stream(request: web.Request) -> web.WebSocketResponse:
        nonlocal connections
        connections += 1
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.CLOSE:
                break
        return ws

    app = web.Application()
    app.router.add_get("/stream", stream)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    client = BinanceWebSocketClient(
        f"ws://127.0.0.1:{port}", lambda *a: None, heartbeat_s=0.1, backoff_initial_s=0.01
    )
    await client.start()
    try:
        await client.subscribe(["btcusdt@trade"])
        await wait_for(lambda: client.stats.reconnects >= 1, what="a reconnect after missing pongs")
        assert connections >= 2
    finally:
        await client.stop()
        await runner.cleanup()
