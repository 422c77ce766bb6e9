"""The Binance adapter's market data as a node's data client.

:class:`BinanceDataClient` turns the DataEngine's subscriptions into the streams of a
:class:`~zq.adapters.binance.BinanceMarketDataClient` and hands what they deliver to the
engine (quotes and trades with ``process``, book deltas with ``process_array``).
:func:`binance_book_factory` makes the engine's books at Binance's market-data precision.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from zq.adapters.binance.http import BinanceHttpClient
from zq.adapters.binance.market_data import BinanceMarketDataClient
from zq.adapters.binance.parsing import market_size_precision
from zq.cache import Cache
from zq.data.client import DataClient
from zq.data.engine import BookFactory, OrderBook, default_book_factory
from zq.live.tasks import ClientTasks
from zq.model.data import QuoteTick, TradeTick
from zq.model.enums import BookType
from zq.model.identifiers import InstrumentId, Venue
from zq.model.instruments import Instrument
from zq_core.quote_feed import QuoteFeed

__all__ = ["BinanceDataClient", "binance_book_factory"]


def binance_book_factory(cache: Cache, fallback: BookFactory = default_book_factory) -> BookFactory:
    """Return a DataEngine book factory whose books hold Binance's market-data sizes.

    Binance's book levels are exact at the base asset's precision, finer than the order step
    (see :func:`~zq.adapters.binance.parsing.market_size_precision`); the engine's books of
    cached Binance instruments are made at that precision.
    """

    def factory(
        instrument_id: InstrumentId, book_type: BookType, price_precision: int, size_precision: int
    ) -> OrderBook:
        instrument = cache.instrument(instrument_id)
        if instrument is not None:
            size_precision = market_size_precision(instrument)
        return fallback(instrument_id, book_type, price_precision, size_precision)

    return factory


class BinanceDataClient(DataClient):
    """Serve one venue's quotes, trades and order books from Binance's market streams.

    Parameters
    ----------
    client_id : str
        The client's id (its component id).
    venue : Venue or str
        The venue it serves; its instruments must be in the engine's cache.
    http : BinanceHttpClient
        For depth snapshots.
    ws_url : str
        The stream server.
    """

    def __init__(
        self,
        client_id: str,
        venue: Venue | str,
        http: BinanceHttpClient,
        ws_url: str,
        *,
        heartbeat_s: float = 30.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 30.0,
    ) -> None:
        super().__init__(client_id, venue)
        # Quotes go from the adapter's decoder to the engine's quote path in compiled code
        # once the engine has bound the feed (at the first quote); until then, and for the
        # quotes it does not process itself, to _first_quote / the engine's process_quote.
        self._quote_feed = QuoteFeed(self._first_quote)
        self.market = BinanceMarketDataClient(
            http,
            ws_url,
            on_quote=self._quote_feed,
            on_trade=self._on_trade,
            on_deltas=self._on_deltas,
            heartbeat_s=heartbeat_s,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
        )
        self._tasks = ClientTasks(client_id)
        # The kinds streamed per instrument: the adapter unsubscribes an instrument as a
        # whole, so dropping one kind means re-subscribing the others.
        self._kinds: dict[InstrumentId, set[str]] = {}
        self._size_precisions: dict[InstrumentId, tuple[int, int]] = {}
        self.trades = 0
        self.delta_batches = 0

    @property
    def quotes(self) -> int:
        """Quotes received."""
        return self._quote_feed.count

    @property
    def errors(self) -> int:
        """Subscriptions that failed."""
        return self._tasks.errors

    @property
    def is_connected(self) -> bool:
        """Whether the market-data connection is up (True while nothing is subscribed)."""
        return not self._kinds or self.market.websocket.is_connected

    async def connect(self) -> None:
        """Start the market-data connection (it opens with the first subscription)."""
        await self.market.start()

    async def disconnect(self) -> None:
        """Stop the subscription tasks and close the connection."""
        await self._tasks.cancel()
        await self.market.stop()

    def _instrument(self, instrument_id: InstrumentId) -> Instrument:
        instrument = self.engine.cache.instrument(instrument_id)
        if instrument is None:
            raise ValueError(
                f"data client {self.client_id!r}: instrument {instrument_id} is not loaded "
                f"(the node loads the symbols of its venue config from exchangeInfo)"
            )
        return instrument

    def _start(self, instrument_id: InstrumentId, kind: str) -> None:
        instrument = self._instrument(instrument_id)
        self._kinds.setdefault(instrument_id, set()).add(kind)
        self._tasks.spawn(f"subscribe {kind} {instrument_id}", self._subscribe(instrument, kind))

    def _end(self, instrument_id: InstrumentId, kind: str) -> None:
        kinds = self._kinds.get(instrument_id)
        if kinds is None or kind not in kinds:
            return
        kinds.discard(kind)
        if not kinds:
            del self._kinds[instrument_id]
        instrument = self._instrument(instrument_id)
        self._tasks.spawn(
            f"unsubscribe {kind} {instrument_id}", self._resubscribe(instrument, set(kinds))
        )

    async def _subscribe(self, instrument: Instrument, kind: str) -> None:
        if kind == "quotes":
            await self.market.subscribe_quotes(instrument)
        elif kind == "trades":
            await self.market.subscribe_trades(instrument)
        else:
            await self.market.subscribe_book(instrument)

    async def _resubscribe(self, instrument: Instrument, kinds: set[str]) -> None:
        await self.market.unsubscribe(instrument)
        for kind in sorted(kinds):
            await self._subscribe(instrument, kind)

    # DataClient hooks (called by the DataEngine, synchronously).

    def subscribe_quotes(self, instrument_id: InstrumentId) -> None:
        """Stream the instrument's ``bookTicker``."""
        self._start(instrument_id, "quotes")

    def unsubscribe_quotes(self, instrument_id: InstrumentId) -> None:
        """Stop the instrument's ``bookTicker``."""
        self._end(instrument_id, "quotes")

    def subscribe_trades(self, instrument_id: InstrumentId) -> None:
        """Stream the instrument's trades."""
        self._start(instrument_id, "trades")

    def unsubscribe_trades(self, instrument_id: InstrumentId) -> None:
        """Stop the instrument's trades."""
        self._end(instrument_id, "trades")

    def subscribe_book_deltas(self, instrument_id: InstrumentId, book_type: BookType) -> None:
        """Stream the instrument's book (diff depth synced on REST snapshots)."""
        if book_type is BookType.L3_MBO:
            raise self._refuse(f"L3 (order-by-order) books ({instrument_id}): Binance has L2")
        self._start(instrument_id, "book")

    def unsubscribe_book_deltas(self, instrument_id: InstrumentId, book_type: BookType) -> None:
        """Stop the instrument's book."""
        self._end(instrument_id, "book")

    # Data from the adapter.

    def _first_quote(self, quote: QuoteTick) -> None:
        # The first quote: from then on, the feed processes quotes as the engine does.
        self.engine.bind_quote_feed(self._quote_feed)
        self.engine.process_quote(quote)

    def _on_trade(self, trade: TradeTick) -> None:
        self.trades += 1
        self.engine.process(trade)

    def _on_deltas(self, instrument_id: InstrumentId, rows: npt.NDArray[np.void]) -> None:
        self.delta_batches += 1
        precisions = self._size_precisions.get(instrument_id)
        if precisions is None:
            instrument = self._instrument(instrument_id)
            precisions = (instrument.price_precision, market_size_precision(instrument))
            self._size_precisions[instrument_id] = precisions
        self.engine.process_array(rows, instrument_id, precisions[0], precisions[1])
