"""An independent reference for what a rebuild must produce from a stream of entries.

It shares nothing with :mod:`zq.live.recovery`: orders are replayed per order with
``Order.from_events`` (the model's own state machine, which the rebuild must agree with), and
the position and balances are summed by hand from the fills of the scripted stream (one
instrument, one account, exact amounts: see :mod:`tests.unit.live.stream`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from tests.unit.live.stream import ACCOUNT, COMMISSION_RATE, OPENING_ETH, OPENING_USDT
from zq.cache import Cache
from zq.live.recovery import RecoverySummary
from zq.model.enums import OrderSide, OrderStatus
from zq.model.events import (
    OrderEvent,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderSubmitted,
)
from zq.model.identifiers import ClientOrderId
from zq.model.orders import Order


@dataclass
class Reference:
    statuses: dict[ClientOrderId, OrderStatus]
    filled: dict[ClientOrderId, Decimal]
    inflight: set[ClientOrderId]
    net_qty: Decimal
    usdt: Decimal
    eth: Decimal
    fills: int


def reference_state(entries: list[object]) -> Reference:
    """Return the state a node holds after ``entries`` (computed without the journal)."""
    events: dict[ClientOrderId, list[OrderEvent]] = {}
    net_qty = Decimal(0)
    usdt, eth = OPENING_USDT, OPENING_ETH
    fills = 0
    for entry in entries:
        if not isinstance(entry, OrderEvent):
            continue
        events.setdefault(entry.client_order_id, []).append(entry)
        if isinstance(entry, OrderFilled):
            fills += 1
            qty, px = entry.last_qty.as_decimal(), entry.last_px.as_decimal()
            notional = qty * px
            # Spot: a buy pays the notional in USDT and receives ETH; a sell the reverse.
            # The commission, 0.1 % of the notional, is paid in USDT.
            assert entry.commission.as_decimal() == notional * COMMISSION_RATE
            sign = 1 if entry.order_side is OrderSide.BUY else -1
            net_qty += sign * qty
            eth += sign * qty
            usdt -= sign * notional + notional * COMMISSION_RATE
    orders = {coid: Order.from_events(evs) for coid, evs in events.items()}
    # In flight: the last event is a marker put down before a venue call, with no answer yet.
    inflight = {
        coid
        for coid, evs in events.items()
        if isinstance(evs[-1], OrderSubmitted | OrderPendingUpdate | OrderPendingCancel)
    }
    return Reference(
        statuses={coid: order.status for coid, order in orders.items()},
        filled={coid: order.filled_qty.as_decimal() for coid, order in orders.items()},
        inflight=inflight,
        net_qty=net_qty,
        usdt=usdt,
        eth=eth,
        fills=fills,
    )


def assert_rebuilt(cache: Cache, summary: RecoverySummary, reference: Reference) -> None:
    """Assert that a rebuilt cache and its summary hold exactly the reference's state."""
    orders = cache.orders()
    assert {o.client_order_id: o.status for o in orders} == reference.statuses
    assert {o.client_order_id: o.filled_qty.as_decimal() for o in orders} == reference.filled
    assert {o.client_order_id for o in cache.orders_inflight()} == reference.inflight
    assert set(summary.inflight_orders) == reference.inflight
    assert summary.orders_by_status == dict(
        sorted(Counter(status.name for status in reference.statuses.values()).items())
    )
    assert summary.fills == reference.fills
    net = sum((p.signed_qty for p in cache.positions_open()), Decimal(0))
    assert net == reference.net_qty
    account = cache.account(ACCOUNT)
    if account is None:
        assert reference.fills == 0
    else:
        assert account.balance("USDT").as_decimal() == reference.usdt
        assert account.balance("ETH").as_decimal() == reference.eth
    assert cache.check_integrity() == []
