"""Cache benchmarks: order lookup by client order id, open-orders queries.

Prints the median of 7 repeats. Run: ``python benchmarks/bench_cache.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _timing import measure

from tests.unit.model.order_helpers import apply_all, init_event
from zq.cache import Cache
from zq.model.enums import OrderSide, OrderType
from zq.model.events import OrderAccepted, OrderSubmitted
from zq.model.identifiers import ClientOrderId, InstrumentId, StrategyId, Venue
from zq.model.orders import Order

ORDERS = 100_000
OPEN_EVERY = 100  # 1,000 of the orders stay open, the rest are only submitted


def build_cache() -> Cache:
    cache = Cache()
    instruments = [InstrumentId(f"SYM{i}.BINANCE") for i in range(50)]
    strategies = [StrategyId(f"S-{i:03d}") for i in range(5)]
    for n in range(ORDERS):
        order = Order.create(
            init_event(
                coid=f"O-{n}",
                order_type=OrderType.LIMIT,
                instrument=instruments[(n // 7) % 50],
                strategy=strategies[(n // 3) % 5],
                side=OrderSide.BUY if n % 2 else OrderSide.SELL,
            )
        )
        cache.add_order(order)
        apply_all(order, [OrderSubmitted] + ([OrderAccepted] if n % OPEN_EVERY == 0 else []))
        cache.update_order(order)
    return cache


def main() -> None:
    cache = build_cache()
    coid = ClientOrderId("O-54321")
    order = cache.order
    print(f"cache with {ORDERS:,} orders, {cache.orders_open_count():,} open")
    measure("cache.order(client_order_id)", "order(coid)", 2_000_000, glob=locals())
    measure(
        "cache.order(...) incl. attribute lookup", "cache.order(coid)", 2_000_000, glob=locals()
    )
    instrument, strategy, venue = (
        InstrumentId("SYM0.BINANCE"),
        StrategyId("S-000"),
        Venue("BINANCE"),
    )
    counts = (
        len(cache.orders_open(instrument_id=instrument)),
        len(cache.orders_open(venue=venue, strategy_id=strategy, side=OrderSide.SELL)),
    )
    measure("cache.orders_open() (1,000 open)", cache.orders_open, 2_000)
    measure(
        f"cache.orders_open(instrument_id) ({counts[0]} open)",
        lambda: cache.orders_open(instrument_id=instrument),
        100_000,
    )
    measure(
        f"cache.orders_open(venue, strategy, side) ({counts[1]} open)",
        lambda: cache.orders_open(venue=venue, strategy_id=strategy, side=OrderSide.SELL),
        10_000,
    )
    measure("cache.orders_open_count()", cache.orders_open_count, 1_000_000)


if __name__ == "__main__":
    main()
