"""A paused sandbox replay (``MarketConfig(paused=True)``): the capture moves only when told.

The expected book and trades come from the capture read by the loader alone, into a plain
dict book, not from the venue.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from tests.integration.sandbox.conftest import SYMBOL, manual_config
from tests.integration.sandbox.test_streams import receive
from zq.data.loaders.binance import BinanceCaptureLoader
from zq.sandbox import MarketConfig, SandboxExchange, SandboxVenue, SymbolConfig, default_account
from zq.sandbox.market import ReplayMarket

CAPTURE = Path("binance") / "spot" / "btcusdt_20240808.gz"
STEP = Decimal("0.00000001")  # the capture's own size precision: no rounding in the venue


def capture(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The capture's delta rows and trade rows, read by the loader alone."""
    loader = BinanceCaptureLoader(path, market="spot", price_precision=2, size_precision=8)
    chunks = list(loader.chunks())
    return (
        np.concatenate([c.deltas for c in chunks]),
        np.concatenate([c.trades for c in chunks]),
    )


def book_at(deltas: np.ndarray, ts: int) -> dict[int, dict[int, int]]:
    """Side -> raw price -> raw size after every delta received at or before ``ts``."""
    book: dict[int, dict[int, int]] = {1: {}, 2: {}}
    for row in deltas[deltas["ts_init"] <= ts]:
        action, side, price, size = (int(row[k]) for k in ("action", "side", "price", "size"))
        if action == 4:
            book = {1: {}, 2: {}}
        elif action == 3 or size == 0:
            book[side].pop(price, None)
        else:
            book[side][price] = size
    return book


def test_only_a_replay_can_be_paused() -> None:
    with pytest.raises(ValueError, match="only a replay market can be paused, not a 'generated'"):
        MarketConfig(kind="generated", paused=True)


@pytest.mark.realdata
@pytest.mark.asyncio
async def test_paused_replay_moves_only_when_stepped_and_prints_the_capture(
    market_data: Path, session: aiohttp.ClientSession
) -> None:
    path = market_data / CAPTURE
    deltas, trades = capture(path)
    config = manual_config(
        symbols=(SymbolConfig(step_size=STEP, min_qty=STEP),),
        market=MarketConfig(kind="replay", path=path, paused=True, loop=False),
    )
    venue = SandboxVenue(config)
    market = venue.market
    assert isinstance(market, ReplayMarket)
    async with venue:
        assert venue.market_task is None
        async with session.ws_connect(f"{venue.ws_url}/ws/btcusdt@trade") as ws:
            await asyncio.sleep(0.2)  # a running replay would have moved by now
            state = venue.exchange.symbols[SYMBOL]
            assert (market.events, state.update_id, market.last_ts) == (0, 0, None)
            assert venue.hub.subscribers("btcusdt@trade") == 1

            # One step: the capture's first event, a book update (kind 0) or a trade (1),
            # the earlier one, book updates first at the same time.
            first = market.step()
            assert first == min((int(deltas["ts_init"][0]), 0), (int(trades["ts_init"][0]), 1))
            assert state.update_id == (1 if first[1] == 0 else 0)
            printed = first[1]
            if printed:
                assert Decimal((await receive(ws))["p"]) == Decimal(int(trades["price"][0])) / 100

            # Up to each next trade: it goes out on the stream, and the book is then the
            # capture's at that time.
            for trade in trades[printed : printed + 20]:
                ts = market.step_through_trade()
                assert ts == int(trade["ts_init"]) == market.last_ts
                message = await receive(ws)
                assert Decimal(message["p"]) == Decimal(int(trade["price"])).scaleb(-2)
                assert Decimal(message["q"]) == Decimal(int(trade["size"])).scaleb(-8)
            assert ts is not None
            expected = book_at(deltas, ts)
            assert len(expected[1]) > 100 and len(expected[2]) > 100  # past the snapshot
            for side in (1, 2):
                venue_levels = {p: s for p, s in state.all_levels(side)}
                assert venue_levels == expected[side]


@pytest.mark.realdata
def test_stepping_to_the_end_applies_every_event_once(market_data: Path) -> None:
    path = market_data / CAPTURE
    deltas, trades = capture(path)
    exchange = SandboxExchange([SymbolConfig(step_size=STEP, min_qty=STEP)], [default_account()])
    market = ReplayMarket(exchange, path, SYMBOL, loop=False)
    printed = 0
    while market.step_through_trade() is not None:
        printed += 1
    assert market.finished
    assert market.step() is None
    assert printed == len(trades)
    # Book updates: one per group of deltas ending with the LAST flag.
    updates = int(np.count_nonzero(deltas["flags"] & 128))
    assert market.events == printed + updates
    assert exchange.symbols[SYMBOL].update_id == updates
    final = book_at(deltas, int(deltas["ts_init"][-1]))
    for side in (1, 2):
        assert dict(exchange.symbols[SYMBOL].all_levels(side)) == final[side]


@pytest.mark.asyncio
async def test_step_endpoint_refuses_a_market_that_is_not_a_paused_replay(
    session: aiohttp.ClientSession,
) -> None:
    async with SandboxVenue(manual_config()) as venue:
        response = await session.post(f"{venue.url}/sandbox/market/step")
        assert response.status == 409
        assert await response.json() == {"error": "the market is not a paused replay"}


@pytest.mark.realdata
@pytest.mark.asyncio
async def test_step_endpoint_moves_a_paused_replay_and_checks_its_body(
    market_data: Path, session: aiohttp.ClientSession
) -> None:
    path = market_data / CAPTURE
    _, trades = capture(path)
    config = manual_config(market=MarketConfig(kind="replay", path=path, paused=True, loop=False))
    async with SandboxVenue(config) as venue:
        step = f"{venue.url}/sandbox/market/step"
        for body, error in (
            ({"trades": 0}, "trades must be a positive integer, got 0"),
            ({"events": "2"}, "events must be a positive integer, got '2'"),
            ({"trades": 1, "events": 1}, 'the body must be {"trades": n} or {"events": n}'),
            ([1], 'the body must be {"trades": n} or {"events": n}'),
        ):
            async with session.post(step, json=body) as response:
                assert (response.status, await response.json()) == (400, {"error": error})
        assert venue.exchange.symbols[SYMBOL].next_trade_id == 1  # nothing moved
        async with session.post(step) as response:  # one trade by default
            first = await response.json()
        assert first["last_ts"] == int(trades["ts_init"][0])
        async with session.post(step, json={"trades": 5}) as response:
            sixth = await response.json()
        assert sixth["last_ts"] == int(trades["ts_init"][5])
        assert venue.exchange.symbols[SYMBOL].next_trade_id == 7
        async with session.post(step, json={"events": 1}) as response:
            assert (await response.json())["events"] == sixth["events"] + 1
        assert not sixth["finished"]


def test_zq_venue_paused_needs_a_replay() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "zq", "venue", "--paused"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "zq venue: --paused needs --replay" in result.stderr
