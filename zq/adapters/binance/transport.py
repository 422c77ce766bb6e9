"""HTTP/1.1 on persistent connections, for the REST client's small request/answer exchanges.

The REST client sends short requests (every parameter in the query string, no body) and reads
short JSON answers, one at a time per connection. :class:`HttpTransport` does only that:
it keeps a few keep-alive connections open (``TCP_NODELAY`` set, TLS for ``https``), writes
each request in one ``write`` of prebuilt bytes and parses the answer as it arrives
(``Content-Length``, ``chunked``, or up to the close), with no per-request objects beyond the
answer. On loopback this takes about a tenth of the time aiohttp's client machinery does
(``benchmarks/bench_live.py``); a submit's tick-to-order and round trip are that much shorter.

What happens on each failure:

- the connection breaks, or the answer is malformed, before the whole answer is in:
  :class:`HttpTransportError` (the request may or may not have been acted on); the
  connection is closed;
- no whole answer within ``timeout_s``: ``TimeoutError``; the connection is closed (a late
  answer must not be taken for the next request's);
- a connection idle for ``idle_timeout_s`` is closed rather than reused: a server closes idle
  keep-alive connections after a while, and a request written on a connection the server is
  closing gets no answer (which, for an order, means asking the venue whether it exists).

An exchange can also hand its whole answer to a callback in the very read that completed it
(:meth:`HttpExchange.on_read`), before the task awaiting it resumes (a loop turn later, after
whatever else the poll brought): the node applies a new order's acceptance that way.

Messages never hold the request line (it holds a signed query).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Final, cast
from urllib.parse import urlsplit

from zq_core.binance_request import read_answer_head

__all__ = ["HttpAnswer", "HttpExchange", "HttpTransport", "HttpTransportError"]

_log = logging.getLogger("zq.adapters.binance")

_MAX_HEAD_BYTES: Final = 65_536
_CRLF: Final = b"\r\n"


class HttpTransportError(ConnectionError):
    """The connection broke or the answer was not HTTP/1.1 we can read."""


class HttpAnswer:
    """A whole answer: status, headers (names in lower case; a repeated one keeps the last)
    and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def _time_out(answer: asyncio.Future[HttpAnswer]) -> None:
    # An exchange's deadline passed: its answer is a TimeoutError, as from asyncio.wait_for.
    if not answer.done():
        answer.set_exception(TimeoutError())


class HttpExchange:
    """A request written on a connection: the answer's future, due by ``deadline``
    (the loop's clock)."""

    __slots__ = ("answer", "connection", "deadline")

    def __init__(
        self, connection: _Connection, answer: asyncio.Future[HttpAnswer], deadline: float
    ) -> None:
        self.connection = connection
        self.answer = answer
        self.deadline = deadline

    def on_read(self, callback: Callable[[HttpAnswer], object]) -> None:
        """Call ``callback(answer)`` in the read that completes the answer, right after its
        future is resolved (the awaiting task still gets it, a loop turn later).

        Only an answer with a length or in chunks is handed on: one that runs to the
        connection's close, and failures (a broken connection, the deadline), only reach the
        awaiting task (:meth:`HttpTransport.receive` raises as before). An exception from
        ``callback`` is logged, not raised into the read. Set it before the loop runs again
        after the write; an answer already in is not handed on.
        """
        connection = self.connection
        if connection.answer is self.answer and not self.answer.done():
            connection.on_read = callback


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one request at a time, its answer parsed as it arrives."""

    __slots__ = (
        "_body_left",
        "_buffer",
        "_chunks",
        "_head",
        "_to_close",
        "answer",
        "closed",
        "idle_since",
        "keep_alive",
        "loop",
        "on_read",
        "transport",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        # The loop the connection runs on, kept from connection_made: a request's future and
        # deadline without asyncio.get_running_loop() (a getpid system call each in C).
        self.loop: asyncio.AbstractEventLoop | None = None
        self.answer: asyncio.Future[HttpAnswer] | None = None
        # The current exchange's callback for its whole answer (HttpExchange.on_read).
        self.on_read: Callable[[HttpAnswer], object] | None = None
        self.closed = False
        self.keep_alive = True
        self.idle_since = time.monotonic()
        self._buffer = bytearray()
        self._head: tuple[int, dict[str, str]] | None = None
        self._body_left = -1  # bytes of a Content-Length body still to come
        self._chunks: _Chunks | None = None
        self._to_close = False  # the body runs to the connection's close

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transports do not derive from asyncio.Transport, but are one.
        self.transport = cast(asyncio.Transport, transport)
        self.loop = asyncio.get_running_loop()
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.answer is None or self.answer.done():
            # Nothing was asked: a server speaking out of turn. The connection is unusable.
            self._fail(HttpTransportError("the server sent data no request asked for"))
            return
        self._buffer += data
        try:
            self._parse()
        except HttpTransportError as error:
            self._fail(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        answer = self.answer
        if answer is None or answer.done():
            return
        if self._to_close and self._head is not None:
            status, headers = self._head
            answer.set_result(HttpAnswer(status, headers, bytes(self._buffer)))
            return
        reason = f": {exc}" if exc is not None else ""
        answer.set_exception(HttpTransportError(f"the connection closed before the answer{reason}"))

    # -- requests --------------------------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[HttpAnswer]:
        """Write a whole request; return the future of its answer."""
        assert self.transport is not None
        answer = self.expect_answer()
        try:
            self.transport.write(request)
        except Exception as error:  # a transport that refuses the write: it is unusable
            self.refused(error)
        return answer

    def expect_answer(self) -> asyncio.Future[HttpAnswer]:
        """Start an exchange: return the future of the answer to the request written (or
        about to be, with nothing run in between)."""
        assert self.loop is not None
        answer: asyncio.Future[HttpAnswer] = self.loop.create_future()
        self.answer = answer
        self.on_read = None
        self._buffer.clear()
        self._head = None
        self._body_left = -1
        self._to_close = False
        self._chunks = None
        return answer

    def refused(self, error: Exception) -> None:
        """The transport refused the request's write: the answer fails, the connection is
        unusable."""
        self._fail(HttpTransportError(f"the request could not be written: {error}"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: HttpTransportError) -> None:
        answer = self.answer
        if answer is not None and not answer.done():
            answer.set_exception(error)
        self.keep_alive = False
        if self.transport is not None:
            self.transport.abort()
        self.closed = True

    # -- parsing ---------------------------------------------------------------------------

    def _parse(self) -> None:
        buffer = self._buffer
        if self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD_BYTES:
                    raise HttpTransportError("the answer's head is longer than 64 KiB")
                return
            # The compiled reader takes the usual head; the Python one is its reference and
            # reads (or names what is wrong with) any other.
            fields = read_answer_head(buffer, end)
            if fields is None:
                fields = _parse_head(bytes(buffer[:end]).decode("latin-1"))
            del buffer[: end + 4]
            status, headers = fields
            if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
                self._parse()
                return
            self._head = (status, headers)
            if headers.get("connection", "").lower() == "close":
                self.keep_alive = False
            encoding = headers.get("transfer-encoding", "").lower()
            if encoding:
                if encoding != "chunked":
                    raise HttpTransportError(f"unsupported transfer-encoding {encoding!r}")
                self._chunks = _Chunks()
            elif "content-length" in headers:
                text = headers["content-length"]
                if not text.isdigit():
                    raise HttpTransportError(f"bad content-length {text!r}")
                self._body_left = int(text)
            elif status in (204, 304):
                self._body_left = 0
            else:
                self._to_close = True
                self.keep_alive = False
                return
        if self._to_close:
            return
        if self._chunks is not None:
            body = self._chunks.take(buffer)
            if body is None:
                return
        elif len(buffer) >= self._body_left:
            body = bytes(buffer[: self._body_left])
            if len(buffer) > self._body_left:
                raise HttpTransportError("the server sent more than the answer's length")
        else:
            return
        buffer.clear()
        status, headers = self._head
        assert self.answer is not None
        whole = HttpAnswer(status, headers, body)
        self.answer.set_result(whole)
        on_read = self.on_read
        if on_read is not None:
            self.on_read = None
            try:
                on_read(whole)
            except Exception:
                _log.exception("a callback on an answer's read failed")


def _parse_head(head: str) -> tuple[int, dict[str, str]]:
    status_line, _, rest = head.partition("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpTransportError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    if rest:
        for line in rest.split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise HttpTransportError(f"malformed header line {line[:80]!r}")
            headers[name.lower()] = value.strip()
    return int(parts[1]), headers


class _Chunks:
    """A ``chunked`` body put together as it arrives: each whole chunk is taken out of the
    buffer once (a large answer in many reads costs its length, not its length squared)."""

    __slots__ = ("body", "trailers")

    def __init__(self) -> None:
        self.body = bytearray()
        self.trailers = False  # the last chunk came: trailer lines, then an empty line

    def take(self, buffer: bytearray) -> bytes | None:
        """Consume what is whole in ``buffer``; return the body once it is complete."""
        while True:
            line_end = buffer.find(_CRLF)
            if line_end < 0:
                if len(buffer) > _MAX_HEAD_BYTES:
                    raise HttpTransportError("a chunk-size or trailer line is over 64 KiB")
                return None
            if self.trailers:
                del buffer[: line_end + 2]
                if line_end == 0:  # the empty line: the end
                    if buffer:
                        raise HttpTransportError("the server sent more than the chunked answer")
                    return bytes(self.body)
                continue
            size_text = bytes(buffer[:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                size = -1
            if size < 0:
                raise HttpTransportError(f"bad chunk size {size_text[:20]!r}")
            if size == 0:
                del buffer[: line_end + 2]
                self.trailers = True
                continue
            start = line_end + 2
            if len(buffer) < start + size + 2:
                return None
            if buffer[start + size : start + size + 2] != _CRLF:
                raise HttpTransportError("a chunk does not end with CRLF")
            self.body += buffer[start : start + size]
            del buffer[: start + size + 2]


class HttpTransport:
    """Send HTTP/1.1 requests to one server over a few persistent connections.

    Parameters
    ----------
    base_url
        ``http://host:port`` or ``https://host[:port]`` (a path is not allowed).
    timeout_s
        Time allowed for a request: connecting (when no idle connection is at hand),
        writing, and the whole answer.
    idle_timeout_s
        A connection idle longer than this is closed instead of reused.
    max_idle
        Idle connections kept; a burst of concurrent requests opens more, closed after.
    max_connections
        Connections open at once (as aiohttp's default connector); a request beyond waits
        for one to be free, within its ``timeout_s``.
    default_headers
        Sent with every request (``Host`` and ``Content-Length`` are added).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        idle_timeout_s: float = 15.0,
        max_idle: int = 4,
        max_connections: int = 100,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        if max_connections < 1 or max_idle < 0:
            raise ValueError("need max_connections >= 1 and max_idle >= 0")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"need an http:// or https:// URL, got {base_url!r}")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"the base URL must not have a path or query: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None
        )
        default_port = 443 if parts.scheme == "https" else 80
        host_header = self.host if self.port == default_port else f"{self.host}:{self.port}"
        headers = {"Host": host_header, **(default_headers or {})}
        self._head_tail = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.timeout_s = timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.max_idle = max_idle
        self._idle: list[_Connection] = []
        self._busy: set[_Connection] = set()
        self.max_connections = max_connections
        self._free = max_connections  # requests that may start: max_connections - in flight
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False
        #: Connections opened, for the curious (a steady client opens one).
        self.connections_opened = 0

    async def request(
        self, method: str, target: str, headers: Mapping[str, str] | None = None
    ) -> HttpAnswer:
        """Send ``method target`` (``target`` is the path and query) without a body.

        Raises
        ------
        HttpTransportError
            The connection failed or broke before the whole answer came.
        TimeoutError
            No whole answer within ``timeout_s``.
        OSError
            The connection could not be opened.
        """
        if self._closed:
            raise HttpTransportError("the transport is closed")
        request = self._request_bytes(method, target, headers)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        await self._take_slot(deadline)  # at once unless every connection is busy (rare)
        try:
            connection = self._take()
            if connection is None:
                connection = await asyncio.wait_for(self._open(), deadline - loop.time())
        except BaseException:
            self._release()
            raise
        return await self.receive(self._write(connection, request, deadline))

    def send_now(
        self, method: str, target: str, headers: Mapping[str, str] | None = None
    ) -> HttpExchange | None:
        """Write the request at once on an idle connection, without awaiting anything.

        Returns None, having written nothing, when no connection is idle or none may be
        taken: then :meth:`request` (which opens or waits for one) is the way. The answer
        comes with :meth:`receive`, which must be awaited once for each exchange (it gives
        the connection back).
        """
        return self.send_bytes_now(self._request_bytes(method, target, headers))

    def send_bytes_now(self, request: bytes) -> HttpExchange | None:
        """Write a whole request made beforehand (see :meth:`request_tail`) as
        :meth:`send_now` does."""
        if self._closed or self._free <= 0 or self._waiters:
            return None
        # _take inlined, and the request written before the exchange's bookkeeping: an
        # order's request goes this way, and what runs before the write is the order's
        # latency. zq_core.binance_request's writer does the same, compiled (this is its
        # reference).
        idle = self._idle
        while idle:
            connection = idle.pop()
            transport = connection.transport
            if (
                not connection.closed
                and transport is not None
                and not transport.is_closing()
                and time.monotonic() - connection.idle_since < self.idle_timeout_s
            ):
                try:
                    transport.write(request)
                except Exception as error:  # the exchange's answer fails with it
                    return self.written_on(connection, error)
                return self.written_on(connection, None)
            connection.close()
        return None

    def written_on(self, connection: _Connection, error: Exception | None) -> HttpExchange:
        """Account for a request just written on ``connection``, an idle connection taken
        for it as :meth:`send_bytes_now` takes one (with nothing run since the write): the
        connection counted busy, its answer due ``timeout_s`` from now. ``error``: what the
        write raised (the answer then fails with it, the connection is closed)."""
        self._free -= 1
        answer = connection.expect_answer()
        if error is not None:
            connection.refused(error)
        self._busy.add(connection)
        loop = connection.loop
        assert loop is not None  # set when the connection was made
        return HttpExchange(connection, answer, loop.time() + self.timeout_s)

    def request_tail(self, method: str, headers: Mapping[str, str] | None = None) -> str:
        """Return what follows the target in a request of ``method`` with ``headers``: the
        protocol, the headers and the blank line. ``f"{method} {target}{tail}"`` encoded
        in latin-1 is the request :meth:`send_now` writes."""
        tail = f" HTTP/1.1\r\n{self._head_tail}"
        if headers:
            tail += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        if method != "GET":
            tail += "Content-Length: 0\r\n"
        return tail + "\r\n"

    async def receive(self, exchange: HttpExchange) -> HttpAnswer:
        """Wait for the answer of a written request (raises as :meth:`request`)."""
        connection = exchange.connection
        answer: HttpAnswer
        try:
            try:
                future = exchange.answer
                if future.done():
                    answer = future.result()
                else:
                    # The deadline as a timer failing the answer's future, awaited directly:
                    # asyncio.wait_for's own waiter would cost the answer a turn of the loop
                    # and its callbacks.
                    loop = connection.loop
                    assert loop is not None  # set when the connection was made
                    timer = loop.call_at(exchange.deadline, _time_out, future)
                    try:
                        answer = await future
                    finally:
                        timer.cancel()
            except BaseException:
                # Timed out, broke or cancelled mid-request: a late answer must not be read
                # as the next request's.
                connection.close()
                raise
            finally:
                self._busy.discard(connection)
            self._give_back(connection)
            return answer
        finally:
            self._release()

    def _request_bytes(self, method: str, target: str, headers: Mapping[str, str] | None) -> bytes:
        return f"{method} {target}{self.request_tail(method, headers)}".encode("latin-1")

    def _write(self, connection: _Connection, request: bytes, deadline: float) -> HttpExchange:
        self._busy.add(connection)
        return HttpExchange(connection, connection.send(request), deadline)

    async def _take_slot(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while self._free <= 0:
            # Woken in order of arrival by _release; a wake-up that finds the slot taken again
            # (by a request sent at once in between) waits again.
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append(future)
            try:
                await asyncio.wait_for(future, deadline - loop.time())
            except BaseException:
                if future.done() and not future.cancelled():
                    self._wake_one()  # woken, then cancelled: the wake-up is passed on
                elif future in self._waiters:
                    self._waiters.remove(future)
                raise
        self._free -= 1

    def _release(self) -> None:
        self._free += 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _take(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if (
                not connection.closed
                and connection.transport is not None
                and not connection.transport.is_closing()
                and now - connection.idle_since < self.idle_timeout_s
            ):
                return connection
            connection.close()
        return None

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            _Connection,
            self.host,
            self.port,
            ssl=self._ssl,
            server_hostname=self.host if self._ssl is not None else None,
        )
        self.connections_opened += 1
        return connection

    def _give_back(self, connection: _Connection) -> None:
        if self._closed or not connection.keep_alive or len(self._idle) >= self.max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    async def close(self) -> None:
        """Close every connection (requests in flight fail with HttpTransportError)."""
        self._closed = True
        for connection in (*self._idle, *self._busy):
            connection.close()
        self._idle.clear()
        self._busy.clear()
        await asyncio.sleep(0)  # let the transports finish closing

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed
