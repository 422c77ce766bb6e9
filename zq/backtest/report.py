"""Statistics and the HTML report of a backtest result (:mod:`zq.analytics` over its frames).

Conventions
-----------
- **Equity** is the mark-to-market equity the :class:`~zq.backtest.sampler.ResultSampler`
  sampled (balance plus unrealized PnL, every ``sample_interval_ns`` of data time, at every
  fill and at the end), summed over the accounts holding the chosen currency.
- **Returns** behind Sharpe and Sortino are taken once per sampling interval (the last
  equity of each interval), and **annualized on calendar time**:
  ``periods_per_year = 365.25 days / sample interval`` (525,960 for one minute). The sampler
  samples through nights, weekends and gaps in the data alike, so the count of periods and
  the annualization agree; for a market that closes, these ratios are per calendar year,
  not per trading year.
- **Trades** are the closed round trips (:data:`zq.backtest.result.ROUND_TRIP_COLUMNS`):
  win rate, profit factor and expectancy are on their PnL **net of fees**.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]

from zq.analytics import compute_statistics, write_report
from zq.analytics.statistics import DAYS_PER_YEAR, NANOSECONDS_PER_DAY, Statistics
from zq.backtest.result import BacktestResult

__all__ = [
    "REPORT_MAX_FILLS",
    "REPORT_MAX_POINTS",
    "periods_per_year",
    "result_equity",
    "result_statistics",
    "sampling_frequency",
    "write_result_report",
]

#: Each line of the result's report is thinned to at most this many points.
REPORT_MAX_POINTS = 4_000
#: At most this many fills per instrument are drawn (evenly spaced through the run).
REPORT_MAX_FILLS = 5_000


def periods_per_year(interval_ns: int) -> float:
    """Return how many sampling intervals make a calendar year of 365.25 days."""
    if interval_ns <= 0:
        raise ValueError(f"interval_ns must be positive, got {interval_ns}")
    return DAYS_PER_YEAR * NANOSECONDS_PER_DAY / interval_ns


def sampling_frequency(interval_ns: int) -> str:
    """Return the sampling interval as a pandas offset alias (``"1min"``, ``"5s"``...)."""
    from pandas.tseries.frequencies import to_offset  # type: ignore[import-untyped]

    alias = str(to_offset(pd.Timedelta(interval_ns, unit="ns")).freqstr)
    return alias if alias[0].isdigit() else f"1{alias}"


def _currency(result: BacktestResult, currency: str | None) -> str | None:
    if currency is not None:
        return currency
    if not result.equity.empty:
        return str(result.equity["currency"].iloc[0])
    if not result.account_history.empty:
        return str(result.account_history["currency"].iloc[0])
    return None


def result_equity(result: BacktestResult, currency: str | None = None) -> pd.Series:
    """Return the mark-to-market equity in ``currency``, indexed by time (UNIX ns).

    The equity of every account holding ``currency`` (default: the first one sampled) is
    summed at each sample time, each account's last sample carried forward. A result
    without samples falls back to the settled balance of its account history.
    """
    code = _currency(result, currency)
    if code is None:
        return pd.Series(dtype=float)
    name = f"equity ({code})"
    samples = result.equity
    if samples.empty:
        return _settled_balance(result, code).rename(name)
    rows = samples[samples["currency"] == code]
    table = rows.pivot_table(index="ts", columns="account_id", values="equity", aggfunc="last")
    equity = table.sort_index().ffill().sum(axis=1, min_count=1).dropna()
    return pd.Series(equity.to_numpy(dtype="float64"), index=equity.index.to_numpy(), name=name)


def _settled_balance(result: BacktestResult, code: str) -> pd.Series:
    history = result.account_history
    rows = history[history["currency"] == code]
    times = rows["ts_event"].to_numpy().copy()
    later = times[times > 0]
    if len(later):
        times[times == 0] = later.min()  # the opening balance is recorded at time 0
    return pd.Series(rows["total"].to_numpy(), index=times).groupby(level=0).last()


def result_statistics(result: BacktestResult, currency: str | None = None) -> Statistics:
    """Return the performance statistics of ``result`` (see the module's conventions).

    What :func:`zq.analytics.compute_statistics` returns, on the mark-to-market equity, the
    round trips (net PnL) and the fills, with returns per sampling interval annualized on
    calendar time.
    """
    interval = result.sample_interval_ns
    return compute_statistics(
        result_equity(result, currency),
        result.round_trips,
        result.fills,
        frequency=sampling_frequency(interval),
        periods_per_year=periods_per_year(interval),
        pnl_column="net_pnl",
    )


def _prices(result: BacktestResult) -> dict[str, pd.Series]:
    return {
        str(instrument): pd.Series(
            group["price"].to_numpy(dtype="float64"), index=group["ts"].to_numpy()
        )
        for instrument, group in result.prices.groupby("instrument_id", sort=True)
    }


def _position_sizes(result: BacktestResult) -> dict[str, pd.Series] | None:
    history = result.positions_history
    if history.empty:
        return None
    net = history.groupby(["instrument_id", "ts"], sort=True)["signed_qty"].sum()
    return {
        str(instrument): pd.Series(
            group.to_numpy(dtype="float64"), index=group.index.get_level_values("ts").to_numpy()
        )
        for instrument, group in net.groupby(level="instrument_id", sort=True)
    }


def write_result_report(
    result: BacktestResult,
    path: str | Path,
    title: str,
    *,
    statistics: Statistics | None = None,
    currency: str | None = None,
) -> Path:
    """Write the HTML report of ``result`` and return its path.

    Panels, on one time axis: each instrument's mark price with the buy and sell fills on it,
    the mark-to-market equity, its drawdown, and the net position per instrument (all
    strategies). Lines are thinned to :data:`REPORT_MAX_POINTS` points (peaks and troughs
    kept) and at most :data:`REPORT_MAX_FILLS` fills per instrument are drawn, so a long run
    still gives a file of a few MB; the statistics use every point.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if statistics is None:
        statistics = result_statistics(result, currency)
    prices: Any = _prices(result) or None
    return write_report(
        target,
        result_equity(result, currency),
        fills=result.fills,
        positions=result.round_trips,
        prices=prices,
        position_size=_position_sizes(result),
        statistics=statistics,
        title=title,
        max_points=REPORT_MAX_POINTS,
        max_fills=REPORT_MAX_FILLS,
    )
