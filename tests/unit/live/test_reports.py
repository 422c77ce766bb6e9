"""The report rules' small helpers: a Binance decimal's zero read from its text, an order id's
VenueOrderId."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zq.live.reports import decimal_or_zero, is_zero_text, venue_order_id_of
from zq.model.identifiers import VenueOrderId


@pytest.mark.parametrize(
    "text", [None, "", "0", "0.0", "0.00000000", "00.000", "1", "0.00000001", "10.0", "100"]
)
def test_a_decimal_text_is_zero_exactly_when_its_decimal_is(text: str | None) -> None:
    assert is_zero_text(text) is (decimal_or_zero(text) == Decimal(0))


@pytest.mark.parametrize("order_id", [0, 1, 42, 2**53, 9_223_372_036_854_775_807])
def test_a_binance_order_ids_venue_order_id_is_the_checked_ones(order_id: int) -> None:
    made = venue_order_id_of(order_id)
    checked = VenueOrderId(str(order_id))
    assert type(made) is VenueOrderId
    assert made == checked and hash(made) == hash(checked) and repr(made) == repr(checked)
