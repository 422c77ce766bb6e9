"""Binance market data for zq: quotes, trades and synced order books from one connection.

:class:`BinanceMarketDataClient` owns a :class:`BinanceWebSocketClient` on a combined
stream and routes each message by its stream name: ``<symbol>@bookTicker`` to a
:class:`~zq.model.data.QuoteTick`, ``<symbol>@trade`` to a
:class:`~zq.model.data.TradeTick`, ``<symbol>@depth@100ms`` to that symbol's
:class:`~zq.adapters.binance.depth.DepthSync`, whose ``DELTA_DTYPE`` arrays it hands on.
After a reconnect every book is reset (cleared downstream, resynced on a new snapshot):
diffs sent while the connection was down are lost.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from zq.adapters.binance.depth import DepthSync
from zq.adapters.binance.http import BinanceHttpClient
from zq.adapters.binance.parsing import MarketDataParser
from zq.adapters.binance.schemas import DepthSnapshot
from zq.adapters.binance.websocket import BinanceWebSocketClient
from zq.model.data import QuoteTick, TradeTick
from zq.model.identifiers import InstrumentId
from zq.model.instruments import Instrument

__all__ = ["BinanceMarketDataClient"]

_log = logging.getLogger("zq.adapters.binance")

_DEPTH_SPEEDS: Final = {"100ms": "@depth@100ms", "1000ms": "@depth"}


class BinanceMarketDataClient:
    """Subscribe to Binance quotes, trades and order books; receive zq data.

    Parameters
    ----------
    http
        REST client for depth snapshots.
    ws_base_url
        The stream server (``wss://stream.binance.com:9443``, the sandbox's ``ws://...``).
    on_quote, on_trade
        Receive each QuoteTick and TradeTick.
    on_deltas
        Receives ``(instrument_id, DELTA_DTYPE array)`` for each book change; sizes are at
        ``DepthSync.size_precision`` (the base asset's), prices at the tick's precision.
    depth_speed
        ``"100ms"`` or ``"1000ms"``: the diff-depth stream's update speed.
    snapshot_limit
        Levels per REST snapshot (1..5000; weight 50 up to 1000, 250 above).
    """

    def __init__(
        self,
        http: BinanceHttpClient,
        ws_base_url: str,
        *,
        on_quote: Callable[[QuoteTick], None] | None = None,
        on_trade: Callable[[TradeTick], None] | None = None,
        on_deltas: Callable[[InstrumentId, npt.NDArray[np.void]], None] | None = None,
        depth_speed: str = "100ms",
        snapshot_limit: int = 1000,
        heartbeat_s: float = 30.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if depth_speed not in _DEPTH_SPEEDS:
            raise ValueError(
                f"depth_speed must be one of {sorted(_DEPTH_SPEEDS)}, got {depth_speed!r}"
            )
        self._http = http
        self._on_quote = on_quote
        self._on_trade = on_trade
        self._on_deltas = on_deltas
        self._depth_suffix = _DEPTH_SPEEDS[depth_speed]
        self.snapshot_limit = snapshot_limit
        self._parsers: dict[str, MarketDataParser] = {}
        self._books: dict[str, DepthSync] = {}
        self._routes: dict[str, Callable[[bytes, int], None]] = {}
        self.errors = 0
        self._ws = BinanceWebSocketClient(
            ws_base_url,
            self._on_message,
            on_reconnect=self._reset_books,
            heartbeat_s=heartbeat_s,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
            rng=rng,
        )

    @property
    def websocket(self) -> BinanceWebSocketClient:
        """The underlying connection (counters, state)."""
        return self._ws

    def book(self, instrument_id: InstrumentId) -> DepthSync:
        """Return the sync of a subscribed book."""
        for sync in self._books.values():
            if sync.instrument.id == instrument_id:
                return sync
        raise KeyError(f"no book subscribed for {instrument_id}")

    async def start(self) -> None:
        """Start the connection (it opens with the first subscription)."""
        await self._ws.start()

    async def stop(self) -> None:
        """Close the connection and stop every book's snapshot requests."""
        await self._ws.stop()
        for sync in self._books.values():
            await sync.close()

    # -- subscriptions ---------------------------------------------------------------------

    def _parser(self, instrument: Instrument) -> MarketDataParser:
        symbol = instrument.raw_symbol.lower()
        parser = self._parsers.get(symbol)
        if parser is None:
            parser = self._parsers[symbol] = MarketDataParser(instrument)
        return parser

    async def subscribe_quotes(self, instrument: Instrument) -> None:
        """Receive the instrument's best bid and ask (``bookTicker``)."""
        parser = self._parser(instrument)
        stream = f"{instrument.raw_symbol.lower()}@bookTicker"
        self._routes[stream] = lambda data, ts: self._quote(parser.quote(data, ts))
        on_quote = self._on_quote
        if on_quote is not None:
            # The hot path: the whole message decoded into a QuoteTick by one compiled call
            # and handed straight on (a read holding one whole frame of it, from the
            # socket's read: see BinanceWebSocketClient.route); a message of another stream
            # or shape is refused at once and takes the route above (which accepts it or
            # names what is wrong).
            self._ws.route(stream, parser.book_ticker_decoder(on_quote))
        await self._ws.subscribe([stream])

    async def subscribe_trades(self, instrument: Instrument) -> None:
        """Receive the instrument's trades (``trade``)."""
        parser = self._parser(instrument)
        stream = f"{instrument.raw_symbol.lower()}@trade"
        self._routes[stream] = lambda data, ts: self._trade(parser.trade(data, ts))
        await self._ws.subscribe([stream])

    async def subscribe_book(self, instrument: Instrument) -> None:
        """Receive the instrument's order book as deltas (diff depth synced on snapshots)."""
        symbol = instrument.raw_symbol
        stream = f"{symbol.lower()}{self._depth_suffix}"
        if stream in self._routes:
            return
        instrument_id = instrument.id
        limit = self.snapshot_limit

        async def fetch() -> DepthSnapshot:
            return await self._http.depth(symbol, limit)

        sync = DepthSync(instrument, fetch, lambda deltas: self._deltas(instrument_id, deltas))
        self._books[stream] = sync
        self._routes[stream] = sync.on_diff
        await self._ws.subscribe([stream])

    async def unsubscribe(self, instrument: Instrument) -> None:
        """Stop every stream of the instrument."""
        symbol = instrument.raw_symbol.lower()
        streams = [name for name in self._routes if name.startswith(f"{symbol}@")]
        await self._ws.unsubscribe(streams)
        for name in streams:
            del self._routes[name]
            self._ws.unroute(name)
            sync = self._books.pop(name, None)
            if sync is not None:
                await sync.close()

    # -- routing ---------------------------------------------------------------------------

    def _on_message(self, stream: str, data: bytes, ts_init: int) -> None:
        route = self._routes.get(stream)
        if route is None:
            return  # unsubscribed, messages still in flight
        route(data, ts_init)

    def _quote(self, quote: QuoteTick) -> None:
        if self._on_quote is not None:
            self._on_quote(quote)

    def _trade(self, trade: TradeTick) -> None:
        if self._on_trade is not None:
            self._on_trade(trade)

    def _deltas(self, instrument_id: InstrumentId, deltas: npt.NDArray[np.void]) -> None:
        if self._on_deltas is not None:
            self._on_deltas(instrument_id, deltas)

    def _reset_books(self) -> None:
        for sync in self._books.values():
            _log.info("%s: reconnected, resyncing the book", sync.stream)
            sync.reset()
