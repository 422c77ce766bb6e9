"""The venue's WebSocket side: market streams, user data streams and their connections.

Each connection has a queue and one writer task, so a connection receives its messages in
the order the exchange published them. Faults that act on user streams (duplicates,
reordering) happen here, per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from zq.sandbox.exchange import (
    ExchangeListener,
    SandboxExchange,
    SymbolState,
    UserEvent,
    format_decimal,
)
from zq.sandbox.faults import FaultInjector

__all__ = ["Connection", "StreamHub", "parse_stream"]

_STREAM: Final = re.compile(r"^([a-z0-9]+)@(depth@100ms|depth@1000ms|depth|bookTicker|trade)$")
_REORDER_HOLD: Final = 0.05  # seconds an event held back for reordering waits at most
_encode = msgspec.json.Encoder().encode


def parse_stream(name: str, symbols: set[str]) -> tuple[str, str] | None:
    """Return ``(SYMBOL, kind)`` of a market stream name (kind: depth100, depth1000,
    bookTicker, trade), or None when the name is not one the venue serves."""
    match = _STREAM.match(name)
    if match is None or match.group(1).upper() not in symbols:
        return None
    kind = match.group(2)
    if kind in ("depth", "depth@1000ms"):
        kind = "depth1000"
    elif kind == "depth@100ms":
        kind = "depth100"
    return match.group(1).upper(), kind


@dataclass(eq=False)
class Connection:
    """One WebSocket client: its streams, its outgoing queue and its writer task."""

    ws: web.WebSocketResponse
    combined: bool
    streams: set[str] = field(default_factory=set)
    listen_key: str | None = None
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    held: bytes | None = None
    held_handle: asyncio.TimerHandle | None = None

    def put(self, stream: str, payload: bytes) -> None:
        """Queue a message of ``stream`` (wrapped when the connection is combined)."""
        if self.combined:
            payload = b'{"stream":' + _encode(stream) + b',"data":' + payload + b"}"
        self.queue.put_nowait(payload)

    async def write(self) -> None:
        """Send queued messages until the queue yields None or the socket closes."""
        while True:
            message = await self.queue.get()
            if message is None or self.ws.closed:
                if not self.ws.closed:
                    with contextlib.suppress(ConnectionError):
                        await self.ws.close(code=WSCloseCode.GOING_AWAY)
                return
            try:
                await self.ws.send_frame(message, WSMsgType.TEXT)  # UTF-8 JSON already
            except ConnectionError:
                return


@dataclass(slots=True)
class _Depth:
    """Levels touched since the last diff of one symbol at one cadence."""

    first_id: int = 0
    last_id: int = 0
    touched: set[tuple[int, int]] = field(default_factory=set)


@dataclass(slots=True)
class _ListenKey:
    api_key: str
    expires: float


class StreamHub(ExchangeListener):
    """Publish what the exchange produces to the WebSocket connections that want it.

    Parameters
    ----------
    exchange : SandboxExchange
        Set as the exchange's listener by the venue.
    faults : FaultInjector
        The venue's faults.
    listen_key_ttl : float
        Seconds a listenKey lives without a keep-alive.
    """

    def __init__(self, exchange: SandboxExchange, faults: FaultInjector, listen_key_ttl: float):
        self.exchange = exchange
        self.faults = faults
        self.listen_key_ttl = listen_key_ttl
        self.connections: set[Connection] = set()
        self._by_stream: dict[str, set[Connection]] = {}
        self._listen_keys: dict[str, _ListenKey] = {}
        self._depth100: dict[str, _Depth] = {s: _Depth() for s in exchange.symbols}
        self._depth1000: dict[str, _Depth] = {s: _Depth() for s in exchange.symbols}
        self._ticks = 0
        self._pending_user: list[tuple[str, UserEvent]] = []

    # --- Subscriptions --------------------------------------------------------------------------

    def subscribe(self, connection: Connection, stream: str) -> None:
        """Send ``stream``'s messages to ``connection``."""
        connection.streams.add(stream)
        self._by_stream.setdefault(stream, set()).add(connection)

    def unsubscribe(self, connection: Connection, stream: str) -> None:
        """Stop sending ``stream`` to ``connection``."""
        connection.streams.discard(stream)
        subscribers = self._by_stream.get(stream)
        if subscribers is not None:
            subscribers.discard(connection)

    def subscribers(self, stream: str) -> int:
        """Return how many connections receive ``stream`` (e.g. ``btcusdt@trade``)."""
        return len(self._by_stream.get(stream, ()))

    def add(self, connection: Connection) -> None:
        """Register a new connection."""
        self.connections.add(connection)

    def remove(self, connection: Connection) -> None:
        """Forget a closed connection."""
        for stream in list(connection.streams):
            self.unsubscribe(connection, stream)
        self.connections.discard(connection)
        if connection.held_handle is not None:
            connection.held_handle.cancel()
        connection.queue.put_nowait(None)

    # --- Listen keys ----------------------------------------------------------------------------

    def create_listen_key(self, api_key: str) -> str:
        """Return the account's active listenKey (extended), or a new one."""
        now = time.monotonic()
        for key, entry in self._listen_keys.items():
            if entry.api_key == api_key and entry.expires > now:
                entry.expires = now + self.listen_key_ttl
                return key
        key = secrets.token_hex(32)
        self._listen_keys[key] = _ListenKey(api_key, now + self.listen_key_ttl)
        return key

    def listen_key_account(self, key: str) -> str | None:
        """Return the api key owning a live listenKey, or None."""
        entry = self._listen_keys.get(key)
        if entry is None or entry.expires <= time.monotonic():
            return None
        return entry.api_key

    def keep_alive(self, key: str, api_key: str) -> bool:
        """Extend a listenKey of ``api_key``; False if it does not exist."""
        entry = self._listen_keys.get(key)
        if entry is None or entry.api_key != api_key or entry.expires <= time.monotonic():
            return False
        entry.expires = time.monotonic() + self.listen_key_ttl
        return True

    def close_listen_key(self, key: str, api_key: str) -> bool:
        """Delete a listenKey and close its connections; False if it does not exist."""
        entry = self._listen_keys.get(key)
        if entry is None or entry.api_key != api_key:
            return False
        del self._listen_keys[key]
        for connection in list(self._by_stream.get(key, ())):
            # Its writer closes the socket once what is queued is sent; the REST answer
            # does not wait for the client's side of the close.
            connection.queue.put_nowait(None)
        return True

    async def expire_listen_keys(self) -> None:
        """Send ``listenKeyExpired`` to the streams of keys past their time, and close them."""
        now = time.monotonic()
        for key, entry in list(self._listen_keys.items()):
            if entry.expires > now:
                continue
            del self._listen_keys[key]
            payload = _encode(
                {"e": "listenKeyExpired", "E": time.time_ns() // 1_000_000, "listenKey": key}
            )
            for connection in list(self._by_stream.get(key, ())):
                connection.put(key, payload)
                connection.queue.put_nowait(None)

    # --- ExchangeListener -----------------------------------------------------------------------

    def on_depth(self, symbol: str, update_id: int, touched: set[tuple[int, int]]) -> None:
        for depth in (self._depth100[symbol], self._depth1000[symbol]):
            if not depth.first_id:
                depth.first_id = update_id
            depth.last_id = update_id
            depth.touched |= touched

    def on_book_ticker(self, state: SymbolState) -> None:
        stream = f"{state.symbol.lower()}@bookTicker"
        subscribers = self._by_stream.get(stream)
        if not subscribers:
            return
        bid, bid_size, ask, ask_size = state.top
        payload = _encode(
            {
                "u": state.update_id,
                "s": state.symbol,
                "b": format_decimal(state.price(bid)),
                "B": format_decimal(state.size(bid_size)),
                "a": format_decimal(state.price(ask)),
                "A": format_decimal(state.size(ask_size)),
            }
        )
        for connection in subscribers:
            connection.put(stream, payload)

    def on_trade(self, symbol: str, payload: dict[str, Any]) -> None:
        stream = f"{symbol.lower()}@trade"
        subscribers = self._by_stream.get(stream)
        if subscribers:
            data = _encode(payload)
            for connection in subscribers:
                connection.put(stream, data)

    def wants_user_events(self, api_key: str) -> bool:
        for key, entry in self._listen_keys.items():
            if entry.api_key == api_key and self._by_stream.get(key):
                return True
        return False

    def on_user_event(self, api_key: str, event: UserEvent) -> None:
        # Built, encoded and queued on the next turn of the loop, after the REST answer of
        # the request that made the event is written: that answer is what the client waits
        # for. The event holds its values as they were; events keep their order.
        self._pending_user.append((api_key, event))
        if len(self._pending_user) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush_user_events)
            except RuntimeError:  # no loop (the exchange driven directly): at once
                self.flush_user_events()

    def flush_user_events(self) -> None:
        """Send the user events the exchange produced since the last call."""
        pending, self._pending_user = self._pending_user, []
        for api_key, event in pending:
            data = _encode(event.to_json())
            for key, entry in self._listen_keys.items():
                if entry.api_key != api_key:
                    continue
                for connection in self._by_stream.get(key, ()):
                    self._send_user(connection, key, data)

    # --- Publication ----------------------------------------------------------------------------

    def flush_depth(self) -> None:
        """Publish the pending diffs: every call for 100 ms streams, every tenth for 1000 ms.

        A diff carries the current size of every level touched since the last one (0 when
        the level is gone), with ``U`` and ``u`` the first and last update ids it covers.
        """
        self._ticks += 1
        self._publish_depth(self._depth100, "depth@100ms")
        if self._ticks % 10 == 0:
            self._publish_depth(self._depth1000, "depth")

    def _publish_depth(self, pending: dict[str, _Depth], suffix: str) -> None:
        for symbol, depth in pending.items():
            if not depth.first_id:
                continue
            pending[symbol] = _Depth()
            lower = symbol.lower()
            # The 1000 ms diff has two names; each subscriber gets the one it asked for.
            names = (f"{lower}@{suffix}",) if suffix != "depth" else (
                f"{lower}@depth",
                f"{lower}@depth@1000ms",
            )
            if not any(self._by_stream.get(name) for name in names):
                continue
            state = self.exchange.symbols[symbol]
            book = state.core.book
            bids: list[list[str]] = []
            asks: list[list[str]] = []
            for side, price in sorted(depth.touched, key=lambda level: (level[0], level[1])):
                size = book.size_at(side, price).raw
                level = [format_decimal(state.price(price)), format_decimal(state.size(size))]
                (bids if side == 1 else asks).append(level)
            bids.reverse()  # best (highest) bid first, as asks are best (lowest) first
            payload = _encode(
                {
                    "e": "depthUpdate",
                    "E": time.time_ns() // 1_000_000,
                    "s": symbol,
                    "U": depth.first_id,
                    "u": depth.last_id,
                    "b": bids,
                    "a": asks,
                }
            )
            for name in names:
                for connection in self._by_stream.get(name, ()):
                    connection.put(name, payload)

    def _send_user(self, connection: Connection, key: str, data: bytes) -> None:
        faults = self.faults
        if connection.held is not None:
            # The held event goes after this one: that is the reordering.
            held, connection.held = connection.held, None
            if connection.held_handle is not None:
                connection.held_handle.cancel()
                connection.held_handle = None
            connection.put(key, data)
            connection.put(key, held)
            return
        switches = faults.config  # a switch at 0 draws nothing: not asked then
        if switches.reorder > 0.0 and faults.strikes("reorder", "reordered"):
            connection.held = data
            loop = asyncio.get_running_loop()
            connection.held_handle = loop.call_later(
                _REORDER_HOLD, self._release_held, connection, key
            )
            return
        connection.put(key, data)
        if switches.duplicate > 0.0 and faults.strikes("duplicate", "duplicated"):
            connection.put(key, data)

    @staticmethod
    def _release_held(connection: Connection, key: str) -> None:
        connection.held_handle = None
        if connection.held is not None:
            held, connection.held = connection.held, None
            connection.put(key, held)

    async def disconnect_all(self) -> int:
        """Close every WebSocket connection (a fault); return how many were closed."""
        connections = list(self.connections)

        async def close(connection: Connection) -> None:
            with contextlib.suppress(ConnectionError):
                await connection.ws.close(
                    code=WSCloseCode.GOING_AWAY, message=b"sandbox fault: disconnect"
                )

        await asyncio.gather(*(close(connection) for connection in connections))
        return len(connections)
