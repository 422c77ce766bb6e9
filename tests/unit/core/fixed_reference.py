"""Pure-Python oracle for ``zq_core.fixed``: the same rules, written plainly with Fraction.

Nothing here is fast or clever; it states what the compiled code must compute. A value is
``(raw, precision)`` with ``raw = value * 10**precision`` in int64 and precision 0..9.
Operations return a `Ref` or raise the exception type the compiled code must raise.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

RAW_MIN = -(2**63)
RAW_MAX = 2**63 - 1
PRECISION_MAX = 9

# Plain decimal notation, the only string form accepted.
PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)\Z")

Mode = Literal["nearest", "up", "down"]


@dataclass(frozen=True)
class Ref:
    raw: int
    precision: int

    @property
    def value(self) -> Fraction:
        return Fraction(self.raw, 10**self.precision)

    def text(self) -> str:
        """The value with exactly ``precision`` decimals."""
        sign = "-" if self.raw < 0 else ""
        whole, fraction = divmod(abs(self.raw), 10**self.precision)
        if not self.precision:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{fraction:0{self.precision}d}"


def in_range(raw: int) -> bool:
    return RAW_MIN <= raw <= RAW_MAX


def _at_precision(exact: Fraction, precision: int) -> Ref:
    """Overflow is judged on the truncated magnitude first, then exactness."""
    scaled = exact * 10**precision
    if not in_range(math.trunc(scaled)):
        raise OverflowError
    if scaled.denominator != 1:
        raise ValueError
    return Ref(int(scaled), precision)


def parse(value: object, precision: int | None, *, non_negative: bool = False) -> Ref:
    """What ``Price(value, precision)`` (or Quantity, with ``non_negative``) must produce."""
    if precision is not None and not 0 <= precision <= PRECISION_MAX:
        raise ValueError
    if isinstance(value, str):
        if not PLAIN_DECIMAL.match(value):
            raise ValueError
        decimals = len(value.partition(".")[2])
        if precision is None:
            if decimals > PRECISION_MAX:
                raise ValueError
            precision = decimals
        ref = _at_precision(Fraction(Decimal(value)), precision)
    elif isinstance(value, float):
        if precision is None:
            raise TypeError
        if not math.isfinite(value):
            raise ValueError
        # round() of a Fraction is half-even; the shortest repr is what gets rounded.
        raw = round(Fraction(Decimal(repr(value))) * 10**precision)
        if not in_range(raw):
            raise OverflowError
        ref = Ref(raw, precision)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError
        if precision is None:
            exponent = value.as_tuple().exponent
            assert isinstance(exponent, int)
            precision = max(0, -exponent)
            if precision > PRECISION_MAX:
                raise ValueError
        ref = _at_precision(Fraction(value), precision)
    elif isinstance(value, bool):
        raise TypeError
    elif isinstance(value, int):
        ref = _at_precision(Fraction(value), precision or 0)
    else:
        raise TypeError
    if non_negative and ref.raw < 0:
        raise ValueError
    return ref


def _exact(value: Fraction, precision: int) -> Ref:
    scaled = value * 10**precision
    assert scaled.denominator == 1
    if not in_range(int(scaled)):
        raise OverflowError
    return Ref(int(scaled), precision)


def add(left: Ref, right: Ref) -> Ref:
    return _exact(left.value + right.value, max(left.precision, right.precision))


def subtract(left: Ref, right: Ref) -> Ref:
    return _exact(left.value - right.value, max(left.precision, right.precision))


def multiply(left: Ref, factor: int) -> Ref:
    return _exact(left.value * factor, left.precision)


def compare(left: Ref, right: Ref | int | Decimal) -> int:
    other = right.value if isinstance(right, Ref) else Fraction(right)
    return (left.value > other) - (left.value < other)


def numeric_hash(ref: Ref) -> int:
    return hash(ref.value)


def round_to_increment(ref: Ref, increment: Ref, mode: Mode) -> Ref:
    steps = ref.value / increment.value
    if mode == "nearest":
        count = round(steps)  # half to even
    elif mode == "up":
        count = math.ceil(steps)
    else:
        count = math.floor(steps)
    raw = count * increment.raw
    if not in_range(raw):
        raise OverflowError
    return Ref(raw, increment.precision)


def is_multiple_of(ref: Ref, increment: Ref) -> bool:
    return (ref.value / increment.value).denominator == 1


def to_decimal(ref: Ref) -> Decimal:
    return Decimal(ref.text())


def to_float(ref: Ref) -> float:
    return float(ref.value)


def to_int(ref: Ref) -> int:
    return math.trunc(ref.value)
