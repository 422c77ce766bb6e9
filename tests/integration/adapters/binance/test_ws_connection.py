"""The WebSocket client connection over loopback: against aiohttp's WebSocket server (the
sandbox venue's), and against a raw TCP server that writes frames byte by byte as a test
lays them out (split anywhere, grouped, broken), with the stream client reconnecting after
a broken frame."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import logging
import os
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import pytest
import pytest_asyncio
from aiohttp import WSMsgType, web

from tests.unit.adapters.binance.test_instruments import BTCUSDT
from zq.adapters.binance.instruments import parse_symbol
from zq.adapters.binance.parsing import _TICKER_DECODER, BOOK_TICKER_ENVELOPE, MarketDataParser
from zq.adapters.binance.websocket import BinanceWebSocketClient
from zq.adapters.binance.ws_connection import WebSocketHandshakeError, open_websocket
from zq_core.book_ticker import FrameReader

from .helpers import wait_for

Received = list[tuple[bytes, bool]]


def collector() -> tuple[Received, Callable[[bytes, bool], None]]:
    received: Received = []
    return received, lambda payload, is_text: received.append((payload, is_text))


# -- against aiohttp's server ----------------------------------------------------------------


@pytest_asyncio.fixture
async def aiohttp_ws() -> AsyncIterator[tuple[str, list[object]]]:
    """An aiohttp WebSocket server: echoes text as text, answers 'big' with a 100 kB binary
    message, 'ping' with a ping (its pong is recorded), 'close' with a close (code 4001)."""
    events: list[object] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                if message.data == "big":
                    await ws.send_bytes(bytes(range(256)) * 400)
                elif message.data == "ping":
                    await ws.ping(b"are you there")
                elif message.data == "close":
                    await ws.close(code=4001, message=b"bye")
                else:
                    await ws.send_str(message.data)
            elif message.type == WSMsgType.PONG:
                events.append(("pong", message.data))
        events.append(("closed", ws.close_code))  # the iteration ends on a close frame
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"ws://127.0.0.1:{port}/ws", events
    await runner.cleanup()


@pytest.mark.asyncio
async def test_text_and_large_binary_messages_and_a_pong_with_aiohttps_server(aiohttp_ws):
    url, events = aiohttp_ws
    received, on_message = collector()
    connection = await open_websocket(url, on_message)  # aiohttp checked our key, we its accept
    try:
        connection.send_text('{"é":1}')
        connection.send_text("big")  # 102,400 bytes: a 64-bit length
        connection.send_text("ping")
        await wait_for(lambda: len(received) == 2 and events, what="the echo, the big one, a pong")
        assert received[0] == ('{"é":1}'.encode(), True)
        assert received[1] == (bytes(range(256)) * 400, False)
        assert events == [("pong", b"are you there")]
    finally:
        await connection.close()
    await wait_for(lambda: len(events) == 2, what="the server's end of the close handshake")
    assert events[-1] == ("closed", 1000) and connection.close_code == 1000


@pytest.mark.asyncio
async def test_a_close_from_the_server_is_answered_and_ends_the_connection(aiohttp_ws):
    url, _ = aiohttp_ws
    connection = await open_websocket(url, lambda payload, is_text: None)
    connection.send_text("close")
    await asyncio.wait_for(connection.closed, 5)
    assert connection.close_code == 4001 and connection.close_reason == "bye"
    with pytest.raises(ConnectionError):
        connection.send_text("too late")


@pytest.mark.asyncio
async def test_the_sandbox_venue_streams_to_the_client(venue):
    received, on_message = collector()
    connection = await open_websocket(f"{venue.ws_url}/ws/btcusdt@trade", on_message)
    try:
        # A request on the stream is answered with its id.
        connection.send_text('{"method":"LIST_SUBSCRIPTIONS","id":7}')
        await wait_for(lambda: received, what="the venue's answer")
        assert b'"id":7' in received[0][0] and received[0][1]
    finally:
        await connection.close()


# -- against a raw TCP server ----------------------------------------------------------------


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = False) -> bytes:
    """A frame laid out by hand (RFC 6455 section 5.2); ``masked`` breaks the rule that a
    server's frames are not masked."""
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head = struct.pack("!BB", first, mask_bit | size)
    elif size < 65_536:
        head = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, size)
    return head + (b"\0\0\0\0" if masked else b"") + payload


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def accept_for(head: bytes) -> str:
    key = next(
        line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    digest = hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest).decode()


async def upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    writer.write(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_for(head)}\r\n\r\n"
        ).encode()
    )
    return head


@pytest_asyncio.fixture
async def raw_server() -> AsyncIterator[Callable[[Script], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> str:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await script(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(server)
        return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_frames_split_across_writes_and_grouped_in_one_come_out_whole(raw_server):
    big = os.urandom(70_000)
    stream = (
        frame(1, b'{"a":1}')
        + frame(9, b"hi")  # a ping: answered with a pong
        + frame(1, b'{"frag', fin=False)
        + frame(0, b'mented"', fin=False)
        + frame(10, b"")  # a pong between fragments
        + frame(0, b":true}")
        + frame(2, big)
    )
    pong: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await upgrade(reader, writer)
        cuts = [0, 1, 5, 9, 10, 30, 31, 200, 5000, len(stream)]
        for start, end in itertools.pairwise(cuts):
            writer.write(stream[start:end])
            await writer.drain()
            await asyncio.sleep(0.002)
        head = await reader.readexactly(2)  # the client's pong: masked, 2-byte payload
        masked = await reader.readexactly(4 + (head[1] & 0x7F))
        pong.append(head + bytes(b ^ masked[i % 4] for i, b in enumerate(masked[4:])))
        await reader.read()

    url = await raw_server(script)
    received, on_message = collector()
    connection = await open_websocket(url, on_message)
    try:
        await wait_for(lambda: len(received) == 3 and pong, what="three messages and a pong")
    finally:
        await connection.close(timeout_s=0.2)
    assert received == [(b'{"a":1}', True), (b'{"fragmented":true}', True), (big, False)]
    assert pong == [bytes([0x8A, 0x82]) + b"hi"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "match"),
    [
        ("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "400 Bad Request"),
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: d3Jvbmc=\r\n\r\n",
            "Sec-WebSocket-Accept 'd3Jvbmc=' is wrong",
        ),
    ],
)
async def test_a_refused_or_wrong_handshake_raises_naming_it(raw_server, answer, match):
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer.encode())
        await reader.read()

    url = await raw_server(script)
    with pytest.raises(WebSocketHandshakeError, match=match):
        await open_websocket(url, lambda payload, is_text: None, timeout_s=5)


@pytest.mark.asyncio
async def test_a_broken_frame_fails_the_connection_and_the_client_reconnects(raw_server, caplog):
    connections = 0
    closes: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await upgrade(reader, writer)
        good = b'{"stream":"btcusdt@trade","data":{"n":%d}}' % connections
        writer.write(frame(1, good))
        if connections == 1:
            writer.write(frame(1, b"{}", masked=True))  # a server must not mask
            head = await reader.readexactly(2)  # the client's close frame
            masked = await reader.readexactly(4 + (head[1] & 0x7F))
            closes.append(bytes(b ^ masked[i % 4] for i, b in enumerate(masked[4:])))
        await reader.read()

    url = await raw_server(script)
    received: list[bytes] = []
    client = BinanceWebSocketClient(
        url, lambda stream, data, ts: received.append(data), backoff_initial_s=0.01
    )
    with caplog.at_level(logging.WARNING, logger="zq.adapters.binance"):
        await client.start()
        try:
            await client.subscribe(["btcusdt@trade"])
            await wait_for(lambda: len(received) == 2, what="a message from each connection")
        finally:
            await client.stop()
    assert received == [b'{"n":1}', b'{"n":2}']
    assert client.stats.protocol_errors == 1 and client.stats.reconnects == 1
    assert closes == [struct.pack("!H", 1002)]  # failed with "protocol error"
    (warning,) = [r.getMessage() for r in caplog.records if "failed:" in r.getMessage()]
    assert "a masked frame from the server" in warning
    first_frame = frame(1, b'{"stream":"btcusdt@trade","data":{"n":1}}')
    assert f"at byte {len(first_frame)} of the stream" in warning


@pytest.mark.asyncio
async def test_a_routed_stream_is_decoded_in_one_pass_and_what_its_route_refuses_goes_the_general_way(
    raw_server,
):
    ticker = b'{"u":1,"s":"BTCUSDT","b":"100.01","B":"2","a":"100.02","A":"3"}'
    bad = b'{"u":2,"s":"BTCUSDT","b":100.01,"B":"2","a":"100.02","A":"3"}'  # a number
    trade = b'{"e":"trade","t":7}'

    def envelope(stream: bytes, data: bytes) -> bytes:
        return b'{"stream":"' + stream + b'","data":' + data + b"}"

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await upgrade(reader, writer)
        for stream, data in [
            (b"btcusdt@bookTicker", ticker),
            (b"btcusdt@bookTicker", bad),
            (b"btcusdt@trade", trade),
        ]:
            writer.write(frame(1, envelope(stream, data)))
        await reader.read()

    url = await raw_server(script)
    general: list[tuple[str, bytes]] = []
    routed: list[object] = []

    def take(message: bytes, ts_init: int) -> bool:  # a route: its stream's good messages
        try:
            decoded = BOOK_TICKER_ENVELOPE.decode(message)
        except msgspec.ValidationError:
            return False
        routed.append(decoded.data)
        return True

    client = BinanceWebSocketClient(url, lambda stream, data, ts: general.append((stream, data)))
    client.route("btcusdt@bookTicker", take)
    await client.start()
    try:
        await client.subscribe(["btcusdt@bookTicker", "btcusdt@trade"])
        await wait_for(lambda: len(general) == 2 and routed, what="three messages")
    finally:
        await client.stop()
    assert routed == [_TICKER_DECODER.decode(ticker)]
    assert general == [("btcusdt@bookTicker", bad), ("btcusdt@trade", trade)]
    assert client.stats.messages == 3


@pytest.mark.asyncio
async def test_a_route_that_raises_is_counted_and_the_connection_carries_on(raw_server):
    ticker = b'{"u":1,"s":"BTCUSDT","b":"100.01","B":"2","a":"100.02","A":"3"}'
    message = b'{"stream":"btcusdt@bookTicker","data":' + ticker + b"}"

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await upgrade(reader, writer)
        writer.write(frame(1, message) + frame(1, message))
        await reader.read()

    url = await raw_server(script)
    taken: list[bytes] = []

    def take(payload: bytes, ts_init: int) -> bool:
        taken.append(payload)
        if len(taken) == 1:
            raise RuntimeError("a strategy's bug")
        return True

    general: list[object] = []
    client = BinanceWebSocketClient(url, lambda stream, data, ts: general.append(data))
    client.route("btcusdt@bookTicker", take)
    await client.start()
    try:
        await client.subscribe(["btcusdt@bookTicker"])
        await wait_for(lambda: len(taken) == 2, what="two messages")
    finally:
        await client.stop()
    assert taken == [message, message]
    assert general == []  # a message its route took (or failed on) is not handed on again
    assert client.stats.handler_errors == 1


@pytest.mark.asyncio
async def test_wss_over_tls_to_aiohttps_server_with_a_certificate_it_trusts(tmp_path):
    # A self-signed certificate for 127.0.0.1 (the openssl command line), trusted by the
    # client's context; the default context would refuse it.
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(message.data.upper())
        return ws

    app = web.Application()
    app.router.add_get("/ws", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            await open_websocket(f"wss://127.0.0.1:{port}/ws", lambda p, t: None, timeout_s=5)
        received, on_message = collector()
        trusting = ssl.create_default_context(cafile=str(cert))
        connection = await open_websocket(
            f"wss://127.0.0.1:{port}/ws", on_message, ssl_context=trusting
        )
        try:
            connection.send_text("over tls")
            await wait_for(lambda: received, what="the echo over TLS")
        finally:
            await connection.close()
        assert received == [(b"OVER TLS", True)]
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_a_compiled_decoders_whole_frames_are_taken_from_the_read_as_the_general_way_reads_them(
    raw_server,
):
    # The read holding one whole frame of a routed compiled decoder's stream is taken by the
    # FrameTaker before the connection's parser; frames sharing a read take the parser and
    # the route; both give the quote the general way (MarketDataParser.quote) makes.
    parser = MarketDataParser(parse_symbol(BTCUSDT))
    tickers = [
        b'{"u":%d,"s":"BTCUSDT","b":"100.0%d","B":"2.5","a":"100.2%d","A":"3"}' % (n, n, n)
        for n in range(1, 7)
    ]

    def envelope(stream: bytes, data: bytes) -> bytes:
        return b'{"stream":"' + stream + b'","data":' + data + b"}"

    trade = b'{"e":"trade","t":7}'

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await upgrade(reader, writer)
        await asyncio.sleep(0.2)  # the client's connection open (its URL names the stream)
        for data in tickers[:3]:  # one frame per read
            writer.write(frame(1, envelope(b"btcusdt@bookTicker", data)))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"".join(frame(1, envelope(b"btcusdt@bookTicker", d)) for d in tickers[3:]))
        await asyncio.sleep(0.05)
        writer.write(frame(1, envelope(b"btcusdt@trade", trade)))
        await reader.read()

    url = await raw_server(script)
    general: list[bytes] = []
    quotes: list[object] = []
    stamps = iter(range(1000, 2000))
    client = BinanceWebSocketClient(
        url, lambda stream, data, ts: general.append(data), clock_ns=lambda: next(stamps)
    )
    client.route("btcusdt@bookTicker", parser.book_ticker_decoder(quotes.append))
    on_combined = client._on_combined
    parsed: list[bytes] = []  # the messages that went the general way (the parser's)

    def counted(payload: bytes, is_text: bool) -> None:
        parsed.append(payload)
        on_combined(payload, is_text)

    client._on_combined = counted  # type: ignore[method-assign]
    await client.start()
    try:
        await client.subscribe(["btcusdt@bookTicker"])
        await wait_for(lambda: len(general) == 1, what="the trade")
        # The reads came to a FrameReader (compiled data_received), counted as the
        # connection's own: every frame's bytes in the parser's offset.
        ws = client._ws
        assert ws is not None and ws.transport is not None
        assert isinstance(ws.transport.get_protocol(), FrameReader)
        streamed = [frame(1, envelope(b"btcusdt@bookTicker", d)) for d in tickers]
        streamed.append(frame(1, envelope(b"btcusdt@trade", trade)))
        assert ws._parser._offset == sum(map(len, streamed))
        assert ws._reads >= 5  # the handshake's, three alone, three together, the trade
    finally:
        await client.stop()
    assert [q.ts_init for q in quotes] == sorted(q.ts_init for q in quotes)  # type: ignore[attr-defined]
    assert quotes == [
        parser.quote(data, quote.ts_init)  # type: ignore[attr-defined]
        for data, quote in zip(tickers, quotes, strict=True)
    ]
    assert general == [trade]
    assert len(parsed) == 4  # the three sharing a read, and the trade
    assert client.stats.messages == 7 and client.stats.handler_errors == 0


@pytest.mark.asyncio
async def test_a_raising_on_quote_of_a_frame_taken_from_the_read_is_logged_and_counted(
    raw_server, caplog
):
    ticker = b'{"u":1,"s":"BTCUSDT","b":"100.01","B":"2","a":"100.02","A":"3"}'
    message = b'{"stream":"btcusdt@bookTicker","data":' + ticker + b"}"

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await upgrade(reader, writer)
        await asyncio.sleep(0.2)
        for _ in range(2):
            writer.write(frame(1, message))
            await writer.drain()
            await asyncio.sleep(0.05)
        await reader.read()

    url = await raw_server(script)
    quotes: list[object] = []

    def on_quote(quote: object) -> None:
        quotes.append(quote)
        if len(quotes) == 1:
            raise RuntimeError("a strategy's bug")

    client = BinanceWebSocketClient(url, lambda stream, data, ts: None)
    decoder = MarketDataParser(parse_symbol(BTCUSDT)).book_ticker_decoder(on_quote)
    client.route("btcusdt@bookTicker", decoder)
    with caplog.at_level(logging.ERROR, logger="zq.adapters.binance"):
        await client.start()
        try:
            await client.subscribe(["btcusdt@bookTicker"])
            await wait_for(lambda: len(quotes) == 2, what="two quotes")
        finally:
            await client.stop()
    assert client.stats.handler_errors == 1 and client.stats.messages == 2
    (record,) = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert record.getMessage() == "handler failed on a btcusdt@bookTicker message"
    assert record.exc_info is not None and "a strategy's bug" in str(record.exc_info[1])
