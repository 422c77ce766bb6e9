"""Binance historical CSV files (data.binance.vision): order-book depth, klines and trades.

Files may be plain, gzip or the published single-member zips. Each format has a
``*_chunks`` function that streams the file in blocks of at most ``chunk_size`` lines and
yields columnar arrays (:mod:`zq.data.arrays`), and a function that yields zq objects.
Prices and sizes are parsed from their decimal text exactly, at the precisions you give: a
value with more significant decimals is refused, never rounded. Timestamps are written in
milliseconds (microseconds in spot files from 2025): the unit is read from each value's
magnitude. These files carry no local receive time, so ``ts_init`` equals ``ts_event``.

Formats (columns as Binance documents them):

- depth, the USD-M "T_DEPTH" product (``*_depth_snap.csv``, ``*_depth_update.csv``), with a
  header: ``symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu``.
- klines, 12 columns, with or without a header: open time, open, high, low, close,
  volume, close time, quote volume, trade count, taker-buy base volume, taker-buy quote
  volume, ignore.
- trades: ``id,price,qty,quote_qty,time,is_buyer_maker`` (futures; spot adds
  ``is_best_match``); aggregate trades: ``agg_trade_id,price,quantity,first_trade_id,
  last_trade_id,transact_time,is_buyer_maker`` (spot adds ``is_best_match``). Files with
  and without a header are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from zq.data.arrays import (
    BAR_DTYPE,
    DELTA_DTYPE,
    TRADE_DTYPE,
    bars_to_objects,
    deltas_to_objects,
    trades_to_objects,
)
from zq.data.errors import DataFormatError
from zq.data.loaders._delimited import (
    Fields,
    Int64Array,
    iter_line_blocks,
    open_binary,
    split_line,
)
from zq.model.data import Bar, BarSpecification, BarType, BookFlags, OrderBookDelta, TradeTick
from zq.model.enums import AggressorSide, BookAction, OrderSide
from zq.model.identifiers import InstrumentId

__all__ = [
    "DEPTH_COLUMNS",
    "KLINE_COLUMNS",
    "depth_chunks",
    "depth_deltas",
    "kline_bars",
    "kline_chunks",
    "trade_chunks",
    "trade_ticks",
]

DEFAULT_CHUNK_SIZE = 100_000

#: The header of a T_DEPTH file.
DEPTH_COLUMNS = (
    "symbol",
    "timestamp",
    "first_update_id",
    "last_update_id",
    "side",
    "update_type",
    "price",
    "qty",
    "pu",
)
#: Names given to the twelve kline columns of a file without a header.
KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
_TRADE_COLUMNS = ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match")
_AGG_TRADE_COLUMNS = (
    "agg_trade_id",
    "price",
    "quantity",
    "first_trade_id",
    "last_trade_id",
    "transact_time",
    "is_buyer_maker",
    "is_best_match",
)

_Array = npt.NDArray[np.void]
_MICROS_FROM = 10**14  # a Binance time at or above this is in microseconds, else ms
_MAX_TIME = np.iinfo(np.int64).max // 1_000_000
_SIDES = {b"b": int(OrderSide.BUY), b"a": int(OrderSide.SELL)}
_SNAP, _SET = 1, 2
_UPDATE_TYPES = {b"snap": _SNAP, b"set": _SET}
_BOOLEANS = {b"true": 1, b"false": 0, b"True": 1, b"False": 0, b"TRUE": 1, b"FALSE": 0}


# -- shared ----------------------------------------------------------------------------------


def _blocks(
    path: str | Path,
    chunk_size: int,
    default_names: tuple[str, ...],
    counts: tuple[int, ...],
    header: bool | None,
) -> Iterator[Fields]:
    """Yield the blocks of a file whose header is optional (detected by a numeric field).

    ``counts`` are the column counts the format allows; a file without a header takes the
    first ``count`` of ``default_names``.
    """
    with open_binary(path) as stream:
        first = stream.readline()
        names = split_line(first, path)
        if names is None:
            return
        has_header = header if header is not None else not _is_number(names[0])
        if len(names) not in counts:
            expected = " or ".join(str(count) for count in counts)
            raise DataFormatError(
                path,
                f"expected {expected} comma-separated fields, found {len(names)}",
                line=1,
                value=first.decode("utf-8", "replace").rstrip("\r\n"),
            )
        columns = names if has_header else list(default_names[: len(names)])
        prefix = b"" if has_header else first
        yield from _fields(stream, path, chunk_size, columns, prefix, 2 if has_header else 1)


def _fields(
    stream: BinaryIO,
    path: str | Path,
    chunk_size: int,
    names: list[str],
    prefix: bytes,
    first_line: int,
) -> Iterator[Fields]:
    for block, line in iter_line_blocks(stream, chunk_size, path, first_line, prefix):
        fields = Fields(path, block, line, names)
        if len(fields):
            yield fields


def _is_number(text: str) -> bool:
    return text.replace(".", "", 1).isdigit()


def _times(fields: Fields, column: int) -> Int64Array:
    """Return a Binance time column (ms, or µs from 2025 on spot) in nanoseconds."""
    values = fields.integers(column)
    micros = values >= _MICROS_FROM
    too_large = ~micros & (values > _MAX_TIME)
    if too_large.any():
        raise fields.error(int(np.argmax(too_large)), column, "time out of range")
    return np.where(micros, values * 1_000, values * 1_000_000)


def _column(fields: Fields, *names: str) -> int:
    for name in names:
        if name in fields.names:
            return fields.names.index(name)
    raise DataFormatError(
        fields.path, f"no column named {' or '.join(names)}", line=int(fields.lines[0]) - 1
    )


# -- depth (T_DEPTH) -------------------------------------------------------------------------


def depth_chunks(
    path: str | Path,
    *,
    price_precision: int,
    size_precision: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[_Array]:
    """Stream a T_DEPTH snapshot or update file as ``DELTA_DTYPE`` arrays.

    ``snap`` rows become ``ADD`` flagged ``SNAPSHOT``, preceded by a ``CLEAR`` (also flagged
    ``SNAPSHOT``) where a snapshot starts; ``set`` rows set a level's total size:
    ``UPDATE``, or ``DELETE`` at ``qty`` 0. Rows sharing ``last_update_id`` (and update
    type) are one venue event: its last row carries ``BookFlags.LAST``, and ``sequence`` is
    ``last_update_id``. Every row must name the same symbol.

    Raises
    ------
    DataFormatError
        A missing column or a malformed row, naming file, line, field and value.
    """
    pending = np.zeros(0, dtype=DELTA_DTYPE)  # the last event read, maybe incomplete
    pending_keys = np.zeros(0, dtype=np.int64)
    previous_key = -1
    symbol: bytes | None = None
    with open_binary(path) as stream:
        header = split_line(stream.readline(), path)
        if header is None:
            return
        missing = [name for name in DEPTH_COLUMNS if name not in header]
        if missing:
            raise DataFormatError(
                path, f"header lacks column(s) {', '.join(missing)}", line=1, value=header
            )
        for fields in _fields(stream, path, chunk_size, header, b"", 2):
            symbol = _check_symbol(fields, symbol)
            rows, keys = _depth_rows(fields, price_precision, size_precision, previous_key)
            previous_key = int(keys[-1])
            rows = np.concatenate((pending, rows))
            keys = np.concatenate((pending_keys, keys))
            # An event ends where the key changes; the last one may go on in the next block.
            ends = np.flatnonzero(keys[1:] != keys[:-1])
            rows["flags"][ends] |= np.uint8(BookFlags.LAST)
            complete = int(ends[-1]) + 1 if len(ends) else 0
            pending, pending_keys = rows[complete:], keys[complete:]
            if complete:
                yield rows[:complete]
    if len(pending):
        pending["flags"][-1] |= np.uint8(BookFlags.LAST)
        yield pending


def _check_symbol(fields: Fields, symbol: bytes | None) -> bytes:
    column = fields.names.index("symbol")
    symbols = fields.strings(column)
    first = bytes(symbols[0]) if symbol is None else symbol
    other = symbols != first
    if other.any():
        raise fields.error(
            int(np.argmax(other)),
            column,
            f"a depth file holds one symbol; {first.decode('utf-8', 'replace')!r} came first",
        )
    return first


def _depth_rows(
    fields: Fields, price_precision: int, size_precision: int, previous_key: int
) -> tuple[_Array, Int64Array]:
    """Return the deltas of a block and each one's event key (update id and type)."""
    names = fields.names
    kind = fields.choices(names.index("update_type"), _UPDATE_TYPES)
    update_id = fields.integers(names.index("last_update_id"))
    fields.integers(names.index("first_update_id"))
    fields.integers(names.index("pu"), negative=True)  # -1 on snapshot rows
    size = fields.decimals(names.index("qty"), size_precision)
    rows = np.zeros(len(fields), dtype=DELTA_DTYPE)
    rows["ts_event"] = rows["ts_init"] = _times(fields, names.index("timestamp"))
    rows["price"] = fields.decimals(names.index("price"), price_precision)
    rows["size"] = size
    rows["side"] = fields.choices(names.index("side"), _SIDES)
    rows["sequence"] = update_id
    snap = kind == _SNAP
    rows["action"] = np.where(
        snap, BookAction.ADD, np.where(size == 0, BookAction.DELETE, BookAction.UPDATE)
    )
    rows["flags"] = np.where(snap, BookFlags.SNAPSHOT, 0)
    keys = update_id * 4 + kind
    # A snapshot starts at a snap row that does not continue the event before it: the book
    # is cleared first.
    before = np.concatenate(([previous_key], keys[:-1]))
    starts = np.flatnonzero(snap & (keys != before))
    if len(starts):
        clears = rows[starts].copy()
        clears["action"] = BookAction.CLEAR
        clears["side"] = 0
        clears["price"] = 0
        clears["size"] = 0
        rows = np.insert(rows, starts, clears)
        keys = np.insert(keys, starts, keys[starts])
    return rows, keys


def depth_deltas(
    path: str | Path,
    instrument_id: InstrumentId | str,
    *,
    price_precision: int,
    size_precision: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[OrderBookDelta]:
    """Yield the ``OrderBookDelta`` objects of a T_DEPTH file (see :func:`depth_chunks`)."""
    instrument = InstrumentId(instrument_id)
    for chunk in depth_chunks(
        path, price_precision=price_precision, size_precision=size_precision, chunk_size=chunk_size
    ):
        yield from deltas_to_objects(chunk, instrument, price_precision, size_precision)


# -- klines ----------------------------------------------------------------------------------


def kline_chunks(
    path: str | Path,
    *,
    price_precision: int,
    size_precision: int,
    header: bool | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[_Array]:
    """Stream a kline file as ``BAR_DTYPE`` arrays stamped at each bar's close.

    Binance stamps a kline with its open time and writes its close time as the last
    millisecond inside it (``open + interval - 1``); zq stamps the bar at
    ``close time + 1 ms`` (= open + interval), when the bar is complete, so replay has no
    look-ahead. ``volume`` is the base-asset volume at ``size_precision``.

    Raises
    ------
    DataFormatError
        A malformed row, or a bar that is inconsistent (high below low, open or close
        outside ``[low, high]``, close time before open time), naming file, line and field.
    """
    return _klines(path, price_precision, size_precision, header, chunk_size, None)


def _klines(
    path: str | Path,
    price_precision: int,
    size_precision: int,
    header: bool | None,
    chunk_size: int,
    interval: BarSpecification | None,
) -> Iterator[_Array]:
    for fields in _blocks(path, chunk_size, KLINE_COLUMNS, (12,), header):
        names = fields.names
        open_column = _column(fields, "open_time", "open time")
        close_column = _column(fields, "close_time", "close time")
        opened = _times(fields, open_column)
        # The close is one unit (ms, or µs) after the last instant inside the bar.
        closed = _times(fields, close_column)
        closed += np.where(fields.integers(close_column) >= _MICROS_FROM, 1_000, 1_000_000)
        late = closed <= opened
        if late.any():
            raise fields.error(int(np.argmax(late)), close_column, "close time before open time")
        if interval is not None:
            off = closed - opened != interval.interval_ns
            if off.any():
                raise fields.error(
                    int(np.argmax(off)), close_column, f"the bar is not {interval} long"
                )
        bars = np.zeros(len(fields), dtype=BAR_DTYPE)
        bars["ts_event"] = bars["ts_init"] = closed
        for name in ("open", "high", "low", "close"):
            bars[name] = fields.decimals(names.index(name), price_precision)
        bars["volume"] = fields.decimals(names.index("volume"), size_precision)
        _check_bars(fields, bars)
        yield bars


def _check_bars(fields: Fields, bars: _Array) -> None:
    high, low = bars["high"], bars["low"]
    for name, bad in (
        ("high", high < low),
        ("open", (bars["open"] < low) | (bars["open"] > high)),
        ("close", (bars["close"] < low) | (bars["close"] > high)),
    ):
        if bad.any():
            problem = "high below low" if name == "high" else f"{name} outside [low, high]"
            raise fields.error(int(np.argmax(bad)), fields.names.index(name), problem)


def kline_bars(
    path: str | Path,
    bar_type: BarType | str,
    *,
    price_precision: int,
    size_precision: int,
    header: bool | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[Bar]:
    """Yield the ``Bar`` objects of a kline file (see :func:`kline_chunks`).

    Raises
    ------
    DataFormatError
        As :func:`kline_chunks`, and when a bar's length differs from ``bar_type``'s
        interval (time bars of a fixed length: not monthly ones).
    """
    kind = bar_type if isinstance(bar_type, BarType) else BarType.from_str(bar_type)
    interval = kind.spec if kind.spec.is_time_aggregated else None
    for chunk in _klines(path, price_precision, size_precision, header, chunk_size, interval):
        yield from bars_to_objects(chunk, kind, price_precision, size_precision)


# -- trades ----------------------------------------------------------------------------------


def trade_chunks(
    path: str | Path,
    *,
    price_precision: int,
    size_precision: int,
    aggregated: bool = False,
    header: bool | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[_Array]:
    """Stream a trades (or, with ``aggregated``, an aggTrades) file as ``TRADE_DTYPE`` arrays.

    ``trade_id`` is the trade id (the aggregate trade id for aggTrades). The aggressor comes
    from ``is_buyer_maker``: when the buyer rested on the book, the seller crossed the
    spread (``SELLER``); otherwise ``BUYER``.

    Raises
    ------
    DataFormatError
        A malformed row, naming file, line, field and value.
    """
    names = _AGG_TRADE_COLUMNS if aggregated else _TRADE_COLUMNS
    counts = (7, 8) if aggregated else (6, 7)
    for fields in _blocks(path, chunk_size, names, counts, header):
        id_column = _column(fields, "agg_trade_id", "a") if aggregated else 0
        time_column = 5 if aggregated else 4
        maker_column = 6 if aggregated else 5
        trades = np.zeros(len(fields), dtype=TRADE_DTYPE)
        trades["ts_event"] = trades["ts_init"] = _times(fields, time_column)
        trades["price"] = fields.decimals(1, price_precision)
        trades["size"] = fields.decimals(2, size_precision)
        trades["trade_id"] = fields.integers(id_column)
        buyer_is_maker = fields.choices(maker_column, _BOOLEANS)
        trades["aggressor_side"] = np.where(
            buyer_is_maker == 1, AggressorSide.SELLER, AggressorSide.BUYER
        )
        yield trades


def trade_ticks(
    path: str | Path,
    instrument_id: InstrumentId | str,
    *,
    price_precision: int,
    size_precision: int,
    aggregated: bool = False,
    header: bool | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[TradeTick]:
    """Yield the ``TradeTick`` objects of a trades or aggTrades file (see :func:`trade_chunks`)."""
    instrument = InstrumentId(instrument_id)
    for chunk in trade_chunks(
        path,
        price_precision=price_precision,
        size_precision=size_precision,
        aggregated=aggregated,
        header=header,
        chunk_size=chunk_size,
    ):
        yield from trades_to_objects(chunk, instrument, price_precision, size_precision)
