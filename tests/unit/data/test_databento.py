"""The Databento DBN loader, schema by schema on the dbn fixtures, and on malformed input.

Every columnar output is checked against ``databento-dbn``'s own decoding of the same file
(the oracle); files for edge cases (several zstd frames, DBN versions 1 and 2, ``ts_out``,
corrupt or truncated data) are built in ``tmp_path`` from the fixtures or from records made
with ``databento-dbn``.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zq.data.arrays import BAR_DTYPE, DELTA_DTYPE, QUOTE_DTYPE, TRADE_DTYPE
from zq.data.errors import DataFormatError
from zq.data.loaders.databento import (
    DEPTH10_DTYPE,
    UNDEF_PRICE,
    DatabentoLoader,
    DatabentoStatistic,
    load_bars,
    load_deltas,
    load_depth,
    load_instruments,
    load_price_precisions,
    load_quotes,
    load_statistics,
    load_statuses,
    load_trades,
)
from zq.model.data import (
    Bar,
    InstrumentStatus,
    OrderBookDelta,
    OrderBookDepth,
    QuoteTick,
    TradeTick,
)
from zq.model.enums import AggressorSide, AssetClass, BookAction, MarketStatus, OrderSide
from zq.model.identifiers import InstrumentId
from zq.model.instruments import Equity, FuturesContract
from zq_core.fixed import Price, Quantity

ESH1 = 5482
SCALE = 10**7  # DBN 1e-9 units per raw unit at precision 2


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixtures(market_data: Path) -> Path:
    return market_data / "databento" / "dbn-fixtures"


def fixture(fixtures: Path, schema: str) -> Path:
    return fixtures / f"test_data.{schema}.v3.dbn.zst"


def oracle(path: Path) -> list:
    """The records of a file as databento-dbn decodes them (reading across zstd frames)."""
    data = path.read_bytes()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        data = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True).read()
    records = dbn.DBNDecoder().write_and_decode(data)
    return [r for r in records if not isinstance(r, dbn.Metadata)]


def plain(path: Path) -> bytes:
    """The decompressed bytes of a DBN file."""
    data = path.read_bytes()
    if data[:4] != b"\x28\xb5\x2f\xfd":
        return data
    return zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True).read()


def split_header(data: bytes) -> tuple[bytes, bytes]:
    length = int.from_bytes(data[4:8], "little")
    return data[: 8 + length], data[8 + length :]


def zst_frames(data: bytes, frame_size: int) -> bytes:
    """Compress ``data`` as one zstd frame per ``frame_size`` bytes."""
    compressor = zstandard.ZstdCompressor()
    return b"".join(
        compressor.compress(data[i : i + frame_size]) for i in range(0, len(data), frame_size)
    )


def header(schema: dbn.Schema, version: int = 3, ts_out: bool = False) -> bytes:
    return dbn.Metadata(
        "GLBX.MDP3",
        1609160400000000000,
        dbn.SType.RAW_SYMBOL,
        dbn.SType.INSTRUMENT_ID,
        schema,
        symbols=["ESH1"],
        end=1609200000000000000,
        ts_out=ts_out,
        version=version,
    ).encode()


def mbo(action: str, side: str, price: float | int, size: int, order_id: int, **kw) -> bytes:
    raw = price if isinstance(price, int) else round(price * 1e9)
    record = dbn.MBOMsg(
        1,
        kw.pop("instrument_id", ESH1),
        kw.pop("ts_event", 1_000),
        order_id,
        raw,
        size,
        dbn.Action(action),
        dbn.Side(side),
        kw.pop("ts_recv", 2_000),
        flags=kw.pop("flags", 128),
        sequence=kw.pop("sequence", 7),
    )
    assert not kw
    return bytes(record)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def raw_price(value: int) -> int:
    """A DBN price (1e-9) at precision 2, keeping DBN's undefined price as is."""
    return value if value == UNDEF_PRICE else value // SCALE


def side_code(side: object) -> int:
    return {"B": OrderSide.BUY, "A": OrderSide.SELL}.get(str(side), 0)


def aggressor(side: object) -> int:
    return {"B": AggressorSide.BUYER, "A": AggressorSide.SELLER}.get(str(side), 0)


# -- schema by schema --------------------------------------------------------------------------


def test_mbo_fixture_gives_deltas_equal_to_the_dbn_decoding(fixtures):
    path = fixture(fixtures, "mbo")
    deltas = load_deltas(path, price_precision=2)
    records = oracle(path)
    assert deltas.dtype == DELTA_DTYPE and len(deltas) == len(records) == 2
    for row, rec in zip(deltas, records, strict=True):
        assert row["action"] == BookAction.DELETE  # both fixture records are cancels
        assert row["side"] == side_code(rec.side)
        assert row["price"] == rec.price // SCALE
        assert row["size"] == rec.size
        assert row["order_id"] == rec.order_id
        assert row["sequence"] == rec.sequence
        assert row["flags"] == rec.flags
        assert row["ts_event"] == rec.ts_event
        assert row["ts_init"] == rec.ts_recv
    first = deltas[0]
    assert (first["price"], first["order_id"], first["side"]) == (372275, 647784973705, 2)
    assert first["ts_event"] == 1609160400000429831


def test_uncompressed_and_zstd_mbo_fixture_decode_the_same(fixtures):
    compressed = load_deltas(fixtures / "test_data.mbo.v3.dbn.zst", price_precision=2)
    uncompressed = load_deltas(fixtures / "test_data.mbo.v3.dbn", price_precision=2)
    assert np.array_equal(compressed, uncompressed)


def test_mbo_objects_are_order_book_deltas_with_the_symbol_and_venue(fixtures):
    loader = DatabentoLoader(fixture(fixtures, "mbo"), price_precision=2)
    objects = list(loader.iter_objects())
    assert len(objects) == 2 and all(isinstance(o, OrderBookDelta) for o in objects)
    delta = objects[0]
    assert delta.instrument_id == InstrumentId("ESH1.GLBX")
    assert delta.action is BookAction.DELETE and delta.side is OrderSide.SELL
    assert delta.price == Price("3722.75", 2) and delta.size == Quantity(1, 0)


def test_metadata_reports_the_file_version_schema_and_symbology(fixtures):
    meta = DatabentoLoader(fixture(fixtures, "mbo")).metadata
    assert (meta.version, meta.dataset, meta.schema, meta.venue) == (3, "GLBX.MDP3", "mbo", "GLBX")
    assert meta.symbols == ("ESH1",) and meta.symbology == {ESH1: "ESH1"}
    assert meta.start == 1609160400000000000 and meta.end == 1609200000000000000
    assert meta.stype_in == "raw_symbol" and meta.stype_out == "instrument_id"
    assert meta.ts_out is False


def test_mbp1_fixture_gives_a_quote_per_record_and_no_trade_without_a_t_action(fixtures):
    path = fixture(fixtures, "mbp-1")
    records = oracle(path)
    quotes = load_quotes(path, price_precision=2)
    assert quotes.dtype == QUOTE_DTYPE and len(quotes) == len(records) == 2
    for row, rec in zip(quotes, records, strict=True):
        assert row["bid_price"] == raw_price(rec.bid_px_00)
        assert row["ask_price"] == raw_price(rec.ask_px_00)
        assert (row["bid_size"], row["ask_size"]) == (rec.bid_sz_00, rec.ask_sz_00)
        assert (row["ts_event"], row["ts_init"]) == (rec.ts_event, rec.ts_recv)
    assert tuple(quotes[0][["bid_price", "ask_price", "bid_size", "ask_size"]]) == (
        372025,
        372050,
        24,
        11,
    )
    assert len(load_trades(path, price_precision=2)) == 0  # both records are adds


def test_tbbo_fixture_gives_trades_and_the_quote_before_each_trade(fixtures):
    path = fixture(fixtures, "tbbo")
    records = oracle(path)
    trades = load_trades(path, price_precision=2)
    quotes = load_quotes(path, price_precision=2)
    assert len(trades) == len(quotes) == len(records) == 2
    assert trades["price"].tolist() == [372025, 372025]
    assert trades["size"].tolist() == [5, 21]
    assert trades["aggressor_side"].tolist() == [AggressorSide.SELLER] * 2
    assert trades["trade_id"].tolist() == [r.sequence for r in records]
    assert quotes["bid_size"].tolist() == [r.bid_sz_00 for r in records]
    objects = list(DatabentoLoader(path, price_precision=2).iter_objects())
    kinds = [type(o) for o in objects]
    assert kinds == [QuoteTick, TradeTick, QuoteTick, TradeTick]  # file order, quote first


def test_trades_fixture_gives_the_same_trades_as_tbbo(fixtures):
    trades = load_trades(fixture(fixtures, "trades"), price_precision=2)
    assert trades.dtype == TRADE_DTYPE
    tbbo = load_trades(fixture(fixtures, "tbbo"), price_precision=2)
    assert np.array_equal(trades, tbbo)
    tick = next(DatabentoLoader(fixture(fixtures, "trades"), price_precision=2).iter_objects())
    assert isinstance(tick, TradeTick)
    assert tick.aggressor_side is AggressorSide.SELLER and tick.trade_id == "1170380"


def test_bbo_fixture_gives_quotes(fixtures):
    path = fixture(fixtures, "bbo-1s")
    records = oracle(path)
    quotes = load_quotes(path, price_precision=2)
    assert len(quotes) == len(records) == 4
    assert quotes["bid_price"].tolist() == [raw_price(r.bid_px_00) for r in records]
    assert quotes["ask_price"].tolist() == [raw_price(r.ask_px_00) for r in records]
    assert quotes["ts_init"].tolist() == [r.ts_recv for r in records]
    assert tuple(quotes[0][["bid_price", "ask_price", "bid_size", "ask_size"]]) == (
        370225,
        370275,
        18,
        13,
    )


def test_mbp10_fixture_gives_ten_level_depth_snapshots(fixtures):
    path = fixture(fixtures, "mbp-10")
    records = oracle(path)
    depth = load_depth(path, price_precision=2)
    assert depth.dtype == DEPTH10_DTYPE and len(depth) == len(records) == 2
    for row, rec in zip(depth, records, strict=True):
        for level, pair in enumerate(rec.levels):
            assert row["bid_price"][level] == raw_price(pair.bid_px)
            assert row["ask_price"][level] == raw_price(pair.ask_px)
            assert row["bid_size"][level] == pair.bid_sz and row["ask_size"][level] == pair.ask_sz
            assert row["bid_count"][level] == pair.bid_ct and row["ask_count"][level] == pair.ask_ct
        assert (row["sequence"], row["flags"]) == (rec.sequence, rec.flags)
    assert depth[0]["bid_price"][:2].tolist() == [372025, 372000]
    snapshot = next(DatabentoLoader(path, price_precision=2).iter_objects())
    assert isinstance(snapshot, OrderBookDepth)
    assert len(snapshot.bids) == len(snapshot.asks) == 10
    assert snapshot.bids[0].price == Price("3720.25", 2) and snapshot.bids[0].count == 15


def test_ohlcv_fixture_bars_are_stamped_at_their_close(fixtures):
    path = fixture(fixtures, "ohlcv-1m")
    records = oracle(path)
    bars = load_bars(path, price_precision=2)
    assert bars.dtype == BAR_DTYPE and len(bars) == len(records) == 2
    for row, rec in zip(bars, records, strict=True):
        assert row["ts_event"] == row["ts_init"] == rec.ts_event + 60_000_000_000
        for name in ("open", "high", "low", "close"):
            assert row[name] == getattr(rec, name) // SCALE
        assert row["volume"] == rec.volume
    bar = next(DatabentoLoader(path, price_precision=2).iter_objects())
    assert isinstance(bar, Bar)
    assert str(bar.bar_type) == "ESH1.GLBX-1-MINUTE-LAST-EXTERNAL"
    assert bar.ts_event == 1609160400000000000 + 60_000_000_000  # opened 13:00, closed 13:01


def test_status_fixture_gives_instrument_status_changes(fixtures):
    path = fixture(fixtures, "status")
    statuses = load_statuses(path)
    assert len(statuses) == len(oracle(path)) == 4
    assert all(isinstance(s, InstrumentStatus) for s in statuses)
    first, second = statuses[:2]
    assert first.status is MarketStatus.OPEN and first.reason == "SCHEDULED"
    assert first.ts_event == 1609110000000000000 and first.ts_init == 1609113600000000000
    assert second.status is MarketStatus.PRE_OPEN
    assert first.instrument_id == InstrumentId("ESH1.GLBX")


def test_statistics_fixture_gives_statistics_with_undefined_quantities_as_none(fixtures):
    path = fixture(fixtures, "statistics")
    stats = load_statistics(path)
    assert len(stats) == len(oracle(path)) == 2
    assert all(isinstance(s, DatabentoStatistic) for s in stats)
    assert [s.name for s in stats] == ["LOWEST_OFFER", "TRADING_SESSION_HIGH_PRICE"]
    assert stats[0].price == Price(100, 9) and stats[0].quantity is None
    assert stats[0].ts_ref is None and stats[0].sequence == 2
    assert stats[0].instrument_id == InstrumentId("146945.GLBX")  # no symbol mapping: the number
    assert load_statistics(path, price_precision=2)[1].price == Price("100.00", 2)


def test_definition_fixture_gives_equities_with_a_cent_tick_and_round_lot(fixtures):
    instruments = load_instruments(fixture(fixtures, "definition"))
    assert len(instruments) == 2
    msft = instruments[0]
    assert isinstance(msft, Equity)
    assert msft.id == InstrumentId("MSFT.XNAS") and msft.asset_class is AssetClass.EQUITY
    assert msft.price_increment == Price("0.01") and msft.lot_size == Quantity(100, 0)
    assert msft.quote_currency.code == "USD"


def test_v1_definition_file_is_upgraded_and_gives_futures_with_tick_and_multiplier(market_data):
    path = market_data / "databento" / "futures_definition.dbn.zst"
    loader = DatabentoLoader(path)
    assert loader.metadata.version == 1
    es, nq = loader.instruments()
    assert isinstance(es, FuturesContract) and isinstance(nq, FuturesContract)
    assert es.id == InstrumentId("ESU4.GLBX") and es.underlying == "ES"
    assert es.price_increment == Price("0.25") and es.price_precision == 2
    assert es.multiplier == Quantity(50, 0) and nq.multiplier == Quantity(20, 0)
    assert es.asset_class is AssetClass.INDEX
    assert es.expiration_ns == 1726839000000000000  # 2024-09-20 13:30 UTC
    assert es.max_quantity == Quantity(3000, 0) and es.min_quantity == Quantity(1, 0)
    assert load_price_precisions(path) == {118: 2, 4358: 2}


def definition(instrument_class: str, tick: int, **fields) -> bytes:
    record = dbn.InstrumentDefMsg(
        1,
        fields.pop("instrument_id", 42),
        1_000,
        2_000,
        tick,
        10**9,
        fields.pop("raw_symbol", "6EH4"),
        fields.pop("asset", "6E"),
        "FUT",
        dbn.InstrumentClass(instrument_class),
        dbn.SecurityUpdateAction("A"),
        expiration=1_710_000_000_000_000_000,
        activation=1_690_000_000_000_000_000,
        **fields,
    )
    return bytes(record)


def test_definition_of_a_currency_future_gives_its_tick_precision_and_multiplier(tmp_path):
    data = header(dbn.Schema.DEFINITION) + definition(
        "F", 50_000, unit_of_measure_qty=125_000 * 10**9, currency="USD", cfi="FFCPSX"
    )
    path = write(tmp_path, "6e.dbn", data)
    (future,) = load_instruments(path)
    assert isinstance(future, FuturesContract)
    assert future.price_increment == Price("0.00005") and future.price_precision == 5
    assert future.multiplier == Quantity(125_000, 0) and future.asset_class is AssetClass.FX
    assert future.quote_currency.code == "USD"  # given; a blank one would default to USD too
    assert load_price_precisions(path) == {42: 5}


def test_definition_of_a_class_zq_has_no_instrument_for_is_refused(tmp_path):
    data = header(dbn.Schema.DEFINITION) + definition("C", 50_000, currency="USD")
    path = write(tmp_path, "option.dbn", data)
    with pytest.raises(DataFormatError, match="no instrument for this class") as info:
        load_instruments(path)
    assert (info.value.record, info.value.field, info.value.value) == (0, "instrument_class", "C")


def test_record_of_another_type_in_a_definition_file_is_refused(tmp_path):
    data = header(dbn.Schema.DEFINITION) + definition("F", 250_000_000) + mbo("A", "B", 1.0, 1, 1)
    path = write(tmp_path, "mixed.dbn", data)
    with pytest.raises(DataFormatError, match="does not belong to schema definition") as info:
        load_instruments(path)
    assert (info.value.record, info.value.field, info.value.value) == (1, "rtype", 0xA0)


def test_imbalance_has_no_zq_output_but_its_records_can_be_read(fixtures):
    path = fixture(fixtures, "imbalance")
    loader = DatabentoLoader(path, price_precision=2)
    with pytest.raises(DataFormatError, match="schema imbalance is not supported") as info:
        list(loader.iter_chunks())
    assert info.value.field == "schema"
    assert len(list(loader.iter_dbn_records())) == len(oracle(path)) == 2


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ("mbo", 2),
        ("mbp-1", 2),
        ("mbp-10", 2),
        ("tbbo", 2),
        ("trades", 2),
        ("bbo-1s", 4),
        ("ohlcv-1m", 2),
        ("definition", 2),
        ("statistics", 2),
        ("status", 4),
    ],
)
def test_every_fixture_decodes_with_its_record_count(fixtures, schema, expected):
    loader = DatabentoLoader(fixture(fixtures, schema), price_precision=2)
    assert loader.schema == schema
    assert len(list(loader.iter_dbn_records())) == expected
    if schema in ("definition", "statistics", "status"):
        assert len(list(loader.iter_objects())) == expected
    else:
        assert sum(chunk.record_count for chunk in loader.iter_chunks()) == expected
        assert sum(len(records) for records in loader.iter_records()) == expected


# -- versions, frames, ts_out, streaming ------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2, 3])
def test_every_dbn_version_decodes_the_same_records(tmp_path, fixtures, version):
    _, body = split_header(plain(fixture(fixtures, "mbo")))
    path = write(tmp_path, f"v{version}.dbn", header(dbn.Schema.MBO, version) + body)
    loader = DatabentoLoader(path, price_precision=2)
    assert loader.metadata.version == version
    expected = load_deltas(fixture(fixtures, "mbo"), price_precision=2)
    assert np.array_equal(load_deltas(path, price_precision=2), expected)


def test_file_of_many_zstd_frames_gives_every_record(tmp_path):
    records = [mbo("A", "B", 4800 + i * 0.25, 1 + i % 5, 1000 + i, sequence=i) for i in range(999)]
    data = header(dbn.Schema.MBO) + b"".join(records)
    path = write(tmp_path, "frames.dbn.zst", zst_frames(data, 200))  # ~280 frames
    # The trap: a decoder that stops after the first frame sees only part of the header.
    first_frame = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    assert len(first_frame) == 200
    deltas = load_deltas(path, price_precision=2)
    assert len(deltas) == 999
    assert deltas["order_id"].tolist() == list(range(1000, 1999))
    assert deltas["price"][-1] == 480000 + 998 * 25


def test_records_with_ts_out_are_read(tmp_path):
    records = []
    for i in range(3):
        record = bytearray(mbo("A", "A", 4801.5, 2, 77 + i))
        record[0] += 2  # the length field counts the appended ts_out
        records.append(bytes(record) + (5_000 + i).to_bytes(8, "little"))
    path = write(tmp_path, "ts_out.dbn", header(dbn.Schema.MBO, ts_out=True) + b"".join(records))
    assert len(oracle(path)) == 3
    loader = DatabentoLoader(path, price_precision=2)
    assert loader.metadata.ts_out is True
    assert next(loader.iter_records())["ts_out"].tolist() == [5_000, 5_001, 5_002]
    assert load_deltas(path, price_precision=2)["order_id"].tolist() == [77, 78, 79]


def synthetic_mbo_file(tmp_path: Path, count: int) -> Path:
    """A multi-frame MBO file of ``count`` add records, built from one real record."""
    record = np.frombuffer(mbo("A", "B", 4800.25, 3, 1), dtype=np.uint8)
    block = np.tile(record, count).reshape(count, 56)
    block[:, 16:24] = np.arange(1, count + 1, dtype="<u8").view(np.uint8).reshape(count, 8)
    data = header(dbn.Schema.MBO) + block.tobytes()
    return write(tmp_path, "big.dbn.zst", zst_frames(data, 1 << 20))


def test_streaming_memory_stays_bounded_whatever_the_file_size(tmp_path):
    count = 400_000  # 22.4 MB of records
    path = synthetic_mbo_file(tmp_path, count)
    loader = DatabentoLoader(path, price_precision=2)
    tracemalloc.start()
    try:
        total = 0
        last = 0
        for chunk in loader.iter_chunks(chunk_size=8192):
            total += len(chunk.deltas)
            last = int(chunk.deltas["order_id"][-1])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == count and last == count
    assert peak < 4 * 1024 * 1024, f"peak {peak:,} bytes for a {count * 56:,}-byte file"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    actions=st.lists(st.sampled_from("ACMRTFN"), min_size=1, max_size=60),
    frame_size=st.integers(min_value=1, max_value=500),
    chunk_size=st.integers(min_value=1, max_value=70),
)
def test_any_chunking_of_any_framing_gives_the_same_outputs(
    tmp_path, actions, frame_size, chunk_size
):
    records = [
        mbo(a, "N" if a in "RN" else "BA"[i % 2], 4800 + (i % 7) * 0.25, 1 + i % 3, i, sequence=i)
        for i, a in enumerate(actions)
    ]
    path = write(
        tmp_path, "h.dbn.zst", zst_frames(header(dbn.Schema.MBO) + b"".join(records), frame_size)
    )
    loader = DatabentoLoader(path, price_precision=2)
    chunks = list(loader.iter_chunks(chunk_size=chunk_size))
    assert sum(c.record_count for c in chunks) == len(actions)
    assert sum(len(c.deltas) + len(c.trades) + len(c.fills) + c.ignored for c in chunks) == len(
        actions
    )
    deltas = np.concatenate([c.deltas for c in chunks])
    book_actions = [a for a in actions if a in "ACMR"]
    expected = {
        "A": BookAction.ADD,
        "C": BookAction.DELETE,
        "M": BookAction.UPDATE,
        "R": BookAction.CLEAR,
    }
    assert deltas["action"].tolist() == [expected[a] for a in book_actions]
    assert deltas["sequence"].tolist() == [i for i, a in enumerate(actions) if a in "ACMR"]
    assert np.concatenate([c.trades for c in chunks])["trade_id"].tolist() == [
        i for i, a in enumerate(actions) if a == "T"
    ]
    fills = np.concatenate([c.fills for c in chunks])
    assert fills["order_id"].tolist() == [i for i, a in enumerate(actions) if a == "F"]
    assert set(fills["action"].tolist()) <= {BookAction.FILL}


def test_mbo_trade_fill_and_clear_records_map_as_documented(tmp_path):
    records = [
        mbo("R", "N", dbn.UNDEF_PRICE, 0, 0, flags=32),
        mbo("A", "B", 4800.25, 5, 11),
        mbo("T", "A", 4800.25, 2, 0),
        mbo("F", "B", 4800.25, 2, 11),
        mbo("M", "B", 4800.25, 3, 11),
        mbo("C", "B", 4800.25, 3, 11),
    ]
    path = write(tmp_path, "m.dbn", header(dbn.Schema.MBO) + b"".join(records))
    (chunk,) = DatabentoLoader(path, price_precision=2).iter_chunks()
    assert chunk.deltas["action"].tolist() == [
        BookAction.CLEAR,
        BookAction.ADD,
        BookAction.UPDATE,
        BookAction.DELETE,
    ]
    clear = chunk.deltas[0]
    assert (clear["price"], clear["size"], clear["side"], clear["order_id"]) == (0, 0, 0, 0)
    assert chunk.deltas["size"].tolist() == [0, 5, 3, 3]  # a cancel carries the size canceled
    (trade,) = chunk.trades
    assert (trade["price"], trade["size"], trade["aggressor_side"]) == (
        480025,
        2,
        AggressorSide.SELLER,
    )
    (fill,) = chunk.fills
    assert (fill["action"], fill["order_id"], fill["size"], fill["side"]) == (
        BookAction.FILL,
        11,
        2,
        OrderSide.BUY,
    )
    loader = DatabentoLoader(path, price_precision=2)
    kinds = [
        (type(o).__name__, getattr(o, "action", None))
        for o in loader.iter_objects(include_fills=True)
    ]
    assert kinds == [
        ("OrderBookDelta", BookAction.CLEAR),
        ("OrderBookDelta", BookAction.ADD),
        ("TradeTick", None),
        ("OrderBookDelta", BookAction.FILL),
        ("OrderBookDelta", BookAction.UPDATE),
        ("OrderBookDelta", BookAction.DELETE),
    ]
    assert len(list(loader.iter_objects())) == 5  # fills left out by default


def test_records_of_several_instruments_come_in_one_chunk_per_instrument(tmp_path):
    records = [mbo("A", "B", 4800.0, 1, i, instrument_id=(7 if i % 3 else 9)) for i in range(9)]
    path = write(tmp_path, "two.dbn", header(dbn.Schema.MBO) + b"".join(records))
    loader = DatabentoLoader(path, price_precision={7: 2, 9: 1})
    chunks = list(loader.iter_chunks())
    assert [c.instrument_id for c in chunks] == [9, 7]
    assert chunks[0].deltas["order_id"].tolist() == [0, 3, 6]
    assert chunks[0].deltas["price"].tolist() == [48000] * 3  # precision 1
    assert chunks[1].deltas["price"].tolist() == [480000] * 6  # precision 2
    with pytest.raises(ValueError, match="holds instruments 7, 9: pass instrument_id"):
        load_deltas(path, price_precision=2)
    assert len(load_deltas(path, price_precision=2, instrument_id=7)) == 6


def test_quote_with_an_empty_side_keeps_the_undefined_price_and_is_left_out_of_objects(
    tmp_path, fixtures
):
    data = bytearray(plain(fixture(fixtures, "mbp-1")))
    head, _ = split_header(bytes(data))
    offset = len(head) + 48  # bid_px_00 of the first record
    data[offset : offset + 8] = UNDEF_PRICE.to_bytes(8, "little")
    data[offset + 16 : offset + 20] = (0).to_bytes(4, "little")  # bid_sz_00
    path = write(tmp_path, "empty_bid.dbn", bytes(data))
    quotes = load_quotes(path, price_precision=2)
    assert quotes[0]["bid_price"] == UNDEF_PRICE and quotes[0]["bid_size"] == 0
    assert len(list(DatabentoLoader(path, price_precision=2).iter_objects())) == 1


# -- malformed input ---------------------------------------------------------------------------


def mbo_file(tmp_path: Path, fixtures: Path) -> tuple[bytearray, int]:
    """The mbo fixture, uncompressed and mutable, and the offset of its first record."""
    data = bytearray(plain(fixture(fixtures, "mbo")))
    head, _ = split_header(bytes(data))
    return data, len(head)


def test_truncated_file_is_refused_naming_the_record_and_the_field_it_ends_in(tmp_path, fixtures):
    data, start = mbo_file(tmp_path, fixtures)
    path = write(tmp_path, "cut.dbn", bytes(data[: start + 56 + 33]))  # 33 bytes into record 1
    with pytest.raises(DataFormatError, match="truncated") as info:
        list(DatabentoLoader(path, price_precision=2).iter_chunks())
    error = info.value
    assert (error.record, error.field) == (1, "size")  # bytes 32..35 hold the size
    assert error.path == str(path) and "cut.dbn" in str(error)


def test_truncated_zstd_file_is_refused(tmp_path, fixtures):
    data, _ = mbo_file(tmp_path, fixtures)
    compressed = zst_frames(bytes(data), 64)
    path = write(tmp_path, "cut.dbn.zst", compressed[:-9])
    with pytest.raises(DataFormatError) as info:
        load_deltas(path, price_precision=2)
    assert info.value.record == 1


def test_truncated_object_file_is_refused_naming_the_record(tmp_path, fixtures):
    data = plain(fixture(fixtures, "definition"))
    path = write(tmp_path, "cut_def.dbn", data[:-100])
    with pytest.raises(DataFormatError, match="truncated") as info:
        load_instruments(path)
    assert (info.value.record, info.value.field) == (1, "length")


def test_corrupt_zstd_data_is_refused(tmp_path, fixtures):
    compressed = bytearray(fixture(fixtures, "mbo").read_bytes())
    compressed[len(compressed) // 2 :] = bytes(len(compressed) - len(compressed) // 2)
    path = write(tmp_path, "corrupt.dbn.zst", bytes(compressed))
    with pytest.raises(DataFormatError, match="zstd"):
        DatabentoLoader(path, price_precision=2)
        load_deltas(path, price_precision=2)


def test_corrupt_zstd_frame_after_the_header_is_refused_naming_the_record(tmp_path, fixtures):
    data, start = mbo_file(tmp_path, fixtures)
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    good = compressor.compress(bytes(data[: start + 56]))
    bad = bytearray(compressor.compress(bytes(data[start + 56 :])))
    bad[-6] ^= 0xFF
    path = write(tmp_path, "corrupt2.dbn.zst", good + bytes(bad))
    with pytest.raises(DataFormatError, match="corrupt zstd") as info:
        list(DatabentoLoader(path, price_precision=2).iter_chunks(chunk_size=1))
    assert info.value.record == 1


def test_file_that_is_not_dbn_is_refused(tmp_path):
    path = write(tmp_path, "x.dbn", b"PAR1" + bytes(100))
    with pytest.raises(DataFormatError, match="not a DBN file") as info:
        DatabentoLoader(path)
    assert info.value.field == "magic"


def test_unsupported_dbn_version_is_refused(tmp_path, fixtures):
    data, _ = mbo_file(tmp_path, fixtures)
    data[3] = 4
    path = write(tmp_path, "v4.dbn", bytes(data))
    with pytest.raises(DataFormatError, match="unsupported DBN version") as info:
        DatabentoLoader(path)
    assert (info.value.field, info.value.value) == ("version", 4)


def test_file_ending_inside_the_metadata_is_refused(tmp_path, fixtures):
    data, start = mbo_file(tmp_path, fixtures)
    path = write(tmp_path, "meta.dbn", bytes(data[: start - 10]))
    with pytest.raises(DataFormatError, match="metadata header") as info:
        DatabentoLoader(path)
    assert info.value.field == "metadata"


def test_wrong_schema_for_the_call_is_refused(fixtures):
    mbo_path = fixture(fixtures, "mbo")
    with pytest.raises(DataFormatError, match="schema mbo has no bars") as info:
        load_bars(mbo_path, price_precision=2)
    assert info.value.field == "schema"
    with pytest.raises(DataFormatError, match="schema mbo has no quotes"):
        load_quotes(mbo_path, price_precision=2)
    with pytest.raises(DataFormatError, match="schema trades has no book deltas"):
        load_deltas(fixture(fixtures, "trades"), price_precision=2)
    with pytest.raises(DataFormatError, match="schema mbo has no instruments"):
        load_instruments(mbo_path)
    with pytest.raises(DataFormatError, match="schema definition has no columnar output"):
        list(DatabentoLoader(fixture(fixtures, "definition")).iter_chunks())


def test_price_off_the_precision_is_refused_naming_record_and_field(tmp_path, fixtures):
    data, start = mbo_file(tmp_path, fixtures)
    offset = start + 56 + 24  # price of record 1
    data[offset : offset + 8] = (3722_755_000_000).to_bytes(8, "little", signed=True)
    path = write(tmp_path, "offgrid.dbn", bytes(data))
    with pytest.raises(
        DataFormatError, match=r"3722\.755 is not representable at precision 2"
    ) as info:
        load_deltas(path, price_precision=2)
    assert (info.value.record, info.value.field, info.value.value) == (1, "price", 3722755000000)
    assert len(load_deltas(path, price_precision=3)) == 2  # fine at three decimals


def test_record_of_another_type_is_refused(tmp_path, fixtures):
    data, start = mbo_file(tmp_path, fixtures)
    data[start + 56 + 1] = 0x01  # rtype of record 1: MBP-1
    path = write(tmp_path, "rtype.dbn", bytes(data))
    with pytest.raises(DataFormatError, match="does not belong to schema mbo") as info:
        load_deltas(path, price_precision=2)
    assert (info.value.record, info.value.field, info.value.value) == (1, "rtype", 1)


def test_record_with_a_wrong_length_is_refused(tmp_path, fixtures):
    data, start = mbo_file(tmp_path, fixtures)
    data[start] = 20
    path = write(tmp_path, "length.dbn", bytes(data))
    with pytest.raises(DataFormatError) as info:
        load_deltas(path, price_precision=2)
    assert (info.value.record, info.value.field, info.value.value) == (0, "length", 20)


@pytest.mark.parametrize(
    ("offset", "value", "field"), [(38, ord("X"), "action"), (39, ord("Z"), "side")]
)
def test_unknown_action_or_side_code_is_refused(tmp_path, fixtures, offset, value, field):
    data, start = mbo_file(tmp_path, fixtures)
    data[start + 56 + offset] = value
    path = write(tmp_path, f"{field}.dbn", bytes(data))
    with pytest.raises(DataFormatError, match=f"unknown {field} code") as info:
        load_deltas(path, price_precision=2)
    assert (info.value.record, info.value.field, info.value.value) == (1, field, chr(value))


def test_add_without_a_side_is_refused(tmp_path):
    path = write(tmp_path, "sideless.dbn", header(dbn.Schema.MBO) + mbo("A", "N", 4800.0, 1, 1))
    with pytest.raises(DataFormatError, match="must name side") as info:
        load_deltas(path, price_precision=2)
    assert (info.value.record, info.value.field) == (0, "side")


def test_bar_whose_high_is_below_its_close_is_refused(tmp_path):
    bar = dbn.OHLCVMsg(0x21, 1, ESH1, 0, 100 * 10**9, 101 * 10**9, 99 * 10**9, 102 * 10**9, 5)
    path = write(tmp_path, "bar.dbn", header(dbn.Schema.OHLCV_1M) + bytes(bar))
    with pytest.raises(DataFormatError, match="bar high does not bound") as info:
        load_bars(path, price_precision=2)
    assert (info.value.record, info.value.field) == (0, "high")


def test_no_half_parsed_chunk_is_yielded_before_a_bad_record(tmp_path, fixtures):
    data, start = mbo_file(tmp_path, fixtures)
    data[start + 56 + 1] = 0x01
    path = write(tmp_path, "bad1.dbn", bytes(data))
    loader = DatabentoLoader(path, price_precision=2)
    received = []
    with pytest.raises(DataFormatError):
        for chunk in loader.iter_chunks(chunk_size=1):
            received.append(chunk)
    assert [c.record_count for c in received] == [1]  # record 0 whole, nothing of record 1
    with pytest.raises(DataFormatError):
        for chunk in loader.iter_chunks(chunk_size=2):
            received.append(chunk)
    assert len(received) == 1


def test_market_data_without_a_price_precision_is_refused(fixtures):
    with pytest.raises(ValueError, match="price_precision is required"):
        list(DatabentoLoader(fixture(fixtures, "mbo")).iter_chunks())
    with pytest.raises(ValueError, match=r"price_precision must be 0\.\.9"):
        DatabentoLoader(fixture(fixtures, "mbo"), price_precision=10)
    with pytest.raises(ValueError, match="no price precision for instrument_id 5482"):
        list(DatabentoLoader(fixture(fixtures, "mbo"), price_precision={1: 2}).iter_chunks())


def test_missing_file_is_refused_naming_it(tmp_path):
    with pytest.raises(DataFormatError, match="cannot open") as info:
        DatabentoLoader(tmp_path / "nope.dbn.zst")
    assert info.value.path.endswith("nope.dbn.zst")
