"""The venue's HTTP/1.1 server, spoken to in raw bytes over a real loopback socket.

Keep-alive, pipelining, bodies in pieces, Connection: close, 400s that say what is wrong,
404/405, and the requests handed over to aiohttp (other paths, HTTP/1.0, chunked bodies)
on the same connection. The answers are read with a small parser written here.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.integration.sandbox.conftest import API_KEY, SECRET, SYMBOL, manual_config, seed_book
from zq.sandbox import FaultConfig, SandboxVenue
from zq.sandbox.rest import _hmac_pads


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """Read one HTTP/1.1 answer (Content-Length bodies, which is what the venue sends)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode("latin-1").split("\r\n")
    version, status, _ = lines[0].split(" ", 2)
    assert version == "HTTP/1.1"
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.readexactly(int(headers["content-length"]))
    return Reply(int(status), headers, body)


def signed(params: str, timestamp: int | None = None) -> str:
    query = f"{params}&timestamp={timestamp or int(time.time() * 1000)}"
    signature = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


def request(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if body or method in ("POST", "PUT", "DELETE"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


KEY = f"X-MBX-APIKEY: {API_KEY}"


@pytest_asyncio.fixture
async def venue() -> AsyncIterator[SandboxVenue]:
    async with SandboxVenue(manual_config()) as running:
        seed_book(running)
        yield running


@pytest_asyncio.fixture
async def connection(
    venue: SandboxVenue,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", venue.port)
    yield reader, writer
    writer.close()
    await writer.wait_closed()


@pytest.mark.asyncio
async def test_keep_alive_connection_answers_request_after_request(connection):
    reader, writer = connection
    for _ in range(3):
        writer.write(request("GET", "/api/v3/ping"))
        reply = await read_reply(reader)
        assert (reply.status, reply.json()) == (200, {})
        assert reply.headers["content-type"] == "application/json; charset=utf-8"
        assert reply.headers["x-mbx-used-weight-1m"].isdigit()
        assert "date" in reply.headers


@pytest.mark.asyncio
async def test_pipelined_requests_are_answered_in_order(connection):
    reader, writer = connection
    query = signed(f"symbol={SYMBOL}&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=59000"
                   "&newClientOrderId=piped-1")
    lookup = signed(f"symbol={SYMBOL}&origClientOrderId=piped-1")
    writer.write(
        request("GET", "/api/v3/time")
        + request("POST", f"/api/v3/order?{query}", KEY)
        + request("GET", f"/api/v3/order?{lookup}", KEY)
        + request("GET", "/api/v3/ping")
    )
    replies = [await read_reply(reader) for _ in range(4)]
    assert [reply.status for reply in replies] == [200, 200, 200, 200]
    assert "serverTime" in replies[0].json()
    assert replies[1].json()["clientOrderId"] == "piped-1"
    assert (replies[1].headers["x-mbx-order-count-10s"], replies[1].headers["x-mbx-order-count-1d"]) == ("1", "1")
    assert replies[2].json()["status"] == "NEW"
    assert replies[3].json() == {}


@pytest.mark.asyncio
async def test_a_request_split_across_writes_is_answered_once_whole(connection):
    reader, writer = connection
    body = signed(f"symbol={SYMBOL}&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=59000").encode()
    data = request("POST", "/api/v3/order", KEY, "Content-Type: application/x-www-form-urlencoded", body=body)
    for at in range(0, len(data), 37):
        writer.write(data[at : at + 37])
        await writer.drain()
        await asyncio.sleep(0.001)
    reply = await read_reply(reader)
    assert reply.status == 200, reply.body
    assert reply.json()["origQty"] == "0.01000000"


@pytest.mark.asyncio
async def test_parameters_in_query_and_body_are_signed_together(connection):
    # The signature covers the query followed by the body, as Binance documents.
    reader, writer = connection
    query = f"symbol={SYMBOL}&side=BUY&type=LIMIT"
    body = f"timeInForce=GTC&quantity=0.01&price=59000&timestamp={int(time.time() * 1000)}"
    signature = hmac.new(SECRET.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    writer.write(request("POST", f"/api/v3/order?{query}", KEY, body=f"{body}&signature={signature}".encode()))
    reply = await read_reply(reader)
    assert reply.status == 200, reply.body


@pytest.mark.asyncio
async def test_connection_close_is_answered_then_closed(connection):
    reader, writer = connection
    writer.write(request("GET", "/api/v3/ping", "Connection: close") + request("GET", "/api/v3/ping"))
    reply = await read_reply(reader)
    assert (reply.status, reply.headers["connection"]) == (200, "close")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the second request is not answered


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"GET /api/v3/ping\r\n\r\n", "malformed request line 'GET /api/v3/ping'"),
        (b"GET /api/v3/ping HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", "malformed header line 2: 'Host 127.0.0.1'"),
        (b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", "malformed header line 3: 'Bad Name: 1'"),
        (b"POST /api/v3/order HTTP/1.1\r\nContent-Length: ten\r\n\r\n", "Content-Length is not a number: 'ten'"),
        (b"POST /api/v3/order HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
         "two different Content-Length headers"),
        (b"GET /api/v3/ping HTTP/2.0\r\n\r\n", "unsupported version 'HTTP/2.0'"),
        (b"GET /api/v3/ping?" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n", "request head longer than 16384 bytes"),
    ],
)
@pytest.mark.asyncio
async def test_malformed_request_is_answered_400_saying_why_and_closed(connection, data: bytes, said: str):
    reader, writer = connection
    writer.write(data)
    reply = await read_reply(reader)
    assert reply.status == 400
    assert said in reply.body.decode()
    assert reply.headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 5) == b""


@pytest.mark.asyncio
async def test_unknown_path_is_404_and_wrong_method_405(connection):
    reader, writer = connection
    writer.write(request("GET", "/api/v3/nothing") + request("PUT", "/api/v3/ping"))
    missing, wrong = await read_reply(reader), await read_reply(reader)
    assert missing.status == 404
    assert (wrong.status, wrong.headers["allow"]) == (405, "GET")


@pytest.mark.asyncio
async def test_other_paths_are_handed_over_to_aiohttp_on_the_same_connection(connection, venue: SandboxVenue):
    reader, writer = connection
    writer.write(request("GET", "/api/v3/ping") + request("GET", "/sandbox/faults") + request("GET", "/api/v3/ping"))
    first, faults, last = [await read_reply(reader) for _ in range(3)]
    assert (first.status, first.headers["server"]) == (200, "zq-sandbox")
    assert faults.status == 200 and "counts" in faults.json()
    # From the hand-over on, aiohttp answers, the API too (through the same RestApi).
    assert last.status == 200 and last.headers["server"] != "zq-sandbox"
    assert last.json() == {} and "x-mbx-used-weight-1m" in last.headers


@pytest.mark.asyncio
async def test_http_1_0_and_chunked_bodies_are_served_by_the_fallback(connection, venue: SandboxVenue):
    reader, writer = connection
    body = signed(f"symbol={SYMBOL}&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01&price=61000").encode()
    chunked = (
        f"POST /api/v3/order HTTP/1.1\r\nHost: x\r\n{KEY}\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    ).encode() + b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:20], body[20:])) + b"0\r\n\r\n"
    writer.write(chunked)
    reply = await read_reply(reader)
    assert reply.status == 200, reply.body
    assert reply.json()["side"] == "SELL"
    old_reader, old_writer = await asyncio.open_connection("127.0.0.1", venue.port)
    try:
        old_writer.write(b"GET /api/v3/ping HTTP/1.0\r\n\r\n")
        head = await asyncio.wait_for(old_reader.read(), 5)
        assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0]
    finally:
        old_writer.close()


@pytest.mark.asyncio
async def test_delayed_answer_holds_the_pipelined_ones_behind_it():
    config = manual_config(faults=FaultConfig(delay=1.0, delay_seconds=0.2))
    async with SandboxVenue(config) as venue:
        reader, writer = await asyncio.open_connection("127.0.0.1", venue.port)
        try:
            started = time.monotonic()
            writer.write(request("GET", "/api/v3/ping") + request("GET", "/api/v3/time"))
            first, second = await read_reply(reader), await read_reply(reader)
            waited = time.monotonic() - started
        finally:
            writer.close()
        assert (first.json(), "serverTime" in second.json()) == ({}, True)
        # Each answer is held 0.2 s, one after the other (0.4 s), not side by side (0.2 s); the
        # event loop's timers may fire up to a clock tick early, hence the margin.
        assert waited >= 0.35
        assert venue.faults.counts["delayed"] == 2


@pytest.mark.asyncio
async def test_dropped_answer_closes_the_connection(venue: SandboxVenue, connection):
    reader, writer = connection
    venue.faults.update(drop_after=1.0)
    writer.write(request("GET", "/api/v3/ping"))
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert venue.faults.counts["dropped_after"] == 1


@pytest.mark.parametrize("secret", [b"", b"s", b"k" * 64, b"x" * 65, bytes(range(200))])
def test_hmac_from_padded_states_equals_the_standard_library(secret: bytes):
    inner, outer = _hmac_pads(secret)
    for message in (b"", b"symbol=BTCUSDT&timestamp=1", b"q" * 1000):
        first, second = inner.copy(), outer.copy()
        first.update(message)
        second.update(first.digest())
        assert second.hexdigest() == hmac.new(secret, message, hashlib.sha256).hexdigest()


@pytest.mark.asyncio
async def test_an_idle_connection_is_closed_after_the_idle_timeout_and_a_busy_one_is_not():
    async with SandboxVenue(manual_config(idle_timeout=0.3)) as venue:
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", venue.port)
        busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", venue.port)
        try:
            started = time.monotonic()
            # The busy one asks every 0.1 s for 0.6 s: twice the timeout, never idle for it.
            while time.monotonic() - started < 0.6:
                busy_writer.write(request("GET", "/api/v3/ping"))
                assert (await read_reply(busy_reader)).status == 200
                await asyncio.sleep(0.1)
            assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # closed by the venue
            closed_after = time.monotonic() - started
            busy_writer.write(request("GET", "/api/v3/ping"))
            assert (await read_reply(busy_reader)).status == 200
        finally:
            idle_writer.close()
            busy_writer.close()
        assert 0.3 <= closed_after < 5


@pytest.mark.asyncio
async def test_an_answer_held_longer_than_the_idle_timeout_is_still_sent():
    config = manual_config(idle_timeout=0.1, faults=FaultConfig(delay=1.0, delay_seconds=0.4))
    async with SandboxVenue(config) as venue:
        reader, writer = await asyncio.open_connection("127.0.0.1", venue.port)
        try:
            writer.write(request("GET", "/api/v3/ping"))
            assert (await read_reply(reader)).json() == {}
        finally:
            writer.close()


@pytest.mark.asyncio
async def test_idle_timeout_zero_keeps_an_idle_connection_open():
    async with SandboxVenue(manual_config(idle_timeout=0)) as venue:
        reader, writer = await asyncio.open_connection("127.0.0.1", venue.port)
        try:
            await asyncio.sleep(0.3)  # housekeeping ran several times meanwhile
            writer.write(request("GET", "/api/v3/ping"))
            assert (await read_reply(reader)).status == 200
        finally:
            writer.close()


@pytest.mark.parametrize("value", [-1.0, float("nan")])
def test_a_negative_or_nan_idle_timeout_is_refused_by_name(value: float):
    with pytest.raises(ValueError, match="idle_timeout"):
        manual_config(idle_timeout=value)


@pytest.mark.asyncio
async def test_zq_transport_opens_a_new_connection_after_the_venue_closed_an_idle_one():
    from zq.adapters.binance.transport import HttpTransport

    async with SandboxVenue(manual_config(idle_timeout=0.2)) as venue:
        transport = HttpTransport(venue.url, idle_timeout_s=60.0)
        try:
            assert (await transport.request("GET", "/api/v3/ping")).status == 200
            await asyncio.sleep(0.5)  # the venue closes the idle connection meanwhile
            assert (await transport.request("GET", "/api/v3/ping")).status == 200
        finally:
            await transport.close()
        assert transport.connections_opened == 2


@pytest.mark.asyncio
async def test_headers_read_once_are_read_alike_for_every_request_sending_them(venue: SandboxVenue):
    # The protocol keeps what a header block said (a client sends the same one every time):
    # what depends on the request line (the path, the version) is still read per request,
    # and a refused block is refused every time, with the same reason.
    async def exchange(*data: bytes) -> tuple[list[Reply], bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", venue.port)
        try:
            writer.write(b"".join(data))
            replies = [await read_reply(reader) for _ in data]
            closed = replies[-1].headers.get("connection") == "close"
            # What follows a closing answer: nothing, and the end of the stream.
            rest = await asyncio.wait_for(reader.read(), 5) if closed else b""
            return replies, rest
        finally:
            writer.close()

    bad = b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n"
    for _ in range(2):
        (reply,), rest = await exchange(bad)
        assert reply.status == 400 and "malformed header line 3: 'Bad Name: 1'" in reply.body.decode()
        assert rest == b""
    for _ in range(2):
        (reply,), rest = await exchange(request("GET", "/api/v3/ping", "Connection: close"))
        assert (reply.status, reply.headers["connection"], rest) == (200, "close", b"")
    for _ in range(2):
        # The same header block for the API and for another path: served, then handed over.
        (api, faults), _ = await exchange(
            request("GET", "/api/v3/ping", KEY), request("GET", "/sandbox/faults", KEY)
        )
        assert (api.status, api.headers["server"]) == (200, "zq-sandbox")
        assert faults.status == 200 and "counts" in faults.json()
    for count in ("1", "2"):
        # The API key read from the kept block: the account's new orders are counted.
        query = signed(
            f"symbol={SYMBOL}&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=59000"
            f"&newClientOrderId=kept-{count}"
        )
        (placed,), _ = await exchange(request("POST", f"/api/v3/order?{query}", KEY))
        assert placed.status == 200, placed.body
        assert placed.headers["x-mbx-order-count-10s"] == count
