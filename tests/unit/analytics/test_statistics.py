"""Statistics against hand-computed values, and the edge cases each figure defines."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from zq.analytics.statistics import (
    annualized_return,
    compute_statistics,
    drawdown,
    drawdown_periods,
    equity_series,
    expectancy,
    max_drawdown,
    periodic_returns,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    to_utc,
    total_fees,
    total_return,
    traded_notional,
    turnover,
    win_rate,
)

DAY = pd.Timedelta(days=1)
START = pd.Timestamp("2024-01-01", tz="UTC")


def daily(*values: float) -> pd.Series:
    return pd.Series(values, index=pd.date_range(START, periods=len(values), freq="D"))


def trips(*pnl: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "realized_pnl": pnl,
            "ts_opened": [START] * len(pnl),
            "ts_closed": [START + DAY] * len(pnl),
        }
    )


def fills_frame(qty: list[float], px: list[float], fees: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts_event": [START.value + i for i in range(len(qty))],
            "instrument_id": ["SPY.XNAS"] * len(qty),
            "side": ["BUY", "SELL"] * (len(qty) // 2) + ["BUY"] * (len(qty) % 2),
            "last_qty": qty,
            "last_px": px,
            "commission": fees,
        }
    )


# -- returns ---------------------------------------------------------------------------------------


def test_total_return_is_last_over_first_minus_one() -> None:
    # 121 / 100 - 1 = 0.21
    assert total_return(daily(100, 110, 99, 121)) == pytest.approx(0.21)


def test_annualized_return_compounds_over_the_span_in_years_of_365_25_days() -> None:
    # 100 → 121 over 730.5 days = 2 years: 1.21 ** (1 / 2) - 1 = 0.1
    equity = pd.Series([100.0, 121.0], index=[START, START + 730.5 * DAY])
    assert annualized_return(equity) == pytest.approx(0.1)


def test_annualized_return_of_a_wiped_out_account_is_minus_one() -> None:
    assert annualized_return(daily(100, 50, 0)) == -1.0
    assert total_return(daily(100, 50, 0)) == -1.0


def test_annualized_return_of_a_huge_gain_over_a_moment_is_infinite() -> None:
    equity = pd.Series([1.0, 1e6], index=[START, START + pd.Timedelta(seconds=1)])
    assert annualized_return(equity) == math.inf


def test_periodic_returns_take_each_day_close_and_start_from_the_first_observation() -> None:
    # Day 1 opens at 100 and closes at 110; day 2 closes at 99; day 3 at 121 (its 105 is
    # intraday); day 4 has no observation and is skipped; day 5 closes at 133.1.
    # Returns: 110/100-1 = 0.1, 99/110-1 = -0.1, 121/99-1 = 0.2222…, 133.1/121-1 = 0.1.
    times = ["01 09:00", "01 16:00", "02 12:00", "03 10:00", "03 15:00", "05 10:00"]
    index = pd.to_datetime([f"2024-01-{t}" for t in times], utc=True)
    equity = pd.Series([100, 110, 99, 105, 121, 133.1], index=index)
    returns = periodic_returns(equity)
    assert list(returns.index) == [START, START + DAY, START + 2 * DAY, START + 4 * DAY]
    assert returns.to_list() == pytest.approx([0.1, -0.1, 22 / 99, 0.1])
    assert (1 + returns).prod() - 1 == pytest.approx(total_return(equity))


def test_periodic_returns_drop_a_first_period_holding_only_the_first_observation() -> None:
    # Closes 100, 110, 99, 121 on four days: 0.1, -0.1, 0.2222…; no return for day 1.
    returns = periodic_returns(daily(100, 110, 99, 121))
    assert returns.to_list() == pytest.approx([0.1, -0.1, 22 / 99])


def test_periodic_returns_follow_the_stated_frequency() -> None:
    index = pd.date_range(START, periods=4, freq="30min")
    returns = periodic_returns(pd.Series([100.0, 101.0, 102.0, 99.0], index=index), "1h")
    # Hour 0 closes at 101 (from 100), hour 1 closes at 99 (from 101).
    assert returns.to_list() == pytest.approx([0.01, 99 / 101 - 1])


# -- risk ratios -----------------------------------------------------------------------------------


def test_sharpe_ratio_is_mean_over_sample_deviation_times_root_periods() -> None:
    # mean 0.02, sample std sqrt((0.01² + 0.01²) / 1) = 0.0141421;
    # 0.02 / 0.0141421 × sqrt(2) = 1.41421 × 1.41421 = 2
    assert sharpe_ratio(pd.Series([0.01, 0.03]), periods_per_year=2) == pytest.approx(2.0)


def test_sharpe_ratio_subtracts_the_risk_free_rate_per_period() -> None:
    # One period a year: rf per period = 0.01; excess 0.01, 0.03 → mean 0.02, std 0.0141421
    # → sqrt(2) × sqrt(1)
    sharpe = sharpe_ratio(pd.Series([0.02, 0.04]), periods_per_year=1, risk_free=0.01)
    assert sharpe == pytest.approx(math.sqrt(2))


def test_sortino_ratio_divides_by_the_downside_deviation_over_all_periods() -> None:
    # mean (0.02 - 0.01 + 0.05 - 0.02) / 4 = 0.01;
    # downside sqrt((0.01² + 0.02²) / 4) = sqrt(0.000125); 0.01 / sqrt(0.000125) = 0.894427;
    # × sqrt(5) = 2
    returns = pd.Series([0.02, -0.01, 0.05, -0.02])
    assert sortino_ratio(returns, periods_per_year=5) == pytest.approx(2.0)


def test_ratios_of_fewer_than_two_returns_are_zero() -> None:
    assert sharpe_ratio(pd.Series([0.05])) == 0.0
    assert sortino_ratio(pd.Series([0.05])) == 0.0
    assert sharpe_ratio(pd.Series([], dtype="float64")) == 0.0


def test_ratios_of_returns_that_never_vary_are_infinite_with_the_mean_sign() -> None:
    assert sharpe_ratio(pd.Series([0.01, 0.01, 0.01])) == math.inf
    assert sharpe_ratio(pd.Series([-0.01, -0.01])) == -math.inf
    assert sortino_ratio(pd.Series([0.01, 0.02])) == math.inf


def test_ratios_of_zero_mean_returns_are_zero() -> None:
    assert sharpe_ratio(pd.Series([0.0, 0.0, 0.0])) == 0.0
    assert sortino_ratio(pd.Series([0.0, 0.0, 0.0])) == 0.0
    assert sharpe_ratio(pd.Series([0.01, -0.01])) == 0.0


# -- drawdowns -------------------------------------------------------------------------------------

# Peaks 100, 120 (day 1) and 130 (day 5). Under water: days 2-3 (90/120-1 = -0.25, 108/120-1 =
# -0.1), recovered on day 4 (120): 3 days; days 6-9 (117/130-1 = -0.1, …), not recovered: 4 days.
SPELLS = daily(100, 120, 90, 108, 120, 130, 117, 118, 119, 125)


def test_drawdown_is_equity_over_running_peak_minus_one() -> None:
    expected = [0, 0, -0.25, -0.1, 0, 0, -0.1, 118 / 130 - 1, 119 / 130 - 1, 125 / 130 - 1]
    assert drawdown(SPELLS).to_list() == pytest.approx(expected)
    assert max_drawdown(SPELLS) == pytest.approx(-0.25)


def test_drawdown_periods_run_from_peak_to_recovery_or_to_the_end() -> None:
    spells = drawdown_periods(SPELLS)
    assert spells["start"].to_list() == [START + DAY, START + 5 * DAY]
    assert spells["trough"].to_list() == [START + 2 * DAY, START + 6 * DAY]
    assert spells["end"].to_list() == [START + 4 * DAY, START + 9 * DAY]
    assert spells["recovered"].to_list() == [True, False]
    assert spells["depth"].to_list() == pytest.approx([-0.25, -0.1])
    assert spells["duration"].to_list() == [3 * DAY, 4 * DAY]


def test_statistics_give_the_longest_spell_and_the_deepest_spell_dates() -> None:
    statistics = compute_statistics(SPELLS)
    assert statistics["max_drawdown"] == pytest.approx(-0.25)
    assert statistics["max_drawdown_start"] == "2024-01-02T00:00:00+00:00"
    assert statistics["max_drawdown_trough"] == "2024-01-03T00:00:00+00:00"
    assert statistics["max_drawdown_recovery"] == "2024-01-05T00:00:00+00:00"
    assert statistics["max_drawdown_duration_days"] == 4.0  # the later, shallower spell


def test_an_unrecovered_max_drawdown_has_no_recovery_date() -> None:
    statistics = compute_statistics(daily(100, 80, 90))
    assert statistics["max_drawdown"] == pytest.approx(-0.2)
    assert statistics["max_drawdown_recovery"] == ""
    assert statistics["max_drawdown_duration_days"] == 2.0


def test_equity_that_stays_at_its_peak_before_falling_starts_the_spell_at_the_last_peak() -> None:
    spells = drawdown_periods(daily(100, 100, 100, 90, 100))
    assert spells["start"].to_list() == [START + 2 * DAY]
    assert spells["duration"].to_list() == [2 * DAY]


# -- trades ----------------------------------------------------------------------------------------


def test_trade_figures_from_round_trips() -> None:
    # PnL 50, -20, 30, -10, 0: wins 2 of 5 (break-even is not a win) = 0.4;
    # gross profit 80, gross loss 30 → 80 / 30; expectancy 50 / 5 = 10.
    positions = trips(50, -20, 30, -10, 0)
    assert win_rate(positions) == pytest.approx(0.4)
    assert profit_factor(positions) == pytest.approx(80 / 30)
    assert expectancy(positions) == pytest.approx(10.0)


def test_profit_factor_without_a_losing_trade_is_infinite() -> None:
    positions = trips(5, 7)
    assert profit_factor(positions) == math.inf
    assert win_rate(positions) == 1.0


def test_profit_factor_without_profit_is_zero() -> None:
    assert profit_factor(trips(-5, -7)) == 0.0
    assert profit_factor(trips()) == 0.0
    assert profit_factor(None) == 0.0


def test_trade_figures_read_the_chosen_pnl_column() -> None:
    positions = trips(10, -4).assign(net_realized_pnl=[8.0, -6.0])
    # net: gross profit 8, gross loss 6; expectancy (8 - 6) / 2 = 1
    assert profit_factor(positions, "net_realized_pnl") == pytest.approx(8 / 6)
    assert expectancy(positions, "net_realized_pnl") == pytest.approx(1.0)
    statistics = compute_statistics(daily(100, 101), positions, pnl_column="net_realized_pnl")
    assert statistics["expectancy"] == pytest.approx(1.0)


def test_turnover_is_traded_notional_over_mean_equity() -> None:
    # notional 2×100 + 2×110 + 1×50 = 470; mean equity (1000 + 1100 + 900) / 3 = 1000
    fills = fills_frame([2, 2, 1], [100, 110, 50], [0, 0, 0])
    assert traded_notional(fills) == pytest.approx(470.0)
    assert turnover(daily(1000, 1100, 900), fills) == pytest.approx(0.47)


def test_traded_notional_applies_a_multiplier_column() -> None:
    # 1 contract × 5000 × 50 + 1 × 5010 × 50 = 500,500
    fills = fills_frame([1, 1], [5000, 5010], [0, 0]).assign(multiplier=[50.0, 50.0])
    assert traded_notional(fills) == pytest.approx(500_500.0)


def test_turnover_with_fills_but_no_equity_is_infinite() -> None:
    fills = fills_frame([1], [10], [0])
    assert turnover(pd.Series([], dtype="float64"), fills) == math.inf


def test_total_fees_add_commissions_and_rebates() -> None:
    # 1.5 - 0.5 + 2.0 = 3.0
    assert total_fees(fills_frame([1, 1, 1], [10, 10, 10], [1.5, -0.5, 2.0])) == pytest.approx(3.0)


# -- inputs and edge cases -------------------------------------------------------------------------


def test_to_utc_reads_nanoseconds_and_naive_datetimes_as_utc() -> None:
    from_ns = to_utc(pd.Series([START.value]))
    from_naive = to_utc(pd.Series([pd.Timestamp("2024-01-01")]))
    assert from_ns.iloc[0] == START
    assert from_naive.iloc[0] == START
    assert str(from_ns.dtype) == "datetime64[ns, UTC]"


def test_equity_series_sorts_and_takes_a_naive_index_as_utc() -> None:
    naive = pd.Series([2.0, 1.0], index=[pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-01")])
    series = equity_series(naive)
    assert series.to_list() == [1.0, 2.0]
    assert series.index[0] == START


def test_statistics_of_empty_inputs_are_zero_and_blank() -> None:
    statistics = compute_statistics(
        pd.Series([], dtype="float64"), trips(), fills_frame([], [], [])
    )
    assert statistics["start"] == ""
    assert statistics["max_drawdown_start"] == ""
    numbers = {k: v for k, v in statistics.items() if k not in ("frequency", "periods_per_year")}
    assert all(v in ("", 0, 0.0) for v in numbers.values()), numbers


def test_statistics_of_a_single_point_have_no_return_or_risk() -> None:
    statistics = compute_statistics(daily(1000))
    assert statistics["start"] == statistics["end"] == "2024-01-01T00:00:00+00:00"
    assert statistics["starting_equity"] == statistics["ending_equity"] == 1000.0
    for name in ("total_return", "annualized_return", "sharpe_ratio", "sortino_ratio"):
        assert statistics[name] == 0.0
    assert statistics["max_drawdown"] == 0.0
    assert statistics["max_drawdown_duration_days"] == 0.0


def test_statistics_of_a_flat_equity_curve_are_zero() -> None:
    statistics = compute_statistics(daily(1000, 1000, 1000, 1000))
    for name in ("total_return", "annualized_return", "sharpe_ratio", "sortino_ratio"):
        assert statistics[name] == 0.0
    assert statistics["max_drawdown"] == 0.0
    assert statistics["max_drawdown_trough"] == ""
    assert statistics["max_drawdown_duration_days"] == 0.0


def test_statistics_never_hold_nan() -> None:
    cases = [daily(), daily(0, 0), daily(100), daily(100, 0, 0), daily(-5, 10)]
    for equity in cases:
        for value in compute_statistics(equity).values():
            assert not (isinstance(value, float) and math.isnan(value)), equity


def test_compute_statistics_agrees_with_the_pure_functions() -> None:
    equity = daily(100, 102, 99, 104, 103, 107)
    fills = fills_frame([1, 1], [10, 11], [0.25, 0.25])
    positions = trips(1.0, -0.5)
    statistics = compute_statistics(equity, positions, fills, periods_per_year=365)
    returns = periodic_returns(equity)
    assert statistics["total_return"] == pytest.approx(0.07)
    assert statistics["sharpe_ratio"] == sharpe_ratio(returns, 365)
    assert statistics["sortino_ratio"] == sortino_ratio(returns, 365)
    assert statistics["trades"] == 2
    assert statistics["fills"] == 2
    assert statistics["total_fees"] == pytest.approx(0.5)
    assert statistics["win_rate"] == pytest.approx(0.5)
    assert statistics["periods_per_year"] == 365
    assert list(statistics)[:4] == ["start", "end", "starting_equity", "ending_equity"]


def test_equity_indexed_by_integer_nanoseconds_is_read_as_utc() -> None:
    series = equity_series(pd.Series([1.0, 2.0], index=[START.value, (START + DAY).value]))
    assert list(series.index) == [START, START + DAY]
    assert total_return(pd.Series([1.0, 2.0], index=[START.value, (START + DAY).value])) == 1.0


def test_positions_still_open_are_not_round_trips() -> None:
    positions = trips(10, -4, 3).astype({"ts_closed": object})
    positions.loc[2, "ts_closed"] = None
    statistics = compute_statistics(daily(100, 101), positions)
    # closed: 10 and -4 → 2 trades, expectancy 3, profit factor 10 / 4
    assert statistics["trades"] == 2
    assert statistics["expectancy"] == pytest.approx(3.0)
    assert statistics["profit_factor"] == pytest.approx(2.5)
