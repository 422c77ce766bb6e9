"""The report of a backtest result: its panels, its size on a long run, and capped fills."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import zq.backtest.report as backtest_report
from tests.unit.backtest.test_node import load_example
from tests.unit.backtest.test_result import SECOND, T0, scripted_config, trade
from zq.analytics.report import build_figure, thin_fills
from zq.backtest import BacktestNode
from zq.backtest.report import (
    REPORT_MAX_POINTS,
    result_equity,
    result_statistics,
    write_result_report,
)

PRICES = ["100.00", "110.00", "120.00", "100.00", "80.00", "85.00", "95.00"]


@pytest.fixture(scope="module")
def scripted():
    data = [trade(i, p) for i, p in enumerate(PRICES, start=1)]
    return BacktestNode(scripted_config(), data=data, sample_interval_ns=5 * SECOND).run()


def figure_data(page: str) -> list[dict]:
    # The figure's JSON is the second argument of Plotly.newPlot("zq-report", [...], ...).
    match = re.search(r'Plotly\.newPlot\(\s*"zq-report",\s*(\[.*?\]),\s*\{', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


def values(field: object) -> list:
    # plotly writes numeric arrays as typed base64 blocks: {"dtype": "f8", "bdata": ...}.
    if isinstance(field, dict):
        return np.frombuffer(base64.b64decode(field["bdata"]), dtype=field["dtype"]).tolist()
    assert isinstance(field, list)
    return field


def test_result_report_has_price_fills_equity_drawdown_and_position_panels(
    scripted, tmp_path: Path
) -> None:
    page = write_result_report(scripted, tmp_path / "r.html", title="scripted").read_text()
    for panel in ("Price and fills: BTCUSDT.SIM", "Equity", "Drawdown", "Position size"):
        assert panel in page
    traces = {trace["name"]: trace for trace in figure_data(page)}
    assert set(traces) == {
        "Price BTCUSDT.SIM",
        "Buys BTCUSDT.SIM",
        "Sells BTCUSDT.SIM",
        "Equity",
        "Drawdown",
        "Position BTCUSDT.SIM",
    }
    # Fills sit on the price chart at their prices: buys at trades 1, 2, 5, 6; sells at 3, 4.
    assert values(traces["Buys BTCUSDT.SIM"]["y"]) == [100.0, 110.0, 80.0, 85.0]
    assert values(traces["Sells BTCUSDT.SIM"]["y"]) == [120.0, 100.0]
    # The price line is the sampled mark; the position line the sampled net quantity.
    assert values(traces["Price BTCUSDT.SIM"]["y"])[-1] == 95.0
    assert values(traces["Position BTCUSDT.SIM"]["y"])[-1] == 1.0
    assert values(traces["Equity"]["y"])[-1] == pytest.approx(1_000_059.125)


def test_result_report_is_self_contained(scripted, tmp_path: Path) -> None:
    page = write_result_report(scripted, tmp_path / "r.html", title="scripted").read_text()
    assert '<script src="http' not in page and "plotly.js v" in page.lower()
    assert 'id="stat-sharpe_ratio"' in page and 'id="stat-trades"' in page


def test_report_of_a_long_run_is_thinned_to_a_few_thousand_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = BacktestNode(load_example(count=100_000), sample_interval_ns=SECOND).run()
    assert len(result.equity) > REPORT_MAX_POINTS  # a sample a second, and each fill
    monkeypatch.setattr(backtest_report, "REPORT_MAX_FILLS", 1_000)  # 4,483 fills here
    assert len(result.fills) > 1_000
    path = write_result_report(result, tmp_path / "long.html", title="long")
    traces = {trace["name"]: trace for trace in figure_data(path.read_text())}
    for name in ("Equity", "Drawdown", "Price BTCUSDT.SIM", "Position BTCUSDT.SIM"):
        assert len(values(traces[name]["x"])) <= REPORT_MAX_POINTS
    buys, sells = traces["Buys BTCUSDT.SIM"], traces["Sells BTCUSDT.SIM"]
    assert len(values(buys["x"])) + len(values(sells["x"])) == 1_000
    assert f"(1,000 of {len(result.fills):,} fills drawn)" in path.read_text()
    assert path.stat().st_size < 6_000_000  # plotly.js is most of it
    # The statistics still read every sample and every round trip.
    stats = result_statistics(result)
    assert stats["fills"] == len(result.fills)
    assert stats["trades"] == result.round_trip_count
    assert stats["ending_equity"] == result_equity(result).iloc[-1]


def test_thin_fills_keeps_the_first_and_last_evenly_spaced() -> None:
    group = pd.DataFrame({"n": range(10)})
    assert thin_fills(group, 4)["n"].tolist() == [0, 3, 6, 9]
    assert thin_fills(group, None) is group
    assert thin_fills(group, 20) is group


def test_figure_says_how_many_fills_it_drew() -> None:
    fills = pd.DataFrame(
        {
            "ts_event": [T0 + i for i in range(6)],
            "instrument_id": "X.SIM",
            "side": ["BUY", "SELL"] * 3,
            "last_qty": 1.0,
            "last_px": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "commission": 0.0,
        }
    )
    equity = pd.Series([1.0, 2.0], index=[T0, T0 + 6])
    figure = build_figure(equity, fills, max_fills=3)
    assert figure.layout.annotations[0].text == "Price and fills: X.SIM (3 of 6 fills drawn)"
    assert sum(len(t.x) for t in figure.data if t.mode == "markers") == 3
