"""Reports of orders the node did not place (another client on the same account) are counted
and left alone: against the sandbox venue on loopback, real sockets."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.integration.node.conftest import CREDENTIALS, node_config
from zq.live.node import TradingNode
from zq.sandbox import SandboxVenue


@pytest.mark.asyncio
async def test_reports_of_an_order_placed_by_someone_else_are_counted_unknown_and_ignored(
    venue: SandboxVenue,
) -> None:
    node = TradingNode(node_config(venue), credentials=CREDENTIALS, install_signal_handlers=False)
    await node.start()
    try:
        execution = node.execution_client()
        assert node.kernel is not None
        orders_before = len(node.kernel.cache.orders())
        # Placed with the node's own key but not through it: the user stream reports it.
        await execution.http.new_order(
            "BTCUSDT",
            side="BUY",
            order_type="LIMIT",
            quantity=Decimal("0.01"),
            price=Decimal("1000.00"),
            time_in_force="GTC",
            client_order_id="someone-else-1",
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while execution.unknown_reports == 0:
            assert loop.time() < deadline, "the stream's report did not come"
            await asyncio.sleep(0.005)
        assert execution.errors == 0
        assert len(node.kernel.cache.orders()) == orders_before
    finally:
        await node.shutdown()
