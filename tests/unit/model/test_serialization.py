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
