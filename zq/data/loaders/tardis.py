"""Tardis.dev normalised CSV files: ``incremental_book_L2``, ``book_snapshot_N``, ``trades``
and ``quotes`` (plain or gzip).

Each data type has a ``*_chunks`` function that streams the file in blocks of at most
``chunk_size`` lines and yields columnar arrays (:mod:`zq.data.arrays`), and a function that
yields zq objects. Prices and sizes are parsed from their decimal text exactly, at the
precisions you give (a value with more significant decimals is refused, never rounded).

Timestamps: Tardis writes microseconds since the epoch, UTC. ``ts_event`` is the
``timestamp`` column (the exchange's time, or Tardis's arrival time when the exchange gives
none) and ``ts_init`` is ``local_timestamp`` (when Tardis received the message), both
converted to nanoseconds.

Book semantics (Tardis's documentation of ``incremental_book_L2``):

- ``amount`` is the new total size of the price level, not a change; ``0`` removes it.
- Rows are grouped into one exchange message by their ``local_timestamp``; the last delta of
  each group carries ``BookFlags.LAST`` (the book is consistent only there).
- When a snapshot row follows a non-snapshot row (or starts the file), the book must be
  discarded: a ``CLEAR`` delta is emitted before the snapshot's rows, which become ``ADD``
  flagged ``SNAPSHOT``. Incremental rows become ``UPDATE`` (or ``DELETE`` at amount 0).
- Rows before the first snapshot (updates buffered before the exchange sent it) are skipped,
  unless ``skip_until_snapshot=False``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from zq.data.arrays import (
    DELTA_DTYPE,
    QUOTE_DTYPE,
    TRADE_DTYPE,
    deltas_to_objects,
    quotes_to_objects,
)
from zq.data.errors import DataFormatError
from zq.data.loaders._delimited import (
    Fields,
    Int64Array,
    iter_line_blocks,
    open_binary,
    parse_decimal_matrix,
    read_header,
)
from zq.model.data import BookFlags, BookLevel, OrderBookDelta, OrderBookDepth, QuoteTick, TradeTick
from zq.model.enums import AggressorSide, BookAction, OrderSide
from zq.model.identifiers import InstrumentId, TradeId
from zq_core.fixed import Price, Quantity

__all__ = [
    "DepthChunk",
    "TradeChunk",
    "book_l2_chunks",
    "book_l2_deltas",
    "book_snapshot_chunks",
    "book_snapshot_depths",
    "quote_chunks",
    "quote_ticks",
    "trade_chunks",
    "trade_ticks",
]

DEFAULT_CHUNK_SIZE = 100_000
_MAX_MICROS = np.iinfo(np.int64).max // 1000
_LEVEL = re.compile(r"^(asks|bids)\[(\d+)\]\.(price|amount)$")

Array = npt.NDArray[np.void]


class TradeChunk(NamedTuple):
    """Trades of one chunk: the ``TRADE_DTYPE`` rows and the venue's trade ids as text.

    ``trades["trade_id"]`` holds the id when it is a number (0 otherwise: UUIDs, empty);
    ``trade_ids`` always holds the id exactly as written.
    """

    trades: Array
    trade_ids: npt.NDArray[np.bytes_]


class DepthChunk(NamedTuple):
    """Book snapshots of one chunk: one row per snapshot, one column per level (best first).

    Prices and sizes are raw fixed-point ints; a level the book did not have is price 0 and
    size 0, and ``bid_levels`` / ``ask_levels`` count the levels present in each row.
    """

    ts_event: Int64Array
    ts_init: Int64Array
    bid_price: Int64Array
    bid_size: Int64Array
    ask_price: Int64Array
    ask_size: Int64Array
    bid_levels: Int64Array
    ask_levels: Int64Array


def _fields(path: str | Path, required: list[str], chunk_size: int) -> Iterator[Fields]:
    with open_binary(path) as stream:
        header = read_header(stream, path)
        missing = [name for name in required if name not in header]
        if missing:
            raise DataFormatError(
                path, f"header lacks column(s) {', '.join(missing)}", line=1, value=header
            )
        for block, first_line in iter_line_blocks(stream, chunk_size, path, first_line=2):
            fields = Fields(path, block, first_line, header)
            if len(fields):
                yield fields


def _timestamps(fields: Fields, name: str) -> Int64Array:
    column = fields.names.index(name)
    micros = fields.integers(column)
    too_large = micros > _MAX_MICROS
    if too_large.any():
        raise fields.error(int(np.argmax(too_large)), column, "timestamp out of range")
    return micros * 1000


def _instrument(instrument_id: InstrumentId | str) -> InstrumentId:
    return instrument_id if isinstance(instrument_id, InstrumentId) else InstrumentId(instrument_id)


# -- incremental_book_L2 -----------------------------------------------------------------

_BOOK_COLUMNS = ["timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount"]
_SIDES = {b"bid": int(OrderSide.BUY), b"ask": int(OrderSide.SELL)}
_BOOLEANS = {b"true": 1, b"false": 0}


class _BookState:
    """What one block of ``incremental_book_L2`` needs to know about the blocks before it."""

    def __init__(self, skip_until_snapshot: bool) -> None:
        self.started = not skip_until_snapshot
        self.previous_was_snapshot = False
        self.carry: Array = np.empty(0, dtype=DELTA_DTYPE)


def book_l2_chunks(
    path: str | Path,
    price_precision: int,
    size_precision: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    skip_until_snapshot: bool = True,
) -> Iterator[Array]:
    """Stream an ``incremental_book_L2`` file as ``DELTA_DTYPE`` arrays.

    Parameters
    ----------
    path : str or Path
        The CSV file (``.csv`` or ``.csv.gz``).
    price_precision, size_precision : int
        Decimals of the instrument's prices and sizes; raw values are value × 10**precision.
    chunk_size : int
        Lines read per block; a yielded array holds about that many deltas.
    skip_until_snapshot : bool
        Skip rows before the first snapshot row, as Tardis advises (default).

    Yields
    ------
    numpy.ndarray
        ``DELTA_DTYPE`` rows in file order, with the ``CLEAR`` deltas and flags described in
        the module docstring. A message split across two blocks is yielded whole, in the
        later array, so every array ends on a ``LAST`` delta.

    Raises
    ------
    DataFormatError
        A malformed row, naming file, line, field and value.
    """
    state = _BookState(skip_until_snapshot)
    for fields in _fields(path, _BOOK_COLUMNS, chunk_size):
        deltas = _book_block(fields, price_precision, size_precision, state)
        deltas = np.concatenate([state.carry, deltas]) if len(state.carry) else deltas
        if not len(deltas):
            continue
        # Hold back the trailing message: its LAST flag depends on the next block.
        group_start = _last_group_start(deltas["ts_init"])
        state.carry = deltas[group_start:]
        ready = deltas[:group_start]
        if len(ready):
            _flag_last(ready)
            yield ready
    if len(state.carry):
        _flag_last(state.carry)
        yield state.carry


def _book_block(
    fields: Fields, price_precision: int, size_precision: int, state: _BookState
) -> Array:
    names = fields.names
    ts_event = _timestamps(fields, "timestamp")
    ts_init = _timestamps(fields, "local_timestamp")
    snapshot = fields.choices(names.index("is_snapshot"), _BOOLEANS).astype(np.bool_)
    side = fields.choices(names.index("side"), _SIDES)
    price = fields.decimals(names.index("price"), price_precision, negative=True)
    amount = fields.decimals(names.index("amount"), size_precision)
    start = 0
    if not state.started:
        if not snapshot.any():
            return np.empty(0, dtype=DELTA_DTYPE)
        start = int(np.argmax(snapshot))
        state.started = True
    snapshot, side, price, amount = snapshot[start:], side[start:], price[start:], amount[start:]
    ts_event, ts_init = ts_event[start:], ts_init[start:]
    rows = len(snapshot)
    deltas = np.zeros(rows, dtype=DELTA_DTYPE)
    deltas["ts_event"] = ts_event
    deltas["ts_init"] = ts_init
    deltas["price"] = price
    deltas["size"] = amount
    deltas["side"] = side
    deltas["action"] = np.where(
        amount == 0, BookAction.DELETE, np.where(snapshot, BookAction.ADD, BookAction.UPDATE)
    )
    deltas["flags"] = np.where(snapshot, BookFlags.SNAPSHOT, 0)
    previous = np.empty(rows, dtype=np.bool_)
    previous[:1] = state.previous_was_snapshot
    previous[1:] = snapshot[:-1]
    opens = np.flatnonzero(snapshot & ~previous)
    if rows:
        state.previous_was_snapshot = bool(snapshot[-1])
    if not len(opens):
        return deltas
    clears = np.zeros(len(opens), dtype=DELTA_DTYPE)
    clears["ts_event"] = ts_event[opens]
    clears["ts_init"] = ts_init[opens]
    clears["action"] = BookAction.CLEAR
    clears["side"] = OrderSide.NO_ORDER_SIDE
    clears["flags"] = BookFlags.SNAPSHOT
    return np.insert(deltas, opens, clears)


def _last_group_start(ts_init: Int64Array) -> int:
    """Index where the trailing run of equal ``ts_init`` values starts."""
    different = np.flatnonzero(ts_init[:-1] != ts_init[-1])
    return int(different[-1]) + 1 if len(different) else 0


def _flag_last(deltas: Array) -> None:
    """Set ``LAST`` on the final delta of each message (run of equal ``ts_init``)."""
    ts_init = deltas["ts_init"]
    last = np.empty(len(deltas), dtype=np.bool_)
    last[:-1] = ts_init[1:] != ts_init[:-1]
    last[-1:] = True
    deltas["flags"] |= np.where(last, np.uint8(BookFlags.LAST), np.uint8(0))


def book_l2_deltas(
    path: str | Path,
    instrument_id: InstrumentId | str,
    price_precision: int,
    size_precision: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    skip_until_snapshot: bool = True,
) -> Iterator[OrderBookDelta]:
    """Yield the ``OrderBookDelta`` objects of an ``incremental_book_L2`` file.

    The same deltas as :func:`book_l2_chunks`, as objects of ``instrument_id``.
    """
    instrument = _instrument(instrument_id)
    for chunk in book_l2_chunks(
        path,
        price_precision,
        size_precision,
        chunk_size=chunk_size,
        skip_until_snapshot=skip_until_snapshot,
    ):
        yield from deltas_to_objects(chunk, instrument, price_precision, size_precision)


# -- book_snapshot_N ---------------------------------------------------------------------


def _level_columns(
    path: str | Path, header: list[str]
) -> tuple[int, dict[tuple[str, int, str], int]]:
    columns: dict[tuple[str, int, str], int] = {}
    for index, name in enumerate(header):
        match = _LEVEL.match(name)
        if match:
            columns[(match[1], int(match[2]), match[3])] = index
    depth = len(columns) // 4
    expected = {
        (side, level, kind)
        for side in ("asks", "bids")
        for level in range(depth)
        for kind in ("price", "amount")
    }
    if depth == 0 or set(columns) != expected:
        raise DataFormatError(
            path,
            "header is not a book_snapshot_N header: expected asks[i].price, asks[i].amount, "
            "bids[i].price, bids[i].amount for i = 0..N-1",
            line=1,
            value=header,
        )
    return depth, columns


def book_snapshot_chunks(
    path: str | Path,
    price_precision: int,
    size_precision: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[DepthChunk]:
    """Stream a ``book_snapshot_N`` file (any N: 5, 25...) as :class:`DepthChunk` arrays.

    Each row is the book's top N levels per side after an update. A row whose levels are not
    strictly ordered best first, whose present levels are not contiguous from the top, or
    whose price and amount are not both present or both empty, is refused.

    Raises
    ------
    DataFormatError
        A malformed row or header, naming file, line, field and value.
    """
    with open_binary(path) as stream:
        header = read_header(stream, path)
        depth, columns = _level_columns(path, header)
        for name in ("timestamp", "local_timestamp"):
            if name not in header:
                raise DataFormatError(path, f"header lacks column {name}", line=1, value=header)
        for block, first_line in iter_line_blocks(stream, chunk_size, path, first_line=2):
            fields = Fields(path, block, first_line, header)
            if len(fields):
                yield _depth_block(fields, depth, columns, price_precision, size_precision)


def _depth_block(
    fields: Fields,
    depth: int,
    columns: dict[tuple[str, int, str], int],
    price_precision: int,
    size_precision: int,
) -> DepthChunk:
    rows = len(fields)
    result: dict[str, Int64Array] = {}
    for side in ("bids", "asks"):
        prices = np.zeros((rows, depth), dtype=np.int64)
        sizes = np.zeros((rows, depth), dtype=np.int64)
        present = np.zeros((rows, depth), dtype=np.bool_)
        for level in range(depth):
            price_column = columns[(side, level, "price")]
            size_column = columns[(side, level, "amount")]
            price, no_price = fields.optional_decimals(price_column, price_precision, negative=True)
            size, no_size = fields.optional_decimals(size_column, size_precision)
            mismatch = no_price != no_size
            if mismatch.any():
                row = int(np.argmax(mismatch))
                column = price_column if no_price[row] else size_column
                raise fields.error(
                    row, column, "price and amount must be both present or both empty"
                )
            prices[:, level], sizes[:, level], present[:, level] = price, size, ~no_price
        gap = present[:, 1:] & ~present[:, :-1]
        if gap.any():
            row, level = (int(i) for i in np.argwhere(gap)[0])
            raise fields.error(
                row, columns[(side, level + 1, "price")], "level present after an empty level"
            )
        step = prices[:, 1:] - prices[:, :-1]
        unordered = present[:, 1:] & ((step >= 0) if side == "bids" else (step <= 0))
        if unordered.any():
            row, level = (int(i) for i in np.argwhere(unordered)[0])
            raise fields.error(
                row,
                columns[(side, level + 1, "price")],
                f"{side} not strictly ordered best first",
            )
        key = "bid" if side == "bids" else "ask"
        result[f"{key}_price"], result[f"{key}_size"] = prices, sizes
        result[f"{key}_levels"] = present.sum(axis=1).astype(np.int64)
    return DepthChunk(
        ts_event=_timestamps(fields, "timestamp"),
        ts_init=_timestamps(fields, "local_timestamp"),
        **result,
    )


def book_snapshot_depths(
    path: str | Path,
    instrument_id: InstrumentId | str,
    price_precision: int,
    size_precision: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[OrderBookDepth]:
    """Yield an ``OrderBookDepth`` per row of a ``book_snapshot_N`` file (levels present only)."""
    instrument = _instrument(instrument_id)
    for chunk in book_snapshot_chunks(path, price_precision, size_precision, chunk_size=chunk_size):
        rows = zip(
            chunk.ts_event.tolist(),
            chunk.ts_init.tolist(),
            chunk.bid_price.tolist(),
            chunk.bid_size.tolist(),
            chunk.bid_levels.tolist(),
            chunk.ask_price.tolist(),
            chunk.ask_size.tolist(),
            chunk.ask_levels.tolist(),
            strict=True,
        )
        for ts_event, ts_init, bid_p, bid_s, bid_n, ask_p, ask_s, ask_n in rows:
            yield OrderBookDepth(
                instrument,
                _levels(bid_p, bid_s, bid_n, price_precision, size_precision),
                _levels(ask_p, ask_s, ask_n, price_precision, size_precision),
                0,
                ts_event,
                ts_init,
            )


def _levels(
    prices: list[int], sizes: list[int], count: int, price_precision: int, size_precision: int
) -> tuple[BookLevel, ...]:
    return tuple(
        BookLevel(Price.from_raw(price, price_precision), Quantity.from_raw(size, size_precision))
        for price, size in zip(prices[:count], sizes[:count], strict=True)
    )


# -- trades ------------------------------------------------------------------------------

_TRADE_COLUMNS = ["timestamp", "local_timestamp", "id", "side", "price", "amount"]
_AGGRESSORS = {
    b"buy": int(AggressorSide.BUYER),
    b"sell": int(AggressorSide.SELLER),
    b"unknown": int(AggressorSide.NO_AGGRESSOR),
    b"": int(AggressorSide.NO_AGGRESSOR),
}


def trade_chunks(
    path: str | Path,
    price_precision: int,
    size_precision: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[TradeChunk]:
    """Stream a ``trades`` file as :class:`TradeChunk` (``TRADE_DTYPE`` rows and ids).

    ``side`` is the aggressor (liquidity taker): ``buy`` → ``BUYER``, ``sell`` → ``SELLER``,
    ``unknown`` or empty → ``NO_AGGRESSOR``.

    Raises
    ------
    DataFormatError
        A malformed row, naming file, line, field and value.
    """
    for fields in _fields(path, _TRADE_COLUMNS, chunk_size):
        names = fields.names
        id_column = names.index("id")
        trade_ids = fields.strings(id_column)
        lengths = fields.lengths(id_column)
        numeric, not_numeric = parse_decimal_matrix(
            fields.chars(id_column, 128), lengths, 0, integer=True
        )
        not_numeric |= (lengths > 19) | (numeric < 0)
        trades = np.zeros(len(fields), dtype=TRADE_DTYPE)
        trades["ts_event"] = _timestamps(fields, "timestamp")
        trades["ts_init"] = _timestamps(fields, "local_timestamp")
        trades["price"] = fields.decimals(names.index("price"), price_precision, negative=True)
        trades["size"] = fields.decimals(names.index("amount"), size_precision)
        trades["trade_id"] = np.where(not_numeric, 0, numeric)
        trades["aggressor_side"] = fields.choices(names.index("side"), _AGGRESSORS)
        yield TradeChunk(trades, trade_ids)


def trade_ticks(
    path: str | Path,
    instrument_id: InstrumentId | str,
    price_precision: int,
    size_precision: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[TradeTick]:
    """Yield the ``TradeTick`` objects of a ``trades`` file.

    Each keeps the venue's id as text (UUIDs included); a row without an id gets
    ``"<ts_event>-<row>"`` (row counted from 0 in the file), so ids stay unique.
    """
    instrument = _instrument(instrument_id)
    row = 0
    for chunk in trade_chunks(path, price_precision, size_precision, chunk_size=chunk_size):
        for (ts_event, ts_init, price, size, _, aggressor, _), trade_id in zip(
            chunk.trades.tolist(), chunk.trade_ids.tolist(), strict=True
        ):
            text = trade_id.decode() or f"{ts_event}-{row}"
            row += 1
            yield TradeTick(
                instrument,
                Price.from_raw(price, price_precision),
                Quantity.from_raw(size, size_precision),
                AggressorSide(aggressor),
                TradeId(text),
                ts_event,
                ts_init,
            )


# -- quotes ------------------------------------------------------------------------------

_QUOTE_COLUMNS = [
    "timestamp",
    "local_timestamp",
    "ask_amount",
    "ask_price",
    "bid_price",
    "bid_amount",
]


def quote_chunks(
    path: str | Path,
    price_precision: int,
    size_precision: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[Array]:
    """Stream a ``quotes`` file as ``QUOTE_DTYPE`` arrays.

    Tardis leaves a side empty when the book has no level on it; such a side is price 0 and
    size 0 here. A price given without its amount (or the reverse) is refused.

    Raises
    ------
    DataFormatError
        A malformed row, naming file, line, field and value.
    """
    for fields in _fields(path, _QUOTE_COLUMNS, chunk_size):
        names = fields.names
        quotes = np.zeros(len(fields), dtype=QUOTE_DTYPE)
        quotes["ts_event"] = _timestamps(fields, "timestamp")
        quotes["ts_init"] = _timestamps(fields, "local_timestamp")
        for side in ("bid", "ask"):
            price_column = names.index(f"{side}_price")
            size_column = names.index(f"{side}_amount")
            price, no_price = fields.optional_decimals(price_column, price_precision, negative=True)
            size, no_size = fields.optional_decimals(size_column, size_precision)
            mismatch = no_price != no_size
            if mismatch.any():
                row = int(np.argmax(mismatch))
                column = price_column if no_price[row] else size_column
                raise fields.error(
                    row, column, "price and amount must be both present or both empty"
                )
            quotes[f"{side}_price"] = price
            quotes[f"{side}_size"] = size
        yield quotes


def quote_ticks(
    path: str | Path,
    instrument_id: InstrumentId | str,
    price_precision: int,
    size_precision: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[QuoteTick]:
    """Yield the ``QuoteTick`` objects of a ``quotes`` file."""
    instrument = _instrument(instrument_id)
    for chunk in quote_chunks(path, price_precision, size_precision, chunk_size=chunk_size):
        yield from quotes_to_objects(chunk, instrument, price_precision, size_precision)
