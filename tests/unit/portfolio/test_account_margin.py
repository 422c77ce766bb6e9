"""Margin in integers (the Portfolio's per-fill call) against update_margin's Decimal.

``MarginAccount._update_margin_units`` computes what ``update_margin`` computes in the
current decimal context (the notional rounded to 28 digits by ``abs``, the product with the
rate rounded again, then rounded up to the currency) with integers, and memoizes it by
notional. These tests put both on equal accounts and compare every margin.
"""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.portfolio.fills import BTCUSD_INVERSE, BTCUSDT_PERP, ES
from zq.model.identifiers import AccountId
from zq.model.instruments import Instrument
from zq.model.position import EXACT_CONTEXT
from zq.portfolio import MarginAccount
from zq.portfolio.account import _digit_count

ACCOUNT = AccountId("SIM-001")
LEVERAGES = [Decimal(1), Decimal(3), Decimal(7), Decimal(10), Decimal("0.5"), Decimal(125)]
RATES = [Decimal(0), Decimal("0.05"), Decimal("0.04"), Decimal("0.0333"), Decimal("0.0075")]


def pair(leverage: Decimal) -> tuple[MarginAccount, MarginAccount]:
    return MarginAccount(ACCOUNT, leverage=leverage), MarginAccount(ACCOUNT, leverage=leverage)


def decimal_of(units: int, scale: int) -> Decimal:
    return Decimal(units).scaleb(-scale, EXACT_CONTEXT)


def assert_same(fast: MarginAccount, reference: MarginAccount, instrument: Instrument) -> None:
    assert fast.margin(instrument.id) == reference.margin(instrument.id)
    assert fast.balances() == reference.balances()


@settings(max_examples=400, deadline=None)
@given(
    base=st.sampled_from([BTCUSDT_PERP, ES, BTCUSD_INVERSE]),  # currency precisions 8, 2, 8
    leverage=st.sampled_from(LEVERAGES),
    margin_init=st.sampled_from(RATES),
    margin_maint=st.sampled_from(RATES),
    notionals=st.lists(
        st.tuples(
            st.one_of(
                st.integers(min_value=-(10**40), max_value=10**40),
                st.integers(min_value=0, max_value=10**70),  # past 28 digits by far
                st.sampled_from([0, 1, 10**28 - 1, 10**28, 10**28 + 5, 99999 * 10**31]),
            ),
            st.integers(min_value=0, max_value=45),  # scale
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_integer_margin_equals_the_decimal_margin(
    base, leverage, margin_init, margin_maint, notionals
):
    instrument = msgspec.structs.replace(base, margin_init=margin_init, margin_maint=margin_maint)
    fast, reference = pair(leverage)
    compiled = MarginAccount(ACCOUNT, leverage=leverage)  # the fill path's compiled margin
    for units, scale in notionals * 2:  # twice: the second time from the memo
        try:
            expected = reference.update_margin(instrument, decimal_of(units, scale))
        except ArithmeticError:
            # A margin past what Money (int64) or a 28-digit quantize holds: both refuse it
            # (Decimal with InvalidOperation or OverflowError, integers with OverflowError).
            with pytest.raises(ArithmeticError):
                fast._update_margin_units(instrument, units, scale)
            with pytest.raises(ArithmeticError):
                compiled._update_margin_units_compiled(instrument, units, scale)
            continue
        assert fast._update_margin_units(instrument, units, scale) == expected
        assert compiled._update_margin_units_compiled(instrument, units, scale) == expected
        assert_same(fast, reference, instrument)
        assert_same(compiled, reference, instrument)


@pytest.mark.parametrize("entry", ["_update_margin_units", "_update_margin_units_compiled"])
def test_a_new_leverage_is_not_hidden_by_the_memo(entry):
    fast, reference = pair(Decimal(1))
    units, scale = 420_000 * 10**30, 30  # 420000 USDT
    for leverage in (None, Decimal(3), Decimal(20)):
        if leverage is not None:
            fast.set_leverage(BTCUSDT_PERP.id, leverage)
            reference.set_leverage(BTCUSDT_PERP.id, leverage)
        expected = reference.update_margin(BTCUSDT_PERP, decimal_of(units, scale))
        assert getattr(fast, entry)(BTCUSDT_PERP, units, scale) == expected
    # 420000 / 20 = 21000
    assert fast.margin_used(BTCUSDT_PERP.settlement_currency).as_decimal() == Decimal(21000)
    fast.leverages.clear()
    fast.leverage = Decimal(4)  # a plain attribute: changed without set_leverage
    reference.leverages.clear()
    reference.leverage = Decimal(4)
    expected = reference.update_margin(BTCUSDT_PERP, decimal_of(units, scale))
    assert getattr(fast, entry)(BTCUSDT_PERP, units, scale) == expected
    assert expected.initial.as_decimal() == Decimal(105000)  # 420000 / 4


@pytest.mark.parametrize("entry", ["_update_margin_units", "_update_margin_units_compiled"])
def test_an_instrument_with_new_margin_rates_is_not_hidden_by_the_memo(entry):
    fast, reference = pair(Decimal(1))
    units, scale = 420_000 * 10**30, 30  # 420000 USDT
    rates = [(Decimal("0.1"), Decimal("0.05")), (Decimal("0.2"), Decimal("0.05"))]
    rates.append((Decimal("0.2"), Decimal("0.01")))
    for margin_init, margin_maint in rates:  # the same id and notional each time
        instrument = msgspec.structs.replace(
            BTCUSDT_PERP, margin_init=margin_init, margin_maint=margin_maint
        )
        expected = reference.update_margin(instrument, decimal_of(units, scale))
        assert getattr(fast, entry)(instrument, units, scale) == expected
        # 420000 × the rates, by hand
        assert expected.initial.as_decimal() == 420_000 * margin_init
        assert expected.maintenance.as_decimal() == 420_000 * margin_maint


def test_in_another_decimal_context_the_margin_is_what_update_margin_computes_there():
    fast, reference = pair(Decimal(1))
    for account in (fast, reference):
        account.set_leverage(ES.id, Decimal(3))
    units, scale = 420_000_123, 3  # 420000.123 USD
    with localcontext(Context(prec=8)):
        expected = reference.update_margin(ES, decimal_of(units, scale))
        assert fast._update_margin_units(ES, units, scale) == expected
        assert fast._update_margin_units_compiled(ES, units, scale) == expected
    # At 8 digits: 1/3 = 0.33333333, abs() rounds the notional to 420000.12, the product
    # 140000.0386 rounds to 140000.04, up to cents: 140000.04. (At 28 digits: 140000.05.)
    assert expected.initial.as_decimal() == Decimal("140000.04")
    assert fast._update_margin_units(ES, units, scale).initial.as_decimal() == Decimal("140000.05")
    compiled = fast._update_margin_units_compiled(ES, units + 1, scale)  # not in the memo
    # 420000.124 / 3 = 140000.041333..., up to cents: 140000.05
    assert compiled.initial.as_decimal() == Decimal("140000.05")


def test_digit_count_is_the_length_of_the_number():
    for value in [1, 9, 10, 99, 100, 10**27, 10**28 - 1, 10**28, 10**119, 10**125 + 3, 2**400]:
        assert _digit_count(value) == len(str(value))


def test_margins_past_the_fill_paths_table_stay_the_decimal_margins():
    # The fill path keeps its margins in a table of 256 slots by their raw amounts: 700
    # notionals share slots, each margin must still be update_margin's (twice over: the
    # second pass meets slots other notionals took).
    instrument = msgspec.structs.replace(
        BTCUSDT_PERP, margin_init=Decimal("0.05"), margin_maint=Decimal("0.0075")
    )
    compiled = MarginAccount(ACCOUNT, leverage=Decimal(3))
    reference = MarginAccount(ACCOUNT, leverage=Decimal(3))
    notionals = [(-1) ** k * (1_000 + 37 * k) * 10**28 for k in range(700)]  # scale 30
    for units in notionals * 2:
        expected = reference.update_margin(instrument, decimal_of(units, 30))
        assert compiled._update_margin_units_compiled(instrument, units, 30) == expected
        assert_same(compiled, reference, instrument)
