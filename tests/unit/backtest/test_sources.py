"""Backtest data sources: runs of arrays in ts_init order, per data kind, and instruments
built from the config."""

from __future__ import annotations

import threading
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import numpy as np
import pytest

from zq.backtest import BacktestNode, ConfigError, parse_config
from zq.backtest.config import BacktestConfig, DataConfig, InstrumentConfig, StrategyConfig
from zq.backtest.sources import (
    instrument_from_config,
    open_source,
    open_sources,
    runs_to_objects,
)
from zq.data.catalog.schema import DataKind
from zq.data.errors import DataFormatError
from zq.demo import demo_instrument, generate_trades
from zq.model.data import TradeTick
from zq.model.identifiers import InstrumentId
from zq.model.instruments import CryptoPerpetual, Equity, FuturesContract
from zq.strategy import Strategy

DEMO = {demo_instrument().id: demo_instrument()}


def _instruments(*configs: dict[str, object]) -> dict[InstrumentId, object]:
    built = [
        instrument_from_config(msgspec.convert(c, InstrumentConfig, strict=False)) for c in configs
    ]
    return {i.id: i for i in built}


def _spy() -> dict[InstrumentId, object]:
    return _instruments(
        {"kind": "equity", "id": "SPY.ARCA", "quote_currency": "USD", "price_precision": 2}
    )


def _ts(runs) -> np.ndarray:
    return np.concatenate([rows["ts_init"] for _, rows in runs])


def _write_lean_zip(path: Path, lines: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(path.name.replace(".zip", ".csv"), "\n".join(lines) + "\n")
    return path


# -- generated ---------------------------------------------------------------------------------


def test_generated_source_yields_the_demo_random_walk_as_arrays():
    runs = list(open_source(DataConfig(count=1_000, seed=3), DEMO))
    assert {series.kind for series, _ in runs} == {DataKind.TRADES}
    assert sum(len(rows) for _, rows in runs) == 1_000
    assert list(runs_to_objects(runs)) == generate_trades(demo_instrument(), 1_000, 3)


def test_generated_source_needs_the_demo_instrument():
    with pytest.raises(ValueError, match="add an instrument of kind 'demo'"):
        list(open_source(DataConfig(count=10), {}))


def test_start_and_end_bound_the_runs_inclusively():
    (_, rows), *_ = list(open_source(DataConfig(count=100, seed=1), DEMO))
    start, end = int(rows["ts_init"][10]), int(rows["ts_init"][20])
    clipped = list(open_source(DataConfig(count=100, seed=1), DEMO, ".", start, end))
    stamps = _ts(clipped)
    assert stamps.tolist() == rows["ts_init"][10:21].tolist()


# -- binance -----------------------------------------------------------------------------------

BINANCE_PERP = {
    "kind": "perpetual",
    "id": "BTCUSDT-PERP.BINANCE",
    "quote_currency": "USDT",
    "base_currency": "BTC",
    "price_increment": "0.1",
    "size_increment": "0.001",
}


@pytest.mark.realdata
def test_binance_capture_interleaves_deltas_quotes_and_trades_in_time_order(market_data):
    from zq.data.loaders.binance import BinanceCaptureLoader

    path = market_data / "binance" / "usdm" / "btcusdt_20240808.gz"
    config = DataConfig(kind="binance", path=str(path), instrument="BTCUSDT-PERP.BINANCE")
    instruments = _instruments(BINANCE_PERP)
    runs = list(open_source(config, instruments))
    stamps = _ts(runs)
    assert (np.diff(stamps) >= 0).all()
    by_kind: dict[DataKind, list[np.ndarray]] = {}
    for series, rows in runs:
        assert (series.key, series.price_precision, series.size_precision) == (
            "BTCUSDT-PERP.BINANCE",
            1,
            3,
        )
        by_kind.setdefault(series.kind, []).append(rows)
    # Each kind keeps the loader's own rows and order (shared/data/README.md counts 66,089
    # bookTicker updates and 21,313 trades).
    loader = BinanceCaptureLoader(path, price_precision=1, size_precision=3)
    chunks = list(loader.chunks())
    for kind, name in (
        (DataKind.DELTAS, "deltas"),
        (DataKind.QUOTES, "quotes"),
        (DataKind.TRADES, "trades"),
    ):
        mine = np.concatenate(by_kind[kind])
        theirs = np.concatenate([getattr(c, name) for c in chunks])
        assert np.array_equal(mine, theirs), kind
    assert len(np.concatenate(by_kind[DataKind.QUOTES])) == 66_089
    assert len(np.concatenate(by_kind[DataKind.TRADES])) == 21_313


@pytest.mark.realdata
def test_binance_source_from_a_toml_config_relative_to_its_folder(tmp_path, market_data):
    capture = market_data / "binance" / "usdm" / "btcusdt_20240808.gz"
    raw = {
        "venues": [{"name": "BINANCE", "book_type": "L2_MBP"}],
        "instruments": [BINANCE_PERP],
        "data": [{"kind": "binance", "path": str(capture), "instrument": "BTCUSDT-PERP.BINANCE"}],
        "start": "2024-08-08T23:55:00Z",
        "end": "2024-08-08T23:55:10Z",
    }
    config = parse_config(raw, "run.toml", tmp_path)
    assert config.base_dir == str(tmp_path.resolve())
    instruments = {i.id: i for i in map(instrument_from_config, config.instruments)}
    (source,) = open_sources(config, instruments)
    stamps = _ts(list(source))
    assert stamps[0] >= config.start_ns and stamps[-1] <= config.end_ns
    assert len(stamps) > 1_000


# -- quantconnect --------------------------------------------------------------------------------


def test_quantconnect_files_from_a_glob_replay_one_after_the_other(tmp_path):
    # 09:30:00.000 and 09:30:00.500 New York (EDT, UTC-4) on each day; deci-cent prices.
    _write_lean_zip(
        tmp_path / "20131007_trade.zip", ["34200000,1674100,100,P,0,0", "34200500,1674200,5,Q,0,0"]
    )
    _write_lean_zip(tmp_path / "20131008_trade.zip", ["34200000,1675000,7,P,0,0"])
    config = DataConfig(
        kind="quantconnect", paths=[str(tmp_path / "2013100?_trade.zip")], instrument="SPY.ARCA"
    )
    runs = list(open_source(config, _spy()))
    rows = np.concatenate([rows for _, rows in runs])
    assert rows["price"].tolist() == [16741, 16742, 16750]
    assert rows["size"].tolist() == [100, 5, 7]
    assert rows["ts_init"].tolist() == [
        1_381_152_600_000_000_000,  # 2013-10-07 13:30:00 UTC
        1_381_152_600_500_000_000,
        1_381_239_000_000_000_000,  # 2013-10-08 13:30:00 UTC
    ]


def test_quantconnect_files_out_of_time_order_are_refused_naming_the_file(tmp_path):
    late = _write_lean_zip(tmp_path / "20131008_trade.zip", ["34200000,1675000,7,P,0,0"])
    early = _write_lean_zip(tmp_path / "20131007_trade.zip", ["34200000,1674100,100,P,0,0"])
    config = DataConfig(kind="quantconnect", paths=[str(late), str(early)], instrument="SPY.ARCA")
    with pytest.raises(DataFormatError, match=r"20131007_trade\.zip.*list the files in time order"):
        list(open_source(config, _spy()))


def test_data_of_an_instrument_the_run_lacks_is_refused_naming_it(tmp_path):
    path = _write_lean_zip(tmp_path / "20131007_trade.zip", ["34200000,1674100,100,P,0,0"])
    config = DataConfig(kind="quantconnect", path=str(path), instrument="QQQ.ARCA")
    with pytest.raises(ValueError, match=r"QQQ\.ARCA is not an instrument of the run.*SPY\.ARCA"):
        list(open_source(config, _spy()))


# -- bars ----------------------------------------------------------------------------------------


def test_bars_csv_source_stamps_open_convention_bars_at_their_close(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2022-01-01 00:00:00,100.5,101,100,100.75,3\n"
        "2022-01-01 00:01:00,100.75,102,100.5,101,4\n"
    )
    instruments = _instruments(
        {
            "kind": "perpetual",
            "id": "BTC-PERP.FTX",
            "quote_currency": "USD",
            "base_currency": "BTC",
            "price_increment": "0.25",
            "size_precision": 0,
        }
    )
    config = DataConfig(
        kind="bars_csv",
        path=str(path),
        bar_type="BTC-PERP.FTX-1-MINUTE-LAST-EXTERNAL",
        timestamp_convention="open",
    )
    ((series, rows),) = list(open_source(config, instruments))
    assert (series.kind, series.key) == (DataKind.BARS, "BTC-PERP.FTX-1-MINUTE-LAST-EXTERNAL")
    # 2022-01-01 00:00 UTC is 1,640,995,200 s; the first bar closes a minute later.
    assert rows["ts_init"].tolist() == [1_640_995_260_000_000_000, 1_640_995_320_000_000_000]
    assert rows["close"].tolist() == [10075, 10100]  # precision 2 (tick 0.25)


# -- tardis and databento --------------------------------------------------------------------------


@pytest.mark.realdata
def test_tardis_trades_source(market_data):
    instruments = _instruments(
        {
            "kind": "perpetual",
            "id": "XBTUSD.BITMEX",
            "quote_currency": "USD",
            "base_currency": "BTC",
            "price_increment": "0.5",
            "size_increment": "1",
            "inverse": True,
        }
    )
    config = DataConfig(
        kind="tardis",
        path=str(market_data / "tardis" / "bitmex_trades_XBTUSD.csv"),
        instrument="XBTUSD.BITMEX",
        content="trades",
    )
    rows = np.concatenate([rows for _, rows in open_source(config, instruments)])
    # The file's first trade: sell 2152 at 8531.5, received at 1583020803307160 us.
    assert (int(rows["price"][0]), int(rows["size"][0])) == (85315, 2152)
    assert int(rows["ts_init"][0]) == 1_583_020_803_307_160_000


@pytest.mark.realdata
def test_databento_trades_source_reads_the_files_instrument(market_data):
    instruments = _instruments(
        {
            "kind": "future",
            "id": "ESU4.GLBX",
            "quote_currency": "USD",
            "price_increment": "0.25",
            "multiplier": "50",
            "underlying": "ES",
            "activation": "2023-09-15T00:00:00Z",
            "expiration": "2024-09-20T13:30:00Z",
        }
    )
    path = market_data / "databento" / "futures_trades_2024-07-01T23-58_2024-07-02T00-02.dbn.zst"
    runs = list(open_source(DataConfig(kind="databento", path=str(path)), instruments))
    assert {(s.kind, s.key) for s, _ in runs} == {(DataKind.TRADES, "ESU4.GLBX")}
    assert (np.diff(_ts(runs)) >= 0).all()
    assert len(_ts(runs)) > 0


# -- instruments ---------------------------------------------------------------------------------


def test_equity_defaults_to_whole_shares_and_the_equity_asset_class():
    instrument = instrument_from_config(
        InstrumentConfig(
            kind="equity",
            id="SPY.ARCA",
            quote_currency="USD",
            price_increment=Decimal("0.01"),
            taker_fee=Decimal("0.0001"),
        )
    )
    assert isinstance(instrument, Equity)
    assert (instrument.price_precision, instrument.size_precision) == (2, 0)
    assert (str(instrument.price_increment), str(instrument.size_increment)) == ("0.01", "1")
    assert instrument.asset_class.name == "EQUITY"
    assert instrument.raw_symbol == "SPY"
    assert instrument.taker_fee == Decimal("0.0001")


def test_increment_with_a_wider_precision_keeps_the_tick_and_the_decimals():
    instrument = instrument_from_config(
        InstrumentConfig(
            kind="perpetual",
            id="BTC-PERP.FTX",
            quote_currency="USD",
            base_currency="BTC",
            price_increment=Decimal("1"),
            price_precision=3,
            size_increment=Decimal("0.0001"),
        )
    )
    assert isinstance(instrument, CryptoPerpetual)
    assert instrument.price_precision == 3
    assert instrument.price_increment.raw == 1_000


def test_future_takes_its_activation_and_expiration_as_times():
    instrument = instrument_from_config(
        InstrumentConfig(
            kind="future",
            id="ESU4.GLBX",
            quote_currency="USD",
            price_increment=Decimal("0.25"),
            underlying="ES",
            activation=datetime(2023, 9, 15, tzinfo=UTC),
            expiration=datetime(2024, 9, 20, 13, 30),  # naive times are UTC
        )
    )
    assert isinstance(instrument, FuturesContract)
    assert instrument.expiration_ns == 1_726_839_000_000_000_000  # 2024-09-20 13:30 UTC


# -- config errors ---------------------------------------------------------------------------------


def _error(raw: dict[str, object], tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "run.toml", tmp_path)
    message = str(info.value)
    assert message.startswith("run.toml: "), message
    return message


def test_a_key_of_another_data_kind_is_refused_naming_it(tmp_path):
    raw = {"data": [{"kind": "binance", "path": "x.gz", "instrument": "A.B", "count": 5}]}
    message = _error(raw, tmp_path)
    assert "data[0].count = 5: not a key of a 'binance' source" in message
    assert "instrument, market, path, paths" in message


def test_a_missing_required_data_key_is_named(tmp_path):
    message = _error({"data": [{"kind": "bars_csv", "path": "bars.csv"}]}, tmp_path)
    assert "data[0].bar_type: a 'bars_csv' source needs it" in message


def test_a_missing_file_is_named_with_the_key(tmp_path):
    raw = {"data": [{"kind": "binance", "path": "nope.gz", "instrument": "A.B"}]}
    message = _error(raw, tmp_path)
    assert "data[0].path = " in message and "no file" in message and "nope.gz" in message


def test_a_glob_that_matches_nothing_is_named(tmp_path):
    raw = {"data": [{"kind": "quantconnect", "paths": ["*_trade.zip"], "instrument": "A.B"}]}
    message = _error(raw, tmp_path)
    assert "data[0].paths = " in message and "matches no file" in message


def test_a_bad_bar_type_is_named(tmp_path):
    (tmp_path / "b.csv").write_text("")
    raw = {
        "data": [
            {
                "kind": "bars_csv",
                "path": "b.csv",
                "bar_type": "X.Y-100-TICK-LAST-EXTERNAL",
                "timestamp_convention": "close",
            }
        ]
    }
    message = _error(raw, tmp_path)
    assert "data[0].bar_type = 'X.Y-100-TICK-LAST-EXTERNAL': " in message
    assert "not time-aggregated" in message


def test_a_bad_data_kind_is_named(tmp_path):
    message = _error({"data": [{"kind": "csv"}]}, tmp_path)
    assert "data[0].kind = 'csv'" in message


def test_instrument_errors_name_the_key_and_the_value(tmp_path):
    base = {"kind": "equity", "id": "SPY.ARCA", "quote_currency": "USD"}
    cases = [
        (
            {"price_increment": "0.001", "price_precision": 2},
            "instruments[0].price_increment = '0.001': has 3 decimals, more than price_precision = 2",
        ),
        (
            {"price_precision": 2, "quote_currency": "XYZ"},
            "instruments[0].quote_currency = 'XYZ': unknown currency",
        ),
        ({}, "instruments[0].price_increment: needs price_increment or price_precision"),
        (
            {"price_precision": 2, "taker_fee": "2"},
            "instruments[0].taker_fee = '2': taker_fee must be a fraction",
        ),
        (
            {"price_precision": 2, "base_currency": "BTC"},
            "instruments[0].base_currency = 'BTC': not a key of a 'equity' instrument",
        ),
        (
            {"price_precision": 2, "id": "SPY"},
            "instruments[0].id = 'SPY': InstrumentId must look like SYMBOL.VENUE",
        ),
    ]
    for extra, expected in cases:
        message = _error({"instruments": [base | extra]}, tmp_path)
        assert expected in message, message


def test_a_demo_instrument_takes_no_other_key(tmp_path):
    message = _error({"instruments": [{"kind": "demo", "id": "X.Y"}]}, tmp_path)
    assert "instruments[0].id = 'X.Y': not a key of a 'demo' instrument (its keys: none)" in message


def test_a_perpetual_needs_its_base_currency(tmp_path):
    raw = {"instruments": [{"kind": "perpetual", "id": "A.B", "quote_currency": "USD"}]}
    assert "instruments[0].base_currency: a 'perpetual' instrument needs it" in _error(
        raw, tmp_path
    )


def test_negative_latency_and_fees_out_of_range_are_named(tmp_path):
    raw = {"venues": [{"name": "SIM", "latency": {"entry_ns": -5}}]}
    assert "venues[0].latency.entry_ns = -5: must not be negative" in _error(raw, tmp_path)
    raw = {"venues": [{"name": "SIM", "fees": {"taker_fee": "5"}}]}
    assert "venues[0].fees.taker_fee = '5': must be a fraction" in _error(raw, tmp_path)


def test_a_config_built_in_code_takes_relative_paths_from_its_base_dir(tmp_path):
    from zq.backtest import BacktestConfig
    from zq.backtest.config import check_config

    folder = tmp_path / "day"
    folder.mkdir()
    _write_lean_zip(folder / "20131007_trade.zip", ["34200000,1674100,100,P,0,0"])
    source = DataConfig(kind="quantconnect", paths=["day/*_trade.zip"], instrument="SPY.ARCA")
    config = BacktestConfig(data=[source], base_dir=str(tmp_path))
    check_config(config)
    (runs,) = open_sources(config, _spy())
    assert [len(rows) for _, rows in runs] == [1]
    with pytest.raises(ConfigError, match="matches no file"):
        check_config(BacktestConfig(data=[source], base_dir=str(folder)))


# -- catalog: read ahead on a worker thread ----------------------------------------------------


class FailOnTradeParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    on_trade_number: int = 0
    readers_at: int = 0


READERS_SEEN: list[threading.Thread] = []  # the reader threads alive at trade ``readers_at``


class FailOnTrade(Strategy[FailOnTradeParams]):
    """Raise on trade number ``on_trade_number`` (a strategy bug, mid-replay); note the
    catalog's reader threads alive at trade number ``readers_at`` in ``READERS_SEEN``."""

    params_type = FailOnTradeParams

    def on_start(self) -> None:
        self.subscribe_trades(demo_instrument().id)
        self.trades = 0

    def on_trade(self, trade: TradeTick) -> None:
        self.trades += 1
        if self.trades == self.params.readers_at:
            READERS_SEEN.extend(_readers())
        if self.trades == self.params.on_trade_number:
            raise RuntimeError(f"strategy bug at trade {self.trades}")


def _catalog_run(tmp_path: Path, trades: int, fail_on: int, readers_at: int = 0) -> BacktestConfig:
    from zq.data.arrays import TRADE_DTYPE
    from zq.data.catalog import ParquetDataCatalog

    catalog = ParquetDataCatalog(tmp_path / "catalog", row_group_size=1_000)
    catalog.write_instrument(demo_instrument())
    rows = np.zeros(trades, TRADE_DTYPE)
    rows["ts_init"] = rows["ts_event"] = 1_000_000_000 + np.arange(trades) * 1_000_000
    rows["price"], rows["size"], rows["aggressor_side"] = 10_000, 100_000, 1
    rows["trade_id"] = np.arange(1, trades + 1)
    catalog.write_trades(demo_instrument().id, rows, price_precision=2, size_precision=5)
    return BacktestConfig(
        data=[DataConfig(kind="catalog", path=str(tmp_path / "catalog"))],
        strategies=[
            StrategyConfig(
                path=f"{__name__}:FailOnTrade",
                params={"on_trade_number": fail_on, "readers_at": readers_at},
            )
        ],
    )


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("zq-catalog-read")]


def test_a_catalog_replay_reads_ahead_and_stops_its_reader_thread_when_it_ends(tmp_path):
    # This run's reader thread is the one checked: one seen alive mid-replay, then joined.
    # (A reader of an earlier run whose stream the collector closed on that reader's own
    # thread is only asked to stop, and may still be finishing.)
    before = set(_readers())
    READERS_SEEN.clear()
    result = BacktestNode(_catalog_run(tmp_path, 200_000, fail_on=0, readers_at=100_000)).run()
    assert result.data_count == 200_000
    (reader,) = [thread for thread in READERS_SEEN if thread not in before]
    assert not reader.is_alive()
    assert [thread for thread in _readers() if thread not in before] == []


def test_a_replay_that_fails_stops_and_joins_its_reader_thread_before_raising(tmp_path):
    # 200,000 trades in chunks of 65,536: the failure comes while chunks are read ahead.
    node = BacktestNode(_catalog_run(tmp_path, 200_000, fail_on=70_000))
    with pytest.raises(RuntimeError, match="strategy bug at trade 70000") as failed:
        node.run()
    assert failed.value is not None  # the traceback (and the replay's frames) still held
    assert _readers() == []


def test_a_catalog_source_cut_by_end_stops_its_reader_thread_where_it_stops(tmp_path):
    config = _catalog_run(tmp_path, 200_000, fail_on=0)
    end = datetime(1970, 1, 1, 0, 0, 1, 999_000, tzinfo=UTC)  # 1.999 s after the epoch
    sources = open_sources(msgspec.structs.replace(config, end=end), DEMO)
    # 1 ms apart from 1 s: ts_init <= 1.999 s keeps the first 1,000 trades of 200,000.
    assert sum(len(rows) for source in sources for _, rows in source) == 1_000
    assert _readers() == []
