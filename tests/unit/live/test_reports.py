"""The report rules' small helpers: a Binance decimal's zero read from its text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zq.live.reports import decimal_or_zero, is_zero_text


@pytest.mark.parametrize(
    "text", [None, "", "0", "0.0", "0.00000000", "00.000", "1", "0.00000001", "10.0", "100"]
)
def test_a_decimal_text_is_zero_exactly_when_its_decimal_is(text: str | None) -> None:
    assert is_zero_text(text) is (decimal_or_zero(text) == Decimal(0))
