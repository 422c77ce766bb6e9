from __future__ import annotations

from decimal import Decimal

import pytest

from tests.unit.model.samples import instruments
from zq.model.instruments import InstrumentError
from zq_core.fixed import Money, Price, Quantity

SPOT, INVERSE_PERP, FUTURE, EQUITY = instruments()


def test_make_price_accepts_values_on_the_tick_grid():
    assert FUTURE.make_price("4800.25") == Price.from_str("4800.25")
    assert FUTURE.make_price(4800) == Price.from_str("4800.00")
    assert FUTURE.make_price(Price.from_str("4800.5")).precision == 2


@pytest.mark.parametrize("value", ["4800.10", "4800.125", Price.from_str("4800.001")])
def test_make_price_refuses_values_off_the_tick_grid_naming_instrument_and_tick(value):
    with pytest.raises(InstrumentError) as raised:
        FUTURE.make_price(value)
    message = str(raised.value)
    assert "ESH4.GLBX" in message


def test_off_grid_price_error_names_the_tick_size():
    with pytest.raises(
        InstrumentError, match=r"4800.10 is not on the tick grid \(tick size 0.25\)"
    ):
        FUTURE.make_price("4800.10")


def test_make_qty_refuses_negative_and_off_grid_quantities():
    assert SPOT.make_qty("0.12345") == Quantity.from_str("0.12345")
    with pytest.raises(InstrumentError, match=r"BTCUSDT\.BINANCE"):
        SPOT.make_qty("0.123456")
    with pytest.raises(InstrumentError, match="quantity"):
        SPOT.make_qty("-1")
    with pytest.raises(InstrumentError, match=r"quantity 1\.5 has more than 0 decimals"):
        EQUITY.make_qty(Quantity.from_str("1.5"))


def test_notional_of_a_linear_future_includes_the_multiplier():
    notional = FUTURE.make_qty(2) and FUTURE.notional_value(
        Quantity(2, 0), Price.from_str("4800.25")
    )
    assert notional == Money("480025.00", FUTURE.quote_currency)


def test_notional_of_an_inverse_perpetual_is_in_the_base_currency():
    notional = INVERSE_PERP.notional_value(Quantity(1000, 0), Price.from_str("40000.0"))
    assert notional.currency.code == "BTC"
    assert notional.as_decimal() == Decimal("0.02500000")


def test_inconsistent_instrument_definitions_are_refused():
    with pytest.raises(InstrumentError, match="min_quantity 5 > max_quantity 1"):
        type(EQUITY)(
            **{**_fields(EQUITY), "min_quantity": Quantity(5, 0), "max_quantity": Quantity(1, 0)}
        )
    with pytest.raises(InstrumentError, match="taker_fee must be a fraction"):
        type(SPOT)(**{**_fields(SPOT), "taker_fee": Decimal("1.5")})
    with pytest.raises(InstrumentError, match="expiration_ns"):
        type(FUTURE)(**{**_fields(FUTURE), "expiration_ns": 1})
    with pytest.raises(InstrumentError, match="price_increment must be positive"):
        type(SPOT)(**{**_fields(SPOT), "price_increment": Price.from_str("0.00")})


def _fields(instrument):
    return {name: getattr(instrument, name) for name in instrument.__struct_fields__}
