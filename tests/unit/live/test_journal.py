"""The journal (zq.live.journal) and the rebuild from it (zq.live.recovery), on real SQLite files."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from tests.unit.live.reference import assert_rebuilt, reference_state
from tests.unit.live.stream import (
    ACCOUNT,
    ETHUSDT,
    STRATEGY,
    USDT,
    opening_account,
    scripted_stream,
)
from tests.unit.model.samples import instruments, order_events, position_events
from zq.cache import Cache
from zq.live.journal import (
    SCHEMA_VERSION,
    WRITE_AHEAD_TYPES,
    DuplicateFill,
    Journal,
    JournalCorrupt,
    JournalError,
    JournalMarker,
    JournalVersionError,
    requires_sync,
    salvage,
)
from zq.live.recovery import RecoveryError, rebuild
from zq.model.enums import OrderStatus
from zq.model.events import OrderFilled, OrderSubmitted
from zq.model.identifiers import AccountId, InstrumentId, TradeId
from zq.model.position import PositionChanged
from zq.model.serialization import to_msgpack
from zq.portfolio import Portfolio
from zq.portfolio.account import MarginAccount
from zq_core.fixed import Money


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "node.journal"


def account_states() -> list[object]:
    cash = opening_account()
    cash.deposit(Money(Decimal("12.5"), USDT), ts_event=5)
    margin = MarginAccount(AccountId("BYBIT-7"), leverage=5, balances={"USDT": Money(100, USDT)})
    return [*cash.events, margin.last_state]


def every_kind() -> list[object]:
    return [
        JournalMarker(name="start", ts_event=1, info={"version": "1"}),
        *instruments(),
        *order_events(),
        *position_events(),
        *account_states(),
        JournalMarker(name="stop", ts_event=9),
    ]


def fill_of(stream: list[object]) -> OrderFilled:
    return next(e for e in stream if isinstance(e, OrderFilled))


# -- writing and reading back ------------------------------------------------------------------


def test_every_record_kind_round_trips_with_a_global_sequence(path):
    entries = every_kind()
    kinds = {type(e).__name__ for e in entries}
    assert {"OrderFilled", "PositionClosed", "AccountState", "JournalMarker", "Equity"} <= kinds
    with Journal(path) as journal:
        sequences = [journal.append(entry) for entry in entries]
        assert sequences == list(range(1, len(entries) + 1))
        # Pending records are read back too (same connection).
        assert [r.entry for r in journal.replay()] == entries
    with Journal(path, readonly=True) as journal:
        records = list(journal.replay())
    assert [r.sequence for r in records] == sequences
    assert [r.type_name for r in records] == [type(e).__name__ for e in entries]
    assert [r.entry for r in records] == entries
    assert all(type(r.entry) is type(e) for r, e in zip(records, entries, strict=True))


def test_replay_from_a_sequence_number_starts_there(path):
    entries = every_kind()
    with Journal(path) as journal:
        for entry in entries:
            journal.append(entry)
        assert [r.entry for r in journal.replay(start=5)] == entries[4:]
        with pytest.raises(ValueError, match="start at 1"):
            next(journal.replay(start=0))


def test_reopening_after_close_continues_the_sequence(path):
    with Journal(path) as journal:
        journal.append(JournalMarker(name="start", ts_event=1))
        journal.append(JournalMarker(name="stop", ts_event=2))
    with Journal(path) as journal:
        assert journal.last_sequence == 2
        assert journal.append(JournalMarker(name="start", ts_event=3)) == 3
    with Journal(path, readonly=True) as journal:
        assert [(r.sequence, r.entry.name) for r in journal.replay()] == [
            (1, "start"),
            (2, "stop"),
            (3, "start"),
        ]
        assert journal.last_sequence == 3


def test_commands_and_market_data_are_not_journaled(path):
    from tests.unit.model.samples import commands, market_data

    with Journal(path) as journal:
        for value in (*commands(), *market_data(), "text"):
            with pytest.raises(TypeError, match="a journal holds"):
                journal.append(value)  # type: ignore[arg-type]
        assert journal.last_sequence == 0


# -- fills are unique by instrument and trade id -----------------------------------------------


def test_a_duplicate_fill_is_refused_and_nothing_is_written(path):
    stream = scripted_stream(seed=3, orders=20)
    fill = fill_of(stream)
    with Journal(path) as journal:
        first = journal.append(fill)
        journal.append(JournalMarker(name="after", ts_event=1))
        with pytest.raises(
            DuplicateFill, match=rf"ETHUSDT.BINANCE/{fill.trade_id} .*\(record {first}\)"
        ):
            journal.append(fill)
        # Another order, same instrument and trade id: still the same trade, still refused.
        other = msgspec.structs.replace(fill, client_order_id=stream[3].client_order_id)
        with pytest.raises(DuplicateFill) as refused:
            journal.append(other)
        assert refused.value.first_sequence == first
        assert journal.last_sequence == 2
        assert journal.has_fill("ETHUSDT.BINANCE", str(fill.trade_id))
    with Journal(path) as journal:  # after a restart as well, from the committed file
        with pytest.raises(DuplicateFill):
            journal.append(fill)
        # Binance numbers trades per symbol: the same id on another symbol is another trade,
        # and so is the same id at another venue.
        for instrument in ("BTCUSDT.BINANCE", "ETHUSDT.OKX"):
            elsewhere = msgspec.structs.replace(fill, instrument_id=InstrumentId(instrument))
            journal.append(elsewhere)
            assert journal.has_fill(instrument, str(fill.trade_id))
        assert not journal.has_fill("ETHUSDT.BINANCE", "T-999999")
    with Journal(path, readonly=True) as journal:
        assert [r.type_name for r in journal.replay()] == [
            "OrderFilled",
            "JournalMarker",
            "OrderFilled",
            "OrderFilled",
        ]


def test_a_duplicate_fill_as_the_first_record_of_a_batch_leaves_no_transaction_open(path):
    fill = fill_of(scripted_stream(seed=3, orders=20))
    with Journal(path) as journal:
        journal.append(fill, sync=True)
        with pytest.raises(DuplicateFill):
            journal.append(fill)
        assert journal.pending == 0
        journal.append(JournalMarker(name="next", ts_event=1), sync=True)
    with Journal(path, readonly=True) as journal:
        assert journal.last_sequence == 2


# -- commits -----------------------------------------------------------------------------------


def test_records_are_committed_in_batches_on_flush_and_on_sync(path):
    with Journal(path, batch_size=3) as journal:
        marker = JournalMarker(name="m", ts_event=0)
        journal.append(marker)
        journal.append(marker)
        assert journal.pending == 2
        journal.append(marker)
        assert journal.pending == 0  # the batch is full
        journal.append(marker)
        journal.flush()
        assert journal.pending == 0
        journal.append(marker)
        journal.append(marker, sync=True)
        assert journal.pending == 0


def test_write_ahead_markers_are_committed_before_append_returns(path):
    stream = scripted_stream(seed=5, orders=10)
    submitted = next(e for e in stream if isinstance(e, OrderSubmitted))
    assert {kind.__name__ for kind in WRITE_AHEAD_TYPES} == {
        "OrderSubmitted",
        "OrderPendingUpdate",
        "OrderPendingCancel",
    }
    assert requires_sync(submitted) and not requires_sync(fill_of(stream))
    with Journal(path) as journal:
        journal.append(stream[3])  # the OrderInitialized: batched
        assert journal.pending == 1
        journal.append(submitted)
        assert journal.pending == 0  # committed, with the record before it
        journal.append(submitted, sync=False)  # an explicit sync=False is obeyed
        assert journal.pending == 1


def test_a_second_writer_is_refused_while_the_journal_is_open(path):
    with Journal(path) as journal:
        journal.append(JournalMarker(name="start", ts_event=1), sync=True)
        with pytest.raises(JournalError, match="in use by another process"):
            Journal(path)
        with pytest.raises(JournalError, match="in use by another process"):
            Journal(path, readonly=True)
    Journal(path).close()  # free again once closed


def test_a_closed_or_read_only_journal_refuses_appends(path):
    journal = Journal(path)
    journal.close()
    journal.close()
    assert journal.is_closed
    with pytest.raises(JournalError, match="closed"):
        journal.append(JournalMarker(name="late", ts_event=1))
    with Journal(path, readonly=True) as reader, pytest.raises(JournalError, match="read-only"):
        reader.append(JournalMarker(name="late", ts_event=1))


def test_bad_parameters_are_refused(path):
    with pytest.raises(ValueError, match="synchronous"):
        Journal(path, synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        Journal(path, batch_size=0)
    with pytest.raises(JournalError, match="does not exist"):
        Journal(path, readonly=True)


# -- versions and foreign files ----------------------------------------------------------------


def test_a_journal_of_another_schema_version_is_refused(path):
    Journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    db.close()
    for readonly in (False, True):
        with pytest.raises(JournalVersionError, match=rf"{path}.*version 99.*version {SCHEMA_VERSION}"):
            Journal(path, readonly=readonly)


def test_files_that_are_not_journals_are_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(JournalError, match=rf"{other} is not a zq journal"):
        Journal(other)
    text = tmp_path / "notes.txt"
    text.write_text("this is not a database, " * 100)
    with pytest.raises(JournalError, match=rf"{text} cannot be opened: file is not a database"):
        Journal(text)


# -- damage ------------------------------------------------------------------------------------


def write_markers(path: Path, count: int) -> list[JournalMarker]:
    markers = [JournalMarker(name="m", ts_event=i, info={"i": f"{i:06d}"}) for i in range(count)]
    with Journal(path) as journal:
        for marker in markers:
            journal.append(marker)
    return markers


def read_until_damage(path: Path) -> tuple[list[object], JournalCorrupt]:
    read: list[object] = []
    with Journal(path, readonly=True) as journal, pytest.raises(JournalCorrupt) as damage:
        for record in journal.replay():
            read.append(record.entry)
    return read, damage.value


def test_a_flipped_byte_in_a_record_names_the_file_sequence_and_type(path):
    markers = write_markers(path, 1000)
    data = bytearray(path.read_bytes())
    body = to_msgpack(markers[699])  # record 700
    offset = data.find(body)
    assert offset > 0 and data.find(body, offset + 1) == -1
    data[offset + len(body) - 2] ^= 0x01  # inside the "000699" digits
    path.write_bytes(bytes(data))
    read, damage = read_until_damage(path)
    assert read == markers[:699]
    assert (damage.path, damage.sequence, damage.type_name) == (path, 700, "JournalMarker")
    assert str(damage) == (
        f"journal {path}: record 700 (JournalMarker) cannot be read: CRC-32 mismatch; "
        "records before 700 are intact"
    )


def test_garbage_over_the_tail_of_the_file_leaves_the_records_before_it_readable(path):
    markers = write_markers(path, 1000)
    data = bytearray(path.read_bytes())
    page = 4096
    data[-page:] = bytes((i * 131 + 7) % 251 for i in range(page))  # the last page
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match=rf"{path} is damaged.*readonly=True"):
        Journal(path)
    read, damage = read_until_damage(path)
    assert damage.sequence == len(read) + 1
    assert read == markers[: len(read)]
    assert len(read) > 900  # only the last page's records are lost
    assert f"journal {path}: record {damage.sequence} cannot be read" in str(damage)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_file_leaves_the_records_before_the_cut_readable(path, keep):
    markers = write_markers(path, 1000)
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.truncate(int(size * keep))
    with pytest.raises(JournalError, match=str(path)):
        Journal(path)
    read, damage = read_until_damage(path)
    assert read == markers[: len(read)]
    assert damage.sequence == len(read) + 1
    assert 1000 * keep * 0.8 < len(read) < 1000 * keep


def raw_update(path: Path, statement: str, *parameters: object) -> None:
    with sqlite3.connect(path) as db:
        db.execute(statement, parameters)
    db.close()


def test_a_record_that_does_not_decode_names_its_type_and_sequence(path):
    write_markers(path, 10)
    body = msgspec.msgpack.encode({"type": "JournalMarker", "name": 5})
    import zlib

    raw_update(path, "UPDATE records SET body = ?, crc = ? WHERE seq = 4", body, zlib.crc32(body))
    read, damage = read_until_damage(path)
    assert len(read) == 3
    assert (damage.sequence, damage.type_name) == (4, "JournalMarker")
    assert "Expected `str`, got `int`" in str(damage)


def test_a_missing_sequence_number_is_reported(path):
    write_markers(path, 10)
    raw_update(path, "DELETE FROM records WHERE seq = 6")
    read, damage = read_until_damage(path)
    assert len(read) == 5
    assert damage.sequence == 6 and "missing (the next record is 7)" in str(damage)
    with pytest.raises(JournalError, match=r"9 records for sequence numbers 1\.\.10"):
        Journal(path)


def test_an_unknown_record_type_is_reported(path):
    write_markers(path, 3)
    raw_update(path, "UPDATE records SET type = 'Bogus' WHERE seq = 2")
    read, damage = read_until_damage(path)
    assert len(read) == 1
    assert (damage.sequence, damage.type_name) == (2, "Bogus")


# -- rebuild -----------------------------------------------------------------------------------


def fresh() -> tuple[Cache, Portfolio]:
    cache = Cache()
    return cache, Portfolio(cache)


def journal_of(path: Path, entries: list[object]) -> Journal:
    journal = Journal(path)
    for entry in entries:
        journal.append(entry)  # type: ignore[arg-type]
    journal.flush()
    return journal


@pytest.mark.parametrize("seed", [1, 2])
def test_rebuild_reproduces_orders_positions_and_balances_of_the_whole_stream(path, seed):
    stream = scripted_stream(seed=seed, orders=300)
    with journal_of(path, stream) as journal:
        cache, portfolio = fresh()
        summary = rebuild(journal, cache, portfolio)
    reference = reference_state(stream)
    assert_rebuilt(cache, summary, reference)
    assert summary.records == summary.last_sequence == len(stream)
    assert summary.unjournaled_consequences == 0
    assert summary.accounts == (ACCOUNT,)
    assert summary.last_marker is not None and summary.last_marker.name == "start"
    # The factory numbered the 300 orders 1..300: a restarted one continues from 300.
    assert summary.order_counts == {STRATEGY: 300}
    # The stream leaves orders in flight (never answered), open, and every closed status.
    assert reference.inflight and summary.open_orders
    assert {"FILLED", "CANCELED", "REJECTED"} <= set(summary.orders_by_status)
    # Position events in the journal were checked against those the rebuild produced.
    positions = cache.positions()
    assert [p.id for p in positions] == [f"{ETHUSDT.id}-MM-001"]


@pytest.mark.parametrize("cut", [4, 57, 333, 1000])
def test_rebuild_of_a_prefix_equals_the_reference_of_that_prefix(path, cut):
    stream = scripted_stream(seed=4, orders=200)[:cut]
    with journal_of(path, stream) as journal:
        cache, portfolio = fresh()
        summary = rebuild(journal, cache, portfolio)
    assert_rebuilt(cache, summary, reference_state(stream))


def test_a_fill_whose_position_event_was_never_journaled_is_counted_not_refused(path):
    stream = scripted_stream(seed=4, orders=50)
    cut = next(i for i, e in enumerate(stream) if isinstance(e, OrderFilled)) + 1
    with journal_of(path, stream[:cut]) as journal:
        cache, portfolio = fresh()
        summary = rebuild(journal, cache, portfolio)
    # The fill produced a PositionOpened and an AccountState the node had no time to journal.
    assert summary.unjournaled_consequences == 2
    assert summary.fills == 1 and len(summary.positions_open) == 1


def test_a_position_event_that_differs_from_the_rebuilt_one_is_refused(path):
    stream = scripted_stream(seed=4, orders=50)
    at = next(i for i, e in enumerate(stream) if isinstance(e, PositionChanged))
    stream[at] = msgspec.structs.replace(stream[at], signed_qty=Decimal("123"))
    with journal_of(path, stream) as journal, pytest.raises(RecoveryError) as refused:
        rebuild(journal, *fresh())
    assert refused.value.sequence == at + 1
    assert f"record {at + 1} (PositionChanged)" in str(refused.value)
    assert "differs from the one the rebuilt portfolio produced" in str(refused.value)


def test_an_event_of_an_order_never_initialized_is_refused(path):
    stream = scripted_stream(seed=4, orders=5)
    lost = stream.pop(3)  # the first OrderInitialized
    coid = lost.client_order_id
    at = next(i for i, e in enumerate(stream) if getattr(e, "client_order_id", None) == coid) + 1
    with journal_of(path, stream) as journal, pytest.raises(RecoveryError) as refused:
        rebuild(journal, *fresh())
    assert str(refused.value).endswith(
        f"record {at} (OrderSubmitted) cannot be re-applied: order {lost.client_order_id} "
        "has no OrderInitialized before it"
    )


def test_an_event_the_order_cannot_apply_is_refused_naming_the_order(path):
    stream = scripted_stream(seed=4, orders=5)
    submitted = next(i for i, e in enumerate(stream) if isinstance(e, OrderSubmitted))
    stream.insert(submitted, stream[submitted])  # submitted twice
    with journal_of(path, stream) as journal, pytest.raises(RecoveryError) as refused:
        rebuild(journal, *fresh())
    assert "in state SUBMITTED cannot apply OrderSubmitted" in str(refused.value)


def test_a_fill_of_an_unknown_instrument_is_refused_before_the_order_changes(path):
    stream = [e for e in scripted_stream(seed=4, orders=20) if e is not ETHUSDT]
    with journal_of(path, stream) as journal, pytest.raises(RecoveryError) as refused:
        cache, portfolio = fresh()
        rebuild(journal, cache, portfolio)
    assert "add the node's instruments to the cache first" in str(refused.value)
    fill = stream[refused.value.sequence - 1]
    assert isinstance(fill, OrderFilled)
    order = cache.order(fill.client_order_id)
    assert order is not None and fill.trade_id not in order.trade_ids
    # With the instrument in the cache (as a node loads it from the venue), it rebuilds.
    cache, portfolio = fresh()
    cache.add_instrument(ETHUSDT)
    with Journal(path, readonly=True) as journal:
        rebuild(journal, cache, portfolio)


def test_deposits_and_withdrawals_are_re_applied_through_the_account(path):
    account = opening_account()
    account.deposit(Money(Decimal("250.125"), USDT), ts_event=10)
    account.withdraw(Money(Decimal("1000"), USDT), ts_event=11)
    with journal_of(path, list(account.events)) as journal:
        cache, portfolio = fresh()
        summary = rebuild(journal, cache, portfolio)
    rebuilt = cache.account(ACCOUNT)
    # 1,000,000 + 250.125 - 1,000 = 999,250.125 USDT, by hand.
    assert rebuilt.balance("USDT").as_decimal() == Decimal("999250.125")
    assert [s.reason for s in rebuilt.events] == ["opening", "deposit", "withdrawal"]
    assert rebuilt.events == account.events
    assert summary.accounts == (ACCOUNT,)


def test_an_account_configured_in_the_cache_is_checked_against_the_opening_state(path):
    with journal_of(path, [opening_account().last_state]) as journal:
        cache, portfolio = fresh()
        configured = MarginAccount(ACCOUNT, leverage=3, balances={"USDT": Money(5, USDT)})
        cache.add_account(configured)
        with pytest.raises(RecoveryError, match=r"balances \{USDT: 5.00000000 USDT\} differ"):
            rebuild(journal, cache, portfolio)


def test_rebuild_needs_an_empty_cache(path):
    stream = scripted_stream(seed=4, orders=5)
    with journal_of(path, stream) as journal:
        cache, portfolio = fresh()
        rebuild(journal, cache, portfolio)
        with pytest.raises(ValueError, match="without orders or positions"):
            rebuild(journal, cache, portfolio)


def test_the_rebuilt_cache_serves_the_orders_the_node_must_ask_the_venue_about(path):
    stream = scripted_stream(seed=9, orders=100)
    with journal_of(path, stream) as journal:
        cache, portfolio = fresh()
        summary = rebuild(journal, cache, portfolio)
    for coid in summary.inflight_orders:
        order = cache.order(coid)
        assert order is not None and order.status in (
            OrderStatus.SUBMITTED,
            OrderStatus.PENDING_UPDATE,
            OrderStatus.PENDING_CANCEL,
        )
        assert cache.is_order_inflight(coid)
    fills = [e for e in stream if isinstance(e, OrderFilled)]
    trade_ids = {t for o in cache.orders() for t in o.trade_ids}
    assert trade_ids == {f.trade_id for f in fills}
    assert TradeId("T-1") in trade_ids


def test_a_write_that_fails_closes_the_journal_with_a_clear_error(path):
    journal = Journal(path)
    journal.append(JournalMarker(name="start", ts_event=1), sync=True)
    # A full disk, made real by SQLite's own limit on the file's size (in pages).
    pages = journal._connection.execute("PRAGMA page_count").fetchone()[0]
    journal._connection.execute(f"PRAGMA max_page_count={pages + 1}")
    big = JournalMarker(name="big", ts_event=2, info={"blob": "x" * 20_000})
    with pytest.raises(JournalError) as failed:
        for _ in range(10):
            journal.append(big, sync=True)
    assert str(failed.value).startswith(f"journal {path}: ")
    assert "database or disk is full; the journal is closed" in str(failed.value)
    assert journal.is_closed
    with Journal(path, readonly=True) as reader:
        records = list(reader.replay())
    assert records[0].entry.name == "start"
    assert all(r.entry == big for r in records[1:])


def test_a_damaged_journal_stops_the_rebuild_after_the_intact_records(path):
    stream = scripted_stream(seed=4, orders=50)
    with journal_of(path, stream):
        pass
    raw_update(path, "UPDATE records SET crc = crc + 1 WHERE seq = 40")
    cache, portfolio = fresh()
    with Journal(path, readonly=True) as journal, pytest.raises(JournalCorrupt, match="record 40 "):
        rebuild(journal, cache, portfolio)
    # The cache holds the state of records 1..39, as the reference computes it.
    reference = reference_state(stream[:39])
    assert {o.client_order_id: o.status for o in cache.orders()} == reference.statuses


def test_replay_decodes_the_same_values_when_its_memo_starts_over(path, monkeypatch):
    import zq.live.journal as journal_module

    stream = scripted_stream(seed=8, orders=40)
    with journal_of(path, stream):
        pass
    monkeypatch.setattr(journal_module, "_MEMO_LIMIT", 5)
    with Journal(path, readonly=True) as journal:
        assert [r.entry for r in journal.replay()] == stream


def test_salvage_copies_the_intact_prefix_into_a_journal_a_node_can_start_on(path, tmp_path):
    stream = scripted_stream(seed=6, orders=80)
    with journal_of(path, stream):
        pass
    raw_update(path, "UPDATE records SET crc = crc + 1 WHERE seq = 300")
    target = tmp_path / "salvaged.journal"
    copied, damage = salvage(path, target)
    assert copied == 299
    assert damage is not None and damage.sequence == 300
    with Journal(target) as journal:  # opens for writing: the copy is sound
        assert journal.last_sequence == 299
        cache, portfolio = fresh()
        summary = rebuild(journal, cache, portfolio)
    assert_rebuilt(cache, summary, reference_state(stream[:299]))
    with pytest.raises(JournalError, match="exists"):
        salvage(path, target)
    assert salvage(target, tmp_path / "again.journal") == (299, None)
