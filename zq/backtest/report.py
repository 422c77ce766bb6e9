"""Statistics and the HTML report of a backtest result (:mod:`zq.analytics` over its frames)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]

from zq.analytics import compute_statistics, write_report
from zq.backtest.node import BacktestResult

__all__ = ["result_equity", "result_statistics", "write_result_report"]


def result_equity(result: BacktestResult, currency: str | None = None) -> pd.Series:
    """Return the account balance in ``currency`` after each change, indexed by time (ns).

    This is the settled balance (cash plus realized PnL less fees), not a mark-to-market
    equity: open positions are valued only when they close. The opening balance, recorded
    before any data, is stamped at the time of the first change.
    """
    history = result.account_history
    if history.empty:
        return pd.Series(dtype=float)
    if currency is None:
        currency = str(history["currency"].iloc[0])
    rows = history[history["currency"] == currency]
    times = rows["ts_event"].to_numpy().copy()
    later = times[times > 0]
    if len(later):
        times[times == 0] = later.min()
    equity = pd.Series(rows["total"].to_numpy(), index=times, name=f"equity ({currency})")
    return equity.groupby(level=0).last()


def result_statistics(result: BacktestResult) -> dict[str, float | int | str]:
    """Return the performance statistics of ``result`` (``zq.analytics.compute_statistics``)."""
    closed = result.positions[result.positions["ts_closed"].fillna(0) > 0]
    return compute_statistics(result_equity(result), closed, result.fills)


def write_result_report(result: BacktestResult, path: str | Path, title: str) -> Path:
    """Write the HTML report of ``result`` (equity, drawdown, fills on the price chart).

    The price line is drawn through the fill prices (the result does not keep the market
    data), with the buy and sell fills marked on it.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fills = result.fills
    prices = None
    if not fills.empty:
        prices = {
            instrument: pd.Series(group["last_px"].to_numpy(), index=group["ts_event"].to_numpy())
            for instrument, group in fills.groupby("instrument_id")
        }
    return write_report(
        Path(path),
        result_equity(result),
        fills=fills,
        positions=result.positions,
        prices=prices,
        statistics=result_statistics(result),
        title=title,
    )
