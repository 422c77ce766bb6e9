"""Binance's rules for keeping a local order book in sync with the diff-depth stream.

These are the steps of Binance's "How to manage a local order book correctly" (spot, USD-M
and COIN-M futures), applied to diffs and REST snapshots in the order they arrived:

1. buffer diffs until a snapshot arrives;
2. drop diffs the snapshot already covers: ``u < lastUpdateId`` on futures,
   ``u <= lastUpdateId`` on spot;
3. the first diff applied must bracket the snapshot: ``U <= lastUpdateId <= u`` on
   futures, ``U <= lastUpdateId + 1 <= u`` on spot;
4. every following diff must continue the previous one: ``pu == previous u`` on futures,
   ``U == previous u + 1`` on spot; a diff the book already covers (a duplicate) is dropped.

A diff that breaks the chain is a gap: a :class:`SyncGap` is recorded and logged (warning,
logger ``zq.data.loaders.binance``), a ``CLEAR`` is emitted so a downstream book is emptied
rather than wrong, and diffs are buffered again until the next snapshot, which is emitted
as a ``CLEAR`` plus ``ADD`` rows flagged ``SNAPSHOT``. A snapshot older than every buffered
diff cannot bridge to them: it is refused and reported the same way.

:class:`BookSync` is format-free: it sees update ids and arrival times, and says what to
emit; :class:`~zq.data.loaders.binance.BinanceCaptureLoader` feeds it from capture files.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass
from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

from zq.model.data import BookFlags

__all__ = [
    "EMIT_CLEAR",
    "EMIT_DIFF",
    "EMIT_SNAPSHOT",
    "BinanceMarket",
    "BookSync",
    "BookSyncState",
    "Emission",
    "GapKind",
    "Levels",
    "SyncCounters",
    "SyncGap",
    "SyncPhase",
]

_log = logging.getLogger("zq.data.loaders.binance")

Int64Array = npt.NDArray[np.int64]


class BinanceMarket(enum.StrEnum):
    """The Binance market a capture comes from; it decides the diff-continuity rule."""

    SPOT = "spot"  # diffs carry U and u; each U is the previous u + 1
    USDM = "usdm"  # USD-M futures: diffs carry pu, the previous diff's u
    COINM = "coinm"  # COIN-M futures (sizes in contracts): same rules as USD-M

    @property
    def is_futures(self) -> bool:
        """Whether diffs chain by ``pu`` (futures) rather than by ``U == u + 1`` (spot)."""
        return self is not BinanceMarket.SPOT


class SyncPhase(enum.StrEnum):
    """Where the book sync stands."""

    WAITING_FOR_SNAPSHOT = "waiting_for_snapshot"  # no book: diffs are buffered
    AWAITING_FIRST_DIFF = "awaiting_first_diff"  # snapshot applied, no diff bridged it yet
    SYNCED = "synced"  # every diff applied continues the previous one


class GapKind(enum.StrEnum):
    """Why the diff chain broke."""

    CONTINUITY = "continuity"  # a diff does not continue the previous one
    FIRST_DIFF = "first_diff"  # the first diff after the snapshot does not bracket it
    STALE_SNAPSHOT = "stale_snapshot"  # the snapshot predates every buffered diff: refused


class BookSyncState(msgspec.Struct, frozen=True):
    """The sync state at the end of a capture, to continue the book in the next file.

    ``update_id`` is the last update id applied to the book (the snapshot's
    ``lastUpdateId`` while awaiting the first diff). Pass it as ``resume=`` to the loader of
    the next file; its market, symbol and precisions carry over too.
    """

    market: BinanceMarket | None = None
    phase: SyncPhase = SyncPhase.WAITING_FOR_SNAPSHOT
    update_id: int | None = None
    symbol: str | None = None
    price_precision: int | None = None
    size_precision: int | None = None

    @property
    def in_sync(self) -> bool:
        """Whether the book is complete and continues into the next diff."""
        return self.phase is SyncPhase.SYNCED


@dataclass(frozen=True, slots=True)
class SyncGap:
    """A break in the diff chain, reported where it was found.

    ``expected`` is the update id the chain required (the book's last ``u``, or the
    snapshot's ``lastUpdateId``); ``first_update_id``, ``final_update_id`` and
    ``previous_update_id`` are the offending diff's ``U``, ``u`` and ``pu`` (``pu`` is None
    on spot).
    """

    kind: GapKind
    line: int
    ts_event: int
    ts_init: int
    expected: int | None
    first_update_id: int
    final_update_id: int
    previous_update_id: int | None

    def describe(self) -> str:
        """Return one line explaining the gap."""
        if self.kind is GapKind.STALE_SNAPSHOT:
            return (
                f"line {self.line}: snapshot lastUpdateId={self.expected} predates the first "
                f"buffered diff (U={self.first_update_id}, u={self.final_update_id}); "
                "waiting for a newer snapshot"
            )
        diff = f"U={self.first_update_id} u={self.final_update_id}"
        if self.kind is GapKind.FIRST_DIFF:
            return (
                f"line {self.line}: the first diff after the snapshot ({diff}) does not "
                f"bracket its lastUpdateId {self.expected}; book out of sync"
            )
        if self.previous_update_id is not None:
            return (
                f"line {self.line}: diff {diff} pu={self.previous_update_id} does not continue "
                f"update id {self.expected}; book out of sync"
            )
        return (
            f"line {self.line}: diff {diff} does not continue update id {self.expected} "
            f"(U must be {(self.expected or 0) + 1}); book out of sync"
        )


@dataclass(slots=True)
class SyncCounters:
    """What the sync did with the diffs and snapshots it saw."""

    diffs_applied: int = 0
    diffs_stale: int = 0  # dropped: already covered by the snapshot or the book
    diffs_overflowed: int = 0  # dropped from a full buffer while waiting for a snapshot
    snapshots_applied: int = 0
    snapshots_ignored: int = 0  # arrived while the book was in sync: not needed
    snapshots_refused: int = 0  # older than the buffered diffs
    gaps: int = 0


class Levels:
    """A diff or a snapshot as the sync sees it.

    ``first_id``, ``final_id`` and ``prev_id`` are the diff's ``U``, ``u`` and ``pu`` (a
    snapshot has ``lastUpdateId`` in both ids and no ``prev_id``); ``line`` and the times
    say where and when it arrived. ``bids`` and ``asks`` hold the JSON text of its levels
    until the loader parses them into ``prices`` and ``sizes`` (bids first, then asks;
    ``pair_start`` is its place in the chunk's parse buffer).
    """

    __slots__ = (
        "asks",
        "bids",
        "final_id",
        "first_id",
        "line",
        "n_asks",
        "n_bids",
        "pair_start",
        "prev_id",
        "prices",
        "sizes",
        "snapshot",
        "ts_event",
        "ts_init",
    )

    def __init__(
        self,
        line: int,
        ts_init: int,
        ts_event: int,
        first_id: int,
        final_id: int,
        prev_id: int | None,
        bids: bytes,
        asks: bytes,
        snapshot: bool = False,
    ) -> None:
        self.line = line
        self.snapshot = snapshot
        self.ts_init = ts_init
        self.ts_event = ts_event
        self.first_id = first_id
        self.final_id = final_id
        self.prev_id = prev_id
        self.bids = bids
        self.asks = asks
        # A well-formed side holds 4 quotes per level; the chunk check confirms the shape.
        self.n_bids = bids.count(b'"') // 4
        self.n_asks = asks.count(b'"') // 4
        self.pair_start = 0
        self.prices: Int64Array = _EMPTY
        self.sizes: Int64Array = _EMPTY


_EMPTY: Final = np.zeros(0, dtype=np.int64)


#: What the sync emits, in the order a downstream book applies it: a diff's levels, a
#: snapshot (a clear and its levels), or a clear after a gap.
EMIT_DIFF, EMIT_SNAPSHOT, EMIT_CLEAR = range(3)
#: ``(kind, record, ts_init, flags)``: ``ts_init`` is when the record became applicable.
Emission = tuple[int, Levels, int, int]


class BookSync:
    """Apply Binance's local-order-book rules to diffs and snapshots, in arrival order.

    Feed it with :meth:`on_diff` and :meth:`on_snapshot`; it appends what to emit to
    ``emissions`` and the gaps it found to ``gaps`` (the caller drains both), and keeps
    its counters in ``stats``.

    Parameters
    ----------
    market
        Decides the rules (spot or futures); None until the first diff tells, which the
        caller then sets on ``market``.
    resume
        The state a previous file ended in, to continue its book.
    max_buffered
        Diffs kept while waiting for a snapshot; beyond it the oldest are dropped.
    stats
        Where the counters go.
    path
        The file, named in log messages.
    """

    def __init__(
        self,
        market: BinanceMarket | None,
        resume: BookSyncState | None,
        max_buffered: int,
        stats: SyncCounters,
        path: str,
    ) -> None:
        self.market = market
        self.phase = SyncPhase.WAITING_FOR_SNAPSHOT
        self.update_id: int | None = None
        if resume is not None and resume.phase is not SyncPhase.WAITING_FOR_SNAPSHOT:
            self.phase = resume.phase
            self.update_id = resume.update_id
        self.buffer: deque[Levels] = deque()
        self.max_buffered = max_buffered
        self.stats = stats
        self.path = path
        self.emissions: list[Emission] = []
        self.gaps: list[SyncGap] = []

    # -- rules ------------------------------------------------------------------------------

    def _is_stale(self, diff: Levels, update_id: int) -> bool:
        if self.phase is SyncPhase.AWAITING_FIRST_DIFF and self._futures():
            return diff.final_id < update_id  # u == lastUpdateId brackets the snapshot
        return diff.final_id <= update_id

    def _bridges(self, diff: Levels, snapshot_id: int) -> bool:
        if self._futures():
            return diff.first_id <= snapshot_id <= diff.final_id
        return diff.first_id <= snapshot_id + 1 <= diff.final_id

    def _continues(self, diff: Levels, update_id: int) -> bool:
        if self._futures():
            return diff.prev_id == update_id
        return diff.first_id == update_id + 1

    def _futures(self) -> bool:
        return self.market is not None and self.market.is_futures

    # -- events -----------------------------------------------------------------------------

    def on_diff(self, diff: Levels, ts_init: int) -> None:
        """Apply, drop, buffer or report ``diff``; ``ts_init`` is when it became applicable."""
        if self.phase is SyncPhase.WAITING_FOR_SNAPSHOT:
            if len(self.buffer) >= self.max_buffered:
                self.buffer.popleft()
                self.stats.diffs_overflowed += 1
            self.buffer.append(diff)
            return
        update_id = self.update_id
        assert update_id is not None
        if self._is_stale(diff, update_id):
            self.stats.diffs_stale += 1
            return
        if self.phase is SyncPhase.AWAITING_FIRST_DIFF:
            if not self._bridges(diff, update_id):
                self._gap(GapKind.FIRST_DIFF, diff, ts_init)
                return
        elif not self._continues(diff, update_id):
            self._gap(GapKind.CONTINUITY, diff, ts_init)
            return
        self.phase = SyncPhase.SYNCED
        self.update_id = diff.final_id
        self.stats.diffs_applied += 1
        self.emissions.append((EMIT_DIFF, diff, ts_init, 0))

    def on_snapshot(self, snapshot: Levels) -> None:
        """Sync the book on ``snapshot`` unless it is in sync already or too old."""
        if self.phase is SyncPhase.SYNCED:
            self.stats.snapshots_ignored += 1
            _log.debug(
                "%s line %d: snapshot ignored, the book is in sync", self.path, snapshot.line
            )
            return
        snapshot_id = snapshot.final_id
        futures = self._futures()
        while self.buffer and (
            self.buffer[0].final_id < snapshot_id
            if futures
            else self.buffer[0].final_id <= snapshot_id
        ):
            self.buffer.popleft()
            self.stats.diffs_stale += 1
        if self.buffer and not self._bridges(self.buffer[0], snapshot_id):
            first = self.buffer[0]
            self.stats.snapshots_refused += 1
            self._report(
                SyncGap(
                    GapKind.STALE_SNAPSHOT,
                    snapshot.line,
                    snapshot.ts_event,
                    snapshot.ts_init,
                    snapshot_id,
                    first.first_id,
                    first.final_id,
                    first.prev_id,
                )
            )
            return
        self.stats.snapshots_applied += 1
        self.phase = SyncPhase.AWAITING_FIRST_DIFF
        self.update_id = snapshot_id
        self.emissions.append((EMIT_SNAPSHOT, snapshot, snapshot.ts_init, 0))
        _log.info(
            "%s line %d: book synced on snapshot lastUpdateId=%d (%d buffered diffs)",
            self.path,
            snapshot.line,
            snapshot_id,
            len(self.buffer),
        )
        buffered = list(self.buffer)
        self.buffer.clear()
        for diff in buffered:
            # Buffered diffs become applicable when the snapshot arrives.
            self.on_diff(diff, snapshot.ts_init)

    def _gap(self, kind: GapKind, diff: Levels, ts_init: int) -> None:
        gap = SyncGap(
            kind,
            diff.line,
            diff.ts_event,
            ts_init,
            self.update_id,
            diff.first_id,
            diff.final_id,
            diff.prev_id,
        )
        self._report(gap)
        # Downstream books drop what is known to be wrong; the next snapshot rebuilds them.
        self.emissions.append((EMIT_CLEAR, diff, ts_init, int(BookFlags.MAYBE_BAD_BOOK)))
        self.phase = SyncPhase.WAITING_FOR_SNAPSHOT
        self.update_id = None
        self.buffer.clear()
        self.buffer.append(diff)

    def _report(self, gap: SyncGap) -> None:
        self.stats.gaps += 1
        self.gaps.append(gap)
        _log.warning("%s %s", self.path, gap.describe())
