"""Performance statistics of a run: returns, risk ratios, drawdowns and trade figures.

Every function is pure and takes pandas objects, so a backtest result (or anything else) can hand
over its account history, fills and closed positions as DataFrames.

Conventions shared by all functions:

- returns and drawdowns are fractions (``0.05`` is 5 %); a drawdown is negative or zero;
- a figure is never ``nan``: an undefined ratio whose numerator is zero is ``0.0`` and a ratio
  whose denominator is zero but whose numerator is not is ``±inf``, so the result can always be
  compared, sorted and printed;
- timestamps are UTC; a naive equity index is taken to be UTC.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

Statistics = dict[str, float | int | str]
"""What :func:`compute_statistics` returns: figure name to value, in display order."""

NANOSECONDS_PER_DAY = 86_400 * 10**9
DAYS_PER_YEAR = 365.25


# -- inputs ----------------------------------------------------------------------------------------


def equity_series(equity: Any) -> Any:
    """Return ``equity`` as a float Series on a sorted UTC DatetimeIndex.

    Parameters
    ----------
    equity : pandas.Series
        Account equity indexed by timestamps (``datetime64`` or integer nanoseconds).

    Returns
    -------
    pandas.Series
        The same values as ``float64``, sorted by time, without missing values.
    """
    series = pd.Series(equity, dtype="float64", copy=True)
    index = series.index
    if isinstance(index, pd.DatetimeIndex):
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    else:
        index = pd.DatetimeIndex(to_utc(pd.Series(index)))
    series.index = index.as_unit("ns")
    return series.dropna().sort_index(kind="stable")


def to_utc(timestamps: Any) -> Any:
    """Return ``timestamps`` (integer nanoseconds, datetimes or strings) as UTC datetimes.

    Parameters
    ----------
    timestamps : pandas.Series
        Integer nanoseconds since the epoch, or anything :func:`pandas.to_datetime` reads; naive
        datetimes are taken to be UTC.

    Returns
    -------
    pandas.Series
        ``datetime64[ns, UTC]`` values on the original index.
    """
    series = pd.Series(timestamps)
    if len(series) and pd.api.types.is_integer_dtype(series.dtype):
        return pd.to_datetime(series, unit="ns", utc=True)
    return pd.to_datetime(series, utc=True).astype("datetime64[ns, UTC]")


# -- returns ---------------------------------------------------------------------------------------


def total_return(equity: Any) -> float:
    """Return the growth of equity over the whole series: ``last / first - 1``.

    ``0.0`` with fewer than two points, and when the first equity is not positive (a return on
    nothing is undefined).
    """
    series = equity_series(equity)
    if len(series) < 2 or series.iloc[0] <= 0:
        return 0.0
    return float(series.iloc[-1] / series.iloc[0] - 1.0)


def annualized_return(equity: Any) -> float:
    """Return the compound annual growth rate over the equity's time span.

    ``CAGR = (last / first) ** (1 / years) - 1`` with ``years = (t_last - t_first) / 365.25
    days``. ``0.0`` when the span is zero or the first equity is not positive; ``-1.0`` when
    the equity ends at or below zero.
    """
    series = equity_series(equity)
    if len(series) < 2 or series.iloc[0] <= 0:
        return 0.0
    span_ns = int(series.index[-1].value - series.index[0].value)
    if span_ns <= 0:
        return 0.0
    growth = float(series.iloc[-1] / series.iloc[0])
    if growth <= 0.0:
        return -1.0
    years = span_ns / NANOSECONDS_PER_DAY / DAYS_PER_YEAR
    try:
        return float(growth ** (1.0 / years) - 1.0)
    except OverflowError:  # a short span compounds a gain past the float range
        return math.inf


def periodic_returns(equity: Any, frequency: str = "1D") -> Any:
    """Return the simple returns of equity sampled at the close of each period.

    Each period's equity is the last observation inside it; periods without an observation are
    skipped (with daily periods on stock data, weekends and holidays add no zero returns). The
    first period's return is measured from the very first observation (and dropped when that
    observation is the period's only one), so the returns compound to the total return:
    ``prod(1 + r) - 1 == total_return(equity)``. A return from zero equity is ``0.0``.

    Parameters
    ----------
    equity : pandas.Series
        Account equity indexed by UTC timestamps.
    frequency : str, default "1D"
        A pandas offset alias: ``"1D"``, ``"1h"``, ``"1W"``…

    Returns
    -------
    pandas.Series
        One return per period that has an observation, labelled by the period's start.
    """
    series = equity_series(equity)
    if len(series) == 0:
        return pd.Series([], dtype="float64", index=pd.DatetimeIndex([], tz="UTC"))
    resampled = series.resample(frequency)
    closes = resampled.last().dropna()
    previous = closes.shift(1)
    previous.iloc[0] = series.iloc[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = closes / previous - 1.0
    returns = returns.replace([np.inf, -np.inf], np.nan).fillna(0.0)
    if resampled.size().iloc[0] == 1:
        # The first period closes on the first observation: it has no return of its own.
        returns = returns.iloc[1:]
    return returns


def _ratio(numerator: float, denominator: float) -> float:
    if numerator == 0.0:
        return 0.0
    if denominator == 0.0:
        return math.copysign(math.inf, numerator)
    return numerator / denominator


def _excess(returns: Any, periods_per_year: float, risk_free: float) -> Any:
    per_period = (1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0
    return pd.Series(returns, dtype="float64") - per_period


def sharpe_ratio(returns: Any, periods_per_year: float = 252, risk_free: float = 0.0) -> float:
    """Return the annualized Sharpe ratio of periodic returns.

    ``sharpe = mean(e) / std(e) * sqrt(periods_per_year)`` where ``e = r - rf`` are the excess
    returns, ``rf = (1 + risk_free) ** (1 / periods_per_year) - 1`` is the annual risk-free rate
    compounded down to one period, and ``std`` is the sample standard deviation (``n - 1``).
    ``0.0`` with fewer than two returns or a zero mean; ``±inf`` when the returns do not vary.
    """
    excess = _excess(returns, periods_per_year, risk_free)
    if len(excess) < 2:
        return 0.0
    mean = float(excess.mean())
    deviation = float(excess.std(ddof=1))
    if deviation < 1e-15 * max(1.0, abs(mean)):  # equal returns leave a rounding residue
        deviation = 0.0
    return _ratio(mean, deviation) * math.sqrt(periods_per_year)


def sortino_ratio(returns: Any, periods_per_year: float = 252, risk_free: float = 0.0) -> float:
    """Return the annualized Sortino ratio of periodic returns.

    ``sortino = mean(e) / dd * sqrt(periods_per_year)`` with the excess returns ``e`` of
    :func:`sharpe_ratio` and the downside deviation ``dd = sqrt(mean(min(e, 0) ** 2))`` taken over
    all ``n`` periods (a target of zero excess return). ``0.0`` with fewer than two returns or a
    zero mean; ``inf`` when no period falls short of the risk-free rate and the mean is positive.
    """
    excess = _excess(returns, periods_per_year, risk_free)
    if len(excess) < 2:
        return 0.0
    mean = float(excess.mean())
    downside = float(np.sqrt(np.mean(np.minimum(excess.to_numpy(), 0.0) ** 2)))
    return _ratio(mean, downside) * math.sqrt(periods_per_year)


# -- drawdowns -------------------------------------------------------------------------------------


def drawdown(equity: Any) -> Any:
    """Return the drawdown at each point: ``equity / running peak - 1`` (zero or negative).

    Points before the peak is positive have a drawdown of ``0.0``.
    """
    series = equity_series(equity)
    peak = series.cummax()
    with np.errstate(divide="ignore", invalid="ignore"):
        fall = series / peak - 1.0
    return fall.where(peak > 0, 0.0).clip(upper=0.0)


def max_drawdown(equity: Any) -> float:
    """Return the deepest drawdown as a fraction (``-0.25`` is a 25 % fall from a peak)."""
    fall = drawdown(equity)
    return float(fall.min()) if len(fall) else 0.0


def drawdown_periods(equity: Any) -> Any:
    """Return every spell under water, from its peak to its recovery.

    A spell starts at the last point at the running peak before equity falls below it and ends
    at the first point back at or above that peak (its recovery), or at the last point if equity
    has not recovered.

    Returns
    -------
    pandas.DataFrame
        One row per spell with ``start``, ``trough``, ``end`` (UTC timestamps), ``recovered``
        (bool), ``depth`` (the spell's deepest drawdown, negative) and ``duration`` (a
        Timedelta, ``end - start``), in time order.
    """
    series = equity_series(equity)
    columns = ["start", "trough", "end", "recovered", "depth", "duration"]
    if len(series) < 2:
        return pd.DataFrame(columns=columns)
    fall = drawdown(series).to_numpy()
    at_peak = fall >= 0.0
    index = series.index
    rows = []
    starts = np.flatnonzero(at_peak)
    for number, begin in enumerate(starts):
        stop = starts[number + 1] if number + 1 < len(starts) else len(series)
        if stop - begin < 2:
            continue
        under = slice(begin + 1, stop)
        trough = begin + 1 + int(np.argmin(fall[under]))
        recovered = stop < len(series)
        end = stop if recovered else len(series) - 1
        rows.append(
            {
                "start": index[begin],
                "trough": index[trough],
                "end": index[end],
                "recovered": recovered,
                "depth": float(fall[trough]),
                "duration": index[end] - index[begin],
            }
        )
    return pd.DataFrame(rows, columns=columns)


# -- trades ----------------------------------------------------------------------------------------


def _pnl(positions: Any, pnl_column: str) -> Any:
    if positions is None or len(positions) == 0:
        return pd.Series([], dtype="float64")
    if "ts_closed" in positions.columns:
        # A position still open (no close time) is not a round trip yet.
        positions = positions[positions["ts_closed"].notna()]
    return pd.Series(positions[pnl_column], dtype="float64").dropna()


def win_rate(positions: Any, pnl_column: str = "realized_pnl") -> float:
    """Return the share of round trips with a positive PnL (break-even is not a win); ``0.0``
    without round trips."""
    pnl = _pnl(positions, pnl_column)
    return float((pnl > 0).mean()) if len(pnl) else 0.0


def profit_factor(positions: Any, pnl_column: str = "realized_pnl") -> float:
    """Return gross profit / gross loss of the round trips.

    Gross profit sums the positive PnLs, gross loss the magnitudes of the negative ones. ``inf``
    when there is profit and no loss; ``0.0`` when there is no profit (including no round trips).
    """
    pnl = _pnl(positions, pnl_column)
    profit = float(pnl[pnl > 0].sum())
    loss = float(-pnl[pnl < 0].sum())
    return _ratio(profit, loss)


def expectancy(positions: Any, pnl_column: str = "realized_pnl") -> float:
    """Return the mean PnL per round trip (in the account currency); ``0.0`` without round
    trips."""
    pnl = _pnl(positions, pnl_column)
    return float(pnl.mean()) if len(pnl) else 0.0


def traded_notional(fills: Any) -> float:
    """Return the sum of ``|last_qty| × last_px × multiplier`` over the fills.

    A ``notional`` column, when present, is used as it is; a ``multiplier`` column, when present,
    scales each fill (futures, options); otherwise the multiplier is 1.
    """
    if fills is None or len(fills) == 0:
        return 0.0
    if "notional" in fills.columns:
        return float(pd.Series(fills["notional"], dtype="float64").abs().sum())
    quantity = pd.Series(fills["last_qty"], dtype="float64").abs()
    price = pd.Series(fills["last_px"], dtype="float64").abs()
    notional = quantity * price
    if "multiplier" in fills.columns:
        notional = notional * pd.Series(fills["multiplier"], dtype="float64")
    return float(notional.sum())


def turnover(equity: Any, fills: Any) -> float:
    """Return traded notional / average equity (the mean of the equity observations).

    ``0.0`` without fills; ``inf`` with fills but no positive average equity.
    """
    series = equity_series(equity)
    average = float(series.mean()) if len(series) else 0.0
    return _ratio(traded_notional(fills), max(average, 0.0))


def total_fees(fills: Any) -> float:
    """Return the sum of the fills' ``commission`` (rebates are negative)."""
    if fills is None or len(fills) == 0:
        return 0.0
    return float(pd.Series(fills["commission"], dtype="float64").sum())


# -- all together ----------------------------------------------------------------------------------


def _iso(timestamp: Any) -> str:
    return "" if timestamp is None or pd.isna(timestamp) else str(timestamp.isoformat())


def _days(delta: Any) -> float:
    return float(pd.Timedelta(delta).value / NANOSECONDS_PER_DAY)


def compute_statistics(
    equity: Any,
    positions: Any = None,
    fills: Any = None,
    *,
    frequency: str = "1D",
    periods_per_year: float = 252,
    risk_free: float = 0.0,
    pnl_column: str = "realized_pnl",
) -> Statistics:
    """Compute the statistics of a run.

    Parameters
    ----------
    equity : pandas.Series
        Account equity (float, account currency) indexed by UTC timestamps.
    positions : pandas.DataFrame, optional
        Closed round trips, one per row, with the PnL column ``pnl_column``; rows whose
        ``ts_closed`` is missing (positions still open) are left out of every trade figure.
    fills : pandas.DataFrame, optional
        Fills with ``last_qty``, ``last_px`` and ``commission`` (and optionally ``multiplier``
        or ``notional``).
    frequency : str, default "1D"
        The period of the returns behind Sharpe and Sortino (see :func:`periodic_returns`).
    periods_per_year : float, default 252
        How many such periods make a year: 252 for daily returns of a stock market, 365 for a
        market that trades every day, ``365 * 24`` for hourly returns of such a market.
    risk_free : float, default 0.0
        The annual risk-free rate.
    pnl_column : str, default "realized_pnl"
        The column of ``positions`` holding each round trip's PnL: gross or net of fees, as the
        caller chooses (``"net_realized_pnl"`` for instance).

    Returns
    -------
    dict
        In this order: ``start``, ``end`` (ISO timestamps), ``starting_equity``,
        ``ending_equity``, ``total_return``, ``annualized_return``, ``sharpe_ratio``,
        ``sortino_ratio``, ``max_drawdown`` (negative fraction), ``max_drawdown_start``,
        ``max_drawdown_trough``, ``max_drawdown_recovery`` (ISO timestamps of the deepest
        drawdown; recovery ``""`` while under water), ``max_drawdown_duration_days`` (the longest
        spell from a peak to its recovery, or to the end if still under water, not necessarily
        the deepest one's), ``trades`` (round trips), ``fills``, ``win_rate``,
        ``profit_factor``, ``expectancy``, ``turnover``, ``total_fees``, ``frequency``,
        ``periods_per_year``. Timestamps are ``""`` when there is nothing to date.
    """
    series = equity_series(equity)
    returns = periodic_returns(series, frequency)
    spells = drawdown_periods(series)
    deepest = spells.loc[spells["depth"].idxmin()] if len(spells) else None
    longest = _days(spells["duration"].max()) if len(spells) else 0.0
    return {
        "start": _iso(series.index[0]) if len(series) else "",
        "end": _iso(series.index[-1]) if len(series) else "",
        "starting_equity": float(series.iloc[0]) if len(series) else 0.0,
        "ending_equity": float(series.iloc[-1]) if len(series) else 0.0,
        "total_return": total_return(series),
        "annualized_return": annualized_return(series),
        "sharpe_ratio": sharpe_ratio(returns, periods_per_year, risk_free),
        "sortino_ratio": sortino_ratio(returns, periods_per_year, risk_free),
        "max_drawdown": max_drawdown(series),
        "max_drawdown_start": _iso(deepest["start"]) if deepest is not None else "",
        "max_drawdown_trough": _iso(deepest["trough"]) if deepest is not None else "",
        "max_drawdown_recovery": (
            _iso(deepest["end"]) if deepest is not None and deepest["recovered"] else ""
        ),
        "max_drawdown_duration_days": longest,
        "trades": len(_pnl(positions, pnl_column)),
        "fills": 0 if fills is None else len(fills),
        "win_rate": win_rate(positions, pnl_column),
        "profit_factor": profit_factor(positions, pnl_column),
        "expectancy": expectancy(positions, pnl_column),
        "turnover": turnover(series, fills),
        "total_fees": total_fees(fills),
        "frequency": frequency,
        "periods_per_year": periods_per_year,
    }
