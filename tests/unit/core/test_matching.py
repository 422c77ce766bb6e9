"""zq_core.matching.MatchingCore, raw ints in and reports out, against a Python oracle."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zq_core.book import L1Book
from zq_core.matching import (
    REPORT_ACCEPTED,
    REPORT_CANCELED,
    REPORT_FILLED,
    REPORT_REJECTED,
    MatchingCore,
    SimOrder,
)

BUY, SELL = 1, 2
BID, ASK = 1, 2
ADD, UPDATE = 1, 2
MARKET, LIMIT = 1, 2
GTC, IOC = 1, 2


def l2_core(**kwargs: object) -> MatchingCore:
    return MatchingCore("X.SIM", 2, 2, 0, 1, **kwargs)  # type: ignore[arg-type]


def oracle_walk(asks: dict[int, int], quantity: int, limit: int | None) -> list[tuple[int, int]]:
    """The fills (quantity, price) of a buy taking from ``asks``, best first."""
    fills = []
    for price in sorted(asks):
        if quantity == 0 or (limit is not None and price > limit):
            break
        take = min(quantity, asks[price])
        fills.append((take, price))
        quantity -= take
    return fills


@settings(max_examples=200, deadline=None)
@given(
    asks=st.dictionaries(st.integers(100, 130), st.integers(1, 20), max_size=8),
    quantity=st.integers(1, 100),
    limit=st.none() | st.integers(95, 135),
)
def test_buy_takes_the_asks_like_the_oracle(
    asks: dict[int, int], quantity: int, limit: int | None
) -> None:
    core = l2_core()
    for price, size in asks.items():
        core.apply_delta(ADD, ASK, price, size)
    order_type = MARKET if limit is None else LIMIT
    core.submit(1, BUY, order_type, IOC, quantity, price=limit, ts=1)
    reports = core.drain()
    fills = [(report[3], report[4]) for report in reports if report[0] == REPORT_FILLED]
    assert fills == oracle_walk(asks, quantity, limit)
    assert reports[0][0] == REPORT_ACCEPTED
    if sum(quantity for quantity, _ in fills) < quantity:
        assert reports[-1][0] == REPORT_CANCELED


@settings(max_examples=100, deadline=None)
@given(
    asks=st.dictionaries(st.integers(100, 130), st.integers(1, 20), min_size=1, max_size=8),
    first=st.integers(1, 60),
    second=st.integers(1, 60),
)
def test_two_orders_never_take_more_than_the_book_shows(
    asks: dict[int, int], first: int, second: int
) -> None:
    core = l2_core()
    for price, size in asks.items():
        core.apply_delta(ADD, ASK, price, size)
    core.submit(1, BUY, MARKET, IOC, first, ts=1)
    core.submit(2, BUY, MARKET, IOC, second, ts=2)
    filled = sum(report[3] for report in core.drain() if report[0] == REPORT_FILLED)
    assert filled == min(first + second, sum(asks.values()))


def test_reports_are_plain_tuples_of_kind_id_ts_quantity_price_maker_reason() -> None:
    core = l2_core()
    core.apply_delta(ADD, ASK, 101, 4)
    core.submit(7, BUY, LIMIT, GTC, 2, price=101, ts=3)
    assert core.drain() == [
        (REPORT_ACCEPTED, 7, 3, 0, 0, 0, None),
        (REPORT_FILLED, 7, 3, 2, 101, False, None),
    ]
    assert core.drain() == []


def test_submit_without_a_limit_price_is_rejected_with_a_reason() -> None:
    core = l2_core()
    core.submit(1, BUY, LIMIT, GTC, 2, ts=1)
    (report,) = core.drain()
    assert report[0] == REPORT_REJECTED and report[6] == "a limit order needs a price"


def test_available_is_displayed_less_what_we_took() -> None:
    core = l2_core()
    core.apply_delta(ADD, ASK, 101, 4)
    core.submit(1, BUY, MARKET, IOC, 3, ts=1)
    assert core.available(ASK, 101) == 1
    core.apply_delta(UPDATE, ASK, 101, 4, ts=2)
    assert core.available(ASK, 101) == 4


def test_sim_order_cannot_be_built_from_python() -> None:
    with pytest.raises(TypeError, match="internal"):
        SimOrder()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"book_type": 4}, "book_type"),
        ({"tick": 0}, "tick"),
        ({"queue_model": 3}, "queue_model"),
        ({"bar_sweep": "hlc"}, "bar_sweep"),
    ],
)
def test_bad_configuration_is_refused_with_a_message(
    kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "book_type": 2,
        "price_precision": 2,
        "size_precision": 0,
        "tick": 1,
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        MatchingCore("X.SIM", **arguments)  # type: ignore[arg-type]


def test_quotes_feed_only_an_l1_core() -> None:
    with pytest.raises(ValueError, match="L1"):
        l2_core().apply_quote(99, 1, 101, 1, 0)


def test_delta_batch_applies_every_row() -> None:
    np = pytest.importorskip("numpy")
    from zq.data.arrays import DELTA_DTYPE

    rows = np.zeros(3, dtype=DELTA_DTYPE)
    rows["action"] = ADD
    rows["side"] = ASK
    rows["price"] = [101, 102, 103]
    rows["size"] = 5
    core = l2_core()
    assert core.apply_deltas(rows) == 3
    assert core.available(ASK, 103) == 5


def oracle_conservative_queue(
    displayed: int, quantity: int, events: list[tuple[str, int]]
) -> list[int]:
    """The fills of one resting buy under the conservative model, by hand.

    ``("trade", size)`` trades at our price; ``("level", size)`` is the new displayed size
    at our price. A trade first takes the volume ahead; a level update caps it.
    """
    ahead = displayed
    fills: list[int] = []
    for kind, size in events:
        if kind == "trade":
            past = max(0, size - ahead)
            ahead = max(0, ahead - size)
            fill = min(quantity - sum(fills), past)
            if fill:
                fills.append(fill)
        else:
            ahead = min(ahead, size)
    return fills


@settings(max_examples=200, deadline=None)
@given(
    displayed=st.integers(1, 30),
    quantity=st.integers(1, 30),
    events=st.lists(
        st.tuples(st.sampled_from(["trade", "level"]), st.integers(1, 30)), max_size=12
    ),
)
def test_conservative_queue_fills_like_the_oracle(
    displayed: int, quantity: int, events: list[tuple[str, int]]
) -> None:
    core = l2_core()
    core.apply_delta(ADD, BID, 100, displayed)
    core.submit(1, BUY, LIMIT, GTC, quantity, price=100, ts=1)
    core.drain()
    for ts, (kind, size) in enumerate(events, start=2):
        if kind == "trade":
            core.apply_trade(100, size, SELL, ts)
        else:
            core.apply_delta(UPDATE, BID, 100, size, 0, ts)
    fills = [report[3] for report in core.drain() if report[0] == REPORT_FILLED]
    assert fills == oracle_conservative_queue(displayed, quantity, events)


def _fills(core: MatchingCore) -> list[tuple[int, int, int]]:
    return [(r[1], r[3], r[4]) for r in core.drain() if r[0] == REPORT_FILLED]


def test_a_trade_print_fills_the_better_priced_order_first() -> None:
    # Two resting bids, the worse one first in time; a sell prints at 100 for 6. The bid at
    # 101 is traded through and fills first (5); the bid at 100 gets what is left (1): no
    # level was displayed at 100 when it joined, so nothing is ahead of it.
    core = l2_core()
    core.apply_delta(ADD, BID, 99, 10)
    core.apply_delta(ADD, ASK, 102, 10)
    core.submit(1, BUY, LIMIT, GTC, 5, price=100, ts=1)
    core.submit(2, BUY, LIMIT, GTC, 5, price=101, ts=2)
    core.drain()
    core.apply_trade(100, 6, aggressor=SELL, ts=3)
    assert _fills(core) == [(2, 5, 101), (1, 1, 100)]


def test_a_crossing_book_fills_the_better_priced_order_first() -> None:
    core = l2_core()
    core.apply_delta(ADD, ASK, 102, 10)
    core.submit(1, BUY, LIMIT, GTC, 5, price=100, ts=1)
    core.submit(2, BUY, LIMIT, GTC, 5, price=101, ts=2)
    core.drain()
    core.apply_delta(ADD, ASK, 100, 6, ts=3)  # an ask at 100 for 6 crosses both bids
    assert _fills(core) == [(2, 5, 101), (1, 1, 100)]


def test_a_modified_price_moves_an_order_in_the_matching_priority() -> None:
    core = l2_core()
    core.apply_delta(ADD, ASK, 103, 10)
    core.submit(1, BUY, LIMIT, GTC, 5, price=100, ts=1)
    core.submit(2, BUY, LIMIT, GTC, 5, price=101, ts=2)
    core.submit(3, BUY, LIMIT, GTC, 5, price=101, ts=3)  # same price: behind order 2 in time
    core.modify(1, price=102, ts=4)  # now the best bid
    core.drain()
    core.apply_delta(ADD, ASK, 100, 12, ts=5)
    assert _fills(core) == [(1, 5, 102), (2, 5, 101), (3, 2, 101)]


def test_a_modified_order_s_queue_follows_its_new_level_only() -> None:
    # The core skips its walk over the orders for a delta at a level where none rests: after
    # a modify, the order's queue must follow deltas at its new price and ignore its old one.
    core = l2_core()
    core.apply_delta(ADD, BID, 100, 5)
    core.apply_delta(ADD, BID, 99, 7)
    core.apply_delta(ADD, ASK, 101, 4)
    core.submit(1, BUY, LIMIT, GTC, 1, price=99, ts=1)
    assert core.order(1).ahead == 7  # the displayed size at 99 when it joined
    core.apply_delta(UPDATE, BID, 99, 3, 0, 2)
    assert core.order(1).ahead == 3  # capped at the new displayed size
    core.modify(1, price=100, ts=3)
    assert core.order(1).ahead == 5  # joined the back of 100
    core.apply_delta(UPDATE, BID, 99, 1, 0, 4)  # its old level: no change
    assert core.order(1).ahead == 5
    core.apply_delta(UPDATE, BID, 100, 2, 0, 5)
    assert core.order(1).ahead == 2
    core.drain()
    core.apply_trade(100, 3, aggressor=SELL, ts=6)  # takes the 2 ahead, then 1 of ours
    assert _fills(core) == [(1, 1, 100)]


def test_a_sell_and_a_buy_fill_when_the_book_reaches_either() -> None:
    # Both sides rest: an ask brought down to the buy's price fills the buy only, a bid
    # raised to the sell's price then fills the sell (maker, at their own prices).
    core = l2_core()
    core.apply_delta(ADD, BID, 98, 5)
    core.apply_delta(ADD, ASK, 104, 5)
    core.submit(1, BUY, LIMIT, GTC, 2, price=100, ts=1)
    core.submit(2, SELL, LIMIT, GTC, 3, price=102, ts=2)
    core.drain()
    core.apply_delta(ADD, ASK, 101, 9, 0, 3)  # above the buy: nothing
    core.apply_delta(ADD, BID, 101, 9, 0, 4)  # below the sell: nothing
    assert _fills(core) == []
    core.apply_delta(ADD, ASK, 100, 9, 0, 5)
    assert _fills(core) == [(1, 2, 100)]
    core.apply_delta(ADD, BID, 103, 9, 0, 6)
    assert _fills(core) == [(2, 3, 102)]


@settings(max_examples=100, deadline=None)
@given(
    trades=st.lists(
        st.tuples(st.integers(-5, 5), st.integers(0, 3) | st.integers(0, 2**62)), max_size=12
    )
)
def test_an_l1_core_built_from_trades_holds_each_trade_as_the_quote_an_l1_book_would(
    trades: list[tuple[int, int]],
) -> None:
    # The core's own quote of a trade (compiled inline for two levels of positive size)
    # against L1Book.apply_quote, the reference: sizes of 0 empty the book, then refill it.
    core = MatchingCore("X.SIM", 1, 2, 2, 1)
    book = L1Book("X.SIM", 2, 2)
    for ts, (price, size) in enumerate(trades, start=1):
        core.apply_trade(price, size, SELL, ts)
        book.apply_quote(price, size, price, size, ts)
        assert _top(core.book) == _top(book)


def _top(book: L1Book) -> tuple[object, ...]:
    return (
        book.best_bid_raw(),
        book.best_bid_size(),
        book.best_ask_raw(),
        book.best_ask_size(),
        book.ts_last,
        book.update_count,
    )
