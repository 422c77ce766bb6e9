"""The journal: a node's order events, fills, positions, accounts and markers, durably.

A :class:`Journal` is one embedded SQLite file (stdlib ``sqlite3``, WAL mode) holding an
append-only log. Every record gets the next number of one global sequence (1, 2, 3... with no
gap), its type name, a CRC-32 of its body and the body: the record in MessagePack
(:func:`zq.model.serialization.to_msgpack`). Fills are also keyed by ``(instrument, trade id)``,
so a fill the journal already holds is refused (:class:`DuplicateFill`). The instrument id
names the venue too; the key is the instrument rather than the venue alone because venues such
as Binance number trades per symbol, and two symbols' trades may share an id.

Writes are batched: :meth:`Journal.append` adds the record to an open transaction, committed
every ``batch_size`` records, on :meth:`Journal.flush` and whenever a record is appended with
``sync=True``. By default the write-ahead markers (:data:`WRITE_AHEAD_TYPES`: the events that
put an order in flight before the venue is called) are appended with ``sync=True``; a commit
writes every record before it too, so a synced record is never present without all that came
before it.

Durability (measured in ``benchmarks/bench_journal.py``, explained in ``docs/live/journal.md``):

- a committed record survives the process being killed (SIGKILL) with either ``synchronous``
  setting: the commit has written it to the WAL file, the kernel holds it;
- ``synchronous="FULL"`` (the default) also fsyncs the WAL at each commit, so a committed
  record survives power loss or an OS crash; ``"NORMAL"`` does not (it fsyncs only at
  checkpoints: a power loss may lose the last commits, never corrupt the file);
- records appended but not yet committed are lost by a kill, whatever the setting.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

import msgspec

from zq.model.events import (
    ORDER_EVENT_TYPES,
    OrderEvent,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderSubmitted,
)
from zq.model.instruments import CryptoPerpetual, CurrencyPair, Equity, FuturesContract, Instrument
from zq.model.position import PositionChanged, PositionClosed, PositionEvent, PositionOpened
from zq.model.serialization import _decode_hook as _value_hook  # the one decoding of zq values
from zq.model.serialization import to_msgpack
from zq.portfolio.account import AccountState

__all__ = [
    "MARKER_RECONCILE",
    "MARKER_START",
    "MARKER_STOP",
    "SCHEMA_VERSION",
    "WRITE_AHEAD_TYPES",
    "DuplicateFill",
    "Journal",
    "JournalCorrupt",
    "JournalEntry",
    "JournalError",
    "JournalMarker",
    "JournalRecord",
    "JournalVersionError",
    "requires_sync",
    "salvage",
]

#: The layout of the file this module writes; stored in the file (SQLite ``user_version``).
SCHEMA_VERSION: Final = 1
#: Marks a SQLite file as a zq journal (SQLite ``application_id``): "zqj1".
APPLICATION_ID: Final = int.from_bytes(b"zqj1", "big")

MARKER_START: Final = "start"
MARKER_STOP: Final = "stop"
MARKER_RECONCILE: Final = "reconcile"

#: Events that put an order in flight; appended durably before the venue call is made.
WRITE_AHEAD_TYPES: Final = (OrderSubmitted, OrderPendingUpdate, OrderPendingCancel)

_DEFAULT_BATCH: Final = 512
_READ_CHUNK: Final = 4096
_MEMO_LIMIT: Final = 1_000_000


class JournalMarker(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag=True):
    """A free-form node marker: ``name`` (``"start"``, ``"stop"``, ``"reconcile"``...)."""

    name: str
    ts_event: int
    info: dict[str, str] = msgspec.field(default_factory=dict)


JournalEntry = OrderEvent | PositionEvent | AccountState | JournalMarker | Instrument
"""Anything a journal holds."""

_JOURNAL_TYPES: tuple[type[Any], ...] = (
    *ORDER_EVENT_TYPES,
    PositionOpened,
    PositionChanged,
    PositionClosed,
    AccountState,
    JournalMarker,
    CurrencyPair,
    CryptoPerpetual,
    FuturesContract,
    Equity,
)
_TYPES: Final[dict[str, type[Any]]] = {kind.__name__: kind for kind in _JOURNAL_TYPES}

_SCHEMA: Final = (
    """CREATE TABLE records (
        seq INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        crc INTEGER NOT NULL,
        body BLOB NOT NULL
    )""",
    """CREATE TABLE fills (
        instrument_id TEXT NOT NULL,
        trade_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (instrument_id, trade_id)
    ) WITHOUT ROWID""",
)


class JournalError(RuntimeError):
    """A journal that cannot be opened, written or read."""


class JournalVersionError(JournalError):
    """A journal file written with another schema version."""


class JournalCorrupt(JournalError):
    """A damaged journal: a record that fails to decode, a missing sequence, a damaged page.

    Attributes
    ----------
    path : Path
        The journal file.
    sequence : int
        The sequence number of the first record that could not be read.
    type_name : str or None
        The record's type when it could be read.
    """

    def __init__(self, path: Path, sequence: int, type_name: str | None, reason: str) -> None:
        self.path = path
        self.sequence = sequence
        self.type_name = type_name
        what = f"record {sequence}" + (f" ({type_name})" if type_name else "")
        super().__init__(
            f"journal {path}: {what} cannot be read: {reason}; records before {sequence} "
            "are intact"
        )


class DuplicateFill(JournalError):
    """A fill whose ``(instrument, trade id)`` the journal already holds; nothing was written."""

    def __init__(self, path: Path, fill: OrderFilled, first_sequence: int) -> None:
        self.fill = fill
        self.first_sequence = first_sequence
        super().__init__(
            f"journal {path}: fill {fill.instrument_id}/{fill.trade_id} of order "
            f"{fill.client_order_id} is already journaled (record {first_sequence}); refused"
        )


class JournalRecord(NamedTuple):
    """One record read back: its sequence number, type name and decoded value."""

    sequence: int
    type_name: str
    entry: Any


def requires_sync(entry: object) -> bool:
    """Return whether ``entry`` is a write-ahead marker (see :data:`WRITE_AHEAD_TYPES`)."""
    return isinstance(entry, WRITE_AHEAD_TYPES)


class _Decoders:
    """MessagePack decoders of the journal's types that build each distinct value once.

    Replaying decodes the same identifiers, prices and amounts over and over (the trader,
    strategy, instrument and account of every event, an order's id in each of its events);
    they are immutable, so one instance per distinct value is shared (decoding an
    ``OrderSubmitted`` alone went from about 11 µs to 2.5 µs). The memo lives as long as
    one replay, and starts over past ``_MEMO_LIMIT`` values.
    """

    __slots__ = ("_decoders", "_memo")

    def __init__(self) -> None:
        self._memo: dict[tuple[type[Any], Any], Any] = {}
        self._decoders: dict[type[Any], msgspec.msgpack.Decoder[Any]] = {}

    def _hook(self, kind: type[Any], obj: Any) -> Any:
        try:
            return self._memo[kind, obj]
        except KeyError:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            value = self._memo[kind, obj] = _value_hook(kind, obj)
            return value
        except TypeError:  # not hashable: not a value zq encodes, let the hook say so
            return _value_hook(kind, obj)

    def decode(self, body: bytes, kind: type[Any]) -> Any:
        decoder = self._decoders.get(kind)
        if decoder is None:
            decoder = self._decoders[kind] = msgspec.msgpack.Decoder(kind, dec_hook=self._hook)
        return decoder.decode(body)


class Journal:
    """An append-only, durable log of a node's trading state in one SQLite file.

    Parameters
    ----------
    path : str or Path
        The file; created (with its schema) when missing.
    synchronous : {"FULL", "NORMAL"}, default "FULL"
        SQLite's ``synchronous`` setting: ``"FULL"`` makes each commit durable against power
        loss, ``"NORMAL"`` only against the process being killed (see the module notes).
    batch_size : int, default 512
        Records per commit when nothing forces one earlier.
    readonly : bool, default False
        Open for reading only (:meth:`replay`); :meth:`append` is refused. A read-only
        journal opens even when damaged, so what is still readable can be replayed.

    Raises
    ------
    JournalError
        If the file is not a zq journal, cannot be opened, or (for writing) is damaged or in
        use by another process.
    JournalVersionError
        If the file was written with another schema version.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        batch_size: int = _DEFAULT_BATCH,
        readonly: bool = False,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.path = Path(path)
        self.synchronous = synchronous
        self.batch_size = batch_size
        self.readonly = readonly
        self._pending = 0
        self._db: sqlite3.Connection | None = None
        if readonly and not self.path.is_file():
            raise JournalError(f"journal {self.path} does not exist")
        try:
            # timeout=0: a journal another process writes is refused at once, not waited for.
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=0)
            self._setup()
        except sqlite3.DatabaseError as exc:
            self._abandon()
            if "locked" in str(exc):
                raise JournalError(
                    f"journal {self.path} is in use by another process ({exc})"
                ) from exc
            raise JournalError(f"journal {self.path} cannot be opened: {exc}") from exc
        except JournalError:
            self._abandon()
            raise
        self._next = 1 if readonly else self._find_end()

    def _setup(self) -> None:
        db = self._connection
        if self.readonly:
            # A file cut short (a truncated copy, a full disk) is refused by SQLite unless
            # the schema is "writable"; nothing is written here, so the pages still present
            # are read and the replay stops, with an error, where the file ends.
            db.execute("PRAGMA writable_schema=ON")
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application_id == 0 and version == 0 and tables == 0:
            if self.readonly:
                raise JournalError(f"journal {self.path} is empty (no schema)")
            self._create_schema()
        elif application_id != APPLICATION_ID:
            raise JournalError(
                f"journal {self.path} is not a zq journal (SQLite application_id "
                f"{application_id:#x}, expected {APPLICATION_ID:#x})"
            )
        elif version != SCHEMA_VERSION:
            raise JournalVersionError(
                f"journal {self.path} has schema version {version}; this zq reads and writes "
                f"version {SCHEMA_VERSION}"
            )
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise JournalError(f"journal {self.path}: WAL mode refused (journal_mode {mode!r})")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        if not self.readonly:
            # One writer: the exclusive lock, taken now, is held until close (or death).
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                raise JournalError(
                    f"journal {self.path} is in use by another process ({exc})"
                ) from exc

    def _create_schema(self) -> None:
        db = self._connection
        db.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA:
            db.execute(statement)
        db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")

    def _find_end(self) -> int:
        """Check the file and return the next sequence number (a writer must not extend damage)."""
        db = self._connection
        try:
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(problems[:3]))
            count, last = db.execute("SELECT count(*), max(seq) FROM records").fetchone()
        except sqlite3.DatabaseError as exc:
            self._abandon()
            raise JournalError(
                f"journal {self.path} is damaged ({exc}); open it with readonly=True to "
                "replay what is still readable"
            ) from exc
        last = last or 0
        if count != last:
            self._abandon()
            raise JournalError(
                f"journal {self.path} is damaged: {count} records for sequence numbers "
                f"1..{last}; open it with readonly=True to replay what is still readable"
            )
        return int(last) + 1

    def _abandon(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise JournalError(f"journal {self.path} is closed")
        return self._db

    # -- writing ---------------------------------------------------------------------------

    @property
    def last_sequence(self) -> int:
        """The sequence number of the last record appended (0 when empty)."""
        if self.readonly:
            row = self._connection.execute("SELECT max(seq) FROM records").fetchone()
            return int(row[0] or 0)
        return self._next - 1

    @property
    def pending(self) -> int:
        """How many appended records are not committed yet (lost if the process dies now)."""
        return self._pending

    def append(self, entry: JournalEntry, *, sync: bool | None = None) -> int:
        """Append ``entry`` and return its sequence number.

        Parameters
        ----------
        entry : JournalEntry
            An order event, position event, account state, instrument or marker.
        sync : bool, optional
            Commit before returning (with every record before it). ``None``: only for the
            write-ahead markers (:func:`requires_sync`).

        Raises
        ------
        DuplicateFill
            If ``entry`` is a fill whose instrument and trade id are already journaled; nothing
            is written.
        TypeError
            If ``entry`` is not something a journal holds.
        JournalError
            If the journal is read-only or closed.
        """
        db = self._connection
        if self.readonly:
            raise JournalError(f"journal {self.path} is open read-only")
        type_name = type(entry).__name__
        if _TYPES.get(type_name) is not type(entry):
            raise TypeError(
                f"a journal holds order and position events, account states, instruments and "
                f"markers, not {type_name}"
            )
        body = to_msgpack(entry)
        sequence = self._next
        if sync is None:
            sync = isinstance(entry, WRITE_AHEAD_TYPES)
        try:
            self._write(db, entry, sequence, type_name, body)
            if sync or self._pending >= self.batch_size:
                self.flush()
        except DuplicateFill:
            raise
        except sqlite3.Error as exc:
            raise self._failed(
                f"record {sequence} ({type_name}) could not be written", exc
            ) from exc
        return sequence

    def _write(
        self, db: sqlite3.Connection, entry: object, sequence: int, type_name: str, body: bytes
    ) -> None:
        if self._pending == 0:
            db.execute("BEGIN IMMEDIATE")
        if isinstance(entry, OrderFilled):
            key = (str(entry.instrument_id), str(entry.trade_id))
            try:
                db.execute("INSERT INTO fills VALUES (?, ?, ?)", (*key, sequence))
            except sqlite3.IntegrityError:
                row = db.execute(
                    "SELECT seq FROM fills WHERE instrument_id = ? AND trade_id = ?", key
                ).fetchone()
                if self._pending == 0:
                    db.execute("ROLLBACK")
                raise DuplicateFill(self.path, entry, int(row[0])) from None
        db.execute(
            "INSERT INTO records VALUES (?, ?, ?, ?)",
            (sequence, type_name, zlib.crc32(body), body),
        )
        self._next = sequence + 1
        self._pending += 1

    def _failed(self, what: str, exc: sqlite3.Error) -> JournalError:
        # After a failed write or commit (disk full, I/O error) SQLite may have rolled the
        # open transaction back: the pending records are gone and nothing can be promised
        # about the next ones. The journal closes; a node must stop trading.
        lost = self._pending
        self._abandon()
        return JournalError(
            f"journal {self.path}: {what}: {exc}; the journal is closed ({lost} uncommitted "
            "records may be lost)"
        )

    def flush(self) -> None:
        """Commit the pending records (durable as ``synchronous`` says once this returns).

        Raises
        ------
        JournalError
            If the commit fails (the journal is then closed).
        """
        if self._pending:
            try:
                self._connection.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._failed("the commit failed", exc) from exc
            self._pending = 0

    def has_fill(self, instrument_id: str, trade_id: str) -> bool:
        """Return whether a fill of trade ``trade_id`` of ``instrument_id`` is journaled."""
        row = self._connection.execute(
            "SELECT 1 FROM fills WHERE instrument_id = ? AND trade_id = ?",
            (str(instrument_id), str(trade_id)),
        ).fetchone()
        return row is not None

    def close(self) -> None:
        """Flush and close (a closed journal refuses everything; closing twice is allowed)."""
        if self._db is None:
            return
        try:
            if not self.readonly:
                self.flush()
        finally:
            self._abandon()

    @property
    def is_closed(self) -> bool:
        return self._db is None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._db is None else f"next={self._next}"
        return f"Journal({str(self.path)!r}, {state})"

    # -- reading ---------------------------------------------------------------------------

    def replay(self, start: int = 1) -> Iterator[JournalRecord]:
        """Yield the records from sequence ``start`` on, in order (pending ones included).

        Raises
        ------
        JournalCorrupt
            At the first record that cannot be read (a failed CRC or decode, a missing
            sequence number, a damaged page), after every record before it was yielded.
        """
        if start < 1:
            raise ValueError(f"sequence numbers start at 1, got {start}")
        db = self._connection
        decode = _Decoders().decode
        expected = start
        while True:
            try:
                rows = db.execute(
                    "SELECT seq, CAST(type AS BLOB), crc, body FROM records "
                    "WHERE seq >= ? ORDER BY seq LIMIT ?",
                    (expected, _READ_CHUNK),
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                # A damaged page somewhere in the chunk: read on one record at a time.
                for row in self._rows_one_by_one(expected):
                    yield self._decode(expected, row, decode)
                    expected += 1
                raise JournalCorrupt(self.path, expected, None, f"SQLite: {exc}") from exc
            if not rows:
                return
            for row in rows:
                yield self._decode(expected, row, decode)
                expected += 1

    def _rows_one_by_one(self, start: int) -> Iterator[tuple[Any, ...]]:
        sequence = start
        while True:
            try:
                row = self._connection.execute(
                    "SELECT seq, CAST(type AS BLOB), crc, body FROM records WHERE seq = ?",
                    (sequence,),
                ).fetchone()
            except sqlite3.DatabaseError:
                return
            if row is None:
                return
            yield row
            sequence += 1

    def _decode(
        self, expected: int, row: tuple[Any, ...], decode: Callable[[bytes, type[Any]], Any]
    ) -> JournalRecord:
        sequence, raw_type, crc, body = row
        if sequence != expected:
            raise JournalCorrupt(
                self.path, expected, None, f"it is missing (the next record is {sequence})"
            )
        type_name = bytes(raw_type).decode("utf-8", errors="replace")
        kind = _TYPES.get(type_name)
        if kind is None:
            raise JournalCorrupt(self.path, sequence, type_name, "unknown record type")
        if not isinstance(body, bytes) or zlib.crc32(body) != crc:
            raise JournalCorrupt(self.path, sequence, type_name, "CRC-32 mismatch")
        try:
            entry = decode(body, kind)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            raise JournalCorrupt(self.path, sequence, type_name, str(exc)) from exc
        return JournalRecord(sequence, type_name, entry)


def salvage(source: str | Path, target: str | Path) -> tuple[int, JournalCorrupt | None]:
    """Copy the readable records of a damaged journal into a new one, in order.

    The records keep their sequence numbers (the copy is the intact prefix). A node is then
    started on ``target``; what the lost tail held is found by reconciliation with the venue.

    Returns
    -------
    tuple[int, JournalCorrupt or None]
        How many records were copied, and the damage that stopped the copy (None when the
        whole source was readable).

    Raises
    ------
    JournalError
        If ``target`` exists already, or a journal cannot be opened.
    """
    target = Path(target)
    if target.exists():
        raise JournalError(f"journal {target} exists; salvage writes a new file")
    damage: JournalCorrupt | None = None
    copied = 0
    with Journal(source, readonly=True) as damaged, Journal(target) as copy:
        try:
            for record in damaged.replay():
                copy.append(record.entry, sync=False)
                copied += 1
        except JournalCorrupt as exc:
            damage = exc
    return copied, damage
