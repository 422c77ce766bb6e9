"""Throughput of the fixed-point value types (zq_core.fixed).

Prints nanoseconds per operation and operations per second (median of 7 repeats) for the
operations the engine performs per event: construction, arithmetic, comparison, hashing
and formatting. ``Decimal`` figures are printed alongside for scale.

Run after building: ``python benchmarks/bench_fixed.py``.
"""

from __future__ import annotations

import sys
import timeit
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _timing import measure

from zq.model.currency import USD
from zq_core.fixed import Money, Price, Quantity

SETUP = {
    "Price": Price,
    "Quantity": Quantity,
    "Money": Money,
    "Decimal": Decimal,
    "USD": USD,
    "p": Price("1234.56", 2),
    "p2": Price("0.01", 2),
    "p3": Price("1234.5", 1),
    "q": Quantity("1.500", 3),
    "q2": Quantity("0.250", 3),
    "m": Money("1000.00", USD),
    "m2": Money("0.25", USD),
    "d": Decimal("1234.56"),
    "d2": Decimal("0.01"),
    "tick": Price("0.05", 2),
}

CASES = [
    ("Price(str, precision)", "Price('1234.56', 2)"),
    ("Price.from_str", "Price.from_str('1234.56')"),
    ("Price(int, precision)", "Price(1234, 2)"),
    ("Price(float, precision)", "Price(1234.56, 2)"),
    ("Price.from_raw", "Price.from_raw(123456, 2)"),
    ("Quantity(str, precision)", "Quantity('1.500', 3)"),
    ("Quantity.from_raw", "Quantity.from_raw(1500, 3)"),
    ("Price + Price", "p + p2"),
    ("Price - Price", "p - p2"),
    ("Price + Price (mixed precision)", "p + p3"),
    ("Quantity + Quantity", "q + q2"),
    ("Quantity - Quantity", "q - q2"),
    ("Price < Price", "p < p2"),
    ("Price == Price", "p == p2"),
    ("Price == Price (mixed precision)", "p == p3"),
    ("hash(Price)", "hash(p)"),
    ("Price * int", "p * 3"),
    ("Quantity * int", "q * 3"),
    ("Price * Quantity -> Decimal", "p * q"),
    ("Price.round_to_tick", "p.round_to_tick(tick)"),
    ("Money + Money", "m + m2"),
    ("Money(str, currency)", "Money('1000.00', USD)"),
    ("str(Price)", "str(p)"),
    ("str(Money)", "str(m)"),
    ("Price.as_decimal", "p.as_decimal()"),
    ("Price.as_double", "p.as_double()"),
    ("Decimal(str) [reference]", "Decimal('1234.56')"),
    ("Decimal + Decimal [reference]", "d + d2"),
    ("Decimal < Decimal [reference]", "d < d2"),
    ("hash(Decimal) [reference]", "hash(d)"),
]


def main() -> None:
    print("zq_core.fixed: median of 7 repeats")
    for label, statement in CASES:
        # About 0.2 s per repeat, whatever the operation's cost.
        number, _ = timeit.Timer(statement, globals=SETUP).autorange()
        measure(label, statement, number=max(number, 10_000), glob=SETUP)


if __name__ == "__main__":
    main()
