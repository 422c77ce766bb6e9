"""The DataEngine: from data clients to the cache, the books, the bar aggregators and the bus.

Data path: a data client hands each datum to :meth:`DataEngine.process` (or a columnar
batch to :meth:`DataEngine.process_array`); the engine updates the :class:`~zq.cache.Cache`
and the instrument's order book first, then publishes the datum on its topic
(:mod:`zq.common.topics`), then feeds the bar aggregators, whose bars are cached and
published in turn.

Strategies never call the engine: they send the commands of :mod:`zq.data.messages` to
``ENDPOINT_DATA_EXECUTE``, subscribe to the topics on the bus, and request history at
``ENDPOINT_DATA_REQUEST``. Subscriptions are reference-counted per stream: the client is
asked for a stream when its first subscriber arrives and told to stop when the last leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable
from functools import partial
from typing import Any, Protocol, cast

import msgspec
import numpy as np
import numpy.typing as npt

from zq.cache import Cache
from zq.common import topics
from zq.common.clock import Clock, TimeEvent
from zq.common.component import Component, ComponentState
from zq.common.topics import ENDPOINT_DATA_EXECUTE, ENDPOINT_DATA_PROCESS, ENDPOINT_DATA_REQUEST
from zq.data.aggregation import (
    BarAggregator,
    TimeBarAggregator,
    aggregate_bars,
    make_bar_aggregator,
)
from zq.data.arrays import (
    DELTA_DTYPE,
    QUOTE_DTYPE,
    TRADE_DTYPE,
    deltas_to_objects,
    quotes_to_objects,
    trades_to_objects,
)
from zq.data.client import DataClient, Responder
from zq.data.messages import (
    RequestBars,
    RequestQuotes,
    RequestTrades,
    Subscribe,
    SubscribeBars,
    SubscribeBookDeltas,
    SubscribeBookDepth,
    SubscribeBookSnapshots,
    SubscribeInstrumentStatus,
    SubscribeOrderBook,
    SubscribeQuotes,
    SubscribeTopOfBook,
    SubscribeTrades,
    Unsubscribe,
    UnsubscribeBars,
    UnsubscribeBookDeltas,
    UnsubscribeBookDepth,
    UnsubscribeBookSnapshots,
    UnsubscribeInstrumentStatus,
    UnsubscribeOrderBook,
    UnsubscribeQuotes,
    UnsubscribeTopOfBook,
    UnsubscribeTrades,
)
from zq.model.data import (
    Bar,
    BarType,
    BookFlags,
    BookLevel,
    InstrumentStatus,
    OrderBookDelta,
    OrderBookDepth,
    QuoteTick,
    TradeTick,
)
from zq.model.enums import AggregationSource, BookAction, BookType, PriceType
from zq.model.identifiers import InstrumentId, Venue
from zq.model.instruments import Instrument
from zq_core.book import L1Book, L2Book, L3Book
from zq_core.book_base import OrderBook as OrderBookBase
from zq_core.bus import MessageBus, Request
from zq_core.fixed import Price, Quantity
from zq_core.quote_feed import QuoteFeed

__all__ = ["BookFactory", "DataEngine", "OrderBook", "default_book_factory"]

_log = logging.getLogger("zq.data")

_Array = npt.NDArray[np.void]
_LAST = int(BookFlags.LAST)

_QUOTES = "quotes"
_TRADES = "trades"
_BARS = "bars"
_BOOK_DELTAS = "book_deltas"
_BOOK_DEPTH = "book_depth"
_INSTRUMENT_STATUS = "instrument_status"

#: A stream a client serves: ``(kind, instrument id or bar type)``.
_Stream = tuple[str, Any]

_COUNTERPARTS: dict[type[Unsubscribe], type[Subscribe]] = {
    UnsubscribeQuotes: SubscribeQuotes,
    UnsubscribeTrades: SubscribeTrades,
    UnsubscribeBars: SubscribeBars,
    UnsubscribeBookDeltas: SubscribeBookDeltas,
    UnsubscribeBookSnapshots: SubscribeBookSnapshots,
    UnsubscribeTopOfBook: SubscribeTopOfBook,
    UnsubscribeOrderBook: SubscribeOrderBook,
    UnsubscribeBookDepth: SubscribeBookDepth,
    UnsubscribeInstrumentStatus: SubscribeInstrumentStatus,
}


class OrderBook(Protocol):
    """What the DataEngine needs of an order book (``zq_core.book`` books satisfy it)."""

    @property
    def sequence(self) -> int:
        """The sequence number of the last delta applied."""

    @property
    def ts_last(self) -> int:
        """The ``ts_event`` of the last delta applied."""

    def apply(self, delta: OrderBookDelta) -> object:
        """Apply one delta."""

    def apply_batch(self, deltas: _Array) -> object:
        """Apply a ``DELTA_DTYPE`` array of deltas in order."""

    def bids(self, depth: int) -> list[tuple[Price, Quantity]]:
        """Return the best ``depth`` bid levels, best first."""

    def asks(self, depth: int) -> list[tuple[Price, Quantity]]:
        """Return the best ``depth`` ask levels, best first."""


#: Build an empty book: ``(instrument_id, book_type, price_precision, size_precision)``.
BookFactory = Callable[[InstrumentId, BookType, int, int], OrderBook]
#: ``(instrument_id, book_type, price_precision, size_precision)`` -> the book a simulated
#: venue keeps of that market, or None (see ``DataEngine(venue_books=...)``).
VenueBooks = Callable[[InstrumentId, BookType, int, int], "OrderBook | None"]

_BOOK_CLASSES: dict[BookType, type[L1Book | L2Book | L3Book]] = {
    BookType.L1_MBP: L1Book,
    BookType.L2_MBP: L2Book,
    BookType.L3_MBO: L3Book,
}


def default_book_factory(
    instrument_id: InstrumentId, book_type: BookType, price_precision: int, size_precision: int
) -> OrderBook:
    """Return an empty compiled book of ``book_type`` from ``zq_core.book``."""
    book_class = _BOOK_CLASSES[book_type]
    return cast(OrderBook, book_class(str(instrument_id), price_precision, size_precision))


def _levels(levels: list[tuple[Price, Quantity]]) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(price, size) for price, size in levels)


def _ts_init(data: Any) -> int:
    return cast(int, data.ts_init)


class _StreamState:
    """A stream subscribed at one client, and the subscriptions holding it."""

    __slots__ = ("client", "holders")

    def __init__(self, client: DataClient) -> None:
        self.client = client
        self.holders: dict[Hashable, None] = {}  # an insertion-ordered set


class DataEngine(Component):
    """Feed market data from data clients to the cache, the books and the bus.

    Parameters
    ----------
    clock : Clock
        The node's clock: it closes time bars and times book snapshots.
    bus : MessageBus
        The node's bus. The engine registers ``ENDPOINT_DATA_EXECUTE`` (subscription
        commands), ``ENDPOINT_DATA_REQUEST`` (historical requests) and
        ``ENDPOINT_DATA_PROCESS`` (data in) on it.
    cache : Cache
        The node's cache, updated with each datum before it is published.
    component_id : str, default "DataEngine"
        The engine's component id; it also prefixes the names of its timers.
    book_factory : BookFactory, optional
        Builds the order books; default the compiled books of ``zq_core.book``.
    venue_books : VenueBooks, optional
        In a backtest: the books the simulated venues keep of the market. When one matches
        a book the engine needs (type and precisions), the engine keeps that book instead of
        a copy: the replay applies each delta to it once, before the engine sees the delta,
        and the engine never applies a delta to it itself.

    Notes
    -----
    Subscriptions are kept while the engine is stopped; the clients are asked for the
    streams when it starts (or resumes) and told to stop them when it stops. Data handed to
    the engine is processed in any state: a client only delivers the streams it was asked for.
    """

    def __init__(
        self,
        clock: Clock,
        bus: MessageBus,
        cache: Cache,
        *,
        component_id: str = "DataEngine",
        book_factory: BookFactory | None = None,
        venue_books: VenueBooks | None = None,
    ) -> None:
        super().__init__(component_id)
        self.clock = clock
        self.bus = bus
        self.cache = cache
        self._book_factory: BookFactory = book_factory or default_book_factory
        self._venue_books = venue_books
        self._clients: dict[str, DataClient] = {}
        self._routes: dict[Venue, DataClient] = {}
        self._default_client: DataClient | None = None
        self._active = False  # the clients stream and the timers run
        self._init_state()
        self._process_handlers: dict[type, Callable[[Any], None]] = {
            QuoteTick: self._handle_quote,
            TradeTick: self._handle_trade,
            Bar: self._handle_bar,
            OrderBookDelta: self._handle_delta,
            OrderBookDepth: self._handle_depth,
            InstrumentStatus: self._handle_status,
        }
        self._starts: dict[type[Subscribe], Callable[[Any], None]] = {
            SubscribeQuotes: self._start_quotes,
            SubscribeTrades: self._start_trades,
            SubscribeBars: self._start_bars,
            SubscribeBookDeltas: self._start_book_deltas,
            SubscribeBookSnapshots: self._start_book_snapshots,
            SubscribeTopOfBook: self._start_top_of_book,
            SubscribeOrderBook: self._start_order_book,
            SubscribeBookDepth: self._start_book_depth,
            SubscribeInstrumentStatus: self._start_instrument_status,
        }
        self._ends: dict[type[Subscribe], Callable[[Any], None]] = {
            SubscribeQuotes: self._end_quotes,
            SubscribeTrades: self._end_trades,
            SubscribeBars: self._end_bars,
            SubscribeBookDeltas: self._end_book_deltas,
            SubscribeBookSnapshots: self._end_book_snapshots,
            SubscribeTopOfBook: self._end_top_of_book,
            SubscribeOrderBook: self._end_order_book,
            SubscribeBookDepth: self._end_book_depth,
            SubscribeInstrumentStatus: self._end_instrument_status,
        }
        bus.register(ENDPOINT_DATA_EXECUTE, self.execute)
        bus.register(ENDPOINT_DATA_REQUEST, self._handle_request)
        bus.register(ENDPOINT_DATA_PROCESS, self.process)

    def _init_state(self) -> None:
        self._held: dict[Subscribe, None] = {}
        self._streams: dict[_Stream, _StreamState] = {}
        # Bar aggregation: who holds each internal bar type, its aggregator, by instrument.
        self._bar_holders: dict[BarType, dict[Subscribe, None]] = {}
        self._aggregators: dict[BarType, BarAggregator] = {}
        self._trade_aggregators: dict[InstrumentId, list[BarAggregator]] = {}
        self._quote_aggregators: dict[InstrumentId, list[BarAggregator]] = {}
        # The quotes topic of each instrument whose quotes feed no aggregator (one look-up
        # per quote on the live path); cleared whenever the quote aggregators change.
        self._plain_quote_topics: dict[InstrumentId, str] = {}
        self._bar_alerts: dict[BarType, str] = {}  # armed close alerts, by name
        # Books: the book type of each subscribed instrument, its book once built.
        self._book_types: dict[InstrumentId, BookType] = {}
        self._books: dict[InstrumentId, OrderBook] = {}
        self._books_fed: set[InstrumentId] = set()
        self._venue_fed: set[InstrumentId] = set()  # books the venues keep (venue_books)
        self._snapshot_holders: dict[tuple[InstrumentId, int, int], dict[Subscribe, None]] = {}
        self._top_holders: dict[tuple[InstrumentId, int], dict[Subscribe, None]] = {}
        # The top levels last published, per instrument and depth (None: not yet).
        self._tops: dict[InstrumentId, dict[int, Any]] = {}

    # -- clients -----------------------------------------------------------------------------

    @property
    def clients(self) -> list[DataClient]:
        """The registered data clients, in registration order."""
        return list(self._clients.values())

    def register_client(self, client: DataClient) -> None:
        """Register a data client: it serves its venue (or every unclaimed venue).

        A client registered with a running engine is started at once.

        Raises
        ------
        ValueError
            If a client with the same id, or for the same venue, is already registered.
        """
        if client.client_id in self._clients:
            raise ValueError(f"a data client {client.client_id!r} is already registered")
        venue = client.venue
        if venue is None:
            if self._default_client is not None:
                raise ValueError(
                    f"data client {client.client_id!r} serves every venue, and so does "
                    f"{self._default_client.client_id!r}"
                )
        elif venue in self._routes:
            raise ValueError(
                f"venue {venue} is already served by data client {self._routes[venue].client_id!r}"
            )
        client._attach(self)
        self._clients[client.client_id] = client
        if venue is None:
            self._default_client = client
        else:
            self._routes[venue] = client
        if self._active and client.state is ComponentState.READY:
            client.start()

    def client_for(self, venue: Venue) -> DataClient:
        """Return the client that serves ``venue``.

        Raises
        ------
        LookupError
            If no registered client serves it.
        """
        client = self._routes.get(venue, self._default_client)
        if client is None:
            known = ", ".join(self._clients) or "none"
            raise LookupError(f"no data client serves venue {venue} (registered clients: {known})")
        return client

    # -- queries -----------------------------------------------------------------------------

    def subscriptions(self) -> list[Subscribe]:
        """Return the subscriptions held, in the order they were made."""
        return list(self._held)

    def order_book(self, instrument_id: InstrumentId) -> OrderBook | None:
        """Return the book the engine keeps for ``instrument_id``, or None.

        A book exists while a book subscription (deltas, snapshots, top of book) holds the
        instrument, from its first delta (or at once when the instrument is in the cache).
        """
        return self._books.get(instrument_id)

    def bar_aggregator(self, bar_type: BarType) -> BarAggregator | None:
        """Return the aggregator building ``bar_type``, or None when not subscribed."""
        return self._aggregators.get(bar_type)

    # -- commands ----------------------------------------------------------------------------

    def execute(self, command: Subscribe | Unsubscribe) -> None:
        """Apply a subscribe or unsubscribe command (the ``ENDPOINT_DATA_EXECUTE`` handler).

        Subscribing twice with the same command is one subscription; unsubscribing what is
        not subscribed does nothing.

        Raises
        ------
        TypeError
            If the command is not one of :mod:`zq.data.messages`.
        LookupError
            If no client serves the instrument's venue.
        ValueError
            If a book subscription asks for another book type than the instrument's book.
        NotImplementedError
            If the client does not serve the stream.
        """
        self.bus.bump_version()  # replay_route answers may change (see there)
        if isinstance(command, Unsubscribe):
            counterpart = _COUNTERPARTS[type(command)]
            subscription = counterpart(**msgspec.structs.asdict(command))
            if subscription not in self._held:
                _log.debug("%s: %s is not subscribed, nothing to undo", self.component_id, command)
                return
            del self._held[subscription]
            self._ends[counterpart](subscription)
        elif isinstance(command, Subscribe):
            if command in self._held:
                return
            self._starts[type(command)](command)
            self._held[command] = None
        else:
            raise TypeError(
                f"{self.component_id} cannot execute a {type(command).__name__}: expected a "
                "Subscribe* or Unsubscribe* command of zq.data.messages"
            )

    def _start_quotes(self, command: SubscribeQuotes) -> None:
        self._acquire((_QUOTES, command.instrument_id), command)

    def _end_quotes(self, command: SubscribeQuotes) -> None:
        self._release((_QUOTES, command.instrument_id), command)

    def _start_trades(self, command: SubscribeTrades) -> None:
        self._acquire((_TRADES, command.instrument_id), command)

    def _end_trades(self, command: SubscribeTrades) -> None:
        self._release((_TRADES, command.instrument_id), command)

    def _start_book_depth(self, command: SubscribeBookDepth) -> None:
        self._acquire((_BOOK_DEPTH, command.instrument_id), command)

    def _end_book_depth(self, command: SubscribeBookDepth) -> None:
        self._release((_BOOK_DEPTH, command.instrument_id), command)

    def _start_instrument_status(self, command: SubscribeInstrumentStatus) -> None:
        self._acquire((_INSTRUMENT_STATUS, command.instrument_id), command)

    def _end_instrument_status(self, command: SubscribeInstrumentStatus) -> None:
        self._release((_INSTRUMENT_STATUS, command.instrument_id), command)

    def _start_bars(self, command: SubscribeBars) -> None:
        bar_type = command.bar_type
        if bar_type.source is not AggregationSource.INTERNAL:
            self._acquire((_BARS, bar_type), command)
            return
        holders = self._bar_holders.get(bar_type)
        if holders is None:
            instrument_id = bar_type.instrument_id
            from_trades = bar_type.spec.price_type is PriceType.LAST
            stream = (_TRADES if from_trades else _QUOTES, instrument_id)
            aggregator = make_bar_aggregator(
                bar_type, self._handle_bar, partial(self._on_bar_open, bar_type)
            )
            self._acquire(stream, bar_type)  # the aggregator holds the tick stream
            by_instrument = self._trade_aggregators if from_trades else self._quote_aggregators
            by_instrument.setdefault(instrument_id, []).append(aggregator)
            self._plain_quote_topics.clear()
            self._aggregators[bar_type] = aggregator
            holders = self._bar_holders[bar_type] = {}
        holders[command] = None

    def _end_bars(self, command: SubscribeBars) -> None:
        bar_type = command.bar_type
        if bar_type.source is not AggregationSource.INTERNAL:
            self._release((_BARS, bar_type), command)
            return
        holders = self._bar_holders[bar_type]
        del holders[command]
        if holders:
            return
        del self._bar_holders[bar_type]
        aggregator = self._aggregators.pop(bar_type)
        self._cancel_bar_alert(bar_type)
        instrument_id = bar_type.instrument_id
        from_trades = aggregator.uses_trades
        by_instrument = self._trade_aggregators if from_trades else self._quote_aggregators
        aggregators = by_instrument[instrument_id]
        aggregators.remove(aggregator)
        if not aggregators:
            del by_instrument[instrument_id]
        self._plain_quote_topics.clear()
        self._release((_TRADES if from_trades else _QUOTES, instrument_id), bar_type)

    def _start_book_deltas(self, command: SubscribeBookDeltas) -> None:
        self._acquire_book(command.instrument_id, command.book_type, command)

    def _end_book_deltas(self, command: SubscribeBookDeltas) -> None:
        self._release_book(command.instrument_id, command)

    def _start_book_snapshots(self, command: SubscribeBookSnapshots) -> None:
        key = (command.instrument_id, command.depth, command.interval_ms)
        self._acquire_book(command.instrument_id, command.book_type, command)
        holders = self._snapshot_holders.get(key)
        if holders is None:
            holders = self._snapshot_holders[key] = {}
            if self._active:
                self._arm_snapshot_timer(key)
        holders[command] = None

    def _end_book_snapshots(self, command: SubscribeBookSnapshots) -> None:
        key = (command.instrument_id, command.depth, command.interval_ms)
        holders = self._snapshot_holders[key]
        del holders[command]
        if not holders:
            del self._snapshot_holders[key]
            if self._active:
                self.clock.cancel_timer(self._snapshot_timer_name(key))
        self._release_book(command.instrument_id, command)

    def _start_order_book(self, command: SubscribeOrderBook) -> None:
        self._acquire_book(command.instrument_id, command.book_type, command)

    def _end_order_book(self, command: SubscribeOrderBook) -> None:
        self._release_book(command.instrument_id, command)

    def _start_top_of_book(self, command: SubscribeTopOfBook) -> None:
        key = (command.instrument_id, command.depth)
        self._acquire_book(command.instrument_id, command.book_type, command)
        holders = self._top_holders.get(key)
        if holders is None:
            holders = self._top_holders[key] = {}
            self._tops.setdefault(command.instrument_id, {})[command.depth] = None
        holders[command] = None

    def _end_top_of_book(self, command: SubscribeTopOfBook) -> None:
        key = (command.instrument_id, command.depth)
        holders = self._top_holders[key]
        del holders[command]
        if not holders:
            del self._top_holders[key]
            depths = self._tops[command.instrument_id]
            del depths[command.depth]
            if not depths:
                del self._tops[command.instrument_id]
        self._release_book(command.instrument_id, command)

    # -- streams -----------------------------------------------------------------------------

    def _stream_venue(self, stream: _Stream) -> Venue:
        kind, key = stream
        instrument_id: InstrumentId = key.instrument_id if kind == _BARS else key
        return instrument_id.venue

    def _acquire(self, stream: _Stream, holder: Hashable) -> None:
        state = self._streams.get(stream)
        if state is None:
            state = _StreamState(self.client_for(self._stream_venue(stream)))
            if self._active:
                self._client_subscribe(state.client, stream)
            self._streams[stream] = state
        state.holders[holder] = None

    def _release(self, stream: _Stream, holder: Hashable) -> None:
        state = self._streams[stream]
        del state.holders[holder]
        if not state.holders:
            del self._streams[stream]
            if self._active:
                self._client_unsubscribe(state.client, stream)

    def _acquire_book(
        self, instrument_id: InstrumentId, book_type: BookType, holder: Subscribe
    ) -> None:
        current = self._book_types.get(instrument_id)
        if current is not None and current is not book_type:
            raise ValueError(
                f"{type(holder).__name__} asks for an {book_type.name} book of {instrument_id}, "
                f"but the engine keeps an {current.name} book for it (one book per instrument)"
            )
        if current is None:
            self._book_types[instrument_id] = book_type  # the client subscription needs it
            try:
                self._acquire((_BOOK_DELTAS, instrument_id), holder)
            except BaseException:
                del self._book_types[instrument_id]
                raise
            instrument = self.cache.instrument(instrument_id)
            if instrument is not None:
                self._new_book(instrument_id, instrument.price_precision, instrument.size_precision)
        else:
            self._acquire((_BOOK_DELTAS, instrument_id), holder)

    def _release_book(self, instrument_id: InstrumentId, holder: Subscribe) -> None:
        stream = (_BOOK_DELTAS, instrument_id)
        self._release(stream, holder)
        if stream not in self._streams:
            del self._book_types[instrument_id]
            self._books.pop(instrument_id, None)
            self.cache.remove_order_book(instrument_id)
            self._books_fed.discard(instrument_id)

    def _client_subscribe(self, client: DataClient, stream: _Stream) -> None:
        kind, key = stream
        if kind == _QUOTES:
            client.subscribe_quotes(key)
        elif kind == _TRADES:
            client.subscribe_trades(key)
        elif kind == _BARS:
            client.subscribe_bars(key)
        elif kind == _BOOK_DELTAS:
            client.subscribe_book_deltas(key, self._book_types[key])
        elif kind == _BOOK_DEPTH:
            client.subscribe_book_depth(key)
        else:
            client.subscribe_instrument_status(key)

    def _client_unsubscribe(self, client: DataClient, stream: _Stream) -> None:
        kind, key = stream
        if kind == _QUOTES:
            client.unsubscribe_quotes(key)
        elif kind == _TRADES:
            client.unsubscribe_trades(key)
        elif kind == _BARS:
            client.unsubscribe_bars(key)
        elif kind == _BOOK_DELTAS:
            client.unsubscribe_book_deltas(key, self._book_types[key])
        elif kind == _BOOK_DEPTH:
            client.unsubscribe_book_depth(key)
        else:
            client.unsubscribe_instrument_status(key)

    # -- timers ------------------------------------------------------------------------------

    def _snapshot_timer_name(self, key: tuple[InstrumentId, int, int]) -> str:
        instrument_id, depth, interval_ms = key
        return f"{self.component_id}.book_snapshots.{instrument_id}.{depth}.{interval_ms}"

    def _arm_snapshot_timer(self, key: tuple[InstrumentId, int, int]) -> None:
        interval_ns = key[2] * 1_000_000
        now = self.clock.timestamp_ns()
        boundary = now - now % interval_ns + interval_ns  # the next multiple of the interval
        self.clock.set_timer(
            self._snapshot_timer_name(key),
            interval_ns,
            partial(self._on_snapshot_timer, key),
            start_ns=boundary,
            fire_immediately=True,
        )

    def _on_snapshot_timer(self, key: tuple[InstrumentId, int, int], event: TimeEvent) -> None:
        instrument_id, depth, interval_ms = key
        book = self._books.get(instrument_id)
        if book is None or instrument_id not in self._books_fed:
            return  # nothing to show before the first delta
        snapshot = OrderBookDepth(
            instrument_id,
            _levels(book.bids(depth)),
            _levels(book.asks(depth)),
            book.sequence,
            book.ts_last,
            event.ts_init,
        )
        self.bus.publish(topics.book_snapshots(instrument_id, depth, interval_ms), snapshot)

    def _on_bar_open(self, bar_type: BarType, close_ns: int) -> None:
        if self._active:
            self._arm_bar_alert(bar_type, close_ns)

    def _arm_bar_alert(self, bar_type: BarType, close_ns: int) -> None:
        self._cancel_bar_alert(bar_type)  # a bar closed by a tick leaves its alert behind
        name = f"{self.component_id}.bars.{bar_type}"
        # Data behind the clock: the close has passed, close at the next clock move.
        alert_ns = max(close_ns, self.clock.timestamp_ns())
        self.clock.set_time_alert(name, alert_ns, partial(self._on_bar_alert, bar_type))
        self._bar_alerts[bar_type] = name

    def _cancel_bar_alert(self, bar_type: BarType) -> None:
        name = self._bar_alerts.pop(bar_type, None)
        if name is not None:
            self.clock.cancel_timer(name)

    def _on_bar_alert(self, bar_type: BarType, event: TimeEvent) -> None:
        self._bar_alerts.pop(bar_type, None)  # the clock removed the alert before calling back
        aggregator = self._aggregators.get(bar_type)
        if aggregator is not None:
            aggregator.close_until(event.ts_event, event.ts_init)

    # -- data in -----------------------------------------------------------------------------

    def process(self, data: Any) -> None:
        """Process one datum: update the cache (and book), publish it, feed the aggregators.

        Accepts ``QuoteTick``, ``TradeTick``, ``Bar``, ``OrderBookDelta``,
        ``OrderBookDepth``, ``InstrumentStatus`` and instruments (cached, then published on
        ``topics.instruments``).

        Raises
        ------
        TypeError
            If the datum is none of those.
        """
        handler = self._process_handlers.get(type(data))
        if handler is None:
            if not isinstance(data, Instrument):
                raise TypeError(
                    f"{self.component_id} cannot process a {type(data).__name__}: expected "
                    "market data (quotes, trades, bars, book deltas or depth, instrument "
                    "status) or an instrument"
                )
            handler = self._process_handlers[type(data)] = self._handle_instrument
        handler(data)

    def process_array(
        self,
        array: _Array,
        instrument_id: InstrumentId,
        price_precision: int | None = None,
        size_precision: int | None = None,
    ) -> None:
        """Process a columnar batch of one instrument's deltas, trades or quotes.

        Deltas are applied to the instrument's book in one compiled call, without a Python
        object per delta; objects are made only when someone listens on the deltas topic
        (published after the whole batch is applied). The top of book is compared once, at
        the end of the batch. Trades and quotes are processed one by one like
        :meth:`process`.

        Parameters
        ----------
        array : numpy.ndarray
            Rows of ``DELTA_DTYPE``, ``TRADE_DTYPE`` or ``QUOTE_DTYPE`` in time order.
        instrument_id : InstrumentId
            Their instrument.
        price_precision, size_precision : int, optional
            The precisions of the raw values; default the cached instrument's.

        Raises
        ------
        TypeError
            If the dtype is none of the three.
        ValueError
            If the precisions are not given and the instrument is not in the cache.
        """
        if not len(array):
            return
        dtype = array.dtype
        if dtype not in (DELTA_DTYPE, TRADE_DTYPE, QUOTE_DTYPE):
            raise TypeError(
                f"{self.component_id} cannot process an array of dtype {dtype}: expected "
                "DELTA_DTYPE, TRADE_DTYPE or QUOTE_DTYPE (zq.data.arrays)"
            )
        prices, sizes = self._precisions(instrument_id, price_precision, size_precision)
        if dtype == TRADE_DTYPE:
            for trade in trades_to_objects(array, instrument_id, prices, sizes):
                self._handle_trade(trade)
            return
        if dtype == QUOTE_DTYPE:
            for quote in quotes_to_objects(array, instrument_id, prices, sizes):
                self._handle_quote(quote)
            return
        book = self._books.get(instrument_id)
        if book is None and instrument_id in self._book_types:
            book = self._new_book(instrument_id, prices, sizes)
        if book is not None:
            book.apply_batch(array)
            self._books_fed.add(instrument_id)
        topic = topics.book_deltas(instrument_id)
        if self.bus.has_subscribers(topic):
            publish = self.bus.publish
            for delta in deltas_to_objects(array, instrument_id, prices, sizes):
                publish(topic, delta)
        if book is not None and instrument_id in self._tops:
            last = array[-1]
            self._publish_tops(instrument_id, book, int(last["ts_event"]), int(last["ts_init"]))

    def replay_route(
        self, kind: str, key: InstrumentId | BarType, price_precision: int, size_precision: int
    ) -> tuple[
        Any,
        Callable[[Any], None] | None,
        str | None,
        dict[Any, Any] | None,
        Callable[[int, int], None] | None,
    ]:
        """Say how a backtest replay loop should hand this engine a series' rows.

        ``kind`` is ``"deltas"``, ``"quotes"``, ``"trades"`` or ``"bars"``; ``key`` the
        instrument id (the bar type for bars). Returns ``(book, handler, topic, stale,
        on_last)``:

        - ``book``: a compiled book the loop applies delta rows to itself (nobody listens to
          the deltas, the instrument has a book at the rows' precisions), else None;
        - ``on_last``: with ``book``, called as ``on_last(ts_event, ts_init)`` after each
          delta flagged LAST (the end of a venue event) when someone wants the top levels;
        - ``handler``: a callable taking each datum object and doing everything ``process``
          does (aggregators, books with listeners, top-of-book snapshots), else None;
        - ``topic``: without a handler, the loop publishes each datum object on it; None when
          nobody listens;
        - ``stale``: without a handler, the cache's map of latest data held by the loop: it
          keeps the latest row (or the object it made for listeners) and the cache asks for
          it on the first read.

        The answer holds until the bus's ``version`` changes (the engine bumps it with each
        subscribe and unsubscribe command).
        """
        cache = self.cache
        if kind == "deltas":
            assert isinstance(key, InstrumentId)
            book = self._books.get(key)
            if self.bus.has_subscribers(topics.book_deltas(key)):
                return None, self._handle_delta, None, None, None
            if book is None and key in self._book_types:
                book = self._new_book(key, price_precision, size_precision)
            if book is None:
                return None, None, None, None, None
            if (
                not isinstance(book, OrderBookBase)
                or book.price_precision != price_precision
                or book.size_precision != size_precision
            ):
                return None, self._handle_delta, None, None, None
            self._books_fed.add(key)
            on_last = partial(self._replay_tops, key) if key in self._tops else None
            return book, None, None, None, on_last
        if kind == "bars":
            assert isinstance(key, BarType)
            topic = topics.bars(key)
            if self.bus.has_subscribers(topic):
                return None, None, topic, cache._stale_bars, None
            return None, None, None, cache._stale_bars, None
        assert isinstance(key, InstrumentId)
        if kind == "trades":
            topic = topics.trades(key)
            if key in self._trade_aggregators:
                return None, self._handle_trade, None, None, None
            if self.bus.has_subscribers(topic):
                return None, None, topic, cache._stale_trades, None
            return None, None, None, cache._stale_trades, None
        topic = topics.quotes(key)
        if key in self._quote_aggregators:
            return None, self._handle_quote, None, None, None
        if self.bus.has_subscribers(topic):
            return None, None, topic, cache._stale_quotes, None
        return None, None, None, cache._stale_quotes, None

    def _replay_tops(self, instrument_id: InstrumentId, ts_event: int, ts_init: int) -> None:
        # The end of a venue event the replay loop applied in C: publish changed top levels.
        book = self._books.get(instrument_id)
        if book is not None and instrument_id in self._tops:
            self._publish_tops(instrument_id, book, ts_event, ts_init)

    def _precisions(
        self, instrument_id: InstrumentId, price_precision: int | None, size_precision: int | None
    ) -> tuple[int, int]:
        if price_precision is not None and size_precision is not None:
            return price_precision, size_precision
        instrument = self.cache.instrument(instrument_id)
        if instrument is None:
            raise ValueError(
                f"cannot read raw prices and sizes of {instrument_id}: give price_precision and "
                "size_precision, or add the instrument to the cache first"
            )
        return (
            instrument.price_precision if price_precision is None else price_precision,
            instrument.size_precision if size_precision is None else size_precision,
        )

    def process_quote(self, quote: QuoteTick) -> None:
        """Process one quote as :meth:`process` does, without its dispatch on the datum's type.

        Updates the cache, publishes the quote on its topic and, only when bars are
        aggregated from the instrument's quotes, feeds their aggregators (a live data
        client's hot path).
        """
        instrument_id = quote.instrument_id
        self.cache.add_quote(quote)
        topic = self._plain_quote_topics.get(instrument_id)
        if topic is not None:
            self.bus.publish(topic, quote)
            return
        topic = topics.quotes(instrument_id)
        aggregators = self._quote_aggregators.get(instrument_id)
        if aggregators is None:
            self._plain_quote_topics[instrument_id] = topic
            self.bus.publish(topic, quote)
            return
        ts_init = quote.ts_init
        for aggregator in aggregators:
            aggregator.close_until(ts_init, ts_init)  # bars that ended before this quote
        self.bus.publish(topic, quote)
        for aggregator in aggregators:
            aggregator.handle_quote(quote)

    _handle_quote = process_quote

    def bind_quote_feed(self, feed: QuoteFeed) -> None:
        """Let ``feed`` process quotes as :meth:`process_quote` does, in compiled code.

        A live data client hands its quotes to a :class:`~zq_core.quote_feed.QuoteFeed`;
        bound, it replaces the cache's latest quote and publishes on the bus itself for an
        instrument whose quotes feed no bar aggregator (the topics this engine records in
        ``_plain_quote_topics``, shared with the feed), and hands every other quote to
        :meth:`process_quote`. A cache or an engine whose ``add_quote`` / ``process_quote``
        is overridden gets every quote through :meth:`process_quote`.
        """
        cache = self.cache
        if (
            type(cache).add_quote is not Cache.add_quote
            or type(self).process_quote is not DataEngine.process_quote
        ):
            feed.bind(self.process_quote)
            return
        feed.bind(
            self.process_quote,
            self.bus,
            cache._quotes,
            cache._stale_quotes,
            self._plain_quote_topics,
        )

    def _handle_trade(self, trade: TradeTick) -> None:
        self.cache.add_trade(trade)
        aggregators = self._trade_aggregators.get(trade.instrument_id)
        if aggregators is None:
            self.bus.publish(topics.trades(trade.instrument_id), trade)
            return
        ts_init = trade.ts_init
        for aggregator in aggregators:
            aggregator.close_until(ts_init, ts_init)  # bars that ended before this trade
        self.bus.publish(topics.trades(trade.instrument_id), trade)
        for aggregator in aggregators:
            aggregator.handle_trade(trade)

    def _handle_bar(self, bar: Bar) -> None:
        self.cache.add_bar(bar)
        self.bus.publish(topics.bars(bar.bar_type), bar)

    def _handle_delta(self, delta: OrderBookDelta) -> None:
        instrument_id = delta.instrument_id
        book = self._books.get(instrument_id)
        if book is None and instrument_id in self._book_types:
            book = self._new_book_for_delta(delta)
        if book is not None:
            if instrument_id not in self._venue_fed:
                book.apply(delta)
            self._books_fed.add(instrument_id)
        self.bus.publish(topics.book_deltas(instrument_id), delta)
        if book is not None and delta.flags & _LAST and instrument_id in self._tops:
            self._publish_tops(instrument_id, book, delta.ts_event, delta.ts_init)

    def _handle_depth(self, depth: OrderBookDepth) -> None:
        self.bus.publish(topics.book_depth(depth.instrument_id), depth)

    def _handle_status(self, status: InstrumentStatus) -> None:
        self.bus.publish(topics.instrument_status(status.instrument_id), status)

    def _handle_instrument(self, instrument: Instrument) -> None:
        self.cache.add_instrument(instrument)
        self.bus.publish(topics.instruments(instrument.id), instrument)

    def _new_book_for_delta(self, delta: OrderBookDelta) -> OrderBook | None:
        instrument = self.cache.instrument(delta.instrument_id)
        if instrument is not None:
            return self._new_book(
                delta.instrument_id, instrument.price_precision, instrument.size_precision
            )
        if delta.action is BookAction.CLEAR:
            return None  # clearing nothing; its price says nothing of the precision
        return self._new_book(delta.instrument_id, delta.price.precision, delta.size.precision)

    def _new_book(self, instrument_id: InstrumentId, prices: int, sizes: int) -> OrderBook:
        book_type = self._book_types[instrument_id]
        book = None
        if self._venue_books is not None:
            book = self._venue_books(instrument_id, book_type, prices, sizes)
        if book is None:
            book = self._book_factory(instrument_id, book_type, prices, sizes)
        else:
            self._venue_fed.add(instrument_id)
        self._books[instrument_id] = book
        self.cache.add_order_book(instrument_id, book)
        return book

    def _publish_tops(
        self, instrument_id: InstrumentId, book: OrderBook, ts_event: int, ts_init: int
    ) -> None:
        depths = self._tops[instrument_id]
        deepest = max(depths)
        bids = book.bids(deepest)
        asks = book.asks(deepest)
        for depth, last in depths.items():
            top = (bids[:depth], asks[:depth])
            if top == last:
                continue
            depths[depth] = top
            snapshot = OrderBookDepth(
                instrument_id,
                _levels(top[0]),
                _levels(top[1]),
                book.sequence,
                ts_event,
                ts_init,
            )
            self.bus.publish(topics.book_top(instrument_id, depth), snapshot)

    # -- requests ----------------------------------------------------------------------------

    def _handle_request(self, request: Request) -> None:
        payload = request.payload
        now = self.clock.timestamp_ns()
        if isinstance(payload, RequestBars):
            bar_type = payload.bar_type
            client = self.client_for(bar_type.instrument_id.venue)
            respond = self._responder(request, payload.start_ns, payload.end_ns, payload.limit, now)
            if bar_type.source is AggregationSource.INTERNAL:
                self._request_internal_bars(client, payload, respond, now)
            else:
                client.request_bars(payload, respond)
        elif isinstance(payload, RequestTrades):
            client = self.client_for(payload.instrument_id.venue)
            respond = self._responder(request, payload.start_ns, payload.end_ns, payload.limit, now)
            client.request_trades(payload, respond)
        elif isinstance(payload, RequestQuotes):
            client = self.client_for(payload.instrument_id.venue)
            respond = self._responder(request, payload.start_ns, payload.end_ns, payload.limit, now)
            client.request_quotes(payload, respond)
        else:
            raise TypeError(
                f"{self.component_id} cannot answer a {type(payload).__name__}: expected "
                "RequestQuotes, RequestTrades or RequestBars"
            )

    def _responder(
        self, request: Request, start_ns: int, end_ns: int | None, limit: int, now: int
    ) -> Responder:
        """Return the function a client answers with: it keeps what the request asked for
        and the node could know at the time of the request, in ``ts_init`` order."""

        def respond(data: Iterable[Any]) -> None:
            found = [
                d
                for d in data
                if start_ns <= d.ts_event
                and (end_ns is None or d.ts_event <= end_ns)
                and d.ts_init <= now
            ]
            found.sort(key=_ts_init)
            request.respond(found[-limit:] if limit else found)

        return respond

    def _request_internal_bars(
        self, client: DataClient, request: RequestBars, respond: Responder, now: int
    ) -> None:
        bar_type = request.bar_type
        instrument_id = bar_type.instrument_id
        start_ns, end_ns = request.start_ns, request.end_ns
        until_ns = now if end_ns is None else min(end_ns, now)

        def aggregate(ticks: Iterable[Any]) -> None:
            known = [
                t
                for t in ticks
                if start_ns <= t.ts_event
                and (end_ns is None or t.ts_event <= end_ns)
                and t.ts_init <= now
            ]
            known.sort(key=_ts_init)
            respond(aggregate_bars(bar_type, known, until_ns))

        if bar_type.spec.price_type is PriceType.LAST:
            client.request_trades(RequestTrades(instrument_id, start_ns, end_ns), aggregate)
        else:
            client.request_quotes(RequestQuotes(instrument_id, start_ns, end_ns), aggregate)

    # -- lifecycle ---------------------------------------------------------------------------

    def _activate(self) -> None:
        for client in self._clients.values():
            if client.state is ComponentState.READY:
                client.start()
            elif client.state is ComponentState.STOPPED:
                client.resume()
        self._active = True
        for stream, state in self._streams.items():
            self._client_subscribe(state.client, stream)
        for key in self._snapshot_holders:
            self._arm_snapshot_timer(key)
        for bar_type, aggregator in self._aggregators.items():
            if isinstance(aggregator, TimeBarAggregator) and aggregator.close_ns is not None:
                self._arm_bar_alert(bar_type, aggregator.close_ns)

    def _deactivate(self) -> None:
        if self._active:
            for stream, state in self._streams.items():
                self._client_unsubscribe(state.client, stream)
            for key in self._snapshot_holders:
                self.clock.cancel_timer(self._snapshot_timer_name(key))
            for bar_type in list(self._bar_alerts):
                self._cancel_bar_alert(bar_type)
            self._active = False
        for client in reversed(self._clients.values()):
            if client.is_running or client.is_degraded:
                client.stop()

    def _on_start(self) -> None:
        self._activate()

    def _on_resume(self) -> None:
        self._activate()

    def _on_stop(self) -> None:
        self._deactivate()

    def _on_reset(self) -> None:
        self._init_state()
        for client in self._clients.values():
            if client.state is ComponentState.STOPPED:
                client.reset()

    def _on_dispose(self) -> None:
        self._deactivate()
        for endpoint in (ENDPOINT_DATA_EXECUTE, ENDPOINT_DATA_REQUEST, ENDPOINT_DATA_PROCESS):
            if self.bus.is_registered(endpoint):
                self.bus.deregister(endpoint)
        for client in self._clients.values():
            if not client.is_disposed:
                client.dispose()
