"""An HTML report of a run: statistics, price with fills, equity, drawdown and position size.

The report is one self-contained file: plotly.js is inlined, so it opens offline and can be
mailed or archived as it is. The same inputs give byte-for-byte the same file (the chart's div
id is fixed and the template is set explicitly).
"""

from __future__ import annotations

import enum
import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from zq.analytics.statistics import (
    Statistics,
    compute_statistics,
    drawdown,
    equity_series,
    to_utc,
)
from zq.model import OrderSide

CHART_ID = "zq-report"
MAX_POINTS = 20_000
BUY_COLOR = "#2ca02c"
SELL_COLOR = "#d62728"
# Figures shown as percentages in the statistics table.
FRACTIONS = frozenset({"total_return", "annualized_return", "max_drawdown", "win_rate"})

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 0.25em 1em; border-bottom: 1px solid #ddd; }
th { text-align: left; font-weight: normal; color: #555; }
td { text-align: right; font-variant-numeric: tabular-nums; }
"""


def write_report(
    path: str | Path,
    equity: Any,
    fills: Any = None,
    positions: Any = None,
    prices: Any = None,
    position_size: Any = None,
    statistics: Statistics | None = None,
    title: str = "zq backtest report",
    max_points: int | None = MAX_POINTS,
    max_fills: int | None = None,
) -> Path:
    """Write the HTML report of a run and return its path.

    Parameters
    ----------
    path : str or Path
        Where to write the file (its folder must exist); an existing file is replaced.
    equity : pandas.Series
        Account equity indexed by UTC timestamps.
    fills : pandas.DataFrame, optional
        Fills with ``ts_event`` (integer nanoseconds or datetimes), ``instrument_id``, ``side``
        (``"BUY"`` / ``"SELL"``, or ``OrderSide`` members or values), ``last_qty``, ``last_px`` and
        ``commission``; drawn as markers on each instrument's price chart.
    positions : pandas.DataFrame, optional
        Closed round trips with ``realized_pnl``, for the statistics.
    prices : pandas.Series or Mapping[str, pandas.Series], optional
        Price per instrument indexed by UTC timestamps; a single Series belongs to the fills'
        only instrument (or is named by its ``name``). Without prices, fills are drawn alone.
    position_size : pandas.Series or Mapping[str, pandas.Series], optional
        Signed position size per instrument over time. Without it, the net position is rebuilt
        from the fills (buys add, sells subtract).
    statistics : dict, optional
        What :func:`~zq.analytics.statistics.compute_statistics` returned; computed with its
        defaults when omitted.
    title : str, default "zq backtest report"
        The page's title and heading.
    max_points : int or None, default 20,000
        Thin each line (price, equity, drawdown, position) longer than this with
        :func:`thin`, which keeps every peak and trough; ``None`` draws every point. Statistics
        always use every point.
    max_fills : int or None, default None
        Draw at most this many fills per instrument, evenly spaced in fill order (the first
        and last included), and say so in the panel's title; ``None`` draws every fill.

    Returns
    -------
    Path
        The path written.
    """
    if statistics is None:
        statistics = compute_statistics(equity, positions, fills)
    figure = build_figure(
        equity, fills, prices, position_size, max_points=max_points, max_fills=max_fills
    )
    chart = figure.to_html(
        full_html=False,
        include_plotlyjs=True,
        div_id=CHART_ID,
        config={"displaylogo": False, "responsive": True},
    )
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            f"<h1>{html.escape(title)}</h1>",
            '<section id="statistics">',
            "<h2>Statistics</h2>",
            statistics_table(statistics),
            "</section>",
            '<section id="charts">',
            "<h2>Charts</h2>",
            chart,
            "</section>",
            "</body>",
            "</html>",
            "",
        ]
    )
    target = Path(path)
    target.write_text(page, encoding="utf-8")
    return target


def statistics_table(statistics: Statistics) -> str:
    """Return the statistics as an HTML table, one row per figure, in the given order."""
    rows = [
        f'<tr id="stat-{html.escape(name)}"><th>{html.escape(_label(name))}</th>'
        f"<td>{html.escape(format_value(name, value))}</td></tr>"
        for name, value in statistics.items()
    ]
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def format_value(name: str, value: float | int | str) -> str:
    """Return a figure as the table shows it: fractions as percentages, floats to 4 decimals."""
    if isinstance(value, str):
        return value or "–"
    if isinstance(value, int):
        return str(value)
    if math.isinf(value) or math.isnan(value):
        return str(value)
    if name in FRACTIONS:
        return f"{value * 100:,.2f} %"
    return f"{value:,.4f}"


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _named(series_or_mapping: Any, default_name: str | None) -> dict[str, Any]:
    if series_or_mapping is None:
        return {}
    if isinstance(series_or_mapping, Mapping):
        return {str(key): value for key, value in series_or_mapping.items()}
    name = series_or_mapping.name if series_or_mapping.name is not None else default_name
    return {str(name if name is not None else "price"): series_or_mapping}


def _side_name(side: object) -> str:
    # A frame built from `OrderSide` members holds their numbers.
    if isinstance(side, enum.Enum):
        return side.name
    if isinstance(side, int | np.integer):
        return OrderSide(int(side)).name
    return str(side).upper()


def _fills_by_instrument(fills: Any) -> dict[str, Any]:
    if fills is None or len(fills) == 0:
        return {}
    frame = fills.copy()
    frame["ts"] = to_utc(frame["ts_event"]).to_numpy()
    frame["instrument_id"] = frame["instrument_id"].astype(str)
    frame["side"] = frame["side"].map(_side_name)
    frame = frame.sort_values("ts", kind="stable")
    return {str(key): group for key, group in frame.groupby("instrument_id", sort=True)}


def _positions_from_fills(fills: dict[str, Any]) -> dict[str, Any]:
    sizes = {}
    for instrument, group in fills.items():
        sign = group["side"].map({"BUY": 1.0, "SELL": -1.0}).fillna(0.0)
        size = (sign * group["last_qty"].astype("float64").abs()).cumsum()
        sizes[instrument] = pd.Series(size.to_numpy(), index=pd.DatetimeIndex(group["ts"]))
    return sizes


def _price_title(instrument: str, drawn: dict[str, Any], total: dict[str, int]) -> str:
    title = f"Price and fills: {instrument}"
    group = drawn.get(instrument)
    if group is not None and len(group) < total[instrument]:
        title += f" ({len(group):,} of {total[instrument]:,} fills drawn)"
    return title


def thin(series: Any, max_points: int | None) -> Any:
    """Return at most ``max_points`` points of ``series`` that keep its shape.

    The series is cut into ``max_points // 4`` buckets of equal count, and each keeps its
    first, lowest, highest and last point, so peaks, troughs and the drawdown's depth survive.
    A series no longer than ``max_points`` (or ``max_points=None``) is returned as it is.
    """
    size = len(series)
    if max_points is None or size <= max_points:
        return series
    buckets = max(1, max_points // 4)
    edges = np.linspace(0, size, buckets + 1).astype(np.int64)
    values = series.to_numpy()
    bucket = np.repeat(np.arange(buckets), np.diff(edges))
    keep = [edges[:-1], edges[1:] - 1]
    for extreme in (np.minimum, np.maximum):
        hits = np.flatnonzero(values == extreme.reduceat(values, edges[:-1])[bucket])
        keep.append(hits[np.unique(bucket[hits], return_index=True)[1]])
    return series.iloc[np.unique(np.concatenate(keep))]


def thin_fills(group: Any, max_fills: int | None) -> Any:
    """Return at most ``max_fills`` rows of ``group``, evenly spaced, first and last kept."""
    size = len(group)
    if max_fills is None or size <= max_fills:
        return group
    if max_fills < 2:
        return group.iloc[:max_fills]
    return group.iloc[np.unique(np.linspace(0, size - 1, max_fills).round().astype(np.int64))]


def build_figure(
    equity: Any,
    fills: Any = None,
    prices: Any = None,
    position_size: Any = None,
    *,
    max_points: int | None = MAX_POINTS,
    max_fills: int | None = None,
) -> Any:
    """Return the report's plotly figure: one price-and-fills row per instrument, then equity,
    drawdown and position size, on a shared time axis."""
    by_instrument = _fills_by_instrument(fills)
    drawn_of = {key: len(group) for key, group in by_instrument.items()}
    by_instrument = {key: thin_fills(group, max_fills) for key, group in by_instrument.items()}
    only = next(iter(by_instrument)) if len(by_instrument) == 1 else None
    price_series = _named(prices, only)
    instruments = list(price_series) + sorted(set(by_instrument) - set(price_series))
    sizes = _named(position_size, only) if position_size is not None else None
    if sizes is None:
        sizes = _positions_from_fills(by_instrument)

    titles = [_price_title(instrument, by_instrument, drawn_of) for instrument in instruments]
    titles += ["Equity", "Drawdown"]
    heights = [3.0] * len(instruments) + [2.0, 1.0]
    if sizes:
        titles.append("Position size")
        heights.append(1.0)
    figure = make_subplots(
        rows=len(titles),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        subplot_titles=titles,
        row_heights=heights,
    )

    for row, instrument in enumerate(instruments, start=1):
        if instrument in price_series:
            price = thin(equity_series(price_series[instrument]), max_points)
            figure.add_trace(
                go.Scatter(
                    x=price.index,
                    y=price.to_numpy(),
                    name=f"Price {instrument}",
                    mode="lines",
                    line={"color": "#7f7f7f", "width": 1},
                ),
                row=row,
                col=1,
            )
        group = by_instrument.get(instrument)
        if group is not None:
            for side, symbol, color in (
                ("BUY", "triangle-up", BUY_COLOR),
                ("SELL", "triangle-down", SELL_COLOR),
            ):
                chosen = group[group["side"] == side]
                figure.add_trace(
                    go.Scatter(
                        x=pd.DatetimeIndex(chosen["ts"]),
                        y=chosen["last_px"].astype("float64").to_numpy(),
                        name=f"{'Buys' if side == 'BUY' else 'Sells'} {instrument}",
                        mode="markers",
                        marker={"symbol": symbol, "color": color, "size": 9},
                        customdata=chosen[["last_qty", "commission"]].astype("float64").to_numpy(),
                        hovertemplate=(
                            f"{side} %{{customdata[0]}} @ %{{y}}<br>"
                            "fee %{customdata[1]}<br>%{x}<extra></extra>"
                        ),
                    ),
                    row=row,
                    col=1,
                )
        figure.update_yaxes(title_text="price", row=row, col=1)

    series = equity_series(equity)
    fall = thin(drawdown(series), max_points)
    series = thin(series, max_points)
    equity_row = len(instruments) + 1
    figure.add_trace(
        go.Scatter(
            x=series.index,
            y=series.to_numpy(),
            name="Equity",
            mode="lines",
            line={"color": "#1f77b4"},
        ),
        row=equity_row,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=fall.index,
            y=fall.to_numpy(),
            name="Drawdown",
            mode="lines",
            fill="tozeroy",
            line={"color": SELL_COLOR, "width": 1},
        ),
        row=equity_row + 1,
        col=1,
    )
    figure.update_yaxes(title_text="equity", row=equity_row, col=1)
    figure.update_yaxes(title_text="drawdown", tickformat=".1%", row=equity_row + 1, col=1)
    if sizes:
        for instrument, size in sizes.items():
            held = thin(equity_series(size), max_points)
            figure.add_trace(
                go.Scatter(
                    x=held.index,
                    y=held.to_numpy(),
                    name=f"Position {instrument}",
                    mode="lines",
                    line={"shape": "hv"},
                ),
                row=equity_row + 2,
                col=1,
            )
        figure.update_yaxes(title_text="size", row=equity_row + 2, col=1)

    figure.update_layout(
        template="plotly_white",
        height=180 * sum(heights) + 120,
        hovermode="closest",
        legend={"orientation": "h", "y": -0.05},
        margin={"l": 70, "r": 30, "t": 40, "b": 40},
    )
    return figure
