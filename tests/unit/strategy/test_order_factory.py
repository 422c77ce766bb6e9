"""The order factory: every order type, ids unique and deterministic, never reused."""

from __future__ import annotations

import pickle
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.execution.harness import SIM, P, Q
from zq.common.clock import TestClock
from zq.model.enums import OrderSide, OrderType, TimeInForce, TriggerType
from zq.model.events import OrderInitialized
from zq.model.identifiers import ClientOrderId, StrategyId, TraderId
from zq.model.orders import InvalidOrder, LimitOrder, MarketOrder, Order
from zq.strategy import OrderFactory

DAY_2024_03_01_093000 = 1_709_285_400_000_000_000


def factory(clock: TestClock | None = None) -> OrderFactory:
    return OrderFactory(
        TraderId("TRADER-007"),
        StrategyId("EMACross-042"),
        clock or TestClock(DAY_2024_03_01_093000),
    )


def test_client_order_ids_carry_the_date_the_trader_and_strategy_tags_and_a_count() -> None:
    f = factory()
    ids = [f.market(SIM, OrderSide.BUY, Q("1")).client_order_id for _ in range(3)]
    assert ids == [
        "O-20240301-093000-007-042-1",
        "O-20240301-093000-007-042-2",
        "O-20240301-093000-007-042-3",
    ]


def test_two_factories_on_the_same_clock_make_the_same_ids() -> None:
    first, second = factory(), factory()

    def make(f):
        return [f.limit(SIM, OrderSide.SELL, Q("1"), P("1.00")).client_order_id for _ in range(5)]

    assert make(first) == make(second)


def test_ids_stay_unique_across_a_thousand_orders_and_time() -> None:
    clock = TestClock(DAY_2024_03_01_093000)
    f = factory(clock)
    ids = set()
    for i in range(1_000):
        clock.set_time(DAY_2024_03_01_093000 + i * 10_000_000)
        ids.add(f.market(SIM, OrderSide.BUY, Q("1")).client_order_id)
    assert len(ids) == 1_000


def test_the_count_only_grows() -> None:
    f = factory()
    f.set_count(10)
    assert f.market(SIM, OrderSide.BUY, Q("1")).client_order_id.endswith("-11")
    with pytest.raises(ValueError, match="would reuse ids"):
        f.set_count(5)


def test_every_order_type_is_built_with_its_options() -> None:
    f = factory()
    expire = DAY_2024_03_01_093000 + 60_000_000_000
    orders = [
        f.market(SIM, OrderSide.BUY, Q("1"), time_in_force=TimeInForce.IOC, reduce_only=True),
        f.limit(
            SIM,
            OrderSide.BUY,
            Q("1"),
            P("10.00"),
            time_in_force=TimeInForce.GTD,
            expire_time_ns=expire,
            post_only=True,
            display_quantity=Q("0.5"),
        ),
        f.stop_market(SIM, OrderSide.SELL, Q("1"), P("9.00")),
        f.stop_limit(SIM, OrderSide.SELL, Q("1"), P("8.90"), P("9.00")),
        f.market_if_touched(SIM, OrderSide.BUY, Q("1"), P("9.50")),
        f.limit_if_touched(SIM, OrderSide.BUY, Q("1"), P("9.60"), P("9.50")),
    ]
    assert [o.order_type for o in orders] == list(OrderType)
    assert orders[0].reduce_only and orders[0].time_in_force is TimeInForce.IOC
    assert orders[1].post_only and orders[1].expire_time_ns == expire
    assert orders[3].price == P("8.90") and orders[3].trigger_price == P("9.00")
    assert all(o.ts_init == DAY_2024_03_01_093000 for o in orders)


def test_an_untradeable_specification_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="GTD needs expire_time_ns"):
        factory().limit(SIM, OrderSide.BUY, Q("1"), P("1.00"), time_in_force=TimeInForce.GTD)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=4 * 10**18),
    st.lists(st.integers(min_value=0, max_value=3 * 86_400 * 10**9), min_size=1, max_size=20),
)
def test_date_and_time_of_the_ids_equal_strftime_of_the_clock(
    start: int, offsets: list[int]
) -> None:
    stamps = [start + offset for offset in sorted(offsets)]
    # The factory formats the date once per day and the time from integers; time.strftime
    # of the UTC time is the reference, within a second, a day and across days and years.
    clock = TestClock(stamps[0])
    f = factory(clock)
    for stamp in stamps:
        clock.set_time(stamp)
        coid = f.market(SIM, OrderSide.BUY, Q("1")).client_order_id
        expected = time.strftime("%Y%m%d-%H%M%S", time.gmtime(stamp // 1_000_000_000))
        assert coid.split("-")[1:3] == expected.split("-")


def test_ids_are_client_order_ids_and_long_ones_are_validated_by_the_identifier() -> None:
    clock = TestClock(DAY_2024_03_01_093000)
    tag = "T" * 40
    f = OrderFactory(TraderId(f"TRADER-{tag}"), StrategyId("EMACross-042"), clock)
    coid = f.next_client_order_id()
    # "O-" + "20240301-093000-" + 40 tag characters + "-042-1": 66 characters, past the
    # 64 the generator writes itself.
    assert coid == f"O-20240301-093000-{tag}-042-1"
    assert type(coid) is ClientOrderId
    assert type(factory().next_client_order_id()) is ClientOrderId
    too_long = OrderFactory(TraderId(f"TRADER-{'T' * 120}"), StrategyId("EMACross-042"), clock)
    with pytest.raises(ValueError, match="ClientOrderId longer than 128 characters"):
        too_long.next_client_order_id()


def test_an_id_made_in_c_behaves_as_the_identifier_made_from_its_text() -> None:
    # The generator writes the id's characters straight into a ClientOrderId; the reference
    # is the same text through the identifier's own constructor.
    f = factory()
    for count in (1, 9, 10, 99, 100, 123_456_789, 2**63 - 2):
        f.set_count(count - 1)
        coid = f.next_client_order_id()
        text = f"O-20240301-093000-007-042-{count}"
        reference = ClientOrderId(text)
        assert type(coid) is ClientOrderId
        assert coid == reference == text and str(coid) == text and len(coid) == len(text)
        assert hash(coid) == hash(text) and {text: count}[coid] == count
        assert coid.encode() == text.encode() and coid.isascii() and coid.isprintable()
        assert coid.split("-") == text.split("-") and coid[::-1] == text[::-1]
        assert repr(coid) == repr(reference) and f"{coid}" == text
        assert pickle.loads(pickle.dumps(coid)) == reference


def test_a_restored_count_continues_the_ids() -> None:
    f = OrderFactory(
        TraderId("TRADER-007"),
        StrategyId("EMACross-042"),
        TestClock(DAY_2024_03_01_093000),
        initial_count=41,
    )
    assert f.next_client_order_id() == "O-20240301-093000-007-042-42"
    f.set_count(99_999_999_999)
    assert f.next_client_order_id() == "O-20240301-093000-007-042-100000000000"
    assert f.count == 100_000_000_000


@given(
    st.sampled_from([OrderSide.BUY, OrderSide.SELL, OrderSide.NO_ORDER_SIDE]),
    st.sampled_from(["0", "0.5", "1", "12.250"]),
    st.sampled_from([None, *TimeInForce]),
    st.booleans(),
    st.sampled_from([(), ("flip",), ("a", "b")]),
)
def test_a_market_order_built_in_c_equals_the_one_order_create_builds_from_its_event(
    side: OrderSide,
    quantity: str,
    time_in_force: TimeInForce | None,
    reduce_only: bool,
    tags: tuple[str, ...],
) -> None:
    # The reference: the OrderInitialized a market order is made of, as the order factory
    # always wrote it (GTC by default, the default trigger, no prices), built into an order
    # by Order.create; the compiled market() must give the same event, order and errors.
    f = factory()
    options = {} if time_in_force is None else {"time_in_force": time_in_force}
    try:
        order = f.market(SIM, side, Q(quantity), reduce_only=reduce_only, tags=tags, **options)
    except InvalidOrder as error:
        built: object = str(error)
    else:
        built = (
            order.init,
            type(order),
            order.status,
            order.quantity,
            order.leaves_qty,
            order.filled_qty,
            order.events,
            order.reduce_only,
            order.tags,
        )
    init = OrderInitialized(
        TraderId("TRADER-007"),
        StrategyId("EMACross-042"),
        SIM,
        ClientOrderId(f"O-20240301-093000-007-042-{f.count}"),
        DAY_2024_03_01_093000,
        DAY_2024_03_01_093000,
        side,
        OrderType.MARKET,
        Q(quantity),
        time_in_force or TimeInForce.GTC,
        None,
        None,
        TriggerType.DEFAULT,
        None,
        False,
        reduce_only,
        None,
        None,
        None,
        tags,
    )
    try:
        expected_order = Order.create(init)
    except InvalidOrder as error:
        expected: object = str(error)
    else:
        expected = (
            init,
            MarketOrder,
            expected_order.status,
            expected_order.quantity,
            expected_order.leaves_qty,
            expected_order.filled_qty,
            [init],
            expected_order.reduce_only,
            tags,
        )
    assert built == expected


@given(
    st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    st.sampled_from(["0", "1", "2.5"]),
    st.sampled_from([None, P("10.00")]),
    st.sampled_from([None, *TimeInForce]),
    st.sampled_from([None, DAY_2024_03_01_093000, DAY_2024_03_01_093000 + 1]),
    st.booleans(),
    st.sampled_from([None, Q("0.5"), Q("3")]),
)
def test_a_limit_order_built_in_c_equals_the_one_order_create_builds_from_its_event(
    side: OrderSide,
    quantity: str,
    price: Any,
    time_in_force: TimeInForce | None,
    expire_time_ns: int | None,
    post_only: bool,
    display_quantity: Any,
) -> None:
    # As for market orders: the event the factory always wrote, through Order.create.
    f = factory()
    options = {} if time_in_force is None else {"time_in_force": time_in_force}
    try:
        order = f.limit(
            SIM,
            side,
            Q(quantity),
            price,
            expire_time_ns=expire_time_ns,
            post_only=post_only,
            display_quantity=display_quantity,
            **options,
        )
    except InvalidOrder as error:
        built: object = str(error)
    else:
        built = (order.init, type(order), order.price, order.leaves_qty, order.events)
    init = OrderInitialized(
        TraderId("TRADER-007"),
        StrategyId("EMACross-042"),
        SIM,
        ClientOrderId(f"O-20240301-093000-007-042-{f.count}"),
        DAY_2024_03_01_093000,
        DAY_2024_03_01_093000,
        side,
        OrderType.LIMIT,
        Q(quantity),
        time_in_force or TimeInForce.GTC,
        price,
        None,
        TriggerType.DEFAULT,
        expire_time_ns,
        post_only,
        False,
        display_quantity,
        None,
        None,
        (),
    )
    try:
        reference = Order.create(init)
    except InvalidOrder as error:
        expected: object = str(error)
    else:
        expected = (init, LimitOrder, reference.price, reference.leaves_qty, [init])
    assert built == expected
