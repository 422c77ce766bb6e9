"""The WebSocket frame parser and encoder against RFC 6455's own examples (section 5.7) and
frames built here byte by byte: lengths on 7/16/64 bits, frames split anywhere and several
in one read, fragmented messages with control frames between, and each way a server's
frame can break the protocol."""

from __future__ import annotations

import asyncio
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zq.adapters.binance.ws_connection import (
    FrameParser,
    Opcode,
    WebSocketConnection,
    WebSocketProtocolError,
    accept_key,
    encode_frame,
)

TEXT, BINARY, CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION
CLOSE, PING, PONG = Opcode.CLOSE, Opcode.PING, Opcode.PONG


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A server frame (unmasked), laid out by hand as in RFC 6455 section 5.2."""
    first = (0x80 if fin else 0) | rsv | opcode
    size = len(payload)
    if size < 126:
        return struct.pack("!BB", first, size) + payload
    if size < 65_536:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


# -- RFC 6455, section 5.7 -------------------------------------------------------------------


def test_the_rfc_examples_parse_to_their_messages():
    parser = FrameParser()
    assert parser.feed(bytes([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])) == [(TEXT, b"Hello")]
    fragmented = bytes([0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F])
    assert parser.feed(fragmented) == [(TEXT, b"Hello")]
    assert parser.feed(bytes([0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])) == [(PING, b"Hello")]
    body = os.urandom(256)
    assert parser.feed(bytes([0x82, 0x7E, 0x01, 0x00]) + body) == [(BINARY, body)]
    body = os.urandom(65_536)
    head = bytes([0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00])
    assert parser.feed(head + body) == [(BINARY, body)]


def test_a_masked_frame_is_encoded_as_in_the_rfc():
    masked = encode_frame(TEXT, b"Hello", bytes([0x37, 0xFA, 0x21, 0x3D]))
    assert masked == bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
    assert encode_frame(PONG, b"Hello") == bytes([0x8A, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])


def test_the_handshake_accept_key_is_the_rfc_example():
    # Section 1.3: the key "dGhlIHNhbXBsZSBub25jZQ==" is answered by this accept value.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
def test_encoded_lengths_cross_the_7_16_64_bit_boundaries(size):
    payload = os.urandom(size)
    mask = os.urandom(4)
    encoded = encode_frame(BINARY, payload, mask)
    head = 2 if size < 126 else 4 if size < 65_536 else 10
    assert encoded[1] & 0x80 and encoded[head : head + 4] == mask
    unmasked = bytes(b ^ mask[i % 4] for i, b in enumerate(encoded[head + 4 :]))
    assert unmasked == payload
    assert FrameParser().feed(encode_frame(BINARY, payload)) == [(BINARY, payload)]


# -- splitting and grouping ------------------------------------------------------------------


def test_frames_split_at_every_byte_come_out_whole_and_in_order():
    stream = (
        frame(TEXT, b'{"a":1}')
        + frame(BINARY, os.urandom(300))  # 16-bit length
        + frame(TEXT, b"x" * 70_000)  # 64-bit length
        + frame(PING, b"p")
    )
    whole = FrameParser().feed(stream)
    assert [opcode for opcode, _ in whole] == [TEXT, BINARY, TEXT, PING]
    parser = FrameParser()
    pieces: list[tuple[int, bytes]] = []
    for index in range(len(stream)):  # one byte per read
        pieces += parser.feed(stream[index : index + 1])
    assert pieces == whole


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 70_000), min_size=1, max_size=5),
    cuts=st.lists(st.integers(1, 80_000), max_size=8),
)
def test_any_cut_of_a_stream_gives_the_same_messages(sizes, cuts):
    payloads = [bytes([n % 251]) * size for n, size in enumerate(sizes)]
    stream = b"".join(frame(BINARY, payload) for payload in payloads)
    parser = FrameParser()
    got: list[tuple[int, bytes]] = []
    start = 0
    for cut in sorted(set(cuts)):
        got += parser.feed(stream[start:cut])
        start = max(start, cut)
    got += parser.feed(stream[start:])
    assert got == [(BINARY, payload) for payload in payloads]


def test_a_fragmented_message_with_control_frames_between_its_fragments():
    stream = (
        frame(TEXT, b"first ", fin=False)
        + frame(PING, b"1")
        + frame(CONT, b"second ", fin=False)
        + frame(PONG, b"")
        + frame(CONT, b"third")
        + frame(BINARY, b"\x00\x01")
    )
    assert FrameParser().feed(stream) == [
        (PING, b"1"),
        (PONG, b""),
        (TEXT, b"first second third"),
        (BINARY, b"\x00\x01"),
    ]


def test_a_fragmented_binary_message_split_across_reads_keeps_its_opcode():
    parser = FrameParser()
    assert parser.feed(frame(BINARY, b"ab", fin=False)) == []
    assert parser.feed(frame(CONT, b"cd", fin=False)[:3]) == []
    assert parser.feed(frame(CONT, b"cd", fin=False)[3:] + frame(CONT, b"e")) == [
        (BINARY, b"abcde")
    ]


# -- what breaks the protocol ----------------------------------------------------------------


def _fails(data: bytes, match: str, parser: FrameParser | None = None) -> WebSocketProtocolError:
    with pytest.raises(WebSocketProtocolError, match=match) as caught:
        (parser or FrameParser()).feed(data)
    return caught.value


def test_a_masked_frame_from_the_server_is_refused_naming_its_place():
    good = frame(TEXT, b"fine")
    masked = bytes([0x81, 0x80 | 2]) + b"\x01\x02\x03\x04" + b"ab"
    error = _fails(good + masked, "masked")
    assert f"at byte {len(good)} " in str(error) and error.close_code == 1002


def test_the_place_of_a_bad_frame_counts_bytes_of_earlier_reads():
    parser = FrameParser()
    parser.feed(frame(TEXT, b"12345"))  # 7 bytes
    assert "at byte 7 " in str(_fails(frame(TEXT, b"x", rsv=0x40), "reserved bits", parser))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (frame(TEXT, b"x", rsv=0x40), "reserved bits"),
        (frame(0x3, b"x"), "reserved data opcode 0x3"),
        (frame(0xB, b"x"), "reserved control opcode 0xb"),
        (frame(PING, b"x", fin=False), "fragmented control frame"),
        (frame(PING, b"x" * 126), "control frame of 126 bytes"),
        (frame(CONT, b"x"), "continuation frame with no message"),
        (frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"), "new message before"),
        (bytes([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]), "top bit"),
    ],
)
def test_each_protocol_breach_is_named(data, match):
    _fails(data, match)


def test_a_message_over_the_cap_fails_before_its_bytes_are_awaited():
    parser = FrameParser(max_message_bytes=1000)
    error = _fails(frame(BINARY, b"x" * 1001)[:4], "over 1000 bytes", parser)
    assert error.close_code == 1009
    parser = FrameParser(max_message_bytes=1000)  # fragments count together
    parser.feed(frame(TEXT, b"x" * 600, fin=False))
    _fails(frame(CONT, b"x" * 600), "over 1000 bytes", parser)


def test_messages_complete_before_a_bad_frame_in_the_same_read_are_kept_on_the_error():
    error = _fails(frame(TEXT, b"one") + frame(PING, b"") + frame(0x3, b""), "reserved data")
    assert error.messages_before == [(TEXT, b"one"), (PING, b"")]


# -- the connection's reads: one whole text frame per read skips the parser's loop --------


class _Transport:
    """What a connection writes (pongs, close frames); no socket needed to read frames."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True


def _open_connection() -> tuple[WebSocketConnection, list[tuple[bytes, bool]]]:
    received: list[tuple[bytes, bool]] = []
    connection = WebSocketConnection(
        "example", "/", lambda payload, is_text: received.append((payload, is_text))
    )
    connection.transport = _Transport()  # type: ignore[assignment]
    connection._handshaking = False  # the handshake is tested over loopback
    return connection, received


@settings(max_examples=80, deadline=None)
@given(
    messages=st.lists(
        st.tuples(st.sampled_from([TEXT, BINARY, PING]), st.integers(0, 400)),
        min_size=1,
        max_size=6,
    ),
    cuts=st.lists(st.integers(1, 3_000), max_size=6),
)
def test_reads_give_the_parsers_messages_however_the_stream_is_cut(messages, cuts):
    # Whole 16-bit-length text frames alone in a read take the connection's short way;
    # every other read goes through the parser: both hand on the same messages in order.
    async def run() -> None:
        connection, received = _open_connection()
        payloads = [
            (opcode, bytes([65 + n % 26]) * (min(size, 125) if opcode == PING else size))
            for n, (opcode, size) in enumerate(messages)
        ]
        stream = b"".join(frame(opcode, payload) for opcode, payload in payloads)
        bounds = sorted({cut for cut in cuts if cut < len(stream)})
        reads = [stream[a:b] for a, b in zip([0, *bounds], [*bounds, len(stream)], strict=True)]
        # And each frame alone in its read, the venue's usual case.
        reads += [frame(opcode, payload) for opcode, payload in payloads]
        for read in reads:
            connection.data_received(read)
        data = [(payload, opcode == TEXT) for opcode, payload in payloads if opcode != PING]
        assert received == data + data
        assert connection._parser._offset == 2 * len(stream)

    asyncio.run(run())


def test_the_place_of_a_bad_frame_counts_the_whole_text_frames_read_before_it():
    async def run() -> None:
        connection, received = _open_connection()
        whole = frame(TEXT, b"q" * 200)  # 204 bytes: the short way
        connection.data_received(whole)
        connection.data_received(frame(TEXT, b"x", rsv=0x40))
        assert received == [(b"q" * 200, True)]
        assert isinstance(connection.error, WebSocketProtocolError)
        assert f"at byte {len(whole)} " in str(connection.error)

    asyncio.run(run())


def test_a_text_frame_over_the_cap_is_refused_even_alone_in_its_read():
    async def run() -> None:
        received: list[tuple[bytes, bool]] = []
        connection = WebSocketConnection(
            "example", "/", lambda p, t: received.append((p, t)), max_message_bytes=150
        )
        connection.transport = _Transport()  # type: ignore[assignment]
        connection._handshaking = False
        connection.data_received(frame(TEXT, b"q" * 200))
        assert received == []
        assert connection.close_code == 1009

    asyncio.run(run())
