"""DepthSync: the live diff-depth/snapshot sync, checked on a real Binance spot capture
against the capture loader, and on small hand-made streams for gaps and resyncs."""

from __future__ import annotations

import asyncio
import gzip

import msgspec
import numpy as np
import pytest

from zq.adapters.binance.depth import DepthSync
from zq.adapters.binance.errors import BinanceStreamError, BinanceUnknownStatusError
from zq.adapters.binance.instruments import parse_symbol
from zq.adapters.binance.schemas import DepthSnapshot
from zq.data.arrays import DELTA_DTYPE
from zq.data.loaders.binance import BinanceCaptureLoader
from zq.data.loaders.binance_sync import GapKind, SyncPhase
from zq.model.data import BookFlags
from zq.model.enums import BookAction, OrderSide

from .test_instruments import BTCUSDT

# BTCUSDT spot: tick 0.01 (precision 2), step 0.00001 (precision 5), BTC precision 8.
INSTRUMENT = parse_symbol(BTCUSDT)
CLEAR, ADD, UPDATE, DELETE = BookAction.CLEAR, BookAction.ADD, BookAction.UPDATE, BookAction.DELETE
LAST, SNAP, BAD = int(BookFlags.LAST), int(BookFlags.SNAPSHOT), int(BookFlags.MAYBE_BAD_BOOK)


class Replay:
    """Feeds DepthSync by hand; snapshots are served from a queue the test fills."""

    def __init__(self) -> None:
        self.now = 0
        self.snapshots: asyncio.Queue[DepthSnapshot | Exception] = asyncio.Queue()
        self.requests = 0
        self.out: list[np.ndarray] = []
        self.sync = DepthSync(
            INSTRUMENT, self.fetch, self.out.append, clock_ns=lambda: self.now, retry_delay_s=0.001
        )

    async def fetch(self) -> DepthSnapshot:
        self.requests += 1
        item = await self.snapshots.get()
        if isinstance(item, Exception):
            raise item
        return item

    def rows(self) -> np.ndarray:
        return np.concatenate(self.out) if self.out else np.zeros(0, dtype=DELTA_DTYPE)


async def _settle() -> None:
    """Let the snapshot task run (its retries wait 1 ms)."""
    for _ in range(10):
        await asyncio.sleep(0.002)


def _diff(first: int, final: int, bids=(), asks=(), event_ms: int = 1000) -> bytes:
    return msgspec.json.encode(
        {"e": "depthUpdate", "E": event_ms, "s": "BTCUSDT", "U": first, "u": final,
         "b": [list(level) for level in bids], "a": [list(level) for level in asks]}
    )


def _snapshot(last_update_id: int, bids=(), asks=()) -> DepthSnapshot:
    return msgspec.json.decode(
        msgspec.json.encode({"lastUpdateId": last_update_id, "bids": [list(b) for b in bids], "asks": [list(a) for a in asks]}),
        type=DepthSnapshot,
    )


@pytest.mark.asyncio
@pytest.mark.realdata
async def test_real_spot_capture_gives_the_same_deltas_as_the_capture_loader(market_data):
    path = market_data / "binance" / "spot" / "btcusdt_20240808.gz"
    replay = Replay()
    with gzip.open(path, "rb") as lines:
        for line in lines:
            ts, _, payload = line.rstrip(b"\n").partition(b" ")
            replay.now = int(ts)
            if payload.startswith(b'{"lastUpdateId"'):
                # The REST answer arrives now: serve it to the fetch DepthSync started.
                await replay.snapshots.put(msgspec.json.decode(payload, type=DepthSnapshot))
                await _settle()
                continue
            envelope = msgspec.json.decode(payload)
            if envelope["stream"].endswith("@depth@100ms"):
                data = msgspec.json.encode(envelope["data"])
                replay.sync.on_diff(data, int(ts))
    await replay.sync.close()
    live = replay.rows()
    # Book sizes are finer than the 0.00001 order step ("25.42618900"): the sync parses
    # them at the base asset's precision, 8.
    assert replay.sync.size_precision == 8
    loader = BinanceCaptureLoader(path, price_precision=2, size_precision=8)
    recorded = np.concatenate([chunk.deltas for chunk in loader.chunks()])
    assert replay.requests == 1  # the first diff asked for a snapshot; none needed since
    assert len(live) == len(recorded) > 5000
    assert np.array_equal(live, recorded)  # every column, ts_init included
    assert replay.sync.in_sync
    assert replay.sync.stats.gaps == 0


@pytest.mark.asyncio
async def test_buffered_diffs_are_applied_after_a_bridging_snapshot():
    replay = Replay()
    replay.sync.on_diff(_diff(95, 100, bids=[("10.00", "1")]), 1)  # covered by the snapshot
    replay.sync.on_diff(_diff(101, 103, asks=[("11.00", "0")]), 2)  # brackets 102 = 101 + 1
    await _settle()
    assert replay.requests == 1 and replay.out == []
    replay.now = 5
    await replay.snapshots.put(_snapshot(101, bids=[("10.00", "2.5")], asks=[("11.00", "1"), ("12.5", "0.00001")]))
    await _settle()
    rows = replay.rows()
    # Snapshot: CLEAR + 1 bid + 2 asks (flagged SNAPSHOT), then the diff 101-103 (one DELETE).
    assert rows["action"].tolist() == [CLEAR, ADD, ADD, ADD, DELETE]
    assert rows["side"].tolist() == [0, OrderSide.BUY, OrderSide.SELL, OrderSide.SELL, OrderSide.SELL]
    assert rows["price"].tolist() == [0, 1000, 1100, 1250, 1100]  # cents
    assert rows["size"].tolist() == [0, 250_000_000, 100_000_000, 1000, 0]  # 1e-8 units
    assert rows["flags"].tolist() == [SNAP, SNAP, SNAP, SNAP | LAST, LAST]
    assert rows["sequence"].tolist() == [101, 101, 101, 101, 103]
    assert rows["ts_init"].tolist() == [5, 5, 5, 5, 5]  # applicable when the snapshot came
    assert replay.sync.phase is SyncPhase.SYNCED and replay.sync.update_id == 103
    assert replay.sync.stats.diffs_stale == 1


@pytest.mark.asyncio
async def test_a_snapshot_older_than_the_buffer_is_refused_and_fetched_again():
    replay = Replay()
    replay.sync.on_diff(_diff(200, 205), 1)
    await replay.snapshots.put(_snapshot(150))  # lastUpdateId + 1 < U: cannot bridge
    await _settle()
    assert replay.requests == 2  # refused, asked again
    assert [gap.kind for gap in replay.sync.gaps] == [GapKind.STALE_SNAPSHOT]
    await replay.snapshots.put(_snapshot(203, bids=[("1", "1")]))
    await _settle()
    assert replay.sync.in_sync and replay.sync.update_id == 205
    await replay.sync.close()


@pytest.mark.asyncio
async def test_a_gap_clears_the_book_and_resyncs_on_a_new_snapshot():
    replay = Replay()
    replay.sync.on_diff(_diff(11, 12), 1)
    await replay.snapshots.put(_snapshot(10, bids=[("1", "1")]))
    await _settle()
    replay.sync.on_diff(_diff(13, 15, bids=[("1", "2")]), 2)
    replay.out.clear()
    replay.sync.on_diff(_diff(17, 18, bids=[("1", "3")]), 3)  # 16 is missing: a gap
    rows = replay.rows()
    assert rows["action"].tolist() == [CLEAR]
    assert rows["flags"].tolist() == [BAD | LAST]
    assert replay.sync.gaps[-1].kind is GapKind.CONTINUITY
    assert replay.sync.phase is SyncPhase.WAITING_FOR_SNAPSHOT
    await _settle()
    assert replay.requests == 2
    replay.out.clear()
    await replay.snapshots.put(_snapshot(17, bids=[("1", "4")]))
    await _settle()
    rows = replay.rows()
    # The new snapshot, then the re-buffered diff 17-18 that bridges it.
    assert rows["action"].tolist() == [CLEAR, ADD, UPDATE]
    assert rows["size"].tolist() == [0, 400_000_000, 300_000_000]
    assert replay.sync.update_id == 18


@pytest.mark.asyncio
async def test_duplicate_diffs_are_dropped_once_synced():
    replay = Replay()
    replay.sync.on_diff(_diff(1, 2), 1)
    await replay.snapshots.put(_snapshot(1))
    await _settle()
    replay.out.clear()
    replay.sync.on_diff(_diff(1, 2, bids=[("5", "5")]), 2)  # already applied
    assert replay.out == []
    assert replay.sync.update_id == 2


@pytest.mark.asyncio
async def test_reset_after_a_reconnect_clears_downstream_and_resyncs():
    replay = Replay()
    replay.sync.on_diff(_diff(1, 2), 1)
    await replay.snapshots.put(_snapshot(1))
    await _settle()
    replay.out.clear()
    replay.sync.reset(ts_init=9)
    rows = replay.rows()
    assert rows["action"].tolist() == [CLEAR] and rows["flags"].tolist() == [BAD | LAST]
    assert replay.sync.phase is SyncPhase.WAITING_FOR_SNAPSHOT
    replay.sync.on_diff(_diff(50, 51), 10)
    await _settle()
    assert replay.requests == 2


@pytest.mark.asyncio
async def test_a_failed_snapshot_request_is_retried():
    replay = Replay()
    replay.sync.on_diff(_diff(1, 2), 1)
    await replay.snapshots.put(BinanceUnknownStatusError(None, "no answer", 0, "GET /api/v3/depth"))
    await replay.snapshots.put(_snapshot(1))
    for _ in range(20):
        await asyncio.sleep(0.002)
        if replay.sync.in_sync:
            break
    assert replay.sync.in_sync
    assert replay.sync.snapshot_failures == 1 and replay.requests == 2


@pytest.mark.asyncio
async def test_a_malformed_diff_is_named_and_the_book_resyncs(caplog):
    replay = Replay()
    replay.sync.on_diff(_diff(1, 2), 1)
    await replay.snapshots.put(_snapshot(1, bids=[("10", "1")]))
    await _settle()
    replay.out.clear()
    with pytest.raises(BinanceStreamError, match=r"stream btcusdt@depth field a\[0\]\[0\]: .*more than 2 decimals"):
        replay.sync.on_diff(_diff(3, 4, asks=[("11.001", "1")]), 2)  # 3 decimals at tick 0.01
    # The book downstream would miss that diff: it is cleared and rebuilt.
    rows = replay.rows()
    assert rows["action"].tolist() == [CLEAR] and rows["flags"].tolist() == [BAD | LAST]
    assert replay.sync.malformed == 1 and replay.sync.phase is SyncPhase.WAITING_FOR_SNAPSHOT
    replay.sync.on_diff(_diff(5, 6), 3)
    await replay.snapshots.put(_snapshot(5, bids=[("10", "2")]))
    await _settle()
    assert replay.sync.in_sync and replay.sync.update_id == 6


@pytest.mark.asyncio
async def test_a_malformed_snapshot_is_logged_and_fetched_again(caplog):
    replay = Replay()
    replay.sync.on_diff(_diff(1, 2), 1)
    await replay.snapshots.put(_snapshot(1, bids=[("10.001", "1")]))
    await _settle()
    assert "malformed snapshot" in caplog.text
    assert replay.sync.malformed == 1 and not replay.sync.in_sync
    replay.sync.on_diff(_diff(3, 4), 2)
    await replay.snapshots.put(_snapshot(3, bids=[("10", "1")]))
    await _settle()
    assert replay.sync.in_sync and replay.requests == 2


def test_a_diff_for_another_symbol_is_refused():
    replay = Replay()
    with pytest.raises(BinanceStreamError, match="another symbol"):
        replay.sync.on_diff(_diff(1, 2).replace(b"BTCUSDT", b"ETHUSDT"), 1)
