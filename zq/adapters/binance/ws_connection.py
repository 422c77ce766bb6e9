"""A WebSocket client connection (RFC 6455) on an ``asyncio.Protocol``, for market streams.

:class:`FrameParser` turns the bytes a server sends into whole messages: frames split across
reads and several frames in one read, payload lengths on 7, 16 or 64 bits, fragmented
messages put together, control frames (ping, pong, close) taken between fragments. A frame
that breaks the protocol (masked by the server, a reserved bit or opcode, a control frame
fragmented or over 125 bytes, a continuation out of place, a message over the size cap)
raises :class:`WebSocketProtocolError`, naming what is wrong and where in the stream it is.

:class:`WebSocketConnection` is the client side of one connection: it sends the opening
handshake (``Sec-WebSocket-Key``) and checks the server's (``101``, ``Upgrade``,
``Connection``, ``Sec-WebSocket-Accept``), then hands each data message to ``on_message``
synchronously, from ``data_received``: no reader task, no message object, no queue between
the socket and the handler. It answers pings, sends masked frames, runs the close handshake,
and pings a quiet server every ``heartbeat_s`` (no answer within half of that: the
connection is dropped). No extension is negotiated (no compression). Text messages are
handed on as their UTF-8 bytes, not checked here: the JSON decoder after this refuses
invalid UTF-8.

:func:`open_websocket` connects (``ws://`` or ``wss://``) and returns the connection once
the handshake is through.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import ssl
from collections.abc import Callable
from typing import Final, NoReturn, cast
from urllib.parse import urlsplit

from zq_core.book_ticker import FrameReader

__all__ = [
    "FrameParser",
    "Opcode",
    "WebSocketConnection",
    "WebSocketHandshakeError",
    "WebSocketProtocolError",
    "encode_frame",
    "open_websocket",
]

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
_MAX_HEAD_BYTES: Final = 65_536
DEFAULT_MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024


class Opcode:
    """Frame opcodes (RFC 6455, section 5.2)."""

    CONTINUATION: Final = 0x0
    TEXT: Final = 0x1
    BINARY: Final = 0x2
    CLOSE: Final = 0x8
    PING: Final = 0x9
    PONG: Final = 0xA


#: Close codes used here (section 7.4.1).
CLOSE_NORMAL: Final = 1000
CLOSE_NO_STATUS: Final = 1005
CLOSE_ABNORMAL: Final = 1006
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_TOO_BIG: Final = 1009


class WebSocketProtocolError(Exception):
    """The server broke the WebSocket protocol; ``close_code`` is the code to close with."""

    def __init__(self, message: str, close_code: int = CLOSE_PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.close_code = close_code
        #: The messages the same read completed before the bad frame (to be handed on).
        self.messages_before: list[tuple[int, bytes]] = []


class WebSocketHandshakeError(ConnectionError):
    """The server did not accept the WebSocket upgrade (status, headers or key)."""


class FrameParser:
    """Whole messages out of the bytes a server sends, as ``(opcode, payload)`` pairs.

    Data messages come with their first frame's opcode (TEXT or BINARY), fragments joined;
    control frames come as they are, in stream order. Server frames must not be masked.

    Parameters
    ----------
    max_message_bytes
        The largest message taken (a frame announcing more fails at once, before its bytes
        are awaited).
    """

    __slots__ = (
        "_buffer",
        "_fragment_opcode",
        "_fragment_size",
        "_fragments",
        "_max",
        "_need",
        "_offset",
    )

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self._max = max_message_bytes
        self._buffer = bytearray()  # an incomplete frame, kept until _need bytes are in
        self._need = 0
        self._offset = 0  # stream bytes consumed before the current data (for errors)
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self._fragment_size = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Take the next bytes received; return the messages they complete, in order.

        Raises
        ------
        WebSocketProtocolError
            On a frame that breaks the protocol (the connection must be failed: nothing
            after it can be trusted).
        """
        buffer = self._buffer
        if buffer:
            buffer += data
            if len(buffer) < self._need:
                return []
            data = bytes(buffer)
            buffer.clear()
        messages: list[tuple[int, bytes]] = []
        try:
            self._parse(data, messages)
        except WebSocketProtocolError as error:
            error.messages_before = messages
            raise
        return messages

    def _parse(self, data: bytes, messages: list[tuple[int, bytes]]) -> None:
        size = len(data)
        position = 0
        while size - position >= 2:
            first = data[position]
            second = data[position + 1]
            length = second & 0x7F
            head = 2
            if length == 126:
                if size - position < 4:
                    break
                length = int.from_bytes(data[position + 2 : position + 4], "big")
                head = 4
            elif length == 127:
                if size - position < 10:
                    break
                length = int.from_bytes(data[position + 2 : position + 10], "big")
                head = 10
                if length >> 63:
                    self._error(position, f"a 64-bit length with its top bit set ({length:#x})")
            if second & 0x80:
                self._error(position, "a masked frame from the server")
            if first & 0x70:
                self._error(position, f"reserved bits set ({first & 0x70:#04x}) with no extension")
            opcode = first & 0x0F
            fin = first & 0x80
            if opcode >= 0x8:
                if opcode > Opcode.PONG:
                    self._error(position, f"reserved control opcode {opcode:#x}")
                if not fin:
                    self._error(position, f"a fragmented control frame (opcode {opcode:#x})")
                if length > 125:
                    self._error(position, f"a control frame of {length} bytes (at most 125)")
            elif length > self._max or (
                opcode == Opcode.CONTINUATION and self._fragment_size + length > self._max
            ):
                self._error(
                    position,
                    f"a message over {self._max} bytes ({length} in this frame)",
                    CLOSE_TOO_BIG,
                )
            end = position + head + length
            if end > size:
                break
            payload = data[position + head : end]
            if opcode == Opcode.TEXT or opcode == Opcode.BINARY:
                if self._fragments:
                    self._error(position, "a new message before the fragmented one ended")
                if fin:
                    messages.append((opcode, payload))
                else:
                    self._fragments.append(payload)
                    self._fragment_opcode = opcode
                    self._fragment_size = length
            elif opcode == Opcode.CONTINUATION:
                if not self._fragments:
                    self._error(position, "a continuation frame with no message to continue")
                self._fragments.append(payload)
                self._fragment_size += length
                if fin:
                    messages.append((self._fragment_opcode, b"".join(self._fragments)))
                    self._fragments = []
                    self._fragment_size = 0
            elif opcode >= 0x8:
                messages.append((opcode, payload))
            else:
                self._error(position, f"reserved data opcode {opcode:#x}")
            position = end
        if position < size:
            buffer = self._buffer
            buffer += data[position:] if position else data
            self._need = self._frame_size(buffer)
        self._offset += position

    @staticmethod
    def _frame_size(buffer: bytearray) -> int:
        """The bytes the buffered frame needs in all (its head only, while that is short)."""
        if len(buffer) < 2:
            return 2
        length = buffer[1] & 0x7F
        if length == 126:
            return 4 if len(buffer) < 4 else 4 + int.from_bytes(buffer[2:4], "big")
        if length == 127:
            return 10 if len(buffer) < 10 else 10 + int.from_bytes(buffer[2:10], "big")
        return 2 + length

    def _error(self, position: int, problem: str, code: int = CLOSE_PROTOCOL_ERROR) -> NoReturn:
        raise WebSocketProtocolError(
            f"the server's frame at byte {self._offset + position} of the stream: {problem}", code
        )


def _mask(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte ``key`` repeated (section 5.3)."""
    if not payload:
        return payload
    size = len(payload)
    repeated = (key * (size // 4 + 1))[:size]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return masked.to_bytes(size, "big")


def encode_frame(opcode: int, payload: bytes, mask: bytes | None = None) -> bytes:
    """Return one whole frame (FIN set); masked with ``mask`` (4 bytes) when given, as a
    client's frames must be."""
    size = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        head = bytes((0x80 | opcode, mask_bit | size))
    elif size < 65_536:
        head = bytes((0x80 | opcode, mask_bit | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, mask_bit | 127)) + size.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + _mask(payload, mask)


def accept_key(key: str) -> str:
    """Return the ``Sec-WebSocket-Accept`` a server must answer to ``key``."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


#: ``on_message(payload, is_text)``: one whole data message.
MessageHandler = Callable[[bytes, bool], None]


class WebSocketConnection(asyncio.Protocol):
    """The client side of one WebSocket connection (made by :func:`open_websocket`).

    ``opened`` is done once the handshake is through (or failed); ``closed`` once the TCP
    connection is gone. ``close_code`` and ``close_reason`` say how it ended (1006: without
    a close frame); ``error`` holds the protocol error that failed it, if one did.
    """

    def __init__(
        self,
        host_header: str,
        target: str,
        on_message: MessageHandler,
        *,
        heartbeat_s: float | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._on_message = on_message
        self._host_header = host_header
        self._target = target
        self._key = base64.b64encode(os.urandom(16)).decode("ascii")
        self._parser = FrameParser(max_message_bytes)
        self._head = bytearray()
        self._handshaking = True
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.close_code: int | None = None
        self.close_reason = ""
        self.error: Exception | None = None
        self._close_sent = False
        self.heartbeat_s = heartbeat_s
        self._reads = 0  # data_received calls: a changed count means the server spoke
        self._take_read: Callable[[bytes], bool] | None = None  # see offer_reads
        self._reads_seen = 0
        self._pinged = False
        self._timer: asyncio.TimerHandle | None = None
        # An opening that failed after open_websocket gave up on it must not be reported as
        # an exception nobody retrieved.
        self.opened.add_done_callback(_retrieve)

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transports do not derive from asyncio.Transport, but are one.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = (
            f"GET {self._target} HTTP/1.1\r\n"
            f"Host: {self._host_header}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self._key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "User-Agent: zq\r\n\r\n"
        )
        self.transport.write(request.encode("latin-1"))

    def offer_reads(self, take: Callable[[bytes], bool] | None) -> None:
        """Offer each read to ``take`` first while nothing is buffered (None: stop).

        ``take(data)`` returns True once it has handled the read as one whole frame of the
        connection's stream (a compiled route: :class:`~zq_core.book_ticker.FrameTaker`),
        or False, having done nothing, and the read takes the general way.

        Once connected, the reads come to a :class:`~zq_core.book_ticker.FrameReader` set
        as the transport's protocol (a compiled ``data_received``, which counts the reads
        it takes as this one does and hands it the others and every other event).
        """
        transport = self.transport
        if transport is not None and not self._handshaking:
            # A FrameReader has the methods of an asyncio.Protocol, not the class.
            reader = self if take is None else cast(asyncio.Protocol, FrameReader(self, take))
            transport.set_protocol(reader)
            self._take_read = None
        else:
            self._take_read = take

    def data_received(self, data: bytes) -> None:
        self._reads += 1
        parser = self._parser
        # A read offered to the fast way first (set once the handshake is through).
        take = self._take_read
        if take is not None and not parser._buffer and not parser._fragments and take(data):
            parser._offset += len(data)
            return
        if self._handshaking:
            data = self._handshake(data)
            if not data:
                return
        # The common read: one whole unfragmented text frame of 126..65535 bytes (a quote,
        # a trade, a small diff), nothing buffered before it: handed on without the
        # parser's loop and message list. Anything else goes through the parser.
        size = len(data)
        if (
            size > 4
            and data[0] == 0x81  # FIN, TEXT, no reserved bit
            and data[1] == 126  # unmasked, a 16-bit length
            and size == 4 + ((data[2] << 8) | data[3])
            and size - 4 <= parser._max
            and not parser._buffer
            and not parser._fragments
        ):
            parser._offset += size
            self._on_message(data[4:], True)
            return
        try:
            messages = self._parser.feed(data)
        except WebSocketProtocolError as error:
            self._take(error.messages_before)
            self._fail(error, error.close_code)
            return
        self._take(messages)

    def _take(self, messages: list[tuple[int, bytes]]) -> None:
        on_message = self._on_message
        for opcode, payload in messages:
            if opcode == Opcode.TEXT:
                on_message(payload, True)
            elif opcode == Opcode.BINARY:
                on_message(payload, False)
            elif opcode == Opcode.PING:
                self._write(Opcode.PONG, payload)
            elif opcode == Opcode.CLOSE:
                self._closing(payload)
                return
            # a PONG: the read counted already

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.close_code is None:
            self.close_code = CLOSE_ABNORMAL
            self.close_reason = str(exc) if exc is not None else "closed without a close frame"
        if not self.opened.done():
            self.opened.set_exception(
                self.error
                if isinstance(self.error, WebSocketHandshakeError)
                else ConnectionError(f"the connection closed during the handshake: {exc}")
            )
        if not self.closed.done():
            self.closed.set_result(None)

    # -- sending ---------------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        """Send a text message (one masked frame).

        Raises
        ------
        ConnectionError
            If the connection is closing or closed.
        """
        if self._handshaking or self._close_sent or self.closed.done():
            raise ConnectionError("the WebSocket connection is not open")
        self._write(Opcode.TEXT, text.encode("utf-8"))

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping."""
        self._write(Opcode.PING, payload)

    async def close(self, code: int = CLOSE_NORMAL, timeout_s: float = 2.0) -> None:
        """Run the close handshake: send a close frame, wait for the server's and for the
        end of the TCP connection (at most ``timeout_s``, then it is cut)."""
        transport = self.transport
        if transport is None or self.closed.done():
            return
        if not self._close_sent and not self._handshaking:
            self._send_close(code, "")
        elif self._handshaking:
            transport.abort()
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(self.closed)
        except TimeoutError:
            transport.abort()
            await asyncio.shield(self.closed)

    def abort(self) -> None:
        """Cut the TCP connection at once."""
        if self.transport is not None:
            self.transport.abort()

    def _write(self, opcode: int, payload: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(encode_frame(opcode, payload, os.urandom(4)))

    def _send_close(self, code: int, reason: str) -> None:
        self._close_sent = True
        self._write(Opcode.CLOSE, code.to_bytes(2, "big") + reason.encode("utf-8")[:120])

    # -- receiving -------------------------------------------------------------------------

    def _handshake(self, data: bytes) -> bytes:
        """Take the server's handshake answer; return the bytes after it (frames)."""
        head = self._head
        head += data
        end = head.find(b"\r\n\r\n")
        if end < 0:
            if len(head) > _MAX_HEAD_BYTES:
                self._refuse("an answer head over 64 KiB")
            return b""
        text = bytes(head[:end]).decode("latin-1")
        rest = bytes(head[end + 4 :])
        head.clear()
        status_line, _, header_text = text.partition("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or parts[1] != "101":
            self._refuse(f"the server answered {status_line[:120]!r}, not 101")
            return b""
        headers: dict[str, str] = {}
        for line in header_text.split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("upgrade", "").lower() != "websocket":
            self._refuse(f"Upgrade: {headers.get('upgrade')!r}, not websocket")
        elif "upgrade" not in headers.get("connection", "").lower():
            self._refuse(f"Connection: {headers.get('connection')!r}, not Upgrade")
        elif headers.get("sec-websocket-accept") != accept_key(self._key):
            self._refuse(f"Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r} is wrong")
        elif headers.get("sec-websocket-extensions"):
            self._refuse(f"an extension not asked for: {headers['sec-websocket-extensions']!r}")
        else:
            self._handshaking = False
            self.opened.set_result(None)
            self._schedule_heartbeat()
            return rest
        return b""

    def _refuse(self, problem: str) -> None:
        self.error = WebSocketHandshakeError(
            f"WebSocket handshake with {self._host_header}: {problem}"
        )
        if not self.opened.done():
            self.opened.set_exception(self.error)
        if self.transport is not None:
            self.transport.abort()

    def _closing(self, payload: bytes) -> None:
        if len(payload) >= 2:
            self.close_code = int.from_bytes(payload[:2], "big")
            self.close_reason = payload[2:].decode("utf-8", "replace")
        else:
            self.close_code = CLOSE_NO_STATUS
        if not self._close_sent:
            self._send_close(
                CLOSE_NORMAL if self.close_code == CLOSE_NO_STATUS else self.close_code, ""
            )
        assert self.transport is not None
        self.transport.close()  # the close handshake is through: the TCP connection ends

    def _fail(self, error: Exception, code: int) -> None:
        self.error = error
        self.close_code = code
        self.close_reason = str(error)
        assert self.transport is not None
        if code == CLOSE_ABNORMAL:  # a peer taken for dead: no close frame (1006 is never sent)
            self.transport.abort()
            return
        if not self._close_sent:
            self._send_close(code, "")
        self.transport.close()

    # -- heartbeat -------------------------------------------------------------------------

    def _schedule_heartbeat(self) -> None:
        if self.heartbeat_s:
            self._timer = self._loop.call_later(self.heartbeat_s, self._heartbeat)

    def _heartbeat(self) -> None:
        # Every heartbeat_s: a server that sent nothing in the period is pinged; one that
        # sends nothing (no pong) within half a period more is taken for dead.
        if self.closed.done() or not self.heartbeat_s:
            return
        reads = self._reads
        if self._pinged:
            self._pinged = False
            if reads == self._reads_seen:
                self._fail(
                    WebSocketProtocolError(f"no pong within {self.heartbeat_s / 2:g} s"),
                    CLOSE_ABNORMAL,
                )
                return
        elif reads == self._reads_seen:
            self._pinged = True
            self.ping()
            self._timer = self._loop.call_later(self.heartbeat_s / 2, self._heartbeat)
            return
        self._reads_seen = reads
        self._timer = self._loop.call_later(self.heartbeat_s, self._heartbeat)


async def open_websocket(
    url: str,
    on_message: MessageHandler,
    *,
    heartbeat_s: float | None = None,
    timeout_s: float = 10.0,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ssl_context: ssl.SSLContext | None = None,
) -> WebSocketConnection:
    """Connect to ``url`` (``ws://`` or ``wss://``) and return the connection once open.

    A ``wss://`` URL is verified with ``ssl_context``, by default the system's trust store
    (``ssl.create_default_context()``).

    Raises
    ------
    WebSocketHandshakeError
        If the server refuses the upgrade.
    OSError, TimeoutError
        If the connection cannot be made within ``timeout_s``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"need a ws:// or wss:// URL, got {url!r}")
    secure = parts.scheme == "wss"
    host = parts.hostname
    default_port = 443 if secure else 80
    port = parts.port or default_port
    host_header = host if port == default_port else f"{host}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()
    context = (ssl_context or ssl.create_default_context()) if secure else None

    def make() -> WebSocketConnection:
        return WebSocketConnection(
            host_header,
            target,
            on_message,
            heartbeat_s=heartbeat_s,
            max_message_bytes=max_message_bytes,
        )

    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
    # that comes as the connection is made, leaving a stopped client with an open one.
    connection: WebSocketConnection | None = None
    try:
        async with asyncio.timeout(timeout_s):
            _, connection = await loop.create_connection(
                make, host, port, ssl=context, server_hostname=host if secure else None
            )
            await connection.opened
    except BaseException:
        if connection is not None:
            connection.abort()
        raise
    return connection
