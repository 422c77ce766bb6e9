"""A real Binance capture replayed by the sandbox venue: the adapter's book, synced live
over WebSocket and REST while the market moves (and across a forced disconnect), ends
equal to the venue's book."""

from __future__ import annotations

import asyncio
import random

import pytest

from zq.adapters.binance import BinanceHttpClient, BinanceMarketDataClient, parse_exchange_info
from zq.sandbox import MarketConfig, SandboxVenue, VenueConfig

from .conftest import SYMBOL
from .helpers import ReferenceBook, wait_for


@pytest.mark.asyncio
@pytest.mark.realdata
async def test_book_synced_during_a_real_replay_equals_the_venues(market_data):
    capture = market_data / "binance" / "spot" / "btcusdt_20240808.gz"
    config = VenueConfig(market=MarketConfig(kind="replay", path=capture, speed=0, loop=False))
    async with SandboxVenue(config) as venue, BinanceHttpClient(venue.url) as http:
        (instrument,) = parse_exchange_info(await http.exchange_info([SYMBOL]), "SANDBOX")
        book: ReferenceBook | None = None

        def on_deltas(instrument_id, rows):
            assert book is not None
            book.apply(rows)

        client = BinanceMarketDataClient(
            http, venue.ws_url, on_deltas=on_deltas, snapshot_limit=5000,
            backoff_initial_s=0.02, rng=random.Random(3),
        )
        await client.start()
        try:
            await client.subscribe_book(instrument)
            sync = client.book(instrument.id)
            book = ReferenceBook(instrument.price_precision, sync.size_precision)
            replay = venue.market
            await wait_for(lambda: sync.in_sync, what="the first sync")
            assert not replay_done(venue), "the replay should still be running"
            # Halfway through, the venue drops the connection: reconnect and resync.
            await wait_for(lambda: replay.events > 6000, timeout=30, what="half the replay")
            await venue.hub.disconnect_all()
            await wait_for(lambda: client.websocket.stats.reconnects == 1, what="the reconnect")
            await wait_for(lambda: replay_done(venue), timeout=60, what="the end of the replay")
            await asyncio.sleep(0.3)  # the last 100 ms diff goes out
            await wait_for(lambda: sync.in_sync, what="the final sync")
            state = venue.exchange.symbol(SYMBOL)
            for side in (1, 2):
                venue_levels = [(p.normalize(), s.normalize()) for p, s in state.levels(side, 1000)]
                assert book.levels(side, 1000) == venue_levels
            assert sync.resets == 1 and sync.snapshot_requests >= 2
            # The replay runs flat out (~1-2 s, with the machine), so each 100 ms diff carries
            # many level changes; at least one was applied on top of each snapshot.
            assert sync.stats.diffs_applied >= sync.stats.snapshots_applied == 2
            assert sync.stats.gaps == 0
        finally:
            await client.stop()


def replay_done(venue: SandboxVenue) -> bool:
    return venue.market is not None and venue.market.passes >= 1
