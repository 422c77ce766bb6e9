"""A lean HTTP/1.1 server protocol for the venue's REST API, on an ``asyncio.Protocol``.

A Binance client's REST exchange is small and regular: a request line, a few headers, the
parameters in the query string or a short url-encoded body, one JSON answer. This protocol
reads such requests as they arrive and answers each one synchronously from ``data_received``
(parse, :meth:`RestApi.handle`, one ``write``), with no task, stream or request object per
request: the venue's CPU time per order is a fraction of what aiohttp's server machinery
takes, and an order's round trip is that much shorter (``benchmarks/bench_live.py``).

What it takes: HTTP/1.1 on keep-alive connections, pipelined requests (answered in order),
bodies with ``Content-Length``, ``Connection: close``; a connection with nothing read for
the venue's ``idle_timeout`` (and no answer held) is closed by :meth:`close_idle`. A
request it does not serve itself (a path outside ``/api/``: the WebSocket streams and the
admin endpoints; HTTP/1.0; a chunked body; ``Expect`` or ``Upgrade``) hands the connection
over, from that request on, to the fallback protocol (aiohttp's, which serves every path).
A malformed request is answered 400 with a line saying what is wrong, and the connection
is closed.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Final, cast

from zq.sandbox.rest import TEXT_TYPE, Answer, RestApi

__all__ = ["RestProtocol"]

#: The longest request head (request line and headers) and body taken.
MAX_HEAD_BYTES: Final = 16_384
MAX_BODY_BYTES: Final = 1_048_576

_END_OF_HEAD: Final = b"\r\n\r\n"
_CLOSE_END: Final = "Connection: close\r\n\r\n"  # an answer's last header and the blank line
_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    418: "I'm a teapot",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_STATUS_LINES: Final = {
    status: f"HTTP/1.1 {status} {reason}\r\n" for status, reason in _REASONS.items()
}
_METHODS: Final = frozenset(("GET", "POST", "PUT", "DELETE"))  # tokens, not matched again
_TOKEN: Final = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")  # a method or header name
_HEADER: Final = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+:[^\r\n]*")
_HEADERS: Final = re.compile(r"(?:\r\n[-!#$%&'*+.^_`|~0-9A-Za-z]+:[^\r\n]*)*")
# Headers looked up (in the lower-case head, each after its line break).
_API_KEY: Final = "\r\nx-mbx-apikey:"
_CONTENT_LENGTH: Final = "\r\ncontent-length:"
_CONTENT_LENGTHS: Final = re.compile(r"\r\ncontent-length:([^\r\n]*)")
_CONNECTION: Final = "\r\nconnection:"
# Headers that make a request one for the fallback protocol.
_HAND_OVER_HEADERS: Final = ("\r\ntransfer-encoding:", "\r\nexpect:", "\r\nupgrade:")


# Headers read, by their text: a client sends the same ones with every request (its host,
# key, agent, ``Content-Length: 0``), so they are checked and read once. Headers that are
# refused raise each time (never kept). Cleared when full.
_READ_HEADERS: dict[str, tuple[str | None, int, bool] | None] = {}
_READ_HEADERS_MAX: Final = 256
_READ_HEADERS_LONGEST: Final = 1024  # characters; longer ones are read each time
_UNREAD: Final = ("", -1, False)


def _value(headers: str, lower: str, name: str) -> str | None:
    # The value of the first header ``name`` (lower case, with its line break), or None.
    at = lower.find(name)
    if at < 0:
        return None
    start = at + len(name)
    end = headers.find("\r\n", start)
    return headers[start : end if end >= 0 else len(headers)].strip(" \t")


class _Date:
    """The ``Date`` header's value, made once a second."""

    second = -1
    value = ""

    @classmethod
    def now(cls) -> str:
        second = int(time.time())
        if second != cls.second:
            cls.second = second
            cls.value = formatdate(second, usegmt=True)
        return cls.value


class _BadRequest(Exception):
    """A request that is not HTTP/1.1 we can read (the message says why)."""


class RestProtocol(asyncio.Protocol):
    """One client connection of the REST API.

    Parameters
    ----------
    api : RestApi
        Answers the requests.
    fallback : Callable[[], asyncio.Protocol]
        Makes the protocol a connection is handed over to.
    connections : set of RestProtocol
        The open connections (this one adds itself, and leaves when it closes or is handed
        over), so that the server can close them.
    """

    def __init__(
        self,
        api: RestApi,
        fallback: Callable[[], asyncio.Protocol],
        connections: set[RestProtocol],
    ) -> None:
        self._api = api
        self._fallback = fallback
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._ip = "unknown"
        self._buffer = b""
        self._busy = False  # an answer is held (the delay fault): later requests wait
        self._reading_paused = False
        self._held: asyncio.TimerHandle | None = None
        #: ``time.monotonic()`` of the last bytes read or answer written.
        self.last_active = time.monotonic()

    # --- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they are ones.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self._ip = str(peer[0])
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._transport = None
        self._buffer = b""
        if self._held is not None:
            self._held.cancel()
            self._held = None

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        self._buffer = self._buffer + data if self._buffer else data
        if not self._busy:
            self._process()

    def pause_writing(self) -> None:
        # A client that sends without reading its answers waits for them to drain.
        if self._transport is not None:
            self._transport.pause_reading()
            self._reading_paused = True

    def resume_writing(self) -> None:
        if self._transport is not None and self._reading_paused:
            self._transport.resume_reading()
            self._reading_paused = False

    def close(self) -> None:
        """Close the connection (what was written is still sent)."""
        if self._transport is not None:
            self._transport.close()

    def close_idle(self, now: float, timeout: float) -> bool:
        """Close the connection if nothing was read or written for ``timeout`` seconds before
        ``now`` and no answer is held; return whether it was closed.

        A request cut short by the close (its head half read) gets no answer: the client
        was sending nothing for that long.
        """
        if self._busy or now - self.last_active < timeout:
            return False
        self.close()
        return True

    # --- Requests -------------------------------------------------------------------------------

    def _process(self) -> None:
        # Answer every whole request in the buffer, in order.
        while self._buffer and self._transport is not None:
            buffer = self._buffer
            end = buffer.find(_END_OF_HEAD)
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    self._bad_request(f"request head longer than {MAX_HEAD_BYTES} bytes")
                return
            if end > MAX_HEAD_BYTES:
                self._bad_request(f"request head longer than {MAX_HEAD_BYTES} bytes")
                return
            try:
                request = self._parse_head(buffer[:end].decode("latin-1"))
            except _BadRequest as error:
                self._bad_request(str(error))
                return
            if request is None:
                self._hand_over()
                return
            method, path, query, api_key, length, close = request
            body_end = end + 4 + length
            if len(buffer) < body_end:
                return  # the body is still coming
            body = buffer[end + 4 : body_end].decode("utf-8", errors="replace") if length else ""
            self._buffer = buffer[body_end:]
            answer = self._api.handle(method, path, query, body, api_key, self._ip)
            if answer.drop:
                # Close without an answer: the client cannot tell what happened.
                self._buffer = b""
                self._transport.abort()
                return
            if answer.delay > 0:
                self._busy = True
                loop = asyncio.get_running_loop()
                self._held = loop.call_later(answer.delay, self._release, answer, close)
                return
            self._send(answer, close)

    def _release(self, answer: Answer, close: bool) -> None:
        # The held answer goes out, then the requests that came in the meantime.
        self._held = None
        self._busy = False
        if self._transport is None or self._transport.is_closing():
            return
        self._send(answer, close)
        self._process()

    @staticmethod
    def _parse_head(head: str) -> tuple[str, str, str, str | None, int, bool] | None:
        """Read a request head: (method, path, query, API key, body length, close), or None
        when the request is one for the fallback protocol."""
        line_end = head.find("\r\n")
        if line_end < 0:
            line_end = len(head)
        request_line, headers = head[:line_end], head[line_end:]
        parts = request_line.split(" ")
        if (
            len(parts) != 3
            or not parts[1]
            or (parts[0] not in _METHODS and not _TOKEN.fullmatch(parts[0]))
        ):
            raise _BadRequest(f"malformed request line {request_line[:100]!r}")
        method, target, version = parts
        if version != "HTTP/1.1":
            if version.startswith("HTTP/1."):
                return None
            raise _BadRequest(f"unsupported version {version[:20]!r} (HTTP/1.1 is served)")
        read = _READ_HEADERS.get(headers, _UNREAD)
        if read is _UNREAD:
            read = RestProtocol._read_headers(headers)
            if len(headers) <= _READ_HEADERS_LONGEST:
                if len(_READ_HEADERS) >= _READ_HEADERS_MAX:
                    _READ_HEADERS.clear()
                _READ_HEADERS[headers] = read
        if read is None:
            return None
        path, _, query = target.partition("?")
        if not RestApi.serves(path):
            return None
        return method, path, query, read[0], read[1], read[2]

    @staticmethod
    def _read_headers(headers: str) -> tuple[str | None, int, bool] | None:
        """Read a request's headers (the text after the request line, each header after its
        line break): (API key, body length, close), or None when they make the request one
        for the fallback protocol."""
        if not _HEADERS.fullmatch(headers):
            for number, line in enumerate(headers.split("\r\n")[1:], start=2):
                if not _HEADER.fullmatch(line):
                    raise _BadRequest(f"malformed header line {number}: {line[:100]!r}")
        # Header names are case-insensitive: looked up in a lower-case copy (of the same
        # length: latin-1 lowers one character to one), values read from the original.
        lower = headers.lower()
        for name in _HAND_OVER_HEADERS:
            if name in lower:
                return None
        length = 0
        text = _value(headers, lower, _CONTENT_LENGTH)
        if text is not None:
            if not text.isdigit() or not text.isascii():
                raise _BadRequest(f"Content-Length is not a number: {text[:30]!r}")
            length = int(text)
            if lower.count(_CONTENT_LENGTH) > 1 and len(
                {int(v) if v.strip().isdigit() else v for v in _CONTENT_LENGTHS.findall(lower)}
            ) > 1:
                raise _BadRequest("two different Content-Length headers")
            if length > MAX_BODY_BYTES:
                raise _BadRequest(f"body longer than {MAX_BODY_BYTES} bytes ({length})")
        connection = _value(headers, lower, _CONNECTION)
        close = connection is not None and "close" in connection.lower()
        return _value(headers, lower, _API_KEY), length, close

    def _send(self, answer: Answer, close: bool) -> None:
        assert self._transport is not None
        body = answer.body
        status = _STATUS_LINES.get(answer.status) or f"HTTP/1.1 {answer.status} Unknown\r\n"
        head = (
            f"{status}Content-Type: {answer.content_type}\r\nContent-Length: {len(body)}"
            f"\r\nDate: {_Date.now()}\r\nServer: zq-sandbox\r\n"
        )
        for name, value in answer.headers:
            head += f"{name}: {value}\r\n"
        head += _CLOSE_END if close else "\r\n"
        self._transport.write(head.encode("latin-1") + body)
        self.last_active = time.monotonic()
        if close:
            self._buffer = b""
            self._transport.close()

    def _bad_request(self, reason: str) -> None:
        text = f"400: Bad Request ({reason})".encode()
        self._send(Answer(400, text, content_type=TEXT_TYPE), close=True)

    def _hand_over(self) -> None:
        # From this request on, the connection is the fallback protocol's.
        transport, data = self._transport, self._buffer
        assert transport is not None
        self._connections.discard(self)
        self._transport = None
        self._buffer = b""
        protocol = self._fallback()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if self._reading_paused:
            transport.resume_reading()
        if data:
            protocol.data_received(data)
