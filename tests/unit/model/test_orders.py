from __future__ import annotations

from decimal import Decimal

import pytest

from tests.unit.model.order_helpers import USD, apply_all, init_event, make_event
from zq.model.currency import Currency
from zq.model.enums import OrderStatus, OrderType, TimeInForce
from zq.model.events import (
    OrderAccepted,
    OrderFilled,
    OrderInitialized,
    OrderPendingUpdate,
    OrderSubmitted,
    OrderUpdated,
)
from zq.model.identifiers import TradeId
from zq.model.orders import (
    DuplicateFillError,
    InvalidOrder,
    InvalidStateTransition,
    LimitIfTouchedOrder,
    LimitOrder,
    MarketIfTouchedOrder,
    MarketOrder,
    Order,
    OverfillError,
    StopLimitOrder,
    StopMarketOrder,
)
from zq_core.fixed import Money, Price, Quantity


@pytest.mark.parametrize(
    ("order_type", "cls"),
    [
        (OrderType.MARKET, MarketOrder),
        (OrderType.LIMIT, LimitOrder),
        (OrderType.STOP_MARKET, StopMarketOrder),
        (OrderType.STOP_LIMIT, StopLimitOrder),
        (OrderType.MARKET_IF_TOUCHED, MarketIfTouchedOrder),
        (OrderType.LIMIT_IF_TOUCHED, LimitIfTouchedOrder),
    ],
)
def test_create_builds_the_class_of_the_order_type(order_type, cls):
    order = Order.create(init_event(order_type=order_type))
    assert type(order) is cls
    assert order.status is OrderStatus.INITIALIZED
    assert order.leaves_qty == order.quantity


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"order_type": OrderType.LIMIT, "price": None}, "price is required"),
        (
            {"order_type": OrderType.MARKET, "price": Price.from_str("1.0")},
            "price 1.0 is not allowed",
        ),
        ({"order_type": OrderType.STOP_MARKET, "trigger_price": None}, "trigger_price is required"),
        ({"order_type": OrderType.LIMIT, "quantity": "0"}, "quantity must be positive"),
        (
            {"order_type": OrderType.LIMIT, "time_in_force": TimeInForce.GTD},
            "GTD needs expire_time_ns",
        ),
        ({"order_type": OrderType.LIMIT, "expire_time_ns": 5}, "only for GTD"),
        ({"order_type": OrderType.MARKET, "post_only": True}, "post_only applies"),
        (
            {"order_type": OrderType.LIMIT, "post_only": True, "time_in_force": TimeInForce.IOC},
            "post_only contradicts",
        ),
        (
            {"order_type": OrderType.LIMIT, "time_in_force": TimeInForce.GTD, "expire_time_ns": 1},
            "not after ts_init",
        ),
        (
            {"order_type": OrderType.LIMIT, "display_quantity": Quantity.from_str("11")},
            "display_quantity",
        ),
        (
            {"order_type": OrderType.MARKET, "time_in_force": TimeInForce.GTD, "expire_time_ns": 9},
            r"\(MARKET\): time in force GTD is not allowed",
        ),
    ],
)
def test_invalid_order_specification_is_refused_with_the_reason(kwargs, fragment):
    with pytest.raises(InvalidOrder, match=fragment) as raised:
        Order.create(init_event(coid="O-bad", **kwargs))
    assert "O-bad" in str(raised.value)


def test_fills_update_quantities_and_exact_average_price():
    order = Order.create(init_event(order_type=OrderType.LIMIT))
    apply_all(order, [OrderSubmitted, OrderAccepted])
    order.apply(
        make_event(
            OrderFilled, order, last_qty=Quantity.from_str("3"), last_px=Price.from_str("100.00")
        )
    )
    order.apply(
        make_event(
            OrderFilled, order, last_qty=Quantity.from_str("4"), last_px=Price.from_str("100.07")
        )
    )
    assert order.filled_qty == Quantity.from_str("7")
    assert order.leaves_qty == Quantity.from_str("3")
    assert order.avg_px == (Decimal("300.00") + Decimal("400.28")) / Decimal(7)
    assert str(order.commissions["USD"]) == "0.02 USD"
    assert order.status is OrderStatus.PARTIALLY_FILLED


def test_overfill_is_refused_and_leaves_the_order_unchanged():
    order = Order.create(init_event(order_type=OrderType.LIMIT, quantity="2"))
    apply_all(order, [OrderSubmitted, OrderAccepted])
    with pytest.raises(OverfillError, match="exceeds leaves quantity 2"):
        order.apply(make_event(OrderFilled, order, last_qty=Quantity.from_str("3")))
    assert order.filled_qty == Quantity.from_str("0")
    assert order.status is OrderStatus.ACCEPTED


def test_fill_with_a_known_trade_id_is_refused():
    order = Order.create(init_event(order_type=OrderType.LIMIT))
    apply_all(order, [OrderSubmitted, OrderAccepted])
    order.apply(make_event(OrderFilled, order, trade_id=TradeId("T-dup")))
    with pytest.raises(DuplicateFillError, match="T-dup"):
        order.apply(make_event(OrderFilled, order, trade_id=TradeId("T-dup")))
    assert order.filled_qty == Quantity.from_str("1")


@pytest.mark.parametrize("fills_before_read", [0, 1, 2])
def test_trade_ids_and_commissions_read_at_any_time_match_the_fills(fills_before_read):
    # Both are made when first read, then kept up to date by the later fills.
    order = Order.create(init_event(order_type=OrderType.LIMIT, quantity="5"))
    apply_all(order, [OrderSubmitted, OrderAccepted])
    usdt = Currency.from_str("USDT")
    fills = [
        make_event(OrderFilled, order, trade_id=TradeId("T-1"), commission=Money("0.01", USD)),
        make_event(OrderFilled, order, trade_id=TradeId("T-2"), commission=Money("0.25", usdt)),
        make_event(OrderFilled, order, trade_id=TradeId("T-3"), commission=Money("0.02", USD)),
    ]
    for fill in fills[:fills_before_read]:
        order.apply(fill)
    trade_ids, commissions = order.trade_ids, order.commissions
    for fill in fills[fills_before_read:]:
        order.apply(fill)
    assert order.trade_ids is trade_ids and order.commissions is commissions
    assert trade_ids == {TradeId("T-1"), TradeId("T-2"), TradeId("T-3")}
    assert commissions == {"USD": Money("0.03", USD), "USDT": Money("0.25", usdt)}
    assert order.last_trade_id == TradeId("T-3")


def test_an_orders_events_are_every_event_applied_in_order_past_the_first_four():
    order = Order.create(init_event(order_type=OrderType.LIMIT, quantity="5"))
    applied = [order.init]
    for kind in (OrderSubmitted, OrderAccepted, OrderFilled, OrderFilled, OrderFilled):
        event = make_event(kind, order)
        order.apply(event)
        applied.append(event)
        assert order.events == applied and order.last_event is event
    assert len(order.events) == 6 and order.filled_qty == Quantity.from_str("3")


def test_an_order_never_filled_has_no_trade_ids_and_no_commissions():
    order = apply_all(Order.create(init_event(order_type=OrderType.LIMIT)), [OrderSubmitted])
    assert order.trade_ids == set() and order.commissions == {}


@pytest.mark.parametrize("fills_before", [1, 2])
@pytest.mark.parametrize("read_first", [False, True])
def test_a_repeated_trade_id_is_refused_after_one_or_more_fills(fills_before, read_first):
    order = Order.create(init_event(order_type=OrderType.LIMIT, quantity="5"))
    apply_all(order, [OrderSubmitted, OrderAccepted])
    if read_first:
        assert order.trade_ids == set()
    for number in range(fills_before):
        order.apply(make_event(OrderFilled, order, trade_id=TradeId(f"T-{number}")))
    for number in range(fills_before):
        # An equal trade id, not the same object, is refused as well.
        with pytest.raises(DuplicateFillError, match=f"T-{number}"):
            order.apply(make_event(OrderFilled, order, trade_id=TradeId(f"T-{number}")))
    assert order.filled_qty == Quantity.from_str(str(fills_before))
    order.apply(make_event(OrderFilled, order, trade_id=TradeId("T-new")))
    assert order.trade_ids == {TradeId(f"T-{n}") for n in range(fills_before)} | {TradeId("T-new")}


def test_update_changes_quantity_and_price_and_returns_from_pending():
    order = Order.create(init_event(order_type=OrderType.LIMIT))
    apply_all(order, [OrderSubmitted, OrderAccepted, OrderFilled, OrderPendingUpdate])
    order.apply(
        make_event(
            OrderUpdated, order, quantity=Quantity.from_str("5"), price=Price.from_str("101.00")
        )
    )
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.quantity == Quantity.from_str("5")
    assert order.leaves_qty == Quantity.from_str("4")
    assert order.price == Price.from_str("101.00")


def test_update_below_the_filled_quantity_is_refused():
    order = Order.create(init_event(order_type=OrderType.LIMIT))
    apply_all(order, [OrderSubmitted, OrderAccepted])
    order.apply(make_event(OrderFilled, order, last_qty=Quantity.from_str("3")))
    with pytest.raises(InvalidStateTransition, match="below the filled quantity 3"):
        order.apply(make_event(OrderUpdated, order, quantity=Quantity.from_str("2")))
    assert order.quantity == Quantity.from_str("10")


def test_event_of_another_order_is_refused():
    order = Order.create(init_event(coid="O-1"))
    other = Order.create(init_event(coid="O-2"))
    with pytest.raises(ValueError, match="O-2"):
        order.apply(make_event(OrderSubmitted, other))


def test_order_rebuilt_from_its_events_equals_the_original_state():
    order = Order.create(init_event(order_type=OrderType.LIMIT))
    apply_all(order, [OrderSubmitted, OrderAccepted, OrderFilled, OrderFilled])
    rebuilt = Order.from_events(order.events)
    for field in ("status", "filled_qty", "leaves_qty", "avg_px", "venue_order_id", "trade_ids"):
        assert getattr(rebuilt, field) == getattr(order, field), field


def test_submitted_order_is_inflight_and_accepted_order_is_open():
    order = Order.create(init_event(order_type=OrderType.LIMIT))
    order.apply(make_event(OrderSubmitted, order))
    assert order.is_inflight and not order.is_open and not order.is_closed
    order.apply(make_event(OrderAccepted, order))
    assert order.is_open and not order.is_inflight


class _NotedInitialized(OrderInitialized, frozen=True, gc=False, tag=True):
    """A subclass with one more field: its base fields stay where the base keeps them."""

    note: str = ""


def test_order_from_a_subclass_of_order_initialized_copies_every_field():
    base = init_event(order_type=OrderType.LIMIT, quantity="3", tags=("a", "b"))
    fields = {name: getattr(base, name) for name in OrderInitialized.__struct_fields__}
    init = _NotedInitialized(**fields, note="kept")
    order = Order.create(init)
    assert type(order) is LimitOrder and order.init is init
    for name in (
        "trader_id",
        "strategy_id",
        "instrument_id",
        "client_order_id",
        "side",
        "quantity",
        "price",
        "trigger_price",
        "trigger_type",
        "time_in_force",
        "expire_time_ns",
        "post_only",
        "reduce_only",
        "display_quantity",
        "order_list_id",
        "position_id",
        "tags",
        "ts_init",
    ):
        assert getattr(order, name) == fields[name], name
    assert order.ts_last == fields["ts_event"]
    assert order.leaves_qty == Quantity.from_str("3") and order.filled_qty == Quantity.from_str("0")


def test_event_of_a_subclass_of_a_table_event_is_refused():
    class LateAccepted(OrderAccepted, frozen=True, gc=False, tag=True):
        pass

    order = Order.create(init_event(order_type=OrderType.LIMIT))
    order.apply(make_event(OrderSubmitted, order))
    accepted = make_event(OrderAccepted, order)
    late = LateAccepted(**{f: getattr(accepted, f) for f in OrderAccepted.__struct_fields__})
    with pytest.raises(InvalidStateTransition, match="SUBMITTED cannot apply LateAccepted"):
        order.apply(late)
    assert order.status is OrderStatus.SUBMITTED and len(order.events) == 2
