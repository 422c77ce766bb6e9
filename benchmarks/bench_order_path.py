"""Order path benchmark: CPU time per order through strategy, risk, execution and venue.

    python benchmarks/bench_order_path.py [--orders N] [--repeat R]

A strategy submits orders on the demo pair to a simulated venue with zero latency (the
backtest setup of examples/configs/ema_cross.toml). Two cases:

- *market*: a market order filled at once (OrderSubmitted, OrderAccepted, OrderFilled);
- *limit, modify, cancel*: a limit order away from the market, then a modify of its
  price and quantity, then a cancel (six events), per cycle.

Each order goes through the order factory, the cache, the RiskEngine, the
ExecutionEngine, the backtest client, the SimulatedExchange with its fee model, the order
state machine and the strategy's callbacks. The portfolio is a stand-in that takes the
fills and opens no position, so the figures are the order path alone (the portfolio's
``process_fill`` and the backtest result recorders are measured by their own benchmarks).
Prints the median and best of the repeats in microseconds of CPU time (``process_time``,
steadier than wall time on a shared machine).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from zq.backtest import LatencyModel
from zq.backtest.client import BacktestExecutionClient
from zq.common.clock import TestClock
from zq.demo import demo_instrument
from zq.execution import ExecutionEngine
from zq.kernel import Kernel, KernelConfig
from zq.model.data import TradeTick
from zq.model.enums import AggressorSide, BookType, OrderSide
from zq.model.events import OrderFilled
from zq.model.identifiers import InstrumentId, StrategyId, TradeId
from zq.model.instruments import Instrument
from zq.risk import RiskEngine
from zq.strategy import Strategy
from zq_core.fixed import Price, Quantity

START_NS = 1_700_000_000_000_000_000


class NoPositions:
    """The portfolio stand-in: takes every fill, keeps and reports nothing."""

    def process_fill(self, fill: OrderFilled, instrument: Instrument) -> Sequence[Any]:
        return ()

    def net_position(
        self, instrument_id: InstrumentId, strategy_id: StrategyId | None = None
    ) -> Decimal:
        return Decimal(0)


def build() -> tuple[Kernel, TestClock, Strategy[Any], BacktestExecutionClient]:
    kernel = Kernel(KernelConfig(trader_id="BENCH-001"))
    clock = kernel.clock
    assert isinstance(clock, TestClock)
    clock.set_time(START_NS)
    instrument = demo_instrument()
    kernel.cache.add_instrument(instrument)
    portfolio = NoPositions()
    risk = RiskEngine(clock, kernel.bus, kernel.cache, portfolio)
    execution = ExecutionEngine(clock, kernel.bus, kernel.cache, portfolio)
    client = BacktestExecutionClient(
        instrument.id.venue,
        [instrument],
        clock,
        book_type=BookType.L1_MBP,
        latency_model=LatencyModel(),
    )
    execution.register_client(client)
    strategy: Strategy[Any] = Strategy()
    strategy.register(kernel.trader_id, clock, kernel.bus, kernel.cache, portfolio)
    for component in (risk, execution, strategy):
        kernel.add_component(component)
    kernel.start()
    return kernel, clock, strategy, client


def trade(instrument_id: InstrumentId, ts: int, number: int) -> TradeTick:
    """A trade that gives the L1 book its price (market orders fill against it)."""
    return TradeTick(
        instrument_id,
        Price.from_str("30000.00"),
        Quantity.from_str("5.00000"),
        AggressorSide.BUYER,
        TradeId(f"T-{number}"),
        ts,
        ts,
    )


def market_orders(count: int) -> Callable[[], None]:
    _kernel, clock, strategy, client = build()
    instrument_id = demo_instrument().id
    quantity = Quantity.from_str("0.01000")
    ts = START_NS

    def run() -> None:
        nonlocal ts
        for i in range(count):
            ts += 1_000
            clock.set_time(ts)
            if i % 50 == 0:  # the book's price refreshed now and then, as data would
                client.exchange.process_trade(trade(instrument_id, ts, i))
            side = OrderSide.BUY if i % 2 else OrderSide.SELL
            strategy.submit_order(strategy.order_factory.market(instrument_id, side, quantity))

    return run


def limit_modify_cancel(count: int) -> Callable[[], None]:
    _kernel, clock, strategy, client = build()
    instrument_id = demo_instrument().id
    client.exchange.process_trade(trade(instrument_id, START_NS, 0))
    quantity, new_quantity = Quantity.from_str("0.01000"), Quantity.from_str("0.02000")
    price, new_price = Price.from_str("29000.00"), Price.from_str("28990.00")
    ts = START_NS

    def run() -> None:
        nonlocal ts
        for _ in range(count):
            ts += 1_000
            clock.set_time(ts)
            order = strategy.order_factory.limit(instrument_id, OrderSide.BUY, quantity, price)
            strategy.submit_order(order)
            strategy.modify_order(order, quantity=new_quantity, price=new_price)
            strategy.cancel_order(order)

    return run


def measure(label: str, run: Callable[[], None], count: int, repeat: int) -> None:
    run()  # warm-up: first-use caches, the book's first price
    per_order = []
    for _ in range(repeat):
        gc.collect()
        started = time.process_time()
        run()
        per_order.append((time.process_time() - started) / count * 1e6)
    print(
        f"{label:<32} median {statistics.median(per_order):7.2f} us per order  "
        f"(best {min(per_order):.2f}, {repeat} x {count:,})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5_000, help="orders per repeat")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    measure("market order, filled", market_orders(args.orders), args.orders, args.repeat)
    measure(
        "limit order, modify, cancel",
        limit_modify_cancel(args.orders),
        args.orders,
        args.repeat,
    )


if __name__ == "__main__":
    main()
