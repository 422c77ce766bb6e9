"""A live order book kept in sync from the diff-depth stream and REST snapshots.

Binance's procedure ("How to manage a local order book correctly", spot): open the diff
stream and buffer its events; fetch a snapshot (``GET /api/v3/depth``); if the snapshot is
older than the first buffered event (``lastUpdateId < U``), fetch again; drop the events
it covers (``u <= lastUpdateId``); the first event applied must bracket it
(``U <= lastUpdateId + 1 <= u``); each later event must continue the previous one
(``U == previous u + 1``), otherwise the book is out of sync and is rebuilt from a new
snapshot.

The rules themselves are those of the capture loader
(:class:`zq.data.loaders.binance_sync.BookSync`), so recorded and live books follow
exactly the same code. :class:`DepthSync` adds what live needs: it fetches a snapshot
when one is needed (after the first diff, after a gap, after a reconnect), fetches again
when a snapshot is refused as too old, and turns what the rules emit into ``DELTA_DTYPE``
arrays handed to a callback:

- a diff: one row per level, ``UPDATE`` (or ``DELETE`` for a zero size), ``sequence`` the
  diff's ``u``;
- a snapshot: a ``CLEAR`` row then ``ADD`` rows, all flagged ``SNAPSHOT``;
- a gap or a reconnect: one ``CLEAR`` row flagged ``MAYBE_BAD_BOOK``, so a downstream book
  is emptied rather than wrong until the next snapshot.

The last row of each diff, snapshot or clear carries ``BookFlags.LAST``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from zq.adapters.binance.errors import BinanceError, BinanceStreamError
from zq.adapters.binance.parsing import decode_depth, market_size_precision, parse_levels
from zq.adapters.binance.schemas import DepthSnapshot
from zq.data.arrays import DELTA_DTYPE
from zq.data.loaders.binance_sync import (
    EMIT_DIFF,
    EMIT_SNAPSHOT,
    BinanceMarket,
    BookSync,
    Emission,
    GapKind,
    Levels,
    SyncCounters,
    SyncGap,
    SyncPhase,
)
from zq.model.data import BookFlags
from zq.model.enums import BookAction, OrderSide
from zq.model.instruments import Instrument

__all__ = ["DepthSync"]

_log = logging.getLogger("zq.adapters.binance")

_NS_PER_MS: Final = 1_000_000
_LAST: Final = np.uint8(BookFlags.LAST)
_SNAPSHOT: Final = int(BookFlags.SNAPSHOT)
_MAYBE_BAD: Final = int(BookFlags.MAYBE_BAD_BOOK)

_Array = npt.NDArray[np.void]


class DepthSync:
    """Keep one symbol's L2 book in sync; hand its deltas to ``on_deltas``.

    Parameters
    ----------
    instrument
        The book's instrument (id, precisions, raw symbol).
    fetch_snapshot
        Returns a fresh REST snapshot (``BinanceHttpClient.depth`` bound to the symbol).
    on_deltas
        Called with each ``DELTA_DTYPE`` array, in the order a book must apply them.
    max_buffered
        Diffs kept while waiting for a snapshot (the oldest are dropped beyond it).
    retry_delay_s
        Wait before fetching again after a refused or failed snapshot (doubling, capped
        at 30 times it).
    clock_ns
        The local clock stamping ``ts_init`` of snapshots.
    size_precision
        The precision of level sizes; default
        :func:`~zq.adapters.binance.parsing.market_size_precision` (Binance's books hold
        sizes finer than the order step). Prices are at the tick's precision.
    """

    def __init__(
        self,
        instrument: Instrument,
        fetch_snapshot: Callable[[], Awaitable[DepthSnapshot]],
        on_deltas: Callable[[_Array], None],
        *,
        max_buffered: int = 10_000,
        retry_delay_s: float = 0.25,
        clock_ns: Callable[[], int] = time.time_ns,
        size_precision: int | None = None,
    ) -> None:
        self.instrument = instrument
        self.stream = f"{instrument.raw_symbol.lower()}@depth"
        self._fetch_snapshot = fetch_snapshot
        self._on_deltas = on_deltas
        self._clock_ns = clock_ns
        self._price_precision = instrument.price_precision
        self._size_precision = (
            market_size_precision(instrument) if size_precision is None else size_precision
        )
        self.retry_delay_s = retry_delay_s
        self.stats = SyncCounters()
        self.gaps: list[SyncGap] = []
        self.snapshot_requests = 0
        self.snapshot_failures = 0
        self.resets = 0
        self.malformed = 0  # malformed diffs or snapshots, each followed by a resync
        self._max_buffered = max_buffered
        self._messages = 0
        self._sync = self._new_sync()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def _new_sync(self) -> BookSync:
        return BookSync(BinanceMarket.SPOT, None, self._max_buffered, self.stats, self.stream)

    # -- state -----------------------------------------------------------------------------

    @property
    def phase(self) -> SyncPhase:
        """Where the sync stands (waiting for a snapshot, awaiting the first diff, synced)."""
        return self._sync.phase

    @property
    def update_id(self) -> int | None:
        """The last update id applied to the book (None while waiting for a snapshot)."""
        return self._sync.update_id

    @property
    def size_precision(self) -> int:
        """The precision of the sizes in the deltas (prices: the instrument's)."""
        return self._size_precision

    @property
    def in_sync(self) -> bool:
        """Whether the book downstream is complete: a snapshot was applied and no gap found
        since (the next diff may still reveal one; ``phase`` says whether a diff has
        confirmed the chain)."""
        return self._sync.phase is not SyncPhase.WAITING_FOR_SNAPSHOT

    # -- input -----------------------------------------------------------------------------

    def on_diff(self, payload: bytes, ts_init: int) -> None:
        """Take one diff-depth message (the ``data`` object's JSON) received at ``ts_init``.

        Raises
        ------
        BinanceStreamError
            If the message or one of its levels is malformed, or is for another symbol.
        """
        message = decode_depth(payload, self.stream)
        if message.symbol != self.instrument.raw_symbol:
            raise BinanceStreamError(
                self.stream,
                f"a diff for another symbol (expected {self.instrument.raw_symbol})",
                "s",
                message.symbol,
            )
        self._messages += 1
        record = Levels(
            self._messages,
            ts_init,
            message.event_time * _NS_PER_MS,
            message.first_update_id,
            message.final_update_id,
            None,
            bytes(message.bids),
            bytes(message.asks),
        )
        self._sync.on_diff(record, ts_init)
        self._drain()

    def reset(self, ts_init: int | None = None) -> None:
        """Start over after the stream broke (a reconnect): clear downstream and resync.

        Diffs may have been missed while disconnected, so the chain cannot be trusted.
        """
        self.resets += 1
        was_live = self._sync.phase is not SyncPhase.WAITING_FOR_SNAPSHOT
        self._sync = self._new_sync()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        if was_live:
            now = self._clock_ns() if ts_init is None else ts_init
            self._on_deltas(_clear_rows(now, now))

    async def close(self) -> None:
        """Stop fetching snapshots."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # -- snapshots -------------------------------------------------------------------------

    def _ensure_snapshot(self) -> None:
        if (
            self._closed
            or self._sync.phase is not SyncPhase.WAITING_FOR_SNAPSHOT
            or not self._sync.buffer
            or (self._task is not None and not self._task.done())
        ):
            return
        self._task = asyncio.get_running_loop().create_task(
            self._resync(), name=f"zq-binance-snapshot-{self.stream}"
        )

    async def _resync(self) -> None:
        delay = self.retry_delay_s
        sync = self._sync
        while (
            not self._closed and sync is self._sync and sync.phase is SyncPhase.WAITING_FOR_SNAPSHOT
        ):
            self.snapshot_requests += 1
            try:
                snapshot = await self._fetch_snapshot()
            except BinanceError as error:
                self.snapshot_failures += 1
                _log.warning("%s: snapshot request failed (%s); retrying", self.stream, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_delay_s * 30)
                continue
            if sync is not self._sync:  # reset while the request was in flight
                return
            now = self._clock_ns()
            record = Levels(
                self._messages,
                now,
                now,
                snapshot.last_update_id,
                snapshot.last_update_id,
                None,
                bytes(snapshot.bids),
                bytes(snapshot.asks),
                snapshot=True,
            )
            sync.on_snapshot(record)
            refused = any(gap.kind is GapKind.STALE_SNAPSHOT for gap in sync.gaps)
            try:
                self._drain()
            except BinanceStreamError:
                _log.exception("%s: malformed snapshot or buffered diff; resyncing", self.stream)
                return  # reset: the next diff asks for a new snapshot
            if refused and sync.phase is SyncPhase.WAITING_FOR_SNAPSHOT:
                # Binance: a snapshot older than the first buffered diff: fetch again.
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_delay_s * 30)

    # -- output ----------------------------------------------------------------------------

    def _drain(self) -> None:
        sync = self._sync
        if sync.gaps:
            self.gaps.extend(sync.gaps)
            sync.gaps = []
        if sync.emissions:
            emissions, sync.emissions = sync.emissions, []
            try:
                deltas = self._build(emissions)
            except BinanceStreamError:
                # The rules took the malformed diff or snapshot as applied: a book without
                # it would be wrong. Clear downstream and start over from a new snapshot.
                self.malformed += 1
                self.reset()
                raise
            if len(deltas):
                self._on_deltas(deltas)
        self._ensure_snapshot()

    def _build(self, emissions: list[Emission]) -> _Array:
        parts: list[_Array] = []
        for kind, record, ts_init, flags in emissions:
            if kind in (EMIT_DIFF, EMIT_SNAPSHOT):
                snapshot = kind == EMIT_SNAPSHOT
                names = ("bids", "asks") if snapshot else ("b", "a")
                bid_prices, bid_sizes = parse_levels(
                    record.bids, self._price_precision, self._size_precision, self.stream, names[0]
                )
                ask_prices, ask_sizes = parse_levels(
                    record.asks, self._price_precision, self._size_precision, self.stream, names[1]
                )
                n_bids, n_asks = len(bid_prices), len(ask_prices)
                lead = 1 if snapshot else 0
                rows = np.zeros(lead + n_bids + n_asks, dtype=DELTA_DTYPE)
                if not len(rows):
                    continue
                rows["ts_event"] = record.ts_event
                rows["ts_init"] = ts_init
                rows["sequence"] = record.final_id
                rows["price"][lead:] = np.concatenate((bid_prices, ask_prices))
                sizes = np.concatenate((bid_sizes, ask_sizes))
                rows["size"][lead:] = sizes
                rows["side"][lead : lead + n_bids] = OrderSide.BUY
                rows["side"][lead + n_bids :] = OrderSide.SELL
                if snapshot:
                    rows["action"][0] = BookAction.CLEAR
                    rows["action"][1:] = BookAction.ADD
                    rows["flags"] = _SNAPSHOT
                else:
                    rows["action"] = np.where(sizes == 0, BookAction.DELETE, BookAction.UPDATE)
                rows["flags"][-1] |= _LAST
                parts.append(rows)
            else:
                parts.append(_clear_rows(record.ts_event, ts_init, flags))
        if not parts:
            return np.zeros(0, dtype=DELTA_DTYPE)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _clear_rows(ts_event: int, ts_init: int, flags: int = _MAYBE_BAD) -> _Array:
    rows = np.zeros(1, dtype=DELTA_DTYPE)
    rows["ts_event"] = ts_event
    rows["ts_init"] = ts_init
    rows["action"] = BookAction.CLEAR
    rows["flags"] = flags | int(BookFlags.LAST)
    return rows
