"""Tests of zq_core.fixed: Price, Quantity and Money against the pure-Python oracle."""

from __future__ import annotations

import copy
import math
import pickle
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from tests.unit.core import fixed_reference as ref
from tests.unit.core.fixed_reference import RAW_MAX, RAW_MIN, Ref
from zq_core.fixed import (
    FIXED_PRECISION_MAX,
    FIXED_RAW_MAX,
    FIXED_RAW_MIN,
    Money,
    Price,
    Quantity,
)

# --- Strategies ----------------------------------------------------------------------------

precisions = st.integers(0, FIXED_PRECISION_MAX)
# Small raws exercise the everyday range; full-width ones the int64 edges.
raws = st.one_of(st.integers(-(10**6), 10**6), st.integers(RAW_MIN, RAW_MAX))
non_negative_raws = st.one_of(st.integers(0, 10**6), st.integers(0, RAW_MAX))
refs = st.builds(Ref, raws, precisions)
non_negative_refs = st.builds(Ref, non_negative_raws, precisions)
positive_increments = st.builds(
    Ref, st.one_of(st.integers(1, 1000), st.integers(1, RAW_MAX)), precisions
)
modes: st.SearchStrategy[ref.Mode] = st.sampled_from(["nearest", "up", "down"])
big_ints = st.one_of(st.integers(-(10**6), 10**6), st.integers(-(2**70), 2**70))


@st.composite
def written_decimals(draw: st.DrawFn) -> str:
    """Plain decimal strings, with optional sign, padding zeros and bare points."""
    whole = draw(st.from_regex(r"[0-9]{0,21}", fullmatch=True))
    fraction = draw(st.from_regex(r"[0-9]{0,12}", fullmatch=True))
    point = draw(st.booleans()) or not whole
    if not whole and not fraction:
        whole = "0"
    sign = draw(st.sampled_from(["", "-", "+"]))
    return f"{sign}{whole}{'.' if point else ''}{fraction}"


def price(r: Ref) -> Price:
    return Price.from_raw(r.raw, r.precision)


def quantity(r: Ref) -> Quantity:
    return Quantity.from_raw(r.raw, r.precision)


def as_ref(value: Price | Quantity | Money) -> Ref:
    return Ref(value.raw, value.precision)


def outcome(function: Any, *args: Any, **kwargs: Any) -> Ref | type[BaseException]:
    """Return a Ref of the result, or the type of the exception raised."""
    try:
        result = function(*args, **kwargs)
    except (ValueError, OverflowError, TypeError) as error:
        return type(error)
    return result if isinstance(result, Ref) else as_ref(result)


class FakeCurrency:
    """A duck-typed currency: Money needs only ``code`` and ``precision``."""

    def __init__(self, code: str, precision: int) -> None:
        self.code = code
        self.precision = precision

    def __repr__(self) -> str:
        return self.code

    def __reduce__(self) -> tuple[type[FakeCurrency], tuple[str, int]]:
        return (FakeCurrency, (self.code, self.precision))


USD = FakeCurrency("USD", 2)
EUR = FakeCurrency("EUR", 2)
JPY = FakeCurrency("JPY", 0)
BTC = FakeCurrency("BTC", 8)


# --- Construction ----------------------------------------------------------------------------


def test_precision_limit_and_raw_bounds_are_exported() -> None:
    assert FIXED_PRECISION_MAX == 9
    assert (FIXED_RAW_MIN, FIXED_RAW_MAX) == (RAW_MIN, RAW_MAX)


def test_price_from_str_takes_the_precision_written() -> None:
    assert Price.from_str("1.2300").precision == 4
    assert Price.from_str("1.2300").raw == 12300
    assert Price.from_str("7").precision == 0
    assert Price("-0.5").raw == -5


def test_price_with_more_decimals_than_precision_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'1\.234'.*precision 2"):
        Price("1.234", 2)
    with pytest.raises(ValueError, match=r"1\.234.*precision 2"):
        Price(Decimal("1.234"), 2)


def test_price_with_zeros_beyond_its_precision_is_accepted() -> None:
    assert Price("1.2300", 2) == Price.from_raw(123, 2)
    assert Price("1.2300", 2).precision == 2


def test_price_below_its_precision_is_padded() -> None:
    assert Price("1.5", 4).raw == 15000
    assert Price(3, 2).raw == 300


@pytest.mark.parametrize(
    "text", ["abc", "", "1e400", "nan", "inf", "-inf", " 1", "1 ", "1_000", "1.2.3", "+", "-", "."]
)
def test_malformed_price_string_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="invalid Price value") as raised:
        Price(text)
    assert repr(text) in str(raised.value)


def test_string_with_more_than_nine_decimals_and_no_precision_is_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.0000000001"):
        Price.from_str("0.0000000001")


@pytest.mark.parametrize("precision", [-1, 10, 255, 2**70])
def test_precision_outside_zero_to_nine_is_refused(precision: int) -> None:
    with pytest.raises(ValueError, match=f"precision must be 0..9, got {precision}"):
        Price(1, precision)
    with pytest.raises(ValueError, match="precision"):
        Quantity.from_raw(1, precision)


def test_precision_that_is_not_an_int_is_refused() -> None:
    with pytest.raises(TypeError, match="precision must be an int"):
        Price(1, 2.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "precision", "expected"),
    [
        (2.675, 2, "2.68"),
        (0.125, 2, "0.12"),
        (0.135, 2, "0.14"),
        (-0.125, 2, "-0.12"),
        (1e-10, 9, "0.000000000"),
    ],
)
def test_float_is_rounded_half_even_from_its_shortest_repr(
    value: float, precision: int, expected: str
) -> None:
    assert str(Price(value, precision)) == expected


def test_float_without_a_precision_is_refused() -> None:
    with pytest.raises(TypeError, match="explicit precision"):
        Price(1.5)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_float_is_refused_naming_it(value: float) -> None:
    with pytest.raises(ValueError, match=repr(value)):
        Price(value, 2)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-sNaN")])
def test_non_finite_decimal_is_refused(value: Decimal) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        Price(value, 2)


@pytest.mark.parametrize(
    "value",
    [10**20, "92233720368547758.08", Decimal("1e30"), 1e300, -(10**19), "-99999999999999999999"],
)
def test_value_beyond_int64_raises_overflow_naming_it(value: object) -> None:
    with pytest.raises(OverflowError, match="does not fit in int64") as raised:
        Price(value, 2)  # type: ignore[arg-type]
    assert str(value)[:6] in str(raised.value)


def test_int64_edges_are_representable() -> None:
    assert Price("92233720368547758.07", 2).raw == RAW_MAX
    assert Price("-92233720368547758.08", 2).raw == RAW_MIN
    assert Price.from_raw(RAW_MIN, 9).raw == RAW_MIN


def test_raw_beyond_int64_is_refused_naming_it() -> None:
    with pytest.raises(OverflowError, match=str(2**63)):
        Price.from_raw(2**63, 0)


def test_bool_is_not_a_price() -> None:
    with pytest.raises(TypeError, match="bool"):
        Price(True, 2)


def test_unsupported_value_type_is_refused_naming_it() -> None:
    with pytest.raises(TypeError, match=r"list.*\[1\]"):
        Price([1], 2)  # type: ignore[arg-type]


def test_numpy_numbers_are_accepted() -> None:
    assert Price(np.int64(7), 1) == Price("7.0")
    assert Price(np.float64(2.675), 2) == Price("2.68")
    assert Price.from_raw(np.int64(5), np.int8(1)) == Price("0.5")


def test_from_int_takes_precision_zero_and_refuses_strings() -> None:
    assert Price.from_int(42).precision == 0
    with pytest.raises(TypeError, match="'42'"):
        Price.from_int("42")  # type: ignore[arg-type]


# --- Conversions ----------------------------------------------------------------------------


def test_str_shows_every_decimal_of_the_precision() -> None:
    assert str(Price("1.2", 2)) == "1.20"
    assert str(Price("-0.05")) == "-0.05"
    assert str(Price(0, 3)) == "0.000"
    assert str(Price.from_raw(RAW_MIN, 9)) == "-9223372036.854775808"
    assert repr(Price("1.20")) == "Price('1.20')"
    assert repr(Quantity("3")) == "Quantity('3')"


def test_format_spec_formats_the_exact_decimal() -> None:
    assert f"{Price('1.235'):.2f}" == "1.24"
    assert f"{Price('1.5')}" == "1.5"
    assert f"{Quantity('1000'):,}" == "1,000"


def test_int_truncates_toward_zero() -> None:
    assert int(Price("1.9")) == 1
    assert int(Price("-1.9")) == -1
    assert int(Quantity("0.99")) == 0


def test_bool_is_whether_the_value_is_nonzero() -> None:
    assert not Price("0.00")
    assert Price("-0.01")


def test_as_decimal_keeps_the_precision() -> None:
    assert str(Price("1.20").as_decimal()) == "1.20"
    assert Quantity.from_raw(5, 9).as_decimal() == Decimal("0.000000005")


def test_decimal_conversion_ignores_a_narrow_thread_context() -> None:
    with localcontext() as context:
        context.prec = 3
        assert Price("12345.6789").as_decimal() == Decimal("12345.6789")


# --- Comparison and hashing -----------------------------------------------------------------


def test_prices_of_different_precisions_are_equal_and_hash_alike() -> None:
    assert Price("1.1") == Price("1.10")
    assert hash(Price("1.10")) == hash(Decimal("1.1")) == hash(Fraction(11, 10))
    assert len({Price("1.1"), Price("1.10"), Price("1.100000000")}) == 1


def test_price_equals_int_and_decimal_with_the_same_hash() -> None:
    assert Price(5, 0) == 5
    assert hash(Price(5, 0)) == hash(5)
    assert Price("5.00") == 5
    assert Price("-1.5") == Decimal("-1.50")
    assert Price("1.5") < 2
    assert Price("1.5") > Decimal("1.49")
    assert hash(Price("-1")) == hash(-1) == -2


def test_price_never_equals_a_quantity_and_cannot_be_ordered_against_one() -> None:
    assert Price("1") != Quantity("1")
    assert not Price("1") == Quantity("1")  # noqa: SIM201
    with pytest.raises(TypeError):
        _ = Price("1") < Quantity("2")  # type: ignore[operator]


def test_price_compared_with_a_float_is_unequal_and_unordered() -> None:
    assert Price("1.5") != 1.5
    with pytest.raises(TypeError):
        _ = Price("1.5") < 2.0  # type: ignore[operator]


# --- Arithmetic ---------------------------------------------------------------------------------


def test_adding_prices_gives_the_larger_precision() -> None:
    total = Price("1.5") + Price("0.25")
    assert total == Price("1.75")
    assert total.precision == 2
    assert (Price("1.5") - Price("0.25")).precision == 2


def test_adding_an_int_or_decimal_to_a_price_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        _ = Price("1") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = Decimal(1) + Price("1")  # type: ignore[operator]


def test_mixing_price_and_quantity_in_addition_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        _ = Price("1") + Quantity("1")  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = Quantity("1") - Price("1")  # type: ignore[operator]


def test_multiplying_by_an_int_keeps_the_type_and_precision() -> None:
    assert 3 * Price("1.10") == Price("3.30")
    assert (Price("1.10") * -2).precision == 2
    assert Quantity("0.5") * 4 == Quantity("2.0")


def test_price_times_quantity_is_an_exact_decimal() -> None:
    notional = Price("1.20") * Quantity("3.0")
    assert isinstance(notional, Decimal)
    assert str(notional) == "3.600"
    assert Quantity("3.0") * Price("1.20") == notional
    big = Price.from_raw(RAW_MAX, 9) * Quantity.from_raw(RAW_MAX, 9)
    assert Fraction(big) == Fraction(RAW_MAX, 10**9) ** 2


def test_division_gives_a_decimal_with_28_significant_digits() -> None:
    assert Price("1") / 3 == Decimal("0.3333333333333333333333333333")
    assert Price("10.00") / Price("4") == Decimal("2.5")
    assert Quantity("1") / Price("8") == Decimal("0.125")
    assert 1 / Price("4") == Decimal("0.25")
    assert Money("10.00", USD) / Money("4.00", USD) == Decimal("2.5")


def test_division_ignores_the_thread_decimal_context() -> None:
    with localcontext() as context:
        context.prec = 5
        assert Price("2") / 3 == Decimal("0.6666666666666666666666666667")


def test_division_by_zero_raises_zero_division_error() -> None:
    with pytest.raises(ZeroDivisionError):
        _ = Price("1") / 0
    with pytest.raises(ZeroDivisionError):
        _ = Price("0") / Price("0.0")


def test_addition_overflow_raises_instead_of_wrapping() -> None:
    top = Price.from_raw(RAW_MAX, 2)
    with pytest.raises(OverflowError, match=r"92233720368547758\.07 \+ 0\.01"):
        _ = top + Price("0.01")
    with pytest.raises(OverflowError):
        _ = Price.from_raw(RAW_MIN, 0) - Price("1")
    with pytest.raises(OverflowError):  # rescaling to the larger precision overflows
        _ = Price.from_raw(10**17, 0) + Price("0.01")


def test_negating_the_most_negative_price_raises_overflow() -> None:
    with pytest.raises(OverflowError):
        _ = -Price.from_raw(RAW_MIN, 0)
    with pytest.raises(OverflowError):
        abs(Price.from_raw(RAW_MIN, 0))
    assert -Price("1.5") == Price("-1.5")
    assert abs(Price("-1.5")) == Price("1.5")


def test_multiplying_by_an_int_overflows_loudly() -> None:
    with pytest.raises(OverflowError, match=r"\* 3"):
        _ = Price.from_raw(RAW_MAX // 2, 0) * 3
    with pytest.raises(OverflowError):
        _ = Price("1") * 2**64


# --- Quantity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: Quantity("-1.5"),
        lambda: Quantity(-1),
        lambda: Quantity(-0.5, 1),
        lambda: Quantity(Decimal("-2")),
        lambda: Quantity.from_str("-1.5"),
        lambda: Quantity.from_int(-1),
        lambda: Quantity.from_raw(-1, 0),
    ],
)
def test_negative_quantity_is_refused(make: Any) -> None:
    with pytest.raises(ValueError, match=r"negative.*-"):
        make()


def test_negative_zero_quantity_is_zero() -> None:
    assert Quantity("-0.0") == Quantity(0)


def test_quantity_subtraction_below_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="1 - 2 would be negative"):
        _ = Quantity("1") - Quantity("2")
    assert Quantity("2") - Quantity("2") == 0


def test_negating_a_nonzero_quantity_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        _ = -Quantity("1")
    assert -Quantity("0") == 0
    with pytest.raises(ValueError, match="negative"):
        _ = Quantity("1") * -1


# --- Grid rounding ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tick", "mode", "expected"),
    [
        ("1.234", "0.01", "nearest", "1.23"),
        ("1.235", "0.01", "nearest", "1.24"),  # half to even: 123.5 ticks -> 124
        ("1.225", "0.01", "nearest", "1.22"),  # half to even: 122.5 ticks -> 122
        ("1.231", "0.01", "up", "1.24"),
        ("1.239", "0.01", "down", "1.23"),
        ("-1.231", "0.01", "up", "-1.23"),  # toward +inf
        ("-1.231", "0.01", "down", "-1.24"),  # toward -inf
        ("-1.225", "0.01", "nearest", "-1.22"),
        ("-1.235", "0.01", "nearest", "-1.24"),
        ("101.3", "0.25", "nearest", "101.25"),
        ("7", "5", "nearest", "5"),
        ("7.5", "5", "nearest", "10"),
        ("1.23", "0.001", "down", "1.230"),
    ],
)
def test_round_to_tick_modes(value: str, tick: str, mode: ref.Mode, expected: str) -> None:
    result = Price(value).round_to_tick(Price(tick), mode)
    assert str(result) == expected


def test_rounded_price_has_the_tick_precision() -> None:
    assert Price("1.5").round_to_increment(Price("0.25")).precision == 2
    assert Price("1.23456").round_to_increment(Price("0.5")).precision == 1


def test_round_to_lot_rounds_down_by_default() -> None:
    assert Quantity("1.99").round_to_lot(Quantity("0.5")) == Quantity("1.5")
    assert Quantity("1.99").round_to_lot(Quantity("0.5"), "nearest") == Quantity("2.0")


@pytest.mark.parametrize("increment", ["0", "-0.01"])
def test_rounding_to_a_non_positive_increment_is_refused_naming_it(increment: str) -> None:
    with pytest.raises(ValueError, match=f"increment must be positive, got Price\\('{increment}'"):
        Price("1").round_to_increment(Price(increment))
    with pytest.raises(ValueError, match="increment must be positive"):
        Price("1").is_multiple_of(Price(increment))


def test_unknown_rounding_mode_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'sideways'"):
        Price("1").round_to_tick(Price("0.1"), "sideways")  # type: ignore[arg-type]


def test_rounding_to_an_increment_of_another_type_is_refused() -> None:
    with pytest.raises(TypeError):
        Price("1").round_to_tick(Quantity("1"))  # type: ignore[arg-type]


def test_is_multiple_of_works_across_precisions() -> None:
    assert Price("1.25").is_multiple_of(Price("0.05"))
    assert not Price("1.26").is_multiple_of(Price("0.05"))
    assert Price("-1.5").is_multiple_of(Price("0.500"))
    assert Quantity("3").is_multiple_of(Quantity("0.001"))


def test_rounding_that_leaves_int64_raises_overflow() -> None:
    with pytest.raises(OverflowError):
        Price.from_raw(RAW_MAX, 0).round_to_tick(Price("10"), "up")


# --- Pickle and copy ----------------------------------------------------------------------------


def test_values_survive_pickling() -> None:
    for value in (Price("-1.25"), Quantity("3.000"), Money("12.50", USD)):
        restored = pickle.loads(pickle.dumps(value))
        assert restored == value
        assert type(restored) is type(value)
        assert restored.precision == value.precision


def test_copies_are_the_same_immutable_object() -> None:
    value = Price("1.5")
    assert copy.copy(value) is value
    assert copy.deepcopy(value) is value


# --- Money ----------------------------------------------------------------------------------------


def test_money_takes_the_currency_precision() -> None:
    money = Money("1234.5", USD)
    assert (money.raw, money.precision, money.currency) == (123450, 2, USD)
    assert str(money) == "1234.50 USD"
    assert repr(money) == "Money('1234.50', USD)"
    assert Money(1000, JPY).raw == 1000


def test_money_with_more_decimals_than_the_currency_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"'1\.5'.*precision 0"):
        Money("1.5", JPY)


def test_money_float_is_rounded_half_even() -> None:
    assert Money(0.125, USD) == Money("0.12", USD)


def test_money_from_raw_uses_the_currency_precision() -> None:
    assert Money.from_raw(150_000_000, BTC).as_decimal() == Decimal("1.50000000")


def test_money_needs_a_currency_with_code_and_precision() -> None:
    with pytest.raises(TypeError, match="precision"):
        Money(1, object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="code"):
        Money(1, FakeCurrency("", 2))
    with pytest.raises(ValueError, match=r"precision must be 0\.\.9, got 12"):
        Money(1, FakeCurrency("XYZ", 12))


def test_money_in_different_currencies_cannot_be_added_naming_both() -> None:
    with pytest.raises(ValueError, match="USD and EUR"):
        _ = Money(1, USD) + Money(1, EUR)
    with pytest.raises(ValueError, match="USD and EUR"):
        _ = Money(1, USD) - Money(1, EUR)
    with pytest.raises(ValueError, match="USD and EUR"):
        _ = Money(1, USD) < Money(1, EUR)


def test_money_in_different_currencies_is_never_equal() -> None:
    assert Money(1, USD) != Money(1, EUR)
    assert Money(1, USD) == Money(1, FakeCurrency("USD", 2))  # same code, another object


def test_money_compares_only_with_money() -> None:
    assert Money(0, USD) != 0
    with pytest.raises(TypeError):
        _ = Money(0, USD) < 0  # type: ignore[operator]


def test_money_arithmetic_keeps_the_currency() -> None:
    total = Money("1.10", USD) + Money("2.25", USD)
    assert total == Money("3.35", USD)
    assert total.currency is USD
    assert Money("5", USD) - Money("7.5", USD) == Money("-2.5", USD)
    assert 3 * Money("1.10", USD) == Money("3.30", USD)
    assert -Money("1", USD) == Money("-1", USD)
    assert abs(Money("-1", USD)) == Money("1", USD)
    assert Money("1", USD) < Money("1.01", USD)


def test_money_overflow_raises() -> None:
    with pytest.raises(OverflowError):
        _ = Money.from_raw(RAW_MAX, USD) + Money("0.01", USD)
    with pytest.raises(OverflowError):
        _ = Money.from_raw(RAW_MAX, USD) * 2


def test_money_hash_includes_the_currency_code() -> None:
    assert hash(Money("1", USD)) == hash(Money("1", FakeCurrency("USD", 2)))
    amounts = {Money(n, USD) for n in range(50)} | {Money(n, EUR) for n in range(50)}
    assert len(amounts) == 100


def test_money_conversions() -> None:
    assert Money("1.5", USD).as_double() == 1.5
    assert float(Money("-1.5", USD)) == -1.5
    assert not Money(0, USD)


# --- Properties against the oracle ----------------------------------------------------------


@given(st.one_of(written_decimals(), st.text(max_size=12)), st.none() | st.integers(-1, 11))
@example("1.234", 2)
@example("92233720368547758.08", 2)
@example("-92233720368547758.08", 2)
@example("99999999999999999999.5", 0)
def test_price_from_any_string_matches_the_oracle(text: str, precision: int | None) -> None:
    assert outcome(Price, text, precision) == outcome(ref.parse, text, precision)


@given(written_decimals(), st.none() | precisions)
def test_quantity_from_string_matches_the_oracle(text: str, precision: int | None) -> None:
    expected = outcome(ref.parse, text, precision, non_negative=True)
    assert outcome(Quantity, text, precision) == expected


@given(st.integers(-(10**30), 10**30), st.integers(-15, 25), st.none() | precisions)
def test_price_from_decimal_matches_the_oracle(
    coefficient: int, exponent: int, precision: int | None
) -> None:
    value = Decimal(f"{coefficient}E{exponent}")
    assert outcome(Price, value, precision) == outcome(ref.parse, value, precision)


# Decimals written in plain notation (exponent -12..0) take a fast route that reads their
# text; the cases near its edges: int64's bounds at each precision, trailing zeros past the
# precision, negative zero, and more than nine decimals written.
@given(
    st.one_of(
        st.integers(-(10**20), 10**20),
        st.integers(2**63 - 10**4, 2**63 + 10**4),
        st.integers(-(2**63) - 10**4, -(2**63) + 10**4),
    ),
    st.integers(-12, 0),
    st.none() | precisions,
)
@example(0, -3, 2)
@example(-0, -2, None)
@example(10, -10, None)
@example(1500, -3, 2)
@example(2**63 - 1, -2, 2)
@example(2**63, -2, 2)
def test_price_and_quantity_from_plain_decimal_match_the_oracle(
    coefficient: int, exponent: int, precision: int | None
) -> None:
    value = Decimal(f"{coefficient}E{exponent}")
    assert outcome(Price, value, precision) == outcome(ref.parse, value, precision)
    negative_zero = Decimal(f"-{value}") if coefficient == 0 else value
    assert outcome(Quantity, negative_zero, precision) == outcome(
        ref.parse, negative_zero, precision, non_negative=True
    )


# Decimals are read from their fields (sign, one-word coefficient below 10**19, exponent)
# where the C Decimal's layout was checked at import: the edges of that route, coefficients
# on either side of 10**19 (one word or two), exponents far past the shifts it scales by,
# and Decimals made by arithmetic (whose coefficients keep trailing zeros).
@given(
    st.one_of(
        st.integers(-(10**19) - 10**3, -(10**19) + 10**3),
        st.integers(10**19 - 10**3, 10**19 + 10**3),
        st.integers(-(10**4), 10**4),
    ),
    st.integers(-30, 30),
    st.none() | precisions,
)
@example(10**19 - 1, -10, 0)
@example(10**19, -19, 0)
@example(9_223_372_036_854_775_807, -2, 2)
@example(9_223_372_036_854_775_808, -2, 2)
@example(-9_223_372_036_854_775_808, -2, 2)
@example(-9_223_372_036_854_775_809, -2, 2)
@example(5, -19, 9)
@example(0, -30, 2)
@example(0, 30, None)
def test_price_and_quantity_from_decimal_fields_match_the_oracle(
    coefficient: int, exponent: int, precision: int | None
) -> None:
    value = Decimal(f"{coefficient}E{exponent}")
    made = Decimal("0.01") * coefficient * Decimal(f"1E{exponent}")  # arithmetic's result
    for number in (value, made, -value):
        assert outcome(Price, number, precision) == outcome(ref.parse, number, precision)
        assert outcome(Quantity, number, precision) == outcome(
            ref.parse, number, precision, non_negative=True
        )


@given(st.floats(allow_nan=True, allow_infinity=True), precisions)
@example(2.675, 2)
@example(9.223372036854776e18, 0)
def test_price_from_float_matches_the_oracle(value: float, precision: int) -> None:
    assert outcome(Price, value, precision) == outcome(ref.parse, value, precision)


@given(
    st.integers(-(10**7), 10**7),
    precisions,
    st.integers(0, 10**9 - 1),
    st.sampled_from(["5", "49", "51", "4999999", "5000001", ""]),
)
def test_price_from_float_near_a_half_tick_matches_the_oracle(
    whole: int, precision: int, fraction: int, tail: str
) -> None:
    digits = f"{fraction:09d}"[:precision]
    value = float(f"{whole}.{digits}{tail or '0'}")
    assert outcome(Price, value, precision) == outcome(ref.parse, value, precision)


@given(big_ints, precisions)
def test_price_from_int_matches_the_oracle(value: int, precision: int) -> None:
    assert outcome(Price, value, precision) == outcome(ref.parse, value, precision)


@given(refs)
def test_str_round_trips_and_matches_the_oracle(r: Ref) -> None:
    value = price(r)
    assert str(value) == r.text()
    parsed = Price.from_str(str(value))
    assert (parsed.raw, parsed.precision) == (r.raw, r.precision)
    assert Price(str(value), r.precision).raw == r.raw


@given(refs)
def test_conversions_match_the_oracle(r: Ref) -> None:
    value = price(r)
    assert value.as_decimal() == ref.to_decimal(r)
    assert value.as_decimal().as_tuple().exponent == -r.precision
    assert value.as_double() == float(value) == ref.to_float(r)
    assert int(value) == ref.to_int(r)
    assert bool(value) == (r.raw != 0)


@given(refs, refs)
@example(Ref(-193, 3), Ref(9_223_372_036_854_776, 0))  # rescaled operand overflows, sum fits
@example(Ref(192, 3), Ref(9_223_372_036_854_776, 0))
def test_addition_and_subtraction_match_the_oracle(a: Ref, b: Ref) -> None:
    assert outcome(lambda: price(a) + price(b)) == outcome(ref.add, a, b)
    assert outcome(lambda: price(a) - price(b)) == outcome(ref.subtract, a, b)


@given(non_negative_refs, non_negative_refs)
def test_quantity_arithmetic_matches_the_oracle(a: Ref, b: Ref) -> None:
    assert outcome(lambda: quantity(a) + quantity(b)) == outcome(ref.add, a, b)
    expected = outcome(ref.subtract, a, b)
    if isinstance(expected, Ref) and expected.raw < 0:
        expected = ValueError
    assert outcome(lambda: quantity(a) - quantity(b)) == expected


@given(refs, big_ints)
def test_multiplication_by_int_matches_the_oracle(a: Ref, factor: int) -> None:
    assert outcome(lambda: price(a) * factor) == outcome(ref.multiply, a, factor)
    assert outcome(lambda: factor * price(a)) == outcome(ref.multiply, a, factor)


@given(refs, non_negative_refs)
def test_price_times_quantity_is_exact(a: Ref, b: Ref) -> None:
    notional = price(a) * quantity(b)
    assert Fraction(notional) == a.value * b.value
    assert notional.as_tuple().exponent == -(a.precision + b.precision)


@given(refs, refs)
@example(Ref(RAW_MAX, 0), Ref(RAW_MAX, 9))
@example(Ref(RAW_MIN, 0), Ref(RAW_MIN, 9))
def test_comparisons_across_precisions_match_the_oracle(a: Ref, b: Ref) -> None:
    order = ref.compare(a, b)
    x, y = price(a), price(b)
    assert (x == y, x != y, x < y, x <= y, x > y, x >= y) == (
        order == 0,
        order != 0,
        order < 0,
        order <= 0,
        order > 0,
        order >= 0,
    )


@given(refs, big_ints)
def test_comparisons_with_ints_match_the_oracle(a: Ref, other: int) -> None:
    order = ref.compare(a, other)
    x = price(a)
    assert (x == other, x < other, x > other) == (order == 0, order < 0, order > 0)


@given(refs, st.integers(-(10**12), 10**12), st.integers(0, 12))
def test_comparisons_with_decimals_match_the_oracle(a: Ref, coefficient: int, places: int) -> None:
    other = Decimal(coefficient).scaleb(-places)
    order = ref.compare(a, other)
    x = price(a)
    assert (x == other, x < other, x > other) == (order == 0, order < 0, order > 0)


@given(refs)
@example(Ref(RAW_MIN, 0))
@example(Ref(-1, 0))
@example(Ref(RAW_MAX, 9))
@example(Ref(2**61 - 1, 0))
@example(Ref(-(2**61) + 1, 0))
def test_hash_is_python_numeric_hash_of_the_exact_value(r: Ref) -> None:
    value = price(r)
    assert hash(value) == hash(Fraction(r.raw, 10**r.precision)) == ref.numeric_hash(r)
    assert hash(value) == hash(ref.to_decimal(r))
    assert hash(quantity(Ref(abs(r.raw) if r.raw != RAW_MIN else 0, r.precision))) == hash(
        Fraction(abs(r.raw) if r.raw != RAW_MIN else 0, 10**r.precision)
    )


@given(st.integers(-(10**9), 10**9), precisions, precisions)
def test_equal_values_at_different_precisions_hash_alike(raw: int, p: int, q: int) -> None:
    low, high = min(p, q), max(p, q)
    assume(abs(raw) * 10 ** (high - low) <= RAW_MAX)
    assert hash(Price.from_raw(raw, low)) == hash(Price.from_raw(raw * 10 ** (high - low), high))


@given(refs, positive_increments, modes)
@example(Ref(-1225, 3), Ref(1, 2), "nearest")
@example(Ref(RAW_MIN, 0), Ref(10, 0), "down")
@example(Ref(RAW_MIN + 1, 0), Ref(10, 0), "down")
@example(Ref(RAW_MAX, 0), Ref(10, 0), "up")
def test_rounding_to_an_increment_matches_the_oracle(a: Ref, inc: Ref, mode: ref.Mode) -> None:
    expected = outcome(ref.round_to_increment, a, inc, mode)
    assert outcome(lambda: price(a).round_to_increment(price(inc), mode)) == expected


@given(non_negative_refs, positive_increments, modes)
def test_quantity_rounding_matches_the_oracle(a: Ref, inc: Ref, mode: ref.Mode) -> None:
    expected = outcome(ref.round_to_increment, a, inc, mode)
    assert outcome(lambda: quantity(a).round_to_increment(quantity(inc), mode)) == expected


@given(refs, positive_increments)
def test_is_multiple_of_matches_the_oracle(a: Ref, inc: Ref) -> None:
    assert price(a).is_multiple_of(price(inc)) == ref.is_multiple_of(a, inc)


@given(refs)
def test_pickling_preserves_raw_and_precision(r: Ref) -> None:
    restored = pickle.loads(pickle.dumps(price(r)))
    assert (restored.raw, restored.precision) == (r.raw, r.precision)


@given(raws, raws, st.sampled_from([USD, JPY, BTC]), st.sampled_from([USD, EUR, JPY, BTC]))
def test_money_arithmetic_follows_the_currency_rules(
    a: int, b: int, left_currency: FakeCurrency, right_currency: FakeCurrency
) -> None:
    left = Money.from_raw(a, left_currency)
    right = Money.from_raw(b, right_currency)
    if left_currency is not right_currency:
        assert left != right
        with pytest.raises(ValueError, match=f"{left_currency.code} and {right_currency.code}"):
            _ = left + right
        return
    p = left_currency.precision
    expected = outcome(ref.add, Ref(a, p), Ref(b, p))
    assert outcome(lambda: left + right) == expected
    assert outcome(lambda: left - right) == outcome(ref.subtract, Ref(a, p), Ref(b, p))
    assert (left < right) == (a < b)
    assert (left == right) == (a == b)
    total = left + right if isinstance(expected, Ref) else left
    assert total.currency is left_currency
