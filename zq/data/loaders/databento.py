"""Databento DBN files: market by order, by price, trades, bars, definitions, status, statistics.

DBN is a metadata header followed by fixed-size little-endian records, usually zstd-compressed
(often in several zstd frames). This loader reads DBN versions 1 to 3, streams the file in
fixed-size reads so memory does not grow with the file, and produces zq's columnar arrays
(:mod:`zq.data.arrays`) chunk by chunk, or zq objects.

How records are decoded
    ``databento-dbn`` decodes the metadata header (upgrading v1 and v2 headers to v3) and every
    record of the object schemas: definitions, statistics and status, whose layouts changed
    between versions. The market data schemas (MBO, MBP-1, MBP-10, TBBO, BBO, trades, OHLCV)
    have one layout in every version, so their records are read straight into numpy structured
    arrays and converted column by column, with no Python object per record (zstd
    decompression is then about half of the decoding time). The test suite checks every column
    against ``databento-dbn``'s own decoding of the same files.

What each schema gives
    ========================  ============================================================
    ``mbo``                   ``deltas`` (A add, C cancel, M modify, R clear), ``trades``
                              (T), ``fills`` (F)
    ``mbp-1``                 ``quotes`` (every record), ``trades`` (T records)
    ``tbbo``                  ``trades`` and ``quotes`` (the BBO just before each trade)
    ``bbo-1s``, ``bbo-1m``    ``quotes``
    ``mbp-10``                ``depth`` (:data:`DEPTH10_DTYPE`), ``trades`` (T records)
    ``trades``                ``trades``
    ``ohlcv-1s/1m/1h/1d``     ``bars``
    ``definition``            instruments (:meth:`DatabentoLoader.instruments`)
    ``status``                :class:`~zq.model.data.InstrumentStatus`
    ``statistics``            :class:`DatabentoStatistic`
    ========================  ============================================================

Conventions
    - Prices: DBN prices are int64 in units of 1e-9; zq stores them raw at the instrument's price
      precision (ES, tick 0.25: precision 2, so 4799.25 is 479925). A price that precision cannot
      hold exactly is refused with :class:`~zq.data.errors.DataFormatError`.
    - Sizes: DBN sizes are whole numbers; zq stores ``size * 10**size_precision`` (0 for CME).
    - ``ts_init`` is Databento's ``ts_recv`` (when its capture server received the message);
      records of a file are ordered by it.
    - Bars: a Databento OHLCV record's ``ts_event`` is the bar's **open**. zq stamps bars at their
      **close** (``ts_event = ts_init = open + interval``), so a bar is never seen before it
      closed.
    - MBO ``T`` (trade) and ``F`` (fill) records do not change a Databento book: the size change
      of the resting order comes in a later ``C`` or ``M`` record. So they are not book deltas:
      trades go to ``trades`` and fills to ``fills`` (``DELTA_DTYPE`` rows with action ``FILL``,
      for queue-position models; do not apply them to a book built from the same deltas).
    - A ``C`` record's size is the size canceled; a cancel delta removes that much from the order
      (in CME data every cancel removes the whole order).
    - An empty side of a quote or a depth level keeps DBN's "no price" (:data:`UNDEF_PRICE`) with
      size 0 in the arrays; :meth:`DatabentoLoader.iter_objects` leaves such quotes and levels
      out.
    - DBN trades carry no trade id: ``trade_id`` holds the venue's message sequence number
      (trades of one venue packet share it).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import databento_dbn as dbn
import msgspec
import numpy as np
import numpy.typing as npt
import zstandard

from zq.data.arrays import (
    bars_to_objects,
    deltas_to_objects,
    quotes_to_objects,
    trades_to_objects,
)
from zq.data.errors import DataFormatError
from zq.data.loaders._dbn_records import (
    CONVERTERS,
    DBN_PRICE_PRECISION,
    DEPTH10_DTYPE,
    LAYOUTS,
    OHLCV_SCHEMAS,
    OUTPUT_DTYPES,
    UNDEF_PRICE,
    Array,
    Block,
    Layout,
    Rows,
    Stream,
    dbn_price_text,
    read_blocks,
)
from zq.model.currency import Currency
from zq.model.data import BarSpecification, BarType, BookLevel, InstrumentStatus, OrderBookDepth
from zq.model.enums import AssetClass, MarketStatus, PriceType
from zq.model.identifiers import InstrumentId
from zq.model.instruments import Equity, FuturesContract, Instrument, InstrumentError
from zq_core.fixed import Price, Quantity

__all__ = [
    "DBN_PRICE_PRECISION",
    "DEPTH10_DTYPE",
    "UNDEF_PRICE",
    "DatabentoChunk",
    "DatabentoLoader",
    "DatabentoMetadata",
    "DatabentoStatistic",
    "load_bars",
    "load_deltas",
    "load_depth",
    "load_instruments",
    "load_price_precisions",
    "load_quotes",
    "load_statistics",
    "load_statuses",
    "load_trades",
]

_UNDEF_TIMESTAMP: Final = (1 << 64) - 1
_UNDEF_STAT_QUANTITY: Final = (1 << 63) - 1
_UNDEF_U32: Final = (1 << 32) - 1
_UNDEF_I32: Final = (1 << 31) - 1
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_UPGRADE_TO_V3: Final = dbn.VersionUpgradePolicy.from_int(3)
_SUPPORTED_VERSIONS: Final = (1, 2, 3)
_OBJECT_SCHEMAS: Final = frozenset({"definition", "statistics", "status"})
_CENT: Final = 10_000_000  # one cent in DBN price units


# -- values ------------------------------------------------------------------------------------


class DatabentoMetadata(msgspec.Struct, frozen=True):
    """The metadata header of a DBN file.

    ``version`` is the file's own DBN version (1 to 3); the rest is the header as
    ``databento-dbn`` reads it, upgraded to version 3. ``symbology`` maps each numeric
    ``instrument_id`` of the records to the symbol it was requested by (from the header's
    symbol mappings).
    """

    version: int
    dataset: str
    schema: str | None
    start: int
    end: int | None
    limit: int | None
    stype_in: str | None
    stype_out: str
    ts_out: bool
    symbols: tuple[str, ...]
    symbology: dict[int, str]

    @property
    def venue(self) -> str:
        """The venue part of zq instrument ids: the dataset's first part (``GLBX.MDP3``: GLBX)."""
        return self.dataset.partition(".")[0]


class DatabentoStatistic(msgspec.Struct, frozen=True, gc=False, tag=True):
    """One Databento statistics record (settlement price, open interest, session high...).

    ``stat_type`` is Databento's ``StatType`` value and ``name`` its name (for example
    ``"SETTLEMENT_PRICE"``); ``price`` and ``quantity`` are None where the statistic has none.
    ``update_action`` is 1 for a new value and 2 for the deletion of a previous one.
    """

    instrument_id: InstrumentId
    stat_type: int
    name: str
    price: Price | None
    quantity: int | None
    update_action: int
    stat_flags: int
    sequence: int
    ts_ref: int | None
    ts_event: int
    ts_init: int


def _empty(kind: str) -> Array:
    return np.zeros(0, dtype=OUTPUT_DTYPES[kind])


@dataclass(frozen=True, slots=True)
class DatabentoChunk:
    """The columnar output of one block of records of one instrument.

    Every array has zq's layout (:mod:`zq.data.arrays`, :data:`DEPTH10_DTYPE`); those the
    schema does not produce are empty. ``instrument_id`` is the numeric DBN id. For MBO,
    ``len(deltas) + len(trades) + len(fills) + ignored == record_count`` (``ignored``
    counts ``N`` records, which carry nothing). ``rows`` maps each output's name to the file
    index of the record behind each of its rows, to merge outputs back into file order.
    """

    instrument_id: int
    first_record: int  # file index of the first record the chunk came from
    record_count: int
    deltas: Array = field(default_factory=lambda: _empty("deltas"))
    trades: Array = field(default_factory=lambda: _empty("trades"))
    fills: Array = field(default_factory=lambda: _empty("fills"))
    quotes: Array = field(default_factory=lambda: _empty("quotes"))
    bars: Array = field(default_factory=lambda: _empty("bars"))
    depth: Array = field(default_factory=lambda: _empty("depth"))
    ignored: int = 0
    rows: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict, repr=False)


# -- the loader --------------------------------------------------------------------------------


class DatabentoLoader:
    """Read one DBN file (plain or zstd-compressed, any number of zstd frames).

    The metadata header is read, checked and decoded when the loader is created; records are
    read only while iterating, in fixed-size reads, so memory holds one chunk at a time.

    Parameters
    ----------
    path : str or Path
        The ``.dbn`` or ``.dbn.zst`` file (zstd is recognised by its magic bytes).
    price_precision : int or Mapping[int, int], optional
        Decimals of the instrument's prices (ES: 2), or a map from each numeric
        ``instrument_id`` to its precision (see :func:`load_price_precisions`), 0 to 9.
        Required to read market data.
    size_precision : int
        Decimals of sizes (0 for CME futures).
    venue : str, optional
        The venue of zq instrument ids; by default the dataset's first part (``GLBX``).
    currency : str
        The quote currency of definitions that leave theirs blank (Databento's US equity
        datasets do).
    read_size : int
        Bytes per read of the object schemas (definitions, status, statistics).

    Raises
    ------
    DataFormatError
        If the file cannot be opened or is not DBN, its version is not 1 to 3, its zstd data
        is corrupt or its metadata header is cut short or malformed.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        price_precision: int | Mapping[int, int] | None = None,
        size_precision: int = 0,
        venue: str | None = None,
        currency: str = "USD",
        read_size: int = 1 << 20,
    ) -> None:
        self.path = Path(path)
        if isinstance(price_precision, int):
            precisions: Iterable[int] = (price_precision,)
        else:
            precisions = () if price_precision is None else price_precision.values()
        for precision in precisions:
            if not 0 <= precision <= DBN_PRICE_PRECISION:
                raise ValueError(
                    f"price_precision must be 0..9 (DBN prices have 9 decimals), got {precision}"
                )
        if not 0 <= size_precision <= 9:
            raise ValueError(f"size_precision must be 0..9, got {size_precision}")
        if read_size <= 0:
            raise ValueError(f"read_size must be positive, got {read_size}")
        self._price_precision = price_precision
        self._size_precision = size_precision
        self._currency = currency
        self._read_size = read_size
        self._header_size = 0
        with self._open() as stream:
            self.metadata = self._read_metadata(stream)
        self.venue = venue if venue is not None else self.metadata.venue

    def __repr__(self) -> str:
        meta = self.metadata
        return f"DatabentoLoader({str(self.path)!r}, schema={meta.schema}, version={meta.version})"

    @property
    def schema(self) -> str:
        """The file's schema (``mbo``, ``ohlcv-1m``, ...)."""
        if self.metadata.schema is None:
            raise DataFormatError(
                self.path, "mixed-schema DBN files are not supported", field="schema"
            )
        return self.metadata.schema

    # -- identifiers ---------------------------------------------------------------------

    def instrument_id(self, numeric_id: int) -> InstrumentId:
        """Return the zq ``InstrumentId`` of a numeric DBN ``instrument_id``: ``SYMBOL.VENUE``.

        The symbol comes from the header's symbol mappings; an id they do not name keeps its
        number (``146945.GLBX``).
        """
        symbol = self.metadata.symbology.get(numeric_id, str(numeric_id))
        return InstrumentId(f"{symbol}.{self.venue}")

    def bar_type(self, numeric_id: int) -> BarType:
        """Return the ``BarType`` of this OHLCV file's bars of ``numeric_id``."""
        self._require_schema("bar types", tuple(OHLCV_SCHEMAS))
        step, aggregation, _, _ = OHLCV_SCHEMAS[self.schema]
        spec = BarSpecification(step, aggregation, PriceType.LAST)
        return BarType(self.instrument_id(numeric_id), spec)

    # -- columnar output -----------------------------------------------------------------

    def iter_records(self, chunk_size: int = 65_536) -> Iterator[Array]:
        """Yield the raw DBN records of a market data schema, ``chunk_size`` at a time.

        Each array has the DBN record layout (field names as in Databento's docs; prices in
        1e-9 units, ``action`` and ``side`` as character codes). Record lengths and types
        are checked before a chunk is yielded.
        """
        for _, records in self._blocks(chunk_size):
            yield records

    def iter_chunks(
        self, chunk_size: int = 65_536, *, instrument_id: int | None = None
    ) -> Iterator[DatabentoChunk]:
        """Yield the file's market data as zq arrays, ``chunk_size`` records at a time.

        A block of records holding several instruments gives one chunk per instrument, in the
        order of their first record; ``instrument_id`` keeps only that instrument.

        Raises
        ------
        DataFormatError
            For a malformed record (naming it and its field), a price the precision cannot
            hold, or a schema with no columnar output (definitions, status, statistics,
            imbalance). Nothing of the block that holds a malformed record is yielded.
        ValueError
            If no price precision was given for an instrument of the file.
        """
        for first, records in self._blocks(chunk_size):
            yield from self._convert(first, records, instrument_id)

    def iter_objects(
        self, *, instrument_id: int | None = None, include_fills: bool = False
    ) -> Iterator[object]:
        """Yield zq objects in file order.

        Market data schemas give ``OrderBookDelta``, ``TradeTick``, ``QuoteTick``, ``Bar`` and
        ``OrderBookDepth``; MBO fills are left out unless ``include_fills`` (they come as
        ``OrderBookDelta`` with action ``FILL``), and so are quotes with an empty side.
        Definitions give instruments, status gives ``InstrumentStatus`` and statistics give
        :class:`DatabentoStatistic`.
        """
        schema = self.schema
        if schema == "definition":
            yield from self._instruments(instrument_id)
        elif schema == "status":
            yield from self._statuses(instrument_id)
        elif schema == "statistics":
            yield from self._statistics(instrument_id)
        else:
            for chunk in self.iter_chunks(instrument_id=instrument_id):
                yield from self._chunk_objects(chunk, include_fills)

    # -- object schemas ------------------------------------------------------------------

    def iter_dbn_records(self) -> Iterator[Any]:
        """Yield ``databento-dbn`` record objects of any schema, upgraded to DBN version 3."""
        decoder = dbn.DBNDecoder(upgrade_policy=_UPGRADE_TO_V3)
        index = 0
        with self._open() as stream:
            while True:
                data = self._read(stream, self._read_size, index)
                if not data:
                    break
                try:
                    decoded = decoder.write_and_decode(data)
                except dbn.DBNError as exc:
                    raise DataFormatError(
                        self.path, f"record cannot be decoded: {exc}", record=index
                    ) from None
                for record in decoded:
                    if not isinstance(record, dbn.Metadata):
                        yield record
                        index += 1
        rest = decoder.buffer()
        if rest:
            declared = rest[0] * 4
            raise DataFormatError(
                self.path,
                f"file ends {len(rest)} bytes into a record whose header says {declared} "
                "bytes (truncated)",
                record=index,
                field="length",
            )

    def instruments(self, instrument_id: int | None = None) -> list[Instrument]:
        """Return the instruments of a definition file (futures and equities).

        Raises
        ------
        DataFormatError
            If the file is not a definition file, or a definition has a class zq has no
            instrument for (options, spreads...) or fields that make no valid instrument.
        """
        return list(self._instruments(instrument_id))

    def _records_of(self, kind: type[Any], instrument_id: int | None) -> Iterator[tuple[int, Any]]:
        """``(index, record)`` of an object schema's records, refusing a record of another type."""
        for index, record in enumerate(self.iter_dbn_records()):
            if not isinstance(record, kind):
                raise DataFormatError(
                    self.path,
                    f"record type does not belong to schema {self.schema}",
                    record=index,
                    field="rtype",
                    value=int(getattr(record, "rtype", -1)),
                )
            if instrument_id is None or record.instrument_id == instrument_id:
                yield index, record

    def _instruments(self, instrument_id: int | None) -> Iterator[Instrument]:
        self._require_schema("instruments", ("definition",))
        for index, record in self._records_of(dbn.InstrumentDefMsg, instrument_id):
            yield self._instrument(index, record)

    def _statuses(self, instrument_id: int | None) -> Iterator[InstrumentStatus]:
        self._require_schema("instrument status", ("status",))
        for _, record in self._records_of(dbn.StatusMsg, instrument_id):
            reason = _enum_name(record.reason)
            yield InstrumentStatus(
                self.instrument_id(record.instrument_id),
                _market_status(record),
                record.ts_event,
                record.ts_recv,
                None if reason in (None, "NONE") else reason,
            )

    def _statistics(self, instrument_id: int | None) -> Iterator[DatabentoStatistic]:
        self._require_schema("statistics", ("statistics",))
        for index, record in self._records_of(dbn.StatMsg, instrument_id):
            price = None
            if record.price != UNDEF_PRICE:
                digits = (
                    DBN_PRICE_PRECISION
                    if self._price_precision is None
                    else self._precision_of(record.instrument_id, index)
                )
                divisor = 10 ** (DBN_PRICE_PRECISION - digits)
                if record.price % divisor:
                    raise DataFormatError(
                        self.path,
                        f"price {dbn_price_text(record.price)} is not representable at "
                        f"precision {digits}",
                        record=index,
                        field="price",
                        value=record.price,
                    )
                price = Price.from_raw(record.price // divisor, digits)
            quantity = record.quantity
            yield DatabentoStatistic(
                instrument_id=self.instrument_id(record.instrument_id),
                stat_type=int(record.stat_type),
                name=_enum_name(record.stat_type) or str(int(record.stat_type)),
                price=price,
                quantity=None if quantity == _UNDEF_STAT_QUANTITY else int(quantity),
                update_action=int(record.update_action),
                stat_flags=int(record.stat_flags),
                sequence=int(record.sequence),
                ts_ref=None if record.ts_ref == _UNDEF_TIMESTAMP else int(record.ts_ref),
                ts_event=int(record.ts_event),
                ts_init=int(record.ts_recv),
            )

    def _instrument(self, index: int, record: Any) -> Instrument:
        kind = str(record.instrument_class)
        symbol = record.raw_symbol
        try:
            instrument_id = InstrumentId(f"{symbol}.{self.venue}")
        except ValueError as exc:
            raise DataFormatError(
                self.path, str(exc), record=index, field="raw_symbol", value=symbol
            ) from None
        code = record.currency or self._currency
        try:
            currency = Currency.from_str(code)
        except (ValueError, KeyError):
            raise DataFormatError(
                self.path, "unknown currency", record=index, field="currency", value=code
            ) from None
        tick = record.min_price_increment
        if tick == UNDEF_PRICE and kind == "K":
            tick = _CENT  # US equity definitions carry no tick: one cent
        if tick == UNDEF_PRICE or tick <= 0:
            raise DataFormatError(
                self.path,
                "no positive tick size",
                record=index,
                field="min_price_increment",
                value=tick,
            )
        size = self._size_precision
        common: dict[str, Any] = {
            "id": instrument_id,
            "raw_symbol": symbol,
            "quote_currency": currency,
            "price_increment": Price(*_dbn_decimal(tick)),
            "size_increment": Quantity(1, size),
            "ts_event": int(record.ts_event),
            "ts_init": int(record.ts_recv),
        }
        if record.min_lot_size_round_lot not in (_UNDEF_I32, 0):
            common["lot_size"] = Quantity(record.min_lot_size_round_lot, size)
        if record.min_trade_vol not in (_UNDEF_U32, 0):
            common["min_quantity"] = Quantity(record.min_trade_vol, size)
        if record.max_trade_vol not in (_UNDEF_U32, 0):
            common["max_quantity"] = Quantity(record.max_trade_vol, size)
        try:
            if kind == "F":
                return FuturesContract(
                    **common,
                    asset_class=_futures_asset_class(record.cfi),
                    multiplier=_multiplier(record),
                    underlying=record.asset,
                    activation_ns=int(record.activation),
                    expiration_ns=int(record.expiration),
                )
            if kind == "K":
                return Equity(**common, asset_class=AssetClass.EQUITY)
        except InstrumentError as exc:
            raise DataFormatError(self.path, str(exc), record=index) from None
        raise DataFormatError(
            self.path,
            "zq has no instrument for this class (it reads futures 'F' and stocks 'K')",
            record=index,
            field="instrument_class",
            value=kind,
        )

    # -- reading -------------------------------------------------------------------------

    def _open(self) -> Stream:
        """Open the file for reading, decompressing zstd across all of its frames."""
        try:
            raw = open(self.path, "rb")  # noqa: SIM115 - handed to the caller's with-block
        except OSError as exc:
            raise DataFormatError(self.path, f"cannot open: {exc.strerror}") from None
        if raw.read(4) == _ZSTD_MAGIC:
            raw.seek(0)
            # Across frames: many DBN files hold their metadata in a frame of its own, and a
            # decoder that stops after the first frame returns no record at all.
            return zstandard.ZstdDecompressor().stream_reader(
                raw, read_across_frames=True, closefd=True
            )
        raw.seek(0)
        return raw

    def _read(self, stream: Stream, size: int, record: int | None) -> bytes:
        try:
            return stream.read(size)
        except zstandard.ZstdError as exc:
            raise DataFormatError(self.path, f"corrupt zstd data: {exc}", record=record) from None

    def _read_exact(self, stream: Stream, size: int) -> bytes:
        data = self._read(stream, size, None)
        while len(data) < size:
            more = self._read(stream, size - len(data), None)
            if not more:
                break
            data += more
        return data

    def _read_metadata(self, stream: Stream) -> DatabentoMetadata:
        prelude = self._read_exact(stream, 8)
        if len(prelude) < 8 or prelude[:3] != b"DBN":
            raise DataFormatError(
                self.path,
                "not a DBN file (it must start with 'DBN')",
                field="magic",
                value=prelude[:4],
            )
        version = prelude[3]
        if version not in _SUPPORTED_VERSIONS:
            raise DataFormatError(
                self.path,
                "unsupported DBN version (zq reads versions 1 to 3)",
                field="version",
                value=version,
            )
        length = int.from_bytes(prelude[4:8], "little")
        body = self._read_exact(stream, length)
        if len(body) < length:
            raise DataFormatError(
                self.path,
                f"file ends inside the {length}-byte metadata header",
                field="metadata",
            )
        try:
            meta = dbn.Metadata.decode(prelude + body, upgrade_policy=_UPGRADE_TO_V3)
        except (dbn.DBNError, ValueError) as exc:
            raise DataFormatError(
                self.path, f"malformed metadata header: {exc}", field="metadata"
            ) from None
        self._header_size = 8 + length
        symbology: dict[int, str] = {}
        for symbol, intervals in meta.mappings.items():
            for interval in intervals:
                mapped = str(interval["symbol"])
                if mapped.isdigit():
                    symbology[int(mapped)] = symbol
        return DatabentoMetadata(
            version=version,
            dataset=meta.dataset,
            schema=None if meta.schema is None else str(getattr(meta.schema, "value", meta.schema)),
            start=meta.start,
            end=None if meta.end in (None, _UNDEF_TIMESTAMP) else meta.end,
            limit=meta.limit or None,
            stype_in=None if meta.stype_in is None else str(meta.stype_in.value),
            stype_out=str(meta.stype_out.value),
            ts_out=meta.ts_out,
            symbols=tuple(meta.symbols),
            symbology=symbology,
        )

    def _layout(self) -> Layout:
        schema = self.schema
        layout = LAYOUTS.get(schema)
        if layout is None:
            if schema in _OBJECT_SCHEMAS:
                problem = (
                    f"schema {schema} has no columnar output; use instruments(), "
                    "iter_objects() or the load_* function of its schema"
                )
            else:
                problem = f"schema {schema} is not supported"
            raise DataFormatError(self.path, problem, field="schema", value=schema)
        return layout

    def _blocks(self, chunk_size: int) -> Iterator[tuple[int, Array]]:
        layout = self._layout()
        dtype = layout.with_ts_out() if self.metadata.ts_out else layout.dtype
        with self._open() as stream:
            self._read_exact(stream, self._header_size)
            yield from read_blocks(stream, self.path, self.schema, dtype, chunk_size)

    # -- conversion ----------------------------------------------------------------------

    def _convert(
        self, first: int, records: Array, instrument_id: int | None
    ) -> Iterator[DatabentoChunk]:
        ids = records["instrument_id"]
        groups: list[tuple[int, Rows]]
        if instrument_id is not None:
            groups = [(instrument_id, np.flatnonzero(ids == instrument_id))]
        elif bool((ids == ids[0]).all()):
            groups = [(int(ids[0]), np.arange(records.size))]
        else:
            unique, first_seen = np.unique(ids, return_index=True)
            groups = [
                (int(unique[i]), np.flatnonzero(ids == unique[i]))
                for i in np.argsort(first_seen, kind="stable")
            ]
        convert = CONVERTERS[self.schema]
        interval = OHLCV_SCHEMAS[self.schema][2] if self.schema in OHLCV_SCHEMAS else 0
        chunks = []
        # Convert (and so check) every group of the block before yielding any of it.
        for numeric, rows in groups:
            if not rows.size:
                continue
            selected = records if rows.size == records.size else records[rows]
            block = Block(
                self.path,
                selected,
                first,
                rows,
                self._precision_of(numeric, first + int(rows[0])),
                self._size_precision,
                interval,
            )
            converted = convert(block)
            chunks.append(
                DatabentoChunk(
                    instrument_id=numeric,
                    first_record=first + int(rows[0]),
                    record_count=int(rows.size),
                    ignored=converted.ignored,
                    rows=converted.rows,
                    **converted.outputs,
                )
            )
        yield from chunks

    def _precision_of(self, numeric_id: int, record: int) -> int:
        precision = self._price_precision
        if precision is None:
            raise ValueError(
                f"{self.path}: price_precision is required to read prices of schema "
                f"{self.schema} (ES: 2)"
            )
        if isinstance(precision, int):
            return precision
        try:
            return precision[numeric_id]
        except KeyError:
            raise ValueError(
                f"{self.path}: no price precision for instrument_id {numeric_id} "
                f"(first seen at record {record})"
            ) from None

    # -- objects -------------------------------------------------------------------------

    def _chunk_objects(self, chunk: DatabentoChunk, include_fills: bool) -> Iterator[object]:
        numeric = chunk.instrument_id
        precision = self._precision_of(numeric, chunk.first_record)
        size_precision = self._size_precision
        instrument = self.instrument_id(numeric)
        # (file index of the record, order within the record, object), merged in file order.
        streams: list[Iterator[tuple[int, int, object]]] = []

        def add(kind: str, order: int, items: Iterable[object], keep: Any = None) -> None:
            rows = chunk.rows[kind] if keep is None else chunk.rows[kind][keep]
            streams.append(
                (row, order, item) for row, item in zip(rows.tolist(), items, strict=True)
            )

        if chunk.deltas.size:
            add("deltas", 1, deltas_to_objects(chunk.deltas, instrument, precision, size_precision))
        if include_fills and chunk.fills.size:
            add("fills", 1, deltas_to_objects(chunk.fills, instrument, precision, size_precision))
        if chunk.quotes.size:
            quotes = chunk.quotes
            full = (quotes["bid_price"] != UNDEF_PRICE) & (quotes["ask_price"] != UNDEF_PRICE)
            items = quotes_to_objects(quotes[full], instrument, precision, size_precision)
            add("quotes", 0, items, full)
        if chunk.depth.size:
            add("depth", 0, self._depth_objects(chunk.depth, instrument, precision))
        if chunk.trades.size:
            add("trades", 2, trades_to_objects(chunk.trades, instrument, precision, size_precision))
        if chunk.bars.size:
            bar_type = self.bar_type(numeric)
            add("bars", 0, bars_to_objects(chunk.bars, bar_type, precision, size_precision))
        for _, _, item in heapq.merge(*streams, key=lambda entry: entry[:2]):
            yield item

    def _depth_objects(
        self, depth: Array, instrument: InstrumentId, precision: int
    ) -> Iterator[OrderBookDepth]:
        size_precision = self._size_precision
        for row in depth:
            bids, asks = (
                tuple(
                    BookLevel(
                        Price.from_raw(price, precision),
                        Quantity.from_raw(size, size_precision),
                        count,
                    )
                    for price, size, count in zip(
                        row[f"{side}_price"].tolist(),
                        row[f"{side}_size"].tolist(),
                        row[f"{side}_count"].tolist(),
                        strict=True,
                    )
                    if price != UNDEF_PRICE
                )
                for side in ("bid", "ask")
            )
            yield OrderBookDepth(
                instrument,
                bids,
                asks,
                int(row["sequence"]),
                int(row["ts_event"]),
                int(row["ts_init"]),
            )

    # -- helpers of the load_* functions -------------------------------------------------

    def _require_schema(self, what: str, schemas: tuple[str, ...]) -> None:
        if self.schema not in schemas:
            raise DataFormatError(
                self.path,
                f"schema {self.schema} has no {what} (they come from {', '.join(schemas)})",
                field="schema",
                value=self.schema,
            )

    def _collect(self, kind: str, what: str, chunk_size: int, instrument_id: int | None) -> Array:
        schemas = tuple(schema for schema, layout in LAYOUTS.items() if kind in layout.outputs)
        self._require_schema(what, schemas)
        parts: dict[int, list[Array]] = {}
        for chunk in self.iter_chunks(chunk_size, instrument_id=instrument_id):
            parts.setdefault(chunk.instrument_id, []).append(getattr(chunk, kind))
        if len(parts) > 1:
            raise ValueError(
                f"{self.path} holds instruments {', '.join(map(str, sorted(parts)))}: pass "
                "instrument_id= to load one of them"
            )
        arrays = next(iter(parts.values()), [])
        return np.concatenate(arrays) if arrays else _empty(kind)


# -- definitions and status --------------------------------------------------------------------


def _dbn_decimal(value: int) -> tuple[Decimal, int]:
    """A DBN fixed-point value (1e-9 units) and the decimals it needs."""
    number = Decimal(value).scaleb(-DBN_PRICE_PRECISION).normalize()
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    return number, max(0, -exponent)


def _multiplier(record: Any) -> Quantity:
    unit = record.unit_of_measure_qty  # CME: the contract multiplier (ES: 50), 1e-9 units
    if unit not in (UNDEF_PRICE, 0):
        return Quantity(*_dbn_decimal(unit))
    if record.contract_multiplier not in (_UNDEF_I32, 0):
        return Quantity(record.contract_multiplier, 0)
    return Quantity(1, 0)


_CFI_FINANCIAL = {
    "C": AssetClass.FX,
    "D": AssetClass.INTEREST_RATE,
    "I": AssetClass.INDEX,
    "N": AssetClass.INTEREST_RATE,
    "S": AssetClass.EQUITY,
}


def _futures_asset_class(cfi: str) -> AssetClass:
    """Read a future's asset class from its ISO 10962 CFI code (``FFI...``: index)."""
    if cfi.startswith("FF") and len(cfi) > 2:
        return _CFI_FINANCIAL.get(cfi[2], AssetClass.INDEX)
    return AssetClass.COMMODITY


def _enum_name(value: Any) -> str | None:
    name = getattr(value, "name", None)
    return None if name is None else str(name)


_STATUS_BY_ACTION = {
    "PRE_OPEN": MarketStatus.PRE_OPEN,
    "PRE_CROSS": MarketStatus.PRE_OPEN,
    "QUOTING": MarketStatus.PRE_OPEN,
    "CROSS": MarketStatus.PRE_OPEN,
    "ROTATION": MarketStatus.PRE_OPEN,
    "NEW_PRICE_INDICATION": MarketStatus.PRE_OPEN,
    "TRADING": MarketStatus.OPEN,
    "HALT": MarketStatus.HALT,
    "PAUSE": MarketStatus.PAUSE,
    "SUSPEND": MarketStatus.HALT,
    "PRE_CLOSE": MarketStatus.OPEN,
    "CLOSE": MarketStatus.CLOSE,
    "POST_CLOSE": MarketStatus.CLOSE,
    "NOT_AVAILABLE_FOR_TRADING": MarketStatus.NOT_AVAILABLE,
}


def _market_status(record: Any) -> MarketStatus:
    """Map a Databento status action to zq's ``MarketStatus``.

    Actions that change no market state (``NONE``, a short-sell restriction change) fall back
    on the record's ``is_trading`` / ``is_quoting`` flags.
    """
    status = _STATUS_BY_ACTION.get(_enum_name(record.action) or "")
    if status is not None:
        return status
    if str(record.is_trading) == "Y":
        return MarketStatus.OPEN
    if str(record.is_quoting) == "Y":
        return MarketStatus.PRE_OPEN
    if str(record.is_trading) == "N":
        return MarketStatus.CLOSE
    return MarketStatus.NOT_AVAILABLE


# -- one-call loaders --------------------------------------------------------------------------

_Precision = int | Mapping[int, int]


def load_deltas(
    path: str | Path,
    price_precision: _Precision,
    *,
    size_precision: int = 0,
    instrument_id: int | None = None,
    chunk_size: int = 65_536,
) -> Array:
    """Return the book deltas (A, C, M, R) of an MBO file as one ``DELTA_DTYPE`` array.

    A file of several instruments needs ``instrument_id``. Trades and fills are not book
    deltas in Databento MBO: read them with :func:`load_trades` or
    :meth:`DatabentoLoader.iter_chunks`.
    """
    loader = DatabentoLoader(path, price_precision=price_precision, size_precision=size_precision)
    return loader._collect("deltas", "book deltas", chunk_size, instrument_id)


def load_trades(
    path: str | Path,
    price_precision: _Precision,
    *,
    size_precision: int = 0,
    instrument_id: int | None = None,
    chunk_size: int = 65_536,
) -> Array:
    """Return the trades of a trades, TBBO, MBP-1, MBP-10 or MBO file (``TRADE_DTYPE``)."""
    loader = DatabentoLoader(path, price_precision=price_precision, size_precision=size_precision)
    return loader._collect("trades", "trades", chunk_size, instrument_id)


def load_quotes(
    path: str | Path,
    price_precision: _Precision,
    *,
    size_precision: int = 0,
    instrument_id: int | None = None,
    chunk_size: int = 65_536,
) -> Array:
    """Return the top-of-book quotes of an MBP-1, TBBO or BBO file (``QUOTE_DTYPE``)."""
    loader = DatabentoLoader(path, price_precision=price_precision, size_precision=size_precision)
    return loader._collect("quotes", "quotes", chunk_size, instrument_id)


def load_bars(
    path: str | Path,
    price_precision: _Precision,
    *,
    size_precision: int = 0,
    instrument_id: int | None = None,
    chunk_size: int = 65_536,
) -> Array:
    """Return the bars of an OHLCV file (``BAR_DTYPE``), stamped at their close.

    Databento's ``ts_event`` is the bar's open; here ``ts_event`` and ``ts_init`` are
    ``open + interval``.
    """
    loader = DatabentoLoader(path, price_precision=price_precision, size_precision=size_precision)
    return loader._collect("bars", "bars", chunk_size, instrument_id)


def load_depth(
    path: str | Path,
    price_precision: _Precision,
    *,
    size_precision: int = 0,
    instrument_id: int | None = None,
    chunk_size: int = 65_536,
) -> Array:
    """Return the ten-level depth snapshots of an MBP-10 file (:data:`DEPTH10_DTYPE`)."""
    loader = DatabentoLoader(path, price_precision=price_precision, size_precision=size_precision)
    return loader._collect("depth", "depth snapshots", chunk_size, instrument_id)


def load_instruments(path: str | Path, *, size_precision: int = 0) -> list[Instrument]:
    """Return the instruments of a definition file (``FuturesContract``, ``Equity``)."""
    return DatabentoLoader(path, size_precision=size_precision).instruments()


def load_price_precisions(path: str | Path) -> dict[int, int]:
    """Map each numeric ``instrument_id`` of a definition file to its price precision.

    The precision is the number of decimals of the tick size (ES, tick 0.25: 2). Pass the
    result as ``price_precision`` to read that venue's market data files.
    """
    loader = DatabentoLoader(path)
    loader._require_schema("instruments", ("definition",))
    return {
        int(record.instrument_id): loader._instrument(index, record).price_precision
        for index, record in loader._records_of(dbn.InstrumentDefMsg, None)
    }


def load_statuses(path: str | Path) -> list[InstrumentStatus]:
    """Return the trading status changes of a status file."""
    return list(DatabentoLoader(path)._statuses(None))


def load_statistics(
    path: str | Path, price_precision: _Precision | None = None
) -> list[DatabentoStatistic]:
    """Return the statistics of a statistics file.

    Prices keep DBN's nine decimals unless ``price_precision`` is given: statistics such as
    a VWAP need not lie on the tick grid.
    """
    return list(DatabentoLoader(path, price_precision=price_precision)._statistics(None))
