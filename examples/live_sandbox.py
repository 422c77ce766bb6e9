"""The EMA cross of ``ema_cross.py``, unchanged, traded live for a few seconds against a local
sandbox venue started by the node (``configs/live_sandbox.toml``).

Run it::

    python examples/live_sandbox.py
    zq live examples/configs/live_sandbox.toml --seconds 10
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from zq.live.config import load_live_config
from zq.live.node import TradingNode
from zq.model.enums import OrderStatus


def main(seconds: float = 3.0) -> TradingNode:
    """Run the node for ``seconds`` and print what it did."""
    config = load_live_config(Path(__file__).parent / "configs" / "live_sandbox.toml")
    node = TradingNode(msgspec.structs.replace(config, run_seconds=seconds))
    node.run_live()
    assert node.kernel is not None
    orders = node.kernel.cache.orders()
    filled = [o for o in orders if o.status is OrderStatus.FILLED]
    account = node.kernel.cache.account_for_venue(node.venues["BINANCE"].venue)
    print(f"{len(orders)} orders, {len(filled)} filled, health {node.health.name}")
    for order in filled:
        print(f"  {order.client_order_id} {order.side.name} {order.filled_qty} @ {order.avg_px}")
    print(f"balances: BTC {account.balance('BTC')}, USDT {account.balance('USDT')}")
    return node


if __name__ == "__main__":
    main()
