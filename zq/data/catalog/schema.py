"""The catalog's on-disk schema: data kinds, their Arrow schemas, and the file metadata.

Every Parquet file of the catalog holds one data kind of one key (an instrument id, or a
bar type for bars), sorted by ``ts_init``. Its columns are the fields of the kind's numpy
dtype (``zq.data.arrays``) without the padding, as non-nullable integers; its key-value
metadata says what it is (``zq.*`` keys below). ``SCHEMA_VERSION`` changes whenever a
column or a metadata key changes meaning, and readers refuse versions they do not know.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]

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
from zq.data.errors import DataFormatError
from zq.model.data import BarType
from zq.model.identifiers import InstrumentId
from zq_core.fixed import FIXED_PRECISION_MAX
from zq_core.replay import fill_columns

__all__ = [
    "METADATA_KEY",
    "METADATA_KIND",
    "METADATA_PRICE_PRECISION",
    "METADATA_SCHEMA_VERSION",
    "METADATA_SIZE_PRECISION",
    "SCHEMA_VERSION",
    "DataKind",
    "DataSeries",
    "arrow_schema",
]

Rows = npt.NDArray[np.void]

#: Version of the file layout written by this zq. Readers accept 1 to ``SCHEMA_VERSION``.
SCHEMA_VERSION = 1

#: Parquet key-value metadata written into every file (values are UTF-8 strings).
METADATA_SCHEMA_VERSION = "zq.schema_version"
METADATA_KIND = "zq.kind"
METADATA_KEY = "zq.key"
METADATA_PRICE_PRECISION = "zq.price_precision"
METADATA_SIZE_PRECISION = "zq.size_precision"


class DataKind(StrEnum):
    """A kind of market data the catalog stores, in replay tie-break order.

    At equal ``ts_init`` a merged stream yields deltas, then quotes, then trades, then bars
    (a bar closes on what came before it).
    """

    DELTAS = "deltas"
    QUOTES = "quotes"
    TRADES = "trades"
    BARS = "bars"

    @classmethod
    def of(cls, value: DataKind | str) -> DataKind:
        """Return the kind named ``value``.

        Raises
        ------
        ValueError
            If ``value`` names no kind; the message lists the kinds.
        """
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(kind.value for kind in cls)
            raise ValueError(f"unknown data kind {value!r}; expected one of {names}") from None

    @property
    def dtype(self) -> np.dtype[np.void]:
        """The numpy structured dtype of this kind's rows."""
        return _DTYPES[self]

    @property
    def rank(self) -> int:
        """Position in the tie-break order (deltas 0, quotes 1, trades 2, bars 3)."""
        return _RANKS[self]

    @property
    def columns(self) -> tuple[str, ...]:
        """The stored columns: the dtype's fields without padding, in dtype order."""
        return _COLUMNS[self]

    def canonical_key(self, key: object) -> str:
        """Return ``key`` as the catalog spells it: an instrument id, or a bar type for bars.

        Raises
        ------
        ValueError
            If ``key`` is not a valid instrument id (or bar type, for bars).
        """
        text = str(key)
        if self is DataKind.BARS:
            return str(BarType.from_str(text))
        return str(InstrumentId(text))

    def instrument_of(self, key: str) -> str:
        """Return the instrument id a key belongs to (the key itself, but for bars)."""
        if self is DataKind.BARS:
            return str(BarType.from_str(key).instrument_id)
        return key


_DTYPES: dict[DataKind, np.dtype[np.void]] = {
    DataKind.DELTAS: DELTA_DTYPE,
    DataKind.QUOTES: QUOTE_DTYPE,
    DataKind.TRADES: TRADE_DTYPE,
    DataKind.BARS: BAR_DTYPE,
}
_RANKS = {kind: rank for rank, kind in enumerate(DataKind)}
_COLUMNS: dict[DataKind, tuple[str, ...]] = {
    kind: tuple(name for name in dtype.names or () if not name.startswith("_"))
    for kind, dtype in _DTYPES.items()
}
_ARROW_TYPES = {
    np.dtype("<i8"): pa.int64(),
    np.dtype("<u8"): pa.uint64(),
    np.dtype("u1"): pa.uint8(),
}


def arrow_schema(kind: DataKind) -> Any:
    """Return the Arrow schema (without metadata) of ``kind``'s files.

    One non-nullable column per dtype field, padding excluded: ``int64`` for timestamps,
    prices and sizes, ``uint64`` for ids and sequence numbers, ``uint8`` for enums and flags.
    """
    return _SCHEMAS[kind]


_SCHEMAS = {
    kind: pa.schema(
        [
            pa.field(name, _ARROW_TYPES[kind.dtype.fields[name][0]], nullable=False)  # type: ignore[index]
            for name in kind.columns
        ]
    )
    for kind in DataKind
}


def file_metadata(
    kind: DataKind, key: str, price_precision: int, size_precision: int
) -> dict[str, str]:
    """Return the ``zq.*`` key-value metadata of a file."""
    return {
        METADATA_SCHEMA_VERSION: str(SCHEMA_VERSION),
        METADATA_KIND: kind.value,
        METADATA_KEY: key,
        METADATA_PRICE_PRECISION: str(price_precision),
        METADATA_SIZE_PRECISION: str(size_precision),
    }


def check_precision(name: str, value: object) -> int:
    """Return ``value`` as a precision, or raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not 0 <= value <= FIXED_PRECISION_MAX:
        raise ValueError(f"{name} must be in 0..{FIXED_PRECISION_MAX}, got {value}")
    return int(value)


def validate_file(
    path: Path, kind: DataKind, key: str, metadata: Mapping[bytes, bytes] | None, schema: Any
) -> tuple[int, int]:
    """Check a file's metadata and columns; return its (price, size) precision.

    Raises
    ------
    DataFormatError
        Naming the file and what is wrong: no zq metadata, an unknown or newer schema
        version, another kind or key than its place in the catalog says, a bad precision,
        or columns that differ from the kind's schema.
    """
    meta = {
        k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
        for k, v in (metadata or {}).items()
    }
    version_text = meta.get(METADATA_SCHEMA_VERSION)
    if version_text is None:
        raise DataFormatError(
            path,
            f"not a zq catalog file: its Parquet metadata has no {METADATA_SCHEMA_VERSION!r}",
        )
    try:
        version = int(version_text)
    except ValueError:
        version = -1
    if version > SCHEMA_VERSION:
        raise DataFormatError(
            path,
            f"schema version {version} is newer than this zq reads "
            f"(1 to {SCHEMA_VERSION}); upgrade zq to read it",
            field=METADATA_SCHEMA_VERSION,
            value=version_text,
        )
    if version < 1:
        raise DataFormatError(
            path,
            f"unknown schema version (this zq reads 1 to {SCHEMA_VERSION})",
            field=METADATA_SCHEMA_VERSION,
            value=version_text,
        )
    for name, expected in ((METADATA_KIND, kind.value), (METADATA_KEY, key)):
        found = meta.get(name)
        if found != expected:
            raise DataFormatError(
                path,
                f"the file says {name} is {found!r} but its place in the catalog says {expected!r}",
                field=name,
                value=found,
            )
    precisions = []
    for name in (METADATA_PRICE_PRECISION, METADATA_SIZE_PRECISION):
        text = meta.get(name)
        try:
            precisions.append(check_precision(name, int(text or "")))
        except ValueError as exc:
            raise DataFormatError(
                path, f"missing or invalid precision: {exc}", field=name, value=text
            ) from None
    expected_schema = _SCHEMAS[kind]
    if not schema.remove_metadata().equals(expected_schema):
        raise DataFormatError(
            path,
            f"columns ({_describe(schema)}) differ from the {kind.value} schema "
            f"v{SCHEMA_VERSION} ({_describe(expected_schema)})",
        )
    return precisions[0], precisions[1]


def _describe(schema: Any) -> str:
    return ", ".join(
        f"{column.name}: {column.type}{'' if column.nullable else ' not null'}" for column in schema
    )


def rows_to_table(kind: DataKind, rows: Rows, metadata: Mapping[str, str]) -> Any:
    """Return an Arrow table of ``rows`` (one contiguous column per field) with ``metadata``."""
    columns = [pa.array(np.ascontiguousarray(rows[name])) for name in kind.columns]
    return pa.Table.from_arrays(columns, schema=_SCHEMAS[kind].with_metadata(dict(metadata)))


def fill_rows(out: Rows, offset: int, kind: DataKind, data: Any) -> int:
    """Copy an Arrow table or record batch into ``out[offset:]``; return the rows copied.

    Each Arrow chunk is viewed as numpy without a copy and written once into the
    structured array (the one copy from columns to rows).
    """
    length: int = data.num_rows
    fields = out.dtype.fields
    assert fields is not None  # a structured layout of zq.data.arrays
    columns: list[tuple[Any, int]] = []
    for name in kind.columns:
        column = data.column(name)
        chunks = column.chunks if hasattr(column, "chunks") else (column,)
        field_type, place = fields[name][:2]
        if len(chunks) != 1:
            break
        values = chunks[0].to_numpy()
        if values.dtype != field_type or not values.flags.c_contiguous:
            break
        columns.append((values, place))
    else:
        # Every column is one array of its field's type (a record batch, as the catalog
        # reads): one copy row by row, without the GIL (a read-ahead thread asks for it
        # once per chunk instead of once per column, see readahead.py).
        return fill_columns(out, offset, columns)
    for name in kind.columns:
        column = data.column(name)
        target = out[name]
        position = offset
        chunks = column.chunks if hasattr(column, "chunks") else (column,)
        for chunk in chunks:
            size = len(chunk)
            target[position : position + size] = chunk.to_numpy()
            position += size
    return length


@dataclass(frozen=True, slots=True)
class DataSeries:
    """One series of the catalog: a data kind of one key, at fixed precisions.

    The merged stream yields the same ``DataSeries`` object with every run of its rows, so
    a replay engine can key its dispatch on it.
    """

    kind: DataKind
    key: str
    price_precision: int
    size_precision: int
    #: The instrument the series belongs to (a bar type's instrument for bars).
    instrument_id: InstrumentId = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "instrument_id", InstrumentId(self.kind.instrument_of(self.key)))

    @property
    def dtype(self) -> np.dtype[np.void]:
        """The numpy dtype of the series' rows."""
        return self.kind.dtype

    def to_objects(self, rows: Rows) -> Iterator[Any]:
        """Yield zq data objects (``OrderBookDelta``, ``QuoteTick``, ``TradeTick``, ``Bar``)."""
        if self.kind is DataKind.BARS:
            return bars_to_objects(
                rows, BarType.from_str(self.key), self.price_precision, self.size_precision
            )
        convert: Callable[[Rows, InstrumentId, int, int], Iterator[Any]] = _TO_OBJECTS[self.kind]
        return convert(rows, self.instrument_id, self.price_precision, self.size_precision)

    def __repr__(self) -> str:
        return (
            f"DataSeries({self.kind.value}, {self.key}, price_precision={self.price_precision}, "
            f"size_precision={self.size_precision})"
        )


_TO_OBJECTS: dict[DataKind, Callable[[Rows, InstrumentId, int, int], Iterator[Any]]] = {
    DataKind.DELTAS: deltas_to_objects,
    DataKind.QUOTES: quotes_to_objects,
    DataKind.TRADES: trades_to_objects,
}
