"""DepthSync against a model venue, with hypothesis: whatever the stream loses or repeats
and whenever snapshots arrive, the book downstream is either empty (waiting for a snapshot)
or exactly the venue's book as of the update id the sync says it is at.

The model venue is independent of the code under test: a dict book whose every change gets
the next update id, diffs that carry the final size of each level touched over a range of
ids (as Binance's ``U``..``u``), and snapshots of the whole book at the latest id.
"""

from __future__ import annotations

import asyncio

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zq.adapters.binance.depth import DepthSync
from zq.adapters.binance.instruments import parse_symbol
from zq.adapters.binance.schemas import DepthSnapshot
from zq.data.loaders.binance_sync import SyncPhase
from zq.model.enums import BookAction, OrderSide

from .test_instruments import BTCUSDT

INSTRUMENT = parse_symbol(BTCUSDT)  # prices at precision 2, sizes at 8
BID_PRICES = range(1, 11)
ASK_PRICES = range(11, 21)


class Venue:
    """A book with update ids, its history, and the diffs it publishes."""

    def __init__(self) -> None:
        self.book: dict[tuple[int, int], int] = {}  # (side, price) -> size
        self.update_id = 100
        self.history: dict[int, dict[tuple[int, int], int]] = {100: {}}
        self.pending_first: int | None = None
        self.pending: set[tuple[int, int]] = set()

    def change(self, changes: list[tuple[int, int, int]]) -> None:
        self.update_id += 1
        for side, price, size in changes:
            if size:
                self.book[(side, price)] = size
            else:
                self.book.pop((side, price), None)
            self.pending.add((side, price))
        if self.pending_first is None:
            self.pending_first = self.update_id
        self.history[self.update_id] = dict(self.book)

    def diff(self) -> bytes | None:
        if self.pending_first is None:
            return None
        levels = {1: [], 2: []}
        for side, price in sorted(self.pending):
            size = self.book.get((side, price), 0)
            levels[side].append([f"{price}.00", f"{size}.00000000"])
        payload = msgspec.json.encode(
            {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": self.pending_first,
             "u": self.update_id, "b": levels[1], "a": levels[2]}
        )
        self.pending_first = None
        self.pending = set()
        return payload

    def snapshot(self) -> DepthSnapshot:
        sides = {1: [], 2: []}
        for (side, price), size in sorted(self.book.items()):
            sides[side].append([f"{price}.00", f"{size}.00000000"])
        return msgspec.json.decode(
            msgspec.json.encode({"lastUpdateId": self.update_id, "bids": sides[1], "asks": sides[2]}),
            type=DepthSnapshot,
        )


class Downstream:
    """Applies the rows the sync emits: the consumer's book."""

    def __init__(self) -> None:
        self.book: dict[tuple[int, int], int] = {}

    def apply(self, rows) -> None:
        for row in rows.tolist():
            _, _, price, size, _, _, action, side, _, _ = row
            if action == BookAction.CLEAR:
                self.book.clear()
            elif action == BookAction.DELETE:
                self.book.pop((side, price // 100), None)
            else:
                self.book[(side, price // 100)] = size // 10**8


_change = st.lists(
    st.one_of(
        st.tuples(st.just(int(OrderSide.BUY)), st.sampled_from(BID_PRICES), st.integers(0, 5)),
        st.tuples(st.just(int(OrderSide.SELL)), st.sampled_from(ASK_PRICES), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=3,
)
_action = st.one_of(
    st.tuples(st.just("change"), _change),
    st.tuples(st.just("send"), st.none()),  # publish the pending diff
    st.tuples(st.just("lose"), st.none()),  # publish it, but the stream loses it: a gap
    st.tuples(st.just("repeat"), st.none()),  # the last diff delivered again
    st.tuples(st.just("serve"), st.none()),  # answer a pending snapshot request now
    st.tuples(st.just("reconnect"), st.none()),
)


async def _scenario(actions) -> tuple[int, int]:
    venue = Venue()
    downstream = Downstream()
    requests: list[asyncio.Future[DepthSnapshot]] = []

    async def fetch() -> DepthSnapshot:
        future = asyncio.get_running_loop().create_future()
        requests.append(future)
        return await future

    sync = DepthSync(INSTRUMENT, fetch, downstream.apply, retry_delay_s=0.0)
    last: bytes | None = None
    for kind, value in actions:
        if kind == "change":
            venue.change(value)
        elif kind in ("send", "lose"):
            payload = venue.diff()
            if payload is not None and kind == "send":
                sync.on_diff(payload, 0)
                last = payload
        elif kind == "repeat" and last is not None:
            sync.on_diff(last, 0)
        elif kind == "serve":
            for future in requests:
                if not future.done():
                    future.set_result(venue.snapshot())
        elif kind == "reconnect":
            sync.reset(0)
            last = None
        for _ in range(3):
            await asyncio.sleep(0)  # let the snapshot task run
        # The invariant: empty while waiting, else the venue's book as of the sync's id.
        if sync.phase is SyncPhase.WAITING_FOR_SNAPSHOT:
            assert downstream.book == {}
        else:
            assert downstream.book == venue.history[sync.update_id], (sync.phase, sync.update_id)
    await sync.close()
    for future in requests:
        future.cancel()
    return sync.stats.gaps, sync.stats.snapshots_applied


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_action, min_size=1, max_size=60))
def test_the_book_downstream_is_empty_or_the_venues_book(actions):
    asyncio.run(_scenario(actions))


def test_a_lost_diff_is_detected_and_the_book_recovers():
    # A fixed scenario of the property above, with the counts checked.
    change = [(1, 5, 2)]
    actions = [
        ("change", change), ("send", None), ("serve", None),  # synced on a snapshot
        ("change", [(2, 12, 1)]), ("send", None),  # applied
        ("change", [(1, 5, 0)]), ("lose", None),  # lost: nothing seen yet
        ("change", [(1, 6, 3)]), ("send", None),  # U skips an id: a gap, book cleared
        ("change", [(2, 13, 4)]), ("send", None),
        ("serve", None), ("change", [(2, 14, 1)]), ("send", None),  # resynced
    ]
    gaps, snapshots = asyncio.run(_scenario(actions))
    assert gaps == 1 and snapshots == 2
