"""The HTML report: one self-contained, deterministic file with the charts and the statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zq.analytics.report import build_figure, format_value, statistics_table, thin, write_report
from zq.analytics.statistics import compute_statistics
from zq.model import OrderSide

START = pd.Timestamp("2024-01-01", tz="UTC")
INDEX = pd.date_range(START, periods=6, freq="D")
EQUITY = pd.Series([100_000.0, 101_000, 99_500, 102_000, 101_500, 103_000], index=INDEX)
PRICES = pd.Series([470.0, 472, 469, 475, 474, 478], index=INDEX, name="SPY.XNAS")
FILLS = pd.DataFrame(
    {
        "ts_event": [INDEX[0].value, INDEX[2].value, INDEX[3].value, INDEX[5].value],
        "instrument_id": ["SPY.XNAS"] * 4,
        "side": ["BUY", "SELL", "BUY", "SELL"],
        "last_qty": [100.0, 100.0, 50.0, 50.0],
        "last_px": [470.0, 469.0, 475.0, 478.0],
        "commission": [1.0, 1.0, 0.5, 0.5],
    }
)
POSITIONS = pd.DataFrame(
    {
        "realized_pnl": [-100.0, 150.0],
        "ts_opened": [INDEX[0], INDEX[3]],
        "ts_closed": [INDEX[2], INDEX[5]],
    }
)


def trace_names(figure: object) -> list[str]:
    return [trace.name for trace in figure.data]  # type: ignore[attr-defined]


@pytest.fixture
def report(tmp_path: Path) -> str:
    path = write_report(tmp_path / "report.html", EQUITY, FILLS, POSITIONS, prices=PRICES)
    return path.read_text(encoding="utf-8")


def test_report_is_one_html_document(report: str) -> None:
    assert report.startswith("<!DOCTYPE html>\n<html")
    assert report.rstrip().endswith("</html>")
    assert report.count("<body>") == report.count("</body>") == 1


def test_report_inlines_plotly_so_it_opens_offline(report: str) -> None:
    assert "<script src=" not in report
    assert "Plotly.newPlot" in report
    assert 'id="zq-report"' in report


def test_report_holds_every_section_and_trace(report: str) -> None:
    for section in ('id="statistics"', 'id="charts"'):
        assert section in report
    for trace in ("Price SPY.XNAS", "Buys SPY.XNAS", "Sells SPY.XNAS", "Equity", "Drawdown"):
        assert f'"name":"{trace}"' in report
    for title in ("Price and fills: SPY.XNAS", "Position size"):
        assert title in report


def test_report_shows_the_statistics(report: str) -> None:
    # 103,000 / 100,000 - 1 = 3 %; 2 round trips; 4 fills; fees 1 + 1 + 0.5 + 0.5 = 3
    assert '<tr id="stat-total_return"><th>Total return</th><td>3.00 %</td></tr>' in report
    assert '<tr id="stat-trades"><th>Trades</th><td>2</td></tr>' in report
    assert '<tr id="stat-fills"><th>Fills</th><td>4</td></tr>' in report
    assert '<tr id="stat-total_fees"><th>Total fees</th><td>3.0000</td></tr>' in report
    assert '<tr id="stat-profit_factor"><th>Profit factor</th><td>1.5000</td></tr>' in report


def test_report_of_the_same_inputs_is_the_same_file(tmp_path: Path) -> None:
    first = write_report(tmp_path / "a.html", EQUITY, FILLS, POSITIONS, prices=PRICES)
    second = write_report(tmp_path / "b.html", EQUITY, FILLS, POSITIONS, prices=PRICES)
    assert first.read_bytes() == second.read_bytes()


def test_report_uses_the_statistics_it_is_given(tmp_path: Path) -> None:
    statistics = compute_statistics(EQUITY, POSITIONS, FILLS)
    statistics["custom_figure"] = 42
    path = write_report(tmp_path / "r.html", EQUITY, FILLS, POSITIONS, statistics=statistics)
    assert "<th>Custom figure</th><td>42</td>" in path.read_text(encoding="utf-8")


def test_report_escapes_its_title(tmp_path: Path) -> None:
    path = write_report(tmp_path / "r.html", EQUITY, title="EMA <cross> & co")
    text = path.read_text(encoding="utf-8")
    assert "<title>EMA &lt;cross&gt; &amp; co</title>" in text
    assert "<h1>EMA &lt;cross&gt; &amp; co</h1>" in text


def test_report_of_an_empty_run_is_still_written(tmp_path: Path) -> None:
    path = write_report(tmp_path / "r.html", pd.Series([], dtype="float64"))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert '"name":"Equity"' in text


def test_figure_draws_buys_and_sells_at_their_fill_prices() -> None:
    figure = build_figure(EQUITY, FILLS, PRICES)
    buys, sells = (
        figure.data[trace_names(figure).index(f"{side} SPY.XNAS")] for side in ("Buys", "Sells")
    )
    assert list(buys.y) == [470.0, 475.0]
    assert list(sells.y) == [469.0, 478.0]
    assert list(pd.DatetimeIndex(buys.x)) == [INDEX[0], INDEX[3]]
    assert buys.marker.symbol == "triangle-up"
    assert sells.marker.symbol == "triangle-down"


def test_figure_rebuilds_the_position_from_fills_when_none_is_given() -> None:
    # buy 100, sell 100, buy 50, sell 50 → 100, 0, 50, 0
    figure = build_figure(EQUITY, FILLS, PRICES)
    position = figure.data[trace_names(figure).index("Position SPY.XNAS")]
    assert list(position.y) == [100.0, 0.0, 50.0, 0.0]
    assert position.line.shape == "hv"


def test_figure_draws_the_position_size_it_is_given() -> None:
    size = pd.Series([0.0, 10.0, -5.0], index=INDEX[:3])
    figure = build_figure(EQUITY, FILLS, PRICES, position_size={"SPY.XNAS": size})
    position = figure.data[trace_names(figure).index("Position SPY.XNAS")]
    assert list(position.y) == [0.0, 10.0, -5.0]


def test_figure_gives_each_instrument_its_own_price_row() -> None:
    other = FILLS.assign(
        instrument_id="QQQ.XNAS", ts_event=pd.to_datetime(FILLS["ts_event"], utc=True)
    )
    fills = pd.concat([FILLS, other], ignore_index=True)
    figure = build_figure(EQUITY, fills, {"SPY.XNAS": PRICES})
    names = trace_names(figure)
    assert "Buys QQQ.XNAS" in names and "Price QQQ.XNAS" not in names
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles == [
        "Price and fills: SPY.XNAS",
        "Price and fills: QQQ.XNAS",
        "Equity",
        "Drawdown",
        "Position size",
    ]


def test_figure_draws_drawdown_as_a_fraction_below_zero() -> None:
    figure = build_figure(EQUITY)
    fall = figure.data[trace_names(figure).index("Drawdown")]
    # 99,500 / 101,000 - 1 on day 3; 101,500 / 102,000 - 1 on day 5
    assert list(fall.y) == pytest.approx([0, 0, 99_500 / 101_000 - 1, 0, 101_500 / 102_000 - 1, 0])
    assert "Position size" not in [a.text for a in figure.layout.annotations]


def test_values_are_formatted_for_reading() -> None:
    assert format_value("total_return", 0.1234) == "12.34 %"
    assert format_value("profit_factor", float("inf")) == "inf"
    assert format_value("expectancy", 1234.5) == "1,234.5000"
    assert format_value("max_drawdown_recovery", "") == "–"
    assert format_value("trades", 7) == "7"
    assert (
        statistics_table({"a_b": 1})
        == '<table>\n<tr id="stat-a_b"><th>A b</th><td>1</td></tr>\n</table>'
    )


def test_thin_keeps_the_ends_and_every_bucket_extreme() -> None:
    # 1,000 points into 100 // 4 = 25 buckets of 40: first, lowest, highest, last of each.
    values = np.sin(np.arange(1_000) / 7.0)
    values[333] = -5.0
    values[777] = 5.0
    series = pd.Series(values, index=pd.date_range(START, periods=1_000, freq="s"))
    thinned = thin(series, 100)
    assert len(thinned) <= 100
    assert thinned.index.is_monotonic_increasing
    assert thinned.index[0] == series.index[0] and thinned.index[-1] == series.index[-1]
    assert thinned.min() == -5.0 and thinned.max() == 5.0
    assert thinned.index[thinned.argmin()] == series.index[333]


def test_thin_leaves_a_short_series_alone() -> None:
    assert thin(EQUITY, 100) is EQUITY
    assert thin(EQUITY, None) is EQUITY


def test_report_thins_long_lines_but_keeps_every_fill() -> None:
    index = pd.date_range(START, periods=10_000, freq="min")
    equity = pd.Series(np.linspace(100.0, 200.0, 10_000), index=index)
    figure = build_figure(equity, FILLS, max_points=400)
    names = trace_names(figure)
    assert len(figure.data[names.index("Equity")].y) <= 400
    assert len(figure.data[names.index("Buys SPY.XNAS")].y) == 2
    full = build_figure(equity, FILLS, max_points=None)
    assert len(full.data[names.index("Equity")].y) == 10_000


def test_figure_reads_order_side_members_as_well_as_names() -> None:
    sides = FILLS.assign(side=[OrderSide.BUY, OrderSide.SELL, OrderSide.BUY, OrderSide.SELL])
    figure = build_figure(EQUITY, sides, PRICES)
    names = trace_names(figure)
    assert list(figure.data[names.index("Buys SPY.XNAS")].y) == [470.0, 475.0]
    assert list(figure.data[names.index("Position SPY.XNAS")].y) == [100.0, 0.0, 50.0, 0.0]
