"""The compiled new-order writer (zq_core.binance_request) against independent references:
its SHA-256 against hashlib, its HMAC against the hmac module and Binance's documented
example, its rate windows against a model written here, and its requests against the
Python way's (encode_params, Signer) on generated orders."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import pickle
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zq.adapters.binance.http import _new_order_params
from zq.adapters.binance.limits import DEFAULT_RATE_LIMITS, RateLimiter
from zq.adapters.binance.signing import Signer, encode_params
from zq.adapters.binance.transport import HttpTransport, _Connection
from zq_core.binance_request import OrderRequestWriter, RateWindows, _use_sha_extensions, sha256
from zq_core.fixed import Price, Quantity

DOC_SECRET = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = (
    b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    b"&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = b"c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
HEAD = b"POST /api/v3/order?"
TAIL = b" HTTP/1.1\r\nHost: x\r\nX-MBX-APIKEY: k\r\nContent-Length: 0\r\n\r\n"


@contextlib.contextmanager
def rounds(extensions: bool) -> Iterator[None]:
    """SHA-256 on the CPU's SHA extensions or on the plain C rounds for the block's body
    (the extensions' case is skipped on a CPU without them)."""
    used = _use_sha_extensions(extensions)
    try:
        if extensions and not used:
            pytest.skip("this CPU has no SHA extensions")
        yield
    finally:
        _use_sha_extensions(True)


EXTENSIONS = pytest.mark.parametrize("extensions", [True, False], ids=["sha-ni", "plain-c"])


@EXTENSIONS
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600))
def test_sha256_is_hashlibs(extensions: bool, data: bytes) -> None:
    with rounds(extensions):
        assert sha256(data) == hashlib.sha256(data).digest()


@EXTENSIONS
def test_sha256_at_every_length_around_the_padding_boundaries(extensions: bool) -> None:
    with rounds(extensions):
        for size in range(0, 260):
            data = bytes((7 * index + size) % 256 for index in range(size))
            assert sha256(data) == hashlib.sha256(data).digest(), size


@EXTENSIONS
def test_signature_matches_the_binance_documentation_example(extensions: bool) -> None:
    with rounds(extensions):
        assert OrderRequestWriter(DOC_SECRET).signature_of(DOC_QUERY) == DOC_SIGNATURE


@EXTENSIONS
@settings(max_examples=200, deadline=None)
@given(key=st.binary(max_size=150), payload=st.binary(max_size=400))
def test_hmac_is_the_hmac_modules(extensions: bool, key: bytes, payload: bytes) -> None:
    # Keys longer than a block (64 bytes) are hashed first (RFC 2104): both sides covered.
    with rounds(extensions):
        expected = hmac.new(key, payload, hashlib.sha256).hexdigest().encode()
        assert OrderRequestWriter(key).signature_of(payload) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.binary(max_size=80),
    st.lists(st.tuples(st.sampled_from([b"", b"a" * 64, b"a" * 63 + b"b"]), st.binary(max_size=200)),
             max_size=12),
)  # fmt: skip
def test_one_writers_signatures_stay_the_hmac_modules_as_first_blocks_repeat_or_change(
    key: bytes, payloads: list[tuple[bytes, bytes]]
) -> None:
    # The writer keeps the inner state after the last payload's first block: payloads
    # starting with the same 64 bytes, with others, or shorter than a block, in any order.
    writer = OrderRequestWriter(key)
    for start, rest in payloads:
        payload = start + rest
        expected = hmac.new(key, payload, hashlib.sha256).hexdigest().encode()
        assert writer.signature_of(payload) == expected


def test_the_writer_hides_its_key_and_does_not_pickle() -> None:
    writer = OrderRequestWriter(DOC_SECRET)
    assert "Nhq" not in repr(writer)
    with pytest.raises(TypeError):
        pickle.dumps(writer)


# -- the rate windows against a model ------------------------------------------------------------


class ModelWindow:
    """One limit's window as Binance counts it: fixed intervals aligned on the clock."""

    def __init__(self, cost_index: int, interval: int, most: int) -> None:
        self.cost_index, self.interval, self.most = cost_index, interval, most
        self.start, self.used = -1, 0

    def roll(self, now: int) -> None:
        start = (now // self.interval) * self.interval
        if start != self.start:
            self.start, self.used = start, 0


def model_wait(windows: list[ModelWindow], blocked: int, now: int, weight: int, orders: int) -> int:
    waits = [blocked - now, 0]
    for window in windows:
        window.roll(now)
        cost = (weight, 1, orders)[window.cost_index]
        if cost > 0 and window.used + cost > window.most:
            waits.append(window.start + window.interval - now)  # the next interval
    return max(waits)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(1, 50), st.integers(1, 8)), min_size=1, max_size=5
    ),
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 4), st.integers(0, 2), st.booleans()),
        max_size=60,
    ),
    st.integers(-200, 200),
)
def test_rate_windows_wait_and_count_as_the_model(
    limits: list[tuple[int, int, int]], steps: list[tuple[int, int, int, bool]], blocked: int
) -> None:
    windows = RateWindows(len(limits))
    model = []
    for index, (cost_index, interval, most) in enumerate(limits):
        windows.set(index, cost_index, interval, most)
        model.append(ModelWindow(cost_index, interval, most))
    windows.blocked_until_ms = blocked
    now, counted = 0, 0
    for advance, weight, orders, count in steps:
        now += advance
        wait = windows.wait_ms(now, weight, orders)
        assert wait == model_wait(model, blocked, now, weight, orders)
        if count and wait == 0:
            windows.count(weight, orders)
            counted += 1
            for window in model:
                window.used += (weight, 1, orders)[window.cost_index]
        assert [windows.used_of(i) for i in range(len(limits))] == [w.used for w in model]
    assert windows.acquired == counted


def test_rate_windows_refuse_bad_indexes_and_limits() -> None:
    windows = RateWindows(1)
    with pytest.raises(IndexError):
        windows.used_of(1)
    with pytest.raises(ValueError, match="positive interval"):
        windows.set(0, 0, 0, 10)
    with pytest.raises(ValueError, match="cost_index"):
        windows.set(0, 3, 10, 10)


# -- requests against the Python way ------------------------------------------------------------


class Recorder:
    """What the writer hands its request to (the transport's ``send_bytes_now``): the
    integration tests write on the real transport; here only the bytes matter."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.written: list[bytes] = []

    def send_bytes_now(self, request: bytes) -> object | None:
        if not self.accept:
            return None
        self.written.append(request)
        return object()


def python_way(
    secret: bytes, recv_window: int, timestamp: int, arguments: dict[str, Any]
) -> bytes:
    """The request as the REST client's Python path writes it: encode_params, Signer."""
    params = _new_order_params(**arguments)
    query = f"{encode_params(params)}&recvWindow={recv_window}&timestamp={timestamp}"
    return HEAD + Signer(secret).sign(query).encode() + TAIL


def write(writer: OrderRequestWriter, transport: Recorder, limiter: RateLimiter,
          offset: int, arguments: dict[str, Any]) -> Any:  # fmt: skip
    writer.set_frame(transport, HEAD, TAIL)
    a = arguments
    return writer.write_new_order(
        limiter.windows, None, offset, 5000, transport, a["symbol"], a["side"],
        a["order_type"], a["quantity"], a["price"], a["time_in_force"],
        a["client_order_id"], a["stop_price"], a["quote_order_qty"], a["response_type"], 1, 1,
    )  # fmt: skip


UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
texts = st.text(alphabet=UNRESERVED, max_size=20)


@st.composite
def decimals(draw: st.DrawFn) -> Any:
    precision = draw(st.integers(0, 9))
    raw = draw(st.integers(0, 10**15))
    kind = draw(st.sampled_from(["price", "quantity", "text", "negative price"]))
    if kind == "price":
        return Price.from_raw(raw, precision)
    if kind == "negative price":
        return Price.from_raw(-raw, precision)
    if kind == "quantity":
        return Quantity.from_raw(raw, precision)
    return str(Quantity.from_raw(raw, precision))


def order_arguments() -> st.SearchStrategy[dict[str, Any]]:
    optional_text = st.none() | texts
    return st.fixed_dictionaries(
        {
            "symbol": texts,
            "side": st.sampled_from(["BUY", "SELL"]),
            "order_type": st.sampled_from(["LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS_LIMIT"]),
            "quantity": st.none() | decimals(),
            "price": st.none() | decimals(),
            "time_in_force": optional_text,
            "client_order_id": optional_text,
            "stop_price": st.none() | decimals(),
            "quote_order_qty": st.none() | decimals(),
            "response_type": st.sampled_from(["ACK", "RESULT", "FULL"]),
        }
    )


@settings(max_examples=300, deadline=None)
@given(order_arguments(), st.binary(max_size=80), st.integers(-10**6, 10**6))
def test_a_request_is_the_python_ways_bytes(
    arguments: dict[str, Any], secret: bytes, offset: int
) -> None:
    transport, limiter = Recorder(), RateLimiter(DEFAULT_RATE_LIMITS)
    with pytest.MonkeyPatch.context() as patch:  # the writer reads time.time_ns per call
        patch.setattr(time, "time_ns", lambda: 1_763_884_800_123_456_789)
        written = write(OrderRequestWriter(secret), transport, limiter, offset, arguments)
    assert written is not None and written is not NotImplemented
    timestamp = 1_763_884_800_123 + offset
    expected = python_way(secret, 5000, timestamp, arguments)
    assert transport.written == [expected]
    signed, _ = written
    assert HEAD + signed + TAIL == expected
    assert limiter.stats.acquired == 1


BASE: dict[str, Any] = dict(
    symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=Quantity.from_raw(1, 3),
    price=Price.from_raw(6_000_012, 2), time_in_force="GTC", client_order_id="O-1",
    stop_price=None, quote_order_qty=None, response_type="FULL",
)  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        {"client_order_id": "zq:now/1"},  # to URL-encode
        {"symbol": "BTCÜSD"},  # not ASCII
        {"quantity": Decimal("0.1")},  # a Decimal's text: the Python way's _decimal_text
        {"quantity": "1E-8"},  # an exponent, rewritten by the Python way
        {"price": 5},  # an int
        {"symbol": "x" * 3000},  # longer than the buffer
    ],
)
def test_what_the_writer_does_not_handle_goes_the_python_way_untouched(
    change: dict[str, Any],
) -> None:
    transport, limiter = Recorder(), RateLimiter(DEFAULT_RATE_LIMITS)
    result = write(OrderRequestWriter(b"k"), transport, limiter, 0, {**BASE, **change})
    assert result is NotImplemented
    assert transport.written == [] and limiter.stats.acquired == 0


def test_a_request_the_limiter_holds_or_the_transport_refuses_is_not_counted() -> None:
    limiter = RateLimiter(DEFAULT_RATE_LIMITS)
    limiter.block(5)
    transport = Recorder()
    assert write(OrderRequestWriter(b"k"), transport, limiter, 0, BASE) is None
    assert transport.written == [] and limiter.stats.acquired == 0
    limiter._blocked_until_ms = 0
    refusing = Recorder(accept=False)
    assert write(OrderRequestWriter(b"k"), refusing, limiter, 0, BASE) is None
    assert limiter.stats.acquired == 0
    assert write(OrderRequestWriter(b"k"), transport, limiter, 0, BASE) is not None
    assert limiter.stats.acquired == 1 and len(transport.written) == 1


def test_a_writer_without_the_transports_frame_asks_for_the_python_way() -> None:
    writer, limiter = OrderRequestWriter(b"k"), RateLimiter(DEFAULT_RATE_LIMITS)
    writer.set_frame(Recorder(), HEAD, TAIL)
    a = BASE
    other = Recorder()
    result = writer.write_new_order(
        limiter.windows, None, 0, 5000, other, a["symbol"], a["side"], a["order_type"],
        a["quantity"], a["price"], a["time_in_force"], a["client_order_id"], None, None,
        a["response_type"], 1, 1,
    )  # fmt: skip
    assert result is NotImplemented and other.written == []


# -- the write on the transport's idle connection, against send_bytes_now ----------------------


class FakeSocket:
    """A connection's socket transport: keeps what is written, or refuses it."""

    def __init__(self, closing: bool = False, refuse: bool = False) -> None:
        self.closing = closing
        self.refuse = refuse
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.refuse:
            raise OSError("broken pipe")
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing or self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


CONNECTION_STATES = ["idle", "closed", "closing", "stale", "refusing", "no transport"]


def idle_transport(
    loop: asyncio.AbstractEventLoop, states: list[str], free: int, waiting: bool, closed: bool
) -> HttpTransport:
    """An HttpTransport whose idle connections (taken from the end) are in ``states``."""
    transport = HttpTransport("http://127.0.0.1:9", idle_timeout_s=15.0, max_connections=4)
    for state in states:
        connection = _Connection()
        connection.loop = loop
        if state != "no transport":
            connection.transport = FakeSocket(  # type: ignore[assignment]
                closing=state == "closing", refuse=state == "refusing"
            )
        connection.closed = state == "closed"
        if state == "stale":
            connection.idle_since -= 16.0
        transport._idle.append(connection)
    transport._free = free
    transport._closed = closed
    if waiting:
        transport._waiters.append(loop.create_future())
    return transport


def transport_state(transport: HttpTransport, connections: list[_Connection]) -> Any:
    def state(connection: _Connection) -> Any:
        socket = connection.transport
        answer = connection.answer
        return (
            connection.closed,
            None if socket is None else (tuple(socket.written), socket.closed),  # type: ignore[attr-defined]
            None if answer is None else (answer.done(), answer.done() and repr(answer.exception())),
            connection in transport._busy,
            connection in transport._idle,
        )

    return transport._free, [state(connection) for connection in connections]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(CONNECTION_STATES), max_size=4),
    st.integers(0, 2),
    st.booleans(),
    st.booleans(),
)
def test_the_write_on_an_idle_connection_is_send_bytes_nows(
    states: list[str], free: int, waiting: bool, closed: bool
) -> None:
    loop = asyncio.new_event_loop()
    try:
        compiled = idle_transport(loop, states, free, waiting, closed)
        reference = idle_transport(loop, states, free, waiting, closed)
        compiled_connections, reference_connections = list(compiled._idle), list(reference._idle)
        limiter = RateLimiter(DEFAULT_RATE_LIMITS)
        written = write(OrderRequestWriter(b"k"), compiled, limiter, 0, BASE)  # type: ignore[arg-type]
        if written is None:
            request = b"POST /api/v3/order?symbol=BTCUSDT HTTP/1.1\r\n\r\n"
            assert limiter.stats.acquired == 0
        else:
            signed, exchange = written
            request = HEAD + signed + TAIL
            assert limiter.stats.acquired == 1
            assert exchange.connection in compiled._busy
        expected = reference.send_bytes_now(request)
        assert (written is None) == (expected is None)
        assert transport_state(compiled, compiled_connections) == transport_state(
            reference, reference_connections
        )
    finally:
        loop.close()
