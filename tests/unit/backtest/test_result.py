"""BacktestResult: round trips and mark-to-market equity of a small scripted run, by hand.

The script trades BTCUSDT.SIM (taker fee 0.1 %) on a NETTING margin venue with 1,000,000
USDT; every market order fills at once at the price of the trade that triggered it (an L1
book built from the trades). Trades come every 10 s:

===  ======  =========  =========================  ========================================
 #   price   order      position after             realized (average price method)
===  ======  =========  =========================  ========================================
 1   100     BUY 1      long 1 @ 100               0
 2   110     BUY 1      long 2 @ 105  (scale in)   0
 3   120     SELL 1     long 1 @ 105  (scale out)  (120 − 105) × 1 = 15
 4   100     SELL 3     short 2 @ 100 (flip)       (100 − 105) × 1 = −5 → round trip 1: 10
 5    80     BUY 2      flat                       (100 − 80) × 2 = 40  → round trip 2: 40
 6    85     BUY 1      long 1 @ 85                0                     (round trip 3 open)
 7    95     –          long 1 @ 85                unrealized (95 − 85) × 1 = 10
===  ======  =========  =========================  ========================================

Fees (0.1 % of price × quantity): 0.1, 0.11, 0.12, 0.3, 0.16, 0.085. The flip's 0.3 is shared
by quantity: 1/3 (0.1) to round trip 1, 2/3 (0.2) to round trip 2.
"""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zq.backtest import BacktestConfig, BacktestNode, StrategyConfig, VenueConfig
from zq.backtest.report import periods_per_year, result_equity, result_statistics
from zq.backtest.result import ROUND_TRIP_COLUMNS, round_trips_frame
from zq.model.data import TradeTick
from zq.model.enums import AggressorSide, OrderSide
from zq.model.identifiers import InstrumentId, TradeId
from zq.strategy import Strategy
from zq_core.fixed import Price, Quantity

BTC = InstrumentId("BTCUSDT.SIM")
SECOND = 1_000_000_000
T0 = 1_704_067_200 * SECOND  # 2024-01-01 00:00:00 UTC
START_BALANCE = 1_000_000.0


class ScriptParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # trade number -> (side, quantity)
    orders: dict[str, tuple[str, str]] = {}


class Script(Strategy[ScriptParams]):
    """Send the scripted market order on each trade number that has one."""

    def __init__(
        self,
        params: ScriptParams | None = None,
        *,
        strategy_id: str | None = None,
        order_id_tag: str = "001",
    ) -> None:
        super().__init__(params or ScriptParams(), strategy_id=strategy_id, order_id_tag=order_id_tag)
        self.trades = 0

    def on_start(self) -> None:
        self.subscribe_trades(BTC)

    def on_trade(self, trade: TradeTick) -> None:
        self.trades += 1
        order = self.params.orders.get(str(self.trades))
        if order is not None:
            side, qty = order
            self.submit_order(
                self.order_factory.market(BTC, OrderSide[side], Quantity(Decimal(qty), 5))
            )


def trade(number: int, price: str) -> TradeTick:
    ts = T0 + number * 10 * SECOND
    return TradeTick(
        BTC,
        Price.from_str(price),
        Quantity.from_str("5.00000"),
        AggressorSide.BUYER,
        TradeId(str(number)),
        ts,
        ts,
    )


PRICES = ["100.00", "110.00", "120.00", "100.00", "80.00", "85.00", "95.00"]
ORDERS = {
    "1": ("BUY", "1"),
    "2": ("BUY", "1"),
    "3": ("SELL", "1"),
    "4": ("SELL", "3"),
    "5": ("BUY", "2"),
    "6": ("BUY", "1"),
}


def scripted_config(account_type: str = "MARGIN") -> BacktestConfig:
    return BacktestConfig(
        venues=[
            VenueConfig(
                name="SIM", account_type=account_type, starting_balances=["1000000 USDT"]
            )
        ],
        strategies=[
            StrategyConfig(
                path="tests.unit.backtest.test_result:Script", params={"orders": ORDERS}
            )
        ],
    )


@pytest.fixture(scope="module")
def result():
    data = [trade(i, p) for i, p in enumerate(PRICES, start=1)]
    return BacktestNode(scripted_config(), data=data, sample_interval_ns=5 * SECOND).run()


def ts(number: int) -> int:
    return T0 + number * 10 * SECOND


# -- round trips -------------------------------------------------------------------------------


def test_round_trips_split_the_netting_position_at_flat_and_at_the_flip(result) -> None:
    trips = result.round_trips
    assert list(trips.columns) == ROUND_TRIP_COLUMNS
    assert trips["side"].tolist() == ["LONG", "SHORT", "LONG"]
    assert trips["position_id"].nunique() == 1  # one NETTING position, three round trips
    assert trips["ts_opened"].tolist() == [ts(1), ts(4), ts(6)]
    assert trips["ts_closed"].tolist()[:2] == [ts(4), ts(5)]
    assert pd.isna(trips["ts_closed"].iloc[2])  # still open at the end
    assert trips["duration_ns"].tolist()[:2] == [30 * SECOND, 10 * SECOND]
    assert trips["fill_count"].tolist() == [4, 2, 1]  # the flip's fill counts in both


def test_round_trips_quantities_and_average_prices_by_hand(result) -> None:
    trips = result.round_trips
    assert trips["quantity"].tolist() == [2.0, 2.0, 1.0]  # entered: 1 + 1, the flip's 2, 1
    assert trips["peak_qty"].tolist() == [2.0, 2.0, 1.0]
    assert trips["avg_px_open"].tolist() == [105.0, 100.0, 85.0]  # (100 + 110) / 2
    assert trips["avg_px_close"].tolist()[:2] == [110.0, 80.0]  # (120 + 100) / 2
    assert pd.isna(trips["avg_px_close"].iloc[2])


def test_round_trips_pnl_and_fees_by_hand(result) -> None:
    trips = result.round_trips
    assert trips["gross_pnl"].tolist() == [10.0, 40.0, 0.0]
    # 0.1 + 0.11 + 0.12 + 0.3 / 3;  0.3 × 2 / 3 + 0.16;  0.085
    assert trips["fees"].tolist() == pytest.approx([0.43, 0.36, 0.085], abs=1e-12)
    assert trips["net_pnl"].tolist() == pytest.approx([9.57, 39.64, -0.085], abs=1e-12)


def test_round_trips_add_up_to_the_positions_realized_pnl_and_commissions(result) -> None:
    trips = result.round_trips
    assert trips["gross_pnl"].sum() == result.positions["realized_pnl"].sum() == 50.0
    assert trips["fees"].sum() == pytest.approx(result.fills["commission"].sum(), abs=1e-12)
    assert result.realized_pnl["USDT"].as_decimal() == Decimal("50")
    assert result.round_trip_count == 2


def test_round_trips_of_a_long_flipping_run_add_up_to_the_realized_pnl() -> None:
    from tests.unit.backtest.test_node import load_example

    run = BacktestNode(load_example(count=20_000)).run()
    trips = run.round_trips
    assert len(trips) > 100
    realized = float(sum(m.as_decimal() for m in run.realized_pnl.values()))
    assert math.isclose(trips["gross_pnl"].sum(), realized, abs_tol=1e-6)
    fees = float(sum(m.as_decimal() for m in run.commissions.values()))
    assert math.isclose(trips["fees"].sum(), fees, abs_tol=1e-6)
    # Every round trip but the last is closed, and they follow one another.
    assert trips["ts_closed"].iloc[:-1].notna().all()
    assert (trips["ts_opened"].iloc[1:].to_numpy() >= trips["ts_closed"].iloc[:-1].to_numpy()).all()


def test_round_trips_refuse_a_position_event_without_its_fill(result) -> None:
    position_events = [e for e in result.events if type(e).__name__.startswith("Position")]
    with pytest.raises(ValueError, match=r"PositionOpened names trade SIM-1, whose fill was not seen"):
        round_trips_frame(position_events)


def test_round_trips_pair_a_fill_published_ahead_of_other_fills(result) -> None:
    # All fills first, then all position events: a position event's fill is no longer the
    # latest fill before it (the pairing by trade id finds it), and the frame is the same.
    from zq.model.events import OrderFilled

    fills = [e for e in result.events if isinstance(e, OrderFilled)]
    others = [e for e in result.events if not isinstance(e, OrderFilled)]
    assert len(fills) >= 2
    pd.testing.assert_frame_equal(round_trips_frame(fills + others), result.round_trips)


# -- mark-to-market equity ---------------------------------------------------------------------


def equity_at(result, seconds: int) -> tuple[float, float, float]:
    rows = result.equity[result.equity["ts"] == T0 + seconds * SECOND]
    (row,) = rows.itertuples()
    return row.balance, row.unrealized, row.equity


def test_equity_is_balance_plus_unrealized_at_the_mark_by_hand(result) -> None:
    # 15 s: long 1 @ 100, mark 100 (trade 1); balance paid the 0.1 fee.
    assert equity_at(result, 15) == pytest.approx((START_BALANCE - 0.1, 0.0, START_BALANCE - 0.1))
    # 25 s: long 2 @ 105, mark 110: unrealized (110 − 105) × 2 = 10; fees 0.21.
    assert equity_at(result, 25) == pytest.approx(
        (START_BALANCE - 0.21, 10.0, START_BALANCE - 0.21 + 10.0)
    )
    # 35 s: long 1 @ 105, mark 120: realized 15, unrealized 15; fees 0.33.
    assert equity_at(result, 35) == pytest.approx(
        (START_BALANCE + 15 - 0.33, 15.0, START_BALANCE + 15 - 0.33 + 15)
    )
    # 45 s: short 2 @ 100, mark 100: realized 10; fees 0.63.
    assert equity_at(result, 45) == pytest.approx((START_BALANCE + 9.37, 0.0, START_BALANCE + 9.37))


def test_equity_at_the_end_values_the_open_round_trip(result) -> None:
    last = result.equity.iloc[-1]
    assert last["ts"] == ts(7)
    # realized 50, fees 0.875, long 1 @ 85 marked at 95.
    assert last["balance"] == pytest.approx(START_BALANCE + 50 - 0.875)
    assert last["unrealized"] == pytest.approx(10.0)
    assert last["equity"] == pytest.approx(START_BALANCE + 50 - 0.875 + 10)
    final = result.balances["SIM-001"]["USDT"].as_decimal()
    assert float(final) == pytest.approx(last["balance"])


def test_equity_is_sampled_on_the_timer_at_fills_and_at_the_ends(result) -> None:
    times = result.equity["ts"].tolist()
    timer = [T0 + k * 5 * SECOND for k in range(2, 15)]  # whole 5 s from the first datum
    fills = result.fills["ts_event"].tolist()
    # The opening sample is stamped 1 ns before the first datum, apart from its fill.
    assert times == sorted(set(timer) | set(fills) | {ts(1) - 1, ts(7)})
    assert result.equity["equity"].iloc[0] == START_BALANCE


def test_prices_and_positions_history_follow_the_script(result) -> None:
    prices = result.prices.set_index("ts")["price"]
    assert prices[T0 + 25 * SECOND] == 110.0 and prices[ts(7)] == 95.0
    held = result.positions_history.set_index("ts")["signed_qty"]
    assert [held[ts(n)] for n in range(1, 8)] == [1.0, 2.0, 1.0, -2.0, 0.0, 1.0, 1.0]
    assert set(result.positions_history["strategy_id"]) == {"Script-001"}


def test_cash_account_equity_adds_the_market_value_of_what_was_bought() -> None:
    orders = {"1": ("BUY", "1")}
    config = scripted_config("CASH")
    config = msgspec.structs.replace(
        config,
        strategies=[
            StrategyConfig(path="tests.unit.backtest.test_result:Script", params={"orders": orders})
        ],
    )
    data = [trade(1, "100.00"), trade(2, "130.00")]
    run = BacktestNode(config, data=data, sample_interval_ns=5 * SECOND).run()
    usdt = run.equity[run.equity["currency"] == "USDT"].iloc[-1]
    # Paid 100 + 0.1 fee; the BTC bought is worth 130: equity 1,000,000 − 100.1 + 130.
    assert usdt["balance"] == pytest.approx(START_BALANCE - 100.1)
    assert usdt["unrealized"] == pytest.approx(30.0)
    assert usdt["equity"] == pytest.approx(START_BALANCE + 29.9)
    btc = run.equity[run.equity["currency"] == "BTC"].iloc[-1]
    assert btc["balance"] == btc["equity"] == 1.0


# -- statistics on the samples -----------------------------------------------------------------


def test_statistics_use_the_mtm_equity_and_net_round_trips(result) -> None:
    stats = result_statistics(result)
    equity = result_equity(result)
    assert equity.iloc[0] == START_BALANCE and equity.iloc[-1] == pytest.approx(1_000_059.125)
    assert stats["total_return"] == pytest.approx(59.125 / START_BALANCE)
    # Trades are the two closed round trips, net of fees: 9.57 and 39.64.
    assert stats["trades"] == 2
    assert stats["win_rate"] == 1.0
    assert stats["expectancy"] == pytest.approx((9.57 + 39.64) / 2)
    assert stats["profit_factor"] == math.inf
    assert stats["total_fees"] == pytest.approx(0.875)


def test_sharpe_and_sortino_match_numpy_on_the_sampling_interval(result) -> None:
    stats = result_statistics(result)
    # Independent reference: last equity of each 5 s bucket, simple returns from the first
    # sample, annualized by the 5 s periods in 365.25 days.
    frame = result.equity
    buckets = (frame["ts"] // (5 * SECOND)).to_numpy()
    values = frame["equity"].to_numpy()
    last = np.array([values[buckets == b][-1] for b in np.unique(buckets)])
    closes = np.concatenate([[values[0]], last])
    if (buckets == buckets[0]).sum() == 1:  # the first bucket holds only the first sample
        closes = closes[1:]
    returns = closes[1:] / closes[:-1] - 1
    n = 365.25 * 86_400 / 5
    assert periods_per_year(5 * SECOND) == n
    sharpe = returns.mean() / returns.std(ddof=1) * math.sqrt(n)
    sortino = returns.mean() / math.sqrt(np.mean(np.minimum(returns, 0) ** 2)) * math.sqrt(n)
    assert stats["sharpe_ratio"] == pytest.approx(sharpe, rel=1e-9)
    assert stats["sortino_ratio"] == pytest.approx(sortino, rel=1e-9)
    peak = np.maximum.accumulate(values)
    assert stats["max_drawdown"] == pytest.approx((values / peak - 1).min(), rel=1e-12)


def test_statistics_of_a_long_run_match_an_independent_numpy_reference() -> None:
    from tests.unit.backtest.test_node import load_example

    run = BacktestNode(load_example(count=20_000), sample_interval_ns=SECOND).run()
    stats = result_statistics(run)
    ts_ns = run.equity["ts"].to_numpy()
    values = run.equity["equity"].to_numpy()
    # Returns and their annualization.
    assert stats["total_return"] == pytest.approx(values[-1] / values[0] - 1, rel=1e-12)
    years = (ts_ns[-1] - ts_ns[0]) / (365.25 * 86_400 * SECOND)
    assert stats["annualized_return"] == pytest.approx(
        (values[-1] / values[0]) ** (1 / years) - 1, rel=1e-9
    )
    # Drawdowns: depth, and the longest spell from a peak to its recovery (or the end).
    peak = np.maximum.accumulate(values)
    assert stats["max_drawdown"] == pytest.approx((values / peak - 1).min(), rel=1e-12)
    longest, start = 0, None
    for i in range(len(values)):
        if values[i] >= peak[i]:
            if start is not None and i - start >= 2:  # under water in between
                longest = max(longest, ts_ns[i] - ts_ns[start])
            start = i
    if start is not None and start < len(values) - 1:
        longest = max(longest, ts_ns[-1] - ts_ns[start])
    assert stats["max_drawdown_duration_days"] == pytest.approx(longest / (86_400 * SECOND))
    # Trades: closed round trips, net of fees.
    closed = run.round_trips[run.round_trips["ts_closed"].notna()]["net_pnl"].to_numpy()
    assert stats["trades"] == len(closed)
    assert stats["win_rate"] == pytest.approx((closed > 0).mean())
    assert stats["expectancy"] == pytest.approx(closed.mean())
    assert stats["profit_factor"] == pytest.approx(
        closed[closed > 0].sum() / -closed[closed < 0].sum()
    )
    # Turnover and fees, from the fills.
    fills = run.fills
    notional = (fills["last_qty"].abs() * fills["last_px"]).sum()
    assert stats["turnover"] == pytest.approx(notional / values.mean())
    assert stats["total_fees"] == pytest.approx(fills["commission"].sum())


def test_sampling_frequency_reads_as_a_pandas_alias() -> None:
    from zq.backtest.report import sampling_frequency

    assert sampling_frequency(60 * SECOND) == "1min"
    assert sampling_frequency(5 * SECOND) == "5s"
    assert sampling_frequency(3_600 * SECOND) == "1h"
    assert sampling_frequency(1_500) == "1500ns"
    assert pd.Timedelta(sampling_frequency(90 * SECOND)) == pd.Timedelta(90 * SECOND)


# -- the frames against a plain reference ------------------------------------------------------
#
# tests/unit/backtest/result_reference.py computes the frames row by row with Decimals (as they
# were first computed); the library builds them column-wise in integers. They must agree bit for
# bit, on the scripts above, on scale-ins whose average has no finite expansion, in hedging
# mode, on a cash account, on the EMA example and on random scripts.

FRAMES = ("orders", "fills", "positions", "account_history", "round_trips")


def assert_same_frame(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left, right, check_exact=True)
    for column in left.columns:
        if left[column].dtype.kind == "f":  # bit for bit (NaN where NaN, -0.0 apart from 0.0)
            assert left[column].to_numpy().tobytes() == right[column].to_numpy().tobytes(), column
        elif left[column].dtype == object:
            assert [type(v) for v in left[column]] == [type(v) for v in right[column]], column


def refuse(*args):
    raise TypeError("not read by read_columns")


def run_with_reference(monkeypatch, config, **kwargs):
    """Run a backtest; return its result and the reference frames of the same run."""
    import zq.backtest.result as result_module
    from tests.unit.backtest import result_reference as reference
    from zq.model.events import OrderFilled
    from zq.portfolio.account import Account

    references: dict[str, pd.DataFrame] = {}
    build = BacktestNode._build_result

    def build_and_refer(self, kernel, events, count, elapsed):
        cache = kernel.cache
        inverse = [str(i.id) for i in cache.instruments() if i.is_inverse]
        references["orders"] = reference.orders_frame(cache.orders())
        references["fills"] = reference.fills_frame([e for e in events if isinstance(e, OrderFilled)])
        references["positions"] = reference.positions_frame(cache.positions())
        references["account_history"] = reference.accounts_frame(
            [a for a in cache.accounts() if isinstance(a, Account)]
        )
        references["round_trips"] = reference.round_trips_frame(events, inverse)
        # The orders' average prices from their own events (the node hands over the fills).
        references["orders_from_events"] = result_module.orders_frame(cache.orders())
        # The frames read attribute by attribute (objects read_columns does not know).
        fills = [e for e in events if isinstance(e, OrderFilled)]
        with monkeypatch.context() as patch:
            patch.setattr(result_module, "_read", refuse)
            references["orders_by_attribute"] = result_module.orders_frame(cache.orders(), fills)
            references["fills_by_attribute"] = result_module.fills_frame(fills)
            references["accounts_by_attribute"] = result_module.accounts_frame(
                [a for a in cache.accounts() if isinstance(a, Account)]
            )
        return build(self, kernel, events, count, elapsed)

    monkeypatch.setattr(BacktestNode, "_build_result", build_and_refer)
    result = BacktestNode(config, **kwargs).run()
    monkeypatch.setattr(BacktestNode, "_build_result", build)
    return result, references


def script_config(orders: dict[str, tuple[str, str]], oms_type: str = "NETTING",
                  account_type: str = "MARGIN") -> BacktestConfig:
    return BacktestConfig(
        venues=[VenueConfig(name="SIM", account_type=account_type, oms_type=oms_type,
                            starting_balances=["1000000 USDT"])],
        strategies=[StrategyConfig(path="tests.unit.backtest.test_result:Script",
                                   params={"orders": orders})],
    )


def check_against_the_reference(monkeypatch, config, **kwargs) -> None:
    import zq.backtest.result as result_module

    run, references = run_with_reference(monkeypatch, config, **kwargs)
    assert len(references["orders"]) == run.order_count
    for name in FRAMES:
        assert_same_frame(getattr(run, name), references[name])
    assert_same_frame(references["orders_from_events"], references["orders"])
    assert_same_frame(references["orders_by_attribute"], references["orders"])
    assert_same_frame(references["fills_by_attribute"], references["fills"])
    assert_same_frame(references["accounts_by_attribute"], references["account_history"])
    # The one-by-one round trips (inverse contracts, mixed precisions) agree too.
    monkeypatch.setattr(result_module, "_round_trips_columnar", lambda *args: None)
    again = BacktestNode(config, **kwargs).run()
    monkeypatch.undo()
    assert_same_frame(again.round_trips, references["round_trips"])


AWKWARD = (
    ["100.00", "101.00", "103.00", "104.00", "99.00", "105.00", "102.00", "97.00"],
    {"1": ("BUY", "3"), "2": ("BUY", "1"), "3": ("BUY", "2"), "4": ("SELL", "1"),
     "5": ("SELL", "2"), "6": ("SELL", "7"), "7": ("BUY", "0.33333")},
)


@pytest.mark.parametrize("oms_type", ["NETTING", "HEDGING"])
@pytest.mark.parametrize("script", ["by_hand", "awkward"])
def test_frames_equal_the_reference_on_the_scripts(monkeypatch, oms_type, script) -> None:
    prices, orders = (PRICES, ORDERS) if script == "by_hand" else AWKWARD
    data = [trade(i, p) for i, p in enumerate(prices, start=1)]
    check_against_the_reference(
        monkeypatch, script_config(orders, oms_type), data=data, sample_interval_ns=5 * SECOND
    )


def test_frames_equal_the_reference_on_a_cash_account(monkeypatch) -> None:
    orders = {"1": ("BUY", "1"), "2": ("BUY", "0.5"), "3": ("SELL", "1.25")}
    data = [trade(i, p) for i, p in enumerate(["100.00", "130.00", "90.00", "95.00"], start=1)]
    check_against_the_reference(
        monkeypatch, script_config(orders, account_type="CASH"), data=data,
        sample_interval_ns=5 * SECOND,
    )


def test_frames_equal_the_reference_on_the_ema_example(monkeypatch) -> None:
    from tests.unit.backtest.test_node import load_example

    check_against_the_reference(monkeypatch, load_example(count=20_000))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    moves=st.lists(st.integers(min_value=-300, max_value=300), min_size=2, max_size=25),
    orders=st.dictionaries(
        st.integers(min_value=1, max_value=25),
        st.tuples(st.sampled_from(["BUY", "SELL"]),
                  st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("9"), places=5)),
        max_size=15,
    ),
    oms_type=st.sampled_from(["NETTING", "HEDGING"]),
)
def test_frames_equal_the_reference_on_random_scripts(monkeypatch, moves, orders, oms_type) -> None:
    price = 100_00
    prices = []
    for move in moves:
        price = max(price + move, 1)
        prices.append(f"{price // 100}.{price % 100:02d}")
    script = {str(k): (side, str(qty)) for k, (side, qty) in orders.items()}
    data = [trade(i, p) for i, p in enumerate(prices, start=1)]
    check_against_the_reference(
        monkeypatch, script_config(script, oms_type), data=data, sample_interval_ns=5 * SECOND
    )


def perpetual(inverse: bool):
    from zq.model.currency import Currency
    from zq.model.enums import AssetClass
    from zq.model.instruments import CryptoPerpetual

    return CryptoPerpetual(
        id=BTC,
        raw_symbol="BTCUSDT",
        asset_class=AssetClass.CRYPTOCURRENCY,
        quote_currency=Currency.from_str("USDT"),
        base_currency=Currency.from_str("BTC"),
        price_increment=Price.from_str("0.01"),
        size_increment=Quantity.from_str("0.00001"),
        multiplier=Quantity.from_str("10") if inverse else Quantity.from_str("0.5"),
        taker_fee=Decimal("0.0007"),
        maker_fee=Decimal("0.0002"),
        inverse=inverse,
    )


@pytest.mark.parametrize("inverse", [True, False])
def test_frames_and_samples_of_perpetuals_equal_the_reference(monkeypatch, inverse) -> None:
    # An inverse contract (harmonic averages, values qty / px, PnL settled in BTC) takes the
    # Decimal paths of the round trips and of the sampler; a linear one with a multiplier
    # of 0.5 the integer paths. Both against the row-by-row reference, and the samples
    # against the Decimal samples.
    import zq.backtest.sampler as sampler_module

    orders = {"1": ("BUY", "3"), "2": ("BUY", "1"), "3": ("SELL", "1.5"), "4": ("SELL", "4"),
              "6": ("BUY", "2.5")}
    config = msgspec.structs.replace(
        script_config(orders),
        venues=[VenueConfig(name="SIM", account_type="MARGIN",
                            starting_balances=["1000 BTC", "1000000 USDT"])],
    )
    prices = ["100.00", "103.00", "97.00", "101.00", "99.00", "98.50", "104.00"]
    kwargs = {
        "data": [trade(i, p) for i, p in enumerate(prices, start=1)],
        "instruments": [perpetual(inverse)],
        "sample_interval_ns": 5 * SECOND,
    }
    check_against_the_reference(monkeypatch, config, **kwargs)
    fast = BacktestNode(config, **kwargs).run()
    assert fast.round_trip_count >= 2
    monkeypatch.setattr(sampler_module, "_linear_rows", lambda *args: None)
    exact = BacktestNode(config, **kwargs).run()
    for name in ("equity", "prices", "positions_history"):
        assert_same_frame(getattr(fast, name), getattr(exact, name))


def test_average_fill_prices_of_several_fills_equal_the_orders_avg_px(result) -> None:
    # Orders of two or three fills: averages exact at the price's precision (computed from
    # the raw integers) and not (asked of the order), from the orders' events and from the
    # fills handed over, against float(avg_px) as the order computes it.
    from types import SimpleNamespace

    import zq.backtest.result as result_module
    from zq.model.events import OrderFilled

    fill = next(e for e in result.events if isinstance(e, OrderFilled))
    parts = [
        [("1", "100.00"), ("3", "104.00")],  # 103.00
        [("1", "100.00"), ("2", "100.01")],  # 100.00666...
        [("0.5", "99.99"), ("0.25", "100.03"), ("0.25", "100.01")],  # 100.005
        [],
    ]
    orders, fills = [], []
    for number, legs in enumerate(parts):
        order_fills = [
            msgspec.structs.replace(
                fill,
                client_order_id=f"O-{number}",
                trade_id=TradeId(f"T-{number}-{k}"),
                last_qty=Quantity.from_str(qty),
                last_px=Price.from_str(px),
            )
            for k, (qty, px) in enumerate(legs)
        ]
        filled = sum((Decimal(q) for q, _ in legs), Decimal(0))
        value = sum((Decimal(q) * Decimal(p) for q, p in legs), Decimal(0))
        orders.append(SimpleNamespace(
            client_order_id=f"O-{number}",
            filled_qty=Quantity(filled, 2),
            events=["init", *order_fills],
            avg_px=value / filled if legs else None,
        ))
        fills.extend(order_fills)
    expected = [None if o.avg_px is None else float(o.avg_px) for o in orders]
    assert expected[0] == 103.0 and expected[2] == 100.005
    filled = np.array([o.filled_qty.raw for o in orders])
    precisions = np.array([o.filled_qty.precision for o in orders])
    ids = [o.client_order_id for o in orders]

    def averages(count: int, known) -> list[float | None]:
        return list(result_module._average_prices(
            orders[:count], filled[:count], precisions[:count], ids[:count], known
        ))

    assert averages(4, None) == expected
    assert averages(4, fills) == expected
    assert averages(3, fills) == expected[:3]
    assert averages(1, fills) == expected[:1]  # every order exact: a float64 column


def test_fill_events_are_the_order_filled_events_in_order(result) -> None:
    from zq.backtest.result import fill_events
    from zq.model.events import OrderFilled

    fills = [e for e in result.events if isinstance(e, OrderFilled)]
    assert len(fills) >= 2 and len(fills) < len(result.events)
    assert fill_events(result.events) == fills
    assert fill_events([]) == []


def test_fills_and_round_trips_equal_fill_events_and_round_trips_frame(result) -> None:
    from zq.backtest.result import fill_events, fills_and_round_trips, fills_frame

    fills, fills_table, round_trips = fills_and_round_trips(result.events)
    assert fills == fill_events(result.events)
    assert len(round_trips) >= 2
    pd.testing.assert_frame_equal(fills_table, fills_frame(fills))
    pd.testing.assert_frame_equal(fills_table, result.fills)
    pd.testing.assert_frame_equal(round_trips, round_trips_frame(result.events))
    pd.testing.assert_frame_equal(round_trips, result.round_trips)
    empty_fills, empty_table, empty_trips = fills_and_round_trips([])
    assert empty_fills == []
    pd.testing.assert_frame_equal(empty_table, fills_frame([]))
    pd.testing.assert_frame_equal(empty_trips, round_trips_frame([]))


def test_the_round_trips_on_the_fills_frames_columns_equal_those_on_their_own_read(
    result,
) -> None:
    # The latest fill of each position event picked from the fills frame's columns: the
    # columns the round trips read of those fills themselves.
    import numpy as np

    from zq.backtest import result as result_module

    coded = result_module._CodedEvents(result.events)
    coded.fill_read = result_module._read_fills(coded.fills())
    fill_rows = np.flatnonzero(coded.codes == result_module._FILL)
    position_rows = np.flatnonzero(coded.codes >= result_module._OPENED)
    candidates = fill_rows[np.searchsorted(fill_rows, position_rows) - 1]
    picked = result_module._latest_fill_columns(coded, candidates)
    assert picked is not None
    latest = [result.events[row] for row in candidates.tolist()]
    raw, names, _ = result_module.read_columns(
        latest, result_module._FILL_NUMBERS_FIELDS, result_module._FILL_NAMES
    )
    numbers = np.frombuffer(raw, dtype=np.int64).reshape(len(latest), -1)
    assert len(latest) >= 4
    assert np.array_equal(picked[0], numbers) and picked[1] == names


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.sampled_from(["AB", "CD", "EF"]), st.sampled_from(["x", "y"])),
        max_size=40,
    )
)
def test_the_last_sample_per_key_is_what_pandas_drop_duplicates_keeps(rows) -> None:
    # The sample frames keep each (ts, ids) key's last row, ordered by time (stable), found
    # on integer codes; pandas' drop_duplicates(keep="last") then a stable sort is the
    # reference. Equal ids as distinct string objects too.
    import numpy as np

    from zq.backtest import result as result_module

    columns = {
        "ts": np.array([ts for ts, _, _ in rows], dtype=np.int64),
        "account_id": ["".join(list(a)) for _, a, _ in rows],  # equal, not identical
        "currency": [c for _, _, c in rows],
        "value": np.arange(len(rows), dtype=np.float64) / 4,
    }
    keys = ["ts", "account_id", "currency"]
    expected = pd.DataFrame(columns, columns=list(columns))
    expected = expected.drop_duplicates(subset=keys, keep="last")
    expected = expected.sort_values("ts", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(result_module._last_per_key(columns, keys), expected)


def test_a_text_column_is_the_column_pandas_makes_of_the_list() -> None:
    # One object repeated (taken once), equal strings of distinct objects, distinct ones,
    # str subclasses: the column pandas makes of the list itself.
    from zq.backtest import result as result_module
    from zq.model.identifiers import TradeId

    shared = "".join(["SIM", "-001"])
    cases = [
        [shared] * 5,
        ["".join(["SIM", "-001"]) for _ in range(5)],
        ["a", "b", "a"],
        [TradeId("T-1"), TradeId("T-2")],
        ["only"],
    ]
    for values in cases:
        ours = pd.Series(result_module._texts(values))
        pd.testing.assert_series_equal(ours, pd.Series([str(v) for v in values]))


def test_has_none_tells_a_none_among_the_values() -> None:
    from zq.backtest import result as result_module

    assert not result_module._has_none([])
    assert not result_module._has_none(["a", "b", 0, False])
    assert result_module._has_none(["a", None])
    assert result_module._has_none([None])
    assert result_module._strings(["a", None]) == ["a", "None"]
