"""Analytics: what a run achieved, as figures and as a report.

Exports :func:`compute_statistics` (returns, Sharpe, Sortino, drawdowns, trade figures) with the
pure functions behind it, and :func:`write_report` (one self-contained HTML file of charts and
statistics).
"""

from zq.analytics.report import write_report
from zq.analytics.statistics import (
    Statistics,
    annualized_return,
    compute_statistics,
    drawdown,
    drawdown_periods,
    expectancy,
    max_drawdown,
    periodic_returns,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    total_fees,
    total_return,
    traded_notional,
    turnover,
    win_rate,
)

__all__ = [
    "Statistics",
    "annualized_return",
    "compute_statistics",
    "drawdown",
    "drawdown_periods",
    "expectancy",
    "max_drawdown",
    "periodic_returns",
    "profit_factor",
    "sharpe_ratio",
    "sortino_ratio",
    "total_fees",
    "total_return",
    "traded_notional",
    "turnover",
    "win_rate",
    "write_report",
]
