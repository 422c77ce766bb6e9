"""The compiled answer-head reader (zq_core.binance_request.read_answer_head) against the
transport's Python reader (transport._parse_head), its reference: the same status and headers
for every head it takes, and None (the Python reader then reads it, or names what is wrong)
for the others, on real answers and generated heads."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from zq.adapters.binance.transport import HttpTransportError, _parse_head
from zq_core.binance_request import read_answer_head

SANDBOX_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Content-Length: 402\r\nDate: Mon, 23 Nov 2026 22:11:28 GMT\r\nServer: zq-sandbox\r\n"
    b"X-MBX-ORDER-COUNT-10S: 1\r\nX-MBX-ORDER-COUNT-1D: 1\r\nX-MBX-USED-WEIGHT-1M: 50"
)


def python_way(head: bytes) -> tuple[int, dict[str, str]] | None:
    try:
        return _parse_head(head.decode("latin-1"))
    except (HttpTransportError, ValueError):
        return None


def test_a_sandbox_answers_head_is_read_as_the_python_reader_reads_it() -> None:
    fields = read_answer_head(bytearray(SANDBOX_ANSWER + b"\r\n\r\n{}"), len(SANDBOX_ANSWER))
    assert fields == python_way(SANDBOX_ANSWER)
    assert fields is not None and fields[0] == 200
    assert fields[1]["x-mbx-used-weight-1m"] == "50"


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200",  # no reason, no headers
        b"HTTP/1.0 404 Not Found\r\nA:",  # an empty value
        b"HTTP/1.1 200 OK\r\nA: 1\r\nA: 2",  # the last one kept
        b"HTTP/1.1 200 OK\r\nX-Y:\t a:b \t",  # a colon in the value, tabs around it
        b"HTTP/1.1 0200 OK\r\nK: v",
    ],
)
def test_usual_heads_are_read_as_the_python_reader_reads_them(head: bytes) -> None:
    fields = read_answer_head(bytearray(head), len(head))
    assert fields is not None and fields == python_way(head)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/2 200 OK",  # not HTTP/1.x
        b"HTTP/1.1  200 OK",  # two spaces: no status
        b"HTTP/1.1 2x0 OK",
        b"HTTP/1.1 1234567890 OK",  # a status longer than kept
        b"HTTP/1.1 200 OK\r\nno colon",
        b"HTTP/1.1 200 OK\r\n: no name",
        b"HTTP/1.1 200 OK\r\nName : spaced",
        b"HTTP/1.1 200 OK\r\n Name: folded",
        b"HTTP/1.1 200 OK\r\nA: \xe9t\xe9",  # past ASCII
        b"HTTP/1.1 200 OK\r\nA: b\nC: d",  # a bare line feed
        b"HTTP/1.1 200 OK\r\nA: b\rC: d",  # a bare carriage return
        b"HTTP/1.1 200 OK\r\n" + b"N" * 300 + b": v",  # a name longer than kept
    ],
)
def test_other_heads_are_left_to_the_python_reader(head: bytes) -> None:
    assert read_answer_head(bytearray(head), len(head)) is None


def test_only_the_heads_bytes_are_read() -> None:
    buffer = bytearray(b"HTTP/1.1 204 No Content\r\nA: 1\r\n\r\nB: 2")
    end = buffer.find(b"\r\n\r\n")
    assert read_answer_head(buffer, end) == (204, {"a": "1"})
    assert read_answer_head(buffer, len(buffer) + 1) is None


_LINE_BYTES = st.sampled_from(
    [b"a", b"Z", b"-", b"0", b"9", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\xa0", b"\x1f"]
)


@settings(max_examples=500, deadline=None)
@given(
    status=st.one_of(st.integers(0, 999).map(lambda n: b"%d" % n), st.binary(max_size=4)),
    reason=st.binary(max_size=8),
    lines=st.lists(st.lists(_LINE_BYTES, max_size=12).map(b"".join), max_size=6),
)
@example(status=b"200", reason=b"OK", lines=[b"Content-Length: 2", b"content-length:3"])
def test_generated_heads_are_read_as_the_python_reader_reads_them_or_left_to_it(
    status: bytes, reason: bytes, lines: list[bytes]
) -> None:
    head = b"HTTP/1.1 " + status + (b" " + reason if reason else b"")
    for line in lines:
        head += b"\r\n" + line
    fields = read_answer_head(bytearray(head), len(head))
    if fields is not None:
        assert fields == python_way(head)


_NAMES = st.text("abcXYZ-019", min_size=1, max_size=20)
_VALUES = st.text("abc XYZ\t;=/:,.-019", max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    status=st.integers(100, 599),
    reason=st.text("OKNot Found", max_size=12),
    headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=10),
)
def test_generated_well_formed_heads_are_all_read_compiled(
    status: int, reason: str, headers: list[tuple[str, str]]
) -> None:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{name}:{value}" for name, value in headers]
    head = "\r\n".join(lines).encode("ascii")
    fields = read_answer_head(bytearray(head), len(head))
    assert fields is not None and fields == python_way(head)
