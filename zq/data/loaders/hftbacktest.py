"""hftbacktest event files (``.npz`` / ``.npy``): read them as zq deltas and trades, and
write zq deltas and trades as hftbacktest events.

The format is one structured array (``data`` in an ``.npz``) of :data:`EVENT_DTYPE` rows,
64 bytes each: ``ev u8, exch_ts i8, local_ts i8, px f8, qty f8, order_id u8, ival i8,
fval f8``. The low byte of ``ev`` is the kind (1 depth, 2 trade, 3 depth clear, 4 depth
snapshot); its high bits are flags: ``1<<31`` the exchange processes the row at
``exch_ts``, ``1<<30`` the local side processes it at ``local_ts``, ``1<<29`` buy (bid side,
or buyer-initiated trade), ``1<<28`` sell. An event whose two time orders disagree is
stored twice, as an exchange-only row and a local-only row, so that each flag's rows are
sorted by their own timestamp.

Reading picks one **view**: ``"local"`` (the rows flagged local, in ``local_ts`` order: what
a strategy sees, and the order zq replays by ``ts_init``) or ``"exchange"`` (rows flagged
exchange, in ``exch_ts`` order). Each event appears exactly once in either view. Every zq
item gets ``ts_event = exch_ts`` and ``ts_init = local_ts``.

Mapping to zq (an L2, price-level book):

- depth → ``UPDATE`` with the level's new total size, or ``DELETE`` at qty 0;
- depth snapshot → ``ADD`` flagged ``SNAPSHOT`` (``DELETE`` at qty 0);
- depth clear with a side clears that side *from the best level up to px*, as hftbacktest
  does (bids at or above px, asks at or below px; levels beyond px stay). zq has no ranged
  clear, so the reader tracks the live levels and emits one ``DELETE`` per level cleared;
  a clear without a side, or with a non-finite px, clears everything (``CLEAR``) or the
  whole side;
- trade → a ``TRADE_DTYPE`` row; the buy/sell flag is the aggressor.
- The last delta of each run of equal view timestamps carries ``BookFlags.LAST``.

Prices and sizes are binary floats here, not decimal text. A float that was parsed from a
decimal with at most ``precision`` decimals lies within half an ulp of it: relative error
1.1e-16, far below 1e-6 of a tick for any value under 10**9 ticks. So the reader rounds
``px × 10**precision`` to the nearest integer and refuses the row if the float was more than
1e-6 of a tick away from that integer (a wrong precision, or a price produced by
arithmetic), naming the record, field and value. Writing divides the raw integer by
10**precision, which gives the float nearest to the decimal value, so zq → npz → zq is
exact.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from zq.data.arrays import DELTA_DTYPE, TRADE_DTYPE, deltas_to_objects
from zq.data.errors import DataFormatError
from zq.model.data import BookFlags, OrderBookDelta, TradeTick
from zq.model.enums import AggressorSide, BookAction, OrderSide
from zq.model.identifiers import InstrumentId, TradeId
from zq_core.fixed import Price, Quantity

__all__ = [
    "BUY_EVENT",
    "DEPTH_CLEAR_EVENT",
    "DEPTH_EVENT",
    "DEPTH_SNAPSHOT_EVENT",
    "EVENT_DTYPE",
    "EXCH_EVENT",
    "LOCAL_EVENT",
    "SELL_EVENT",
    "TRADE_EVENT",
    "EventChunk",
    "View",
    "book_deltas",
    "event_chunks",
    "read_events",
    "to_events",
    "trade_ticks",
    "write_npz",
]

#: hftbacktest's event row (64 bytes).
EVENT_DTYPE = np.dtype(
    [
        ("ev", "<u8"),
        ("exch_ts", "<i8"),
        ("local_ts", "<i8"),
        ("px", "<f8"),
        ("qty", "<f8"),
        ("order_id", "<u8"),
        ("ival", "<i8"),
        ("fval", "<f8"),
    ],
    align=True,
)
DEPTH_EVENT = 1
TRADE_EVENT = 2
DEPTH_CLEAR_EVENT = 3
DEPTH_SNAPSHOT_EVENT = 4
EXCH_EVENT = 1 << 31
LOCAL_EVENT = 1 << 30
BUY_EVENT = 1 << 29
SELL_EVENT = 1 << 28

View = Literal["local", "exchange"]

DEFAULT_CHUNK_SIZE = 100_000
#: Largest distance from the grid, in ticks, that a float may have.
GRID_TOLERANCE = 1e-6
_KIND = np.uint64(0xFF)
_MAX_EXACT = float(2**53)

Array = npt.NDArray[np.void]
Int64Array = npt.NDArray[np.int64]


class EventChunk(NamedTuple):
    """zq data converted from one chunk of events: ``DELTA_DTYPE`` and ``TRADE_DTYPE``."""

    deltas: Array
    trades: Array


# -- reading raw events ------------------------------------------------------------------


def read_events(
    path: str | Path, *, key: str = "data", chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[npt.NDArray[np.void]]:
    """Stream the raw :data:`EVENT_DTYPE` rows of an ``.npz`` (array ``key``) or ``.npy``.

    An ``.npz`` is decompressed as it is read, ``chunk_size`` rows at a time, so memory does
    not grow with the file; an ``.npy`` is memory-mapped and sliced.

    Raises
    ------
    DataFormatError
        The file is not an event array of this dtype, or it is truncated.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    path = Path(path)
    with path.open("rb") as handle:
        is_zip = handle.read(4) == b"PK\x03\x04"
    if not is_zip:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        _check_dtype(path, array.dtype, array.shape)
        for start in range(0, len(array), chunk_size):
            yield np.array(array[start : start + chunk_size])
        return
    with zipfile.ZipFile(path) as archive:
        member = f"{key}.npy"
        if member not in archive.namelist():
            raise DataFormatError(path, f"npz has no array {key!r}", value=archive.namelist())
        with archive.open(member) as stream:
            yield from _stream_npy(path, stream, chunk_size)  # type: ignore[arg-type]


def _stream_npy(path: Path, stream: BinaryIO, chunk_size: int) -> Iterator[Array]:
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise DataFormatError(path, f"unsupported .npy version {version}")
    except ValueError as exc:
        if isinstance(exc, DataFormatError):
            raise
        raise DataFormatError(path, f"not a .npy array: {exc}") from None
    _check_dtype(path, dtype, shape)
    total = shape[0]
    done = 0
    while done < total:
        rows = min(chunk_size, total - done)
        want = rows * EVENT_DTYPE.itemsize
        data = stream.read(want)
        while len(data) < want:
            more = stream.read(want - len(data))
            if not more:
                raise DataFormatError(
                    path, f"truncated: {total} rows declared, data ends", record=done
                )
            data += more
        yield np.frombuffer(data, dtype=EVENT_DTYPE)
        done += rows


def _check_dtype(path: Path, dtype: np.dtype[np.void], shape: tuple[int, ...]) -> None:
    if dtype != EVENT_DTYPE or len(shape) != 1:
        raise DataFormatError(
            path,
            "not an hftbacktest event array (expected a 1-d array of ev u8, exch_ts i8, "
            "local_ts i8, px f8, qty f8, order_id u8, ival i8, fval f8)",
            value=f"{dtype} shape {shape}",
        )


# -- converting to zq --------------------------------------------------------------------


class _LiveLevels:
    """The prices present on each side of an L2 book, kept up to date from deltas in bulk
    (so that a ranged clear can name the levels it removes)."""

    def __init__(self) -> None:
        self.sides = {
            int(OrderSide.BUY): np.empty(0, dtype=np.int64),
            int(OrderSide.SELL): np.empty(0, dtype=np.int64),
        }

    def update(self, deltas: Array) -> None:
        """Apply level-setting deltas (no ``CLEAR``): the last change of each price decides."""
        for code, levels in self.sides.items():
            mine = deltas[deltas["side"] == code]
            if not len(mine):
                continue
            prices = mine["price"][::-1]
            unique, first = np.unique(prices, return_index=True)
            last = mine[::-1][first]
            alive = (last["size"] > 0) & (last["action"] != BookAction.DELETE)
            kept = np.setdiff1d(levels, unique, assume_unique=True)
            self.sides[code] = np.union1d(kept, unique[alive])

    def remove(self, side: int, prices: Int64Array) -> None:
        """Forget ``prices`` on ``side``."""
        self.sides[side] = np.setdiff1d(self.sides[side], prices, assume_unique=True)

    def clear(self, side: int) -> None:
        """Forget one side (1 or 2), or both (0)."""
        for code in self.sides:
            if side in (0, code):
                self.sides[code] = self.sides[code][:0]


class _Converter:
    """Events of one view → zq arrays, carrying state between chunks: the live price levels
    (for ranged clears) and the trailing run of equal timestamps (for ``LAST``)."""

    def __init__(self, path: Path, price_precision: int, size_precision: int, view: View):
        if view not in ("local", "exchange"):
            raise ValueError(f"view must be 'local' or 'exchange', got {view!r}")
        self.path = path
        self.price_precision = price_precision
        self.size_precision = size_precision
        self.flag = np.uint64(LOCAL_EVENT if view == "local" else EXCH_EVENT)
        self.key = "local_ts" if view == "local" else "exch_ts"
        self.levels = _LiveLevels()
        self.carry = np.empty(0, dtype=EVENT_DTYPE)
        self.carry_records = np.empty(0, dtype=np.int64)
        self.trade_count = 0

    def feed(self, events: Array, first_record: int) -> EventChunk | None:
        selected = (events["ev"] & self.flag) != 0
        rows = np.concatenate([self.carry, events[selected]])
        records = np.concatenate([self.carry_records, first_record + np.flatnonzero(selected)])
        if not len(rows):
            return None
        keys = rows[self.key]
        different = np.flatnonzero(keys[:-1] != keys[-1])
        cut = int(different[-1]) + 1 if len(different) else 0
        self.carry, self.carry_records = rows[cut:], records[cut:]
        return self._convert(rows[:cut], records[:cut]) if cut else None

    def finish(self) -> EventChunk | None:
        rows, records = self.carry, self.carry_records
        self.carry = self.carry[:0]
        return self._convert(rows, records) if len(rows) else None

    # The rows given end on a timestamp boundary.
    def _convert(self, rows: Array, records: Int64Array) -> EventChunk:
        ev = rows["ev"]
        kind = (ev & _KIND).astype(np.int64)
        buy = (ev & np.uint64(BUY_EVENT)) != 0
        sell = (ev & np.uint64(SELL_EVENT)) != 0
        known = np.isin(kind, (DEPTH_EVENT, TRADE_EVENT, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT))
        self._refuse(~known, rows, records, "ev", "unsupported event kind (not 1, 2, 3 or 4)")
        self._refuse(buy & sell, rows, records, "ev", "both the buy and the sell flag are set")
        book = (kind == DEPTH_EVENT) | (kind == DEPTH_SNAPSHOT_EVENT)
        self._refuse(book & ~buy & ~sell, rows, records, "ev", "depth event without a side")
        side = np.where(buy, int(OrderSide.BUY), np.where(sell, int(OrderSide.SELL), 0))

        priced = book | (kind == TRADE_EVENT)
        price = self._grid(rows["px"], priced, records, "px", self.price_precision)
        size = self._grid(rows["qty"], priced, records, "qty", self.size_precision)
        self._refuse(priced & (size < 0), rows, records, "qty", "negative quantity")

        is_trade = kind == TRADE_EVENT
        trades = np.zeros(int(is_trade.sum()), dtype=TRADE_DTYPE)
        trades["ts_event"] = rows["exch_ts"][is_trade]
        trades["ts_init"] = rows["local_ts"][is_trade]
        trades["price"] = price[is_trade]
        trades["size"] = size[is_trade]
        trades["aggressor_side"] = np.where(
            buy[is_trade],
            int(AggressorSide.BUYER),
            np.where(sell[is_trade], int(AggressorSide.SELLER), int(AggressorSide.NO_AGGRESSOR)),
        )

        clear_rows = np.flatnonzero(kind == DEPTH_CLEAR_EVENT)
        pieces: list[Array] = []
        start = 0
        for clear in [*clear_rows.tolist(), len(rows)]:
            segment = np.flatnonzero(book[start:clear]) + start
            pieces.append(self._book_rows(rows, segment, side, price, size, kind))
            if clear < len(rows):
                pieces.append(self._clear(rows[clear], int(side[clear]), int(records[clear])))
            start = clear + 1
        deltas = np.concatenate(pieces) if pieces else np.zeros(0, DELTA_DTYPE)
        if len(deltas):
            key = deltas["ts_init" if self.key == "local_ts" else "ts_event"]
            last = np.empty(len(deltas), dtype=np.bool_)
            last[:-1] = key[1:] != key[:-1]
            last[-1] = True
            deltas["flags"] |= np.where(last, np.uint8(BookFlags.LAST), np.uint8(0))
        return EventChunk(deltas, trades)

    def _book_rows(
        self,
        rows: Array,
        index: npt.NDArray[np.intp],
        side: Int64Array,
        price: Int64Array,
        size: Int64Array,
        kind: Int64Array,
    ) -> Array:
        deltas = np.zeros(len(index), dtype=DELTA_DTYPE)
        if not len(index):
            return deltas
        snapshot = kind[index] == DEPTH_SNAPSHOT_EVENT
        deltas["ts_event"] = rows["exch_ts"][index]
        deltas["ts_init"] = rows["local_ts"][index]
        deltas["price"] = price[index]
        deltas["size"] = size[index]
        deltas["order_id"] = rows["order_id"][index]
        deltas["side"] = side[index]
        deltas["action"] = np.where(
            size[index] == 0,
            BookAction.DELETE,
            np.where(snapshot, BookAction.ADD, BookAction.UPDATE),
        )
        deltas["flags"] = np.where(snapshot, BookFlags.SNAPSHOT, 0)
        self.levels.update(deltas)
        return deltas

    def _clear(self, row: np.void, side: int, record: int) -> Array:
        px = float(row["px"])
        if side == 0:
            self.levels.clear(0)
            clear = np.zeros(1, dtype=DELTA_DTYPE)
            clear["ts_event"], clear["ts_init"] = row["exch_ts"], row["local_ts"]
            clear["action"] = BookAction.CLEAR
            return clear
        levels = self.levels.sides[side]
        if not np.isfinite(px):
            gone = levels
        else:
            bound = self._grid(
                np.array([px]), np.array([True]), np.array([record]), "px", self.price_precision
            )[0]
            gone = levels[levels >= bound] if side == OrderSide.BUY else levels[levels <= bound]
        self.levels.remove(side, gone)
        if side == OrderSide.BUY:
            gone = gone[::-1]  # best (highest) bid first
        deletes = np.zeros(len(gone), dtype=DELTA_DTYPE)
        deletes["ts_event"], deletes["ts_init"] = row["exch_ts"], row["local_ts"]
        deletes["price"] = gone
        deletes["side"] = side
        deletes["action"] = BookAction.DELETE
        return deletes

    def _grid(
        self,
        values: npt.NDArray[np.float64],
        used: npt.NDArray[np.bool_],
        records: Int64Array,
        field: str,
        precision: int,
    ) -> Int64Array:
        scaled = values * 10.0**precision
        with np.errstate(invalid="ignore"):
            raw = np.rint(scaled)
            off = np.abs(scaled - raw)
            bad = used & (
                ~np.isfinite(scaled) | (off > GRID_TOLERANCE) | (np.abs(raw) > _MAX_EXACT)
            )
        if bad.any():
            row = int(np.argmax(bad))
            raise DataFormatError(
                self.path,
                f"not on the 1e-{precision} grid of precision {precision} "
                f"(off by {off[row]:.3g} of a tick; tolerance {GRID_TOLERANCE:g})",
                record=int(records[row]),
                field=field,
                value=float(values[row]),
            )
        return np.where(used, raw, 0).astype(np.int64)

    def _refuse(
        self,
        bad: npt.NDArray[np.bool_],
        rows: Array,
        records: Int64Array,
        field: str,
        problem: str,
    ) -> None:
        if bad.any():
            row = int(np.argmax(bad))
            value: object = hex(int(rows["ev"][row])) if field == "ev" else float(rows[field][row])
            raise DataFormatError(
                self.path, problem, record=int(records[row]), field=field, value=value
            )


def event_chunks(
    path: str | Path,
    price_precision: int,
    size_precision: int,
    *,
    view: View = "local",
    key: str = "data",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[EventChunk]:
    """Stream an hftbacktest file as zq :class:`EventChunk` arrays (deltas and trades).

    Parameters
    ----------
    path : str or Path
        An ``.npz`` (array ``key``) or ``.npy`` of :data:`EVENT_DTYPE`.
    price_precision, size_precision : int
        Decimals of the instrument; px and qty must lie on that grid (see the module
        docstring).
    view : {"local", "exchange"}
        Which rows to read: those the local side processes, in ``local_ts`` order, or
        those the exchange processes, in ``exch_ts`` order.
    chunk_size : int
        Event rows read per chunk. A run of equal timestamps is never split across
        yielded chunks, so each ``deltas`` array ends on a ``LAST`` delta.

    Raises
    ------
    DataFormatError
        An unsupported or malformed event, naming the record (0-based row), field, value.
    """
    path = Path(path)
    converter = _Converter(path, price_precision, size_precision, view)
    record = 0
    for events in read_events(path, key=key, chunk_size=chunk_size):
        chunk = converter.feed(events, record)
        record += len(events)
        if chunk is not None:
            yield chunk
    chunk = converter.finish()
    if chunk is not None:
        yield chunk


def book_deltas(
    path: str | Path,
    instrument_id: InstrumentId | str,
    price_precision: int,
    size_precision: int,
    *,
    view: View = "local",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[OrderBookDelta]:
    """Yield the ``OrderBookDelta`` objects of an hftbacktest file (see :func:`event_chunks`)."""
    instrument = _instrument(instrument_id)
    for chunk in event_chunks(
        path, price_precision, size_precision, view=view, chunk_size=chunk_size
    ):
        yield from deltas_to_objects(chunk.deltas, instrument, price_precision, size_precision)


def trade_ticks(
    path: str | Path,
    instrument_id: InstrumentId | str,
    price_precision: int,
    size_precision: int,
    *,
    view: View = "local",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[TradeTick]:
    """Yield the ``TradeTick`` objects of an hftbacktest file.

    The format has no trade ids; each trade's id is its 1-based position among the file's
    trades in the view.
    """
    instrument = _instrument(instrument_id)
    count = 0
    for chunk in event_chunks(
        path, price_precision, size_precision, view=view, chunk_size=chunk_size
    ):
        for ts_event, ts_init, price, size, _, aggressor, _ in chunk.trades.tolist():
            count += 1
            yield TradeTick(
                instrument,
                Price.from_raw(price, price_precision),
                Quantity.from_raw(size, size_precision),
                AggressorSide(aggressor),
                TradeId(str(count)),
                ts_event,
                ts_init,
            )


def _instrument(instrument_id: InstrumentId | str) -> InstrumentId:
    return instrument_id if isinstance(instrument_id, InstrumentId) else InstrumentId(instrument_id)


# -- writing -----------------------------------------------------------------------------


def to_events(
    deltas: Array | None = None,
    trades: Array | None = None,
    *,
    price_precision: int,
    size_precision: int,
) -> npt.NDArray[np.void]:
    """Convert zq ``DELTA_DTYPE`` and ``TRADE_DTYPE`` arrays to hftbacktest events.

    Rows are merged by ``ts_init`` (deltas before trades at equal times, each in its own
    order). ``exch_ts`` is ``ts_event`` and ``local_ts`` is ``ts_init``. A delta flagged
    ``SNAPSHOT`` becomes a depth-snapshot event, any other level delta a depth event (qty 0
    for ``DELETE``; an ``ADD`` reads back as ``UPDATE``, which sets an L2 level the same
    way). A ``CLEAR`` of both sides becomes a side-less depth clear; a ``CLEAR`` of one side
    becomes a clear of that side up to its deepest live level (hftbacktest clears a side
    only up to px), which reads back as one ``DELETE`` per level. A trade's aggressor
    becomes its buy/sell flag. When the exchange order of the rows differs from their local
    order, events are split into exchange-only and local-only rows as hftbacktest requires.

    Raises
    ------
    ValueError
        A ``FILL`` delta (market-by-order data has no place in this L2 layout).
    """
    deltas = np.zeros(0, DELTA_DTYPE) if deltas is None else deltas
    trades = np.zeros(0, TRADE_DTYPE) if trades is None else trades
    fills = deltas["action"] == BookAction.FILL
    if fills.any():
        raise ValueError(
            f"delta {int(np.argmax(fills))} is a FILL: market-by-order deltas cannot be "
            "written as hftbacktest L2 events"
        )
    price_scale = 10.0**price_precision
    size_scale = 10.0**size_precision
    book = np.zeros(len(deltas), dtype=EVENT_DTYPE)
    action = deltas["action"]
    kind = np.where(
        action == BookAction.CLEAR,
        DEPTH_CLEAR_EVENT,
        np.where(deltas["flags"] & BookFlags.SNAPSHOT, DEPTH_SNAPSHOT_EVENT, DEPTH_EVENT),
    ).astype(np.uint64)
    book["ev"] = kind | _side_flags(deltas["side"], int(OrderSide.BUY), int(OrderSide.SELL))
    book["exch_ts"], book["local_ts"] = deltas["ts_event"], deltas["ts_init"]
    book["px"] = np.where(action == BookAction.CLEAR, 0.0, deltas["price"] / price_scale)
    side_clears = np.flatnonzero((action == BookAction.CLEAR) & (deltas["side"] != 0))
    if len(side_clears):
        book["px"][side_clears] = _clear_bounds(deltas, side_clears) / price_scale
    book["qty"] = np.where(action == BookAction.DELETE, 0.0, deltas["size"] / size_scale)
    book["order_id"] = deltas["order_id"]
    trade_events = np.zeros(len(trades), dtype=EVENT_DTYPE)
    trade_events["ev"] = np.uint64(TRADE_EVENT) | _side_flags(
        trades["aggressor_side"], int(AggressorSide.BUYER), int(AggressorSide.SELLER)
    )
    trade_events["exch_ts"], trade_events["local_ts"] = trades["ts_event"], trades["ts_init"]
    trade_events["px"] = trades["price"] / price_scale
    trade_events["qty"] = trades["size"] / size_scale
    events = np.concatenate([book, trade_events])
    events = events[np.argsort(events["local_ts"], kind="stable")]
    return _order_for_both_clocks(events)


def _clear_bounds(deltas: Array, clears: npt.NDArray[np.intp]) -> Int64Array:
    """The px of each one-side clear: the side's deepest live level (0 if it has none)."""
    levels = _LiveLevels()
    bounds = np.zeros(len(clears), dtype=np.int64)
    start = 0
    for index, clear in enumerate(clears.tolist()):
        segment = deltas[start:clear]
        done = 0
        # Only clears of both sides lie between two one-side clears.
        for cut in np.flatnonzero(segment["action"] == BookAction.CLEAR).tolist():
            levels.update(segment[done:cut])
            levels.clear(0)
            done = cut + 1
        levels.update(segment[done:])
        side = int(deltas["side"][clear])
        live = levels.sides[side]
        if len(live):
            bounds[index] = live[0] if side == OrderSide.BUY else live[-1]
        levels.clear(side)
        start = clear + 1
    return bounds


def _side_flags(values: npt.NDArray[np.uint8], buy: int, sell: int) -> npt.NDArray[np.uint64]:
    flags: npt.NDArray[np.uint64] = np.where(
        values == buy,
        np.uint64(BUY_EVENT),
        np.where(values == sell, np.uint64(SELL_EVENT), np.uint64(0)),
    ).astype(np.uint64)
    return flags


def _order_for_both_clocks(events: Array) -> Array:
    """Flag rows for both clocks; split the events whose two time orders disagree."""
    both = np.uint64(EXCH_EVENT | LOCAL_EVENT)
    exchange_order = np.argsort(events["exch_ts"], kind="stable")
    if (exchange_order == np.arange(len(events))).all():
        events["ev"] |= both
        return events
    # Walk the local order and the exchange order together (as hftbacktest's
    # correct_event_order does): a row next in both is shared, otherwise the earlier
    # exchange time goes out as an exchange-only row, or the local row as a local-only one.
    flags = np.zeros(2 * len(events), dtype=np.uint64)
    source = np.zeros(2 * len(events), dtype=np.int64)
    exch_ts = events["exch_ts"]
    local_index = exchange_index = written = 0
    total = len(events)
    order = exchange_order.tolist()
    while local_index < total or exchange_index < total:
        local_row = local_index if local_index < total else -1
        exchange_row = order[exchange_index] if exchange_index < total else -1
        if local_row == exchange_row:
            source[written], flags[written] = local_row, both
            local_index += 1
            exchange_index += 1
        elif exchange_row >= 0 and (local_row < 0 or exch_ts[exchange_row] <= exch_ts[local_row]):
            source[written], flags[written] = exchange_row, EXCH_EVENT
            exchange_index += 1
        else:
            source[written], flags[written] = local_row, LOCAL_EVENT
            local_index += 1
        written += 1
    out = events[source[:written]]
    out["ev"] |= flags[:written]
    return out


def write_npz(
    path: str | Path,
    deltas: Array | None = None,
    trades: Array | None = None,
    *,
    price_precision: int,
    size_precision: int,
    compressed: bool = True,
) -> int:
    """Write zq deltas and trades as an hftbacktest ``.npz`` (array ``data``).

    See :func:`to_events` for the mapping. The events are built in memory (the format
    needs the whole array to order it for both clocks). Returns the number of rows written.
    """
    events = to_events(
        deltas, trades, price_precision=price_precision, size_precision=size_precision
    )
    save = np.savez_compressed if compressed else np.savez
    with Path(path).open("wb") as handle:
        save(handle, data=events)
    return len(events)
