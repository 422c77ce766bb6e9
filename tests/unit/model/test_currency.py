"""Tests of zq.model.currency: Currency validation and the registry."""

from __future__ import annotations

import pickle
from typing import Any

import msgspec
import pytest

from zq.model import currency as currencies
from zq.model.currency import BTC, ETH, JPY, USD, USDT, Currency
from zq.model.enums import CurrencyType
from zq_core.fixed import Money


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register currencies without leaking them into other tests."""
    monkeypatch.setattr(currencies, "_REGISTRY", dict(currencies._REGISTRY))


def test_common_currencies_are_defined_and_registered() -> None:
    for code in currencies.__all__:
        if code == "Currency":
            continue
        defined = getattr(currencies, code)
        assert defined.code == code
        assert Currency.from_str(code) is defined


def test_common_currencies_have_their_usual_precisions() -> None:
    assert (USD.precision, JPY.precision, BTC.precision, ETH.precision) == (2, 0, 8, 8)
    assert USD.iso4217 == 840
    assert USD.is_fiat and not USD.is_crypto
    assert USDT.currency_type is CurrencyType.CRYPTO and USDT.is_crypto


def test_str_is_the_code() -> None:
    assert str(USD) == "USD"
    assert f"{BTC}" == "BTC"


def test_from_str_is_case_insensitive() -> None:
    assert Currency.from_str("usdt") is USDT
    assert Currency.from_str(" btc ") is BTC


def test_unknown_currency_is_refused_naming_the_code() -> None:
    with pytest.raises(ValueError, match="unknown currency 'XYZ'"):
        Currency.from_str("XYZ")


@pytest.mark.parametrize("code", ["", "usd", "US D", "US-D", "ÜSD", 840])
def test_invalid_code_is_refused_naming_it(code: Any) -> None:
    with pytest.raises(ValueError, match="code must be") as raised:
        Currency(code, 2, 0, "Test", CurrencyType.FIAT)
    assert repr(code) in str(raised.value)


@pytest.mark.parametrize("precision", [-1, 10, 2.0, True])
def test_precision_outside_zero_to_nine_is_refused_naming_it(precision: Any) -> None:
    with pytest.raises(ValueError, match=rf"precision must be an int in 0\.\.9, got {precision!r}"):
        Currency("TST", precision, 0, "Test", CurrencyType.FIAT)


def test_invalid_iso_number_name_or_type_is_refused() -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Currency("TST", 2, 1000, "Test", CurrencyType.FIAT)
    with pytest.raises(ValueError, match="name"):
        Currency("TST", 2, 0, None, CurrencyType.FIAT)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="currency_type"):
        Currency("TST", 2, 0, "Test", "FIAT")  # type: ignore[arg-type]


def test_register_adds_a_currency_that_from_str_finds(isolated_registry: None) -> None:
    doge = Currency("DOGE", 8, 0, "Dogecoin", CurrencyType.CRYPTO)
    assert Currency.register(doge) is doge
    assert Currency.is_registered("DOGE")
    assert Currency.from_str("DOGE") is doge
    assert Currency.register(Currency("DOGE", 8, 0, "Dogecoin", CurrencyType.CRYPTO))


def test_registering_a_different_currency_under_a_taken_code_is_refused() -> None:
    clash = Currency("USD", 4, 840, "US dollar", CurrencyType.FIAT)
    with pytest.raises(ValueError, match="USD is already registered"):
        Currency.register(clash)
    assert Currency.from_str("USD") is USD


def test_register_can_overwrite_when_asked(isolated_registry: None) -> None:
    first = Currency("TSTA", 2, 0, "Test A", CurrencyType.COMMODITY)
    second = Currency("TSTA", 4, 0, "Test A", CurrencyType.COMMODITY)
    Currency.register(first)
    Currency.register(second, overwrite=True)
    assert Currency.from_str("TSTA") is second


def test_currency_is_an_immutable_hashable_value() -> None:
    copy = Currency("USD", 2, 840, "US dollar", CurrencyType.FIAT)
    assert copy == USD
    assert hash(copy) == hash(USD)
    with pytest.raises(AttributeError):
        USD.precision = 4  # type: ignore[misc]


def test_currency_round_trips_through_msgspec_and_pickle() -> None:
    assert msgspec.json.decode(msgspec.json.encode(BTC), type=Currency) == BTC
    assert pickle.loads(pickle.dumps(BTC)) == BTC


def test_decoding_an_invalid_currency_is_refused() -> None:
    payload = b'{"code":"X","precision":12,"iso4217":0,"name":"x","currency_type":1}'
    with pytest.raises(msgspec.ValidationError, match="precision"):
        msgspec.json.decode(payload, type=Currency)


def test_money_uses_the_currency_precision_and_code() -> None:
    assert str(Money("1234.5", USD)) == "1234.50 USD"
    assert repr(Money(1000, JPY)) == "Money('1000', JPY)"
    assert Money("0.00000001", BTC).raw == 1
    with pytest.raises(ValueError, match="USD and BTC"):
        _ = Money(1, USD) + Money(1, BTC)
