"""The blocked ladder under the compiled books: splits, merges, searches, walks across blocks.

A side keeps its levels in blocks of up to 64 (book_base.pxd). These tests drive books past
one block and compare every level, query and queue with the plain references of
``tests/unit/core/book_reference.py`` (a dict per side, sorted when read);
``assert_same_book`` also runs ``check_integrity``, which checks the block directory.
``_blocks(side)`` (a testing hook) shows the levels per block, worst block first.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.core.book_reference import (
    ADD,
    ASK,
    BID,
    CLEAR,
    DELETE,
    FILL,
    UPDATE,
    RefError,
    RefL2,
    RefL3,
    assert_same_book,
)
from zq_core.book import BookIntegrityError, L2Book, L3Book
from zq_core.matching import REPORT_FILLED, MatchingCore

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
BLOCK = 64


def l2(levels: list[tuple[int, int, int, int]]) -> tuple[L2Book, RefL2]:
    book, ref = L2Book("TEST.SIM", 0, 0), RefL2(price_precision=0)
    for action, side, price, size in levels:
        book.apply_delta(action, side, price, size)
        ref.apply(action, side, price, size)
    return book, ref


# --- Splits, merges and empty blocks, by hand -------------------------------------------------


def test_a_bid_side_growing_at_the_touch_splits_its_full_block_in_halves() -> None:
    # Ascending bids are each a new best: they go to the end of the top block. The 65th
    # finds it full (64): the upper 32 levels move to a new block and the new best joins
    # them, so the blocks hold 32 and 33.
    book, ref = l2([(ADD, BID, 1000 + n, 1 + n) for n in range(BLOCK)])
    assert book._blocks(BID) == [64]
    book.apply_delta(ADD, BID, 2000, 7)
    ref.apply(ADD, BID, 2000, 7)
    assert book._blocks(BID) == [32, 33]
    assert_same_book(book, ref)
    assert book.best_bid_raw() == 2000


def test_an_ask_side_growing_away_from_the_touch_splits_too() -> None:
    # Ascending asks are each the worst: they go to the start of the worst block. The 65th
    # splits it 32/32 and lands in the lower half: 33 and 32.
    book, ref = l2([(ADD, ASK, 1000 + n, 1) for n in range(BLOCK + 1)])
    assert book._blocks(ASK) == [33, 32]
    assert_same_book(book, ref)
    assert book.best_ask_raw() == 1000


def test_a_block_left_with_few_levels_merges_into_its_neighbour() -> None:
    # Blocks [32, 33] (see above). Deleting the 16 worst bids leaves [16, 33]: 16 + 33 = 49
    # levels would not fit the merge bound of 48, so nothing merges. One more delete
    # leaves 15 and 15 + 33 = 48 fits: the upper block is appended to the lower one.
    book, ref = l2([(ADD, BID, 1000 + n, 1 + n) for n in range(BLOCK)] + [(ADD, BID, 2000, 7)])
    for n in range(16):
        book.apply_delta(DELETE, BID, 1000 + n, 0)
        ref.apply(DELETE, BID, 1000 + n, 0)
    assert book._blocks(BID) == [16, 33]
    assert_same_book(book, ref)
    book.apply_delta(FILL, BID, 1016, 17)  # a fill of the whole level removes it
    ref.apply(FILL, BID, 1016, 17)
    assert book._blocks(BID) == [48]
    assert_same_book(book, ref)


def test_the_top_block_merges_downwards_when_the_touch_empties() -> None:
    # [32, 33]: removing 17 of the 33 top levels leaves 16, and 32 + 16 = 48 fits, so the
    # top block is appended to the one below; the best is the old 17th level from the top.
    book, ref = l2([(ADD, BID, 1000 + n, 1 + n) for n in range(BLOCK)] + [(ADD, BID, 2000, 7)])
    for price in [2000] + [1063 - n for n in range(16)]:
        book.apply_delta(UPDATE, BID, price, 0)
        ref.apply(UPDATE, BID, price, 0)
    assert book._blocks(BID) == [48]
    assert book.best_bid_raw() == 1047
    assert_same_book(book, ref)


def test_a_side_emptied_level_by_level_drops_its_last_block_and_fills_again() -> None:
    book, ref = l2([(ADD, ASK, 500 + 3 * n, 2) for n in range(200)])
    assert sum(book._blocks(ASK)) == 200 and len(book._blocks(ASK)) > 3
    for n in range(200):
        book.apply_delta(DELETE, ASK, 500 + 3 * ((n * 7) % 200), 0)  # 7 is prime to 200
        ref.apply(DELETE, ASK, 500 + 3 * ((n * 7) % 200), 0)
        if n % 25 == 0:
            assert_same_book(book, ref)
    assert book._blocks(ASK) == []
    assert book.best_ask_raw() is None and book.asks() == []
    book.apply_delta(ADD, ASK, 42, 1)
    ref.apply(ADD, ASK, 42, 1)
    assert book._blocks(ASK) == [1]
    assert_same_book(book, ref)


def test_clear_of_a_side_of_many_blocks_empties_it_and_keeps_the_other() -> None:
    book, ref = l2(
        [(ADD, BID, 10_000 - n, 1) for n in range(300)] + [(ADD, ASK, 10_001 + n, 2) for n in range(300)]
    )
    book.apply_delta(CLEAR, BID, 0, 0)
    ref.apply(CLEAR, BID, 0, 0)
    assert book._blocks(BID) == []
    assert sum(book._blocks(ASK)) == 300
    assert_same_book(book, ref)
    for n in range(100):  # the cleared side fills again, through new splits
        book.apply_delta(ADD, BID, 5_000 + n, 1)
        ref.apply(ADD, BID, 5_000 + n, 1)
    assert sum(book._blocks(BID)) == 100
    assert_same_book(book, ref)


# --- Searches and walks across blocks ------------------------------------------------------


def test_levels_that_do_not_exist_are_not_found_between_or_beyond_blocks() -> None:
    # Even prices only, 400 levels: every odd price falls inside or between blocks, and
    # prices below and above the side fall off its ends.
    book, ref = l2([(ADD, BID, 2 * n, 1 + n % 5) for n in range(400)])
    before = book.to_arrays()
    for price in [-1, 1, 63, 127, 129, 401, 799, 801, 10**12, INT64_MIN, INT64_MAX]:
        assert book.size_at(BID, price).raw == 0
        book.apply_delta(DELETE, BID, price, 0)
        book.apply_delta(FILL, BID, price, 3)
        ref.apply(DELETE, BID, price, 0)
        ref.apply(FILL, BID, price, 3)
    for key, values in book.to_arrays().items():
        assert values.tolist() == before[key].tolist(), key
    assert_same_book(book, ref)
    for n in range(0, 400, 37):
        assert book.size_at(BID, 2 * n).raw == 1 + n % 5


def test_levels_at_the_ends_of_the_int64_range_sort_on_both_sides() -> None:
    # The ask key is ~price: the extremes of int64 must neither overflow nor misorder.
    extremes = [INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX]
    levels = [(ADD, side, price, 5) for side in (BID, ASK) for price in extremes]
    levels += [(ADD, side, 1_000 * n + 500, 1) for side in (BID, ASK) for n in range(-100, 100)]
    book, ref = l2(levels)
    assert_same_book(book, ref)
    assert book.best_bid_raw() == INT64_MAX and book.best_ask_raw() == INT64_MIN
    for side in (BID, ASK):
        for price in extremes:
            assert book.size_at(side, price).raw == 5
        book.apply_delta(DELETE, side, INT64_MAX, 0)
        book.apply_delta(DELETE, side, INT64_MIN, 0)
        ref.apply(DELETE, side, INT64_MAX, 0)
        ref.apply(DELETE, side, INT64_MIN, 0)
    assert_same_book(book, ref)


def test_a_crossed_book_of_many_levels_reads_as_the_reference() -> None:
    book, ref = l2([(ADD, BID, 1_000 + n, 1) for n in range(150)] + [(ADD, ASK, 1_100 - n, 2) for n in range(150)])
    assert book.is_crossed() and ref.is_crossed()
    assert_same_book(book, ref)
    assert book.spread().raw == ref.spread()


def test_queries_walk_every_block_as_the_reference() -> None:
    rng = np.random.default_rng(17)
    levels = [(ADD, BID, int(p), int(q)) for p, q in zip(rng.permutation(600)[:450], rng.integers(1, 9, 450), strict=True)]
    levels += [(ADD, ASK, 1_000 + int(p), int(q)) for p, q in zip(rng.permutation(600)[:450], rng.integers(1, 9, 450), strict=True)]
    book, ref = l2(levels)
    assert len(book._blocks(BID)) > 7 and len(book._blocks(ASK)) > 7
    for side in (BID, ASK):
        depth = book.bids(1000) if side == BID else book.asks(1000)
        assert [(p.raw, q.raw) for p, q in depth] == ref.levels(side)
        for quantity in (1, 100, 1_000, sum(q for _, q in ref.levels(side)), 10**6):
            assert book.avg_fill_price(ASK if side == BID else BID, quantity) == ref.avg_fill_price(
                ASK if side == BID else BID, quantity
            )
        for low, high in ((-5, 10_000), (100, 300), (1_200, 1_450), (599, 599)):
            assert book.volume_within(side, low, high).raw == ref.volume_within(side, low, high)
    arrays = book.to_arrays(depth=70)
    assert list(zip(arrays["bid_price"].tolist(), arrays["bid_size"].tolist(), strict=True)) == ref.levels(BID)[:70]


def test_check_integrity_finds_a_level_out_of_order_in_another_block() -> None:
    book, _ = l2([(ADD, BID, 1000 + n, 1) for n in range(BLOCK + 1)])
    # Depth 40 (price 1064 - 40 = 1024) is in the lower block (the upper one holds 33).
    # Priced 5000, it is above the next level up, 1025, where the check (from the worst
    # level up) finds the order broken.
    book._overwrite_level(BID, 40, 5_000, 1)
    with pytest.raises(BookIntegrityError, match="bid levels out of order at 1025"):
        book.check_integrity()


# --- Properties against the reference ------------------------------------------------------


# One step: a delta, or a run of ADDs at consecutive prices (to pass a block quickly).
steps = st.one_of(
    st.tuples(
        st.sampled_from([ADD, UPDATE, DELETE, FILL]),
        st.sampled_from([BID, ASK]),
        st.integers(0, 400),
        st.integers(0, 20),
    ),
    st.tuples(st.just(CLEAR), st.sampled_from([0, BID, ASK]), st.just(0), st.just(0)),
    st.tuples(st.just(-1), st.sampled_from([BID, ASK]), st.integers(0, 400), st.integers(1, 150)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(steps, max_size=60), st.lists(st.integers(-10, 410), min_size=5, max_size=5))
def test_an_l2_book_of_many_blocks_matches_the_reference(
    items: list[tuple[int, int, int, int]], probes: list[int]
) -> None:
    book, ref = L2Book("TEST.SIM", 0, 0), RefL2(price_precision=0)
    sequence = 0
    for action, side, price, size in items:
        run = [(ADD, side, price + k, 1 + k % 7) for k in range(size)] if action == -1 else [(action, side, price, size)]
        for delta in run:
            sequence += 1
            book.apply_delta(*delta, 0, sequence)
            ref.apply(*delta, 0, sequence)
        assert_same_book(book, ref)
    for side in (BID, ASK):
        assert sum(book._blocks(side)) == len(ref.levels(side))
        assert all(0 < fill <= BLOCK for fill in book._blocks(side))
        for price in probes:
            assert book.size_at(side, price).raw == ref.size_at(side, price)


# L3 steps: add an order, modify one (new price and size), cancel or fill part of one, or
# add a run of orders at consecutive prices; order ids index the orders added so far.
l3_steps = st.one_of(
    st.tuples(st.just(ADD), st.sampled_from([BID, ASK]), st.integers(0, 300), st.integers(1, 9)),
    st.tuples(st.just(UPDATE), st.integers(0, 10**6), st.integers(0, 300), st.integers(0, 9)),
    st.tuples(st.sampled_from([DELETE, FILL]), st.integers(0, 10**6), st.just(0), st.integers(0, 9)),
    st.tuples(st.just(-1), st.sampled_from([BID, ASK]), st.integers(0, 300), st.integers(1, 120)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(l3_steps, max_size=50), st.sampled_from(["keep_on_decrease", "always_lose"]))
def test_an_l3_book_of_many_blocks_keeps_every_queue_in_time_priority(
    items: list[tuple[int, int, int, int]], rule: str
) -> None:
    book = L3Book("TEST.SIM", 0, 0, modify_rule=rule)
    ref = RefL3(price_precision=0, keep_on_decrease=rule == "keep_on_decrease")
    added: list[int] = []
    sides: dict[int, int] = {}
    sequence = 0

    def apply(action: int, side: int, price: int, size: int, order_id: int) -> None:
        nonlocal sequence
        sequence += 1
        try:
            ref.apply(action, side, price, size, order_id, sequence)
        except RefError:
            with pytest.raises(BookIntegrityError):
                book.apply_delta(action, side, price, size, order_id, sequence)
            sequence -= 1
        else:
            book.apply_delta(action, side, price, size, order_id, sequence)

    for action, first, price, size in items:
        if action in (ADD, -1):
            for k in range(size if action == -1 else 1):
                order_id = len(added) + 1
                added.append(order_id)
                sides[order_id] = first
                apply(ADD, first, price + k // 3, 1 + k % 4 if action == -1 else size, order_id)
        elif added:
            order_id = added[first % len(added)]
            apply(action, sides[order_id], price, size, order_id)
        assert_same_book(book, ref)
    assert book.order_count == len(ref.orders)
    for (side, price), queue in ref.queues.items():
        assert [(oid, q.raw) for oid, q in book.queue(side, price)] == [(oid, ref.orders[oid].size) for oid in queue]
    for order_id in list(ref.orders)[:20]:
        count, size = book.queue_position(order_id)
        assert (count, size.raw) == ref.queue_position(order_id)


def test_l3_queues_keep_their_order_through_splits_merges_and_moves() -> None:
    # Three orders at each of 150 bid prices (ids 3p+1..3p+3 at price p): the levels split
    # into several blocks with their queues. Then every second level loses its orders, and
    # the first order of each level left moves to the level below it (to the back there).
    book = L3Book("TEST.SIM", 0, 0)
    ref = RefL3(price_precision=0)
    sequence = 0
    for price in range(150):
        for k in range(3):
            sequence += 1
            book.apply_delta(ADD, BID, 100 + price, 1 + k, 3 * price + k + 1, sequence)
            ref.apply(ADD, BID, 100 + price, 1 + k, 3 * price + k + 1, sequence)
    assert len(book._blocks(BID)) >= 3
    assert_same_book(book, ref)
    for price in range(0, 150, 2):
        for k in range(3):
            sequence += 1
            book.apply_delta(DELETE, BID, 0, 0, 3 * price + k + 1, sequence)
            ref.apply(DELETE, BID, 0, 0, 3 * price + k + 1, sequence)
    assert_same_book(book, ref)
    for price in range(1, 150, 2):
        sequence += 1
        book.apply_delta(UPDATE, BID, 100 + price - 1, 5, 3 * price + 1, sequence)
        ref.apply(UPDATE, BID, 100 + price - 1, 5, 3 * price + 1, sequence)
    assert_same_book(book, ref)
    for (side, price), queue in ref.queues.items():
        assert [oid for oid, _ in book.queue(side, price)] == queue
    # By hand: price 103 held 10, 11, 12 and 10 moved to 102 (emptied, so 10 is alone).
    assert [oid for oid, _ in book.queue(BID, 103)] == [11, 12]
    assert [oid for oid, _ in book.queue(BID, 102)] == [10]


# --- The matching core walks the blocks ----------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.integers(100, 600), st.integers(1, 20), min_size=1, max_size=300),
    st.integers(1, 4_000),
    st.none() | st.integers(90, 610),
)
def test_a_taker_walks_the_asks_across_blocks_like_a_sorted_walk(
    asks: dict[int, int], quantity: int, limit: int | None
) -> None:
    # MatchingCore reads the book's ladder in C (ladder.top, then ladder_worse): a buy
    # fills from the lowest ask up, level by level, as a walk of the sorted dict does.
    core = MatchingCore("X.SIM", 2, 0, 0, 1)  # an L2 core, precisions 0, tick 1
    for price, size in asks.items():
        core.apply_delta(ADD, ASK, price, size)
    expected, remaining = [], quantity
    for price in sorted(asks):
        if remaining == 0 or (limit is not None and price > limit):
            break
        take = min(remaining, asks[price])
        expected.append((take, price))
        remaining -= take
    core.submit(1, 1, 1 if limit is None else 2, 2, quantity, price=limit, ts=1)  # BUY IOC
    fills = [(report[3], report[4]) for report in core.drain() if report[0] == REPORT_FILLED]
    assert fills == expected
