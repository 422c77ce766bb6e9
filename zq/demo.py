"""The kernel demonstration behind ``zq demo`` (the README's main job until the backtest lands).

It generates a seeded random walk of trades for one instrument, replays them through a
backtest kernel (``TestClock`` advanced by the data, the compiled bus, the cache), builds
one-minute bars on a clock timer, watches an EMA cross on the bars, answers a stats request
through request/response, and prints what happened.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from zq.common import topics
from zq.common.clock import TestClock, TimeEvent
from zq.common.component import Component
from zq.data.arrays import TRADE_DTYPE, trades_to_objects
from zq.kernel import Kernel
from zq.model.currency import Currency
from zq.model.data import Bar, BarType, TradeTick
from zq.model.enums import AssetClass
from zq.model.identifiers import InstrumentId
from zq.model.instruments import CurrencyPair
from zq_core.bus import Request
from zq_core.fixed import Price, Quantity

NANOS_PER_SECOND = 1_000_000_000
START_NS = 1_704_067_200 * NANOS_PER_SECOND  # 2024-01-01 00:00:00 UTC


def demo_instrument() -> CurrencyPair:
    """Return the spot pair the demonstration trades."""
    return CurrencyPair(
        id=InstrumentId("BTCUSDT.SIM"),
        raw_symbol="BTCUSDT",
        asset_class=AssetClass.CRYPTOCURRENCY,
        quote_currency=Currency.from_str("USDT"),
        base_currency=Currency.from_str("BTC"),
        price_increment=Price.from_str("0.01"),
        size_increment=Quantity.from_str("0.00001"),
        taker_fee=Decimal("0.001"),
        maker_fee=Decimal("0.001"),
    )


#: Trades per block of the random walk: each block draws its own steps, sizes, gaps and sides.
WALK_BLOCK = 65_536


def trade_walk(count: int, seed: int) -> Iterator[npt.NDArray[np.void]]:
    """Yield ``count`` trades of a seeded random walk as ``TRADE_DTYPE`` arrays.

    Prices move -3..+3 ticks of 0.01 from 42,000.00, sizes are 1..199,999 lots of 0.00001,
    trades are 1 to 80 ms apart from 2024-01-01 and trade ids count from 1. The walk is
    drawn in blocks of :data:`WALK_BLOCK` trades, so a long walk never holds more than one
    block's draws in memory.
    """
    rng = np.random.default_rng(seed)
    price, time_ns = 4_200_000, START_NS  # 42,000.00 in ticks of 0.01
    for first in range(0, count, WALK_BLOCK):
        n = min(WALK_BLOCK, count - first)
        steps = rng.integers(-3, 4, size=n)
        sizes = rng.integers(1, 200_000, size=n)  # in lots of 0.00001
        gaps = rng.integers(1_000_000, 80_000_000, size=n)  # 1 to 80 ms apart
        sides = rng.integers(1, 3, size=n)
        rows = np.zeros(n, dtype=TRADE_DTYPE)
        np.cumsum(steps, out=steps)
        np.cumsum(gaps, out=gaps)
        rows["price"] = steps + price
        rows["ts_event"] = gaps + time_ns
        rows["ts_init"] = rows["ts_event"]
        rows["size"] = sizes
        rows["trade_id"] = np.arange(first + 1, first + n + 1)
        rows["aggressor_side"] = sides
        price, time_ns = int(rows["price"][-1]), int(rows["ts_event"][-1])
        yield rows


def generate_trades(instrument: CurrencyPair, count: int, seed: int) -> list[TradeTick]:
    """Return the ``count`` trades of :func:`trade_walk` as ``TradeTick`` objects."""
    return [
        trade
        for rows in trade_walk(count, seed)
        for trade in trades_to_objects(
            rows, instrument.id, instrument.price_precision, instrument.size_precision
        )
    ]


class MinuteBars(Component):
    """Aggregate the trades of one instrument into one-minute bars, closed by a clock timer."""

    def __init__(self, kernel: Kernel, instrument_id: InstrumentId) -> None:
        super().__init__("MinuteBars")
        self.kernel = kernel
        self.bar_type = BarType.from_str(f"{instrument_id}-1-MINUTE-LAST-INTERNAL")
        self.trade_topic = topics.trades(instrument_id)
        self.bar_topic = topics.bars(self.bar_type)
        self._prices: list[Price] = []
        self._volume: Quantity | None = None

    def _on_start(self) -> None:
        self.kernel.bus.subscribe(self.trade_topic, self.on_trade)
        self.kernel.clock.set_timer("bar.close", self.bar_type.spec.interval_ns, self.on_close)

    def _on_stop(self) -> None:
        self.kernel.bus.unsubscribe(self.trade_topic, self.on_trade)
        self.kernel.clock.cancel_timer("bar.close")

    def on_trade(self, trade: TradeTick) -> None:
        self._prices.append(trade.price)
        self._volume = trade.size if self._volume is None else self._volume + trade.size

    def on_close(self, event: TimeEvent) -> None:
        if not self._prices or self._volume is None:
            return  # no trade in this minute: no bar
        prices = self._prices
        bar = Bar(
            self.bar_type,
            prices[0],
            max(prices),
            min(prices),
            prices[-1],
            self._volume,
            event.ts_event,
            event.ts_event,
        )
        self._prices, self._volume = [], None
        self.kernel.cache.add_bar(bar)
        self.kernel.bus.publish(self.bar_topic, bar)


class EmaCrossWatcher(Component):
    """Follow a fast and a slow EMA of bar closes and count their crosses."""

    def __init__(self, kernel: Kernel, bar_topic: str, fast: int = 10, slow: int = 30) -> None:
        super().__init__("EmaCrossWatcher")
        self.kernel, self.bar_topic = kernel, bar_topic
        self.alpha_fast, self.alpha_slow = 2 / (fast + 1), 2 / (slow + 1)
        self.fast = self.slow = 0.0
        self.bars = 0
        self.crosses: list[tuple[int, str, Price]] = []

    def _on_start(self) -> None:
        self.kernel.bus.subscribe(self.bar_topic, self.on_bar)
        self.kernel.bus.register("demo.stats", self.on_stats_request)

    def _on_stop(self) -> None:
        self.kernel.bus.unsubscribe(self.bar_topic, self.on_bar)
        self.kernel.bus.deregister("demo.stats")

    def on_bar(self, bar: Bar) -> None:
        close = bar.close.as_double()  # floats for the indicator only: display-grade math
        if self.bars == 0:
            self.fast = self.slow = close
        was_above = self.fast > self.slow
        self.fast += self.alpha_fast * (close - self.fast)
        self.slow += self.alpha_slow * (close - self.slow)
        self.bars += 1
        if self.bars > 1 and (self.fast > self.slow) != was_above:
            self.crosses.append(
                (bar.ts_event, "up" if self.fast > self.slow else "down", bar.close)
            )

    def on_stats_request(self, request: Request) -> dict[str, object]:
        return {"bars": self.bars, "crosses": len(self.crosses)}


@dataclass(frozen=True)
class DemoResult:
    """What the demonstration did."""

    trades: int
    seconds: float
    stats: object
    crosses: list[tuple[int, str, Price]]
    last_bar: Bar | None
    published: int
    requests: int
    responses: int
    state: str


def run_demo(trades: int = 200_000, seed: int = 7) -> DemoResult:
    """Run the demonstration and return what it did (also used by the tests)."""
    kernel = Kernel()
    instrument = demo_instrument()
    kernel.cache.add_instrument(instrument)
    data = generate_trades(instrument, trades, seed)
    clock = kernel.clock
    assert isinstance(clock, TestClock)  # a backtest kernel: time comes from the data
    minute = 60 * NANOS_PER_SECOND
    clock.set_time(data[0].ts_event // minute * minute)  # bars close on whole minutes
    bars = MinuteBars(kernel, instrument.id)
    watcher = EmaCrossWatcher(kernel, bars.bar_topic)
    kernel.add_component(bars)
    kernel.add_component(watcher)
    kernel.start()

    cache, publish = kernel.cache, kernel.bus.publish
    topic = topics.trades(instrument.id)
    started = time.perf_counter()
    for trade in data:
        clock.advance_time(trade.ts_event)
        cache.add_trade(trade)
        publish(topic, trade)
    elapsed = time.perf_counter() - started

    answers: list[object] = []
    kernel.bus.request("demo.stats", None, lambda response: answers.append(response.payload))
    kernel.stop()
    return DemoResult(
        trades=trades,
        seconds=elapsed,
        stats=answers[0],
        crosses=watcher.crosses,
        last_bar=cache.bar(bars.bar_type),
        published=kernel.bus.published,
        requests=kernel.bus.requests,
        responses=kernel.bus.responses,
        state=kernel.state.name,
    )


def main(trades: int = 200_000, seed: int = 7) -> None:
    """Run the demonstration and print its results."""
    result = run_demo(trades, seed)
    print(f"zq kernel demo: {result.trades:,} generated trades of BTCUSDT.SIM (seed {seed})")
    rate = result.trades / result.seconds
    print(f"  replayed in {result.seconds:.3f} s ({rate:,.0f} trades/s through clock, cache, bus)")
    print(f"  stats by request/response: {result.stats}")
    bar = result.last_bar
    if bar is not None:
        print(f"  last bar: O {bar.open} H {bar.high} L {bar.low} C {bar.close} V {bar.volume}")
    for ts, direction, price in result.crosses[-5:]:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts // NANOS_PER_SECOND))
        print(f"  EMA(10/30) cross {direction:>4} at {stamp} UTC, close {price}")
    print(
        f"  bus: {result.published:,} published, {result.requests} request(s), "
        f"{result.responses} response(s); kernel {result.state}"
    )
