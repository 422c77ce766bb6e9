"""The Parquet catalog on real market data: Tardis BTCUSDT trades and quotes, FTX BTC-PERP
bars.

The files are parsed here with the csv module, minimally and independently of zq's loaders,
so this test checks the catalog alone.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from zq.data.arrays import BAR_DTYPE, QUOTE_DTYPE, TRADE_DTYPE
from zq.data.catalog import DataKind, ParquetDataCatalog
from zq.model.data import Bar, BarType, TradeTick
from zq.model.enums import AggressorSide
from zq.model.identifiers import InstrumentId

pytestmark = pytest.mark.realdata

TRADES_ID = InstrumentId("BTCUSDT.BINANCE")
BARS_TYPE = BarType.from_str("BTC-PERP.FTX-1-MINUTE-LAST-EXTERNAL")
TRADE_PRICE_PRECISION, TRADE_SIZE_PRECISION = 2, 3
BAR_PRICE_PRECISION, BAR_SIZE_PRECISION = 1, 9


def raw(text: str, precision: int) -> int:
    value = Decimal(text).scaleb(precision)
    return int(value.to_integral_value())


def tardis_trades(path: Path) -> np.ndarray:
    with path.open(newline="") as stream:
        records = list(csv.DictReader(stream))
    rows = np.zeros(len(records), TRADE_DTYPE)
    rows["ts_event"] = [int(r["timestamp"]) * 1_000 for r in records]
    rows["ts_init"] = [int(r["local_timestamp"]) * 1_000 for r in records]
    rows["price"] = [raw(r["price"], TRADE_PRICE_PRECISION) for r in records]
    rows["size"] = [raw(r["amount"], TRADE_SIZE_PRECISION) for r in records]
    rows["trade_id"] = [int(r["id"]) for r in records]
    rows["aggressor_side"] = [
        AggressorSide.BUYER if r["side"] == "buy" else AggressorSide.SELLER for r in records
    ]
    return rows


def tardis_quotes(path: Path) -> np.ndarray:
    with path.open(newline="") as stream:
        records = list(csv.DictReader(stream))
    rows = np.zeros(len(records), QUOTE_DTYPE)
    rows["ts_event"] = [int(r["timestamp"]) * 1_000 for r in records]
    rows["ts_init"] = [int(r["local_timestamp"]) * 1_000 for r in records]
    for column, name, precision in (
        ("bid_price", "bid_price", TRADE_PRICE_PRECISION),
        ("ask_price", "ask_price", TRADE_PRICE_PRECISION),
        ("bid_size", "bid_amount", TRADE_SIZE_PRECISION),
        ("ask_size", "ask_amount", TRADE_SIZE_PRECISION),
    ):
        rows[column] = [raw(r[name], precision) for r in records]
    return rows


def ftx_bars(path: Path) -> np.ndarray:
    with path.open(newline="") as stream:
        records = list(csv.DictReader(stream))
    rows = np.zeros(len(records), BAR_DTYPE)
    stamps = [
        int(datetime.fromisoformat(r["timestamp"]).replace(tzinfo=UTC).timestamp()) * 10**9
        for r in records
    ]
    rows["ts_event"] = stamps
    rows["ts_init"] = stamps
    for name in ("open", "high", "low", "close"):
        rows[name] = [raw(r[name], BAR_PRICE_PRECISION) for r in records]
    rows["volume"] = [
        int(Decimal(r["volume"]).scaleb(BAR_SIZE_PRECISION).to_integral_value()) for r in records
    ]
    return rows


@pytest.fixture(scope="module")
def trades(market_data: Path) -> np.ndarray:
    return tardis_trades(market_data / "tardis" / "tardis_trades.csv")


@pytest.fixture(scope="module")
def quotes(market_data: Path) -> np.ndarray:
    return tardis_quotes(market_data / "tardis" / "tardis_quotes.csv")


@pytest.fixture(scope="module")
def bars(market_data: Path) -> np.ndarray:
    return ftx_bars(market_data / "ftx" / "btc-perp-20211231-20220201_1m.csv")


def test_real_trades_written_in_two_appends_read_back_row_for_row(tmp_path, trades):
    assert len(trades) == 9_999
    catalog = ParquetDataCatalog(tmp_path, row_group_size=1_000)
    cut = 6_000
    assert trades["ts_init"][cut - 1] < trades["ts_init"][cut]
    catalog.write_trades(
        TRADES_ID,
        trades[:cut],
        price_precision=TRADE_PRICE_PRECISION,
        size_precision=TRADE_SIZE_PRECISION,
    )
    catalog.write_trades(TRADES_ID, trades[cut:])  # precisions from the first file
    back = catalog.read("trades", TRADES_ID)
    assert len(back) == 9_999
    assert back.tobytes() == trades.tobytes()
    assert catalog.time_range("trades", TRADES_ID) == (
        1_582_329_602_418_379_000,
        int(trades["ts_init"][-1]),
    )

    # the first hour, 00:00 to 01:00 UTC on 2020-02-22, inclusive at both ends
    start, end = 1_582_329_600_000_000_000, 1_582_333_200_000_000_000
    hour = catalog.read("trades", TRADES_ID, start, end)
    expected = int(np.count_nonzero((trades["ts_init"] >= start) & (trades["ts_init"] <= end)))
    assert len(hour) == expected > 0
    assert hour.tobytes() == trades[:expected].tobytes()

    first = next(catalog.read_objects("trades", TRADES_ID))
    assert isinstance(first, TradeTick)
    assert str(first.price) == "9682.00" and str(first.size) == "0.132"
    assert first.aggressor_side is AggressorSide.BUYER and first.trade_id == "42377944"


def test_real_trades_and_bars_stream_merged_with_exact_counts(tmp_path, trades, bars):
    assert len(bars) == 45_031
    catalog = ParquetDataCatalog(tmp_path, row_group_size=4_096)
    catalog.write_trades(
        TRADES_ID,
        trades,
        price_precision=TRADE_PRICE_PRECISION,
        size_precision=TRADE_SIZE_PRECISION,
    )
    catalog.write_bars(
        BARS_TYPE, bars, price_precision=BAR_PRICE_PRECISION, size_precision=BAR_SIZE_PRECISION
    )
    assert catalog.read("bars", BARS_TYPE).tobytes() == bars.tobytes()

    counts = {DataKind.TRADES: 0, DataKind.BARS: 0}
    last = -1
    held: list[int] = []
    for series, rows in catalog.stream(chunk_size=1_000, on_step=held.append):
        assert rows["ts_init"][0] >= last
        last = int(rows["ts_init"][-1])
        counts[series.kind] += len(rows)
    assert counts == {DataKind.TRADES: 9_999, DataKind.BARS: 45_031}
    assert max(held) <= 2 * 1_000

    january = catalog.read_objects(
        "bars", BARS_TYPE, 1_640_995_200_000_000_000, 1_643_673_599_999_999_999
    )
    january_bars = list(january)
    assert all(isinstance(bar, Bar) for bar in january_bars)
    assert len(january_bars) == 31 * 24 * 60  # no gaps in the FTX file


def test_real_quotes_and_trades_of_one_instrument_interleave_in_the_merged_stream(
    tmp_path, trades, quotes
):
    assert len(quotes) == 9_999
    catalog = ParquetDataCatalog(tmp_path, row_group_size=2_048)
    for kind, rows in ((DataKind.TRADES, trades), (DataKind.QUOTES, quotes)):
        for chunk in np.array_split(rows, 3):
            catalog.write(
                kind,
                TRADES_ID,
                chunk,
                price_precision=TRADE_PRICE_PRECISION,
                size_precision=TRADE_SIZE_PRECISION,
            )
    # the quotes span 00:00:03.502 to 00:03:47.x; stream that window of both kinds
    start, end = int(quotes["ts_init"][0]), int(quotes["ts_init"][-1])
    runs = [
        (series.kind, rows) for series, rows in catalog.stream(start=start, end=end, chunk_size=500)
    ]
    got_kinds = np.concatenate([np.full(len(rows), kind.rank) for kind, rows in runs])
    got_ts = np.concatenate([rows["ts_init"] for _, rows in runs])

    # the reference order: every row in the window sorted by (ts_init, kind rank), stably
    in_window = (trades["ts_init"] >= start) & (trades["ts_init"] <= end)
    ref_ts = np.concatenate([quotes["ts_init"], trades["ts_init"][in_window]])
    ref_kinds = np.concatenate(
        [
            np.full(len(quotes), DataKind.QUOTES.rank),
            np.full(int(in_window.sum()), DataKind.TRADES.rank),
        ]
    )
    order = np.lexsort((ref_kinds, ref_ts))
    assert len(got_ts) == len(ref_ts) == 9_999 + int(in_window.sum())
    assert np.array_equal(got_ts, ref_ts[order])
    assert np.array_equal(got_kinds, ref_kinds[order])
    quote_runs = [rows for kind, rows in runs if kind is DataKind.QUOTES]
    assert np.concatenate(quote_runs).tobytes() == quotes.tobytes()
    assert sum(1 for kind, _ in runs if kind is DataKind.TRADES) > 100  # truly interleaved
