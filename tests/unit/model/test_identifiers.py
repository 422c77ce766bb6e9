from __future__ import annotations

import pickle

import pytest

from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    StrategyId,
    Symbol,
    TraderId,
    Venue,
)


def test_instrument_id_splits_symbol_and_venue_on_the_last_dot():
    instrument_id = InstrumentId("BRK.B.XNYS")
    assert instrument_id.symbol == Symbol("BRK.B")
    assert instrument_id.venue == Venue("XNYS")
    assert InstrumentId.from_parts("BTCUSDT", "BINANCE") == "BTCUSDT.BINANCE"


def test_an_instrument_ids_venue_is_made_once_and_read_as_the_same_venue():
    first = InstrumentId("ESZ6.XCME")
    venue = first.venue
    assert type(venue) is Venue and venue == "XCME"
    assert first.venue is venue
    assert InstrumentId("ESZ6.XCME").venue is venue  # another id, the same value
    assert InstrumentId("NQZ6.XCME").venue is venue  # another instrument, the same venue
    assert InstrumentId.venue.__doc__ == "The venue part."


@pytest.mark.parametrize(
    ("kind", "value", "fragment"),
    [
        (InstrumentId, "BTCUSDT", "SYMBOL.VENUE"),
        (InstrumentId, ".BINANCE", "SYMBOL.VENUE"),
        (InstrumentId, "BTCUSDT.binance", "upper-case"),
        (TraderId, "TRADER", "NAME-TAG"),
        (StrategyId, "EMA-", "NAME-TAG"),
        (AccountId, "-001", "NAME-TAG"),
        (ClientOrderId, "", "must not be empty"),
        (ClientOrderId, "O 1", "without spaces"),
        (ClientOrderId, "O-\n1", "printable"),
        (Venue, "Binance", "upper-case"),
    ],
)
def test_invalid_identifier_is_refused_naming_type_and_value(kind, value, fragment):
    with pytest.raises(ValueError, match=fragment) as raised:
        kind(value)
    assert kind.__name__ in str(raised.value)


def test_non_string_identifier_is_a_type_error():
    with pytest.raises(TypeError, match="ClientOrderId must be a str, got int"):
        ClientOrderId(5)  # type: ignore[arg-type]


def test_identifiers_hash_and_compare_as_their_string():
    orders = {ClientOrderId("O-1"): 1}
    assert orders[ClientOrderId("O-1")] == 1
    assert repr(ClientOrderId("O-1")) == "ClientOrderId('O-1')"
    assert AccountId("BINANCE-001").venue == Venue("BINANCE")


def test_identifiers_pickle_to_their_own_type():
    value = pickle.loads(pickle.dumps(InstrumentId("ESH4.GLBX")))
    assert type(value) is InstrumentId and value == "ESH4.GLBX"
