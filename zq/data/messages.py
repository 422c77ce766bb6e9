"""Commands to the DataEngine: subscriptions and historical data requests.

Subscriptions are sent with ``bus.send(ENDPOINT_DATA_EXECUTE, command)``; the data then
arrives on the topics of :mod:`zq.common.topics`, to which the subscriber subscribes on the
bus itself. Each subscription is identified by its parameters and its ``subscriber`` (a
strategy or actor id): sending the same subscription twice is one subscription, and the
DataEngine asks its data client for a stream only once however many subscribers share it.

Requests are made with ``bus.request(ENDPOINT_DATA_REQUEST, request, callback)`` (or
``await bus.request_async(...)``); the response payload is a ``list`` of data objects in
time order.

Every command is a frozen, tagged ``msgspec.Struct``, so it serializes like the rest of the
model (a control plane can send them over the wire).
"""

from __future__ import annotations

import msgspec

from zq.model.data import BarType
from zq.model.enums import BookType
from zq.model.identifiers import InstrumentId

__all__ = [
    "DataRequest",
    "RequestBars",
    "RequestQuotes",
    "RequestTrades",
    "Subscribe",
    "SubscribeBars",
    "SubscribeBookDeltas",
    "SubscribeBookDepth",
    "SubscribeBookSnapshots",
    "SubscribeInstrumentStatus",
    "SubscribeOrderBook",
    "SubscribeQuotes",
    "SubscribeTopOfBook",
    "SubscribeTrades",
    "Unsubscribe",
    "UnsubscribeBars",
    "UnsubscribeBookDeltas",
    "UnsubscribeBookDepth",
    "UnsubscribeBookSnapshots",
    "UnsubscribeInstrumentStatus",
    "UnsubscribeOrderBook",
    "UnsubscribeQuotes",
    "UnsubscribeTopOfBook",
    "UnsubscribeTrades",
]


def _check_depth(command: object, depth: int) -> None:
    if depth <= 0:
        raise ValueError(f"{type(command).__name__}: depth must be positive, got {depth}")


def _check_interval(command: object, interval_ms: int) -> None:
    if interval_ms <= 0:
        raise ValueError(
            f"{type(command).__name__}: interval_ms must be positive, got {interval_ms} "
            "(for a snapshot on every change, use SubscribeTopOfBook)"
        )


# -- subscriptions -----------------------------------------------------------------------


class Subscribe(msgspec.Struct, frozen=True, tag=True):
    """Base of the subscribe commands."""


class Unsubscribe(msgspec.Struct, frozen=True, tag=True):
    """Base of the unsubscribe commands; each undoes the subscribe with the same fields."""


class SubscribeQuotes(Subscribe, frozen=True, tag=True):
    """Receive the quotes of ``instrument_id`` on ``topics.quotes(instrument_id)``."""

    instrument_id: InstrumentId
    subscriber: str


class UnsubscribeQuotes(Unsubscribe, frozen=True, tag=True):
    """Undo :class:`SubscribeQuotes`."""

    instrument_id: InstrumentId
    subscriber: str


class SubscribeTrades(Subscribe, frozen=True, tag=True):
    """Receive the trades of ``instrument_id`` on ``topics.trades(instrument_id)``."""

    instrument_id: InstrumentId
    subscriber: str


class UnsubscribeTrades(Unsubscribe, frozen=True, tag=True):
    """Undo :class:`SubscribeTrades`."""

    instrument_id: InstrumentId
    subscriber: str


class SubscribeBars(Subscribe, frozen=True, tag=True):
    """Receive the bars of ``bar_type`` on ``topics.bars(bar_type)``.

    An ``INTERNAL`` bar type is aggregated by the DataEngine from trades (price type
    ``LAST``) or quotes (``BID``, ``ASK``, ``MID``); an ``EXTERNAL`` one is streamed by the
    venue's data client.
    """

    bar_type: BarType
    subscriber: str


class UnsubscribeBars(Unsubscribe, frozen=True, tag=True):
    """Undo :class:`SubscribeBars`."""

    bar_type: BarType
    subscriber: str


class SubscribeBookDeltas(Subscribe, frozen=True, tag=True):
    """Receive the book deltas of ``instrument_id`` on ``topics.book_deltas(instrument_id)``.

    The DataEngine keeps one book of ``book_type`` for the instrument and applies each delta
    to it before publishing the delta.
    """

    instrument_id: InstrumentId
    book_type: BookType
    subscriber: str


class UnsubscribeBookDeltas(Unsubscribe, frozen=True, tag=True):
    """Undo :class:`SubscribeBookDeltas`."""

    instrument_id: InstrumentId
    book_type: BookType
    subscriber: str


class SubscribeBookSnapshots(Subscribe, frozen=True, tag=True):
    """Receive an ``OrderBookDepth`` of the top ``depth`` levels every ``interval_ms``.

    Snapshots are taken from the DataEngine's book of ``instrument_id`` at each multiple of
    the interval since the UNIX epoch and published on
    ``topics.book_snapshots(instrument_id, depth, interval_ms)``.
    """

    instrument_id: InstrumentId
    book_type: BookType
    depth: int
    interval_ms: int
    subscriber: str

    def __post_init__(self) -> None:
        _check_depth(self, self.depth)
        _check_interval(self, self.interval_ms)


class UnsubscribeBookSnapshots(Unsubscribe, frozen=True, tag=True):
    """Undo :class:`SubscribeBookSnapshots`."""

    instrument_id: InstrumentId
    book_type: BookType
    depth: int
    interval_ms: int
    subscriber: str


class SubscribeOrderBook(Subscribe, frozen=True, tag=True):
    """Have the DataEngine keep the instrument's book; nothing is published.

    The subscriber reads the book when it wants (``Actor.order_book``), for instance on a
    timer: no callback runs per book change, so a backtest applies every delta in C.
    """

    instrument_id: InstrumentId
    book_type: BookType
    subscriber: str


class UnsubscribeOrderBook(Unsubscribe, frozen=True, tag=True):
    """Undo :class:`SubscribeOrderBook`."""

    instrument_id: InstrumentId
    book_type: BookType
    subscriber: str


class SubscribeTopOfBook(Subscribe, frozen=True, tag=True):
    """Receive an ``OrderBookDepth`` of the top ``depth`` levels whenever they change.

    The top levels are compared at the end of each venue event (a delta flagged
    ``BookFlags.LAST``, or the end of an array batch) and published on
    ``topics.book_top(instrument_id, depth)`` when they differ from the last ones published.
    """

    instrument_id: InstrumentId
    book_type: BookType
    depth: int
    subscriber: str

    def __post_init__(self) -> None:
        _check_depth(self, self.depth)


class UnsubscribeTopOfBook(Unsubscribe, frozen=True, tag=True):
    """Undo :class:`SubscribeTopOfBook`."""

    instrument_id: InstrumentId
    book_type: BookType
    depth: int
    subscriber: str


class SubscribeBookDepth(Subscribe, frozen=True, tag=True):
    """Receive the venue's own depth snapshots on ``topics.book_depth(instrument_id)``."""

    instrument_id: InstrumentId
    subscriber: str


class UnsubscribeBookDepth(Unsubscribe, frozen=True, tag=True):
    """Undo :class:`SubscribeBookDepth`."""

    instrument_id: InstrumentId
    subscriber: str


class SubscribeInstrumentStatus(Subscribe, frozen=True, tag=True):
    """Receive trading status changes on ``topics.instrument_status(instrument_id)``."""

    instrument_id: InstrumentId
    subscriber: str


class UnsubscribeInstrumentStatus(Unsubscribe, frozen=True, tag=True):
    """Undo :class:`SubscribeInstrumentStatus`."""

    instrument_id: InstrumentId
    subscriber: str


# -- historical requests -----------------------------------------------------------------


class DataRequest(msgspec.Struct, frozen=True, tag=True):
    """Base of the historical data requests.

    The range is on ``ts_event`` (a bar's close), both ends included; ``end_ns=None`` means
    up to now. Data the node could not know yet (``ts_init`` after the clock's time) is never
    returned, so a backtest cannot peek ahead. ``limit`` keeps only the last ``limit`` items
    (0: all).
    """


def _check_range(request: object, start_ns: int, end_ns: int | None, limit: int) -> None:
    name = type(request).__name__
    if start_ns < 0:
        raise ValueError(f"{name}: start_ns must not be negative, got {start_ns}")
    if end_ns is not None and end_ns < start_ns:
        raise ValueError(f"{name}: end_ns {end_ns} is before start_ns {start_ns}")
    if limit < 0:
        raise ValueError(f"{name}: limit must not be negative, got {limit}")


class RequestQuotes(DataRequest, frozen=True, tag=True):
    """Request the quotes of ``instrument_id``; the answer is a ``list[QuoteTick]``."""

    instrument_id: InstrumentId
    start_ns: int
    end_ns: int | None = None
    limit: int = 0

    def __post_init__(self) -> None:
        _check_range(self, self.start_ns, self.end_ns, self.limit)


class RequestTrades(DataRequest, frozen=True, tag=True):
    """Request the trades of ``instrument_id``; the answer is a ``list[TradeTick]``."""

    instrument_id: InstrumentId
    start_ns: int
    end_ns: int | None = None
    limit: int = 0

    def __post_init__(self) -> None:
        _check_range(self, self.start_ns, self.end_ns, self.limit)


class RequestBars(DataRequest, frozen=True, tag=True):
    """Request the bars of ``bar_type``; the answer is a ``list[Bar]``.

    An ``EXTERNAL`` bar type is served by the venue's data client. An ``INTERNAL`` one is
    aggregated by the DataEngine from the trades or quotes the client returns for the same
    range, with the rules of live aggregation: only completed bars are returned, and the
    first time bar holds only the ticks from ``start_ns`` on (start on a bar boundary for a
    complete first bar).
    """

    bar_type: BarType
    start_ns: int
    end_ns: int | None = None
    limit: int = 0

    def __post_init__(self) -> None:
        _check_range(self, self.start_ns, self.end_ns, self.limit)
