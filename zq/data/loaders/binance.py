"""Binance raw stream captures: diff-depth, bookTicker and trades, with order-book sync.

A capture holds one message per line, ``<local receive time, ns> <JSON as received>``, in
gzip or plain text (the format of hftbacktest's collector). Messages come in Binance's
combined-stream wrapper ``{"stream": ..., "data": ...}``; a REST depth snapshot
(``{"lastUpdateId": ..., "bids": ..., "asks": ...}``) appears unwrapped. Unwrapped
single-stream messages are read too.

:class:`BinanceCaptureLoader` streams a capture in chunks of columnar arrays
(:mod:`zq.data.arrays`) and keeps the diffs in sync with the snapshots by Binance's rules
for a local order book (:mod:`zq.data.loaders.binance_sync`, whose public types are
re-exported here): a gap in the diff chain is reported as a :class:`SyncGap`, counted in
:class:`CaptureStats` and logged, the book is cleared downstream and resynced on the next
snapshot in the stream.
"""

from __future__ import annotations

import gzip
import heapq
import io
import logging
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt

from zq.data.arrays import (
    DELTA_DTYPE,
    QUOTE_DTYPE,
    TRADE_DTYPE,
    deltas_to_objects,
    quotes_to_objects,
    trades_to_objects,
)
from zq.data.errors import DataFormatError
from zq.data.loaders._binance_decimal import (
    DECIMAL,
    DIGITS_AND_DOT,
    TokenError,
    Tokens,
    decimal_to_raw,
)
from zq.data.loaders.binance_sync import (
    EMIT_DIFF,
    EMIT_SNAPSHOT,
    BinanceMarket,
    BookSync,
    BookSyncState,
    Emission,
    GapKind,
    Levels,
    SyncCounters,
    SyncGap,
    SyncPhase,
)
from zq.model.data import BookFlags, OrderBookDelta, QuoteTick, TradeTick
from zq.model.enums import AggressorSide, BookAction, OrderSide
from zq.model.identifiers import InstrumentId

__all__ = [
    "BinanceCaptureChunk",
    "BinanceCaptureLoader",
    "BinanceMarket",
    "BookSyncState",
    "CaptureStats",
    "GapKind",
    "SyncCounters",
    "SyncGap",
    "SyncPhase",
    "decimal_to_raw",
]

_log = logging.getLogger("zq.data.loaders.binance")

_Array = npt.NDArray[np.void]
_Int64 = npt.NDArray[np.int64]
_T = TypeVar("_T")
#: Maps a token index of a chunk buffer to (line, field) for error messages.
_Locate = Callable[[int], tuple[int, str]]

_NS_PER_MS: Final = 1_000_000
_MAX_PRECISION: Final = 9  # the largest precision zq_core.fixed values carry


def _check_precision(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if type(value) is bool or not isinstance(value, int) or not 0 <= value <= _MAX_PRECISION:
        raise ValueError(f"{name} must be an int in 0..{_MAX_PRECISION}, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Public types
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class CaptureStats(SyncCounters):
    """Counters of one pass over a capture (reset when ``chunks()`` starts again)."""

    lines: int = 0
    depth_updates: int = 0
    quotes: int = 0
    trades: int = 0
    snapshots: int = 0
    ignored_messages: int = 0  # other streams and non-data lines (subscription replies)
    diffs_unapplied: int = 0  # still buffered when the capture ended
    ts_init_regressions: int = 0  # local timestamps that went backwards (kept as they are)
    deltas: int = 0


@dataclass(frozen=True, slots=True)
class BinanceCaptureChunk:
    """Columnar output of one chunk of a capture.

    Attributes
    ----------
    deltas
        ``DELTA_DTYPE`` rows in the order a book applies them. ``sequence`` is the Binance
        final update id ``u`` of the diff (the ``lastUpdateId`` on snapshot rows); the last
        row of each diff, snapshot or clear carries ``BookFlags.LAST``.
    quotes
        ``QUOTE_DTYPE`` rows from bookTicker.
    quote_update_ids
        The bookTicker update id ``u`` of each quote (parallel to ``quotes``).
    trades
        ``TRADE_DTYPE`` rows from the trade (or aggTrade) stream.
    gaps
        The sync gaps found in this chunk.
    price_precision, size_precision
        The precisions of the raw integers (None until the capture showed a value).
    first_line, last_line
        The capture lines this chunk covers.
    """

    deltas: _Array
    quotes: _Array
    quote_update_ids: npt.NDArray[np.uint64]
    trades: _Array
    gaps: tuple[SyncGap, ...]
    price_precision: int | None
    size_precision: int | None
    first_line: int
    last_line: int


# ---------------------------------------------------------------------------------------------
# Message layouts (msgspec); prices and sizes stay raw JSON and are parsed in bulk per chunk
# ---------------------------------------------------------------------------------------------


class _Depth(msgspec.Struct):
    symbol: str = msgspec.field(name="s")
    event_time: int = msgspec.field(name="E")
    first_update_id: int = msgspec.field(name="U")
    final_update_id: int = msgspec.field(name="u")
    bids: msgspec.Raw = msgspec.field(name="b")
    asks: msgspec.Raw = msgspec.field(name="a")
    transaction_time: int | None = msgspec.field(default=None, name="T")
    previous_update_id: int | None = msgspec.field(default=None, name="pu")
    pair: str | None = msgspec.field(default=None, name="ps")  # COIN-M only


class _BookTicker(msgspec.Struct):
    symbol: str = msgspec.field(name="s")
    update_id: int = msgspec.field(name="u")
    bid: msgspec.Raw = msgspec.field(name="b")
    bid_size: msgspec.Raw = msgspec.field(name="B")
    ask: msgspec.Raw = msgspec.field(name="a")
    ask_size: msgspec.Raw = msgspec.field(name="A")
    event_time: int | None = msgspec.field(default=None, name="E")
    transaction_time: int | None = msgspec.field(default=None, name="T")


class _Trade(msgspec.Struct):
    symbol: str = msgspec.field(name="s")
    trade_id: int = msgspec.field(name="t")
    price: msgspec.Raw = msgspec.field(name="p")
    size: msgspec.Raw = msgspec.field(name="q")
    trade_time: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")


class _AggTrade(msgspec.Struct):
    symbol: str = msgspec.field(name="s")
    trade_id: int = msgspec.field(name="a")
    price: msgspec.Raw = msgspec.field(name="p")
    size: msgspec.Raw = msgspec.field(name="q")
    trade_time: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")


class _WrappedDepth(msgspec.Struct):
    stream: str
    data: _Depth


class _WrappedBookTicker(msgspec.Struct):
    stream: str
    data: _BookTicker


class _WrappedTrade(msgspec.Struct):
    stream: str
    data: _Trade


class _WrappedAggTrade(msgspec.Struct):
    stream: str
    data: _AggTrade


class _Line(msgspec.Struct):
    """Any line: a wrapped message, a REST snapshot or an unwrapped stream message."""

    stream: str | None = None
    data: msgspec.Raw = msgspec.Raw(b"")
    last_update_id: int | None = msgspec.field(default=None, name="lastUpdateId")
    bids: msgspec.Raw = msgspec.Raw(b"")
    asks: msgspec.Raw = msgspec.Raw(b"")
    event_time: int | None = msgspec.field(default=None, name="E")
    transaction_time: int | None = msgspec.field(default=None, name="T")
    symbol: str | None = None
    event: str | None = msgspec.field(default=None, name="e")
    best_ask_size: msgspec.Raw = msgspec.field(default=msgspec.Raw(b""), name="A")


_DEPTH, _QUOTE, _TRADE, _AGG_TRADE, _IGNORED = range(5)
_DATA_TYPES: Final[dict[int, type]] = {
    _DEPTH: _Depth,
    _QUOTE: _BookTicker,
    _TRADE: _Trade,
    _AGG_TRADE: _AggTrade,
}
_WRAPPED_TYPES: Final[dict[int, type]] = {
    _DEPTH: _WrappedDepth,
    _QUOTE: _WrappedBookTicker,
    _TRADE: _WrappedTrade,
    _AGG_TRADE: _WrappedAggTrade,
}
_EVENT_KINDS: Final = {
    "depthUpdate": _DEPTH,
    "bookTicker": _QUOTE,
    "trade": _TRADE,
    "aggTrade": _AGG_TRADE,
}
_WRAPPED_DECODERS: Final[dict[int, msgspec.json.Decoder[Any]]] = {
    kind: msgspec.json.Decoder(wrapper) for kind, wrapper in _WRAPPED_TYPES.items()
}
_WRAP_PREFIX: Final = b'{"stream":"'
_FIELD_AT = re.compile(r"`\$\.?([^`]*)`")


def _stream_kind(stream: str) -> int:
    """Classify a stream name: ``btcusdt@depth@100ms`` is a diff, ``@depth20`` is not."""
    parts = stream.split("@")
    name = parts[1] if len(parts) > 1 else ""
    if name == "depth":
        return _DEPTH
    return {"bookTicker": _QUOTE, "trade": _TRADE, "aggTrade": _AGG_TRADE}.get(name, _IGNORED)


_EMPTY: Final = np.zeros(0, dtype=np.int64)
_ZERO: Final = np.zeros(1, dtype=np.int64)
_QUOTE_FIELDS: Final = ("b", "B", "a", "A")
_TRADE_FIELDS: Final = ("p", "q")

# ---------------------------------------------------------------------------------------------
# The loader
# ---------------------------------------------------------------------------------------------

_LEVEL_PAIR: Final = b'["",""]'
_DEFAULT_CHUNK_BYTES: Final = 1 << 22


def _open(path: Path) -> io.BufferedIOBase:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return path.open("rb")


class BinanceCaptureLoader:
    """Stream a Binance raw capture as columnar chunks, with the book kept in sync.

    Parameters
    ----------
    path
        The capture: ``<local ts ns> <json>`` lines, gzip or plain text.
    market
        ``BinanceMarket`` (or ``"spot"``, ``"usdm"``, ``"coinm"``). By default it is read
        from the first diff: ``pu`` means futures (COIN-M when the diff has ``ps``).
    price_precision, size_precision
        Decimal places of the raw integers (0..9). By default the most decimals written in
        the first chunk; a later value that needs more decimals is refused with a
        ``DataFormatError``. Trailing zeros do not count: ``"61800.20"`` loads at
        precision 1.
    resume
        The ``sync_state`` of the loader of the previous file: the book carries over (its
        market, symbol and precisions too), and the first diff must continue it.
    chunk_bytes
        Decompressed bytes read per chunk; memory is bounded by it, not by the file.
    max_buffered_diffs
        Diffs kept while waiting for a snapshot (minutes of a ``depth@0ms`` stream by
        default); beyond it the oldest are dropped and counted in
        ``stats.diffs_overflowed``.

    Notes
    -----
    Timestamps: ``ts_init`` is the capture's local receive time; ``ts_event`` is Binance's
    transaction time ``T`` when the message has one, else the event time ``E``, else (spot
    bookTicker, spot REST snapshot) the local time. The two clocks are not corrected: in the
    sample captures the local clock runs about 1.27 s behind Binance.

    Deltas replayed from the buffer when a snapshot arrives carry the snapshot's
    ``ts_init``: that is when they became applicable.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        market: BinanceMarket | str | None = None,
        price_precision: int | None = None,
        size_precision: int | None = None,
        resume: BookSyncState | None = None,
        chunk_bytes: int = _DEFAULT_CHUNK_BYTES,
        max_buffered_diffs: int = 10_000,
    ) -> None:
        self.path = Path(path)
        self._market = BinanceMarket(market) if market is not None else None
        if resume is not None and resume.market is not None:
            if self._market is not None and self._market is not resume.market:
                raise ValueError(
                    f"market={self._market.value!r} contradicts the resumed state's "
                    f"market {resume.market.value!r}"
                )
            self._market = resume.market
        self._price_precision = _check_precision(price_precision, "price_precision")
        self._size_precision = _check_precision(size_precision, "size_precision")
        if resume is not None:
            for name, mine, theirs in (
                ("price_precision", self._price_precision, resume.price_precision),
                ("size_precision", self._size_precision, resume.size_precision),
            ):
                if mine is not None and theirs is not None and mine != theirs:
                    raise ValueError(
                        f"{name}={mine} contradicts the resumed state's {name}={theirs}"
                    )
            if self._price_precision is None:
                self._price_precision = resume.price_precision
            if self._size_precision is None:
                self._size_precision = resume.size_precision
        if chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be positive, got {chunk_bytes}")
        if max_buffered_diffs < 1:
            raise ValueError(f"max_buffered_diffs must be positive, got {max_buffered_diffs}")
        self._resume = resume
        self._chunk_bytes = chunk_bytes
        self._max_buffered = max_buffered_diffs
        self._initial = (self._market, self._price_precision, self._size_precision)
        self._symbol: str | None = resume.symbol if resume is not None else None
        self._stream_kinds: dict[bytes, int] = {}
        self._reset()

    # -- public -----------------------------------------------------------------------------

    @property
    def market(self) -> BinanceMarket | None:
        """The market, given or read from the first diff (None before that)."""
        return self._market

    @property
    def symbol(self) -> str | None:
        """The capture's symbol (None until a message named it)."""
        return self._symbol

    @property
    def price_precision(self) -> int | None:
        """The precision of raw prices (None until given or inferred)."""
        return self._price_precision

    @property
    def size_precision(self) -> int | None:
        """The precision of raw sizes (None until given or inferred)."""
        return self._size_precision

    @property
    def sync_state(self) -> BookSyncState:
        """The book's sync state so far; pass it as ``resume=`` for the next file."""
        return BookSyncState(
            self._market,
            self._sync.phase,
            self._sync.update_id,
            self._symbol,
            self._price_precision,
            self._size_precision,
        )

    def chunks(self) -> Iterator[BinanceCaptureChunk]:
        """Yield the capture as chunks of arrays, in file order.

        Each call reads the file from the start with fresh counters and the initial sync
        state (one pass at a time: ``stats`` and ``sync_state`` follow the latest).
        Chunks with nothing in them are skipped.

        Raises
        ------
        DataFormatError
            On a malformed line (naming the file, line and field), a truncated gzip stream,
            a second symbol, or a value needing more decimals than the precision.
        """
        self._reset()
        line_number = 0
        with _open(self.path) as stream:
            rest = b""
            while True:
                try:
                    block = stream.read(self._chunk_bytes)
                except (EOFError, OSError, zlib.error) as error:
                    raise DataFormatError(
                        self.path,
                        f"cannot decompress the capture ({error})",
                        line=line_number + 1,
                    ) from None
                if not block:
                    break
                lines = (rest + block).split(b"\n")
                rest = lines.pop()
                first = line_number + 1
                line_number = self._read_lines(lines, line_number)
                chunk = self._flush(first, line_number)
                if chunk is not None:
                    yield chunk
            if rest:
                first = line_number + 1
                line_number = self._read_lines([rest], line_number)
                chunk = self._flush(first, line_number)
                if chunk is not None:
                    yield chunk
        self.stats.diffs_unapplied = len(self._sync.buffer)
        if self._sync.phase is not SyncPhase.SYNCED and self.stats.depth_updates:
            _log.warning(
                "%s: the capture ended out of sync (%s, %d diffs never applied)",
                self.path,
                self._sync.phase.value,
                self.stats.diffs_unapplied,
            )

    def objects(
        self, instrument_id: InstrumentId | str
    ) -> Iterator[OrderBookDelta | QuoteTick | TradeTick | SyncGap]:
        """Yield zq data objects (and gaps) merged by ``ts_init``, for ``instrument_id``."""
        instrument = InstrumentId(instrument_id)
        for chunk in self.chunks():
            price_precision = chunk.price_precision or 0
            size_precision = chunk.size_precision or 0
            streams: list[Iterable[OrderBookDelta | QuoteTick | TradeTick | SyncGap]] = [
                deltas_to_objects(chunk.deltas, instrument, price_precision, size_precision),
                iter(chunk.gaps),
                quotes_to_objects(chunk.quotes, instrument, price_precision, size_precision),
                trades_to_objects(chunk.trades, instrument, price_precision, size_precision),
            ]
            yield from heapq.merge(*streams, key=lambda item: item.ts_init)

    # -- reading ----------------------------------------------------------------------------

    def _reset(self) -> None:
        """Return to the state before the first line: initial sync state, zero counters."""
        self._market, self._price_precision, self._size_precision = self._initial
        self._symbol = self._resume.symbol if self._resume is not None else None
        self._last_ts_init = -(2**63)
        self.stats = CaptureStats()
        self._sync = BookSync(
            self._market, self._resume, self._max_buffered, self.stats, str(self.path)
        )
        self._depth: list[Levels] = []  # diffs and snapshots of this chunk (to parse)
        self._quote_raws: list[bytes] = []
        self._quote_lines: list[int] = []
        self._quote_columns: tuple[list[int], list[int], list[int]] = ([], [], [])
        self._trade_raws: list[bytes] = []
        self._trade_lines: list[int] = []
        self._trade_columns: tuple[list[int], list[int], list[int], list[int]] = (
            [],
            [],
            [],
            [],
        )

    def _read_lines(self, lines: list[bytes], line_number: int) -> int:
        # The hot loop: one pass per line, quotes and trades handled inline (they are most
        # of a capture); names bound locally.
        stats = self.stats
        wrapped = _WRAPPED_DECODERS
        kinds = self._stream_kinds
        symbol = self._symbol
        last_ts_init = self._last_ts_init
        q_events, q_inits, q_ids = self._quote_columns
        q_event, q_init, q_id = q_events.append, q_inits.append, q_ids.append
        q_line, q_raws = self._quote_lines.append, self._quote_raws.extend
        t_events, t_inits, t_ids, t_aggressors = self._trade_columns
        t_event, t_init, t_id = t_events.append, t_inits.append, t_ids.append
        t_aggressor, t_line, t_raws = (
            t_aggressors.append,
            self._trade_lines.append,
            self._trade_raws.extend,
        )
        buyer, seller = AggressorSide.BUYER.value, AggressorSide.SELLER.value
        prefix = len(_WRAP_PREFIX)
        for raw_line in lines:
            line_number += 1
            if not raw_line or raw_line.isspace():
                continue
            stats.lines += 1
            ts_text, _, payload = raw_line.partition(b" ")
            try:
                ts_init = int(ts_text)
            except ValueError:
                raise DataFormatError(
                    self.path,
                    "a line must start with the local receive time in ns",
                    line=line_number,
                    field="local_ts",
                    value=ts_text.decode("utf-8", "replace"),
                ) from None
            if ts_init < last_ts_init:
                stats.ts_init_regressions += 1
            last_ts_init = ts_init
            data: object
            if payload.startswith(_WRAP_PREFIX):
                name = payload[prefix : payload.find(b'"', prefix)]
                kind = kinds.get(name)
                if kind is None:
                    kind = kinds[name] = _stream_kind(name.decode("utf-8", "replace"))
                if kind == _IGNORED:
                    self._decode(payload, _Line, line_number)
                    stats.ignored_messages += 1
                    continue
                try:
                    data = wrapped[kind].decode(payload).data
                except (msgspec.DecodeError, msgspec.ValidationError) as error:
                    raise self._decode_error(error, line_number) from None
            else:
                line = self._decode(payload, _Line, line_number)
                if line.last_update_id is not None:
                    self._on_snapshot(line, ts_init, line_number)
                    symbol = self._symbol
                    continue
                if line.stream is not None:
                    kind = _stream_kind(line.stream)
                    payload = bytes(line.data)
                elif line.event is not None:
                    kind = _EVENT_KINDS.get(line.event, _IGNORED)
                else:  # spot bookTicker has no event type
                    kind = _QUOTE if line.best_ask_size else _IGNORED
                if kind == _IGNORED:
                    stats.ignored_messages += 1
                    continue
                data = self._decode(payload, _DATA_TYPES[kind], line_number)
            if type(data) is _BookTicker:
                if data.symbol != symbol:
                    self._check_symbol(data.symbol, line_number)
                    symbol = self._symbol
                exchange_time = data.transaction_time or data.event_time
                q_event(exchange_time * _NS_PER_MS if exchange_time else ts_init)
                q_init(ts_init)
                q_id(data.update_id)
                q_line(line_number)
                q_raws((data.bid, data.bid_size, data.ask, data.ask_size))
            elif type(data) is _Trade or type(data) is _AggTrade:
                if data.symbol != symbol:
                    self._check_symbol(data.symbol, line_number)
                    symbol = self._symbol
                t_event(data.trade_time * _NS_PER_MS)
                t_init(ts_init)
                t_id(data.trade_id)
                # Buyer is maker: the seller crossed the spread.
                t_aggressor(seller if data.buyer_is_maker else buyer)
                t_line(line_number)
                t_raws((data.price, data.size))
            else:
                assert type(data) is _Depth
                self._on_depth(data, ts_init, line_number)
                symbol = self._symbol
        self._last_ts_init = last_ts_init
        return line_number

    def _decode(self, payload: bytes, kind: type[_T], line_number: int) -> _T:
        try:
            return msgspec.json.decode(payload, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise self._decode_error(error, line_number) from None

    def _decode_error(self, error: Exception, line_number: int) -> DataFormatError:
        message = str(error)
        if isinstance(error, msgspec.ValidationError):
            match = _FIELD_AT.search(message)
            where = match.group(1) if match else None
            return DataFormatError(self.path, message, line=line_number, field=where or None)
        return DataFormatError(self.path, f"malformed JSON: {message}", line=line_number)

    def _check_symbol(self, symbol: str, line_number: int, name: str = "data.s") -> None:
        if self._symbol is None:
            self._symbol = symbol
        elif symbol != self._symbol:
            raise DataFormatError(
                self.path,
                f"a capture holds one symbol; {self._symbol!r} came first",
                line=line_number,
                field=name,
                value=symbol,
            )

    def _on_depth(self, data: _Depth, ts_init: int, line_number: int) -> None:
        self.stats.depth_updates += 1
        if data.symbol != self._symbol:
            self._check_symbol(data.symbol, line_number)
        futures = data.previous_update_id is not None
        if self._market is None:
            if futures:
                coin = data.pair is not None
                self._market = BinanceMarket.COINM if coin else BinanceMarket.USDM
            else:
                self._market = BinanceMarket.SPOT
            self._sync.market = self._market
        elif futures != self._market.is_futures:
            raise DataFormatError(
                self.path,
                f"a {'futures' if futures else 'spot'} diff in a {self._market.value} capture"
                " (futures diffs carry pu, spot diffs do not)",
                line=line_number,
                field="data.pu",
                value=data.previous_update_id,
            )
        record = Levels(
            line_number,
            ts_init,
            (data.transaction_time or data.event_time) * _NS_PER_MS,
            data.first_update_id,
            data.final_update_id,
            data.previous_update_id,
            bytes(data.bids),
            bytes(data.asks),
        )
        self._depth.append(record)
        self._sync.on_diff(record, ts_init)

    def _on_snapshot(self, line: _Line, ts_init: int, line_number: int) -> None:
        self.stats.snapshots += 1
        if line.symbol is not None:
            self._check_symbol(line.symbol, line_number, "symbol")
        if not line.bids or not line.asks:
            raise DataFormatError(
                self.path,
                "a depth snapshot needs bids and asks",
                line=line_number,
                field="asks" if line.bids else "bids",
            )
        exchange_time = line.transaction_time or line.event_time
        update_id = line.last_update_id
        assert update_id is not None
        record = Levels(
            line_number,
            ts_init,
            exchange_time * _NS_PER_MS if exchange_time else ts_init,
            update_id,
            update_id,
            None,
            bytes(line.bids),
            bytes(line.asks),
            snapshot=True,
        )
        self._depth.append(record)
        self._sync.on_snapshot(record)

    # -- flushing a chunk -------------------------------------------------------------------

    def _flush(self, first_line: int, last_line: int) -> BinanceCaptureChunk | None:
        depth, self._depth = self._depth, []
        depth_buf = self._depth_buffer(depth)
        quote_buf = self._string_buffer(self._quote_raws, self._quote_lines, _QUOTE_FIELDS)
        trade_buf = self._string_buffer(self._trade_raws, self._trade_lines, _TRADE_FIELDS)
        scans = [
            self._scan(depth_buf, lambda i: self._depth_field(depth, i)),
            self._scan(quote_buf, lambda i: (self._quote_lines[i // 4], _QUOTE_FIELDS[i % 4])),
            self._scan(trade_buf, lambda i: (self._trade_lines[i // 2], _TRADE_FIELDS[i % 2])),
        ]
        self._infer_precisions(scans)
        depth_values, quote_values, trade_values = (self._scale(scan) for scan in scans)
        for record in depth:
            start = record.pair_start
            stop = start + record.n_bids + record.n_asks
            record.prices = depth_values[0][start:stop]
            record.sizes = depth_values[1][start:stop]
        for record in self._sync.buffer:
            # Buffered diffs outlive the chunk: keep their own copy, not a view of it, and
            # not the JSON text (parsed now).
            if record.prices.base is not None:
                record.prices = record.prices.copy()
                record.sizes = record.sizes.copy()
                record.bids = record.asks = b""
        deltas = self._build_deltas(self._sync.emissions)
        self._sync.emissions = []
        quotes, quote_ids = self._build_quotes(quote_values)
        trades = self._build_trades(trade_values)
        gaps = tuple(self._sync.gaps)
        self._sync.gaps = []
        self.stats.deltas += len(deltas)
        if not (len(deltas) or len(quotes) or len(trades) or gaps):
            return None
        return BinanceCaptureChunk(
            deltas,
            quotes,
            quote_ids,
            trades,
            gaps,
            self._price_precision,
            self._size_precision,
            first_line,
            last_line,
        )

    def _depth_buffer(self, depth: list[Levels]) -> bytes:
        """Join the level lists of ``depth``, once checked to be lists of string pairs."""
        buf = b"".join([side for record in depth for side in (record.bids, record.asks)])
        # Without digits and dots, a side in Binance's compact form reads [["",""],...]:
        # strip the pairs and the commas and every side leaves exactly "[]".
        shape = buf.translate(None, DIGITS_AND_DOT).replace(_LEVEL_PAIR, b"")
        if shape.replace(b",", b"") != b"[]" * (2 * len(depth)):
            for record in depth:
                names = ("bids", "asks") if record.snapshot else ("data.b", "data.a")
                record.bids, record.n_bids = self._compact_side(record.bids, record.line, names[0])
                record.asks, record.n_asks = self._compact_side(record.asks, record.line, names[1])
            buf = b"".join([side for record in depth for side in (record.bids, record.asks)])
        pairs = 0
        for record in depth:
            record.pair_start = pairs
            pairs += record.n_bids + record.n_asks
        return buf

    def _compact_side(self, side: bytes, line_number: int, name: str) -> tuple[bytes, int]:
        """Return a side in compact form with its level count, or refuse it naming the level.

        Valid JSON that is not compact (whitespace, escapes) is rewritten compactly.
        """
        count = side.count(b'"') // 4
        if side.translate(None, DIGITS_AND_DOT) == b"[" + b",".join([_LEVEL_PAIR] * count) + b"]":
            return side, count
        try:
            levels = msgspec.json.decode(side, type=list[tuple[str, str]])
        except msgspec.ValidationError as error:
            raise DataFormatError(
                self.path,
                f"price levels must be [price, size] string pairs: {error}",
                line=line_number,
                field=name,
            ) from None
        for index, level in enumerate(levels):
            for position, text in enumerate(level):
                if not DECIMAL.match(text):
                    raise DataFormatError(
                        self.path,
                        f"{text!r} is not a non-negative decimal number",
                        line=line_number,
                        field=f"{name}[{index}][{position}]",
                        value=text,
                    )
        return msgspec.json.encode(levels), len(levels)

    def _string_buffer(self, raws: list[bytes], lines: list[int], fields: tuple[str, ...]) -> bytes:
        """Join the decimal strings ``raws`` (``fields`` per message), once checked."""
        buf = b"".join(raws)
        if buf.translate(None, DIGITS_AND_DOT) == b'""' * len(raws):
            return buf
        for index, raw in enumerate(raws):
            raw = bytes(raw)
            if raw.translate(None, DIGITS_AND_DOT) == b'""':
                continue
            line_number = lines[index // len(fields)]
            name = f"data.{fields[index % len(fields)]}"
            value = raw.decode("utf-8", "replace")
            try:
                text = msgspec.json.decode(raw, type=str)
            except msgspec.ValidationError:
                raise DataFormatError(
                    self.path,
                    f"expected a decimal string, got {value}",
                    line=line_number,
                    field=name,
                    value=value,
                ) from None
            if not DECIMAL.match(text):
                raise DataFormatError(
                    self.path,
                    f"{value} is not a non-negative decimal number",
                    line=line_number,
                    field=name,
                    value=value,
                )
            raws[index] = msgspec.json.encode(text)  # escapes rewritten
        return b"".join(raws)

    @staticmethod
    def _depth_field(depth: list[Levels], token: int) -> tuple[int, str]:
        """Return the line and field of token ``token`` of the chunk's level buffer."""
        pair = token // 2
        starts = [record.pair_start for record in depth]
        # The last record starting at or before the pair holds it (empty ones start there too
        # but come first).
        record = depth[int(np.searchsorted(starts, pair, side="right")) - 1]
        level = pair - record.pair_start
        if record.snapshot:
            name = "bids" if level < record.n_bids else "asks"
        else:
            name = "data.b" if level < record.n_bids else "data.a"
        if level >= record.n_bids:
            level -= record.n_bids
        return record.line, f"{name}[{level}][{token % 2}]"

    def _scan(self, buf: bytes, locate: _Locate) -> tuple[Tokens, _Locate]:
        try:
            return Tokens(buf), locate
        except TokenError as error:
            line_number, where = locate(error.index)
            raise DataFormatError(
                self.path, error.problem, line=line_number, field=where, value=error.text
            ) from None

    def _infer_precisions(self, scans: list[tuple[Tokens, _Locate]]) -> None:
        if self._price_precision is None:
            found = max(scan.max_decimals(0, 2) for scan, _ in scans)
            if found >= 0:
                self._price_precision = min(found, _MAX_PRECISION)
        if self._size_precision is None:
            found = max(scan.max_decimals(1, 2) for scan, _ in scans)
            if found >= 0:
                self._size_precision = min(found, _MAX_PRECISION)

    def _scale(self, scan: tuple[Tokens, _Locate]) -> tuple[_Int64, _Int64]:
        """Return the prices and sizes of a scanned buffer at the loader's precisions."""
        tokens, locate = scan
        if tokens.count == 0:
            return _EMPTY, _EMPTY
        # A precision is still unknown only when every token of its kind is malformed.
        precisions = (self._price_precision or 0, self._size_precision or 0)
        try:
            values = tokens.scale(precisions)
        except TokenError as error:
            line_number, field_name = locate(error.index)
            which = error.index % 2
            name = ("price_precision", "size_precision")[which]
            raise DataFormatError(
                self.path,
                f"{error.problem} (at {name}={precisions[which]})",
                line=line_number,
                field=field_name,
                value=error.text,
            ) from None
        return values[0::2], values[1::2]

    def _build_deltas(self, emissions: list[Emission]) -> _Array:
        prices: list[_Int64] = []
        sizes: list[_Int64] = []
        seg_side: list[int] = []
        seg_action: list[int] = []
        seg_count: list[int] = []
        em_count: list[int] = []
        em_ts_event: list[int] = []
        em_ts_init: list[int] = []
        em_sequence: list[int] = []
        em_flags: list[int] = []
        snapshot_flag = int(BookFlags.SNAPSHOT)
        for kind, record, ts_init, flags in emissions:
            if kind == EMIT_DIFF:
                n_bids, n_asks = record.n_bids, record.n_asks
                prices.append(record.prices)
                sizes.append(record.sizes)
                seg_side += (OrderSide.BUY, OrderSide.SELL)
                seg_action += (0, 0)
                seg_count += (n_bids, n_asks)
                em_count.append(n_bids + n_asks)
                em_ts_event.append(record.ts_event)
                em_sequence.append(record.final_id)
            elif kind == EMIT_SNAPSHOT:
                n_bids, n_asks = record.n_bids, record.n_asks
                prices += (_ZERO, record.prices)
                sizes += (_ZERO, record.sizes)
                seg_side += (0, OrderSide.BUY, OrderSide.SELL)
                seg_action += (BookAction.CLEAR, BookAction.ADD, BookAction.ADD)
                seg_count += (1, n_bids, n_asks)
                em_count.append(1 + n_bids + n_asks)
                em_ts_event.append(record.ts_event)
                em_sequence.append(record.final_id)
                flags = snapshot_flag
            else:  # a clear after a gap: the book is known to be wrong
                prices.append(_ZERO)
                sizes.append(_ZERO)
                seg_side.append(0)
                seg_action.append(BookAction.CLEAR)
                seg_count.append(1)
                em_count.append(1)
                em_ts_event.append(record.ts_event)
                em_sequence.append(0)  # no venue update id describes a cleared book
            em_ts_init.append(ts_init)
            em_flags.append(flags)
        total = sum(em_count)
        out = np.zeros(total, dtype=DELTA_DTYPE)
        if not total:
            return out
        counts = np.asarray(em_count, dtype=np.int64)
        out["price"] = np.concatenate(prices)
        size = np.concatenate(sizes)
        out["size"] = size
        out["side"] = np.repeat(np.asarray(seg_side, dtype=np.uint8), seg_count)
        action = np.repeat(np.asarray(seg_action, dtype=np.uint8), seg_count)
        derived = action == 0
        action[derived] = np.where(size[derived] == 0, BookAction.DELETE, BookAction.UPDATE)
        out["action"] = action
        out["ts_event"] = np.repeat(np.asarray(em_ts_event, dtype=np.int64), counts)
        out["ts_init"] = np.repeat(np.asarray(em_ts_init, dtype=np.int64), counts)
        out["sequence"] = np.repeat(np.asarray(em_sequence, dtype=np.uint64), counts)
        flags_column = np.repeat(np.asarray(em_flags, dtype=np.uint8), counts)
        last_rows = np.cumsum(counts)[counts > 0] - 1
        flags_column[last_rows] |= np.uint8(BookFlags.LAST)
        out["flags"] = flags_column
        return out

    def _build_quotes(self, values: tuple[_Int64, _Int64]) -> tuple[_Array, npt.NDArray[np.uint64]]:
        ts_events, ts_inits, update_ids = self._quote_columns
        self.stats.quotes += len(ts_inits)
        out = np.zeros(len(ts_inits), dtype=QUOTE_DTYPE)
        ids = np.asarray(update_ids, dtype=np.uint64)
        if len(out):
            prices, sizes = values
            out["ts_event"] = ts_events
            out["ts_init"] = ts_inits
            out["bid_price"] = prices[0::2]
            out["ask_price"] = prices[1::2]
            out["bid_size"] = sizes[0::2]
            out["ask_size"] = sizes[1::2]
        for column in self._quote_columns:
            column.clear()
        self._quote_raws.clear()
        self._quote_lines.clear()
        return out, ids

    def _build_trades(self, values: tuple[_Int64, _Int64]) -> _Array:
        ts_events, ts_inits, trade_ids, aggressors = self._trade_columns
        self.stats.trades += len(ts_inits)
        out = np.zeros(len(ts_inits), dtype=TRADE_DTYPE)
        if len(out):
            out["ts_event"] = ts_events
            out["ts_init"] = ts_inits
            out["price"], out["size"] = values
            out["trade_id"] = trade_ids
            out["aggressor_side"] = aggressors
        for column in self._trade_columns:
            column.clear()
        self._trade_raws.clear()
        self._trade_lines.clear()
        return out
