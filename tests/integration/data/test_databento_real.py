"""The Databento loader and the compiled L3 book on real CME data.

Files (see the data README): ``esh4-glbx-mdp3-20231225.mbo.dbn.zst`` (ESH4, 68,792 MBO
events, DBN v1, several zstd frames), ``orderbooks_mbo_...`` (ESM4, 13,796 events starting
with a clear and a snapshot), and the ESU4/NQU4 MBP-1, trades, OHLCV and definition files.

The ESH4 replay compares the compiled book's L2 view with the independent pure-Python
reference book (:mod:`tests.integration.data.l3_reference`, fed straight from
``databento-dbn``'s records) after every one of the 68,792 events: the top 10 levels of each
side (price and size) and the order count after every event, and the full depth of both
sides with order counts every 500 events and at the end. A hypothesis test does the same on
generated MBO streams written as DBN files (partial cancels, modifies, clears). Queue
priority (the order of the orders within a level) is checked apart, after every delta.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.data.l3_reference import ReferenceL3Book
from zq.data.loaders.databento import (
    UNDEF_PRICE,
    DatabentoLoader,
    load_bars,
    load_deltas,
    load_instruments,
    load_price_precisions,
    load_quotes,
    load_trades,
)
from zq.model.data import BookFlags
from zq.model.enums import AggressorSide, BookAction, OrderSide
from zq.model.instruments import FuturesContract

ES_MBO = "esh4-glbx-mdp3-20231225.mbo.dbn.zst"
ESM4_MBO = "orderbooks_mbo_2024-05-08T00-00-00_2024-05-08T00-00-02.dbn.zst"
ESU4_MBP1 = "futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst"
ESU4_TRADES = "futures_trades_2024-07-01T23-58_2024-07-02T00-02.dbn.zst"
OHLCV_1M = "futures_ohlcv-1m_2024-07-01T23-40_2024-07-02T00-10.dbn.zst"
OPEN_NS = 1703545200000000000  # 2023-12-25 23:00:00 UTC, the CME Globex open
SCALE = 10**7  # DBN 1e-9 units per raw unit at precision 2
LAST = int(BookFlags.LAST)
DBN_SIDE = {"B": OrderSide.BUY, "A": OrderSide.SELL}


@pytest.fixture(scope="module")
def databento(market_data: Path) -> Path:
    return market_data / "databento"


def dbn_records(path: Path) -> list:
    """The records of a file as databento-dbn decodes them, reading across zstd frames."""
    with zstandard.ZstdDecompressor().stream_reader(
        path.open("rb"), read_across_frames=True, closefd=True
    ) as reader:
        decoded = dbn.DBNDecoder().write_and_decode(reader.read())
    return [record for record in decoded if not isinstance(record, dbn.Metadata)]


@pytest.fixture(scope="module")
def es_records(databento):
    return dbn_records(databento / ES_MBO)


@pytest.fixture(scope="module")
def es_chunks(databento):
    loader = DatabentoLoader(databento / ES_MBO, price_precision=2)
    return list(loader.iter_chunks(chunk_size=10_000))


def concat(chunks, kind: str) -> np.ndarray:
    return np.concatenate([getattr(chunk, kind) for chunk in chunks])


def l2(levels) -> list[tuple[int, int]]:
    return [(price.raw, size.raw) for price, size in levels]


def ref_l2(levels) -> list[tuple[int, int]]:
    return [(price // SCALE, size) for price, size in levels]


def full_view(book) -> dict[str, list[int]]:
    arrays = book.to_arrays(None)
    return {key: arrays[key].tolist() for key in sorted(arrays)}


def ref_full_view(ref: ReferenceL3Book) -> dict[str, list[int]]:
    view: dict[str, list[int]] = {}
    for side, levels in (("bid", ref.bids()), ("ask", ref.asks())):
        view[f"{side}_price"] = [price // SCALE for price, _ in levels]
        view[f"{side}_size"] = [size for _, size in levels]
        view[f"{side}_count"] = [len(ref.queue(side[0].upper(), price)) for price, _ in levels]
    return view


def assert_same_queues(book, ref: ReferenceL3Book, depth: int | None = 5) -> None:
    """The orders of the ``depth`` best levels of each side, in time priority, agree."""
    for dbn_side, side in DBN_SIDE.items():
        levels = ref.bids(depth) if dbn_side == "B" else ref.asks(depth)
        for price, _ in levels:
            expected = [(oid, ref.orders[oid][2]) for oid in ref.queue(dbn_side, price)]
            queue = [
                (order_id, getattr(size, "raw", size))
                for order_id, size in book.queue(side, price // SCALE)
            ]
            assert queue == expected


# -- the ESH4 file: decoding ---------------------------------------------------------------


def test_es_mbo_file_accounts_for_all_68792_events(databento, es_chunks):
    # The file holds several zstd frames, the first only the metadata: a decoder that stops
    # after the first frame finds no record.
    first_frame = (
        zstandard.ZstdDecompressor().decompressobj().decompress((databento / ES_MBO).read_bytes())
    )
    assert first_frame[:4] == b"DBN\x01" and len(first_frame) == 206
    loader = DatabentoLoader(databento / ES_MBO, price_precision=2)
    meta = loader.metadata
    assert (meta.version, meta.schema, meta.symbology) == (1, "mbo", {17077: "ESH4"})
    assert sum(chunk.record_count for chunk in es_chunks) == 68_792
    assert {chunk.instrument_id for chunk in es_chunks} == {17077}
    deltas, trades, fills = (concat(es_chunks, kind) for kind in ("deltas", "trades", "fills"))
    ignored = sum(chunk.ignored for chunk in es_chunks)
    assert (len(deltas), len(trades), len(fills), ignored) == (59_448, 2_973, 6_371, 0)
    assert len(deltas) + len(trades) + len(fills) + ignored == 68_792
    actions = Counter(BookAction(a).name for a in deltas["action"].tolist())
    assert actions == {"ADD": 29_216, "DELETE": 17_999, "UPDATE": 12_233}
    snapshot = (deltas["flags"] & int(BookFlags.SNAPSHOT)) != 0
    assert int(snapshot.sum()) == 8_725 and bool(snapshot[:8_725].all())
    assert int(np.diff(deltas["ts_init"]).min()) >= 0  # ordered by ts_recv
    first_live = int(deltas["ts_event"][8_725])  # 2023-12-25 22:00:00.180
    assert 1703541600_180_000_000 <= first_live < 1703541600_181_000_000


def test_es_mbo_columns_equal_the_dbn_decoding_of_every_record(es_records, es_chunks):
    assert len(es_records) == 68_792
    deltas, trades, fills = (concat(es_chunks, kind) for kind in ("deltas", "trades", "fills"))
    by_action: dict[str, list] = {"delta": [], "T": [], "F": []}
    for record in es_records:
        action = str(record.action)
        by_action[action if action in "TF" else "delta"].append(record)
    for rows, records in ((deltas, by_action["delta"]), (fills, by_action["F"])):
        assert rows["price"].tolist() == [r.price // SCALE for r in records]
        assert rows["size"].tolist() == [r.size for r in records]
        assert rows["order_id"].tolist() == [r.order_id for r in records]
        assert rows["side"].tolist() == [DBN_SIDE.get(str(r.side), 0) for r in records]
        assert rows["flags"].tolist() == [r.flags for r in records]
        assert rows["sequence"].tolist() == [r.sequence for r in records]
        assert rows["ts_event"].tolist() == [r.ts_event for r in records]
        assert rows["ts_init"].tolist() == [r.ts_recv for r in records]
    assert set(fills["action"].tolist()) == {BookAction.FILL}
    aggressor = {"B": AggressorSide.BUYER, "A": AggressorSide.SELLER}
    assert trades["price"].tolist() == [r.price // SCALE for r in by_action["T"]]
    assert trades["size"].tolist() == [r.size for r in by_action["T"]]
    assert trades["aggressor_side"].tolist() == [
        aggressor.get(str(r.side), 0) for r in by_action["T"]
    ]
    assert int((trades["ts_event"] < OPEN_NS).sum()) == 0  # no trade before the open


def test_es_objects_come_in_file_order(databento):
    loader = DatabentoLoader(databento / ES_MBO, price_precision=2)
    kinds = Counter(type(item).__name__ for item in loader.iter_objects(include_fills=True))
    assert kinds == {"OrderBookDelta": 59_448 + 6_371, "TradeTick": 2_973}


# -- the ESH4 file: replay -----------------------------------------------------------------


def test_reference_book_replays_the_es_file_and_is_crossed_only_before_the_open(es_records):
    ref = ReferenceL3Book(strict=True)
    crossed_before_open = crossed_after_open = boundaries = 0
    for record in es_records:
        ref.apply(str(record.action), str(record.side), record.price, record.size, record.order_id)
        if record.flags & LAST:
            boundaries += 1
            if ref.is_crossed():
                if record.ts_event < OPEN_NS:
                    crossed_before_open += 1
                else:
                    crossed_after_open += 1
    assert (ref.faults, boundaries, crossed_after_open) == (0, 47_022, 0)
    assert crossed_before_open > 0  # the pre-open auction crosses: the check can fail
    assert ref.order_count == 11_217


def test_compiled_l3_book_replays_every_es_event_and_equals_the_reference_after_each(
    es_records, es_chunks
):
    from zq_core.book import L3Book

    book = L3Book("ESH4.GLBX", 2, 0, strict=True)
    ref = ReferenceL3Book(strict=True)
    rows = iter(concat(es_chunks, "deltas").tolist())
    applied = trades = fills = boundaries = integrity_checks = crossed_after_open = 0
    full_checks = 0
    for index, record in enumerate(es_records):
        action = str(record.action)
        ref.apply(action, str(record.side), record.price, record.size, record.order_id)
        if action in "ACMR":
            ts_event, _, price, size, order_id, sequence, book_action, side, flags, _ = next(rows)
            book.apply_delta(book_action, side, price, size, order_id, sequence, ts_event)
            applied += 1
            assert flags == record.flags
        else:
            trades += action == "T"
            fills += action == "F"
        # The L2 view after every event: top 10 levels of each side, and the order count.
        assert l2(book.bids(10)) == ref_l2(ref.bids(10)), f"bids differ after event {index}"
        assert l2(book.asks(10)) == ref_l2(ref.asks(10)), f"asks differ after event {index}"
        assert book.order_count == ref.order_count
        if record.flags & LAST:
            boundaries += 1
            if record.ts_event >= OPEN_NS and book.is_crossed():
                crossed_after_open += 1
            if boundaries % 25 == 0:
                book.check_integrity()
                integrity_checks += 1
        if index % 500 == 0:
            assert full_view(book) == ref_full_view(ref), f"full depth differs after {index}"
            full_checks += 1
    book.check_integrity()
    assert full_view(book) == ref_full_view(ref)
    assert next(rows, None) is None
    assert (applied, trades, fills) == (59_448, 2_973, 6_371)
    assert applied + trades + fills == 68_792
    assert (book.faults, crossed_after_open) == (0, 0)
    assert (boundaries, integrity_checks, full_checks) == (47_022, 1_880, 138)
    assert book.order_count == 11_217


def test_compiled_l3_book_replays_the_es_file_in_batches_to_the_same_book(es_records, es_chunks):
    from zq_core.book import L3Book

    whole = L3Book("ESH4.GLBX", 2, 0, strict=True)
    assert whole.apply_batch(concat(es_chunks, "deltas")) == 59_448
    chunked = L3Book("ESH4.GLBX", 2, 0, strict=True)
    assert sum(chunked.apply_batch(chunk.deltas) for chunk in es_chunks) == 59_448
    ref = ReferenceL3Book(strict=True)
    for record in es_records:
        ref.apply(str(record.action), str(record.side), record.price, record.size, record.order_id)
    for book in (whole, chunked):
        book.check_integrity()
        assert book.faults == 0 and not book.is_crossed()
        assert full_view(book) == ref_full_view(ref)
    assert (whole.best_bid_raw(), whole.best_ask_raw()) == (481000, 481025)


def test_compiled_l3_book_keeps_every_es_queue_in_the_reference_priority(es_records, es_chunks):
    from zq_core.book import L3Book

    book = L3Book("ESH4.GLBX", 2, 0, strict=True)
    ref = ReferenceL3Book(strict=True)
    rows = iter(concat(es_chunks, "deltas").tolist())
    for index, record in enumerate(es_records):
        action, dbn_side = str(record.action), str(record.side)
        ref.apply(action, dbn_side, record.price, record.size, record.order_id)
        if action not in "ACMR":
            continue
        ts_event, _, price, size, order_id, sequence, book_action, side, _, _ = next(rows)
        book.apply_delta(book_action, side, price, size, order_id, sequence, ts_event)
        if action != "R":  # the queue this delta touched, in time priority
            expected = [(oid, ref.orders[oid][2]) for oid in ref.queue(dbn_side, record.price)]
            queue = [(oid, getattr(q, "raw", q)) for oid, q in book.queue(side, price)]
            assert queue == expected, f"queue at {price} differs after event {index}: {record}"
    assert_same_queues(book, ref, depth=None)


def test_modify_to_the_same_price_and_size_keeps_the_order_in_place():
    # ESH4 records 22463..22486: order 882 rests ahead of 893 at 4806.25; a fill and a modify
    # of 882 to the same price and size follow. zq's contract (and the reference): only a
    # price change or a size increase loses priority, so 882 stays ahead.
    from zq_core.book import L3Book

    book = L3Book("ESH4.GLBX", 2, 0, strict=True)
    add, update = int(BookAction.ADD), int(BookAction.UPDATE)
    bid = int(OrderSide.BUY)
    book.apply_delta(add, bid, 480625, 1, 882)
    book.apply_delta(add, bid, 480625, 1, 893)
    book.apply_delta(update, bid, 480625, 1, 882)
    assert [order_id for order_id, _ in book.queue(bid, 480625)] == [882, 893]


# -- the ESM4 file -------------------------------------------------------------------------


def test_esm4_book_from_clear_and_snapshot_replays_and_is_never_crossed(databento):
    from zq_core.book import L3Book

    path = databento / ESM4_MBO
    chunks = list(DatabentoLoader(path, price_precision=2).iter_chunks())
    deltas = concat(chunks, "deltas")
    assert sum(chunk.record_count for chunk in chunks) == 13_796
    assert (len(deltas), len(concat(chunks, "trades")), len(concat(chunks, "fills"))) == (
        13_786,
        5,
        5,
    )
    assert deltas[0]["action"] == BookAction.CLEAR
    book = L3Book("ESM4.GLBX", 2, 0, strict=True)
    ref = ReferenceL3Book(strict=True)
    rows = iter(deltas.tolist())
    boundaries = 0
    for record in dbn_records(path):
        action = str(record.action)
        ref.apply(action, str(record.side), record.price, record.size, record.order_id)
        if action in "ACMR":
            ts_event, _, price, size, order_id, sequence, book_action, side, _, _ = next(rows)
            book.apply_delta(book_action, side, price, size, order_id, sequence, ts_event)
        if record.flags & LAST:
            boundaries += 1
            assert not book.is_crossed() and not ref.is_crossed()
            book.check_integrity()
            assert l2(book.bids(10)) == ref_l2(ref.bids(10))
            assert l2(book.asks(10)) == ref_l2(ref.asks(10))
    assert boundaries == 185
    assert book.faults == 0 and book.order_count == ref.order_count == 13_598
    assert full_view(book) == ref_full_view(ref)
    assert (book.best_bid_raw(), book.best_ask_raw()) == (521400, 521425)


# -- ESU4 / NQU4: MBP-1, trades, OHLCV, definitions ------------------------------------------


def test_trades_in_the_mbp1_file_equal_the_trades_file(databento):
    from_mbp1 = load_trades(databento / ESU4_MBP1, price_precision=2)
    from_trades = load_trades(databento / ESU4_TRADES, price_precision=2)
    assert len(from_mbp1) == len(from_trades) == 120
    assert np.array_equal(from_mbp1, from_trades)


def test_mbp1_quotes_are_never_crossed_or_empty(databento):
    quotes = load_quotes(databento / ESU4_MBP1, price_precision=2)
    assert len(quotes) == 2_288
    assert not bool((quotes["bid_price"] == UNDEF_PRICE).any())
    assert bool((quotes["bid_price"] < quotes["ask_price"]).all())
    assert quotes["bid_price"][0] == 552850  # 5528.50


def test_ohlcv_bars_stamped_at_the_close_agree_with_the_trades_of_their_minute(databento):
    with pytest.raises(ValueError, match="holds instruments 118, 4358"):
        load_bars(databento / OHLCV_1M, price_precision=2)
    es = load_bars(databento / OHLCV_1M, price_precision=2, instrument_id=118)
    nq = load_bars(databento / OHLCV_1M, price_precision=2, instrument_id=4358)
    assert len(es) == len(nq) == 30
    assert es["ts_event"][0] == 1719877200000000000 + 60_000_000_000  # 23:40 bar closes 23:41
    trades = load_trades(databento / ESU4_TRADES, price_precision=2)
    compared = 0
    for bar in es:
        inside = trades[
            (trades["ts_event"] >= bar["ts_event"] - 60_000_000_000)
            & (trades["ts_event"] < bar["ts_event"])
        ]
        if inside.size:
            prices = inside["price"]
            assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (
                prices[0],
                prices.max(),
                prices.min(),
                prices[-1],
            )
            assert bar["volume"] == inside["size"].sum()
            compared += 1
    assert compared == 4  # the bars of 23:58, 23:59, 00:00 and 00:01


def test_v1_definitions_give_the_es_and_nq_futures_and_their_precisions(databento):
    es, nq = load_instruments(databento / "futures_definition.dbn.zst")
    assert isinstance(es, FuturesContract) and isinstance(nq, FuturesContract)
    assert (str(es.id), str(nq.id)) == ("ESU4.GLBX", "NQU4.GLBX")
    assert str(es.multiplier) == "50" and str(nq.multiplier) == "20"
    (esm4,) = load_instruments(databento / "orderbooks_definition.dbn.zst")
    assert str(esm4.id) == "ESM4.GLBX" and str(esm4.price_increment) == "0.25"
    precisions = load_price_precisions(databento / "futures_definition.dbn.zst")
    assert precisions == {118: 2, 4358: 2}
    bars = load_bars(databento / OHLCV_1M, price_precision=precisions, instrument_id=4358)
    assert len(bars) == 30


def test_es_deltas_load_in_one_call(databento):
    deltas = load_deltas(databento / ES_MBO, price_precision=2)
    assert len(deltas) == 59_448


# -- generated streams: loader + compiled book against the reference ------------------------

BASE = 4_800_000_000_000  # 4800.00 in DBN units
TICK = 250_000_000  # 0.25


def generated_mbo(ops) -> list[bytes]:
    """Valid MBO records (no unknown order) from hypothesis' choices."""
    live: dict[int, list] = {}  # order id -> [side, price, size]
    records = []
    next_id = 1

    def record(action, side, price, size, order_id, flags=LAST):
        msg = dbn.MBOMsg(
            1,
            17077,
            1_000 + len(records),
            order_id,
            price,
            size,
            dbn.Action(action),
            dbn.Side(side),
            2_000 + len(records),
            flags=flags,
            sequence=len(records),
        )
        records.append(bytes(msg))

    for kind, pick, tick, size in ops:
        ids = sorted(live)
        if kind == 9 and pick % 7 == 0:
            record("R", "N", UNDEF_PRICE, 0, 0)
            live.clear()
        elif kind <= 3 or not ids:
            side = "B" if pick % 2 else "A"
            price = BASE + (tick - 8 if side == "B" else tick) * TICK  # they may cross
            record("A", side, price, size, next_id)
            live[next_id] = [side, price, size]
            next_id += 1
        elif kind <= 5:
            order_id = ids[pick % len(ids)]
            side, price, remaining = live[order_id]
            cancel = remaining if pick % 3 else min(size, remaining)  # full or partial
            record("C", side, price, cancel, order_id)
            if cancel == remaining:
                del live[order_id]
            else:
                live[order_id][2] -= cancel
        elif kind <= 7:
            order_id = ids[pick % len(ids)]
            side, price, _ = live[order_id]
            new_price = price if pick % 2 else BASE + (tick - 4) * TICK
            record("M", side, new_price, size, order_id)
            live[order_id] = [side, new_price, size]
        else:
            order_id = ids[pick % len(ids)]
            side, price, _ = live[order_id]
            record("T", "A" if side == "B" else "B", price, 1, 0, flags=0)
            record("F", side, price, 1, order_id, flags=0)
    return records


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 10_000), st.integers(0, 16), st.integers(1, 9)),
        max_size=150,
    ),
    chunk_size=st.integers(1, 64),
)
def test_generated_mbo_streams_replay_through_loader_and_book_like_the_reference(
    tmp_path, ops, chunk_size
):
    from zq_core.book import L3Book

    records = generated_mbo(ops)
    head = dbn.Metadata(
        "GLBX.MDP3",
        0,
        dbn.SType.RAW_SYMBOL,
        dbn.SType.INSTRUMENT_ID,
        dbn.Schema.MBO,
        symbols=["ESH4"],
        version=3,
    ).encode()
    path = tmp_path / "generated.dbn.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(head + b"".join(records)))
    chunks = list(DatabentoLoader(path, price_precision=2).iter_chunks(chunk_size=chunk_size))
    assert sum(chunk.record_count for chunk in chunks) == len(records)
    rows = iter(concat(chunks, "deltas").tolist()) if chunks else iter(())
    book = L3Book("ESH4.GLBX", 2, 0, strict=True)
    ref = ReferenceL3Book(strict=True)
    for record in dbn_records(path):
        action = str(record.action)
        ref.apply(action, str(record.side), record.price, record.size, record.order_id)
        if action in "ACMR":
            ts_event, _, price, size, order_id, sequence, book_action, side, _, _ = next(rows)
            book.apply_delta(book_action, side, price, size, order_id, sequence, ts_event)
        assert l2(book.bids(10)) == ref_l2(ref.bids(10))
        assert l2(book.asks(10)) == ref_l2(ref.asks(10))
        assert book.order_count == ref.order_count
    book.check_integrity()
    assert full_view(book) == ref_full_view(ref)
    batch = L3Book("ESH4.GLBX", 2, 0, strict=True)
    for chunk in chunks:
        batch.apply_batch(chunk.deltas)
    assert full_view(batch) == full_view(book) and batch.faults == 0
