"""Tests of zq_core.book.L3Book (market by order) against the reference."""

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
    RefL3,
    assert_same_book,
)
from zq.data.arrays import DELTA_DTYPE, deltas_to_objects
from zq.model.identifiers import InstrumentId
from zq_core.book import BookIntegrityError, L3Book
from zq_core.fixed import Price, Quantity

INT64_MAX = 2**63 - 1
ORDER_IDS = range(0, 17)

# --- Strategies ----------------------------------------------------------------------------

# Mostly valid deltas, now and then an invalid action, side or size. Few prices and ids,
# so that orders share levels and deltas keep naming live orders.
actions = st.sampled_from([ADD] * 14 + [UPDATE] * 8 + [DELETE] * 8 + [FILL] * 6 + [CLEAR, 0, 6])
deltas = st.tuples(
    actions,
    st.sampled_from([BID, ASK] * 15 + [0, 3]),
    st.integers(9_998, 10_002),
    st.integers(-1, 20),
    st.integers(1, 15),
    st.integers(0, 2**64 - 1),
    st.integers(-(2**63), 2**63 - 1),
)
rules = st.sampled_from(["keep_on_decrease", "always_lose"])
# How a delta that is not an ADD relates to the orders on the book, so that it mostly names
# a live order and the edges of the modify rule come up often: 0 as drawn (often an unknown
# id), else it names a live order with 1 its price and size, 2 one lot less, 3 one lot
# more, 4 a tick away, 5 the drawn price and size.
relations = st.integers(0, 5)


def related(ref: RefL3, item: tuple[int, ...], relation: int) -> tuple[int, ...]:
    """``item`` rewritten to name a live order of ``ref`` (see ``relations``)."""
    action, _, price, size, order_id, *rest = item
    if not relation or not ref.orders or action not in (UPDATE, DELETE, FILL):
        return item
    order_id = sorted(ref.orders)[order_id % len(ref.orders)]
    order = ref.orders[order_id]
    if relation < 5:
        price, size = order.price, order.size
    if relation == 2:
        size -= 1
    elif relation == 3:
        size += 1
    elif relation == 4:
        price += 1
    return (action, order.side, price, size, order_id, *rest)


def rows(items: list[tuple[int, ...]]) -> np.ndarray:
    """A DELTA_DTYPE array of (action, side, price, size, order_id, sequence, ts_event)."""
    array = np.zeros(len(items), DELTA_DTYPE)
    for i, (action, side, price, size, order_id, sequence, ts_event) in enumerate(items):
        array[i] = (ts_event, 0, price, size, order_id, sequence, action % 256, side % 256, 0, b"")
    return array


def assert_same_orders(book: L3Book, ref: RefL3) -> None:
    """Levels, queues, orders, queue positions and faults all agree with the reference."""
    assert_same_book(book, ref)
    arrays = book.to_arrays()
    for side, name in ((BID, "bid"), (ASK, "ask")):
        expected_counts = [len(ref.queues[(side, price)]) for price, _ in ref.levels(side)]
        assert arrays[f"{name}_count"].tolist() == expected_counts
        for price, _ in ref.levels(side):
            assert book.queue(side, price) == [
                (oid, Quantity.from_raw(size, 0)) for oid, size in ref.queue(side, price)
            ]
    for order_id in ORDER_IDS:
        order = ref.orders.get(order_id)
        if order is None:
            assert book.order(order_id) is None
            continue
        assert book.order(order_id) == (order.side, Price.from_raw(order.price, 2), Quantity.from_raw(order.size, 0))
        ahead, size_ahead = ref.queue_position(order_id)
        assert book.queue_position(order_id) == (ahead, Quantity.from_raw(size_ahead, 0))
    assert book.order_count == len(ref.orders)
    assert book.faults == ref.faults


# --- Against the reference -------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(deltas, relations), min_size=10, max_size=100), rules, st.booleans())
def test_every_delta_leaves_the_same_orders_and_levels_as_the_reference(
    drawn: list[tuple[tuple[int, ...], int]], rule: str, strict: bool
) -> None:
    book = L3Book("TEST.SIM", 2, 0, modify_rule=rule, strict=strict)
    ref = RefL3(price_precision=2, keep_on_decrease=rule == "keep_on_decrease", strict=strict)
    for raw_item, relation in drawn:
        item = related(ref, raw_item, relation)
        try:
            ref.apply(*item)
        except RefError:
            with pytest.raises(BookIntegrityError):
                book.apply_delta(*item)
        else:
            book.apply_delta(*item)
        assert_same_orders(book, ref)


@settings(max_examples=200, deadline=None)
@given(st.lists(deltas, min_size=10, max_size=100), rules, st.booleans())
def test_a_batch_leaves_the_same_book_as_one_call_per_delta(
    items: list[tuple[int, ...]], rule: str, strict: bool
) -> None:
    one_by_one = L3Book("TEST.SIM", 2, 0, modify_rule=rule, strict=strict)
    applied = processed = 0
    for item in items:
        try:
            one_by_one.apply_delta(*item)
        except BookIntegrityError:
            break
        processed += 1
    applied = one_by_one.update_count
    batch = L3Book("TEST.SIM", 2, 0, modify_rule=rule, strict=strict)
    if processed < len(items):
        with pytest.raises(BookIntegrityError) as caught:
            batch.apply_batch(rows(items))
        assert f"at row {processed} of the batch" in caught.value.__notes__[0]
    else:
        assert batch.apply_batch(rows(items)) == applied
    for key, values in batch.to_arrays().items():
        assert values.tolist() == one_by_one.to_arrays()[key].tolist(), key
    for side in (BID, ASK):
        for price in range(9_998, 10_003):
            assert batch.queue(side, price) == one_by_one.queue(side, price)
    assert (batch.sequence, batch.ts_last, batch.update_count, batch.faults, batch.order_count) == (
        one_by_one.sequence, one_by_one.ts_last, one_by_one.update_count, one_by_one.faults,
        one_by_one.order_count,
    )
    batch.check_integrity()


def test_a_long_random_stream_over_many_levels_and_orders_matches_the_reference() -> None:
    # Thousands of orders on hundreds of levels: pool and index growth, deep levels.
    rng = np.random.default_rng(11)
    book, ref = L3Book("TEST.SIM", 2, 0), RefL3(price_precision=2)
    live: list[int] = []
    next_id = 1
    for n in range(30_000):
        if rng.random() < 0.45 or not live:
            side = int(rng.integers(1, 3))
            price = 10_000 - int(rng.integers(1, 400)) if side == BID else 10_000 + int(rng.integers(1, 400))
            item = (ADD, side, price, int(rng.integers(1, 50)), next_id)
            live.append(next_id)
            next_id += 1
            ref.apply(*item, sequence=n)
        else:
            at = int(rng.integers(0, len(live)))
            order = ref.orders[live[at]]
            action = int(rng.choice([UPDATE, DELETE, FILL]))
            price = order.price + (int(rng.integers(-2, 3)) if action == UPDATE else 0)
            item = (action, order.side, price, int(rng.integers(0, 40)), live[at])
            ref.apply(*item, sequence=n)
            if live[at] not in ref.orders:
                live[at] = live[-1]
                live.pop()
        book.apply_delta(*item, sequence=n)
        if n % 1_499 == 0:
            assert_same_book(book, ref)
    assert_same_book(book, ref)
    assert book.order_count == len(ref.orders) > 2_000


def test_the_order_index_survives_heavy_churn_at_its_highest_load() -> None:
    # About 1,000 live orders keep the index just under its growth threshold (load 1/2 of
    # 2,048 slots), where probe runs are long and wrap around the end of the table: the
    # backward-shift deletion must keep every remaining id findable.
    rng = np.random.default_rng(3)
    book = L3Book("TEST.SIM", 2, 0)
    live: list[int] = []
    for n in range(100_000):
        if len(live) < 1_000 and (rng.random() < 0.5 or not live):
            order_id = int(rng.integers(0, 2**64, dtype=np.uint64))
            if book.order(order_id) is None:
                book.apply_delta(ADD, BID, 10_000 - n % 7, 1, order_id)
                live.append(order_id)
        else:
            at = int(rng.integers(0, len(live)))
            book.apply_delta(DELETE, BID, 0, 0, live[at])
            live[at] = live[-1]
            live.pop()
        if n % 10_000 == 0:
            book.check_integrity()
    assert all(book.order(order_id) is not None for order_id in live)
    assert book.order_count == len(live)
    book.check_integrity()


# --- Queue priority, by example ------------------------------------------------------------------


def book_of(rule: str = "keep_on_decrease") -> L3Book:
    """Bids 1, 2, 3 at 100.00 in that time order, sizes 10, 20, 30; ask 4 at 101.00."""
    book = L3Book("TEST.SIM", 2, 0, modify_rule=rule)
    for order_id, size in ((1, 10), (2, 20), (3, 30)):
        book.apply_delta(ADD, BID, 10_000, size, order_id)
    book.apply_delta(ADD, ASK, 10_100, 5, 4)
    return book


def queue_ids(book: L3Book, price: int = 10_000) -> list[int]:
    return [order_id for order_id, _ in book.queue(BID, price)]


def test_a_size_decrease_keeps_the_queue_place_under_keep_on_decrease() -> None:
    book = book_of()
    book.apply_delta(UPDATE, BID, 10_000, 5, 1)
    assert book.queue(BID, 10_000) == [(1, Quantity(5)), (2, Quantity(20)), (3, Quantity(30))]
    assert book.size_at(BID, 10_000) == Quantity(55)
    book.apply_delta(UPDATE, BID, 10_000, 20, 2)  # unchanged: keeps its place too
    assert queue_ids(book) == [1, 2, 3]


def test_a_size_increase_or_a_price_change_loses_the_queue_place() -> None:
    book = book_of()
    book.apply_delta(UPDATE, BID, 10_000, 11, 1)
    assert queue_ids(book) == [2, 3, 1]
    book.apply_delta(UPDATE, BID, 9_900, 20, 2)
    book.apply_delta(UPDATE, BID, 10_000, 20, 2)
    assert queue_ids(book) == [3, 1, 2]
    assert queue_ids(book, 9_900) == []
    assert book.bids() == [(Price("100.00"), Quantity(61))]


def test_every_modify_loses_the_queue_place_under_always_lose() -> None:
    book = book_of("always_lose")
    book.apply_delta(UPDATE, BID, 10_000, 5, 1)
    assert queue_ids(book) == [2, 3, 1]
    book.apply_delta(UPDATE, BID, 10_000, 20, 2)  # unchanged, still sent back
    assert queue_ids(book) == [3, 1, 2]


def test_a_modify_to_size_zero_removes_the_order() -> None:
    book = book_of()
    book.apply_delta(UPDATE, BID, 10_000, 0, 2)
    assert queue_ids(book) == [1, 3] and book.order(2) is None


def test_a_partial_cancel_reduces_the_order_and_keeps_its_place() -> None:
    book = book_of()
    book.apply_delta(DELETE, BID, 10_000, 15, 2)
    assert book.queue(BID, 10_000) == [(1, Quantity(10)), (2, Quantity(5)), (3, Quantity(30))]
    book.apply_delta(DELETE, BID, 10_000, 0, 2)  # size 0: the whole order
    assert queue_ids(book) == [1, 3]
    book.apply_delta(DELETE, BID, 10_000, 99, 3)  # more than it has: the whole order
    assert queue_ids(book) == [1]


def test_a_fill_reduces_the_order_in_place_and_removes_it_at_zero() -> None:
    book = book_of()
    book.apply_delta(FILL, BID, 10_000, 4, 1)
    assert book.queue_position(2) == (1, Quantity(6))
    book.apply_delta(FILL, BID, 10_000, 0, 1)  # nothing filled
    book.apply_delta(FILL, BID, 10_000, 6, 1)
    assert queue_ids(book) == [2, 3]
    assert book.queue_position(3) == (1, Quantity(20))
    assert book.queue_position(2) == (0, Quantity(0))


def test_cancel_and_fill_use_the_order_price_not_the_delta_price() -> None:
    book = book_of()
    book.apply_delta(DELETE, BID, 0, 0, 1)
    book.apply_delta(FILL, BID, 12_345, 5, 2)
    assert book.queue(BID, 10_000) == [(2, Quantity(15)), (3, Quantity(30))]


def test_clear_removes_the_orders_so_their_ids_can_return() -> None:
    book = book_of()
    book.apply_delta(CLEAR, BID, 0, 0)
    assert book.order_count == 1 and book.order(1) is None and book.bids() == []
    book.apply_delta(ADD, BID, 9_000, 1, 1)
    book.clear()
    assert book.order_count == 0 and book.asks() == []
    book.apply_delta(ADD, ASK, 9_000, 1, 4)
    book.check_integrity()


def test_queue_of_a_price_without_orders_is_empty_and_accepts_prices() -> None:
    book = book_of()
    assert book.queue(BID, Price("100")) == book.queue(BID, 10_000)
    assert book.queue(BID, Price("100.001")) == []
    assert book.queue(ASK, 10_000) == []
    assert book.queue(BID, 2**70) == []


def test_queue_position_of_an_unknown_order_raises_key_error() -> None:
    with pytest.raises(KeyError, match=r"order 99 is not on the TEST\.SIM book"):
        book_of().queue_position(99)


# --- Errors and faults ---------------------------------------------------------------------------


def test_an_unknown_order_is_refused_with_the_instrument_action_id_and_sequence() -> None:
    book = book_of()
    with pytest.raises(BookIntegrityError) as caught:
        book.apply_delta(DELETE, ASK, 10_100, 0, 77, sequence=1234)
    assert str(caught.value) == "TEST.SIM: DELETE ask order 77 at 101.00 (sequence 1234): unknown order id"
    assert (caught.value.order_id, caught.value.sequence, caught.value.action) == (77, 1234, DELETE)


def test_a_duplicate_add_is_refused_even_when_not_strict() -> None:
    book = L3Book("TEST.SIM", 2, 0, strict=False)
    book.apply_delta(ADD, BID, 10_000, 1, 7)
    with pytest.raises(BookIntegrityError, match=r"ADD ask order 7 at 101\.00 \(sequence 0\): order id already on the book"):
        book.apply_delta(ADD, ASK, 10_100, 1, 7)
    with pytest.raises(BookIntegrityError, match="an added order needs a positive size"):
        book.apply_delta(ADD, ASK, 10_100, 0, 8)


def test_a_delta_on_the_wrong_side_of_its_order_is_refused() -> None:
    with pytest.raises(BookIntegrityError, match="the order is on the bid side"):
        book_of().apply_delta(UPDATE, ASK, 10_000, 1, 1)


def test_without_strict_unknown_orders_are_counted_and_ignored() -> None:
    book = L3Book("TEST.SIM", 2, 0, strict=False)
    book.apply_delta(ADD, BID, 10_000, 5, 1, sequence=1)
    for action in (UPDATE, DELETE, FILL):
        book.apply_delta(action, BID, 10_000, 1, 2, sequence=9)
    book.apply_delta(DELETE, ASK, 10_000, 1, 1, sequence=9)
    assert (book.faults, book.update_count, book.sequence) == (4, 1, 1)
    array = np.zeros(2, DELTA_DTYPE)
    array[0] = (0, 0, 10_000, 1, 3, 5, DELETE, BID, 0, b"")
    array[1] = (0, 0, 10_000, 1, 1, 6, FILL, BID, 0, b"")
    assert book.apply_batch(array) == 1
    assert (book.faults, book.sequence, book.bids()) == (5, 6, [(Price(100), Quantity(4))])


def test_a_level_whose_size_would_overflow_int64_is_refused() -> None:
    book = L3Book("TEST.SIM", 2, 0)
    book.apply_delta(ADD, BID, 10_000, INT64_MAX, 1)
    book.apply_delta(ADD, BID, 9_900, 1, 2)
    with pytest.raises(BookIntegrityError, match="would exceed the int64 range"):
        book.apply_delta(ADD, BID, 10_000, 1, 3)
    with pytest.raises(BookIntegrityError, match="would exceed the int64 range"):
        book.apply_delta(UPDATE, BID, 10_000, 1, 2)
    book.apply_delta(ADD, BID, 9_800, 2, 3)
    book.apply_delta(UPDATE, BID, 9_800, 1, 1)
    with pytest.raises(BookIntegrityError, match="would exceed the int64 range"):
        book.apply_delta(UPDATE, BID, 9_800, INT64_MAX, 3)
    book.check_integrity()
    assert book.bids() == [(Price("99.00"), Quantity(1)), (Price("98.00"), Quantity(3))]


def test_check_integrity_finds_a_level_that_disagrees_with_its_orders() -> None:
    book = book_of()
    book._overwrite_order(2, 10_000, 21)
    with pytest.raises(BookIntegrityError, match=r"bid level at 100\.00 has size 60 but its orders sum to 61"):
        book.check_integrity()
    book = book_of()
    book._overwrite_order(2, 10_050, 20)
    with pytest.raises(BookIntegrityError, match=r"holds order 2 of side 1 at 100\.50"):
        book.check_integrity()
    book = book_of()
    book._overwrite_level(BID, 0, 10_000, 61)
    with pytest.raises(BookIntegrityError, match="has size 61 but its orders sum to 60"):
        book.check_integrity()


# --- Construction and conversions ----------------------------------------------------------------


def test_construction_validates_the_modify_rule() -> None:
    book = L3Book("X", 2, 0)
    assert (book.modify_rule, book.strict, book.faults, book.order_count) == ("keep_on_decrease", True, 0, 0)
    with pytest.raises(ValueError, match="modify_rule must be one of keep_on_decrease, always_lose"):
        L3Book("X", 2, 0, modify_rule="fifo")


def test_apply_takes_order_book_delta_objects() -> None:
    array = np.zeros(3, DELTA_DTYPE)
    array[0] = (1, 2, 10_000, 5, 11, 1, ADD, BID, 0, b"")
    array[1] = (3, 4, 10_000, 6, 12, 2, ADD, BID, 0, b"")
    array[2] = (5, 6, 10_000, 2, 11, 3, UPDATE, BID, 0, b"")
    book = L3Book("X", 2, 0)
    for delta in deltas_to_objects(array, InstrumentId("X.SIM"), 2, 0):
        book.apply(delta)
    assert book.queue(BID, 10_000) == [(11, Quantity(2)), (12, Quantity(6))]
    assert (book.sequence, book.ts_last, book.update_count) == (3, 5, 3)


def test_order_ids_use_the_full_unsigned_64_bit_range() -> None:
    book = L3Book("X", 2, 0)
    for order_id in (0, 2**64 - 1, 2**63):
        book.apply_delta(ADD, ASK, 10_000, 1, order_id)
    assert [oid for oid, _ in book.queue(ASK, 10_000)] == [0, 2**64 - 1, 2**63]
    with pytest.raises(OverflowError):
        book.order(-1)
    assert book.to_arrays()["ask_count"].tolist() == [3]
    assert book.to_pandas()["count"].tolist() == [3]
