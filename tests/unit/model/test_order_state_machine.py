"""The order state table, tested transition by transition against an expected table written
out independently here."""

from __future__ import annotations

import pytest

from tests.unit.model.order_helpers import apply_all, init_event, make_event
from zq.model.enums import OrderStatus as S
from zq.model.events import (
    ORDER_EVENT_TYPES,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from zq.model.orders import InvalidStateTransition, Order
from zq_core.fixed import Quantity

# The events that bring a fresh STOP_LIMIT order of quantity 10 into each state.
PATHS = {
    S.INITIALIZED: [],
    S.DENIED: [OrderDenied],
    S.SUBMITTED: [OrderSubmitted],
    S.ACCEPTED: [OrderSubmitted, OrderAccepted],
    S.REJECTED: [OrderSubmitted, OrderRejected],
    S.CANCELED: [OrderSubmitted, OrderAccepted, OrderCanceled],
    S.EXPIRED: [OrderSubmitted, OrderAccepted, OrderExpired],
    S.TRIGGERED: [OrderSubmitted, OrderAccepted, OrderTriggered],
    S.PENDING_UPDATE: [OrderSubmitted, OrderAccepted, OrderPendingUpdate],
    S.PENDING_CANCEL: [OrderSubmitted, OrderAccepted, OrderPendingCancel],
    S.PARTIALLY_FILLED: [OrderSubmitted, OrderAccepted, OrderFilled],
    S.FILLED: [OrderSubmitted, OrderAccepted, OrderFilled],
}

# Expected state after applying each event (fills are of 1 unit; PREVIOUS is ACCEPTED here).
EXPECTED = {
    (S.INITIALIZED, OrderDenied): S.DENIED,
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTED,
    (S.INITIALIZED, OrderRejected): S.REJECTED,
    (S.INITIALIZED, OrderCanceled): S.CANCELED,
    (S.INITIALIZED, OrderExpired): S.EXPIRED,
    (S.INITIALIZED, OrderUpdated): S.INITIALIZED,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.SUBMITTED, OrderCanceled): S.CANCELED,
    (S.SUBMITTED, OrderExpired): S.EXPIRED,
    (S.SUBMITTED, OrderTriggered): S.TRIGGERED,
    (S.SUBMITTED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.SUBMITTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.SUBMITTED, OrderUpdated): S.SUBMITTED,
    (S.SUBMITTED, OrderFilled): S.PARTIALLY_FILLED,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.ACCEPTED, OrderRejected): S.REJECTED,
    (S.ACCEPTED, OrderTriggered): S.TRIGGERED,
    (S.ACCEPTED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.ACCEPTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.ACCEPTED, OrderUpdated): S.ACCEPTED,
    (S.ACCEPTED, OrderModifyRejected): S.ACCEPTED,
    (S.ACCEPTED, OrderCancelRejected): S.ACCEPTED,
    (S.ACCEPTED, OrderFilled): S.PARTIALLY_FILLED,
    (S.TRIGGERED, OrderCanceled): S.CANCELED,
    (S.TRIGGERED, OrderExpired): S.EXPIRED,
    (S.TRIGGERED, OrderRejected): S.REJECTED,
    (S.TRIGGERED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.TRIGGERED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.TRIGGERED, OrderUpdated): S.TRIGGERED,
    (S.TRIGGERED, OrderModifyRejected): S.TRIGGERED,
    (S.TRIGGERED, OrderCancelRejected): S.TRIGGERED,
    (S.TRIGGERED, OrderFilled): S.PARTIALLY_FILLED,
    (S.PENDING_UPDATE, OrderCanceled): S.CANCELED,
    (S.PENDING_UPDATE, OrderExpired): S.EXPIRED,
    (S.PENDING_UPDATE, OrderRejected): S.REJECTED,
    (S.PENDING_UPDATE, OrderAccepted): S.ACCEPTED,
    (S.PENDING_UPDATE, OrderTriggered): S.TRIGGERED,
    (S.PENDING_UPDATE, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.PENDING_UPDATE, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, OrderUpdated): S.ACCEPTED,
    (S.PENDING_UPDATE, OrderModifyRejected): S.ACCEPTED,
    (S.PENDING_UPDATE, OrderFilled): S.PARTIALLY_FILLED,
    (S.PENDING_CANCEL, OrderCanceled): S.CANCELED,
    (S.PENDING_CANCEL, OrderExpired): S.EXPIRED,
    (S.PENDING_CANCEL, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderCancelRejected): S.ACCEPTED,
    (S.PENDING_CANCEL, OrderModifyRejected): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderUpdated): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderFilled): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.PARTIALLY_FILLED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, OrderUpdated): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderModifyRejected): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderCancelRejected): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderFilled): S.PARTIALLY_FILLED,
    (S.CANCELED, OrderFilled): S.CANCELED,  # a late partial fill keeps the order canceled
    (S.EXPIRED, OrderFilled): S.EXPIRED,
    # A modify or cancel refused because the order ended at the venue first.
    (S.FILLED, OrderModifyRejected): S.FILLED,
    (S.FILLED, OrderCancelRejected): S.FILLED,
    (S.CANCELED, OrderModifyRejected): S.CANCELED,
    (S.CANCELED, OrderCancelRejected): S.CANCELED,
    (S.EXPIRED, OrderModifyRejected): S.EXPIRED,
    (S.EXPIRED, OrderCancelRejected): S.EXPIRED,
}

APPLIED_TYPES = [kind for kind in ORDER_EVENT_TYPES if kind is not OrderInitialized]


def order_in(status: S) -> Order:
    order = Order.create(init_event())
    fills = {"OrderFilled": {"last_qty": Quantity.from_str("10" if status is S.FILLED else "1")}}
    apply_all(order, PATHS[status], **fills)
    assert order.status is status
    return order


@pytest.mark.parametrize("kind", APPLIED_TYPES, ids=lambda k: k.__name__)
@pytest.mark.parametrize("status", list(S), ids=lambda s: s.name)
def test_each_event_in_each_state_gives_the_expected_state_or_is_refused(status, kind):
    order = order_in(status)
    event = make_event(kind, order)
    expected = EXPECTED.get((status, kind))
    if expected is None:
        events_before = list(order.events)
        with pytest.raises(InvalidStateTransition) as raised:
            order.apply(event)
        message = str(raised.value)
        assert str(order.client_order_id) in message
        assert status.name in message
        assert kind.__name__ in message
        assert order.status is status and order.events == events_before
    else:
        order.apply(event)
        assert order.status is expected
        assert order.events[-1] is event


def test_the_expected_table_covers_every_state():
    assert {status for status, _ in EXPECTED} | {S.DENIED, S.REJECTED} == set(S)


def test_fill_of_the_remaining_quantity_fills_the_order():
    order = order_in(S.PARTIALLY_FILLED)
    order.apply(make_event(OrderFilled, order, last_qty=Quantity.from_str("9")))
    assert order.status is S.FILLED
    assert order.filled_qty == Quantity.from_str("10")
    assert order.leaves_qty == Quantity.from_str("0")


def test_late_fill_completing_a_canceled_order_marks_it_filled():
    order = order_in(S.CANCELED)
    order.apply(make_event(OrderFilled, order, last_qty=Quantity.from_str("10")))
    assert order.status is S.FILLED


def test_pending_cancel_rejected_returns_to_partially_filled_when_it_came_from_there():
    order = order_in(S.PARTIALLY_FILLED)
    order.apply(make_event(OrderPendingCancel, order))
    order.apply(make_event(OrderCancelRejected, order))
    assert order.status is S.PARTIALLY_FILLED


def test_modify_after_pending_cancel_still_returns_to_the_state_before_both():
    order = order_in(S.TRIGGERED)
    order.apply(make_event(OrderPendingUpdate, order))
    order.apply(make_event(OrderPendingCancel, order))
    order.apply(make_event(OrderCancelRejected, order))
    assert order.status is S.TRIGGERED
