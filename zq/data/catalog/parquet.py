"""``ParquetDataCatalog``: market data in Parquet files, by data kind, key and time range.

Layout under the root::

    <root>/<kind>/<key>/<first ts_init>-<last ts_init>.parquet   (19-digit, zero-padded)
    <root>/instruments/<instrument id>.json

``<key>`` is the instrument id (a bar type for bars), percent-encoded where it holds a
character a path cannot (``EUR/USD.SIM`` is ``EUR%2FUSD.SIM``). Each file covers the
closed range ``[first, last]`` of its rows' ``ts_init``; the ranges of one key never
overlap, except that neighbours may share one endpoint (rows with the same ``ts_init``
split across two writes). New data adds a file; old files are never rewritten.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from zq.data.catalog.readahead import ReadAhead
from zq.data.catalog.schema import (
    DataKind,
    DataSeries,
    check_precision,
    file_metadata,
    fill_rows,
    rows_to_table,
    validate_file,
)
from zq.data.catalog.stream import merge_series, merge_series_records
from zq.data.errors import DataFormatError
from zq.model.data import BarType
from zq.model.identifiers import InstrumentId
from zq.model.instruments import Instrument
from zq.model.serialization import from_json, to_json

__all__ = ["CatalogError", "CatalogFile", "ParquetDataCatalog"]

Rows = npt.NDArray[np.void]

_FILE_NAME = re.compile(r"^(\d{19})-(\d{19})\.parquet$")
_INSTRUMENTS = "instruments"
_TS_INIT_MAX = 2**63 - 1
_READ_BATCH = 65_536  # rows decoded at a time by ``read``: column data stays in cache


class CatalogError(ValueError):
    """A write or a query the catalog refuses: unsorted rows, overlapping time ranges, a
    precision that differs from what the catalog holds, an unknown key."""


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """One file of the catalog and the closed ``ts_init`` range ``[start, end]`` it covers."""

    path: Path
    start: int
    end: int


class ParquetDataCatalog:
    """Store and query market data as Parquet files under ``root``.

    Parameters
    ----------
    root
        The catalog's directory; created on the first write.
    row_group_size
        Rows per Parquet row group: the unit a time-range query skips by its statistics,
        and the most a streaming read decodes at once per series.
    compression
        Parquet compression codec (``"zstd"``, ``"snappy"``, ``"lz4"``, ``"none"``).

    Notes
    -----
    One writer at a time: the overlap check and the file creation are not atomic
    together. Each file itself appears atomically (written aside, then renamed).
    """

    def __init__(
        self,
        root: Path | str,
        *,
        row_group_size: int = 131_072,
        compression: str = "zstd",
    ) -> None:
        if row_group_size <= 0:
            raise ValueError(f"row_group_size must be positive, got {row_group_size}")
        self._root = Path(root)
        self._row_group_size = row_group_size
        self._compression = compression

    @property
    def root(self) -> Path:
        """The catalog's directory."""
        return self._root

    def __repr__(self) -> str:
        return f"ParquetDataCatalog({str(self._root)!r})"

    # -- writing ---------------------------------------------------------------------------

    def write(
        self,
        kind: DataKind | str,
        key: InstrumentId | BarType | str,
        rows: Rows,
        *,
        price_precision: int | None = None,
        size_precision: int | None = None,
    ) -> Path | None:
        """Write ``rows`` of one kind and key as a new file; return its path.

        Parameters
        ----------
        kind
            ``"deltas"``, ``"quotes"``, ``"trades"`` or ``"bars"``.
        key
            The instrument id (the bar type for bars).
        rows
            A 1-D array of the kind's dtype (``zq.data.arrays``), sorted by ``ts_init``.
            Writing no rows writes no file and returns ``None``.
        price_precision, size_precision
            Decimals of the raw prices and sizes. When omitted they are taken from the
            key's files already in the catalog, else from the instrument written with
            ``write_instrument``.

        Raises
        ------
        CatalogError
            If the rows are not sorted by ``ts_init`` or have a negative one, if their time
            range overlaps a file the key already has, or if a precision differs from the
            key's files.
        TypeError
            If ``rows`` is not a 1-D array of the kind's dtype.
        """
        kind = DataKind.of(kind)
        key = _canonical_key(kind, key)
        self._check_rows(kind, key, rows)
        if len(rows) == 0:
            return None
        ts_init = rows["ts_init"]
        start, end = int(ts_init[0]), int(ts_init[-1])
        files = self.files(kind, key)
        _check_overlap(kind, key, files, start, end)
        price_precision, size_precision = self._resolve_precisions(
            kind, key, files, price_precision, size_precision
        )
        metadata = file_metadata(kind, key, price_precision, size_precision)
        table = rows_to_table(kind, rows, metadata)
        folder = self._folder(kind, key)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{start:019d}-{end:019d}.parquet"
        scratch = folder / f".{path.name}.{os.getpid()}.tmp"
        try:
            pq.write_table(
                table,
                scratch,
                row_group_size=self._row_group_size,
                compression=self._compression,
                use_dictionary=[name for name in kind.columns if kind.dtype[name].itemsize == 1],
                column_encoding={
                    name: "DELTA_BINARY_PACKED"
                    for name in kind.columns
                    if kind.dtype[name].itemsize == 8
                },
                sorting_columns=[pq.SortingColumn(kind.columns.index("ts_init"))],
            )
            os.replace(scratch, path)
        finally:
            scratch.unlink(missing_ok=True)
        return path

    def write_deltas(
        self,
        instrument_id: InstrumentId | str,
        rows: Rows,
        *,
        price_precision: int | None = None,
        size_precision: int | None = None,
    ) -> Path | None:
        """Write order-book deltas (``DELTA_DTYPE``) of one instrument; see ``write``."""
        return self.write(
            DataKind.DELTAS,
            instrument_id,
            rows,
            price_precision=price_precision,
            size_precision=size_precision,
        )

    def write_quotes(
        self,
        instrument_id: InstrumentId | str,
        rows: Rows,
        *,
        price_precision: int | None = None,
        size_precision: int | None = None,
    ) -> Path | None:
        """Write quotes (``QUOTE_DTYPE``) of one instrument; see ``write``."""
        return self.write(
            DataKind.QUOTES,
            instrument_id,
            rows,
            price_precision=price_precision,
            size_precision=size_precision,
        )

    def write_trades(
        self,
        instrument_id: InstrumentId | str,
        rows: Rows,
        *,
        price_precision: int | None = None,
        size_precision: int | None = None,
    ) -> Path | None:
        """Write trades (``TRADE_DTYPE``) of one instrument; see ``write``."""
        return self.write(
            DataKind.TRADES,
            instrument_id,
            rows,
            price_precision=price_precision,
            size_precision=size_precision,
        )

    def write_bars(
        self,
        bar_type: BarType | str,
        rows: Rows,
        *,
        price_precision: int | None = None,
        size_precision: int | None = None,
    ) -> Path | None:
        """Write bars (``BAR_DTYPE``) of one bar type; see ``write``."""
        return self.write(
            DataKind.BARS,
            bar_type,
            rows,
            price_precision=price_precision,
            size_precision=size_precision,
        )

    def write_instrument(self, instrument: Instrument) -> Path:
        """Store an instrument definition (JSON), replacing an earlier one of the same id."""
        folder = self._root / _INSTRUMENTS
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_encode(str(instrument.id))}.json"
        scratch = folder / f".{path.name}.{os.getpid()}.tmp"
        try:
            scratch.write_bytes(to_json(instrument))
            os.replace(scratch, path)
        finally:
            scratch.unlink(missing_ok=True)
        return path

    # -- reading ---------------------------------------------------------------------------

    def read(
        self,
        kind: DataKind | str,
        key: InstrumentId | BarType | str,
        start: int | None = None,
        end: int | None = None,
    ) -> Rows:
        """Return the rows of one key with ``start <= ts_init <= end``, sorted by ``ts_init``.

        Only the files whose range meets ``[start, end]`` are opened, and in them only the
        row groups whose ``ts_init`` statistics do. A key the catalog does not hold gives
        an empty array.

        Raises
        ------
        DataFormatError
            If a file it opens is not a catalog file of this kind and key, or has a schema
            version this zq does not read.
        """
        kind = DataKind.of(kind)
        key = _canonical_key(kind, key)
        low, high = _bounds(start, end)
        plan = []
        capacity = 0
        precisions: tuple[int, int] | None = None
        for file in self.files(kind, key):  # open and check every file before reading any
            if file.end < low or file.start > high:
                continue
            handle, file_precisions = self._open(file.path, kind, key)
            precisions = _same_precisions(file.path, precisions, file_precisions)
            groups = _row_groups(handle, kind, low, high)
            capacity += sum(handle.metadata.row_group(group).num_rows for group in groups)
            plan.append((file.path, handle, groups))
        # Sized for the whole row groups; only the first and last can hold rows outside
        # [low, high], and the array is shrunk in place to the rows kept.
        out = np.zeros(capacity, kind.dtype)
        count = 0
        for path, handle, groups in plan:
            for batch in _batches(handle, path, kind, groups, low, high, _READ_BATCH):
                count += fill_rows(out, count, kind, batch)
        if count < capacity:
            # No view of ``out`` outlives fill_rows, so shrinking it in place is safe.
            out.resize(count, refcheck=False)
        return out

    def read_objects(
        self,
        kind: DataKind | str,
        key: InstrumentId | BarType | str,
        start: int | None = None,
        end: int | None = None,
    ) -> Iterator[Any]:
        """Yield zq data objects of one key in ``[start, end]``; see ``read``."""
        kind = DataKind.of(kind)
        key = _canonical_key(kind, key)
        series = self.series_of(kind, key)
        if series is None:
            return iter(())
        return series.to_objects(self.read(kind, key, start, end))

    def instruments(self) -> list[Instrument]:
        """Return every stored instrument, sorted by id.

        Raises
        ------
        DataFormatError
            If an instrument file does not decode.
        """
        folder = self._root / _INSTRUMENTS
        if not folder.is_dir():
            return []
        union = _instrument_union()
        found = []
        for path in sorted(folder.glob("*.json")):
            try:
                found.append(from_json(path.read_bytes(), union))
            except msgspec.DecodeError as exc:
                raise DataFormatError(path, f"not a zq instrument: {exc}") from None
        return sorted(found, key=lambda instrument: str(instrument.id))

    def instrument(self, instrument_id: InstrumentId | str) -> Instrument | None:
        """Return the stored instrument of ``instrument_id``, or ``None``."""
        path = self._root / _INSTRUMENTS / f"{_encode(str(InstrumentId(str(instrument_id))))}.json"
        if not path.is_file():
            return None
        try:
            instrument: Instrument = from_json(path.read_bytes(), _instrument_union())
        except msgspec.DecodeError as exc:
            raise DataFormatError(path, f"not a zq instrument: {exc}") from None
        return instrument

    def stream(
        self,
        kinds: Iterable[DataKind | str] | None = None,
        instruments: Iterable[InstrumentId | BarType | str] | None = None,
        start: int | None = None,
        end: int | None = None,
        *,
        chunk_size: int = 65_536,
        read_ahead: int = 2,
        on_step: Callable[[int], object] | None = None,
    ) -> Iterator[tuple[DataSeries, Rows]]:
        """Yield the rows of many series merged into one ``ts_init`` order, for replay.

        Each item is ``(series, rows)``: a run of consecutive rows of one series, a view of
        a chunk the catalog read. Concatenating the runs gives every selected row with
        ``start <= ts_init <= end`` exactly once, in the order of the key
        ``(ts_init, series.kind.rank, series.key, storage order)``: at equal ``ts_init``
        deltas come before quotes, trades and bars, then keys in code-point order, then
        each series' own order.

        Parameters
        ----------
        kinds
            Data kinds to include (all by default).
        instruments
            Instrument ids or bar types: a series is included when its key or its
            instrument id is one of them (all by default).
        start, end
            Inclusive ``ts_init`` bounds.
        chunk_size
            Rows read at a time per series. The merge holds at most ``chunk_size`` rows per
            series at once.
        read_ahead
            Row groups per series decoded ahead of the consumer, on one background thread
            (``zq.data.catalog.readahead``), which is stopped and joined when the stream
            ends or is closed; 0 reads in the consumer's thread. The thread reads whole
            row groups (the first one in chunks): at most ``1 + read_ahead`` row groups
            (of ``chunk_size`` rows when larger) per series are held, plus what pyarrow
            decodes of one row group.
        on_step
            Called with the number of rows held by all series before each merge step
            (instrumentation: it never exceeds ``chunk_size`` times the series count).

        Raises
        ------
        DataFormatError
            Before the first item, if a file of the selection is not a catalog file of its
            kind and key (see ``read``); when the consumer reaches it, if a row group does
            not decode (naming the file and the row group).
        """
        chosen, readers = self._readers(kinds, instruments, start, end, chunk_size, read_ahead)
        return merge_series(chosen, readers, on_step)

    def series_streams(
        self,
        kinds: Iterable[DataKind | str] | None = None,
        instruments: Iterable[InstrumentId | BarType | str] | None = None,
        start: int | None = None,
        end: int | None = None,
        *,
        chunk_size: int = 65_536,
        read_ahead: int = 2,
    ) -> list[Iterator[tuple[DataSeries, Rows]]]:
        """Return one stream of ``(series, rows)`` chunks per series, unmerged.

        The streams come in the tie-break order of :meth:`stream` (kind, then key), so a
        replay that merges them by ``(ts_init, kind, stream index)`` replays the rows in the
        same order as :meth:`stream`, with whole chunks instead of runs cut wherever the
        series interleave. Parameters as for ``stream``.
        """
        chosen, readers = self._readers(kinds, instruments, start, end, chunk_size, read_ahead)
        order = sorted(range(len(chosen)), key=lambda i: (chosen[i].kind.rank, chosen[i].key))
        return [_tagged(chosen[i], readers[i]) for i in order]

    def stream_records(
        self,
        kinds: Iterable[DataKind | str] | None = None,
        instruments: Iterable[InstrumentId | BarType | str] | None = None,
        start: int | None = None,
        end: int | None = None,
        *,
        chunk_size: int = 65_536,
        read_ahead: int = 2,
        on_step: Callable[[int], object] | None = None,
    ) -> Iterator[tuple[DataSeries, tuple[Any, ...]]]:
        """Yield ``(series, record)`` per row, in the order of ``stream``.

        A record is the row as a tuple of Python ints in ``series.kind.columns`` order (the
        dtype's fields without padding): the cheapest form when a replay handles one row
        at a time and the series interleave finely. Parameters as for ``stream``.
        """
        chosen, readers = self._readers(kinds, instruments, start, end, chunk_size, read_ahead)
        return merge_series_records(chosen, readers, on_step)

    # -- introspection ---------------------------------------------------------------------

    def kinds(self) -> list[DataKind]:
        """Return the data kinds that have at least one key, in tie-break order."""
        return [kind for kind in DataKind if self.keys(kind)]

    def keys(self, kind: DataKind | str) -> list[str]:
        """Return the keys (instrument ids, bar types) that have files of ``kind``, sorted."""
        folder = self._root / DataKind.of(kind).value
        if not folder.is_dir():
            return []
        return sorted(
            unquote(entry.name)
            for entry in folder.iterdir()
            if entry.is_dir() and any(entry.glob("*.parquet"))
        )

    def files(self, kind: DataKind | str, key: InstrumentId | BarType | str) -> list[CatalogFile]:
        """Return the files of one key ordered by their ``ts_init`` range.

        Raises
        ------
        DataFormatError
            If a ``.parquet`` file in the key's folder is not named ``<start>-<end>``.
        """
        kind = DataKind.of(kind)
        folder = self._folder(kind, _canonical_key(kind, key))
        if not folder.is_dir():
            return []
        found = []
        for path in folder.glob("*.parquet"):
            if path.name.startswith("."):
                continue
            match = _FILE_NAME.match(path.name)
            if match is None:
                raise DataFormatError(
                    path, "not a catalog file name: expected <start>-<end>.parquet (19 digits each)"
                )
            found.append(CatalogFile(path, int(match[1]), int(match[2])))
        found.sort(key=lambda file: (file.start, file.end))
        return found

    def time_range(
        self, kind: DataKind | str, key: InstrumentId | BarType | str
    ) -> tuple[int, int] | None:
        """Return the first and last ``ts_init`` held for one key, or ``None``."""
        files = self.files(kind, key)
        if not files:
            return None
        return files[0].start, max(file.end for file in files)

    def series_of(
        self, kind: DataKind | str, key: InstrumentId | BarType | str
    ) -> DataSeries | None:
        """Return the series of one key with its precisions, or ``None`` if it has no file."""
        kind = DataKind.of(kind)
        key = _canonical_key(kind, key)
        files = self.files(kind, key)
        if not files:
            return None
        _, (price_precision, size_precision) = self._open(files[0].path, kind, key)
        return DataSeries(kind, key, price_precision, size_precision)

    def series(
        self,
        kinds: Iterable[DataKind | str] | None = None,
        instruments: Iterable[InstrumentId | BarType | str] | None = None,
    ) -> list[DataSeries]:
        """Return the selected series in tie-break order (kind rank, then key).

        A series is selected when its kind is in ``kinds`` and its key or its instrument id
        is in ``instruments`` (``None`` selects all).
        """
        chosen_kinds = sorted(
            {DataKind.of(kind) for kind in (DataKind if kinds is None else kinds)},
            key=lambda kind: kind.rank,
        )
        wanted = None if instruments is None else {str(item) for item in instruments}
        found = []
        for kind in chosen_kinds:
            for key in self.keys(kind):
                if (
                    wanted is not None
                    and key not in wanted
                    and kind.instrument_of(key) not in wanted
                ):
                    continue
                series = self.series_of(kind, key)
                if series is not None:
                    found.append(series)
        return found

    # -- internals -------------------------------------------------------------------------

    def _folder(self, kind: DataKind, key: str) -> Path:
        return self._root / kind.value / _encode(key)

    def _readers(
        self,
        kinds: Iterable[DataKind | str] | None,
        instruments: Iterable[InstrumentId | BarType | str] | None,
        start: int | None,
        end: int | None,
        chunk_size: int,
        read_ahead: int,
    ) -> tuple[list[DataSeries], list[Iterator[Rows]]]:
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        if read_ahead < 0:
            raise ValueError(f"read_ahead must be 0 or more, got {read_ahead}")
        low, high = _bounds(start, end)
        chosen = self.series(kinds, instruments)
        # Check every file's footer now, so a bad file stops the replay before it starts
        # rather than halfway through; the readers open the files again one at a time.
        for series in chosen:
            expected = (series.price_precision, series.size_precision)
            for file in self.files(series.kind, series.key):
                if file.start <= high and file.end >= low:
                    _, precisions = self._open(file.path, series.kind, series.key)
                    _same_precisions(file.path, expected, precisions)
        if read_ahead == 0:
            return chosen, [self._chunks(series, low, high, chunk_size, False) for series in chosen]
        # One thread reads ahead for every series (see _chunks for its use of pyarrow threads).
        ahead = ReadAhead(read_ahead, "zq-catalog-read")
        return chosen, [
            _sliced(ahead.stream(self._chunks(series, low, high, chunk_size, True)), chunk_size)
            for series in chosen
        ]

    def _open(self, path: Path, kind: DataKind, key: str) -> tuple[Any, tuple[int, int]]:
        try:
            handle = pq.ParquetFile(path, memory_map=True)
        except (pa.ArrowException, OSError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise DataFormatError(path, f"not a readable Parquet file: {exc}") from None
        precisions = validate_file(path, kind, key, handle.metadata.metadata, handle.schema_arrow)
        return handle, precisions

    def _chunks(
        self, series: DataSeries, low: int, high: int, chunk_size: int, ahead: bool
    ) -> Iterator[Rows]:
        """Yield a series' rows in ``[low, high]`` in chunks of at most ``chunk_size``.

        ``ahead``: read by a read-ahead thread. The row groups are then decoded each
        whole, in one item that ``_sliced`` cuts into chunks in the consumer's thread: the
        reading thread needs the interpreter's lock again after each wait, decode and copy,
        and gets it only when the consumer yields it (after ``sys.getswitchinterval()`` when
        the consumer runs compiled code), so it asks for it a few times per row group rather
        than per chunk. The first row group is read whole in the consumer's thread (see
        readahead.py): the reading thread then has that group's replay to decode the next
        one. (The group's first rows alone first, its rest on the reading thread, kept the
        consumer waiting for that thread at the start, and decoded the group twice.) No
        group is decoded on pyarrow's thread pool: once used, its threads took over part
        of the later decodes too, for more CPU time in all (132-348 ms instead of 117 ms
        for 3 M deltas), taken from a replay that has two cores at most.
        """
        kind, key = series.kind, series.key
        expected = (series.price_precision, series.size_precision)
        for file in self.files(kind, key):
            if file.end < low or file.start > high:
                continue
            handle, precisions = self._open(file.path, kind, key)
            _same_precisions(file.path, expected, precisions)
            groups = _row_groups(handle, kind, low, high)
            batches = _batches(handle, file.path, kind, groups, low, high, chunk_size, ahead)
            for batch in batches:
                out = np.zeros(batch.num_rows, kind.dtype)
                fill_rows(out, 0, kind, batch)
                yield out

    def _check_rows(self, kind: DataKind, key: str, rows: Rows) -> None:
        if not isinstance(rows, np.ndarray) or rows.dtype != kind.dtype or rows.ndim != 1:
            got = (
                f"{rows.ndim}-D array of {rows.dtype}"
                if isinstance(rows, np.ndarray)
                else type(rows).__name__
            )
            raise TypeError(
                f"{kind.value} for {key} must be a 1-D array of the {kind.value} dtype "
                f"(zq.data.arrays), got a {got}"
            )
        ts_init = rows["ts_init"]
        if len(ts_init) == 0:
            return
        if ts_init[0] < 0:
            raise CatalogError(
                f"{kind.value} for {key}: row 0 has a negative ts_init {int(ts_init[0])}; "
                "ts_init is UNIX nanoseconds"
            )
        backwards = np.flatnonzero(ts_init[1:] < ts_init[:-1])
        if len(backwards):
            row = int(backwards[0]) + 1
            raise CatalogError(
                f"{kind.value} for {key} are not sorted by ts_init: row {row} "
                f"(ts_init {int(ts_init[row])}) comes after row {row - 1} "
                f"(ts_init {int(ts_init[row - 1])}); sort them first, e.g. "
                "rows[np.argsort(rows['ts_init'], kind='stable')]"
            )

    def _resolve_precisions(
        self,
        kind: DataKind,
        key: str,
        files: list[CatalogFile],
        price_precision: int | None,
        size_precision: int | None,
    ) -> tuple[int, int]:
        want_price = (
            None if price_precision is None else check_precision("price_precision", price_precision)
        )
        want_size = (
            None if size_precision is None else check_precision("size_precision", size_precision)
        )
        if files:
            _, held = self._open(files[-1].path, kind, key)
            wanted = (("price_precision", want_price), ("size_precision", want_size))
            for (name, want), have in zip(wanted, held, strict=True):
                if want is not None and want != have:
                    raise CatalogError(
                        f"{kind.value} for {key}: {name} {want} differs from the {have} of "
                        f"the key's files already in the catalog "
                        f"(e.g. {files[-1].path.name}); convert the rows to {have} decimals"
                    )
            return held
        if want_price is not None and want_size is not None:
            return want_price, want_size
        instrument = self.instrument(kind.instrument_of(key))
        if instrument is None:
            raise CatalogError(
                f"{kind.value} for {key}: pass price_precision and size_precision, or write "
                f"the instrument {kind.instrument_of(key)} first with write_instrument"
            )
        return (
            instrument.price_precision if want_price is None else want_price,
            instrument.size_precision if want_size is None else want_size,
        )


def _encode(key: str) -> str:
    return quote(key, safe="")


def _canonical_key(kind: DataKind, key: object) -> str:
    try:
        return kind.canonical_key(key)
    except ValueError as exc:
        raise CatalogError(f"invalid {kind.value} key {str(key)!r}: {exc}") from None


def _bounds(start: int | None, end: int | None) -> tuple[int, int]:
    low = 0 if start is None else int(start)
    high = _TS_INIT_MAX if end is None else int(end)
    return low, high


def _check_overlap(
    kind: DataKind, key: str, files: list[CatalogFile], start: int, end: int
) -> None:
    # Ranges are closed; neighbours may share one endpoint, which keeps rows of one
    # ts_init written in two calls in file order. Identical ranges would share a name.
    clashes = [
        file
        for file in files
        if (start < file.end and file.start < end) or (start == file.start and end == file.end)
    ]
    if clashes:
        held = ", ".join(f"[{file.start}, {file.end}]" for file in clashes)
        raise CatalogError(
            f"{kind.value} for {key}: the new rows' ts_init range [{start}, {end}] overlaps "
            f"the range(s) already held {held}; append only data outside them"
        )


def _same_precisions(
    path: Path, expected: tuple[int, int] | None, found: tuple[int, int]
) -> tuple[int, int]:
    if expected is not None and expected != found:
        raise DataFormatError(
            path,
            f"precisions (price {found[0]}, size {found[1]}) differ from the key's other files "
            f"(price {expected[0]}, size {expected[1]})",
        )
    return found


def _batches(
    handle: Any,
    path: Path,
    kind: DataKind,
    groups: list[int],
    low: int,
    high: int,
    batch_size: int,
    whole: bool = False,
) -> Iterator[Any]:
    """Yield the Arrow record batches of ``groups`` cut to ``low <= ts_init <= high``.

    The row groups are decoded one at a time (a batch never spans two), so a group that
    does not decode is named in the ``DataFormatError`` raised for it, when it is reached.
    Batches have ``batch_size`` rows at most, decoded on pyarrow's thread pool; ``whole``:
    each group in one batch (``batch_size`` rows at least) decoded in the calling thread
    instead.
    """
    columns = list(kind.columns)
    for group in groups:
        rows = handle.metadata.row_group(group).num_rows
        if not whole:
            decoded = _decoded(handle, path, group, batch_size, columns, True)
        else:
            decoded = _decoded(handle, path, group, max(batch_size, rows), columns, False)
        for batch in decoded:
            ts_init = batch.column("ts_init").to_numpy()
            if len(ts_init) == 0:
                continue
            first = 0 if ts_init[0] >= low else int(np.searchsorted(ts_init, low, "left"))
            stop = (
                len(ts_init)
                if ts_init[-1] <= high
                else int(np.searchsorted(ts_init, high, "right"))
            )
            if stop > first:
                yield batch if stop - first == len(ts_init) else batch.slice(first, stop - first)
            if stop < len(ts_init):  # past ``high``: so is the rest of the file
                return


def _decoded(
    handle: Any,
    path: Path,
    group: int,
    size: int,
    columns: list[str],
    threads: bool,
) -> Iterator[Any]:
    """Yield the batches of ``size`` rows of one row group; a group that does not decode
    raises ``DataFormatError`` naming it."""
    batches = handle.iter_batches(
        batch_size=size, row_groups=[group], columns=columns, use_threads=threads
    )
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as exc:
            reason = " ".join(str(exc).split())  # pyarrow's message spans lines
            raise DataFormatError(
                path,
                f"row group {group} (of {handle.metadata.num_row_groups}) does not "
                f"decode: {reason}",
            ) from None
        if batch is None:
            return
        yield batch


def _sliced(chunks: Iterator[Rows], size: int) -> Iterator[Rows]:
    """Yield the rows of ``chunks`` in chunks of at most ``size`` (views); close ``chunks``
    when done or closed."""
    try:
        for rows in chunks:
            if len(rows) <= size:
                yield rows
                continue
            for start in range(0, len(rows), size):
                yield rows[start : start + size]
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _row_groups(handle: Any, kind: DataKind, low: int, high: int) -> list[int]:
    """Return the row groups whose ``ts_init`` statistics meet ``[low, high]``."""
    metadata = handle.metadata
    column = kind.columns.index("ts_init")
    chosen = []
    for index in range(metadata.num_row_groups):
        statistics = metadata.row_group(index).column(column).statistics
        if (
            statistics is not None
            and statistics.has_min_max
            and (statistics.max < low or statistics.min > high)
        ):
            continue
        chosen.append(index)
    return chosen


def _instrument_union() -> Any:
    kinds: list[type[Instrument]] = []
    pending = list(Instrument.__subclasses__())
    while pending:
        kind = pending.pop(0)
        kinds.append(kind)
        pending.extend(kind.__subclasses__())
    union: Any = kinds[0]
    for kind in kinds[1:]:
        union = union | kind
    return union


def _tagged(series: DataSeries, chunks: Iterator[Rows]) -> Iterator[tuple[DataSeries, Rows]]:
    try:
        for rows in chunks:
            if len(rows):
                yield series, rows
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # a stream closed early closes its reader (files, read-ahead) now
