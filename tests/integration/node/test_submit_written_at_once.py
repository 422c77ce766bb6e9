"""A node's submit is written from ``submit_order`` itself when it can go at once, and runs in
its task as before when it cannot: against the sandbox venue on loopback, real sockets.

Written at once means counted by the rate limiter and on the wire before ``submit_order``
returns to the strategy, with a task left only to await the answer; otherwise (here: no idle
connection) nothing is counted until the task runs. Both end with the order accepted."""

from __future__ import annotations

import asyncio
import inspect
from decimal import Decimal

import pytest

from tests.integration.node.conftest import BTCUSDT, CREDENTIALS, VenueReader, node_config
from zq.live.node import TradingNode
from zq.model.enums import OrderSide, OrderStatus
from zq.model.orders import Order
from zq.sandbox import SandboxVenue
from zq.strategy import Strategy


class Orders(Strategy):  # type: ignore[type-arg]
    def __init__(self) -> None:
        super().__init__(strategy_id="Orders-001", order_id_tag="001")

    def bid(self, price: str) -> Order:
        instrument = self.cache.instrument(BTCUSDT)
        assert instrument is not None
        order: Order = self.order_factory.limit(
            BTCUSDT,
            OrderSide.BUY,
            instrument.make_qty(Decimal("0.01")),  # 10 USDT at 1,000
            instrument.make_price(Decimal(price)),
        )
        self.submit_order(order)
        return order


async def until_accepted(order: Order, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while order.status is not OrderStatus.ACCEPTED:
        assert loop.time() < deadline, f"{order.client_order_id} is {order.status.name}"
        await asyncio.sleep(0.005)


@pytest.mark.asyncio
async def test_a_submit_is_written_before_submit_order_returns_when_it_can_go_at_once(
    venue: SandboxVenue, reader: VenueReader
) -> None:
    node = TradingNode(node_config(venue), credentials=CREDENTIALS, install_signal_handlers=False)
    strategy = Orders()
    node.add_strategy(strategy)
    await node.start()
    try:
        execution = node.execution_client()
        limiter = execution.http.limiter
        # Start-up left a connection idle: the order goes out within submit_order.
        before = limiter.stats.acquired
        first = strategy.bid("1000.00")
        assert limiter.stats.acquired == before + 1  # counted with no await in between
        assert execution.pending == 1  # its task only awaits the answer
        await until_accepted(first)

        # With no idle connection (closed under it), the submit runs in its task as before:
        # nothing is counted until the task's turn, and the order is accepted all the same.
        await execution.http.close()
        before = limiter.stats.acquired
        second = strategy.bid("1001.00")
        assert limiter.stats.acquired == before
        await until_accepted(second)
        assert limiter.stats.acquired == before + 1
        venue_ids = {o["clientOrderId"] for o in await reader.open_orders()}
        assert {str(first.client_order_id), str(second.client_order_id)} <= venue_ids
    finally:
        await node.shutdown()


class WhereAccepted(Orders):
    """Notes, for each acceptance, which read it came in: the REST answer's or another."""

    def __init__(self) -> None:
        super().__init__()
        self.in_answer_read: list[bool] = []

    def on_order_accepted(self, event: object) -> None:
        frames = inspect.stack(0)
        self.in_answer_read.append(
            any(f.function == "_parse" and f.filename.endswith("transport.py") for f in frames)
        )


@pytest.mark.asyncio
async def test_a_written_submit_is_accepted_in_the_read_of_its_rest_answer(
    venue: SandboxVenue,
) -> None:
    # The venue writes the REST answer ahead of the user stream's report: the acceptance is
    # applied in that read, not a loop turn later in the submit's task (which finds it done)
    # nor from the report (dropped as stale).
    node = TradingNode(node_config(venue), credentials=CREDENTIALS, install_signal_handlers=False)
    strategy = WhereAccepted()
    node.add_strategy(strategy)
    await node.start()
    try:
        execution = node.execution_client()
        orders = []
        for price in ("1000.00", "1001.00", "1002.00"):  # one at a time: each goes at once
            orders.append(strategy.bid(price))
            await until_accepted(orders[-1])
            assert await execution.wait_idle(5.0)
        assert strategy.in_answer_read == [True, True, True]
        assert all(len(o.events) == 3 for o in orders)  # initialized, submitted, accepted once
    finally:
        await node.shutdown()
