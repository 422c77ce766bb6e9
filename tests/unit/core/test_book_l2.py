"""Tests of zq_core.book.L2Book (and the queries all books share) against the reference."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
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
    assert_same_book,
    compiled_levels,
)
from zq.data.arrays import DELTA_DTYPE, deltas_to_objects
from zq.model.enums import BookAction, OrderSide
from zq.model.identifiers import InstrumentId
from zq_core.book import (
    DELTA_ROW_DTYPE,
    BookIntegrityError,
    L1Book,
    L2Book,
    L3Book,
    OrderBook,
)
from zq_core.fixed import Price, Quantity

INT64_MAX = 2**63 - 1

# --- Strategies ----------------------------------------------------------------------------

# Few prices and small sizes, so that deltas keep landing on the same levels.
# Mostly valid deltas, now and then an invalid action, side or size.
deltas = st.tuples(
    st.sampled_from([ADD] * 8 + [UPDATE] * 12 + [DELETE] * 6 + [FILL] * 6 + [CLEAR, 0, 6]),
    st.sampled_from([BID, ASK] * 15 + [0, 3]),
    st.integers(9_990, 10_010),
    st.integers(-1, 30),
    st.integers(0, 3),            # order id, ignored by L2
    st.integers(0, 2**64 - 1),    # sequence
    st.integers(-(2**63), 2**63 - 1),  # ts_event
)
valid_deltas = st.tuples(
    st.sampled_from([ADD, UPDATE, DELETE, FILL]),
    st.sampled_from([BID, ASK]),
    st.integers(9_990, 10_010),
    st.integers(0, 30),
)


def rows(items: list[tuple[int, ...]]) -> np.ndarray:
    """A DELTA_DTYPE array of (action, side, price, size, order_id, sequence, ts_event)."""
    array = np.zeros(len(items), DELTA_DTYPE)
    for i, (action, side, price, size, order_id, sequence, ts_event) in enumerate(items):
        array[i] = (ts_event, 0, price, size, order_id, sequence, action, side, 0, b"")
    return array


def full(item: tuple[int, ...]) -> tuple[int, ...]:
    """A 4-tuple delta with order id, sequence and ts_event filled in."""
    return (*item, 0, 0, 0) if len(item) == 4 else item


def built(levels: list[tuple[int, int, int, int]]) -> tuple[L2Book, RefL2]:
    book, ref = L2Book("TEST.SIM", 2, 0), RefL2(price_precision=2)
    for action, side, price, size in levels:
        book.apply_delta(action, side, price, size)
        ref.apply(action, side, price, size)
    return book, ref


# --- The row layout ------------------------------------------------------------------------


def test_row_layout_equals_the_delta_dtype_of_zq_data() -> None:
    assert DELTA_ROW_DTYPE == DELTA_DTYPE
    assert DELTA_ROW_DTYPE.itemsize == 56
    for name in DELTA_DTYPE.names:
        assert DELTA_ROW_DTYPE.fields[name] == DELTA_DTYPE.fields[name], name


# --- Applying deltas against the reference -------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(deltas, max_size=80))
def test_every_delta_leaves_the_same_book_as_the_reference(items: list[tuple[int, ...]]) -> None:
    book, ref = L2Book("TEST.SIM", 2, 0), RefL2(price_precision=2)
    for item in items:
        try:
            ref.apply(*item)
        except RefError:
            with pytest.raises(BookIntegrityError):
                book.apply_delta(*item)
        else:
            book.apply_delta(*item)
        assert_same_book(book, ref)


@settings(max_examples=200, deadline=None)
@given(st.lists(deltas, max_size=80))
def test_a_batch_leaves_the_same_book_as_one_call_per_delta(items: list[tuple[int, ...]]) -> None:
    one_by_one = L2Book("TEST.SIM", 2, 0)
    applied = 0
    for item in items:
        try:
            one_by_one.apply_delta(*item)
        except BookIntegrityError:
            break
        applied += 1
    batch = L2Book("TEST.SIM", 2, 0)
    array = rows([(a, s % 256, p, q, o, seq, ts) for a, s, p, q, o, seq, ts in items])
    if applied < len(items):
        with pytest.raises(BookIntegrityError) as caught:
            batch.apply_batch(array)
        assert f"at row {applied} of the batch" in caught.value.__notes__[0]
    else:
        assert batch.apply_batch(array) == len(items)
    assert batch.to_arrays().keys() == one_by_one.to_arrays().keys()
    for key, values in batch.to_arrays().items():
        assert values.tolist() == one_by_one.to_arrays()[key].tolist(), key
    assert (batch.sequence, batch.ts_last, batch.update_count) == (
        one_by_one.sequence, one_by_one.ts_last, one_by_one.update_count
    )


@given(st.lists(valid_deltas, max_size=40))
def test_apply_of_order_book_delta_objects_equals_apply_delta(items: list[tuple[int, ...]]) -> None:
    array = rows([(a, s, p, q, 0, n, 1000 + n) for n, (a, s, p, q) in enumerate(items)])
    objects = L2Book("TEST.SIM", 2, 0)
    for delta in deltas_to_objects(array, InstrumentId("TEST.SIM"), 2, 0):
        objects.apply(delta)
    raws = L2Book("TEST.SIM", 2, 0)
    for n, (a, s, p, q) in enumerate(items):
        raws.apply_delta(a, s, p, q, 0, n, 1000 + n)
    assert objects.to_arrays()["bid_price"].tolist() == raws.to_arrays()["bid_price"].tolist()
    assert compiled_levels(objects, BID) == compiled_levels(raws, BID)
    assert compiled_levels(objects, ASK) == compiled_levels(raws, ASK)
    assert (objects.sequence, objects.ts_last, objects.update_count) == (
        raws.sequence, raws.ts_last, raws.update_count
    )


def test_deltas_deep_in_a_book_of_many_levels_match_the_reference() -> None:
    # Deeper than the linear scan at the touch, so the galloping search is exercised too.
    rng = np.random.default_rng(5)
    book, ref = L2Book("TEST.SIM", 0, 0), RefL2(price_precision=0)
    for n in range(20_000):
        side = int(rng.integers(1, 3))
        price = int(rng.integers(0, 700)) * (1 if side == BID else -1) + (10_000 if side == BID else 20_000)
        action = int(rng.choice([ADD, UPDATE, DELETE, FILL]))
        size = int(rng.integers(0, 50))
        book.apply_delta(action, side, price, size, 0, n)
        ref.apply(action, side, price, size, 0, n)
        if n % 997 == 0:
            assert_same_book(book, ref)
    assert_same_book(book, ref)
    assert len(compiled_levels(book, BID)) > 300


# --- Semantics, by example -----------------------------------------------------------------


def test_add_and_update_set_the_level_size_and_zero_removes_it() -> None:
    book = L2Book("TEST.SIM", 2, 0)
    book.apply_delta(ADD, BID, 10_000, 5)
    book.apply_delta(UPDATE, BID, 10_000, 7)
    assert book.size_at(BID, 10_000) == Quantity(7)
    book.apply_delta(UPDATE, BID, 10_000, 0)
    assert book.bids() == []


def test_fill_reduces_a_level_and_removes_it_at_zero() -> None:
    book = L2Book("TEST.SIM", 2, 0)
    book.apply_delta(ADD, ASK, 10_100, 5)
    book.apply_delta(FILL, ASK, 10_100, 2)
    assert book.asks() == [(Price("101.00"), Quantity(3))]
    book.apply_delta(FILL, ASK, 10_100, 9)
    assert book.asks() == []


def test_delete_or_fill_of_a_missing_level_changes_nothing_but_counts() -> None:
    book = L2Book("TEST.SIM", 2, 0)
    book.apply_delta(DELETE, BID, 10_000, 0, sequence=4)
    book.apply_delta(FILL, ASK, 10_000, 3, sequence=5, ts_event=77)
    assert book.bids() == [] and book.asks() == []
    assert (book.sequence, book.ts_last, book.update_count) == (5, 77, 2)


def test_clear_empties_one_side_or_both() -> None:
    book, _ = built([(ADD, BID, 100, 1), (ADD, ASK, 101, 1)])
    book.apply_delta(CLEAR, ASK, 0, 0)
    assert book.best_ask_price() is None and book.best_bid_raw() == 100
    book.clear()
    assert book.best_bid_price() is None
    book, _ = built([(ADD, BID, 100, 1), (ADD, ASK, 101, 1)])
    book.clear(BID)
    assert book.best_bid_raw() is None and book.best_ask_raw() == 101
    book.apply_delta(CLEAR, 0, 0, 0)
    assert book.best_ask_raw() is None
    assert book.update_count == 3  # clear() is not a delta


def test_sequence_and_ts_last_follow_the_last_applied_delta() -> None:
    book = L2Book("TEST.SIM", 2, 0)
    book.apply_delta(ADD, BID, 100, 1, 0, 41, 1_000)
    book.apply_delta(ADD, BID, 101, 1, 0, 42, 2_000)
    with pytest.raises(BookIntegrityError):
        book.apply_delta(ADD, BID, 101, -1, 0, 43, 3_000)
    assert (book.sequence, book.ts_last, book.update_count) == (42, 2_000, 2)


# --- Errors ---------------------------------------------------------------------------------


def test_a_bad_side_is_refused_with_the_instrument_action_price_and_sequence() -> None:
    book = L2Book("ESH4.GLBX", 2, 0)
    with pytest.raises(BookIntegrityError) as caught:
        book.apply_delta(ADD, 0, 480_025, 3, sequence=99)
    message = str(caught.value)
    assert message == "ESH4.GLBX: ADD no side at 4800.25 (sequence 99): side must be 1 (bid) or 2 (ask), got 0"
    assert isinstance(caught.value, ValueError)
    assert (caught.value.instrument_id, caught.value.action, caught.value.price, caught.value.sequence) == (
        "ESH4.GLBX", ADD, 480_025, 99
    )


def test_a_negative_size_and_an_unknown_action_are_refused_and_leave_the_book_unchanged() -> None:
    book, ref = built([(ADD, BID, 100, 1)])
    with pytest.raises(BookIntegrityError, match=r"UPDATE bid at 1\.00 \(sequence 0\): size must be >= 0, got -5"):
        book.apply_delta(UPDATE, BID, 100, -5)
    with pytest.raises(BookIntegrityError, match="unknown action 9"):
        book.apply_delta(9, BID, 100, 5)
    assert_same_book(book, ref)


def test_check_integrity_finds_levels_out_of_order_and_non_positive_sizes() -> None:
    book, _ = built([(ADD, BID, 100, 1), (ADD, BID, 99, 1), (ADD, ASK, 105, 2)])
    book.check_integrity()
    book._overwrite_level(BID, 1, 101, 1)
    with pytest.raises(BookIntegrityError, match=r"TEST\.SIM: book inconsistent after sequence 0: bid levels out of order at 1\.00"):
        book.check_integrity()
    book, _ = built([(ADD, ASK, 105, 2)])
    book._overwrite_level(ASK, 0, 105, 0)
    with pytest.raises(BookIntegrityError, match=r"ask level at 1\.05 has size 0"):
        book.check_integrity()


# --- Batches ---------------------------------------------------------------------------------


def test_apply_batch_reads_strided_reversed_and_read_only_arrays() -> None:
    items = [(ADD, BID, 100 + n, n + 1, 0, n, n) for n in range(10)]
    array = rows(items)
    array.flags.writeable = False
    for view, expected in ((array[::2], items[::2]), (array[::-1], items[::-1])):
        book = L2Book("TEST.SIM", 2, 0)
        assert book.apply_batch(view) == len(expected)
        assert compiled_levels(book, BID) == sorted(((p, q) for _, _, p, q, *_ in expected), reverse=True)
        assert book.sequence == expected[-1][5]
    assert L2Book("TEST.SIM", 2, 0).apply_batch(array[:0]) == 0


def test_apply_batch_accepts_the_same_layout_under_another_dtype_object() -> None:
    layout = np.dtype({"names": ["ts_event", "price", "size", "order_id", "sequence", "action", "side"],
                       "formats": ["<i8", "<i8", "<i8", "<u8", "<u8", "u1", "u1"],
                       "offsets": [0, 16, 24, 32, 40, 48, 49], "itemsize": 56})
    array = np.zeros(1, layout)
    array[0] = (5, 100, 3, 0, 8, ADD, ASK)
    book = L2Book("TEST.SIM", 2, 0)
    assert book.apply_batch(array) == 1
    assert (book.best_ask_raw(), book.sequence, book.ts_last) == (100, 8, 5)


@pytest.mark.parametrize(
    ("array", "error", "message"),
    [
        (np.zeros(3, np.int64), TypeError, "DELTA_DTYPE layout"),
        (np.zeros(3, np.dtype([("price", "<i8")] * 1 + [("pad", "V48")])), TypeError, "field 'ts_event' is missing"),
        (np.zeros(1, np.dtype({"names": ["ts_event", "ts_init", "price", "size", "order_id", "sequence", "action", "side"],
                               "formats": ["<i8", "<i8", "<i4", "<i4", "<u8", "<u8", "u1", "u1"],
                               "offsets": [0, 8, 16, 20, 32, 40, 48, 49], "itemsize": 56})),
         TypeError, "field 'price' is int32 at offset 16, expected int64 at offset 16"),
        (np.zeros((2, 2), DELTA_DTYPE), ValueError, "one-dimensional"),
    ],
)
def test_apply_batch_refuses_an_array_of_another_layout(array: np.ndarray, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        L2Book("TEST.SIM", 2, 0).apply_batch(array)


def test_apply_batch_refuses_what_is_not_a_numpy_array() -> None:
    with pytest.raises(TypeError):
        L2Book("TEST.SIM", 2, 0).apply_batch([(1, 1, 100, 1)])  # type: ignore[arg-type]


# --- Queries -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.just(ADD), st.sampled_from([BID, ASK]), st.integers(9_990, 10_010), st.integers(1, 30)), max_size=30),
    st.integers(9_985, 10_015),
    st.integers(9_985, 10_015),
    st.integers(1, 200),
)
def test_queries_answer_as_the_reference(
    levels: list[tuple[int, int, int, int]], low: int, high: int, quantity: int
) -> None:
    book, ref = built(levels)
    for side in (BID, ASK):
        best = ref.best(side)
        best_price = book.best_bid_price() if side == BID else book.best_ask_price()
        best_size = book.best_bid_size() if side == BID else book.best_ask_size()
        assert best_price == (None if best is None else Price.from_raw(best[0], 2))
        assert best_size == (None if best is None else Quantity.from_raw(best[1], 0))
        assert book.size_at(side, low) == Quantity.from_raw(ref.size_at(side, low), 0)
        assert book.size_at(side, Price.from_raw(low, 2)) == Quantity.from_raw(ref.size_at(side, low), 0)
        assert book.volume_within(side, low, high).raw == ref.volume_within(side, low, high)
        assert book.volume_within(side, Price.from_raw(low, 2), Price.from_raw(high, 2)).raw == ref.volume_within(side, low, high)
        expected = ref.avg_fill_price(side, quantity)
        actual = book.avg_fill_price(side, Quantity.from_raw(quantity, 0))
        assert actual == expected
        assert book.avg_fill_price(side, quantity) == expected
        levels_expected = [(Price.from_raw(p, 2), Quantity.from_raw(q, 0)) for p, q in ref.levels(side)]
        assert (book.bids(3) if side == BID else book.asks(3)) == levels_expected[:3]
        assert (book.bids(100) if side == BID else book.asks(100)) == levels_expected
    spread = ref.spread()
    assert book.spread() == (None if spread is None else Price.from_raw(spread, 2))
    assert book.mid() == ref.mid()
    assert book.is_crossed() == ref.is_crossed()
    assert book.is_locked() == ref.is_locked()


def test_mid_is_exact() -> None:
    book, _ = built([(ADD, BID, 10_025, 1), (ADD, ASK, 10_050, 1)])
    assert book.mid() == Decimal("100.375")
    assert str(book.mid()) == "100.375"
    book.apply_delta(UPDATE, ASK, 10_050, 0)
    book.apply_delta(ADD, ASK, 10_027, 1)
    assert str(book.mid()) == "100.26"
    assert L2Book("X", 2, 0).mid() is None


def test_avg_fill_price_walks_the_opposite_side_of_the_taker() -> None:
    book, _ = built([(ADD, ASK, 10_000, 1), (ADD, ASK, 10_100, 2), (ADD, BID, 9_900, 5)])
    assert book.avg_fill_price(BID, Quantity(3)) == Decimal("100.6666666666666666666666666666667")
    assert book.avg_fill_price(BID, Quantity(2)) == Decimal("100.5")
    assert book.avg_fill_price(BID, Quantity(4)) is None  # too thin
    assert book.avg_fill_price(ASK, Quantity(5)) == Decimal("99")
    assert Fraction(book.avg_fill_price(BID, 2)) == Fraction(201, 2)


def test_avg_fill_price_refuses_bad_quantities_and_sides() -> None:
    book, _ = built([(ADD, ASK, 10_000, 1)])
    with pytest.raises(ValueError, match="quantity must be positive"):
        book.avg_fill_price(BID, Quantity(0))
    with pytest.raises(ValueError, match="more decimals than the book's size precision 0"):
        book.avg_fill_price(BID, Quantity("0.5"))
    assert book.avg_fill_price(BID, Quantity("1.000")) == Decimal("100")
    with pytest.raises(ValueError, match="side must be 1"):
        book.avg_fill_price(0, Quantity(1))
    with pytest.raises(TypeError):
        book.avg_fill_price(BID, Price(1, 0))


def test_prices_of_another_precision_are_compared_exactly() -> None:
    book, _ = built([(ADD, BID, 10_050, 4), (ADD, BID, 10_000, 1)])
    assert book.size_at(BID, Price("100.5")) == Quantity(4)
    assert book.size_at(BID, Price("100.500")) == Quantity(4)
    assert book.size_at(BID, Price("100.505")) == Quantity(0)  # not on the 0.01 grid
    assert book.size_at(BID, 2**70) == Quantity(0)
    # Bounds off the book's grid round inwards: [100.001, 100.504] is [100.01, 100.50].
    assert book.volume_within(BID, Price("100.001"), Price("100.504")) == Quantity(4)
    assert book.volume_within(BID, Price("99.999"), Price("100.499")) == Quantity(1)
    assert book.volume_within(BID, -(2**80), 2**80) == Quantity(5)
    assert book.volume_within(BID, 10_051, 10_000) == Quantity(0)
    with pytest.raises(ValueError, match="side must be 1"):
        book.size_at(3, 100)
    with pytest.raises(TypeError):
        book.size_at(BID, Quantity(1))


def test_crossed_and_locked_books_are_detected() -> None:
    book, _ = built([(ADD, BID, 100, 1), (ADD, ASK, 101, 1)])
    assert not book.is_crossed() and not book.is_locked()
    book.apply_delta(ADD, BID, 101, 1)
    assert book.is_locked() and not book.is_crossed()
    book.apply_delta(ADD, BID, 102, 1)
    assert book.is_crossed() and not book.is_locked()
    assert book.spread() == Price("-0.01")
    book.check_integrity()  # a crossed book is not corrupt


def test_sums_and_spreads_beyond_int64_raise_overflow_error() -> None:
    book, _ = built([(ADD, BID, 1, INT64_MAX), (ADD, BID, 2, INT64_MAX)])
    with pytest.raises(OverflowError):
        book.volume_within(BID, 0, 10)
    assert book.avg_fill_price(ASK, INT64_MAX) == Decimal("0.02")
    book, _ = built([(ADD, BID, -(2**63), 1), (ADD, ASK, INT64_MAX, 1)])
    with pytest.raises(OverflowError, match="spread"):
        book.spread()
    assert book.mid() == Decimal("-0.005")


# --- Export -----------------------------------------------------------------------------------


def test_to_arrays_lists_levels_best_first_with_depth() -> None:
    book, _ = built([(ADD, BID, 100, 1), (ADD, BID, 99, 2), (ADD, BID, 98, 3), (ADD, ASK, 103, 4)])
    arrays = book.to_arrays()
    assert set(arrays) == {"bid_price", "bid_size", "bid_count", "ask_price", "ask_size", "ask_count"}
    assert arrays["bid_price"].tolist() == [100, 99, 98]
    assert arrays["bid_size"].tolist() == [1, 2, 3]
    assert arrays["bid_count"].tolist() == [0, 0, 0]
    assert arrays["ask_price"].dtype == np.int64
    top = book.to_arrays(depth=2)
    assert top["bid_price"].tolist() == [100, 99] and top["ask_price"].tolist() == [103]
    with pytest.raises(ValueError, match="depth must be >= 0"):
        book.to_arrays(-1)


def test_to_pandas_has_one_row_per_level() -> None:
    book, _ = built([(ADD, BID, 10_000, 1), (ADD, BID, 9_950, 2), (ADD, ASK, 10_025, 4)])
    frame = book.to_pandas()
    expected = pd.DataFrame(
        {
            "side": pd.Categorical(["bid", "bid", "ask"], ["bid", "ask"]),
            "level": [0, 1, 0],
            "price": [100.0, 99.5, 100.25],
            "size": [1.0, 2.0, 4.0],
            "count": [0, 0, 0],
        }
    )
    pd.testing.assert_frame_equal(frame, expected)
    assert len(book.to_pandas(depth=1)) == 2


# --- Construction ----------------------------------------------------------------------------


def test_construction_validates_its_arguments() -> None:
    book = L2Book(InstrumentId("BTCUSDT.BINANCE"), 1, 3)
    assert (book.instrument_id, book.price_precision, book.size_precision) == ("BTCUSDT.BINANCE", 1, 3)
    assert (book.sequence, book.ts_last, book.update_count) == (0, 0, 0)
    with pytest.raises(ValueError, match=r"price_precision must be 0\.\.9, got 10"):
        L2Book("X", 10, 0)
    with pytest.raises(TypeError, match="size_precision must be an int"):
        L2Book("X", 2, 1.5)
    with pytest.raises(TypeError, match="instrument_id must be a str"):
        L2Book(5, 2, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="OrderBook is abstract"):
        OrderBook("X", 2, 0)


def test_the_attributes_are_read_only() -> None:
    book = L2Book("X", 2, 0)
    with pytest.raises(AttributeError):
        book.sequence = 5  # type: ignore[misc]


def test_every_book_is_an_order_book_and_enums_are_accepted() -> None:
    assert all(issubclass(kind, OrderBook) for kind in (L1Book, L2Book, L3Book))
    book = L2Book("X", 2, 0)
    book.apply_delta(BookAction.ADD, OrderSide.SELL, 100, 1)
    assert book.best_ask_raw() == 100
    assert repr(book) == "L2Book('X', bid=None, ask=1.00 x 1, levels=0/1, updates=1)"


def test_apply_rescales_a_delta_written_with_fewer_decimals_and_refuses_more():
    from zq.model import BookAction, InstrumentId, OrderBookDelta, OrderSide, Price, Quantity

    book = L2Book("X.Y", 2, 0)
    instrument_id = InstrumentId("X.Y")

    def delta(price: str) -> OrderBookDelta:
        return OrderBookDelta(
            instrument_id, BookAction.ADD, OrderSide.BUY, Price.from_str(price),
            Quantity.from_str("3"), 0, 0, 1, 1, 1,
        )

    book.apply(delta("101"))  # precision 0: 101 -> raw 10100 at precision 2
    assert book.best_bid_raw() == 10100
    book.apply(delta("100.500"))  # precision 3 but exact at 2
    assert book.size_at(1, Price.from_str("100.50")) == Quantity.from_str("3")
    with pytest.raises(BookIntegrityError, match="more than 2 decimals"):
        book.apply(delta("100.505"))
