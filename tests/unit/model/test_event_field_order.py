"""Order events and trading commands: the field order the positional constructions rely on.

The order path builds events and commands positionally (several times faster than from
keywords); these tests pin the order, so moving a field fails here rather than putting a
value into the wrong field.
"""

from __future__ import annotations

import msgspec
import pytest

from zq.model import commands, events

SHARED = ("trader_id", "strategy_id", "instrument_id", "client_order_id", "ts_event", "ts_init")
IDS = ("venue_order_id", "account_id")

EVENT_FIELDS: dict[type[msgspec.Struct], tuple[str, ...]] = {
    events.OrderInitialized: (
        *SHARED,
        "side",
        "order_type",
        "quantity",
        "time_in_force",
        "price",
        "trigger_price",
        "trigger_type",
        "expire_time_ns",
        "post_only",
        "reduce_only",
        "display_quantity",
        "order_list_id",
        "position_id",
        "tags",
    ),
    events.OrderDenied: (*SHARED, "reason"),
    events.OrderSubmitted: (*SHARED, "account_id"),
    events.OrderAccepted: (*SHARED, *IDS),
    events.OrderRejected: (*SHARED, "account_id", "reason"),
    events.OrderCanceled: (*SHARED, *IDS),
    events.OrderExpired: (*SHARED, *IDS),
    events.OrderTriggered: (*SHARED, *IDS),
    events.OrderPendingUpdate: (*SHARED, *IDS),
    events.OrderPendingCancel: (*SHARED, *IDS),
    events.OrderModifyRejected: (*SHARED, "reason", *IDS),
    events.OrderCancelRejected: (*SHARED, "reason", *IDS),
    events.OrderUpdated: (*SHARED, "quantity", "price", "trigger_price", *IDS),
    events.OrderFilled: (
        *SHARED,
        *IDS,
        "trade_id",
        "order_side",
        "order_type",
        "last_qty",
        "last_px",
        "commission",
        "liquidity_side",
        "position_id",
        "info",
    ),
}

COMMAND = ("trader_id", "strategy_id", "instrument_id", "ts_init")
COMMAND_FIELDS: dict[type[msgspec.Struct], tuple[str, ...]] = {
    commands.SubmitOrder: (*COMMAND, "order", "position_id"),
    commands.ModifyOrder: (
        *COMMAND,
        "client_order_id",
        "venue_order_id",
        "quantity",
        "price",
        "trigger_price",
    ),
    commands.CancelOrder: (*COMMAND, "client_order_id", "venue_order_id"),
    commands.CancelAllOrders: (*COMMAND, "order_side"),
    commands.QueryOrder: (*COMMAND, "client_order_id", "venue_order_id"),
}


def test_every_order_event_type_is_pinned() -> None:
    assert set(EVENT_FIELDS) == set(events.ORDER_EVENT_TYPES)


@pytest.mark.parametrize("kind", list(EVENT_FIELDS), ids=lambda kind: kind.__name__)
def test_order_event_fields_are_in_the_positional_order(kind: type[msgspec.Struct]) -> None:
    assert kind.__struct_fields__ == EVENT_FIELDS[kind]


@pytest.mark.parametrize("kind", list(COMMAND_FIELDS), ids=lambda kind: kind.__name__)
def test_command_fields_are_in_the_positional_order(kind: type[msgspec.Struct]) -> None:
    assert kind.__struct_fields__ == COMMAND_FIELDS[kind]


@pytest.mark.parametrize("kind", list(EVENT_FIELDS), ids=lambda kind: kind.__name__)
def test_positional_and_keyword_construction_give_the_same_event(
    kind: type[msgspec.Struct],
) -> None:
    # Distinct stand-in values (the constructor does not check types): each lands in the
    # field of the same name either way.
    fields = kind.__struct_fields__
    values = [f"value-of-{name}" for name in fields]
    positional = kind(*values)
    keyword = kind(**dict(zip(fields, values, strict=True)))
    assert positional == keyword
    assert [getattr(positional, name) for name in fields] == values
