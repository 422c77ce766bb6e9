"""Portfolio benchmarks: the cost of one fill, and of the net-position query strategies make.

    python benchmarks/bench_portfolio.py [--fills N] [--repeat R]

Replays prebuilt fills of the demo pair (``BTCUSDT.SIM``) through ``Portfolio.process_fill``
into a margin account, the way the EMA cross flips: open 0.01, then alternately sell and buy
0.02 (each fill closes the position and opens the other side), with a 0.1 % commission. A
second case adds to and reduces the position without flipping; a third, in hedging mode,
opens a position with each even order and closes it with the next. Prints the median over
the repeats of the real time per fill, then of the position queries strategies make per
signal.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _timing import measure

from zq.cache import Cache
from zq.demo import demo_instrument
from zq.model.enums import LiquiditySide, OmsType, OrderSide, OrderType
from zq.model.events import OrderFilled
from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    PositionId,
    StrategyId,
    TradeId,
    TraderId,
    VenueOrderId,
)
from zq.model.instruments import Instrument
from zq.portfolio import MarginAccount, Portfolio
from zq_core.fixed import Money, Price, Quantity

STRATEGY = StrategyId("EmaCross-001")
TRADER = TraderId("BACKTESTER-001")
ACCOUNT = AccountId("SIM-001")


def fills(instrument: Instrument, count: int, pattern: str, hedging: bool) -> list[OrderFilled]:
    """Return ``count`` fills: ``flip``, ``scale`` or ``round trip`` (see the module)."""
    usdt = instrument.settlement_currency
    out: list[OrderFilled] = []
    price = 4_200_000
    for n in range(count):
        price += (n * 7919) % 7 - 3  # a deterministic walk in ticks of 0.01
        if pattern == "round trip":  # buy 0.01, sell it, buy 0.01, ...
            lots = 1000
            buy = n % 2 == 0
        elif pattern == "flip":
            lots = 1000 if n == 0 else 2000
            buy = n % 2 == 0
        else:  # scale: holds 0.01, 0.02, 0.03, 0.02, 0.01, 0.02, ... never flat
            buy = n == 0 or ((n - 1) // 2) % 2 == 0
            lots = 1000
        qty = Quantity.from_raw(lots, 5)
        px = Price.from_raw(price, 2)
        fee = Money.from_raw(lots * price // 100_000, usdt)  # 0.1 % of notional
        coid = ClientOrderId(f"O-{n}")
        out.append(
            OrderFilled(
                trader_id=TRADER,
                strategy_id=STRATEGY,
                instrument_id=instrument.id,
                client_order_id=coid,
                ts_event=n,
                ts_init=n,
                venue_order_id=VenueOrderId(f"V-{n}"),
                account_id=ACCOUNT,
                trade_id=TradeId(f"T-{n}"),
                order_side=OrderSide.BUY if buy else OrderSide.SELL,
                order_type=OrderType.MARKET,
                last_qty=qty,
                last_px=px,
                commission=fee,
                liquidity_side=LiquiditySide.TAKER,
                # hedging: each even order opens its own position, the next one closes it
                position_id=PositionId(f"{instrument.id}-{STRATEGY}-O-{n - n % 2}")
                if hedging
                else None,
            )
        )
    return out


def portfolio(instrument: Instrument, hedging: bool) -> Portfolio:
    cache = Cache()
    cache.add_instrument(instrument)
    usdt = instrument.settlement_currency
    cache.add_account(MarginAccount(ACCOUNT, balances={usdt: Money(1_000_000, usdt)}))
    oms = OmsType.HEDGING if hedging else OmsType.NETTING
    return Portfolio(cache, default_oms_type=oms)


def per_fill(label: str, count: int, repeat: int, pattern: str, hedging: bool = False) -> None:
    instrument = demo_instrument()
    runs, cpu = [], []
    for _ in range(repeat):
        batch = fills(instrument, count, pattern, hedging)
        target = portfolio(instrument, hedging)
        process = target.process_fill
        start, start_cpu = time.perf_counter(), time.process_time()
        for fill in batch:
            process(fill, instrument)
        cpu.append((time.process_time() - start_cpu) / count * 1e6)
        runs.append((time.perf_counter() - start) / count * 1e6)
    # CPU time too: on a shared machine it is less inflated by other processes than wall time.
    print(
        f"{label:<58} {statistics.median(runs):8.2f} µs/fill  "
        f"(min {min(runs):.2f}, max {max(runs):.2f}; CPU {statistics.median(cpu):.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    per_fill("process_fill, netting, margin, flipping", args.fills, args.repeat, "flip")
    per_fill("process_fill, netting, margin, add/reduce", args.fills, args.repeat, "scale")
    per_fill(
        "process_fill, hedging, margin, open and close a position",
        args.fills,
        args.repeat,
        "round trip",
        hedging=True,
    )
    instrument = demo_instrument()
    target = portfolio(instrument, hedging=False)
    for fill in fills(instrument, 101, "flip", hedging=False):
        target.process_fill(fill, instrument)
    assert target.net_position(instrument.id, STRATEGY) == Decimal("0.01")
    iid = instrument.id
    measure(
        "net_position(instrument, strategy)",
        lambda: target.net_position(iid, STRATEGY),
        200_000,
        repeat=args.repeat,
    )
    measure(
        "positions_open(instrument)",
        lambda: target.positions_open(iid),
        200_000,
        repeat=args.repeat,
    )


if __name__ == "__main__":
    main()
