"""A reconnecting WebSocket connection to Binance streams, with subscriptions that survive it.

:class:`BinanceWebSocketClient` holds one connection to a combined stream
(``/stream?streams=a/b``: every message arrives as ``{"stream": name, "data": {...}}``) or
to a raw stream (``/ws/<name>``: the user data stream). What it guarantees:

- **subscriptions**: the set of streams is the client's state, not the connection's;
  ``subscribe`` / ``unsubscribe`` change it, and send ``SUBSCRIBE`` / ``UNSUBSCRIBE`` on a
  live connection (answered by ``{"result": null, "id": n}``). A new connection names every
  stream of the set in its URL, so a reconnect resubscribes everything.
- **reconnect**: when the connection drops (closed by the server, an error, a missed
  heartbeat, Binance's 24-hour limit), the client waits and connects again: exponential
  back-off from ``backoff_initial_s`` doubling to ``backoff_max_s``, each wait drawn
  uniformly in [50 %, 100 %] of the step ("equal jitter"), so clients restarted together do
  not reconnect together. A connection that stayed up resets the back-off.
- **ping/pong**: Binance pings every 20 s and drops a client that does not answer within a
  minute; the connection answers pings. The client also pings a server quiet for
  ``heartbeat_s`` and treats a missing pong as a dead connection.
- ``on_reconnect`` runs when a connection is made after the first: whatever depended on an
  unbroken stream (an order book's diff chain) must resync.
- **a broken frame** (see :class:`~zq.adapters.binance.ws_connection.FrameParser`) fails the
  connection with a warning naming the problem and its place in the stream, and counts in
  ``stats.protocol_errors``; the client reconnects as after any drop.

The connection is :class:`~zq.adapters.binance.ws_connection.WebSocketConnection`: each
message is decoded and handed to ``handler`` in the callback that read it off the socket.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

import msgspec

from zq.adapters.binance import endpoints as ep
from zq.adapters.binance.errors import BinanceError
from zq.adapters.binance.ws_connection import (
    DEFAULT_MAX_MESSAGE_BYTES,
    WebSocketConnection,
    WebSocketHandshakeError,
    open_websocket,
)
from zq_core.book_ticker import BookTickerDecoder, FrameTaker

__all__ = ["BinanceWebSocketClient", "StreamHandler", "WebSocketCounters"]

_log = logging.getLogger("zq.adapters.binance")

#: ``handler(stream, data, ts_init)``: the stream's name, the ``data`` object as JSON bytes,
#: and the local receive time (UNIX ns). For a raw stream, ``stream`` is the path's name.
StreamHandler = Callable[[str, bytes, int], None]

#: ``handle(message, ts_init) -> taken``: a routed stream's whole message (see ``route``).
RoutedHandler = Callable[[bytes, int], bool]

_SUBSCRIBE_TIMEOUT_S: Final = 10.0


class _Envelope(msgspec.Struct):
    # msgspec.Raw cannot be in a union: an empty Raw stands for an absent field.
    stream: str | None = None
    data: msgspec.Raw = msgspec.Raw()
    id: int | None = None
    result: msgspec.Raw = msgspec.Raw()
    error: dict[str, object] | None = None


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)


class WebSocketCounters(msgspec.Struct):
    """What the connection did."""

    connects: int = 0
    reconnects: int = 0
    failed_connects: int = 0
    messages: int = 0
    handler_errors: int = 0
    catch_ups: int = 0  # subscriptions changed while a connection was being opened
    protocol_errors: int = 0  # connections failed on a frame that broke the protocol


class BinanceWebSocketClient:
    """One reconnecting WebSocket connection to Binance streams.

    Parameters
    ----------
    base_url
        ``wss://stream.binance.com:9443`` for the venue, the sandbox's ``ws://127.0.0.1:PORT``.
    handler
        Called with each data message (see :data:`StreamHandler`). An exception it raises is
        logged and counted; the connection carries on.
    raw_stream
        Connect to ``/ws/<raw_stream>`` (unwrapped messages: the user data stream) instead of
        a combined stream; then ``subscribe`` is not used.
    on_reconnect
        Called (and awaited when it returns an awaitable) after each reconnection.
    heartbeat_s
        Ping interval when nothing is received; a pong missing for half of it closes the
        connection.
    backoff_initial_s, backoff_max_s
        The first reconnect wait and its cap.
    rng
        The jitter's random source (seed it for reproducible waits).
    clock_ns
        The local clock stamping ``ts_init``.
    """

    def __init__(
        self,
        base_url: str,
        handler: StreamHandler,
        *,
        raw_stream: str | None = None,
        on_reconnect: Callable[[], object] | None = None,
        heartbeat_s: float = 30.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 30.0,
        rng: random.Random | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if backoff_initial_s <= 0 or backoff_max_s < backoff_initial_s:
            raise ValueError("need 0 < backoff_initial_s <= backoff_max_s")
        self.base_url = base_url.rstrip("/")
        self._handler = handler
        self._raw_stream = raw_stream
        self._on_reconnect = on_reconnect
        self.heartbeat_s = heartbeat_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._rng = rng if rng is not None else random.Random()
        self.stats = WebSocketCounters()
        # The read's fast way (a combined stream's connection offers it each read first):
        # one whole frame of a route that is a compiled decoder, taken in one call.
        self._frames = FrameTaker(
            clock_ns, self.stats, self._route_failed, DEFAULT_MAX_MESSAGE_BYTES
        )
        self._clock_ns = clock_ns
        self._streams: dict[str, None] = {}  # ordered set
        self._routes: dict[str, RoutedHandler] = {}
        self._takers: tuple[RoutedHandler, ...] = ()  # the routes' handles, in order
        self._ws: WebSocketConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._stopping = False
        self._attempt = 0

    @property
    def _clock_ns(self) -> Callable[[], int]:
        """The clock stamping ``ts_init`` (set it to change both ways' stamps)."""
        return self._frames.clock_ns

    @_clock_ns.setter
    def _clock_ns(self, clock_ns: Callable[[], int]) -> None:
        self._frames.clock_ns = clock_ns

    # -- state -----------------------------------------------------------------------------

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams subscribed (kept across reconnects)."""
        return tuple(self._streams)

    @property
    def is_connected(self) -> bool:
        """Whether a connection is open now."""
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until a connection is open."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    def url(self) -> str:
        """Return the URL the next connection opens."""
        if self._raw_stream is not None:
            return f"{self.base_url}{ep.RAW_STREAM}/{self._raw_stream}"
        return f"{self.base_url}{ep.COMBINED_STREAM}?streams={'/'.join(self._streams)}"

    def set_raw_stream(self, name: str) -> None:
        """Point a raw-stream client at another stream (a new listenKey) from the next
        connection on."""
        self._raw_stream = name

    def route(self, stream: str, handle: RoutedHandler) -> None:
        """Offer each combined-stream message to ``handle`` whole, before the general way.

        ``handle(message, ts_init)`` takes the whole message (``{"stream": ..., "data":
        ...}``) and returns True once it has taken it, or False, having done nothing, for a
        message that is not of ``stream`` or that it cannot read: the message then goes to
        the next route, and at last the general way, to the client's handler with
        ``data``'s bytes (which names what is wrong). Every message is offered to the routes
        in turn, so a route must refuse another stream's message at once (a compiled
        decoder comparing the message's first bytes does). An exception it raises is logged
        and counted as the handler's are. A ``BookTickerDecoder`` with an ``on_quote`` is
        also offered each read holding one whole frame before the frame parser (see
        :class:`~zq_core.book_ticker.FrameTaker`): its quotes go from the socket's read to
        ``on_quote`` in one compiled call.
        """
        self._routes[stream] = handle
        self._routes_changed()

    def unroute(self, stream: str) -> None:
        """Remove the route of ``stream`` (its messages take the general way again)."""
        self._routes.pop(stream, None)
        self._routes_changed()

    def _routes_changed(self) -> None:
        self._takers = tuple(self._routes.values())
        self._frames.decoders = [
            handle
            for handle in self._takers
            if isinstance(handle, BookTickerDecoder) and handle.on_quote is not None
        ]

    def _route_failed(self, message: bytes) -> None:
        # Called by a route's caller inside the handling of the exception the route raised.
        self.stats.handler_errors += 1
        stream = message[11 : message.find(b'"', 11)].decode(errors="replace")
        _log.exception("handler failed on a %s message", stream)

    def backoff_s(self, attempt: int) -> float:
        """Return the wait before reconnect attempt ``attempt`` (0-based), jitter included."""
        step = min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** min(attempt, 60))
        return step * (0.5 + 0.5 * self._rng.random())

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting (in the background; a combined stream waits for a subscription)."""
        if self._task is not None:
            return
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"zq-binance-ws-{self._raw_stream or 'combined'}"
        )

    async def stop(self) -> None:
        """Close the connection and stop reconnecting."""
        self._stopping = True
        self._wake.set()
        if self._ws is not None:
            await self._ws.close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for future in self._pending.values():
            if not future.done():
                future.cancel()
        self._pending.clear()

    async def disconnect(self) -> None:
        """Drop the current connection (it reconnects as after any drop)."""
        if self._ws is not None:
            await self._ws.close()

    # -- subscriptions ---------------------------------------------------------------------

    async def subscribe(self, streams: Iterable[str]) -> None:
        """Add streams; on a live connection, send ``SUBSCRIBE`` and wait for its answer.

        Raises
        ------
        BinanceError
            If the venue refuses the subscription (the streams are then not kept).
        """
        new = [name for name in streams if name not in self._streams]
        if not new:
            return
        for name in new:
            self._streams[name] = None
        ws = self._ws
        if ws is not None and not ws.closed.done():
            try:
                await self._request(ws, "SUBSCRIBE", new)
            except BinanceError:
                for name in new:
                    self._streams.pop(name, None)
                raise
        self._wake.set()  # a client waiting for its first stream connects now

    async def unsubscribe(self, streams: Iterable[str]) -> None:
        """Remove streams; on a live connection, send ``UNSUBSCRIBE``."""
        gone = [name for name in streams if name in self._streams]
        for name in gone:
            del self._streams[name]
        ws = self._ws
        if gone and ws is not None and not ws.closed.done():
            await self._request(ws, "UNSUBSCRIBE", gone)

    async def _request(self, ws: WebSocketConnection, method: str, params: list[str]) -> None:
        request_id = next(self._ids)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            # A text frame: Binance's stream servers read requests from text frames only.
            ws.send_text(
                msgspec.json.encode({"method": method, "params": params, "id": request_id}).decode()
            )
            await asyncio.wait_for(future, _SUBSCRIBE_TIMEOUT_S)
        except ConnectionError:
            pass  # the connection dropped: the reconnect's URL carries the streams
        except TimeoutError:
            _log.warning("%s %s: no answer; the next connection will carry it", method, params)
        finally:
            self._pending.pop(request_id, None)

    # -- the connection loop ---------------------------------------------------------------

    async def _run(self) -> None:
        first = True
        while not self._stopping:
            if self._raw_stream is None and not self._streams:
                self._wake.clear()
                await self._wake.wait()
                continue
            carried = tuple(self._streams)  # what this connection's URL subscribes
            url = self.url()
            try:
                ws = await open_websocket(
                    url,
                    self._on_combined
                    if self._raw_stream is None
                    else functools.partial(self._on_raw, self._raw_stream),
                    heartbeat_s=self.heartbeat_s,
                )
            except (WebSocketHandshakeError, OSError, TimeoutError) as error:
                self.stats.failed_connects += 1
                _log.warning("WebSocket connect to %s failed: %s", self.base_url, error)
            else:
                if self._stopping:  # stopped while it was being opened
                    await ws.close()
                    break
                self._ws = ws
                if self._raw_stream is None:
                    ws.offer_reads(self._frames.take)
                self.stats.connects += 1
                self._connected.set()
                connected_at = time.monotonic()
                messages_before = self.stats.messages
                if not first:
                    self.stats.reconnects += 1
                    await self._notify_reconnect()
                first = False
                catch_up = self._catch_up(ws, carried)
                try:
                    await asyncio.shield(ws.closed)  # a cancelled run must not cancel it
                finally:
                    self._connected.clear()
                    self._ws = None
                    await ws.close()
                    if catch_up is not None:
                        catch_up.cancel()
                        await asyncio.gather(catch_up, return_exceptions=True)
                if (
                    time.monotonic() - connected_at > self.backoff_max_s
                    or self.stats.messages > messages_before
                ):
                    # It stayed up, or it carried data: the next drop is not a storm (a venue
                    # that cuts working connections every few seconds must not push the wait
                    # to backoff_max_s and leave the streams down most of the time).
                    self._attempt = 0
                if ws.error is not None and not isinstance(ws.error, WebSocketHandshakeError):
                    self.stats.protocol_errors += 1
                    _log.warning("WebSocket %s failed: %s", self.base_url, ws.error)
                if self._stopping:
                    break
                _log.info(
                    "WebSocket %s closed (code %s%s); reconnecting",
                    self.base_url,
                    ws.close_code,
                    f": {ws.close_reason}" if ws.close_reason else "",
                )
            delay = self.backoff_s(self._attempt)
            self._attempt += 1
            await asyncio.sleep(delay)

    def _catch_up(
        self, ws: WebSocketConnection, carried: tuple[str, ...]
    ) -> asyncio.Task[None] | None:
        """Subscribe what changed while the connection was being opened.

        ``subscribe`` found no open connection and only updated the set; the URL was built
        before. The requests' answers arrive through ``_on_combined``, hence a task.
        """
        if self._raw_stream is not None:
            return None
        added = [name for name in self._streams if name not in carried]
        removed = [name for name in carried if name not in self._streams]
        if not added and not removed:
            return None
        self.stats.catch_ups += 1

        async def send() -> None:
            if added:
                await self._request(ws, "SUBSCRIBE", added)
            if removed:
                await self._request(ws, "UNSUBSCRIBE", removed)

        return asyncio.get_running_loop().create_task(send(), name="zq-binance-ws-catch-up")

    async def _notify_reconnect(self) -> None:
        if self._on_reconnect is None:
            return
        try:
            result = self._on_reconnect()
            if isinstance(result, Awaitable):
                await result
        except Exception:
            _log.exception("on_reconnect failed")

    # -- messages (called from the connection's data_received) -----------------------------

    def _on_raw(self, stream: str, payload: bytes, is_text: bool) -> None:
        ts_init = self._clock_ns()
        self.stats.messages += 1
        self._dispatch(stream, payload, ts_init)

    def _on_combined(self, payload: bytes, is_text: bool) -> None:
        ts_init = self._clock_ns()
        self.stats.messages += 1
        for take in self._takers:
            try:
                if take(payload, ts_init):
                    return
            except Exception:
                self._route_failed(payload)
                return
        try:
            envelope = _ENVELOPE.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            _log.warning("ignoring a message that is not JSON: %r", payload[:200])
            return
        if envelope.stream is not None and len(envelope.data):
            self._dispatch(envelope.stream, bytes(envelope.data), ts_init)
        elif envelope.id is not None:
            self._answer(envelope)

    def _answer(self, envelope: _Envelope) -> None:
        assert envelope.id is not None
        future = self._pending.get(envelope.id)
        if future is None or future.done():
            return
        if envelope.error is not None:
            code = envelope.error.get("code")
            future.set_exception(
                BinanceError(
                    code if isinstance(code, int) else None,
                    str(envelope.error.get("msg", "")),
                    0,
                    "WS SUBSCRIBE",
                )
            )
        else:
            future.set_result(None)

    def _dispatch(self, stream: str, payload: bytes, ts_init: int) -> None:
        try:
            self._handler(stream, payload, ts_init)
        except Exception:
            self.stats.handler_errors += 1
            _log.exception("handler failed on a %s message", stream)
