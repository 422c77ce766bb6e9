"""BacktestNode: wiring end to end, replay order, determinism, repeated runs, the CLI."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from zq.backtest import (
    BacktestConfig,
    BacktestNode,
    DataConfig,
    StrategyConfig,
    VenueConfig,
)
from zq.cli import main
from zq.common.clock import TimeEvent
from zq.demo import demo_instrument
from zq.kernel import Kernel
from zq.model.data import TradeTick
from zq.model.enums import AggressorSide, OrderSide
from zq.model.events import OrderAccepted, OrderFilled, OrderSubmitted
from zq.model.identifiers import InstrumentId, TradeId
from zq.model.position import PositionOpened
from zq.strategy import Strategy
from zq_core.fixed import Money, Price, Quantity

BTC = InstrumentId("BTCUSDT.SIM")
SECOND = 1_000_000_000
ROOT = Path(__file__).resolve().parents[3]
seen: list[str] = []  # what the last BuyOnce saw, in order


class BuyOnceParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    size: Decimal = Decimal("0.01")
    on_trade_number: int = 1
    alert_ns: int | None = None


class BuyOnce(Strategy[BuyOnceParams]):
    """Buy ``size`` at market on trade number ``on_trade_number``; record what it sees."""

    def __init__(
        self,
        params: BuyOnceParams | None = None,
        *,
        strategy_id: str | None = None,
        order_id_tag: str = "001",
    ) -> None:
        super().__init__(
            params or BuyOnceParams(), strategy_id=strategy_id, order_id_tag=order_id_tag
        )
        self.bought = False
        self.trades = 0

    def on_start(self) -> None:
        self.subscribe_trades(BTC)
        if self.params.alert_ns is not None:
            self.clock.set_time_alert("alert", self.params.alert_ns, self.on_alert)

    def on_alert(self, event: TimeEvent) -> None:
        seen.append(f"alert {event.ts_event}")

    def on_trade(self, trade: TradeTick) -> None:
        seen.append(f"trade {trade.ts_init}")
        self.trades += 1
        if not self.bought and self.trades == self.params.on_trade_number:
            self.bought = True
            qty = Quantity(self.params.size, 5)
            self.submit_order(self.order_factory.market(BTC, OrderSide.BUY, qty))


def trade(ts: int, price: str, size: str = "1.00000", number: int = 1) -> TradeTick:
    return TradeTick(
        BTC,
        Price.from_str(price),
        Quantity.from_str(size),
        AggressorSide.BUYER,
        TradeId(str(number)),
        ts,
        ts,
    )


def buy_once_config(**changes: object) -> BacktestConfig:
    config = BacktestConfig(
        strategies=[StrategyConfig(path="tests.unit.backtest.test_node:BuyOnce")]
    )
    return msgspec.structs.replace(config, **changes)


def test_market_order_is_filled_by_the_exchange_and_moves_position_and_account() -> None:
    data = [trade(SECOND, "100.00", number=1), trade(2 * SECOND, "101.00", number=2)]
    result = BacktestNode(buy_once_config(), data=data).run()

    assert result.data_count == 2
    assert [type(e) for e in result.events] == [
        OrderSubmitted,
        OrderAccepted,
        OrderFilled,
        PositionOpened,
    ]
    (fill,) = result.fills.itertuples()
    assert (fill.side, fill.last_qty, fill.last_px, fill.liquidity_side) == (
        "BUY",
        0.01,
        100.0,
        "TAKER",
    )
    assert fill.commission == pytest.approx(0.001)  # 0.1 % taker fee on 1.00 USDT
    (order,) = result.orders.itertuples()
    assert (order.status, order.filled_qty, order.ts_init) == ("FILLED", 0.01, SECOND)
    (position,) = result.positions.itertuples()
    assert (position.side, position.signed_qty, position.avg_px_open) == ("LONG", 0.01, 100.0)
    balances = result.balances["SIM-001"]
    assert balances["BTC"].as_decimal() == Decimal("0.01")
    assert balances["USDT"].as_decimal() == Decimal("1000000") - Decimal("1.00") - Decimal("0.001")
    assert result.commissions == {"USDT": Money("0.001", balances["USDT"].currency)}
    assert list(result.account_history["reason"].unique()) == ["opening", "fill"]


def test_strategy_parameters_come_from_the_config() -> None:
    strategy = StrategyConfig(path="tests.unit.backtest.test_node:BuyOnce", params={"size": "0.5"})
    data = [trade(SECOND, "100.00")]
    result = BacktestNode(buy_once_config(strategies=[strategy]), data=data).run()
    assert result.fills["last_qty"].tolist() == [0.5]


def test_exchange_sees_each_datum_before_the_strategy_does() -> None:
    # The order sent on the second trade fills at that trade's price: the exchange had it.
    strategy = StrategyConfig(
        path="tests.unit.backtest.test_node:BuyOnce", params={"on_trade_number": 2}
    )
    data = [trade(SECOND, "100.00", number=1), trade(2 * SECOND, "101.00", number=2)]
    result = BacktestNode(buy_once_config(strategies=[strategy]), data=data).run()
    assert result.fills["last_px"].tolist() == [101.0]


def test_timers_due_at_or_before_a_datum_fire_before_it() -> None:
    seen.clear()
    strategy = StrategyConfig(
        path="tests.unit.backtest.test_node:BuyOnce", params={"alert_ns": 2 * SECOND}
    )
    data = [trade(i * SECOND, "100.00", number=i) for i in (1, 2, 3)]
    BacktestNode(buy_once_config(strategies=[strategy]), data=data).run()
    assert seen == [
        f"trade {SECOND}",
        f"alert {2 * SECOND}",
        f"trade {2 * SECOND}",
        f"trade {3 * SECOND}",
    ]


def test_generated_and_given_data_are_replayed_merged_by_ts_init() -> None:
    instrument = demo_instrument()
    from zq.demo import generate_trades

    generated = generate_trades(instrument, 100, 3)
    extra = [trade(generated[10].ts_init + 1, "42000.00", number=999)]
    config = buy_once_config(data=[DataConfig(count=100, seed=3)])
    result = BacktestNode(config, data=extra).run()
    assert result.data_count == 101


def test_catalog_source_replays_its_trades_with_its_instrument(tmp_path: Path) -> None:
    import numpy as np

    from zq.data.arrays import TRADE_DTYPE
    from zq.data.catalog import ParquetDataCatalog

    catalog = ParquetDataCatalog(tmp_path / "catalog")
    catalog.write_instrument(demo_instrument())
    rows = np.zeros(3, TRADE_DTYPE)
    rows["ts_init"] = rows["ts_event"] = [SECOND, 2 * SECOND, 3 * SECOND]
    rows["price"] = [10_000, 10_100, 10_200]  # 100.00, 101.00, 102.00
    rows["size"] = 100_000  # 1.00000
    rows["trade_id"] = [1, 2, 3]
    rows["aggressor_side"] = 1
    catalog.write_trades(BTC, rows, price_precision=2, size_precision=5)
    config = msgspec.structs.replace(
        buy_once_config(),
        instruments=[],
        data=[DataConfig(kind="catalog", path=str(tmp_path / "catalog"))],
    )
    result = BacktestNode(config).run()
    assert result.data_count == 3
    assert result.fills["last_px"].tolist() == [100.0]


def test_catalog_source_without_a_folder_is_refused(tmp_path: Path) -> None:
    from zq.backtest import ConfigError

    config = buy_once_config(data=[DataConfig(kind="catalog", path=str(tmp_path / "none"))])
    with pytest.raises(ConfigError, match=r"data\[0\]\.path = .*: no catalog folder there"):
        BacktestNode(config)


def test_time_range_bounds_the_replayed_data() -> None:
    data = [trade(i * SECOND, "100.00", number=i) for i in range(1, 11)]
    config = buy_once_config()
    bounded = msgspec.structs.replace(
        config,
        start=datetime(1970, 1, 1, 0, 0, 3, tzinfo=UTC),
        end=datetime(1970, 1, 1, 0, 0, 6, tzinfo=UTC),
    )
    result = BacktestNode(bounded, data=data).run()
    assert result.data_count == 4
    assert result.fills["ts_event"].tolist() == [3 * SECOND]


def test_two_runs_of_the_same_config_give_identical_event_logs() -> None:
    config = load_example(count=20_000)
    first = BacktestNode(config).run()
    second = BacktestNode(config).run()
    assert len(first.events) > 100
    assert first.events == second.events
    assert first.balances == second.balances
    assert first.fills.equals(second.fills)


def test_repeated_runs_in_one_process_leave_no_kernel_behind() -> None:
    node = BacktestNode(load_example(count=2_000))
    node.run()
    gc.collect()
    kernels = sum(isinstance(o, Kernel) for o in gc.get_objects())
    for _ in range(3):
        node.run()
    gc.collect()
    assert sum(isinstance(o, Kernel) for o in gc.get_objects()) == kernels
    assert node.kernel is None


class FailOnTrade(Strategy[None]):
    def on_start(self) -> None:
        self.subscribe_trades(BTC)

    def on_trade(self, trade: TradeTick) -> None:
        raise RuntimeError("strategy failed")


def test_a_run_gives_back_the_garbage_collector_as_it_found_it() -> None:
    # The replay freezes what survives full collections; the run unfreezes it at the end,
    # when it ends normally or by an error.
    callbacks = list(gc.callbacks)
    thresholds = gc.get_threshold()
    result = BacktestNode(load_example(count=2_000)).run()
    assert result.cpu_seconds > 0 and result.elapsed_seconds > 0
    assert result.cpu_events_per_second == result.data_count / result.cpu_seconds
    assert gc.get_freeze_count() == 0 and gc.callbacks == callbacks and gc.isenabled()
    assert gc.get_threshold() == thresholds
    failing = msgspec.structs.replace(
        load_example(count=2_000),
        strategies=[StrategyConfig(path=f"{__name__}:FailOnTrade")],
    )
    with pytest.raises(RuntimeError, match="strategy failed"):
        BacktestNode(failing).run()
    assert gc.get_freeze_count() == 0 and gc.callbacks == callbacks and gc.isenabled()
    assert gc.get_threshold() == thresholds


class _Cycle:
    # One self-referencing object: only the cyclic collector frees it.
    alive = 0
    most_alive = 0

    def __init__(self) -> None:
        self.me = self
        _Cycle.alive += 1
        _Cycle.most_alive = max(_Cycle.most_alive, _Cycle.alive)

    def __del__(self) -> None:
        _Cycle.alive -= 1


class MakesCyclicGarbage(Strategy[None]):
    def on_start(self) -> None:
        self.subscribe_trades(BTC)

    def on_trade(self, trade: TradeTick) -> None:
        _Cycle()  # garbage at once, freed by a young collection


def test_cyclic_garbage_made_during_a_replay_is_collected_during_it() -> None:
    # The replay collects the young generation less often than CPython's default, not
    # never: 150,000 cycles are made, and about one young threshold's worth (50,000 net
    # tracked allocations; each cycle is one tracked object) at most is alive at once (a
    # few more: other objects freed meanwhile lower the net count).
    config = msgspec.structs.replace(
        load_example(count=150_000),
        strategies=[StrategyConfig(path=f"{__name__}:MakesCyclicGarbage")],
    )
    gc.collect()
    _Cycle.alive = _Cycle.most_alive = 0
    BacktestNode(config).run()
    assert 0 < _Cycle.most_alive <= 50_000 + 100


def test_instrument_on_an_unconfigured_venue_is_refused() -> None:
    config = buy_once_config(venues=[VenueConfig(name="OTHER")])
    with pytest.raises(ValueError, match=r"BTCUSDT\.SIM is on venue SIM, which has no"):
        BacktestNode(config).run()


def test_ema_cross_example_flips_its_position() -> None:
    result = BacktestNode(load_example(count=20_000)).run()
    sides = set(result.fills["side"])
    assert sides == {"BUY", "SELL"}
    assert result.order_count > 10
    assert result.position_count == 1
    assert "events/s" in result.summary()


def test_cli_backtest_prints_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "examples" / "configs" / "ema_cross.toml").read_text(encoding="utf-8")
    text = text.replace("count = 200_000", "count = 5_000")
    text = text.replace("../ema_cross.py", str(ROOT / "examples" / "ema_cross.py"))
    path = tmp_path / "ema.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["backtest", str(path), "--report", str(tmp_path / "report.html")]) == 0
    out = capsys.readouterr().out
    assert "data: 5,000 events" in out
    assert "orders: " in out and "fills: " in out
    assert "balance SIM-001: " in out and "realized PnL: " in out


def test_cli_backtest_with_a_bad_config_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[venues]]\noms_type = "NETTINGG"\n', encoding="utf-8")
    assert main(["backtest", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: venues[0].oms_type = 'NETTINGG'" in err


def load_example(count: int) -> BacktestConfig:
    from zq.backtest import load_config

    config = load_config(ROOT / "examples" / "configs" / "ema_cross.toml")
    data = [msgspec.structs.replace(d, count=count) for d in config.data]
    return msgspec.structs.replace(config, data=data)
