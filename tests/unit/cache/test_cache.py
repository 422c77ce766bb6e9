from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.model.order_helpers import apply_all, init_event, make_event
from zq.cache import Cache, CacheError
from zq.model.enums import OrderSide, OrderStatus, OrderType
from zq.model.events import (
    ORDER_EVENT_TYPES,
    OrderAccepted,
    OrderFilled,
    OrderInitialized,
    OrderSubmitted,
    OrderUpdated,
)
from zq.model.identifiers import (
    ClientOrderId,
    InstrumentId,
    StrategyId,
    TradeId,
    Venue,
    VenueOrderId,
)
from zq.model.orders import DuplicateFillError, InvalidStateTransition, Order, OverfillError
from zq_core.fixed import Quantity

INSTRUMENTS = [
    InstrumentId("BTCUSDT.BINANCE"),
    InstrumentId("ETHUSDT.BINANCE"),
    InstrumentId("ESH4.GLBX"),
]
STRATEGIES = [StrategyId("A-001"), StrategyId("B-001")]
SIDES = [OrderSide.BUY, OrderSide.SELL]
EVENT_KINDS = [kind for kind in ORDER_EVENT_TYPES if kind is not OrderInitialized]

# Written out here, independently of zq.model.orders, as the reference.
OPEN = {"ACCEPTED", "TRIGGERED", "PENDING_UPDATE", "PENDING_CANCEL", "PARTIALLY_FILLED"}
INFLIGHT = {"SUBMITTED", "PENDING_UPDATE", "PENDING_CANCEL"}
CLOSED = {"DENIED", "REJECTED", "CANCELED", "EXPIRED", "FILLED"}


def new_order(n: int, instrument: int = 0, strategy: int = 0, side: int = 0) -> Order:
    return Order.create(
        init_event(
            coid=f"O-{n}",
            order_type=OrderType.STOP_LIMIT,
            instrument=INSTRUMENTS[instrument],
            strategy=STRATEGIES[strategy],
            side=SIDES[side],
        )
    )


def ids(orders):
    return [o.client_order_id for o in orders]


def test_lookup_by_client_order_id_returns_the_same_order():
    cache = Cache()
    order = new_order(1)
    cache.add_order(order)
    assert cache.order(ClientOrderId("O-1")) is order
    assert cache.order(ClientOrderId("O-2")) is None
    assert cache.order_exists(ClientOrderId("O-1"))


def test_adding_an_order_twice_is_refused():
    cache = Cache()
    cache.add_order(new_order(1))
    with pytest.raises(CacheError, match="O-1 is already in the cache"):
        cache.add_order(new_order(1))


def test_updating_an_unknown_order_is_refused():
    with pytest.raises(CacheError, match="O-9 is not in the cache"):
        Cache().update_order(new_order(9))


def test_the_latest_order_is_refused_by_another_cache_and_after_a_reset():
    # update_order finds the order it added or updated last without a look-up; only in the
    # cache that holds it, and not once a reset forgot it.
    cache, other = Cache(), Cache()
    order = new_order(1)
    cache.add_order(order)
    with pytest.raises(CacheError, match="O-1 is not in the cache"):
        other.update_order(order)
    apply_all(order, [OrderSubmitted])
    cache.update_order(order)
    cache.reset()
    with pytest.raises(CacheError, match="O-1 is not in the cache"):
        cache.update_order(order)
    assert cache.orders_inflight() == []


def test_order_moves_from_inflight_to_open_to_closed():
    cache = Cache()
    order = new_order(1)
    cache.add_order(order)
    assert cache.orders_open() == [] and cache.orders_inflight() == []
    apply_all(order, [OrderSubmitted])
    cache.update_order(order)
    assert ids(cache.orders_inflight()) == ["O-1"] and cache.is_order_inflight(ClientOrderId("O-1"))
    apply_all(order, [OrderAccepted])
    cache.update_order(order)
    assert ids(cache.orders_open()) == ["O-1"] and cache.orders_inflight() == []
    assert cache.venue_order_id(ClientOrderId("O-1")) == VenueOrderId("V-O-1")
    assert cache.client_order_id(VenueOrderId("V-O-1")) == ClientOrderId("O-1")
    order.apply(make_event(OrderFilled, order, last_qty=Quantity.from_str("10")))
    cache.update_order(order)
    assert cache.orders_open() == [] and ids(cache.orders_closed()) == ["O-1"]


def test_order_added_past_initialized_is_indexed_by_its_state_and_venue_order_id():
    # A rebuilt order (from its events) can be added already working at the venue.
    cache = Cache()
    order = apply_all(new_order(1), [OrderSubmitted, OrderAccepted])
    cache.add_order(order)
    assert ids(cache.orders_open()) == ["O-1"] and cache.orders_inflight() == []
    assert cache.client_order_id(VenueOrderId("V-O-1")) == ClientOrderId("O-1")
    assert cache.check_integrity() == []


def test_changed_venue_order_id_replaces_the_old_mapping():
    cache = Cache()
    order = new_order(1)
    cache.add_order(order)
    apply_all(order, [OrderSubmitted, OrderAccepted])
    cache.update_order(order)
    order.apply(make_event(OrderUpdated, order, venue_order_id=VenueOrderId("V-NEW")))
    cache.update_order(order)
    assert cache.client_order_id(VenueOrderId("V-O-1")) is None
    assert cache.client_order_id(VenueOrderId("V-NEW")) == ClientOrderId("O-1")


def test_queries_filter_by_strategy_instrument_venue_and_side_in_order_of_entering_the_state():
    cache = Cache()
    orders = [new_order(n, instrument=n % 3, strategy=n % 2, side=(n // 2) % 2) for n in range(12)]
    for order in orders:
        cache.add_order(order)
    for order in reversed(orders):  # accepted in reverse: open orders come out in reverse
        apply_all(order, [OrderSubmitted, OrderAccepted])
        cache.update_order(order)
    assert ids(cache.orders_open()) == ids(reversed(orders))
    assert ids(cache.orders()) == ids(orders)
    binance = cache.orders_open(
        venue=Venue("BINANCE"), strategy_id=STRATEGIES[1], side=OrderSide.SELL
    )
    expected = [
        o
        for o in reversed(orders)
        if o.instrument_id.venue == "BINANCE"
        and o.strategy_id == STRATEGIES[1]
        and o.side is OrderSide.SELL
    ]
    assert binance == expected and expected
    assert cache.orders(instrument_id=INSTRUMENTS[2]) == [
        o for o in orders if o.instrument_id == INSTRUMENTS[2]
    ]
    assert cache.orders_open_count(venue=Venue("GLBX")) == 4
    assert cache.orders_open(venue=Venue("NOWHERE")) == []


def test_reset_forgets_everything():
    cache = Cache()
    order = new_order(1)
    cache.add_order(order)
    cache.reset()
    assert cache.order(ClientOrderId("O-1")) is None and cache.orders() == []
    cache.add_order(new_order(1))


def same(actual: list[Order], expected: list[Order]) -> bool:
    """Equal as sets, and no order reported twice (the order of results is tested apart)."""
    return len(actual) == len(set(ids(actual))) and set(ids(actual)) == set(ids(expected))


def reference_check(cache: Cache, orders: list[Order]) -> None:
    """Compare every index and query with a brute-force recomputation."""
    by_status = {
        name: [o for o in orders if o.status.name in names]
        for name, names in (("open", OPEN), ("inflight", INFLIGHT), ("closed", CLOSED))
    }
    assert same(cache.orders_open(), by_status["open"])
    assert same(cache.orders_inflight(), by_status["inflight"])
    assert same(cache.orders_closed(), by_status["closed"])
    for venue in (Venue("BINANCE"), Venue("GLBX")):
        for strategy in STRATEGIES:
            for side in SIDES:
                expected = [
                    o
                    for o in by_status["open"]
                    if o.instrument_id.venue == venue
                    and o.strategy_id == strategy
                    and o.side is side
                ]
                assert same(
                    cache.orders_open(venue=venue, strategy_id=strategy, side=side), expected
                )
    for instrument in INSTRUMENTS:
        assert cache.orders(instrument_id=instrument) == [
            o for o in orders if o.instrument_id == instrument
        ]
        assert same(
            cache.orders_closed(instrument_id=instrument),
            [o for o in by_status["closed"] if o.instrument_id == instrument],
        )
    for order in orders:
        if order.venue_order_id is not None:
            assert cache.client_order_id(order.venue_order_id) == order.client_order_id
            assert cache.venue_order_id(order.client_order_id) == order.venue_order_id
        assert cache.order(order.client_order_id) is order
    assert cache.check_integrity() == []


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=8
    ),
    steps=st.lists(
        st.tuples(st.integers(0, 7), st.sampled_from(EVENT_KINDS), st.integers(1, 6)), max_size=60
    ),
)
def test_indices_equal_a_recomputation_after_any_sequence_of_valid_events(specs, steps):
    cache = Cache()
    orders = [new_order(n, *spec) for n, spec in enumerate(specs)]
    for order in orders:
        cache.add_order(order)
    applied = 0
    for index, kind, quantity in steps:
        order = orders[index % len(orders)]
        extra = {}
        if kind is OrderFilled:
            extra["last_qty"] = Quantity(quantity, 0)
        if kind is OrderUpdated:
            extra["quantity"] = order.quantity + Quantity(quantity, 0)
        if kind is OrderAccepted and order.venue_order_id is not None:
            extra["venue_order_id"] = VenueOrderId(f"{order.venue_order_id}-{quantity}")
        try:
            order.apply(make_event(kind, order, **extra))
        except (InvalidStateTransition, OverfillError, DuplicateFillError):
            continue  # not a valid event in this state: the order is unchanged
        cache.update_order(order)
        applied += 1
        reference_check(cache, orders)
    reference_check(cache, orders)
    assert {o.status for o in orders} <= set(OrderStatus)


def filtered_queries(cache: Cache) -> list[list[ClientOrderId]]:
    """Every filtered query of every category, as id lists (their order matters)."""
    results = []
    for query in (cache.orders, cache.orders_open, cache.orders_inflight, cache.orders_closed):
        for venue in (None, Venue("BINANCE"), Venue("GLBX")):
            for instrument in (None, *INSTRUMENTS):
                for strategy in (None, *STRATEGIES):
                    results.append(
                        ids(query(venue=venue, instrument_id=instrument, strategy_id=strategy))
                    )
    return results


@settings(max_examples=100, deadline=None)
@given(
    specs=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=8
    ),
    steps=st.lists(
        st.tuples(st.integers(0, 7), st.sampled_from(EVENT_KINDS), st.integers(1, 6)), max_size=60
    ),
)
def test_filtered_queries_first_asked_late_equal_those_asked_all_along(specs, steps):
    # The keyed indices are built by the first filtered query: one cache is queried after
    # every event (keyed early), the other only at the end (keyed from its ids then). Both
    # must give the same orders in the same order (the order they entered the state).
    early, late = Cache(), Cache()
    pairs = [(new_order(n, *spec), new_order(n, *spec)) for n, spec in enumerate(specs)]
    for mine, theirs in pairs:
        early.add_order(mine)
        late.add_order(theirs)
    filtered_queries(early)
    for index, kind, quantity in steps:
        for cache, order in zip((early, late), pairs[index % len(pairs)], strict=True):
            extra = {}
            if kind is OrderFilled:
                extra["last_qty"] = Quantity(quantity, 0)
                extra["trade_id"] = TradeId(f"T-{len(order.events)}")
            if kind is OrderUpdated:
                extra["quantity"] = order.quantity + Quantity(quantity, 0)
            try:
                order.apply(make_event(kind, order, **extra))
            except (InvalidStateTransition, OverfillError, DuplicateFillError):
                continue
            cache.update_order(order)
        filtered_queries(early)
    assert filtered_queries(late) == filtered_queries(early)
    assert late.check_integrity() == [] and early.check_integrity() == []
    reference_check(late, [theirs for _, theirs in pairs])
