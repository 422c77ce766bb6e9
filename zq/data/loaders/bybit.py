"""Bybit order-book captures: JSON lines of the public ``orderbook.{depth}.{symbol}`` stream,
as Bybit publishes them for download (``...ob500.data``, plain or in a zip).

Each line is one message::

    {"topic": "orderbook.500.XRPUSDT", "type": "snapshot" | "delta", "ts": ms,
     "data": {"s": symbol, "b": [[price, size], ...], "a": [...], "u": id, "seq": seq},
     "cts": ms}

Book semantics (Bybit's documentation of the order-book stream):

- A ``snapshot`` replaces the book: a ``CLEAR`` delta, then one ``ADD`` per level, all
  flagged ``SNAPSHOT``.
- A ``delta`` gives each changed level's new total size: ``UPDATE``, or ``DELETE`` when the
  size is ``"0"``.
- ``u`` is the update id: each delta's ``u`` must be the previous message's ``u`` + 1. A
  gap is refused (the book would be wrong until the next snapshot), naming the line.
  Deltas before the first snapshot are skipped.
- Bids come before asks within a message, as written; the last delta of each message
  carries ``BookFlags.LAST`` (the book is consistent only there).

Timestamps (milliseconds, converted to nanoseconds): ``ts_event`` is ``cts``, the matching
engine's time (``ts`` when a message has no ``cts``); ``ts_init`` is ``ts``, when Bybit's
system published the message (the file records no receive time). ``sequence`` is ``u``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from zq.data.arrays import DELTA_DTYPE, deltas_to_objects
from zq.data.errors import DataFormatError
from zq.data.loaders._delimited import (
    MAX_LINE_BYTES,
    explain_decimal,
    open_binary,
    parse_decimal_strings,
)
from zq.model.data import BookFlags, OrderBookDelta
from zq.model.enums import BookAction, OrderSide
from zq.model.identifiers import InstrumentId

__all__ = ["book_delta_chunks", "book_deltas"]

DEFAULT_CHUNK_SIZE = 1_000
_MILLIS = 1_000_000

Array = npt.NDArray[np.void]


class _Book(msgspec.Struct, frozen=True):
    s: str
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]
    u: int
    seq: int | None = None


class _Message(msgspec.Struct, frozen=True):
    topic: str
    type: Literal["snapshot", "delta"]
    ts: int
    data: _Book
    cts: int | None = None


_DECODER = msgspec.json.Decoder(_Message)


class _State:
    def __init__(self) -> None:
        self.last_update: int | None = None
        self.started = False


def book_delta_chunks(
    path: str | Path,
    price_precision: int,
    size_precision: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[Array]:
    """Stream a Bybit order-book capture as ``DELTA_DTYPE`` arrays, one per ``chunk_size``
    messages.

    Parameters
    ----------
    path : str or Path
        The JSON-lines file (plain, gzip, or a zip holding it).
    price_precision, size_precision : int
        Decimals of the instrument; a price or size with more significant decimals is
        refused, never rounded.
    chunk_size : int
        Messages per yielded array (each array ends on a message boundary).

    Raises
    ------
    DataFormatError
        A malformed message, a bad number, or a gap in ``u``, naming file, line and field.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    path = Path(path)
    state = _State()
    batch: list[tuple[int, _Message]] = []
    with open_binary(path) as stream:
        number = 0
        while line := stream.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(line) > MAX_LINE_BYTES:
                raise DataFormatError(path, f"line longer than {MAX_LINE_BYTES} bytes", line=number)
            if not line.strip():
                continue
            try:
                message = _DECODER.decode(line)
            except msgspec.ValidationError as exc:
                raise DataFormatError(path, f"invalid message: {exc}", line=number) from None
            except msgspec.DecodeError as exc:
                raise DataFormatError(path, f"not JSON: {exc}", line=number) from None
            if _accept(path, number, message, state):
                batch.append((number, message))
            if len(batch) >= chunk_size:
                yield _convert(path, batch, price_precision, size_precision)
                batch = []
    if batch:
        yield _convert(path, batch, price_precision, size_precision)


def _accept(path: Path, number: int, message: _Message, state: _State) -> bool:
    update = message.data.u
    if message.type == "snapshot":
        state.started = True
    elif not state.started:
        return False
    elif state.last_update is not None and update != state.last_update + 1:
        raise DataFormatError(
            path,
            f"gap in update ids: expected u={state.last_update + 1} after {state.last_update}",
            line=number,
            field="u",
            value=update,
        )
    state.last_update = update
    return True


def _convert(
    path: Path, batch: list[tuple[int, _Message]], price_precision: int, size_precision: int
) -> Array:
    prices: list[str] = []
    sizes: list[str] = []
    sides: list[int] = []
    owners: list[int] = []  # index in batch of the message each level belongs to
    for index, (_, message) in enumerate(batch):
        for side, book in ((OrderSide.BUY, message.data.b), (OrderSide.SELL, message.data.a)):
            for price, size in book:
                prices.append(price)
                sizes.append(size)
                sides.append(side)
                owners.append(index)
    owner = np.array(owners, dtype=np.int64)
    price_raw = _decimals(path, batch, prices, owner, price_precision, "price", negative=True)
    size_raw = _decimals(path, batch, sizes, owner, size_precision, "size", negative=False)

    messages = len(batch)
    snapshot = np.array([message.type == "snapshot" for _, message in batch], dtype=np.bool_)
    ts_init = np.array([message.ts for _, message in batch], dtype=np.int64) * _MILLIS
    ts_event = (
        np.array(
            [message.ts if message.cts is None else message.cts for _, message in batch],
            dtype=np.int64,
        )
        * _MILLIS
    )
    update = np.array([message.data.u for _, message in batch], dtype=np.uint64)

    levels = np.zeros(len(prices), dtype=DELTA_DTYPE)
    levels["price"] = price_raw
    levels["size"] = size_raw
    levels["side"] = np.array(sides, dtype=np.uint8)
    is_snapshot = snapshot[owner]
    levels["action"] = np.where(
        size_raw == 0, BookAction.DELETE, np.where(is_snapshot, BookAction.ADD, BookAction.UPDATE)
    )
    levels["flags"] = np.where(is_snapshot, BookFlags.SNAPSHOT, 0)
    # One CLEAR before each snapshot's levels: insert at the snapshot's first level.
    first_level = np.searchsorted(owner, np.arange(messages))
    clear_at = first_level[snapshot]
    clears = np.zeros(len(clear_at), dtype=DELTA_DTYPE)
    clears["action"] = BookAction.CLEAR
    clears["flags"] = BookFlags.SNAPSHOT
    deltas = np.insert(levels, clear_at, clears)
    owner = np.insert(owner, clear_at, np.flatnonzero(snapshot))
    deltas["ts_event"] = ts_event[owner]
    deltas["ts_init"] = ts_init[owner]
    deltas["sequence"] = update[owner]
    last = np.empty(len(deltas), dtype=np.bool_)
    last[:-1] = owner[1:] != owner[:-1]
    last[-1:] = True
    deltas["flags"] |= np.where(last, np.uint8(BookFlags.LAST), np.uint8(0))
    return deltas


def _decimals(
    path: Path,
    batch: list[tuple[int, _Message]],
    texts: list[str],
    owner: npt.NDArray[np.int64],
    precision: int,
    field: str,
    *,
    negative: bool,
) -> npt.NDArray[np.int64]:
    if not texts:
        return np.zeros(0, dtype=np.int64)
    encoded = np.array([text.encode("ascii", "replace") for text in texts], dtype=np.bytes_)
    values, bad = parse_decimal_strings(encoded, precision)
    if not negative:
        bad |= values < 0
    if bad.any():
        row = int(np.argmax(bad))
        text = texts[row]
        problem = explain_decimal(text, precision) or "negative value"
        line = batch[int(owner[row])][0]
        raise DataFormatError(path, problem, line=line, field=field, value=text)
    return values


def book_deltas(
    path: str | Path,
    instrument_id: InstrumentId | str,
    price_precision: int,
    size_precision: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[OrderBookDelta]:
    """Yield the ``OrderBookDelta`` objects of a Bybit order-book capture."""
    instrument = (
        instrument_id if isinstance(instrument_id, InstrumentId) else InstrumentId(instrument_id)
    )
    for chunk in book_delta_chunks(path, price_precision, size_precision, chunk_size=chunk_size):
        yield from deltas_to_objects(chunk, instrument, price_precision, size_precision)
