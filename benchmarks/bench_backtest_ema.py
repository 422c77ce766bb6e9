"""EMA(10/20) cross backtest on trade ticks: events/s, signals only and flipping a position.

    python benchmarks/bench_backtest_ema.py [--trades N] [--repeat R]

Runs examples/ema_cross.py:EmaCross on generated trades of the demo pair (the config of
examples/configs/ema_cross.toml) through ``BacktestNode``. *Signals only* sets the trade size
to zero (the strategy computes both EMAs and its signal on every trade, and never orders);
*flipping* trades 0.01 BTC with market orders on each cross (about 4 % of the trades).
Prints the median of the repeats of events replayed per second of replay wall time.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import msgspec

from zq.backtest import BacktestNode, load_config

CONFIG = Path(__file__).resolve().parent.parent / "examples" / "configs" / "ema_cross.toml"


def run(trades: int, trade_size: str) -> tuple[float, int, int]:
    config = load_config(CONFIG)
    strategies = [
        msgspec.structs.replace(s, params={**s.params, "trade_size": trade_size})
        for s in config.strategies
    ]
    data = [msgspec.structs.replace(d, count=trades) for d in config.data]
    config = msgspec.structs.replace(config, strategies=strategies, data=data)
    result = BacktestNode(config).run()
    return result.events_per_second, result.data_count, result.order_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for label, size in (("signals only", "0"), ("flipping with market orders", "0.01")):
        rates = []
        for _ in range(args.repeat):
            rate, events, orders = run(args.trades, size)
            rates.append(rate)
        print(
            f"EMA cross, {label:<28} {events:>10,} events {orders:>8,} orders  "
            f"median {statistics.median(rates):>12,.0f} events/s  "
            f"(min {min(rates):,.0f}, max {max(rates):,.0f})"
        )


if __name__ == "__main__":
    main()
