"""Acceptance: the channel breakout of examples/bar_strategy.py on FTX BTC-PERP 1-minute bars
(examples/configs/ftx_bars.toml: 45,031 bars from 2021-12-31 23:01 to 2022-02-01 05:31, a
60-bar channel, 1 BTC, a MARGIN account in USD, 7 bp taker fee, zero latency, OHLC sweep).

How the golden values were checked: ``reference.channel_breakout`` and ``reference.settle``
replay the same strategy with the same fill rules in plain Python, straight from the bars
CSV loader's arrays, without any part of the engine: each bar is swept open, high, low,
close at its close time, so a market order sent on a bar fills at its close (for up to the
close's quarter of the volume, the rest one tick worse). Every test compares the engine with
that reference: the same orders, the same fills (time, side, quantity, price, commission),
realized PnL, commissions and final balance. The golden numbers below are the reference's;
the engine matched them on its first run.

The first fill is also worked out by hand from the CSV's text (see
``test_first_fill_by_hand``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from tests.integration.backtest import reference
from zq.backtest import BacktestNode, load_config
from zq.data.loaders.bars_csv import bar_chunks
from zq.model.data import BarType
from zq.model.events import OrderFilled

pytestmark = pytest.mark.realdata

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "examples" / "configs" / "ftx_bars.toml"

BARS = 45_031
ORDERS = 445
FILLS = 445
REALIZED_PNL = Decimal("-6118.00")
COMMISSIONS = Decimal("25635.37")
FINAL_BALANCE = Decimal("968246.63")
PRICE_PRECISION = 3  # the config's price_precision; tick "1" is raw 1000
SIZE_PRECISION = 4
START_BALANCE = Decimal("1000000")


@pytest.fixture(scope="module")
def config(market_data):
    config = load_config(CONFIG)
    path = market_data / "ftx" / "btc-perp-20211231-20220201_1m.csv"
    data = [msgspec.structs.replace(config.data[0], path=str(path))]
    return msgspec.structs.replace(config, data=data)


def _bars(config):
    (source,) = config.data
    return bar_chunks(
        source.path,
        timestamp_convention="close",
        interval=BarType.from_str(source.bar_type),
        price_precision=PRICE_PRECISION,
        size_precision=SIZE_PRECISION,
        round_excess_decimals=True,
    )


@pytest.fixture(scope="module")
def expected(config):
    (instrument,) = config.instruments
    (strategy,) = config.strategies
    outcome = reference.channel_breakout(
        _bars(config),
        tick=10**PRICE_PRECISION,
        lookback=strategy.params["lookback"],
        trade_size=int(Decimal(strategy.params["trade_size"]).scaleb(SIZE_PRECISION)),
    )
    return reference.settle(
        outcome,
        price_precision=PRICE_PRECISION,
        size_precision=SIZE_PRECISION,
        taker_fee=instrument.taker_fee,
    )


@pytest.fixture(scope="module")
def result(config):
    return BacktestNode(config).run()


def test_reference_gives_the_golden_values(expected):
    assert expected.orders == ORDERS
    assert len(expected.fills) == FILLS  # the close's volume share always covers 1-2 BTC
    assert expected.realized_pnl == REALIZED_PNL
    assert expected.commission == COMMISSIONS
    assert START_BALANCE + expected.balance_change == FINAL_BALANCE


def test_first_fill_by_hand(market_data, result):
    # The CSV's first 60 bars (lines 2-61, 2021-12-31 23:01 to 2022-01-01 00:00) have their
    # highest high 46514.0 (line 35, 23:34) and lowest low 46150.0. The closes of 00:01 to
    # 00:06 (46247, 46320, 46384, 46336, 46319, 46444) stay inside that channel (the window
    # slides, its high stays 46514); 00:07 closes at 46541.0 > 46514: buy 1 BTC at the
    # close, 46541, paying 46541 * 0.0007 = 32.5787 -> 32.58 USD.
    lines = (market_data / "ftx" / "btc-perp-20211231-20220201_1m.csv").read_text().splitlines()
    assert lines[34].split(",")[:3] == ["2021-12-31 23:34:00.000000", "46390.0", "46514.0"]
    assert lines[67].split(",")[0] == "2022-01-01 00:07:00.000000"
    assert lines[67].split(",")[4] == "46541.0"
    first = next(e for e in result.events if isinstance(e, OrderFilled))
    assert first.ts_event == 1_640_995_620_000_000_000  # 2022-01-01 00:07:00 UTC
    assert (first.order_side.name, str(first.last_qty), first.last_px.as_decimal()) == (
        "BUY",
        "1.0000",
        Decimal("46541"),
    )
    assert first.commission.as_decimal() == Decimal("32.58")


def test_engine_replays_every_bar(result, expected):
    assert result.data_count == expected.data_count == BARS


def test_engine_orders_and_fills_equal_the_reference(result, expected):
    assert result.order_count == expected.orders == ORDERS
    assert set(result.orders["status"]) == {"FILLED"}
    fills = [e for e in result.events if isinstance(e, OrderFilled)]
    engine = [
        reference.Fill(f.ts_event, int(f.order_side), f.last_qty.raw, f.last_px.raw) for f in fills
    ]
    assert engine == expected.fills
    assert [f.commission.as_decimal() for f in fills] == expected.commissions


def test_engine_pnl_commissions_and_balance_equal_the_reference(result, expected):
    assert result.realized_pnl["USD"].as_decimal() == expected.realized_pnl == REALIZED_PNL
    assert result.commissions["USD"].as_decimal() == expected.commission == COMMISSIONS
    balance = result.balances["FTX-001"]["USD"].as_decimal()
    assert balance == START_BALANCE + expected.balance_change == FINAL_BALANCE
    (position,) = result.positions.itertuples()
    assert position.signed_qty == 1.0 == expected.position / 10**SIZE_PRECISION
