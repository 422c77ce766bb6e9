"""The RiskEngine's integer notional (its hot path) against ``Instrument.notional_value``.

``Instrument.notional_value`` computes quantity x price in Decimal and rounds half-even at the
currency's precision; the engine's ``_notional_raw`` must give the same raw amount for every
quantity and price, including the ties (x.xx5) that half-even rounds to the even cent.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.execution.harness import sim_instrument
from zq.risk.engine import _notional_raw
from zq_core.fixed import Price, Quantity


@given(
    # Bounded so that every notional fits Money's int64 at USDT's 8 decimals.
    qty_raw=st.integers(min_value=0, max_value=10**5),
    qty_precision=st.integers(min_value=0, max_value=8),
    px_raw=st.integers(min_value=0, max_value=10**5),
    px_precision=st.integers(min_value=0, max_value=8),
)
def test_integer_notional_equals_the_instruments_decimal_notional(
    qty_raw: int, qty_precision: int, px_raw: int, px_precision: int
) -> None:
    quantity = Quantity.from_raw(qty_raw, qty_precision)
    price = Price.from_raw(px_raw, px_precision)
    instrument = sim_instrument()
    expected = instrument.notional_value(quantity, price)
    assert _notional_raw(quantity, price, expected.precision) == expected.raw


@pytest.mark.parametrize(
    ("qty", "px", "cents"),
    [
        # Worked by hand, at 2 decimals: 0.001 x 4995.00 = 4.995, a tie between 499 and 500
        # cents: half-even takes the even 500; 0.001 x 4985.00 = 4.985 takes 498.
        ("0.001", "4995.00", 500),
        ("0.001", "4985.00", 498),
        ("0.00001", "60000.01", 60),  # 0.6000001 -> 0.60
        ("2", "0.01", 2),
    ],
)
def test_integer_notional_rounds_ties_to_even_cents(qty: str, px: str, cents: int) -> None:
    quantity = Quantity(Decimal(qty), len(qty.partition(".")[2]))
    price = Price(Decimal(px), len(px.partition(".")[2]))
    assert _notional_raw(quantity, price, 2) == cents
