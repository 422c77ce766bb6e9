"""DBN market data records as numpy arrays, and their conversion to zq's columnar layouts.

The private half of :mod:`zq.data.loaders.databento`. The market data schemas (MBO, MBP-1,
MBP-10, TBBO, BBO, trades, OHLCV) have one record layout in DBN versions 1, 2 and 3, so their
records are read straight into the structured dtypes below and converted column by column.
Everything here checks a whole block of records before it builds anything from it, and names
the file, the record and the field of the first bad value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
import zstandard

from zq.data.arrays import BAR_DTYPE, DELTA_DTYPE, QUOTE_DTYPE, TRADE_DTYPE
from zq.data.errors import DataFormatError
from zq.model.enums import AggressorSide, BarAggregation, BookAction, OrderSide

#: DBN's "no price" (int64 max). Kept as is in quote and depth arrays for an empty side.
UNDEF_PRICE: Final = (1 << 63) - 1
#: The decimals of a DBN price (units of 1e-9).
DBN_PRICE_PRECISION: Final = 9

#: One MBP-10 record as a depth snapshot: the ten best levels per side after the event, best
#: first. An empty level has price :data:`UNDEF_PRICE`, size 0 and count 0.
DEPTH10_DTYPE = np.dtype(
    [
        ("ts_event", "<i8"),
        ("ts_init", "<i8"),
        ("sequence", "<u8"),
        ("flags", "u1"),
        ("_pad", "V7"),
        ("bid_price", "<i8", (10,)),
        ("ask_price", "<i8", (10,)),
        ("bid_size", "<i8", (10,)),
        ("ask_size", "<i8", (10,)),
        ("bid_count", "<u4", (10,)),
        ("ask_count", "<u4", (10,)),
    ]
)

Array = npt.NDArray[np.void]
Rows = npt.NDArray[np.intp]
_Int64 = npt.NDArray[np.int64]
_Bool = npt.NDArray[np.bool_]


class Stream(Protocol):
    """What the loader needs of a file or a zstd stream reader."""

    def read(self, size: int = -1, /) -> bytes: ...
    def readinto(self, buffer: Any, /) -> int: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, exc_type: Any, exc: Any, traceback: Any, /) -> Any: ...


# -- record layouts (DBN versions 1, 2 and 3) --------------------------------------------------

_HEADER = [
    ("length", "u1"),  # record length in units of 4 bytes
    ("rtype", "u1"),
    ("publisher_id", "<u2"),
    ("instrument_id", "<u4"),
    ("ts_event", "<u8"),
]
_LEVEL = [
    ("bid_px", "<i8"),
    ("ask_px", "<i8"),
    ("bid_sz", "<u4"),
    ("ask_sz", "<u4"),
    ("bid_ct", "<u4"),
    ("ask_ct", "<u4"),
]
_MBO = np.dtype(
    [
        *_HEADER,
        ("order_id", "<u8"),
        ("price", "<i8"),
        ("size", "<u4"),
        ("flags", "u1"),
        ("channel_id", "u1"),
        ("action", "u1"),
        ("side", "u1"),
        ("ts_recv", "<u8"),
        ("ts_in_delta", "<i4"),
        ("sequence", "<u4"),
    ]
)
_TRADE_BODY = [
    ("price", "<i8"),
    ("size", "<u4"),
    ("action", "u1"),
    ("side", "u1"),
    ("flags", "u1"),
    ("depth", "u1"),
    ("ts_recv", "<u8"),
    ("ts_in_delta", "<i4"),
    ("sequence", "<u4"),
]
_TRADES = np.dtype([*_HEADER, *_TRADE_BODY])
_MBP1 = np.dtype([*_HEADER, *_TRADE_BODY, *[(f"{name}_00", kind) for name, kind in _LEVEL]])
_MBP10 = np.dtype(
    [*_HEADER, *_TRADE_BODY, *[(f"{n}_{i:02d}", k) for i in range(10) for n, k in _LEVEL]]
)
_BBO = np.dtype(
    [
        *_HEADER,
        ("price", "<i8"),
        ("size", "<u4"),
        ("_reserved1", "u1"),
        ("side", "u1"),
        ("flags", "u1"),
        ("_reserved2", "u1"),
        ("ts_recv", "<u8"),
        ("_reserved3", "V4"),
        ("sequence", "<u4"),
        *[(f"{name}_00", kind) for name, kind in _LEVEL],
    ]
)
_OHLCV = np.dtype(
    [
        *_HEADER,
        ("open", "<i8"),
        ("high", "<i8"),
        ("low", "<i8"),
        ("close", "<i8"),
        ("volume", "<u8"),
    ]
)

_SECOND = 1_000_000_000
#: ``schema: (step, aggregation, interval in ns, rtype)`` of the OHLCV schemas zq reads.
OHLCV_SCHEMAS: Final = {
    "ohlcv-1s": (1, BarAggregation.SECOND, _SECOND, 0x20),
    "ohlcv-1m": (1, BarAggregation.MINUTE, 60 * _SECOND, 0x21),
    "ohlcv-1h": (1, BarAggregation.HOUR, 3600 * _SECOND, 0x22),
    "ohlcv-1d": (1, BarAggregation.DAY, 86400 * _SECOND, 0x23),
}
_OHLCV_DEPRECATED_RTYPE = 0x11  # early DBN v1 files: one rtype for every interval


@dataclass(frozen=True, slots=True)
class Layout:
    """How one schema's records are laid out, which record types it holds, what it gives."""

    dtype: np.dtype[np.void]
    rtypes: frozenset[int]
    outputs: tuple[str, ...]

    def with_ts_out(self) -> np.dtype[np.void]:
        """The record dtype with the 8-byte ``ts_out`` Databento appends on live data."""
        fields: list[Any] = self.dtype.descr
        return np.dtype([*fields, ("ts_out", "<u8")])


LAYOUTS: Final[dict[str, Layout]] = {
    "mbo": Layout(_MBO, frozenset({0xA0}), ("deltas", "trades", "fills")),
    "mbp-1": Layout(_MBP1, frozenset({0x01}), ("quotes", "trades")),
    "tbbo": Layout(_MBP1, frozenset({0x01}), ("quotes", "trades")),
    "bbo-1s": Layout(_BBO, frozenset({0xC3}), ("quotes",)),
    "bbo-1m": Layout(_BBO, frozenset({0xC4}), ("quotes",)),
    "mbp-10": Layout(_MBP10, frozenset({0x0A}), ("depth", "trades")),
    "trades": Layout(_TRADES, frozenset({0x00}), ("trades",)),
    **{
        schema: Layout(_OHLCV, frozenset({spec[3], _OHLCV_DEPRECATED_RTYPE}), ("bars",))
        for schema, spec in OHLCV_SCHEMAS.items()
    },
}

OUTPUT_DTYPES: Final = {
    "deltas": DELTA_DTYPE,
    "trades": TRADE_DTYPE,
    "fills": DELTA_DTYPE,
    "quotes": QUOTE_DTYPE,
    "bars": BAR_DTYPE,
    "depth": DEPTH10_DTYPE,
}

_A, _B, _F, _N, _R, _T = (ord(c) for c in "ABFNRT")
_INVALID: Final = 255


def _table(values: dict[str, int]) -> npt.NDArray[np.uint8]:
    """A lookup table from a DBN character code to ``values``; other codes map to 255."""
    table = np.full(256, _INVALID, dtype=np.uint8)
    for char, value in values.items():
        table[ord(char)] = value
    return table


# MBO action -> BookAction of a book delta; 0 for the records that are not deltas.
_BOOK_ACTION = _table(
    {
        "A": BookAction.ADD,
        "C": BookAction.DELETE,
        "M": BookAction.UPDATE,
        "R": BookAction.CLEAR,
        "T": 0,
        "F": 0,
        "N": 0,
    }
)
_ORDER_SIDE = _table({"B": OrderSide.BUY, "A": OrderSide.SELL, "N": 0})
_AGGRESSOR = _table({"B": AggressorSide.BUYER, "A": AggressorSide.SELLER, "N": 0})


# -- reading -----------------------------------------------------------------------------------


def read_blocks(
    stream: Stream, path: Path, schema: str, dtype: np.dtype[np.void], chunk_size: int
) -> Iterator[tuple[int, Array]]:
    """Yield ``(index of the first record, records)`` of ``chunk_size`` checked records.

    ``stream`` stands just after the metadata header. Each block is read with ``readinto``
    into a fresh array, so memory holds one block whatever the size of the file.
    """
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    layout = LAYOUTS[schema]
    record_size = dtype.itemsize
    first = 0
    while True:
        block = np.empty(chunk_size, dtype=dtype)
        view = block.view(np.uint8).data
        filled = 0
        while filled < len(view):
            try:
                count = stream.readinto(view[filled:])
            except zstandard.ZstdError as exc:
                record = first + filled // record_size
                raise DataFormatError(path, f"corrupt zstd data: {exc}", record=record) from None
            if not count:
                break
            filled += count
        whole, rest = divmod(filled, record_size)
        if rest:
            _truncated(path, dtype, first + whole, rest)
        if not whole:
            return
        records = block[:whole]
        _check_headers(path, schema, layout, records, first)
        yield first, records
        first += whole
        if whole < chunk_size:
            return


def _truncated(path: Path, dtype: np.dtype[np.void], record: int, present: int) -> None:
    fields = dtype.fields
    assert fields is not None
    by_offset = sorted(fields.items(), key=lambda item: item[1][1], reverse=True)
    # The field that holds the first missing byte.
    name = next(name for name, (_, offset, *_) in by_offset if offset <= present)
    raise DataFormatError(
        path,
        f"file ends {present} bytes into a {dtype.itemsize}-byte record (truncated)",
        record=record,
        field=name,
    )


def _check_headers(path: Path, schema: str, layout: Layout, records: Array, first: int) -> None:
    expected = records.dtype.itemsize // 4
    bad = np.flatnonzero(records["length"] != expected)
    if bad.size:
        index = int(bad[0])
        raise DataFormatError(
            path,
            f"record length must be {expected} (x4 bytes) in schema {schema}",
            record=first + index,
            field="length",
            value=int(records["length"][index]),
        )
    allowed = np.fromiter(layout.rtypes, dtype=np.uint8)
    bad = np.flatnonzero(~np.isin(records["rtype"], allowed))
    if bad.size:
        index = int(bad[0])
        raise DataFormatError(
            path,
            f"record type does not belong to schema {schema}",
            record=first + index,
            field="rtype",
            value=int(records["rtype"][index]),
        )


# -- conversion --------------------------------------------------------------------------------


def dbn_price_text(price: int) -> str:
    """A DBN price (1e-9 units) as a decimal string, for messages."""
    return str(Decimal(price).scaleb(-DBN_PRICE_PRECISION).normalize())


class Converted(NamedTuple):
    """The outputs of one block of one instrument, with each row's record index in the file."""

    outputs: dict[str, Array]
    rows: dict[str, npt.NDArray[np.int64]]
    ignored: int


@dataclass(frozen=True, slots=True)
class Block:
    """Records of one instrument from one block, and what converting them needs.

    ``rows`` are the records' positions in the block, ``first`` the file index of the block's
    first record: record ``i`` of ``records`` is record ``first + rows[i]`` of the file.
    """

    path: Path
    records: Array
    first: int
    rows: Rows
    price_precision: int
    size_precision: int
    interval: int = 0  # bar length in ns (OHLCV)

    def fail(self, problem: str, index: int, field: str, value: object = None) -> DataFormatError:
        """A ``DataFormatError`` for record ``index`` of this block."""
        record = self.first + int(self.rows[index])
        return DataFormatError(self.path, problem, record=record, field=field, value=value)

    def file_rows(self, positions: Rows | None = None) -> npt.NDArray[np.int64]:
        """The file index of every record (or of those at ``positions`` in the block)."""
        rows = self.rows if positions is None else self.rows[positions]
        return rows.astype(np.int64) + self.first

    def prices(self, name: str, mask: _Bool | None = None, allow_undef: bool = False) -> _Int64:
        """Return column ``name`` at the price precision, refusing a price it cannot hold.

        With ``mask``, only those records are converted and the others are 0.
        """
        column: _Int64 = self.records[name]
        values = column if mask is None else column[mask]
        undef = values == UNDEF_PRICE
        if not allow_undef and undef.any():
            index = self._index(int(np.flatnonzero(undef)[0]), mask)
            raise self.fail("undefined price where a price is required", index, name, UNDEF_PRICE)
        divisor = 10 ** (DBN_PRICE_PRECISION - self.price_precision)
        scaled, remainder = np.divmod(values, divisor)
        bad = (remainder != 0) & ~undef
        if bad.any():
            index = self._index(int(np.flatnonzero(bad)[0]), mask)
            value = int(column[index])
            raise self.fail(
                f"price {dbn_price_text(value)} is not representable at precision "
                f"{self.price_precision}",
                index,
                name,
                value,
            )
        scaled[undef] = UNDEF_PRICE
        if mask is None:
            return scaled
        out = np.zeros(column.size, dtype=np.int64)
        out[mask] = scaled
        return out

    def sizes(self, name: str) -> _Int64:
        """Return column ``name`` as raw quantities at the size precision."""
        out = self.records[name].astype(np.int64)
        if self.size_precision:
            out *= 10**self.size_precision
        return out

    def codes(self, name: str, table: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Map the character codes of column ``name`` through ``table``, refusing unknown ones."""
        codes = self.records[name]
        mapped: npt.NDArray[np.uint8] = table[codes]
        bad = np.flatnonzero(mapped == _INVALID)
        if bad.size:
            code = int(codes[bad[0]])
            shown: object = chr(code) if 32 <= code < 127 else code
            raise self.fail(f"unknown {name} code", int(bad[0]), name, shown)
        return mapped

    def _index(self, index: int, mask: _Bool | None) -> int:
        return index if mask is None else int(np.flatnonzero(mask)[index])


def _trades(block: Block, rows: Rows, prices: _Int64, sizes: _Int64) -> Array:
    """Trade rows of the records at positions ``rows`` of the block."""
    records = block.records
    out = np.zeros(rows.size, dtype=TRADE_DTYPE)
    out["ts_event"] = records["ts_event"][rows]
    out["ts_init"] = records["ts_recv"][rows]
    out["price"] = prices[rows]
    out["size"] = sizes[rows]
    out["trade_id"] = records["sequence"][rows]  # DBN has no trade id: the venue sequence
    out["aggressor_side"] = block.codes("side", _AGGRESSOR)[rows]
    return out


def _book_rows(
    block: Block,
    rows: Rows,
    actions: npt.NDArray[np.uint8] | int,
    prices: _Int64,
    sizes: _Int64,
    sides: npt.NDArray[np.uint8],
) -> Array:
    """``DELTA_DTYPE`` rows of the records at positions ``rows`` of the block."""
    records = block.records
    out = np.zeros(rows.size, dtype=DELTA_DTYPE)
    out["ts_event"] = records["ts_event"][rows]
    out["ts_init"] = records["ts_recv"][rows]
    out["price"] = prices[rows]
    out["size"] = sizes[rows]
    out["order_id"] = records["order_id"][rows]
    out["sequence"] = records["sequence"][rows]
    out["action"] = actions
    out["side"] = sides[rows]
    out["flags"] = records["flags"][rows]
    return out


def _convert_mbo(block: Block) -> Converted:
    records = block.records
    book_action = block.codes("action", _BOOK_ACTION)
    sides = block.codes("side", _ORDER_SIDE)
    is_order = (book_action != 0) & (book_action != BookAction.CLEAR)
    sideless = np.flatnonzero(is_order & (sides == 0))
    if sideless.size:
        raise block.fail("an add, cancel or modify must name side 'B' or 'A'", sideless[0], "side")
    action = records["action"]
    is_clear = book_action == BookAction.CLEAR
    prices = block.prices("price", mask=~is_clear & (action != _N))
    sizes = block.sizes("size")
    sizes[is_clear] = 0
    deltas = np.flatnonzero(book_action)
    fills = np.flatnonzero(action == _F)
    trades = np.flatnonzero(action == _T)
    delta_rows = _book_rows(block, deltas, book_action[deltas], prices, sizes, sides)
    delta_rows["order_id"][book_action[deltas] == BookAction.CLEAR] = 0
    return Converted(
        {
            "deltas": delta_rows,
            "trades": _trades(block, trades, prices, sizes),
            "fills": _book_rows(block, fills, BookAction.FILL, prices, sizes, sides),
        },
        {
            "deltas": block.file_rows(deltas),
            "trades": block.file_rows(trades),
            "fills": block.file_rows(fills),
        },
        int(block.records.size - deltas.size - fills.size - trades.size),
    )


def _convert_trades(block: Block) -> Converted:
    every = np.arange(block.records.size)
    trades = _trades(block, every, block.prices("price"), block.sizes("size"))
    return Converted({"trades": trades}, {"trades": block.file_rows()}, 0)


def _quotes(block: Block) -> Array:
    records = block.records
    out = np.zeros(records.size, dtype=QUOTE_DTYPE)
    out["ts_event"] = records["ts_event"]
    out["ts_init"] = records["ts_recv"]
    out["bid_price"] = block.prices("bid_px_00", allow_undef=True)
    out["ask_price"] = block.prices("ask_px_00", allow_undef=True)
    out["bid_size"] = block.sizes("bid_sz_00")
    out["ask_size"] = block.sizes("ask_sz_00")
    return out


def _traded(block: Block) -> tuple[Rows, Array]:
    """The trades (action 'T') of an MBP-1, TBBO or MBP-10 block, and their positions."""
    is_trade = block.records["action"] == _T
    prices = block.prices("price", mask=is_trade)
    rows = np.flatnonzero(is_trade)
    return rows, _trades(block, rows, prices, block.sizes("size"))


def _convert_mbp1(block: Block) -> Converted:
    traded, trades = _traded(block)
    return Converted(
        {"quotes": _quotes(block), "trades": trades},
        {"quotes": block.file_rows(), "trades": block.file_rows(traded)},
        0,
    )


def _convert_bbo(block: Block) -> Converted:
    return Converted({"quotes": _quotes(block)}, {"quotes": block.file_rows()}, 0)


def _convert_mbp10(block: Block) -> Converted:
    records = block.records
    traded, trades = _traded(block)
    depth = np.zeros(records.size, dtype=DEPTH10_DTYPE)
    depth["ts_event"] = records["ts_event"]
    depth["ts_init"] = records["ts_recv"]
    depth["sequence"] = records["sequence"]
    depth["flags"] = records["flags"]
    for level in range(10):
        for side in ("bid", "ask"):
            price = f"{side}_px_{level:02d}"
            depth[f"{side}_price"][:, level] = block.prices(price, allow_undef=True)
            depth[f"{side}_size"][:, level] = block.sizes(f"{side}_sz_{level:02d}")
            depth[f"{side}_count"][:, level] = records[f"{side}_ct_{level:02d}"]
    return Converted(
        {"depth": depth, "trades": trades},
        {"depth": block.file_rows(), "trades": block.file_rows(traded)},
        0,
    )


def _convert_ohlcv(block: Block) -> Converted:
    records = block.records
    bars = np.zeros(records.size, dtype=BAR_DTYPE)
    # Databento stamps a bar at its open; zq at its close, when the bar is known.
    close_time = records["ts_event"].astype(np.int64) + block.interval
    bars["ts_event"] = close_time
    bars["ts_init"] = close_time
    for name in ("open", "high", "low", "close"):
        bars[name] = block.prices(name)
    bars["volume"] = block.sizes("volume")
    for name, bad in (
        ("high", bars["high"] < np.maximum(bars["open"], bars["close"])),
        ("low", bars["low"] > np.minimum(bars["open"], bars["close"])),
    ):
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            value = int(records[name][index])
            raise block.fail(f"bar {name} does not bound its open and close", index, name, value)
    return Converted({"bars": bars}, {"bars": block.file_rows()}, 0)


CONVERTERS: Final[dict[str, Callable[[Block], Converted]]] = {
    "mbo": _convert_mbo,
    "mbp-1": _convert_mbp1,
    "tbbo": _convert_mbp1,
    "bbo-1s": _convert_bbo,
    "bbo-1m": _convert_bbo,
    "mbp-10": _convert_mbp10,
    "trades": _convert_trades,
    **{schema: _convert_ohlcv for schema in OHLCV_SCHEMAS},
}
