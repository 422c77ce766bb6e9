"""The HTTP/1.1 transport against scripted servers on loopback: framing (length, chunked,
to the close), keep-alive reuse, and what each kind of failure leaves behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from zq.adapters.binance.transport import HttpTransport, HttpTransportError

#: Given the request bytes received so far on a connection and the number of the request on
#: it, return what to write back (None: nothing yet), and whether to close afterwards.
Script = Callable[[bytes, int], tuple[bytes | None, bool]]


class ScriptedServer:
    """A TCP server on loopback answering each whole request head as ``script`` says."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.requests.append(head)
                answer, close = self.script(head, number)
                number += 1
                if answer is not None:
                    writer.write(answer)
                    await writer.drain()
                if close:
                    return
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def ok(body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Callable[[Script], asyncio.Future[tuple[ScriptedServer, str]]]]:
    servers: list[ScriptedServer] = []

    async def start(script: Script) -> tuple[ScriptedServer, str]:
        server = ScriptedServer(script)
        servers.append(server)
        return server, await server.start()

    yield start  # type: ignore[misc]
    for server in servers:
        await server.stop()


@pytest.mark.asyncio
async def test_requests_share_one_kept_alive_connection_and_read_headers(serve):
    server, url = await serve(lambda head, n: (ok(b'{"n":%d}' % n, "X-MBX-USED-WEIGHT-1M: 7\r\n"), False))
    transport = HttpTransport(url, default_headers={"Accept": "application/json"})
    try:
        for n in range(3):
            answer = await transport.request("GET", f"/api/v3/time?x={n}", {"X-MBX-APIKEY": "k"})
            assert (answer.status, answer.body) == (200, b'{"n":%d}' % n)
            assert answer.headers["x-mbx-used-weight-1m"] == "7"
        post = await transport.request("POST", "/api/v3/order?symbol=BTCUSDT")
        assert post.status == 200
    finally:
        await transport.close()
    assert server.connections == 1 and transport.connections_opened == 1
    first = server.requests[0].decode()
    assert first.startswith("GET /api/v3/time?x=0 HTTP/1.1\r\n")
    assert f"Host: {url.removeprefix('http://')}\r\n" in first
    assert "Accept: application/json\r\n" in first and "X-MBX-APIKEY: k\r\n" in first
    assert "Content-Length" not in first  # a GET has no body
    assert "Content-Length: 0\r\n" in server.requests[3].decode()  # a POST says it has none


@pytest.mark.asyncio
async def test_a_chunked_answer_is_put_together(serve):
    # Chunks of 4 and 11 bytes (hex "b"), a chunk extension, a trailer, then the end.
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\nb;ext=1\r\n:[1,2,3,4]}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    _, url = await serve(lambda head, n: (chunked, False))
    transport = HttpTransport(url)
    try:
        answer = await transport.request("GET", "/x")
        assert answer.body == b'{"a":[1,2,3,4]}'
        assert (await transport.request("GET", "/y")).body == b'{"a":[1,2,3,4]}'
    finally:
        await transport.close()
    assert transport.connections_opened == 1


@pytest.mark.asyncio
async def test_a_large_chunked_answer_arriving_in_small_pieces_is_put_together():
    # 2 MB in chunks of 1 to 4,099 bytes, written 1,000 bytes at a time: the body is the
    # concatenation of the chunks' data (built here from the same pieces).
    pieces = [bytes([65 + i % 26]) * (1 + (i * 37) % 4099) for i in range(1000)]
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    wire += b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"

    async def serve_in_pieces(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for at in range(0, len(wire), 1000):
            writer.write(wire[at : at + 1000])
            await writer.drain()
        await reader.read()  # until the client closes
        writer.close()

    server = await asyncio.start_server(serve_in_pieces, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    transport = HttpTransport(url)
    try:
        answer = await transport.request("GET", "/big")
    finally:
        await transport.close()
        server.close()
        await server.wait_closed()
    assert answer.body == b"".join(pieces)


@pytest.mark.asyncio
async def test_an_answer_without_length_runs_to_the_close_and_the_next_request_reconnects(serve):
    _, url = await serve(lambda head, n: (b"HTTP/1.1 500 Oops\r\n\r\nbody up to the close", True))
    transport = HttpTransport(url)
    try:
        first = await transport.request("GET", "/x")
        assert (first.status, first.body) == (500, b"body up to the close")
        await transport.request("GET", "/x")
    finally:
        await transport.close()
    assert transport.connections_opened == 2


@pytest.mark.asyncio
async def test_connection_close_is_honoured(serve):
    server, url = await serve(lambda head, n: (ok(b"{}", "Connection: close\r\n"), True))
    transport = HttpTransport(url)
    try:
        for _ in range(2):
            assert (await transport.request("GET", "/x")).body == b"{}"
    finally:
        await transport.close()
    assert server.connections == 2


@pytest.mark.asyncio
async def test_an_interim_100_continue_is_skipped(serve):
    _, url = await serve(lambda head, n: (b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"[]"), False))
    transport = HttpTransport(url)
    try:
        assert (await transport.request("POST", "/x")).body == b"[]"
    finally:
        await transport.close()


@pytest.mark.asyncio
async def test_a_connection_dropped_without_an_answer_fails_the_request_only(serve):
    # The first request on each connection is dropped unanswered; later ones are answered.
    _, url = await serve(lambda head, n: (None, True) if b"drop" in head else (ok(b"{}"), False))
    transport = HttpTransport(url)
    try:
        with pytest.raises(HttpTransportError, match="closed before the answer"):
            await transport.request("POST", "/drop")
        assert (await transport.request("POST", "/fine")).status == 200
    finally:
        await transport.close()


@pytest.mark.asyncio
async def test_an_answer_cut_halfway_fails_and_is_not_read_as_the_next_one(serve):
    def script(head: bytes, n: int) -> tuple[bytes | None, bool]:
        if b"cut" in head:
            return ok(b'{"long": "body"}')[:-5], True
        return ok(b'{"n":2}'), False

    _, url = await serve(script)
    transport = HttpTransport(url)
    try:
        with pytest.raises(HttpTransportError):
            await transport.request("GET", "/cut")
        assert (await transport.request("GET", "/next")).body == b'{"n":2}'
    finally:
        await transport.close()


@pytest.mark.asyncio
async def test_a_late_answer_times_out_and_its_connection_is_not_reused(serve):
    def script(head: bytes, n: int) -> tuple[bytes | None, bool]:
        if b"slow" in head:
            return None, False  # never answered on this connection
        return ok(b'{"fast":1}'), False

    server, url = await serve(script)
    transport = HttpTransport(url, timeout_s=0.2)
    try:
        with pytest.raises(TimeoutError):
            await transport.request("GET", "/slow")
        assert (await transport.request("GET", "/fast")).body == b'{"fast":1}'
    finally:
        await transport.close()
    assert server.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"SPDY/3 200 OK\r\n\r\n",
        b"HTTP/1.1 2xx OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nab\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra",
    ],
)
@pytest.mark.asyncio
async def test_a_malformed_answer_is_an_error_naming_what_is_wrong(serve, answer):
    _, url = await serve(lambda head, n: (answer, False))
    transport = HttpTransport(url)
    try:
        with pytest.raises(HttpTransportError) as caught:
            await transport.request("GET", "/x")
    finally:
        await transport.close()
    assert str(caught.value)  # says what was wrong; the request line is never in it
    assert "/x" not in str(caught.value)


@pytest.mark.asyncio
async def test_concurrent_requests_open_more_connections_and_keep_a_few(serve):
    _, url = await serve(lambda head, n: (ok(b"{}"), False))
    transport = HttpTransport(url, max_idle=2)
    try:
        answers = await asyncio.gather(*(transport.request("GET", f"/{i}") for i in range(5)))
        assert [a.status for a in answers] == [200] * 5
        assert transport.connections_opened == 5
        await asyncio.gather(*(transport.request("GET", f"/{i}") for i in range(2)))
        assert transport.connections_opened == 5  # two were kept idle and reused
    finally:
        await transport.close()


@pytest.mark.asyncio
async def test_requests_beyond_the_connection_cap_wait_for_a_free_one(serve):
    server, url = await serve(lambda head, n: (ok(b"{}"), False))
    transport = HttpTransport(url, max_connections=3, max_idle=3)
    try:
        answers = await asyncio.gather(*(transport.request("GET", f"/{i}") for i in range(10)))
        assert [a.status for a in answers] == [200] * 10
    finally:
        await transport.close()
    assert server.connections == 3 and len(server.requests) == 10


@pytest.mark.asyncio
async def test_an_idle_connection_past_its_time_is_replaced(serve):
    server, url = await serve(lambda head, n: (ok(b"{}"), False))
    transport = HttpTransport(url, idle_timeout_s=0.05)
    try:
        await transport.request("GET", "/a")
        await asyncio.sleep(0.1)
        await transport.request("GET", "/b")
    finally:
        await transport.close()
    assert server.connections == 2


@pytest.mark.asyncio
async def test_a_closed_transport_refuses_requests():
    transport = HttpTransport("http://127.0.0.1:9")
    await transport.close()
    with pytest.raises(HttpTransportError, match="closed"):
        await transport.request("GET", "/x")


def test_only_http_base_urls_without_a_path_are_taken():
    with pytest.raises(ValueError, match="http"):
        HttpTransport("ws://127.0.0.1:80")
    with pytest.raises(ValueError, match="path"):
        HttpTransport("http://127.0.0.1:80/api")
    assert HttpTransport("https://api.binance.com").port == 443


@pytest.mark.asyncio
async def test_send_now_writes_on_an_idle_connection_only(serve):
    server, url = await serve(lambda head, n: (ok(b'{"n":%d}' % n), False))
    transport = HttpTransport(url)
    try:
        assert transport.send_now("GET", "/first") is None  # no connection yet: nothing sent
        assert server.requests == []
        await transport.request("GET", "/open")  # opens one, kept idle
        exchange = transport.send_now("POST", "/now", {"X-K": "v"})
        assert exchange is not None
        # Written before anything was awaited; a second one finds no idle connection.
        assert transport.send_now("GET", "/busy") is None
        answer = await transport.receive(exchange)
        assert answer.status == 200 and answer.body == b'{"n":1}'
        assert server.requests[1].startswith(b"POST /now HTTP/1.1\r\n")
        assert b"X-K: v\r\n" in server.requests[1] and b"Content-Length: 0\r\n" in server.requests[1]
        again = transport.send_now("GET", "/again")  # given back after the answer
        assert again is not None and (await transport.receive(again)).body == b'{"n":2}'
    finally:
        await transport.close()
    assert server.connections == 1


@pytest.mark.asyncio
async def test_send_now_leaves_the_connection_cap_to_waiting_requests(serve):
    server, url = await serve(lambda head, n: (ok(b"{}"), False))
    transport = HttpTransport(url, max_connections=1, max_idle=1)
    try:
        await transport.request("GET", "/open")
        first = transport.send_now("GET", "/one")
        assert first is not None
        # The only slot is taken: a request waits, and send_now refuses rather than jump it.
        waiting = asyncio.ensure_future(transport.request("GET", "/two"))
        await asyncio.sleep(0.01)
        assert not waiting.done() and transport.send_now("GET", "/three") is None
        await transport.receive(first)
        assert (await waiting).status == 200
    finally:
        await transport.close()
    assert [r.split(b" ")[1] for r in server.requests] == [b"/open", b"/one", b"/two"]


@pytest.mark.asyncio
async def test_a_sent_request_whose_connection_breaks_raises_and_frees_the_slot(serve):
    server, url = await serve(lambda head, n: (ok(b"{}"), False) if n == 0 else (None, True))
    transport = HttpTransport(url, max_connections=1)
    try:
        await transport.request("GET", "/open")
        exchange = transport.send_now("POST", "/order")
        assert exchange is not None
        with pytest.raises(HttpTransportError, match="closed before the answer"):
            await transport.receive(exchange)
        assert (await transport.request("GET", "/next")).status == 200  # the slot was freed
    finally:
        await transport.close()
    assert server.connections == 2


@pytest.mark.asyncio
async def test_a_sent_request_hands_its_whole_answer_on_in_the_read_that_completed_it(serve):
    _server, url = await serve(lambda head, n: (ok(b'{"n":%d}' % n), False))
    transport = HttpTransport(url)
    try:
        await transport.request("GET", "/open")
        exchange = transport.send_now("POST", "/order")
        assert exchange is not None
        seen: list[tuple[int, bytes, bool]] = []
        resumed = False

        def on_read(answer):
            seen.append((answer.status, answer.body, resumed))

        exchange.on_read(on_read)
        answer = await transport.receive(exchange)
        resumed = True
        # Called once, in the read, before the awaiting task resumed; the task gets the same.
        assert seen == [(200, b'{"n":1}', False)]
        assert answer.body == b'{"n":1}'
        # The next request on the connection has no callback of its own.
        again = transport.send_now("GET", "/again")
        assert again is not None and (await transport.receive(again)).body == b'{"n":2}'
        assert len(seen) == 1
    finally:
        await transport.close()


@pytest.mark.asyncio
async def test_a_failing_read_callback_is_logged_and_the_answer_still_reaches_its_task(
    serve, caplog
):
    server, url = await serve(lambda head, n: (ok(b"{}"), False))
    transport = HttpTransport(url)
    try:
        await transport.request("GET", "/open")
        exchange = transport.send_now("POST", "/order")
        assert exchange is not None

        def on_read(answer):
            raise RuntimeError("boom")

        exchange.on_read(on_read)
        assert (await transport.receive(exchange)).status == 200
        assert "a callback on an answer's read failed" in caplog.text
        assert (await transport.request("GET", "/next")).status == 200  # the connection is fine
    finally:
        await transport.close()
    assert server.connections == 1


@pytest.mark.asyncio
async def test_a_broken_connection_hands_nothing_to_the_read_callback(serve):
    _server, url = await serve(lambda head, n: (ok(b"{}"), False) if n == 0 else (None, True))
    transport = HttpTransport(url, max_connections=1)
    try:
        await transport.request("GET", "/open")
        exchange = transport.send_now("POST", "/order")
        assert exchange is not None
        seen: list[object] = []
        exchange.on_read(seen.append)
        with pytest.raises(HttpTransportError, match="closed before the answer"):
            await transport.receive(exchange)
        assert seen == []
    finally:
        await transport.close()
