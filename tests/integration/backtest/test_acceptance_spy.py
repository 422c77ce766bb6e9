"""Acceptance: the EMA(100/400) cross of examples/ema_cross.py on five days of SPY trades
(examples/configs/spy_ema_cross.toml: 1,887,450 trades once the 10 suspicious prints are left
out, 100 shares, a MARGIN account in USD, 1 bp taker fee, zero latency).

How the golden values were checked: ``reference.ema_cross`` and ``reference.settle`` replay
the same strategy with the same fill rules in plain Python, straight from the QuantConnect
loader's arrays, without any part of the engine (no bus, cache, portfolio, exchange or
matching core). Every test compares the engine with that reference: the same orders, the
same fills (time, side, quantity, price, commission), realized PnL, commissions and final
balance. The golden numbers below are the reference's; the engine matched them on its first
run. The third order, split over two fills, is also worked out by hand from the zip's text
(``test_a_split_fill_by_hand``). They are pinned so that a change to the loader, the reference and the engine together
cannot pass unnoticed.

Duration: about 20 s for the engine's replay of 1.9 million trades (the compiled replay
loop, on the shared 2-core machine) and 6 to 17 s for the reference.
"""

from __future__ import annotations

import zipfile
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from tests.integration.backtest import reference
from zq.backtest import BacktestNode, load_config
from zq.data.loaders.quantconnect import trade_chunks
from zq.model.events import OrderFilled

pytestmark = pytest.mark.realdata

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "examples" / "configs" / "spy_ema_cross.toml"

TRADES = 1_887_450
ORDERS = 6_092
FILLS = 9_214
REALIZED_PNL = Decimal("-13532.78")
COMMISSIONS = Decimal("20392.43")
FINAL_BALANCE = Decimal("966074.79")
START_BALANCE = Decimal("1000000")


@pytest.fixture(scope="module")
def config(market_data):
    config = load_config(CONFIG)
    pattern = str(market_data / "quantconnect" / "spy" / "201310??_trade.zip")
    data = [msgspec.structs.replace(config.data[0], paths=[pattern])]
    return msgspec.structs.replace(config, data=data)


@pytest.fixture(scope="module")
def expected(config):
    (instrument,) = config.instruments
    (strategy,) = config.strategies
    (source,) = config.data
    chunks = (
        chunk.trades
        for path in source.files()
        for chunk in trade_chunks(path, 2)  # price_increment "0.01": 2 decimals
    )
    outcome = reference.ema_cross(
        chunks,
        price_precision=2,
        tick=1,  # 0.01 at precision 2
        fast=strategy.params["fast"],
        slow=strategy.params["slow"],
        trade_size=int(strategy.params["trade_size"]),
    )
    return reference.settle(
        outcome, price_precision=2, size_precision=0, taker_fee=instrument.taker_fee
    )


@pytest.fixture(scope="module")
def result(config):
    return BacktestNode(config).run()


def test_the_five_days_hold_the_trades_the_data_readme_counts(config, expected):
    (source,) = config.data
    assert [f.name for f in source.files()] == [
        f"201310{day:02d}_trade.zip" for day in (7, 8, 9, 10, 11)
    ]
    # 1,887,460 trades in the files (shared/data/README.md), 10 of them flagged suspicious.
    assert expected.data_count == TRADES == 1_887_460 - 10


def test_reference_gives_the_golden_values(expected):
    assert expected.orders == ORDERS
    assert len(expected.fills) == FILLS
    assert expected.realized_pnl == REALIZED_PNL
    assert expected.commission == COMMISSIONS
    assert START_BALANCE + expected.balance_change == FINAL_BALANCE
    # Every order fills in full: fills of one order add up to a 100 (open) or 200 (flip).
    assert sum(f.quantity for f in expected.fills) == 100 + 200 * (ORDERS - 1)


def test_engine_replays_every_trade(result):
    assert result.data_count == TRADES


def test_engine_orders_and_fills_equal_the_reference(result, expected):
    assert result.order_count == expected.orders == ORDERS
    assert set(result.orders["status"]) == {"FILLED"}
    fills = [e for e in result.events if isinstance(e, OrderFilled)]
    engine = [
        reference.Fill(f.ts_event, int(f.order_side), f.last_qty.raw, f.last_px.raw) for f in fills
    ]
    assert len(engine) == len(expected.fills) == FILLS
    for index, (mine, theirs) in enumerate(zip(engine, expected.fills, strict=True)):
        assert mine == theirs, f"fill {index}: engine {mine}, reference {theirs}"
    assert [f.commission.as_decimal() for f in fills] == expected.commissions


def test_engine_pnl_commissions_and_balance_equal_the_reference(result, expected):
    assert result.realized_pnl["USD"].as_decimal() == expected.realized_pnl == REALIZED_PNL
    assert result.commissions["USD"].as_decimal() == expected.commission == COMMISSIONS
    balance = result.balances["ARCA-001"]["USD"].as_decimal()
    assert balance == START_BALANCE + expected.balance_change == FINAL_BALANCE
    (position,) = result.positions.itertuples()
    assert position.signed_qty == expected.position == -100


def test_a_split_fill_by_hand(market_data, result):
    # Line 1186 of 2013-10-07's CSV: 30,267,461 ms after midnight New York = 08:24:27.461 EDT
    # = 12:24:27.461 UTC (1,381,148,667.461 s); 1675400 deci-cents = 167.54; 100 shares. On
    # it the EMAs cross upwards and the strategy, short 100, buys 200: 100 fill at the trade's
    # price for the trade's size, the other 100 one tick worse at 167.55. Commissions at 1 bp:
    # 100 * 167.54 * 0.0001 = 1.6754 -> 1.68 and 100 * 167.55 * 0.0001 = 1.6755 -> 1.68.
    archive = market_data / "quantconnect" / "spy" / "20131007_trade.zip"
    with zipfile.ZipFile(archive) as opened:
        lines = opened.read(opened.namelist()[0]).decode().splitlines()
    assert lines[1185].split(",")[:3] == ["30267461", "1675400", "100"]
    fills = [e for e in result.events if isinstance(e, OrderFilled)]
    first, second = fills[2], fills[3]
    assert first.client_order_id == second.client_order_id
    for fill, price in ((first, "167.54"), (second, "167.55")):
        assert fill.ts_event == 1_381_148_667_461_000_000
        assert fill.order_side.name == "BUY"
        assert (fill.last_qty.as_decimal(), fill.last_px.as_decimal()) == (100, Decimal(price))
        assert fill.commission.as_decimal() == Decimal("1.68")
