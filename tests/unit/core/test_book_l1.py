"""Tests of zq_core.book.L1Book (top of book) against the reference."""

from __future__ import annotations

from decimal import Decimal

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
    RefL1,
    assert_same_book,
)
from zq.data.arrays import DELTA_DTYPE
from zq_core.book import BookIntegrityError, L1Book
from zq_core.fixed import Price, Quantity

deltas = st.tuples(
    st.sampled_from([ADD] * 6 + [UPDATE] * 10 + [DELETE] * 4 + [FILL] * 4 + [CLEAR, 0, 6]),
    st.sampled_from([BID, ASK] * 15 + [0, 3]),
    st.integers(9_995, 10_005),
    st.integers(-1, 20),
    st.just(0),
    st.integers(0, 2**64 - 1),
    st.integers(-(2**63), 2**63 - 1),
)
quotes = st.tuples(
    st.integers(9_990, 10_000), st.integers(0, 9), st.integers(10_000, 10_010), st.integers(0, 9),
    st.integers(0, 10**18),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(deltas, quotes), min_size=5, max_size=80))
def test_every_delta_and_quote_leaves_the_same_top_as_the_reference(items: list[tuple[int, ...]]) -> None:
    book, ref = L1Book("TEST.SIM", 2, 0), RefL1(price_precision=2)
    for item in items:
        if len(item) == 5:
            book.apply_quote(*item)
            ref.apply_quote(*item)
        else:
            try:
                ref.apply(*item)
            except RefError:
                with pytest.raises(BookIntegrityError):
                    book.apply_delta(*item)
            else:
                book.apply_delta(*item)
        assert_same_book(book, ref)


@settings(max_examples=100, deadline=None)
@given(st.lists(deltas, max_size=60))
def test_a_batch_leaves_the_same_top_as_one_call_per_delta(items: list[tuple[int, ...]]) -> None:
    valid = []
    for item in items:
        try:
            RefL1().apply(*item)
        except RefError:
            continue
        valid.append(item)
    array = np.zeros(len(valid), DELTA_DTYPE)
    for i, (action, side, price, size, order_id, sequence, ts_event) in enumerate(valid):
        array[i] = (ts_event, 0, price, size, order_id, sequence, action, side, 0, b"")
    batch, one_by_one = L1Book("TEST.SIM", 2, 0), L1Book("TEST.SIM", 2, 0)
    assert batch.apply_batch(array) == len(valid)
    for item in valid:
        one_by_one.apply_delta(*item)
    assert (batch.bids(), batch.asks(), batch.sequence, batch.ts_last, batch.update_count) == (
        one_by_one.bids(), one_by_one.asks(), one_by_one.sequence, one_by_one.ts_last,
        one_by_one.update_count,
    )


def test_a_better_price_replaces_the_top_and_a_deeper_one_is_ignored() -> None:
    book = L1Book("TEST.SIM", 2, 0)
    book.apply_delta(ADD, BID, 10_000, 5)
    book.apply_delta(ADD, BID, 9_900, 7)       # deeper: not kept
    assert book.bids() == [(Price("100.00"), Quantity(5))]
    book.apply_delta(UPDATE, BID, 10_010, 2)   # better: the new top
    assert book.bids(10) == [(Price("100.10"), Quantity(2))]
    book.apply_delta(FILL, BID, 10_010, 1)
    assert book.best_bid_size() == Quantity(1)
    book.apply_delta(DELETE, BID, 10_010, 0)   # the level below is unknown: the side empties
    assert book.best_bid_price() is None
    assert book.update_count == 5


def test_apply_quote_sets_both_sides_and_zero_size_empties_one() -> None:
    book = L1Book("TEST.SIM", 2, 0)
    book.apply_quote(10_000, 3, 10_002, 4, ts_event=99)
    assert (book.best_bid_raw(), book.best_ask_raw(), book.mid(), book.spread()) == (
        10_000, 10_002, Decimal("100.01"), Price("0.02")
    )
    assert (book.ts_last, book.update_count, book.sequence) == (99, 1, 0)
    book.apply_quote(10_001, 0, 10_002, 1)
    assert book.best_bid_price() is None and book.best_ask_size() == Quantity(1)
    with pytest.raises(ValueError, match="quote sizes must be >= 0"):
        book.apply_quote(1, -1, 2, 1)


def test_the_queries_work_on_the_top_of_book() -> None:
    book = L1Book("TEST.SIM", 2, 0)
    book.apply_quote(10_000, 3, 10_000, 4)
    assert book.is_locked() and not book.is_crossed()
    assert book.avg_fill_price(BID, Quantity(4)) == Decimal("100")
    assert book.avg_fill_price(BID, Quantity(5)) is None
    assert book.volume_within(ASK, Price(99), Price(101)) == Quantity(4)
    assert book.to_arrays()["ask_size"].tolist() == [4]
    book.check_integrity()
    book.clear(ASK)
    assert book.asks() == [] and book.bids() == [(Price(100), Quantity(3))]


def test_a_bad_side_is_refused_with_the_instrument() -> None:
    with pytest.raises(BookIntegrityError, match=r"^EURUSD.SIM: UPDATE side 7 at 1.00 \(sequence 3\): side must be 1"):
        L1Book("EURUSD.SIM", 2, 0).apply_delta(UPDATE, 7, 100, 1, sequence=3)
