"""Market data from the sandbox venue over a real WebSocket: quotes, trades, and an order
book kept equal to the venue's through updates, a forced disconnect and a resync."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import pytest

from zq.adapters.binance.instruments import parse_exchange_info
from zq.adapters.binance.market_data import BinanceMarketDataClient
from zq.model.enums import AggressorSide

from .conftest import SYMBOL
from .helpers import ReferenceBook, wait_for

D = Decimal


def _normalized(levels):
    return [(p.normalize(), s.normalize()) for p, s in levels]


def _venue_levels(venue, side):
    return _normalized(venue.exchange.symbol(SYMBOL).levels(side, 1000))


@pytest.mark.asyncio
async def test_quotes_trades_and_book_follow_the_venue_through_a_reconnect(venue, http):
    (instrument,) = parse_exchange_info(await http.exchange_info([SYMBOL]), "SANDBOX")
    venue.set_levels(SYMBOL, bids=[(D("100.00"), D("1")), (D("99.50"), D("2"))], asks=[(D("100.50"), D("3"))])
    quotes, trades = [], []
    book = None

    def on_deltas(instrument_id, rows):
        book.apply(rows)

    client = BinanceMarketDataClient(
        http, venue.ws_url, on_quote=quotes.append, on_trade=trades.append, on_deltas=on_deltas,
        backoff_initial_s=0.05, rng=random.Random(1),
    )
    await client.start()
    try:
        await client.subscribe_book(instrument)
        sync = client.book(instrument.id)
        book = ReferenceBook(instrument.price_precision, sync.size_precision)
        await client.subscribe_quotes(instrument)
        await client.subscribe_trades(instrument)
        await client.websocket.wait_connected(5)

        # Diffs flow every 100 ms; the first one triggers the snapshot request.
        venue.set_levels(SYMBOL, bids=[(D("100.00"), D("1.5"))])
        await wait_for(lambda: sync.in_sync, what="the book to sync")
        venue.set_levels(SYMBOL, asks=[(D("100.50"), D("0")), (D("101.00"), D("0.25"))])
        await wait_for(lambda: book.levels(2) == _venue_levels(venue, 2), what="asks to match")
        assert book.levels(1) == _venue_levels(venue, 1) == [(D("100"), D("1.5")), (D("99.5"), D("2"))]
        assert book.levels(2) == [(D("101"), D("0.25"))]
        assert quotes and quotes[-1].ask_price.as_decimal() == D("101")

        venue.trade(SYMBOL, D("100.00"), D("0.1"), True)
        await wait_for(lambda: len(trades) == 1, what="the trade")
        assert trades[0].price.as_decimal() == D("100")
        assert trades[0].size.as_decimal() == D("0.1")
        assert trades[0].aggressor_side is AggressorSide.SELLER

        # The venue drops every connection: the client reconnects with the same streams,
        # clears the book downstream and resyncs it on a new snapshot.
        snapshots = sync.snapshot_requests
        clears = book.clears
        await venue.hub.disconnect_all()
        await wait_for(lambda: client.websocket.stats.reconnects == 1, what="the reconnect")
        assert book.clears > clears and sync.resets == 1
        venue.set_levels(SYMBOL, bids=[(D("99.00"), D("4"))])
        await wait_for(lambda: sync.in_sync and sync.snapshot_requests > snapshots, what="the resync")
        await wait_for(lambda: book.levels(1) == _venue_levels(venue, 1), what="bids after resync")
        assert book.levels(2) == _venue_levels(venue, 2)
        assert set(client.websocket.streams) == {"btcusdt@depth@100ms", "btcusdt@bookTicker", "btcusdt@trade"}
        venue.trade(SYMBOL, D("100.00"), D("0.2"), False)
        await wait_for(lambda: len(trades) == 2, what="a trade after the reconnect")
        assert trades[1].aggressor_side is AggressorSide.BUYER
        assert sync.stats.gaps == 0
    finally:
        await client.stop()


@pytest.mark.asyncio
async def test_subscribing_on_an_open_connection_sends_subscribe(venue, http):
    (instrument,) = parse_exchange_info(await http.exchange_info([SYMBOL]), "SANDBOX")
    trades, quotes = [], []
    client = BinanceMarketDataClient(http, venue.ws_url, on_trade=trades.append, on_quote=quotes.append)
    await client.start()
    try:
        await client.subscribe_trades(instrument)
        await client.websocket.wait_connected(5)
        connects = client.websocket.stats.connects
        await client.subscribe_quotes(instrument)  # SUBSCRIBE, answered on the same connection
        (connection,) = venue.hub.connections
        assert connection.streams == {"btcusdt@trade", "btcusdt@bookTicker"}
        venue.set_levels(SYMBOL, bids=[(D("100.00"), D("1"))], asks=[(D("101.00"), D("1"))])
        await wait_for(lambda: quotes, what="a quote")
        await client.unsubscribe(instrument)
        await wait_for(lambda: not connection.streams, what="UNSUBSCRIBE")
        assert client.websocket.stats.connects == connects  # no reconnect was needed
    finally:
        await client.stop()


@pytest.mark.asyncio
async def test_the_client_reconnects_until_the_venue_is_back(venue, http):
    from zq.sandbox import SandboxVenue

    from .conftest import manual_config

    (instrument,) = parse_exchange_info(await http.exchange_info([SYMBOL]), "SANDBOX")
    port = venue.port
    trades = []
    client = BinanceMarketDataClient(http, venue.ws_url, on_trade=trades.append, backoff_initial_s=0.02, backoff_max_s=0.1)
    await client.start()
    try:
        await client.subscribe_trades(instrument)
        await client.websocket.wait_connected(5)
        await venue.stop()
        await wait_for(lambda: client.websocket.stats.failed_connects >= 2, what="failed connects")
        async with SandboxVenue(manual_config(port=port)) as again:
            await wait_for(lambda: client.websocket.stats.reconnects == 1, what="the reconnect")
            again.trade(SYMBOL, D("100.00"), D("0.1"), True)
            await wait_for(lambda: trades, what="a trade on the new venue")
    finally:
        await client.stop()


def test_backoff_doubles_with_equal_jitter_and_is_capped():
    from zq.adapters.binance.websocket import BinanceWebSocketClient

    client = BinanceWebSocketClient("ws://x", lambda *a: None, backoff_initial_s=0.1, backoff_max_s=1.0, rng=random.Random(7))
    for attempt, step in enumerate([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]):
        wait = client.backoff_s(attempt)
        assert step / 2 <= wait <= step
    waits = {round(client.backoff_s(3), 6) for _ in range(20)}
    assert len(waits) > 10  # jitter: clients do not reconnect in lockstep
    assert asyncio  # keep the import used when the module grows


@pytest.mark.asyncio
async def test_a_subscription_made_while_connecting_is_sent_once_connected(venue, http):
    (instrument,) = parse_exchange_info(await http.exchange_info([SYMBOL]), "SANDBOX")
    quotes = []
    client = BinanceMarketDataClient(http, venue.ws_url, on_quote=quotes.append)
    await client.start()
    try:
        await client.subscribe_trades(instrument)  # the connection starts opening
        for _ in range(3):
            await asyncio.sleep(0)  # ... and is now in the middle of its handshake
        await client.subscribe_quotes(instrument)  # not in the URL already being opened
        await client.websocket.wait_connected(5)
        await wait_for(lambda: venue.hub.connections and next(iter(venue.hub.connections)).streams == {"btcusdt@trade", "btcusdt@bookTicker"}, what="both streams")
        assert client.websocket.stats.catch_ups == 1
        venue.set_levels(SYMBOL, bids=[(D("100.00"), D("1"))], asks=[(D("101.00"), D("1"))])
        await wait_for(lambda: quotes, what="a quote")
    finally:
        await client.stop()
