from __future__ import annotations

import msgspec
import pytest

from tests.unit.model.samples import all_samples
from zq.model.serialization import MESSAGE_TYPES, from_json, from_msgpack, to_json, to_msgpack

SAMPLES = all_samples()


def _id(sample) -> str:
    return type(sample).__name__


@pytest.mark.parametrize("sample", SAMPLES, ids=_id)
def test_json_round_trip_gives_an_equal_value_of_the_same_type(sample):
    decoded = from_json(to_json(sample), type(sample))
    assert type(decoded) is type(sample)
    assert decoded == sample
    assert to_json(decoded) == to_json(sample)


@pytest.mark.parametrize("sample", SAMPLES, ids=_id)
def test_msgpack_round_trip_gives_an_equal_value_of_the_same_type(sample):
    decoded = from_msgpack(to_msgpack(sample), type(sample))
    assert type(decoded) is type(sample) and decoded == sample


@pytest.mark.parametrize("sample", [s for s in SAMPLES if type(s) in MESSAGE_TYPES], ids=_id)
def test_untyped_decode_finds_the_type_from_its_tag(sample):
    assert from_json(to_json(sample)) == sample
    assert from_msgpack(to_msgpack(sample)) == sample


def test_every_message_type_has_a_sample():
    assert set(MESSAGE_TYPES) <= {type(s) for s in SAMPLES}


def test_prices_travel_as_exact_decimal_strings():
    tick = next(s for s in SAMPLES if type(s).__name__ == "QuoteTick")
    assert b'"bid_price":"100.01"' in to_json(tick)


def test_identifier_fields_decode_to_identifier_types():
    tick = next(s for s in SAMPLES if type(s).__name__ == "TradeTick")
    decoded = from_json(to_json(tick))
    assert type(decoded.instrument_id).__name__ == "InstrumentId"
    assert type(decoded.trade_id).__name__ == "TradeId"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (
            b'{"type":"QuoteTick","instrument_id":"BTCUSDT","bid_price":"1","ask_price":"1",'
            b'"bid_size":"1","ask_size":"1","ts_event":1,"ts_init":1}',
            "instrument_id",
        ),
        (
            b'{"type":"QuoteTick","instrument_id":"X.Y","bid_price":"abc","ask_price":"1",'
            b'"bid_size":"1","ask_size":"1","ts_event":1,"ts_init":1}',
            "bid_price",
        ),
        (
            b'{"type":"TradeTick","instrument_id":"X.Y","price":"1","size":"-1","aggressor_side":1,'
            b'"trade_id":"T","ts_event":1,"ts_init":1}',
            "size",
        ),
        (b'{"type":"Nope"}', "Nope"),
    ],
)
def test_malformed_message_is_refused_naming_the_field(payload, fragment):
    with pytest.raises(msgspec.ValidationError, match=fragment):
        from_json(payload)


# --- The trade's wire format, pinned -------------------------------------------------------
# Written down from the msgspec Struct TradeTick before it became a compiled class, and
# checked field by field below: a trade must encode to the very same bytes.

PINNED_TRADE_JSON = (
    b'{"type":"TradeTick",'  # the union's tag: the class name, first
    b'"instrument_id":"BTCUSDT.BINANCE",'  # identifiers as plain strings
    b'"price":"42000.10",'  # Price as a decimal string, its precision (2) kept
    b'"size":"0.500",'  # Quantity likewise (precision 3)
    b'"aggressor_side":2,'  # AggressorSide.SELLER by value
    b'"trade_id":"123456789",'
    b'"ts_event":1700000000000000000,'
    b'"ts_init":1700000000000000001}'
)


def _pinned_trade_msgpack() -> bytes:
    # The same map by the MessagePack spec: fixmap (0x80 | 8 entries), fixstr (0xa0 | length)
    # keys and strings, positive fixint 2, and uint 64 (0xcf + 8 bytes big-endian) for the
    # nanosecond stamps (1.7e18 needs more than 32 bits).
    def text(value: str) -> bytes:
        assert len(value) < 32
        return bytes([0xA0 | len(value)]) + value.encode()

    def uint64(value: int) -> bytes:
        return b"\xcf" + value.to_bytes(8, "big")

    return b"".join(
        [
            bytes([0x80 | 8]),
            text("type") + text("TradeTick"),
            text("instrument_id") + text("BTCUSDT.BINANCE"),
            text("price") + text("42000.10"),
            text("size") + text("0.500"),
            text("aggressor_side") + b"\x02",
            text("trade_id") + text("123456789"),
            text("ts_event") + uint64(1_700_000_000_000_000_000),
            text("ts_init") + uint64(1_700_000_000_000_000_001),
        ]
    )


def _pinned_trade():
    from zq.model.data import TradeTick
    from zq.model.enums import AggressorSide
    from zq.model.identifiers import InstrumentId, TradeId
    from zq_core.fixed import Price, Quantity

    return TradeTick(
        InstrumentId("BTCUSDT.BINANCE"),
        Price.from_str("42000.10"),
        Quantity.from_str("0.500"),
        AggressorSide.SELLER,
        TradeId("123456789"),
        1_700_000_000_000_000_000,
        1_700_000_000_000_000_001,
    )


def test_a_trade_encodes_to_the_pinned_json_and_msgpack():
    trade = _pinned_trade()
    assert to_json(trade) == PINNED_TRADE_JSON
    assert to_msgpack(trade) == _pinned_trade_msgpack()


@pytest.mark.parametrize("kind", [None, "TradeTick"])
def test_the_pinned_trade_bytes_decode_to_the_trade(kind):
    from zq.model.data import TradeTick

    trade = _pinned_trade()
    as_type = TradeTick if kind else None
    for decoded in (
        from_json(PINNED_TRADE_JSON, as_type),
        from_msgpack(_pinned_trade_msgpack(), as_type),
    ):
        assert type(decoded) is TradeTick and decoded == trade
        assert type(decoded.trade_id).__name__ == "TradeId"
        assert decoded.aggressor_side is trade.aggressor_side


def test_a_trade_made_from_raw_fields_encodes_to_the_same_bytes():
    from zq.model.data import TradeTick
    from zq.model.identifiers import InstrumentId

    # 42000.10 at precision 2, 0.500 at precision 3, SELLER (2): as the replay loop makes it.
    trade = TradeTick.from_raw(
        InstrumentId("BTCUSDT.BINANCE"),
        4_200_010,
        2,
        500,
        3,
        2,
        123_456_789,
        1_700_000_000_000_000_000,
        1_700_000_000_000_000_001,
    )
    assert trade == _pinned_trade()
    assert to_json(trade) == PINNED_TRADE_JSON
    assert to_msgpack(trade) == _pinned_trade_msgpack()


def test_trades_nested_in_a_list_round_trip_and_bad_ones_name_the_field():
    from zq.model.data import TradeTick

    trades = [_pinned_trade(), _pinned_trade()]
    assert to_json(trades) == b"[" + PINNED_TRADE_JSON + b"," + PINNED_TRADE_JSON + b"]"
    for decoded in (
        from_json(to_json(trades), list[TradeTick]),
        from_msgpack(to_msgpack(trades), list[TradeTick]),
    ):
        assert [type(t) for t in decoded] == [TradeTick, TradeTick]
        assert decoded == trades
    bad = b"[" + PINNED_TRADE_JSON.replace(b'"0.500"', b'"-0.5"') + b"]"
    with pytest.raises(msgspec.ValidationError, match=r"Quantity '-0.5'.*size"):
        from_json(bad, list[TradeTick])
