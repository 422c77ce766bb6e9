"""Market sources that move the sandbox's books: a generated random walk or a capture replay."""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zq.data.loaders.binance import BinanceCaptureLoader
from zq.model.data import BookFlags
from zq.sandbox.exchange import SandboxExchange, SymbolState

__all__ = ["GeneratedMarket", "ReplayMarket"]

_LAST = int(BookFlags.LAST)


class GeneratedMarket:
    """A seeded random walk of every symbol's book, with trades at the touch.

    Each ``step()`` moves the best bid by -1, 0 or +1 tick (the ask is one tick above),
    redraws the sizes of a few levels, and with probability 0.3 prints a trade at the best
    bid or ask. Book changes go through ``SandboxExchange.set_raw_levels`` (one update id per
    step and symbol), so the depth streams carry them like any other update.

    Parameters
    ----------
    exchange : SandboxExchange
        The venue's exchange.
    start_price : Decimal
        The first best bid of every symbol.
    levels : int
        Levels kept on each side.
    seed : int
        The seed of the walk.
    """

    def __init__(
        self, exchange: SandboxExchange, start_price: Decimal, levels: int = 20, seed: int = 1
    ) -> None:
        if levels < 1:
            raise ValueError(f"levels must be positive, got {levels}")
        self.exchange = exchange
        self.levels = levels
        self._rng = random.Random(seed)
        self._books: dict[str, tuple[int, dict[int, int], dict[int, int]]] = {}
        for name, state in exchange.symbols.items():
            tick = state.raw_price(state.config.tick_size)
            best = state.raw_price(start_price) // tick * tick
            self._books[name] = (best, {}, {})
            self._redraw(state, best, full=True)

    def step(self) -> None:
        """Move every symbol's book one step."""
        rng = self._rng
        for name, state in self.exchange.symbols.items():
            best = self._books[name][0]
            tick = state.raw_price(state.config.tick_size)
            best += rng.choice((-1, 0, 0, 1)) * tick
            self._redraw(state, best, full=False)
            if rng.random() < 0.3:
                bids, asks = self._books[name][1:]
                buyer_is_maker = rng.random() < 0.5
                price = max(bids) if buyer_is_maker else min(asks)
                step = state.step_raw
                size = (bids if buyer_is_maker else asks)[price] // rng.randint(2, 10)
                size = max(step, size - size % step)
                self.exchange.trade(name, state.price(price), state.size(size), buyer_is_maker)

    async def run(self, interval: float) -> None:
        """Step every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            self.step()

    def _redraw(self, state: SymbolState, best: int, *, full: bool) -> None:
        rng = self._rng
        tick = state.raw_price(state.config.tick_size)
        step = state.raw_size(state.config.step_size)
        _, old_bids, old_asks = self._books[state.symbol]
        bids = {best - i * tick: old_bids.get(best - i * tick, 0) for i in range(self.levels)}
        asks = {
            best + (i + 1) * tick: old_asks.get(best + (i + 1) * tick, 0)
            for i in range(self.levels)
        }
        for side in (bids, asks):
            for price in side:
                if full or side[price] == 0 or rng.random() < 0.2:
                    side[price] = rng.randint(1, 20_000) * step
        self._books[state.symbol] = (best, bids, asks)
        changed_bids = [
            (p, bids.get(p, 0))
            for p in sorted(set(bids) | set(old_bids))
            if bids.get(p, 0) != old_bids.get(p, 0)
        ]
        changed_asks = [
            (p, asks.get(p, 0))
            for p in sorted(set(asks) | set(old_asks))
            if asks.get(p, 0) != old_asks.get(p, 0)
        ]
        self.exchange.set_raw_levels(state.symbol, changed_bids, changed_asks)


class ReplayMarket:
    """Replay a Binance spot raw capture into one symbol, in (scaled) real time or by steps.

    Diffs and snapshots become book updates (a snapshot clears the book first), trades are
    printed as market trades; bookTicker lines are not needed, the venue derives its own
    from the book. :meth:`run` keeps the capture's timing, divided by ``speed`` (0: no
    waiting). A *paused* market (``MarketConfig.paused``) is not run: it moves only when
    told, one event per :meth:`step` or up to the next trade per :meth:`step_through_trade`,
    so a test can let a client react to each event before the market moves on.

    Parameters
    ----------
    exchange : SandboxExchange
        The venue's exchange; it must trade the capture's symbol.
    path : str | Path
        The capture (``zq.data.loaders.binance`` reads it).
    symbol : str
        The venue symbol it feeds (the capture's own symbol by default is checked).
    speed : float
        Replay speed relative to real time.
    loop : bool
        Start again from the top at the end.
    """

    def __init__(
        self,
        exchange: SandboxExchange,
        path: str | Path,
        symbol: str,
        speed: float = 1.0,
        loop: bool = True,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must not be negative, got {speed}")
        self.exchange = exchange
        self.state = exchange.symbol(symbol)
        self.path = Path(path)
        self.speed = speed
        self.loop = loop
        self.events = 0
        self.passes = 0
        self._steps: Iterator[tuple[int, int, Any]] | None = None
        self.finished = False  # a stepped replay reached the end of the capture
        #: The capture time (``ts_init``) of the last event applied: where the market is.
        self.last_ts: int | None = None

    def _loader(self) -> BinanceCaptureLoader:
        return BinanceCaptureLoader(
            self.path,
            market="spot",
            price_precision=self.state.config.price_precision,
            size_precision=self.state.config.size_precision,
            chunk_bytes=1 << 20,
        )

    def events_of(self, chunk: Any) -> Iterator[tuple[int, int, Any]]:
        """Yield ``(ts_init, kind, rows)`` of one chunk, merged by time: kind 0 a book
        update (its delta rows), 1 a trade (one row)."""
        deltas: npt.NDArray[Any] = chunk.deltas
        groups: list[tuple[int, int, Any]] = []
        if len(deltas):
            ends = np.flatnonzero(deltas["flags"] & _LAST) + 1
            start = 0
            for end in ends.tolist():
                groups.append((int(deltas["ts_init"][start]), 0, deltas[start:end]))
                start = end
        trades: list[tuple[int, int, Any]] = [
            (int(row["ts_init"]), 1, row) for row in chunk.trades
        ]
        yield from heapq.merge(groups, trades, key=lambda event: (event[0], event[1]))

    def step(self) -> tuple[int, int] | None:
        """Apply the next event of the capture; return its ``(ts_init, kind)`` (kind 0 a
        book update, 1 a trade), or None at the end. Decoding happens on the caller's
        thread, a chunk at a time."""
        if self._steps is None:
            self._steps = self._events()
        event = next(self._steps, None)
        if event is None:
            self.finished = True
            return None
        ts, kind, rows = event
        self.apply(kind, rows)
        self.last_ts = ts
        return ts, kind

    def step_through_trade(self) -> int | None:
        """Apply book updates up to and including the next trade; return the trade's
        ``ts_init``, or None when the capture ends first (the updates before the end are
        applied)."""
        while (event := self.step()) is not None:
            if event[1] == 1:
                return event[0]
        return None

    def _events(self) -> Iterator[tuple[int, int, Any]]:
        loader = self._loader()
        for chunk in loader.chunks():
            self._check_symbol(loader)
            yield from self.events_of(chunk)

    def _check_symbol(self, loader: BinanceCaptureLoader) -> None:
        if loader.symbol is not None and loader.symbol != self.state.symbol:
            raise ValueError(
                f"{self.path}: the capture is of {loader.symbol}, not {self.state.symbol}"
            )

    def apply(self, kind: int, rows: Any) -> None:
        """Apply one event of ``events_of``."""
        symbol = self.state.symbol
        if kind == 0:
            self.exchange.apply_rows(symbol, rows)
        else:
            self.exchange.trade(
                symbol,
                self.state.price(int(rows["price"])),
                self.state.size(int(rows["size"])),
                buyer_is_maker=int(rows["aggressor_side"]) == 2,
            )
        self.events += 1

    async def run(self) -> None:
        """Replay from the top of the capture until the end (or forever with ``loop``), in
        time; a paused market can be started this way once its clients are ready."""
        while True:
            await self._pass()
            self.passes += 1
            if not self.loop:
                return

    async def _pass(self) -> None:
        loader = self._loader()
        chunks = loader.chunks()
        origin: int | None = None
        wall = time.monotonic()
        applied = 0
        while True:
            # Decoding a chunk is blocking work: keep it off the loop.
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                return
            self._check_symbol(loader)
            for ts, kind, rows in self.events_of(chunk):
                if origin is None:
                    origin = ts
                if self.speed > 0:
                    due = wall + (ts - origin) / 1e9 / self.speed
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif applied % 200 == 0:
                    await asyncio.sleep(0)
                self.apply(kind, rows)
                self.last_ts = ts
                applied += 1
