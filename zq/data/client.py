"""Data clients: the sources of market data behind the DataEngine.

A :class:`DataClient` serves one venue (or, with ``venue=None``, every venue no other client
claims). The DataEngine calls its ``subscribe_*`` / ``unsubscribe_*`` hooks as strategies'
subscriptions start and end (once per stream, however many subscribers share it), and its
``request_*`` hooks for historical data. The client hands what it receives to
``self.engine.process(data)`` (or ``process_array`` for a columnar batch) and answers a
request by calling the ``respond`` function it was given, at once or later.

:class:`ReplayDataClient` is the in-memory client of backtests and tests: give it objects or
columnar arrays, and :meth:`ReplayDataClient.replay` moves the engine's ``TestClock`` through
them in ``ts_init`` order, delivering the streams that are subscribed.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from zq.common.clock import Clock, TestClock
from zq.common.component import Component
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
from zq.data.messages import RequestBars, RequestQuotes, RequestTrades
from zq.model.data import (
    Bar,
    BarType,
    InstrumentStatus,
    OrderBookDelta,
    OrderBookDepth,
    QuoteTick,
    TradeTick,
)
from zq.model.enums import BookType
from zq.model.identifiers import InstrumentId, Venue
from zq.model.instruments import Instrument

if TYPE_CHECKING:
    from zq.data.engine import DataEngine

__all__ = ["DataClient", "ReplayDataClient", "Responder"]

#: How a client answers a historical request: call it once with the data, in time order.
Responder = Callable[[Iterable[Any]], None]

_Array = npt.NDArray[np.void]


class DataClient(Component):
    """Base of every data client: override the hooks of the streams and requests it serves.

    Every hook raises ``NotImplementedError`` naming the client and what it cannot serve,
    so a subscription the venue does not offer is refused with a clear message.

    Parameters
    ----------
    client_id : str
        The client's identifier (its component id), unique within a DataEngine.
    venue : Venue or str, optional
        The venue it serves; None: every venue that no other registered client serves.
    """

    def __init__(self, client_id: str, venue: Venue | str | None = None) -> None:
        super().__init__(client_id)
        self._venue = None if venue is None else Venue(venue)
        self._engine: DataEngine | None = None

    @property
    def client_id(self) -> str:
        """The client's identifier."""
        return self.component_id

    @property
    def venue(self) -> Venue | None:
        """The venue served, or None for a client serving every unclaimed venue."""
        return self._venue

    @property
    def engine(self) -> DataEngine:
        """The DataEngine the client is registered with.

        Raises
        ------
        RuntimeError
            If the client is not registered yet.
        """
        if self._engine is None:
            raise RuntimeError(
                f"data client {self.client_id!r} is not registered with a DataEngine "
                "(call engine.register_client(client))"
            )
        return self._engine

    @property
    def clock(self) -> Clock:
        """The clock of the engine the client is registered with."""
        return self.engine.clock

    def _attach(self, engine: DataEngine) -> None:
        """Called by ``DataEngine.register_client``."""
        if self._engine is not None and self._engine is not engine:
            raise ValueError(
                f"data client {self.client_id!r} is already registered with another DataEngine"
            )
        self._engine = engine

    def _refuse(self, what: str) -> NotImplementedError:
        return NotImplementedError(f"data client {self.client_id!r} does not serve {what}")

    # -- streams -----------------------------------------------------------------------------

    def subscribe_quotes(self, instrument_id: InstrumentId) -> None:
        """Start streaming the quotes of ``instrument_id``."""
        raise self._refuse(f"quotes ({instrument_id})")

    def unsubscribe_quotes(self, instrument_id: InstrumentId) -> None:
        """Stop streaming the quotes of ``instrument_id``."""
        raise self._refuse(f"quotes ({instrument_id})")

    def subscribe_trades(self, instrument_id: InstrumentId) -> None:
        """Start streaming the trades of ``instrument_id``."""
        raise self._refuse(f"trades ({instrument_id})")

    def unsubscribe_trades(self, instrument_id: InstrumentId) -> None:
        """Stop streaming the trades of ``instrument_id``."""
        raise self._refuse(f"trades ({instrument_id})")

    def subscribe_bars(self, bar_type: BarType) -> None:
        """Start streaming the venue's (external) bars of ``bar_type``."""
        raise self._refuse(f"bars ({bar_type})")

    def unsubscribe_bars(self, bar_type: BarType) -> None:
        """Stop streaming the bars of ``bar_type``."""
        raise self._refuse(f"bars ({bar_type})")

    def subscribe_book_deltas(self, instrument_id: InstrumentId, book_type: BookType) -> None:
        """Start streaming the book deltas of ``instrument_id`` at ``book_type`` detail."""
        raise self._refuse(f"book deltas ({instrument_id}, {book_type.name})")

    def unsubscribe_book_deltas(self, instrument_id: InstrumentId, book_type: BookType) -> None:
        """Stop streaming the book deltas of ``instrument_id``."""
        raise self._refuse(f"book deltas ({instrument_id}, {book_type.name})")

    def subscribe_book_depth(self, instrument_id: InstrumentId) -> None:
        """Start streaming the venue's depth snapshots of ``instrument_id``."""
        raise self._refuse(f"book depth ({instrument_id})")

    def unsubscribe_book_depth(self, instrument_id: InstrumentId) -> None:
        """Stop streaming the venue's depth snapshots of ``instrument_id``."""
        raise self._refuse(f"book depth ({instrument_id})")

    def subscribe_instrument_status(self, instrument_id: InstrumentId) -> None:
        """Start streaming the trading status changes of ``instrument_id``."""
        raise self._refuse(f"instrument status ({instrument_id})")

    def unsubscribe_instrument_status(self, instrument_id: InstrumentId) -> None:
        """Stop streaming the trading status changes of ``instrument_id``."""
        raise self._refuse(f"instrument status ({instrument_id})")

    # -- historical requests -----------------------------------------------------------------

    def request_quotes(self, request: RequestQuotes, respond: Responder) -> None:
        """Answer ``respond(quotes)``, now or later, with the quotes in the request's range."""
        raise self._refuse("historical quotes")

    def request_trades(self, request: RequestTrades, respond: Responder) -> None:
        """Answer ``respond(trades)``, now or later, with the trades in the request's range."""
        raise self._refuse("historical trades")

    def request_bars(self, request: RequestBars, respond: Responder) -> None:
        """Answer ``respond(bars)``, now or later, with the external bars in the range."""
        raise self._refuse("historical bars")


# -- the replay client -----------------------------------------------------------------------

_QUOTES = "quotes"
_TRADES = "trades"
_BARS = "bars"
_BOOK_DELTAS = "book_deltas"
_BOOK_DEPTH = "book_depth"
_INSTRUMENT_STATUS = "instrument_status"

_OBJECT_STREAMS: dict[type, tuple[str, Callable[[Any], object]]] = {
    QuoteTick: (_QUOTES, lambda d: d.instrument_id),
    TradeTick: (_TRADES, lambda d: d.instrument_id),
    Bar: (_BARS, lambda d: d.bar_type),
    OrderBookDelta: (_BOOK_DELTAS, lambda d: d.instrument_id),
    OrderBookDepth: (_BOOK_DEPTH, lambda d: d.instrument_id),
    InstrumentStatus: (_INSTRUMENT_STATUS, lambda d: d.instrument_id),
}
_ARRAY_KINDS = {
    DELTA_DTYPE: _BOOK_DELTAS,
    TRADE_DTYPE: _TRADES,
    QUOTE_DTYPE: _QUOTES,
    BAR_DTYPE: _BARS,
}


def _stream_of(data: object) -> tuple[str, object] | None:
    """Return the (kind, key) stream an object belongs to; None for instrument definitions."""
    entry = _OBJECT_STREAMS.get(type(data))
    if entry is None:
        if isinstance(data, Instrument):
            return None
        raise TypeError(
            f"ReplayDataClient cannot replay a {type(data).__name__}: expected quotes, trades, "
            "bars, book deltas or depth, instrument status or instruments"
        )
    kind, key = entry
    return kind, key(data)


class _ArraySource:
    """One columnar array of one instrument (or bar type), replayed in ``ts_init`` order."""

    __slots__ = ("array", "bar_type", "instrument_id", "kind", "price_precision", "size_precision")

    def __init__(
        self,
        array: _Array,
        kind: str,
        instrument_id: InstrumentId,
        price_precision: int,
        size_precision: int,
        bar_type: BarType | None,
    ) -> None:
        self.array = array
        self.kind = kind
        self.instrument_id = instrument_id
        self.price_precision = price_precision
        self.size_precision = size_precision
        self.bar_type = bar_type

    @property
    def stream(self) -> tuple[str, object]:
        return (self.kind, self.bar_type if self.bar_type is not None else self.instrument_id)

    def objects(self, rows: _Array | None = None) -> Iterator[Any]:
        rows = self.array if rows is None else rows
        p, s = self.price_precision, self.size_precision
        if self.kind == _BOOK_DELTAS:
            return deltas_to_objects(rows, self.instrument_id, p, s)
        if self.kind == _TRADES:
            return trades_to_objects(rows, self.instrument_id, p, s)
        if self.kind == _QUOTES:
            return quotes_to_objects(rows, self.instrument_id, p, s)
        assert self.bar_type is not None
        return bars_to_objects(rows, self.bar_type, p, s)


class _Cursor:
    """Where a replay stands in one source: the next row or object to deliver."""

    __slots__ = ("objects", "position", "source", "times")

    def __init__(self, source: _ArraySource | list[Any]) -> None:
        self.position = 0
        if isinstance(source, _ArraySource):
            self.source: _ArraySource | None = source
            self.objects: list[Any] = []
            self.times: npt.NDArray[np.int64] = source.array["ts_init"]
        else:
            self.source = None
            self.objects = source
            self.times = np.fromiter((d.ts_init for d in source), np.int64, len(source))

    def next_time(self) -> int | None:
        if self.position >= len(self.times):
            return None
        return int(self.times[self.position])

    def take(self) -> tuple[int, int]:
        """Return the [start, stop) range of the items at the next time, and move past it."""
        start = self.position
        if self.source is None:
            stop = start + 1  # objects go one by one
        else:
            stop = int(np.searchsorted(self.times, self.times[start], side="right"))
        self.position = stop
        return start, stop


class ReplayDataClient(DataClient):
    """An in-memory data client: replays the data given to it and answers requests from it.

    Give it objects (:meth:`add_data`) or columnar arrays (:meth:`add_array`). Like a venue,
    it delivers only what is subscribed (instrument definitions always go through), and it
    records every subscribe and unsubscribe call in :attr:`calls`.

    :meth:`replay` drives a backtest: for each time in the data, in ``ts_init`` order, it
    advances the engine's ``TestClock`` to that time (firing the timers due, so bars close
    before data of their close time), then hands the data to the engine. Data at the same
    time keep the order they were added in (earlier ``add_*`` calls first). Rows of an array
    at one time go to the engine as one batch (``DataEngine.process_array``).

    Historical requests are answered from all the data given, at once, or after
    ``response_delay_ns`` on the engine's clock. (The engine drops what the node could not
    know yet, so a request never sees the future of the replay.)

    Parameters
    ----------
    client_id : str, default "REPLAY"
        The client's identifier.
    venue : Venue or str, optional
        The venue it serves; default every venue without a client of its own.
    response_delay_ns : int, default 0
        Answer historical requests this long after they are made (0: at once).
    """

    def __init__(
        self,
        client_id: str = "REPLAY",
        venue: Venue | str | None = None,
        *,
        response_delay_ns: int = 0,
    ) -> None:
        super().__init__(client_id, venue)
        if response_delay_ns < 0:
            raise ValueError(f"response_delay_ns must not be negative, got {response_delay_ns}")
        self.response_delay_ns = response_delay_ns
        #: Every subscribe / unsubscribe call: ``("subscribe", kind, key)``.
        self.calls: list[tuple[str, str, object]] = []
        self._subscribed: set[tuple[str, object]] = set()
        self._objects: list[Any] = []
        self._arrays: list[_ArraySource] = []
        self._new: list[_ArraySource | list[Any]] = []
        self._cursors: list[tuple[int, int, _Cursor]] = []  # heap: (time, order, cursor)
        self._order = 0
        self._responses = 0

    # -- data ----------------------------------------------------------------------------

    def add_data(self, data: Iterable[Any]) -> None:
        """Add market data objects (any mix of kinds and instruments) to replay and serve.

        Raises
        ------
        TypeError
            If an object is not market data.
        """
        items = list(data)
        for item in items:
            _stream_of(item)  # refuse what cannot be replayed before keeping anything
        items.sort(key=lambda d: d.ts_init)  # stable: equal times keep their order
        self._objects.extend(items)
        self._new.append(items)

    def add_array(
        self,
        array: _Array,
        instrument_id: InstrumentId,
        price_precision: int,
        size_precision: int,
        bar_type: BarType | None = None,
    ) -> None:
        """Add a columnar array of deltas, trades, quotes or bars of one instrument.

        Parameters
        ----------
        array : numpy.ndarray
            Rows of ``DELTA_DTYPE``, ``TRADE_DTYPE``, ``QUOTE_DTYPE`` or ``BAR_DTYPE``.
        instrument_id : InstrumentId
            Their instrument.
        price_precision, size_precision : int
            The precisions of their raw prices and sizes.
        bar_type : BarType, optional
            Required for bars.

        Raises
        ------
        TypeError
            If the array's dtype is not one of the four.
        ValueError
            If bars come without their bar type.
        """
        kind = _ARRAY_KINDS.get(array.dtype)
        if kind is None:
            raise TypeError(
                f"ReplayDataClient cannot replay an array of dtype {array.dtype}: expected "
                "DELTA_DTYPE, TRADE_DTYPE, QUOTE_DTYPE or BAR_DTYPE (zq.data.arrays)"
            )
        if kind == _BARS and bar_type is None:
            raise ValueError("an array of bars needs its bar_type")
        times = array["ts_init"]
        if len(array) > 1 and not bool(np.all(times[1:] >= times[:-1])):
            array = array[np.argsort(times, kind="stable")]
        source = _ArraySource(
            array, kind, instrument_id, price_precision, size_precision,
            bar_type if kind == _BARS else None,
        )  # fmt: skip
        self._arrays.append(source)
        self._new.append(source)

    def replay(self, until_ns: int | None = None) -> int:
        """Deliver the data not replayed yet, up to ``until_ns`` included, in time order.

        Call it again to go on from where it stopped (data added in between joins in). At
        the end the clock is advanced to ``until_ns`` when given, so bars closing by then
        are published.

        Returns
        -------
        int
            The number of items handed to the engine (unsubscribed ones are skipped).

        Raises
        ------
        TypeError
            If the engine's clock is not a ``TestClock``.
        """
        clock = self.clock
        if not isinstance(clock, TestClock):
            raise TypeError("ReplayDataClient.replay needs a backtest engine (a TestClock)")
        engine = self.engine
        heap = self._cursors
        for added in self._new:
            cursor = _Cursor(added)
            first = cursor.next_time()
            if first is not None:
                heapq.heappush(heap, (first, self._order, cursor))
                self._order += 1
        self._new.clear()
        delivered = 0
        while heap and (until_ns is None or heap[0][0] <= until_ns):
            time_ns, order, cursor = heapq.heappop(heap)
            if time_ns > clock.timestamp_ns():
                clock.advance_time(time_ns)
            start, stop = cursor.take()
            source = cursor.source
            if source is None:
                item = cursor.objects[start]
                stream = _stream_of(item)
                if stream is None or stream in self._subscribed:
                    engine.process(item)
                    delivered += 1
            elif source.stream in self._subscribed:
                rows = source.array[start:stop]
                if source.kind == _BARS:
                    for bar in source.objects(rows):
                        engine.process(bar)
                else:
                    engine.process_array(
                        rows, source.instrument_id, source.price_precision, source.size_precision
                    )
                delivered += stop - start
            following = cursor.next_time()
            if following is not None:
                heapq.heappush(heap, (following, order, cursor))
        if until_ns is not None and until_ns > clock.timestamp_ns():
            clock.advance_time(until_ns)
        return delivered

    # -- streams -------------------------------------------------------------------------

    @property
    def subscriptions(self) -> set[tuple[str, object]]:
        """The streams subscribed now, as ``(kind, instrument id or bar type)``."""
        return set(self._subscribed)

    def _subscribe(self, kind: str, key: object) -> None:
        self.calls.append(("subscribe", kind, key))
        self._subscribed.add((kind, key))

    def _unsubscribe(self, kind: str, key: object) -> None:
        self.calls.append(("unsubscribe", kind, key))
        self._subscribed.discard((kind, key))

    def subscribe_quotes(self, instrument_id: InstrumentId) -> None:
        """Deliver the quotes of ``instrument_id``."""
        self._subscribe(_QUOTES, instrument_id)

    def unsubscribe_quotes(self, instrument_id: InstrumentId) -> None:
        """Stop delivering the quotes of ``instrument_id``."""
        self._unsubscribe(_QUOTES, instrument_id)

    def subscribe_trades(self, instrument_id: InstrumentId) -> None:
        """Deliver the trades of ``instrument_id``."""
        self._subscribe(_TRADES, instrument_id)

    def unsubscribe_trades(self, instrument_id: InstrumentId) -> None:
        """Stop delivering the trades of ``instrument_id``."""
        self._unsubscribe(_TRADES, instrument_id)

    def subscribe_bars(self, bar_type: BarType) -> None:
        """Deliver the bars of ``bar_type``."""
        self._subscribe(_BARS, bar_type)

    def unsubscribe_bars(self, bar_type: BarType) -> None:
        """Stop delivering the bars of ``bar_type``."""
        self._unsubscribe(_BARS, bar_type)

    def subscribe_book_deltas(self, instrument_id: InstrumentId, book_type: BookType) -> None:
        """Deliver the book deltas of ``instrument_id``."""
        self._subscribe(_BOOK_DELTAS, instrument_id)

    def unsubscribe_book_deltas(self, instrument_id: InstrumentId, book_type: BookType) -> None:
        """Stop delivering the book deltas of ``instrument_id``."""
        self._unsubscribe(_BOOK_DELTAS, instrument_id)

    def subscribe_book_depth(self, instrument_id: InstrumentId) -> None:
        """Deliver the depth snapshots of ``instrument_id``."""
        self._subscribe(_BOOK_DEPTH, instrument_id)

    def unsubscribe_book_depth(self, instrument_id: InstrumentId) -> None:
        """Stop delivering the depth snapshots of ``instrument_id``."""
        self._unsubscribe(_BOOK_DEPTH, instrument_id)

    def subscribe_instrument_status(self, instrument_id: InstrumentId) -> None:
        """Deliver the status changes of ``instrument_id``."""
        self._subscribe(_INSTRUMENT_STATUS, instrument_id)

    def unsubscribe_instrument_status(self, instrument_id: InstrumentId) -> None:
        """Stop delivering the status changes of ``instrument_id``."""
        self._unsubscribe(_INSTRUMENT_STATUS, instrument_id)

    # -- requests ------------------------------------------------------------------------

    def request_quotes(self, request: RequestQuotes, respond: Responder) -> None:
        """Answer with the stored quotes of the instrument in the range."""
        self._answer((_QUOTES, request.instrument_id), request.start_ns, request.end_ns, respond)

    def request_trades(self, request: RequestTrades, respond: Responder) -> None:
        """Answer with the stored trades of the instrument in the range."""
        self._answer((_TRADES, request.instrument_id), request.start_ns, request.end_ns, respond)

    def request_bars(self, request: RequestBars, respond: Responder) -> None:
        """Answer with the stored bars of the bar type in the range."""
        self._answer((_BARS, request.bar_type), request.start_ns, request.end_ns, respond)

    def _answer(
        self, stream: tuple[str, object], start: int, end: int | None, respond: Responder
    ) -> None:
        found = [d for d in self._stored(stream) if _in_range(d.ts_event, start, end)]
        found.sort(key=lambda d: d.ts_init)
        if not self.response_delay_ns:
            respond(found)
            return
        self._responses += 1
        clock = self.clock
        clock.set_time_alert(
            f"{self.client_id}.response.{self._responses}",
            clock.timestamp_ns() + self.response_delay_ns,
            lambda event: respond(found),
        )

    def _stored(self, stream: tuple[str, object]) -> Iterator[Any]:
        for item in self._objects:
            if _stream_of(item) == stream:
                yield item
        for source in self._arrays:
            if source.stream == stream:
                yield from source.objects()


def _in_range(ts: int, start: int, end: int | None) -> bool:
    return start <= ts and (end is None or ts <= end)
