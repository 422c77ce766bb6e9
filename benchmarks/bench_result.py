"""What recording a backtest's result costs: per order during the run, and the frames after it.

    python benchmarks/bench_result.py [--trades N] [--repeat R]

Runs examples/ema_cross.py:EmaCross flipping a 0.01 BTC position with market orders (the
config of examples/configs/ema_cross.toml) on N generated trades, then, on that run's kernel:

- **recording**: the run's position events are replayed into a fresh
  :class:`~zq.backtest.sampler.ResultSampler` on the same cores and accounts, timed per event
  (CPU time of this process, as below);
  with the node's own listener (``list.append`` of every order and position event) this is
  what recording costs per order while the data replays;
- **result**: the node's whole build of the result, once, as the run does it (the first
  read of what the replay left, the account states made then: the figure a user waits for);
- **frames**: each frame of the result built again from the run, timed (CPU time of this
  process, so other processes on the machine disturb it less), and the sampler's samples
  computed into their columns; and the fills frame with the round trips as the node builds
  them (together: the events' types and the fills read once for both).

Prints the median of R repeats of each figure.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from zq.backtest import BacktestNode, load_config
from zq.backtest import result as frames
from zq.backtest.node import BacktestNode as Node
from zq.backtest.sampler import ResultSampler
from zq.model.position import PositionEvent
from zq.portfolio.account import Account

CONFIG = Path(__file__).resolve().parent.parent / "examples" / "configs" / "ema_cross.toml"


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    """Return the median CPU time of ``work`` over ``repeat`` calls, collector off."""
    times = []
    for _ in range(repeat):
        gc.disable()
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
        gc.enable()
    return statistics.median(times)


def measure(
    node: BacktestNode, exchanges: Any, kernel: Any, events: list[Any], repeat: int
) -> None:
    cache = kernel.cache
    position_events = [e for e in events if isinstance(e, PositionEvent)]
    orders = len(cache.orders())

    def replay() -> None:
        sampler = ResultSampler(
            kernel.clock, kernel.bus, cache, exchanges, [s.id for s in node.strategies]
        )
        sampler._on_start()
        handle = sampler._on_position_event
        started = time.process_time()
        for event in position_events:
            handle(event)
        per_event.append((time.process_time() - started) / len(position_events))
        sampler._on_stop()

    per_event: list[float] = []
    for _ in range(repeat):
        replay()
    sampler_ns = statistics.median(per_event) * 1e9
    appended: list[Any] = []
    append = appended.append
    started = time.process_time()
    for event in events:
        append(event)
    append_ns = (time.process_time() - started) / len(events) * 1e9
    per_order = (sampler_ns * len(position_events) + append_ns * len(events)) / orders / 1000
    print(f"run: {orders:,} orders, {len(events):,} order and position events, "
          f"{len(position_events):,} position events")
    print(f"recording: sampler {sampler_ns:,.0f} ns per position event; "
          f"event list {append_ns:,.0f} ns per event; {per_order:.2f} us per order")

    fills = frames.fill_events(events)
    accounts = [a for a in cache.accounts() if isinstance(a, Account)]
    inverse = [str(i.id) for i in cache.instruments() if i.is_inverse]
    sampler = ResultSampler(
        kernel.clock, kernel.bus, cache, exchanges, [s.id for s in node.strategies]
    )
    sampler._on_start()
    for event in position_events:
        sampler._on_position_event(event)
    sampler._on_stop()

    def samples() -> object:
        sampler._records = None
        return sampler.records

    work: dict[str, Callable[[], object]] = {
        "orders": lambda: frames.orders_frame(cache.orders(), fills),
        "fills": lambda: frames.fills_frame(fills),
        "positions": lambda: frames.positions_frame(cache.positions()),
        "account_history": lambda: frames.accounts_frame(accounts),
        "round_trips": lambda: frames.round_trips_frame(events, inverse),
        "samples": samples,
    }
    total = 0.0
    for name, build in work.items():
        seconds = median_seconds(build, repeat)
        total += seconds
        report(name, seconds, orders)
    records = sampler.records
    for name, build_frame in (
        ("equity", frames.equity_frame),
        ("prices", frames.prices_frame),
        ("positions_history", frames.positions_history_frame),
    ):
        seconds = median_seconds(lambda b=build_frame: b(records), repeat)  # type: ignore[misc]
        total += seconds
        report(name, seconds, orders)
    report("all", total, orders)
    # The node builds the fills frame and the round trips together, reading the events'
    # types and the fills once for both (not in "all", which counts them apart).
    both = median_seconds(lambda: frames.fills_and_round_trips(events, inverse), repeat)
    report("fills+round_trips", both, orders)


def report(name: str, seconds: float, orders: int) -> None:
    print(f"frames: {name:<18} {seconds * 1000:8.1f} ms  {seconds / orders * 1e6:6.2f} us/order")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = load_config(CONFIG)
    data = [msgspec.structs.replace(d, count=args.trades) for d in config.data]
    config = msgspec.structs.replace(config, data=data)
    node = BacktestNode(config)
    build = Node._build_result

    def build_and_measure(self: Node, kernel: Any, events: Any, count: int, elapsed: float) -> Any:
        assert self._sampler is not None  # the run's sampler knows the simulated exchanges
        # First the node's own build, once, on what the replay left (as a run builds it).
        sampler = self._sampler
        started = time.process_time()
        result = build(self, kernel, events, count, elapsed)
        seconds = time.process_time() - started
        orders = len(kernel.cache.orders())
        print(f"result: the node's build, first call {seconds * 1000:8.1f} ms "
              f"({seconds / orders * 1e6:.2f} us/order)")
        self._sampler = sampler
        measure(self, sampler._exchanges, kernel, events, args.repeat)
        self._sampler = None
        return result

    Node._build_result = build_and_measure  # type: ignore[method-assign]
    node.run()


if __name__ == "__main__":
    main()
