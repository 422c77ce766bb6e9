"""ParquetDataCatalog: round trips, time ranges, appends, refusals, schema versions and the
merged replay stream."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.model.samples import instruments as sample_instruments
from zq.data.arrays import (
    BAR_DTYPE,
    DELTA_DTYPE,
    QUOTE_DTYPE,
    TRADE_DTYPE,
    bars_to_objects,
    deltas_to_objects,
    quotes_to_objects,
    trades_to_objects,
)
from zq.data.catalog import (
    SCHEMA_VERSION,
    CatalogError,
    DataKind,
    DataSeries,
    ParquetDataCatalog,
)
from zq.data.catalog.schema import fill_rows, rows_to_table
from zq.data.errors import DataFormatError
from zq.model.data import BarType
from zq.model.identifiers import InstrumentId
from zq_core.replay import fill_columns

BTC = InstrumentId("BTCUSDT.BINANCE")
ETH = InstrumentId("ETHUSDT.BINANCE")
BTC_BARS = BarType.from_str("BTCUSDT.BINANCE-1-MINUTE-LAST-EXTERNAL")
KEYS = {
    DataKind.DELTAS: str(BTC),
    DataKind.QUOTES: str(BTC),
    DataKind.TRADES: str(BTC),
    DataKind.BARS: str(BTC_BARS),
}
FIELD_RANGES = {
    np.dtype("<i8"): (-(2**63), 2**63 - 1),
    np.dtype("<u8"): (0, 2**64 - 1),
    np.dtype("u1"): (0, 255),
}
HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_rows(kind: DataKind, ts_init, **columns) -> np.ndarray:
    """Rows of ``kind`` at the given ts_init; other columns from keywords or a row tag."""
    ts_init = np.asarray(ts_init, np.int64)
    rows = np.zeros(len(ts_init), kind.dtype)
    rows["ts_init"] = ts_init
    rows["ts_event"] = ts_init - 1
    for name, value in columns.items():
        rows[name] = value
    return rows


def tag_column(kind: DataKind) -> str:
    """A column that can carry a unique row tag in every kind."""
    return {
        DataKind.DELTAS: "sequence",
        DataKind.QUOTES: "bid_size",
        DataKind.TRADES: "trade_id",
        DataKind.BARS: "volume",
    }[kind]


@st.composite
def random_rows(draw: st.DrawFn, kind: DataKind, max_rows: int = 60) -> np.ndarray:
    """Rows of ``kind`` with every column drawn over its full range, sorted by ts_init."""
    size = draw(st.integers(1, max_rows))
    rows = np.zeros(size, kind.dtype)
    for name in kind.columns:
        low, high = FIELD_RANGES[kind.dtype[name]]
        if name == "ts_init":
            low = 0
        values = draw(st.lists(st.integers(low, high), min_size=size, max_size=size))
        rows[name] = sorted(values) if name == "ts_init" else values
    return rows


@pytest.fixture
def catalog(tmp_path: Path) -> ParquetDataCatalog:
    return ParquetDataCatalog(tmp_path / "catalog")


# -- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(DataKind), ids=str)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_rows_written_are_read_back_equal_for_every_kind(kind, data):
    rows = data.draw(random_rows(kind))
    with tempfile.TemporaryDirectory() as root:
        catalog = ParquetDataCatalog(root, row_group_size=data.draw(st.integers(1, 64)))
        catalog.write(kind, KEYS[kind], rows, price_precision=2, size_precision=8)
        back = catalog.read(kind, KEYS[kind])
    assert back.dtype == kind.dtype
    assert back.tobytes() == rows.tobytes()


@pytest.mark.parametrize("kind", list(DataKind), ids=str)
def test_read_objects_gives_the_zq_objects_of_the_rows(catalog, kind):
    rows = make_rows(kind, [10, 20, 30])
    for name in ("price", "open", "high", "low", "close", "bid_price", "ask_price"):
        if name in kind.columns:
            rows[name] = 12_345
    for name in ("action", "side", "aggressor_side"):
        if name in kind.columns:
            rows[name] = 1
    catalog.write(kind, KEYS[kind], rows, price_precision=2, size_precision=3)
    convert = {
        DataKind.DELTAS: deltas_to_objects,
        DataKind.QUOTES: quotes_to_objects,
        DataKind.TRADES: trades_to_objects,
        DataKind.BARS: bars_to_objects,
    }[kind]
    key = BTC_BARS if kind is DataKind.BARS else BTC
    expected = list(convert(rows[1:], key, 2, 3))
    assert list(catalog.read_objects(kind, KEYS[kind], start=20)) == expected


def test_typed_writers_store_under_their_kind(catalog):
    catalog.write_deltas(BTC, make_rows(DataKind.DELTAS, [1]), price_precision=2, size_precision=3)
    catalog.write_quotes(BTC, make_rows(DataKind.QUOTES, [1]), price_precision=2, size_precision=3)
    catalog.write_trades(BTC, make_rows(DataKind.TRADES, [1]), price_precision=2, size_precision=3)
    catalog.write_bars(BTC_BARS, make_rows(DataKind.BARS, [1]), price_precision=2, size_precision=3)
    assert catalog.kinds() == [DataKind.DELTAS, DataKind.QUOTES, DataKind.TRADES, DataKind.BARS]
    assert catalog.keys("bars") == [str(BTC_BARS)]
    assert catalog.keys(DataKind.TRADES) == [str(BTC)]


def test_files_are_partitioned_by_kind_and_key_and_named_by_time_range(catalog):
    path = catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [5, 7, 9]), price_precision=2, size_precision=3
    )
    assert path == catalog.root / "trades" / "BTCUSDT.BINANCE" / (
        "0000000000000000005-0000000000000000009.parquet"
    )
    metadata = pq.ParquetFile(path).metadata.metadata
    assert metadata[b"zq.schema_version"] == str(SCHEMA_VERSION).encode()
    assert metadata[b"zq.kind"] == b"trades"
    assert metadata[b"zq.key"] == b"BTCUSDT.BINANCE"
    assert metadata[b"zq.price_precision"] == b"2"
    assert metadata[b"zq.size_precision"] == b"3"


def test_a_key_with_a_slash_is_stored_in_an_escaped_folder_and_listed_unescaped(catalog):
    key = "EUR/USD.SIM"
    path = catalog.write_quotes(
        key, make_rows(DataKind.QUOTES, [1, 2]), price_precision=5, size_precision=0
    )
    assert path.parent.name == "EUR%2FUSD.SIM"
    assert catalog.keys("quotes") == [key]
    assert len(catalog.read("quotes", key)) == 2


def test_writing_no_rows_writes_no_file(catalog):
    assert (
        catalog.write_trades(
            BTC, make_rows(DataKind.TRADES, []), price_precision=2, size_precision=3
        )
        is None
    )
    assert catalog.keys("trades") == []
    assert catalog.time_range("trades", BTC) is None


def test_reading_a_key_the_catalog_does_not_hold_gives_no_rows(catalog):
    rows = catalog.read("trades", ETH)
    assert rows.dtype == TRADE_DTYPE and len(rows) == 0
    assert list(catalog.read_objects("trades", ETH)) == []
    assert catalog.series_of("trades", ETH) is None


# -- time ranges ----------------------------------------------------------------------------


@pytest.fixture
def split_catalog(tmp_path: Path) -> ParquetDataCatalog:
    """Trades at 0, 10, ..., 290 (three rows at each of 100 and 200) in three files with
    row groups of four rows."""
    catalog = ParquetDataCatalog(tmp_path, row_group_size=4)
    ts = sorted([*range(0, 300, 10), 100, 100, 200, 200])
    rows = make_rows(DataKind.TRADES, ts, trade_id=np.arange(len(ts)))
    for chunk in np.array_split(rows, [11, 23]):
        catalog.write_trades(BTC, chunk, price_precision=2, size_precision=3)
    return catalog


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (None, None),
        (100, 200),
        (101, 199),
        (100, 100),
        (0, 0),
        (290, 290),
        (95, 105),
        (291, None),
        (None, -1),
        (150, 140),
        (None, 100),
        (200, None),
    ],
)
def test_time_range_reads_are_inclusive_and_exact_at_the_bounds(split_catalog, start, end):
    everything = split_catalog.read("trades", BTC)
    low = 0 if start is None else start
    high = 2**63 - 1 if end is None else end
    expected = everything[(everything["ts_init"] >= low) & (everything["ts_init"] <= high)]
    got = split_catalog.read("trades", BTC, start, end)
    assert got.tobytes() == expected.tobytes()
    streamed = [rows for _, rows in split_catalog.stream(start=start, end=end, chunk_size=3)]
    joined = np.concatenate(streamed) if streamed else np.zeros(0, TRADE_DTYPE)
    assert joined.tobytes() == expected.tobytes()


def test_time_range_read_opens_only_the_files_and_row_groups_it_needs(split_catalog, monkeypatch):
    requested: list[tuple[str, list[int]]] = []
    original = pq.ParquetFile.iter_batches

    def spy(self, *args, row_groups, **kwargs):
        requested.append((Path(self._zq_path).name, list(row_groups)))
        return original(self, *args, row_groups=row_groups, **kwargs)

    opened: list[str] = []
    original_init = pq.ParquetFile.__init__

    def spy_init(self, source, *args, **kwargs):
        opened.append(Path(source).name)
        self._zq_path = source
        original_init(self, source, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "__init__", spy_init)
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    files = split_catalog.files("trades", BTC)
    assert [(f.start, f.end) for f in files] == [(0, 100), (100, 200), (200, 290)]
    rows = split_catalog.read("trades", BTC, 220, 250)
    assert rows["ts_init"].tolist() == [220, 230, 240, 250]
    # the third file's row groups: 200, 200, 210, 220 | 230..260 | 270..290; decoded one
    # at a time (so a group that does not decode can be named)
    assert opened == [files[2].path.name]
    assert requested == [(files[2].path.name, [0]), (files[2].path.name, [1])]


# -- appends and refusals -------------------------------------------------------------------


def test_appending_newer_rows_adds_a_file_and_leaves_the_old_ones_untouched(catalog):
    first = catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [1, 2, 3]), price_precision=2, size_precision=3
    )
    before = first.read_bytes(), first.stat().st_mtime_ns
    second = catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [4, 5]), price_precision=2, size_precision=3
    )
    assert second != first
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before
    assert catalog.read("trades", BTC)["ts_init"].tolist() == [1, 2, 3, 4, 5]
    assert catalog.time_range("trades", BTC) == (1, 5)
    assert [(f.start, f.end) for f in catalog.files("trades", BTC)] == [(1, 3), (4, 5)]


def test_a_write_that_fails_leaves_no_file_behind(catalog, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        catalog.write_trades(
            BTC, make_rows(DataKind.TRADES, [1]), price_precision=2, size_precision=3
        )
    folder = catalog.root / "trades" / "BTCUSDT.BINANCE"
    assert list(folder.iterdir()) == []
    assert catalog.keys("trades") == []


def test_older_rows_before_every_held_range_are_accepted(catalog):
    catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [10, 20]), price_precision=2, size_precision=3
    )
    catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [1, 5]), price_precision=2, size_precision=3
    )
    assert catalog.read("trades", BTC)["ts_init"].tolist() == [1, 5, 10, 20]


@pytest.mark.parametrize(
    ("ts", "clash"),
    [
        ([5, 15], "[10, 20]"),
        ([12, 18], "[10, 20]"),
        ([10, 20], "[10, 20]"),
        ([0, 35], "[10, 20], [30, 40]"),
        ([25, 31], "[30, 40]"),
    ],
)
def test_appending_rows_that_overlap_a_held_range_is_refused_naming_key_and_ranges(
    catalog, ts, clash
):
    catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [10, 20]), price_precision=2, size_precision=3
    )
    catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [30, 40]), price_precision=2, size_precision=3
    )
    with pytest.raises(CatalogError) as refused:
        catalog.write_trades(
            BTC, make_rows(DataKind.TRADES, ts), price_precision=2, size_precision=3
        )
    message = str(refused.value)
    assert "trades for BTCUSDT.BINANCE" in message
    assert f"[{ts[0]}, {ts[-1]}]" in message and clash in message
    assert len(catalog.files("trades", BTC)) == 2


def test_rows_sharing_one_endpoint_with_a_held_range_are_appended_after_it(catalog):
    catalog.write_trades(
        BTC,
        make_rows(DataKind.TRADES, [10, 20, 20], trade_id=[1, 2, 3]),
        price_precision=2,
        size_precision=3,
    )
    catalog.write_trades(
        BTC,
        make_rows(DataKind.TRADES, [20, 20, 30], trade_id=[4, 5, 6]),
        price_precision=2,
        size_precision=3,
    )
    catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [30], trade_id=[7]), price_precision=2, size_precision=3
    )
    assert catalog.read("trades", BTC)["trade_id"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert catalog.read("trades", BTC, 20, 20)["trade_id"].tolist() == [2, 3, 4, 5]
    with pytest.raises(CatalogError, match=r"\[30, 30\]"):
        catalog.write_trades(
            BTC, make_rows(DataKind.TRADES, [30]), price_precision=2, size_precision=3
        )


def test_unsorted_rows_are_refused_naming_the_first_row_out_of_order(catalog):
    with pytest.raises(
        CatalogError,
        match=r"not sorted by ts_init: row 2 \(ts_init 5\) comes after row 1 \(ts_init 9\)",
    ):
        catalog.write_trades(
            BTC, make_rows(DataKind.TRADES, [1, 9, 5, 3]), price_precision=2, size_precision=3
        )
    assert catalog.keys("trades") == []


def test_a_negative_ts_init_is_refused(catalog):
    with pytest.raises(CatalogError, match="negative ts_init -5"):
        catalog.write_trades(
            BTC, make_rows(DataKind.TRADES, [-5, 1]), price_precision=2, size_precision=3
        )


def test_rows_of_another_dtype_are_refused(catalog):
    with pytest.raises(TypeError, match="1-D array of the trades dtype"):
        catalog.write_trades(
            BTC, make_rows(DataKind.QUOTES, [1]), price_precision=2, size_precision=3
        )
    with pytest.raises(TypeError, match="got a list"):
        catalog.write_trades(BTC, [1, 2], price_precision=2, size_precision=3)


def test_an_invalid_key_is_refused_naming_it(catalog):
    with pytest.raises(CatalogError, match=re.escape("invalid bars key 'BTCUSDT.BINANCE'")):
        catalog.write_bars(
            "BTCUSDT.BINANCE", make_rows(DataKind.BARS, [1]), price_precision=2, size_precision=3
        )


def test_a_precision_that_differs_from_the_held_files_is_refused(catalog):
    catalog.write_trades(BTC, make_rows(DataKind.TRADES, [1]), price_precision=2, size_precision=3)
    with pytest.raises(
        CatalogError,
        match=re.escape("trades for BTCUSDT.BINANCE: price_precision 4 differs from the 2"),
    ):
        catalog.write_trades(
            BTC, make_rows(DataKind.TRADES, [2]), price_precision=4, size_precision=3
        )
    with pytest.raises(CatalogError, match="size_precision 0 differs from the 3"):
        catalog.write_trades(
            BTC, make_rows(DataKind.TRADES, [2]), price_precision=2, size_precision=0
        )
    # another kind of the same instrument is another series, with its own precisions
    catalog.write_quotes(BTC, make_rows(DataKind.QUOTES, [2]), price_precision=4, size_precision=0)


def test_an_out_of_range_precision_is_refused(catalog):
    with pytest.raises(ValueError, match=r"price_precision must be in 0\.\.9, got 10"):
        catalog.write_trades(
            BTC, make_rows(DataKind.TRADES, [1]), price_precision=10, size_precision=3
        )


def test_omitted_precisions_come_from_the_held_files_then_the_instrument(catalog):
    with pytest.raises(
        CatalogError, match="pass price_precision and size_precision, or write the instrument"
    ):
        catalog.write_trades(BTC, make_rows(DataKind.TRADES, [1]))
    instrument = sample_instruments()[0]
    assert instrument.id == BTC
    catalog.write_instrument(instrument)
    catalog.write_bars(BTC_BARS, make_rows(DataKind.BARS, [1]))
    assert catalog.series_of("bars", BTC_BARS) == DataSeries(
        DataKind.BARS, str(BTC_BARS), instrument.price_precision, instrument.size_precision
    )
    catalog.write_trades(BTC, make_rows(DataKind.TRADES, [1]), price_precision=7, size_precision=1)
    catalog.write_trades(BTC, make_rows(DataKind.TRADES, [2]))
    assert catalog.series_of("trades", BTC) == DataSeries(DataKind.TRADES, str(BTC), 7, 1)


# -- schema versions and foreign files ------------------------------------------------------


def rewrite(path: Path, metadata: dict | None = None, table=None) -> None:
    """Rewrite a catalog file with other metadata or another table."""
    table = pq.read_table(path) if table is None else table
    if metadata is not None:
        table = table.replace_schema_metadata(metadata)
    pq.write_table(table, path)


def zq_metadata(path: Path) -> dict[bytes, bytes]:
    return {k: v for k, v in pq.ParquetFile(path).metadata.metadata.items() if k.startswith(b"zq.")}


@pytest.fixture
def trades_file(catalog) -> Path:
    return catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [1, 2]), price_precision=2, size_precision=3
    )


def test_a_file_of_a_newer_schema_version_is_refused_naming_the_file(catalog, trades_file):
    rewrite(
        trades_file,
        {**zq_metadata(trades_file), b"zq.schema_version": str(SCHEMA_VERSION + 1).encode()},
    )
    with pytest.raises(DataFormatError) as refused:
        catalog.read("trades", BTC)
    message = str(refused.value)
    assert str(trades_file) in message
    assert f"schema version {SCHEMA_VERSION + 1} is newer than this zq reads" in message
    with pytest.raises(DataFormatError, match="newer"):
        list(catalog.stream())


def test_a_bad_file_anywhere_in_the_range_stops_the_stream_before_it_yields(catalog, trades_file):
    later = catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [5, 6]), price_precision=2, size_precision=3
    )
    rewrite(later, {**zq_metadata(later), b"zq.schema_version": b"99"})
    with pytest.raises(
        DataFormatError,
        match=re.escape(f"{later.name}, field 'zq.schema_version': schema version 99"),
    ):
        catalog.stream()
    assert [len(rows) for _, rows in catalog.stream(end=4)] == [2]  # the bad file is out of range


@pytest.mark.parametrize("version", [b"0", b"-1", b"one", b""])
def test_a_file_of_an_unknown_schema_version_is_refused(catalog, trades_file, version):
    rewrite(trades_file, {**zq_metadata(trades_file), b"zq.schema_version": version})
    with pytest.raises(DataFormatError, match=r"field 'zq.schema_version': unknown schema version"):
        catalog.read("trades", BTC)


def test_a_parquet_file_without_zq_metadata_is_refused_as_foreign(catalog, trades_file):
    rewrite(trades_file, {})
    with pytest.raises(
        DataFormatError,
        match=re.escape("not a zq catalog file: its Parquet metadata has no 'zq.schema_version'"),
    ):
        catalog.read("trades", BTC)


def test_a_file_that_says_another_kind_or_key_is_refused(catalog, trades_file):
    rewrite(trades_file, {**zq_metadata(trades_file), b"zq.kind": b"quotes"})
    with pytest.raises(
        DataFormatError,
        match=re.escape("zq.kind is 'quotes' but its place in the catalog says 'trades'"),
    ):
        catalog.read("trades", BTC)
    rewrite(
        trades_file,
        {**zq_metadata(trades_file), b"zq.kind": b"trades", b"zq.key": b"ETHUSDT.BINANCE"},
    )
    with pytest.raises(DataFormatError, match=re.escape("zq.key is 'ETHUSDT.BINANCE'")):
        catalog.read("trades", BTC)


def test_a_file_with_a_missing_precision_is_refused(catalog, trades_file):
    metadata = zq_metadata(trades_file)
    del metadata[b"zq.size_precision"]
    rewrite(trades_file, metadata)
    with pytest.raises(
        DataFormatError, match=re.escape("field 'zq.size_precision': missing or invalid precision")
    ):
        catalog.read("trades", BTC)


def test_a_file_whose_columns_differ_from_the_schema_is_refused(catalog, trades_file):
    table = pq.read_table(trades_file)
    metadata = table.schema.metadata
    changed = table.set_column(
        2, "price", pa.array(table.column("price").to_numpy().astype(np.float64))
    )
    rewrite(trades_file, metadata, changed)
    with pytest.raises(
        DataFormatError, match=r"columns \(.*price: double.*\) differ from the trades schema v1"
    ):
        catalog.read("trades", BTC)


def test_a_file_that_is_not_parquet_is_refused(catalog, trades_file):
    trades_file.write_bytes(b"ts_init,price\n1,2\n")
    with pytest.raises(DataFormatError, match="not a readable Parquet file"):
        catalog.read("trades", BTC)


def test_a_parquet_file_not_named_by_its_range_is_refused(catalog, trades_file):
    trades_file.rename(trades_file.with_name("trades.parquet"))
    with pytest.raises(DataFormatError, match=r"trades.parquet: not a catalog file name"):
        catalog.read("trades", BTC)


def test_files_of_one_key_with_different_precisions_are_refused_on_read(catalog, trades_file):
    second = catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [5]), price_precision=2, size_precision=3
    )
    rewrite(second, {**zq_metadata(second), b"zq.price_precision": b"4"})
    with pytest.raises(
        DataFormatError, match=r"precisions \(price 4, size 3\) differ from the key's other files"
    ):
        catalog.read("trades", BTC)


# -- instruments and introspection ----------------------------------------------------------


def test_instruments_round_trip_and_a_rewrite_replaces_the_definition(catalog):
    assert catalog.instruments() == []
    samples = sample_instruments()
    for instrument in samples:
        catalog.write_instrument(instrument)
    assert catalog.instruments() == sorted(samples, key=lambda i: str(i.id))
    assert catalog.instrument(samples[1].id) == samples[1]
    assert catalog.instrument("NOPE.SIM") is None
    catalog.write_instrument(samples[0])
    assert len(catalog.instruments()) == len(samples)


def test_a_corrupt_instrument_file_is_refused_naming_it(catalog):
    path = catalog.write_instrument(sample_instruments()[0])
    path.write_bytes(b'{"type": "nothing"}')
    with pytest.raises(DataFormatError, match=f"{path.name}: not a zq instrument"):
        catalog.instruments()


def test_series_selection_by_kind_instrument_and_bar_type(catalog):
    minute = BTC_BARS
    hour = BarType.from_str("BTCUSDT.BINANCE-1-HOUR-LAST-EXTERNAL")
    for kind, key in [
        ("trades", BTC),
        ("trades", ETH),
        ("quotes", ETH),
        ("bars", minute),
        ("bars", hour),
    ]:
        catalog.write(
            kind, key, make_rows(DataKind(kind), [1]), price_precision=2, size_precision=3
        )
    names = lambda series: [(s.kind.value, s.key) for s in series]  # noqa: E731
    assert names(catalog.series()) == [
        ("quotes", "ETHUSDT.BINANCE"),
        ("trades", "BTCUSDT.BINANCE"),
        ("trades", "ETHUSDT.BINANCE"),
        ("bars", str(hour)),
        ("bars", str(minute)),
    ]
    assert names(catalog.series(instruments=[BTC])) == [
        ("trades", "BTCUSDT.BINANCE"),
        ("bars", str(hour)),
        ("bars", str(minute)),
    ]
    assert names(catalog.series(kinds=["bars"], instruments=[minute])) == [("bars", str(minute))]
    assert names(catalog.series(kinds=["trades", "quotes"], instruments=[ETH])) == [
        ("quotes", "ETHUSDT.BINANCE"),
        ("trades", "ETHUSDT.BINANCE"),
    ]
    assert catalog.series()[3].instrument_id == BTC


# -- the merged stream ----------------------------------------------------------------------

STREAM_SERIES = [
    (DataKind.TRADES, "BTCUSDT.BINANCE"),
    (DataKind.TRADES, "ETHUSDT.BINANCE"),
    (DataKind.QUOTES, "BTCUSDT.BINANCE"),
    (DataKind.DELTAS, "ETHUSDT.BINANCE"),
    (DataKind.BARS, str(BTC_BARS)),
]


@st.composite
def stream_catalog_plan(draw: st.DrawFn):
    """Per series: sorted ts_init (many ties across series), split into files."""
    plan = []
    for kind, key in STREAM_SERIES:
        ts = sorted(draw(st.lists(st.integers(0, draw(st.sampled_from([3, 12, 40]))), max_size=60)))
        cuts = sorted(draw(st.lists(st.integers(1, max(1, len(ts) - 1)), max_size=3, unique=True)))
        plan.append((kind, key, ts, cuts))
    return plan


def build_stream_catalog(root: str, plan, row_group_size: int) -> tuple[ParquetDataCatalog, list]:
    catalog = ParquetDataCatalog(root, row_group_size=row_group_size)
    tag = 0
    expected = []
    for kind, key, ts, cuts in plan:
        tags = np.arange(tag, tag + len(ts))
        tag += len(ts)
        rows = make_rows(kind, ts, **{tag_column(kind): tags})
        for chunk in np.array_split(rows, cuts) if len(rows) else []:
            try:
                catalog.write(kind, key, chunk, price_precision=2, size_precision=3)
            except CatalogError:
                continue  # a cut inside a run of equal stamps can overlap: leave that chunk out
            expected.extend(
                (int(t), kind.rank, key, int(g))
                for t, g in zip(chunk["ts_init"], chunk[tag_column(kind)], strict=True)
            )
    return catalog, expected


def flatten(stream) -> list[tuple[int, int, str, int]]:
    out = []
    for series, rows in stream:
        tags = rows[tag_column(series.kind)].tolist()
        out.extend(
            (int(t), series.kind.rank, series.key, int(g))
            for t, g in zip(rows["ts_init"].tolist(), tags, strict=True)
        )
    return out


@HYPOTHESIS
@given(
    plan=stream_catalog_plan(),
    chunk_size=st.integers(1, 20),
    row_group_size=st.integers(1, 16),
    bounds=st.tuples(st.none() | st.integers(0, 40), st.none() | st.integers(0, 40)),
)
def test_the_merged_stream_yields_every_row_once_in_ts_init_then_kind_then_key_order(
    plan, chunk_size, row_group_size, bounds
):
    start, end = bounds
    with tempfile.TemporaryDirectory() as root:
        catalog, written = build_stream_catalog(root, plan, row_group_size)
        steps: list[int] = []
        got = flatten(
            catalog.stream(start=start, end=end, chunk_size=chunk_size, on_step=steps.append)
        )
        again = flatten(catalog.stream(start=start, end=end, chunk_size=chunk_size))
        records = [
            (series.kind, series.key, record)
            for series, record in catalog.stream_records(
                start=start, end=end, chunk_size=chunk_size
            )
        ]
        runs = [
            (series.kind, series.key, record)
            for series, rows in catalog.stream(start=start, end=end, chunk_size=chunk_size)
            for record in rows[list(series.kind.columns)].tolist()
        ]
        series_count = len(catalog.series())
    low = 0 if start is None else start
    high = 2**63 if end is None else end
    # the reference: a sort of every written row by (ts_init, kind rank, key, storage order)
    expected = sorted(row for row in written if low <= row[0] <= high)
    assert got == expected
    assert again == got
    assert records == runs
    assert all(held <= chunk_size * series_count for held in steps)


def test_the_stream_yields_runs_of_one_series_each_a_view_of_a_chunk(catalog):
    catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [1, 2, 3, 7, 8]), price_precision=2, size_precision=3
    )
    catalog.write_quotes(
        BTC, make_rows(DataKind.QUOTES, [2, 4, 5, 6, 9]), price_precision=4, size_precision=1
    )
    runs = [
        (series.kind.value, rows["ts_init"].tolist(), rows.base is not None)
        for series, rows in catalog.stream()
    ]
    assert runs == [
        ("trades", [1], True),
        ("quotes", [2], True),
        ("trades", [2, 3], True),
        ("quotes", [4, 5, 6], True),
        ("trades", [7, 8], True),
        ("quotes", [9], True),
    ]
    seen = [series for series, _ in catalog.stream()]
    assert seen[1] == DataSeries(DataKind.QUOTES, str(BTC), 4, 1)
    assert seen[0] is seen[2] is seen[4] and seen[1] is seen[3] is seen[5]


def test_equal_stamps_split_across_chunks_of_a_series_all_come_before_the_next_series(catalog):
    quotes = make_rows(DataKind.QUOTES, [5, 5, 5, 5], bid_size=[1, 2, 3, 4])
    catalog.write_quotes(BTC, quotes, price_precision=2, size_precision=3)
    catalog.write_trades(
        BTC,
        make_rows(DataKind.TRADES, [5, 5, 6], trade_id=[7, 8, 9]),
        price_precision=2,
        size_precision=3,
    )
    assert flatten(catalog.stream(chunk_size=2)) == [
        (5, 1, "BTCUSDT.BINANCE", 1),
        (5, 1, "BTCUSDT.BINANCE", 2),
        (5, 1, "BTCUSDT.BINANCE", 3),
        (5, 1, "BTCUSDT.BINANCE", 4),
        (5, 2, "BTCUSDT.BINANCE", 7),
        (5, 2, "BTCUSDT.BINANCE", 8),
        (6, 2, "BTCUSDT.BINANCE", 9),
    ]


def test_the_stream_holds_at_most_one_chunk_per_series_however_long_the_series(tmp_path):
    catalog = ParquetDataCatalog(tmp_path, row_group_size=1_000)
    rng = np.random.default_rng(7)
    series_count = 0
    for kind, key in STREAM_SERIES:
        ts = np.sort(rng.integers(0, 1_000_000, 5_000))
        for chunk in np.array_split(make_rows(kind, ts), [2_000]):
            catalog.write(kind, key, chunk, price_precision=2, size_precision=3)
        series_count += 1
    steps: list[int] = []
    total = sum(len(rows) for _, rows in catalog.stream(chunk_size=64, on_step=steps.append))
    assert total == 5 * 5_000
    assert len(steps) > 5_000 // 64
    assert max(steps) <= 64 * series_count


def test_the_stream_of_one_series_yields_its_chunks(tmp_path):
    catalog = ParquetDataCatalog(tmp_path, row_group_size=100)
    catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, np.arange(1_000)), price_precision=2, size_precision=3
    )
    sizes = [len(rows) for _, rows in catalog.stream(chunk_size=64)]
    assert sum(sizes) == 1_000 and max(sizes) <= 64


def test_the_stream_filters_by_kind_and_instrument(catalog):
    catalog.write_trades(
        BTC, make_rows(DataKind.TRADES, [1, 3]), price_precision=2, size_precision=3
    )
    catalog.write_trades(ETH, make_rows(DataKind.TRADES, [2]), price_precision=2, size_precision=3)
    catalog.write_quotes(BTC, make_rows(DataKind.QUOTES, [2]), price_precision=2, size_precision=3)
    got = [
        (s.kind.value, s.key, rows["ts_init"].tolist())
        for s, rows in catalog.stream(kinds=["trades"], instruments=[BTC])
    ]
    assert got == [("trades", "BTCUSDT.BINANCE", [1, 3])]
    assert list(catalog.stream(instruments=["SOLUSDT.BINANCE"])) == []


def test_an_unknown_data_kind_is_refused_listing_the_kinds(catalog):
    with pytest.raises(
        ValueError, match="unknown data kind 'ticks'; expected one of deltas, quotes, trades, bars"
    ):
        catalog.read("ticks", BTC)
    with pytest.raises(ValueError, match="unknown data kind"):
        catalog.stream(kinds=["ticks"])


def test_a_chunk_size_below_one_is_refused(catalog):
    with pytest.raises(ValueError, match="chunk_size must be positive"):
        catalog.stream(chunk_size=0)
    with pytest.raises(ValueError, match="chunk_size must be positive"):
        catalog.stream_records(chunk_size=-1)


def test_stream_records_yields_each_row_as_a_tuple_of_its_columns(catalog):
    catalog.write_trades(
        BTC,
        make_rows(DataKind.TRADES, [1, 3], price=[100, 300], trade_id=[1, 3]),
        price_precision=2,
        size_precision=3,
    )
    catalog.write_quotes(
        BTC, make_rows(DataKind.QUOTES, [2], bid_price=[200]), price_precision=2, size_precision=3
    )
    got = [(series.kind.value, record) for series, record in catalog.stream_records()]
    assert got == [
        ("trades", (0, 1, 100, 0, 1, 0)),
        ("quotes", (1, 2, 200, 0, 0, 0)),
        ("trades", (2, 3, 300, 0, 3, 0)),
    ]
    assert DataKind.TRADES.columns == (
        "ts_event",
        "ts_init",
        "price",
        "size",
        "trade_id",
        "aggressor_side",
    )


def test_the_dtypes_of_the_kinds_are_the_array_contracts():
    assert DataKind.DELTAS.dtype == DELTA_DTYPE
    assert DataKind.TRADES.dtype == TRADE_DTYPE
    assert DataKind.QUOTES.dtype == QUOTE_DTYPE
    assert DataKind.BARS.dtype == BAR_DTYPE
    assert [
        kind.rank for kind in (DataKind.DELTAS, DataKind.QUOTES, DataKind.TRADES, DataKind.BARS)
    ] == [0, 1, 2, 3]


# -- rows from Arrow columns ---------------------------------------------------------------


@pytest.mark.parametrize("kind", list(DataKind), ids=str)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_fill_rows_copies_a_batch_and_a_chunked_table_alike(kind, data):
    # A record batch takes the one-pass copy (fill_columns); a table whose columns come in
    # several chunks takes the per-column numpy assignment. The reference is numpy's own
    # field assignment of each column, into zeroed rows (padding stays zero).
    rows = data.draw(random_rows(kind))
    cut = data.draw(st.integers(0, len(rows)))
    table = pa.concat_tables(
        [rows_to_table(kind, rows[:cut], {}), rows_to_table(kind, rows[cut:], {})]
    )
    offset = data.draw(st.integers(0, 3))
    expected = np.zeros(offset + len(rows), kind.dtype)
    for name in kind.columns:
        expected[name][offset:] = rows[name]
    for source in (table.combine_chunks().to_batches()[0], table):
        out = np.zeros(offset + len(rows), kind.dtype)
        assert fill_rows(out, offset, kind, source) == len(rows)
        assert out.tobytes() == expected.tobytes()


def test_fill_columns_refuses_columns_that_do_not_fit_the_rows():
    out = np.zeros(4, DataKind.TRADES.dtype)
    place = DataKind.TRADES.dtype.fields["price"][1]
    prices = np.arange(4, dtype=np.int64)
    assert fill_columns(out, 0, [(prices, place)]) == 4
    assert out["price"].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="do not fit 4"):
        fill_columns(out, 1, [(prices, place)])
    with pytest.raises(ValueError, match="column 1 has 3 rows, column 0 has 4"):
        fill_columns(out, 0, [(prices, place), (prices[:3], place)])
    with pytest.raises(ValueError, match="does not fit a row of 48 bytes"):
        fill_columns(out, 0, [(prices, 44)])
    with pytest.raises(ValueError, match="1-D C-contiguous"):
        fill_columns(out, 0, [(np.arange(8, dtype=np.int64)[::2], place)])
