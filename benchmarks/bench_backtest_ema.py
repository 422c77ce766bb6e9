"""EMA(10/20) cross backtest on trade ticks: events/s, signals only and flipping a position.

    python benchmarks/bench_backtest_ema.py [--trades N] [--repeat R] [--breakdown]

Runs examples/ema_cross.py:EmaCross on generated trades of the demo pair (the config of
examples/configs/ema_cross.toml) through ``BacktestNode``. *Signals only* sets the trade size
to zero (the strategy computes both EMAs and its signal on every trade, and never orders);
*flipping* trades 0.01 BTC with market orders on each cross (about 4.5 % of the trades).
Prints the median of the repeats of events replayed per second of replay wall time, and per
second of the replay thread's CPU time (steadier on a shared machine: other processes' work
is not counted, though a busy sibling core still slows it), and the median wall time of the
whole ``BacktestNode.run()``: its set-up (generating the trades), the replay and the result
(orders, fills, positions and account history as DataFrames, built from what the replay
noted: work the replay leaves for later is counted there).

``--breakdown`` adds two runs that show where a signals-only event's time goes: the same
strategy subscribed to nothing (the replay, the generated data and the venue's matching of
each trade) and subscribed with an empty ``on_trade`` (plus making each trade and calling
the strategy); the rest of the signals-only figure is the strategy's own Python.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import msgspec

from zq.backtest import BacktestNode, load_config
from zq.backtest.config import resolve_strategy

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "configs" / "ema_cross.toml"
EmaCross: Any = resolve_strategy(f"{ROOT / 'examples' / 'ema_cross.py'}:EmaCross")


class EmptyOnTrade(EmaCross):  # type: ignore[misc, valid-type]
    """Subscribed to the trades, doing nothing with them."""

    def on_trade(self, trade: Any) -> None:
        pass


class NoSubscription(EmaCross):  # type: ignore[misc, valid-type]
    """Subscribed to nothing: the trades are replayed, matched by the venue, and dropped."""

    def on_start(self) -> None:
        pass


def run(trades: int, trade_size: str, path: str | None = None) -> tuple[float, float, int, int]:
    """Return (wall events/s, CPU events/s, events, orders) of one run."""
    config = load_config(CONFIG)
    strategies = [
        msgspec.structs.replace(
            s, params={**s.params, "trade_size": trade_size}, path=path or s.path
        )
        for s in config.strategies
    ]
    data = [msgspec.structs.replace(d, count=trades) for d in config.data]
    config = msgspec.structs.replace(config, strategies=strategies, data=data)
    result = BacktestNode(config).run()
    return (
        result.events_per_second,
        result.cpu_events_per_second,
        result.data_count,
        result.order_count,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--breakdown", action="store_true", help="add the breakdown runs")
    args = parser.parse_args()
    here = Path(__file__).resolve()
    cases: list[tuple[str, str, str | None]] = [
        ("signals only", "0", None),
        ("flipping with market orders", "0.01", None),
    ]
    if args.breakdown:
        cases += [
            ("breakdown: no subscription", "0", f"{here}:NoSubscription"),
            ("breakdown: empty on_trade", "0", f"{here}:EmptyOnTrade"),
        ]
    for label, size, path in cases:
        walls, cpus, totals = [], [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            wall, cpu, events, orders = run(args.trades, size, path)
            totals.append(time.perf_counter() - started)
            walls.append(wall)
            cpus.append(cpu)
        print(
            f"EMA cross, {label:<28} {events:>10,} events {orders:>8,} orders  "
            f"median {statistics.median(walls):>12,.0f} events/s wall "
            f"(min {min(walls):,.0f}, max {max(walls):,.0f}); "
            f"{statistics.median(cpus):>12,.0f} events/s CPU "
            f"({1e9 / statistics.median(cpus):,.0f} ns per event); "
            f"whole run (set-up, replay, result) median {statistics.median(totals):.2f} s"
        )


if __name__ == "__main__":
    main()
