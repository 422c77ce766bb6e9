"""The compiled bookTicker decoder (zq_core.book_ticker) against the general way (msgspec and
the exact one-value parser, MarketDataParser.quote): the same quote for every message of
Binance's own shape, and None, never a different quote, for anything else."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zq.adapters.binance.errors import BinanceStreamError
from zq.adapters.binance.instruments import parse_symbol
from zq.adapters.binance.parsing import MarketDataParser
from zq.adapters.binance.ws_connection import Opcode, encode_frame
from zq.data.loaders._binance_decimal import decimal_to_raw
from zq.model.data import QuoteTick
from zq_core.book_ticker import FrameReader, FrameTaker
from zq_core.fixed import Price, Quantity

from .test_instruments import BTCUSDT

INSTRUMENT = parse_symbol(BTCUSDT)  # prices at 2 decimals, market sizes at 8
STREAM = b"btcusdt@bookTicker"
# Line 3 of binance/spot/btcusdt_20240808.gz, in its combined-stream envelope.
DATA = b'{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}'


def envelope(data: bytes, stream: bytes = STREAM) -> bytes:
    return b'{"stream":"' + stream + b'","data":' + data + b"}"


def general(data: bytes, ts_init: int) -> QuoteTick | None:
    """The general way's quote, or None where it refuses the message."""
    try:
        return MarketDataParser(INSTRUMENT).quote(data, ts_init)
    except BinanceStreamError:
        return None


def test_a_captured_message_gives_the_general_ways_quote():
    quote = MarketDataParser(INSTRUMENT).book_ticker_decoder().decode(envelope(DATA), 123)
    assert quote == general(DATA, 123)
    assert quote.bid_price == Price.from_raw(6_183_763, 2)  # 61837.63, by hand
    assert quote.ask_size == Quantity.from_raw(154_698_000, 8)  # 1.54698000
    assert quote.ts_event == quote.ts_init == 123  # spot bookTicker carries no time


def test_take_hands_the_quote_on_and_refuses_another_streams_message():
    quotes: list[QuoteTick] = []
    decoder = MarketDataParser(INSTRUMENT).book_ticker_decoder(quotes.append)
    assert decoder.take(envelope(DATA), 5) is True
    assert decoder.take(envelope(DATA, b"ethusdt@bookTicker"), 5) is False
    assert decoder.take(envelope(DATA, b"btcusdt@trade"), 5) is False
    assert quotes == [general(DATA, 5)]


@pytest.mark.parametrize(
    "message",
    [
        envelope(DATA.replace(b"61837.63000000", b"61837.63100000")),  # finer than 2 decimals
        envelope(DATA.replace(b"61837.63000000", b"61837.")),  # no digit after the dot
        envelope(DATA.replace(b"61837.63000000", b".5")),  # no digit before it
        envelope(DATA.replace(b"61837.63000000", b"-1.00")),  # negative
        envelope(DATA.replace(b"61837.63000000", b"6e4")),
        envelope(DATA.replace(b"61837.63000000", b"")),
        envelope(DATA.replace(b'"b":"61837.63000000"', b'"b":61837.63')),  # a number
        envelope(DATA.replace(b"3.78826000", b"1234567890123.123456")),  # 19 digits at 8
        envelope(DATA.replace(b"BTCUSDT", b"ETHUSDT")),  # another symbol
        envelope(DATA.replace(b'"u":50093239212,', b'"u":-1,')),
        envelope(DATA.replace(b"{", b"{ ", 1)),  # white space
        envelope(DATA.replace(b'"u":', b'"E":1,"u":')),  # an event time (not spot's shape)
        envelope(DATA)[:-1],  # cut short
        envelope(DATA) + b" ",
        envelope(DATA.replace(b'"A":"1.54698000"', b'"A":"1.54698000","x":1')),
    ],
)
def test_any_other_shape_is_none_for_the_general_way_to_read_or_refuse(message):
    decoder = MarketDataParser(INSTRUMENT).book_ticker_decoder()
    assert decoder.decode(message, 1) is None


_DECIMAL = st.builds(
    lambda whole, fraction: whole + ("." + fraction if fraction is not None else ""),
    st.text("0123456789", min_size=1, max_size=12),
    st.none() | st.text("0123456789", min_size=1, max_size=12),
)


@settings(max_examples=400, deadline=None)
@given(values=st.tuples(_DECIMAL, _DECIMAL, _DECIMAL, _DECIMAL), update_id=st.integers(0, 10**15))
def test_every_message_of_binances_shape_gives_the_general_ways_quote_or_none(values, update_id):
    bid, bid_size, ask, ask_size = values
    data = (
        f'{{"u":{update_id},"s":"BTCUSDT","b":"{bid}","B":"{bid_size}","a":"{ask}",'
        f'"A":"{ask_size}"}}'
    ).encode()
    decoder = MarketDataParser(INSTRUMENT).book_ticker_decoder()
    quote = decoder.decode(envelope(data), 77)
    expected = general(data, 77)
    if quote is None:
        # Refused here: the general way refuses it too, or a value has over 18 significant
        # digits at its precision (the general way reads those up to int64's top).
        digits = [
            len(str(decimal_to_raw(text, precision)))
            for text, precision in zip(values, (2, 8, 2, 8), strict=True)
            if expected is not None
        ]
        assert expected is None or max(digits) > 18
    else:
        assert quote == expected


def test_unchanged_values_are_handed_out_again_and_changed_ones_made_anew():
    decoder = MarketDataParser(INSTRUMENT).book_ticker_decoder()
    first = decoder.decode(envelope(DATA), 1)
    second = decoder.decode(envelope(DATA.replace(b"61837.64000000", b"61837.65000000")), 2)
    assert second.bid_price is first.bid_price and second.bid_size is first.bid_size
    assert second.ask_price == Price.from_raw(6_183_765, 2) != first.ask_price


# -- FrameTaker: a read holding one whole frame, taken before the connection's parser ------


class _Counters:
    messages = 0


def _taker(on_quote: object) -> tuple[FrameTaker, _Counters, list[bytes]]:
    failed: list[bytes] = []
    stats = _Counters()
    taker = FrameTaker(lambda: 77, stats, failed.append, 1 << 20)
    taker.decoders = [MarketDataParser(INSTRUMENT).book_ticker_decoder(on_quote)]  # type: ignore[arg-type]
    return taker, stats, failed


def test_a_whole_text_frame_of_the_stream_is_taken_with_either_length():
    quotes: list[QuoteTick] = []
    taker, stats, failed = _taker(quotes.append)
    message = envelope(DATA)
    assert len(message) > 125  # a 16-bit length, as Binance's own messages have
    assert taker.take(encode_frame(Opcode.TEXT, message)) is True
    short = b'{"u":1,"s":"BTCUSDT","b":"1.5","B":"2","a":"1.6","A":"3"}'
    assert len(envelope(short)) < 126  # a 7-bit length
    assert taker.take(encode_frame(Opcode.TEXT, envelope(short))) is True
    assert quotes == [general(DATA, 77), general(short, 77)]
    assert stats.messages == 2 and failed == []


@pytest.mark.parametrize(
    "read",
    [
        encode_frame(Opcode.TEXT, envelope(DATA, b"ethusdt@bookTicker")),  # another stream
        encode_frame(Opcode.TEXT, envelope(DATA.replace(b'"B"', b'"X"'))),  # another shape
        encode_frame(Opcode.BINARY, envelope(DATA)),
        encode_frame(Opcode.TEXT, envelope(DATA), mask=b"abcd"),
        encode_frame(Opcode.TEXT, envelope(DATA))[:-1],  # a frame not whole in the read
        encode_frame(Opcode.TEXT, envelope(DATA)) + b"\x89\x00",  # and a ping after it
        bytes([0x01]) + encode_frame(Opcode.TEXT, envelope(DATA))[1:],  # FIN clear
        bytes([0x81, 127]) + len(envelope(DATA)).to_bytes(8, "big") + envelope(DATA),
        b"\x81",
    ],
)
def test_any_other_read_is_left_to_the_parser_untouched(read: bytes):
    quotes: list[QuoteTick] = []
    taker, stats, failed = _taker(quotes.append)
    assert taker.take(read) is False
    assert quotes == [] and stats.messages == 0 and failed == []


def test_a_raising_on_quote_is_reported_inside_its_handling_and_the_read_is_taken():
    seen: list[object] = []

    def on_quote(quote: QuoteTick) -> None:
        raise RuntimeError("a strategy's bug")

    stats = _Counters()
    taker = FrameTaker(lambda: 1, stats, lambda m: seen.append((m, sys.exc_info()[1])), 1 << 20)
    taker.decoders = [MarketDataParser(INSTRUMENT).book_ticker_decoder(on_quote)]
    assert taker.take(encode_frame(Opcode.TEXT, envelope(DATA))) is True
    ((message, error),) = seen
    assert message == envelope(DATA) and str(error) == "a strategy's bug"
    assert stats.messages == 1


def test_a_taker_refuses_a_decoder_with_nothing_to_hand_quotes_to():
    taker = FrameTaker(lambda: 1, _Counters(), lambda m: None, 1 << 20)
    with pytest.raises(ValueError, match="needs an on_quote"):
        taker.decoders = [MarketDataParser(INSTRUMENT).book_ticker_decoder()]
    assert taker.take(encode_frame(Opcode.TEXT, envelope(DATA))) is False  # no decoder


class _Parser:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._offset = 0


class _Connection:
    """What a FrameReader reads of a WebSocketConnection, its events recorded."""

    def __init__(self) -> None:
        self._parser = _Parser()
        self._reads = 0
        self.events: list[tuple[str, object]] = []

    def data_received(self, data: bytes) -> None:
        self._reads += 1
        self.events.append(("data", data))

    def connection_made(self, transport: object) -> None:
        self.events.append(("made", transport))

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("lost", exc))

    def eof_received(self) -> bool:
        self.events.append(("eof", None))
        return True

    def pause_writing(self) -> None:
        self.events.append(("pause", None))

    def resume_writing(self) -> None:
        self.events.append(("resume", None))


@pytest.mark.parametrize("compiled", [True, False])
def test_a_frame_reader_counts_the_reads_taken_and_hands_the_rest_to_the_connection(compiled):
    # A FrameTaker's take is called in C, any other take through Python: the same reads.
    connection = _Connection()
    offered: list[bytes] = []
    taker = FrameTaker(lambda: 1, type("Stats", (), {"messages": 0})(), print, 1 << 16)
    quotes: list[object] = []
    taker.decoders = [MarketDataParser(INSTRUMENT).book_ticker_decoder(quotes.append)]

    def take(data: bytes) -> bool:
        offered.append(data)
        return taker.take(data)

    reader = FrameReader(connection, taker.take if compiled else take)
    assert reader.connection is connection
    quote = encode_frame(Opcode.TEXT, envelope(DATA))
    other = encode_frame(Opcode.TEXT, b'{"stream":"btcusdt@trade","data":{}}')
    reader.data_received(quote)
    assert len(quotes) == 1 and connection._reads == 1
    assert connection._parser._offset == len(quote) and connection.events == []
    reader.data_received(other)  # refused: the connection's, which counts it
    assert connection.events == [("data", other)] and connection._reads == 2
    assert connection._parser._offset == len(quote)
    connection._parser._buffer += b"\x81"  # a partial frame held: not offered
    reader.data_received(quote)
    assert connection.events[-1] == ("data", quote) and len(quotes) == 1
    if not compiled:
        assert offered == [quote, other]
    reader.connection_made("t")
    assert reader.eof_received() is True
    reader.pause_writing()
    reader.resume_writing()
    error = ConnectionResetError()
    reader.connection_lost(error)
    assert connection.events[-5:] == [
        ("made", "t"), ("eof", None), ("pause", None), ("resume", None), ("lost", error)
    ]
