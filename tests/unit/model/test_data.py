from __future__ import annotations

import pytest

from zq.model.data import Bar, BarSpecification, BarType, BookLevel, OrderBookDepth
from zq.model.enums import AggregationSource, BarAggregation, PriceType
from zq.model.identifiers import InstrumentId
from zq_core.fixed import Price, Quantity

P, Q = Price.from_str, Quantity.from_str


def test_bar_type_round_trips_through_its_string():
    bar_type = BarType.from_str("BRK.B.XNYS-5-MINUTE-MID-INTERNAL")
    assert bar_type.instrument_id == InstrumentId("BRK.B.XNYS")
    assert bar_type.spec == BarSpecification(5, BarAggregation.MINUTE, PriceType.MID)
    assert bar_type.source is AggregationSource.INTERNAL
    assert BarType.from_str(str(bar_type)) == bar_type
    assert BarType.from_str("ESH4.GLBX-1-MINUTE-LAST").source is AggregationSource.EXTERNAL


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ESH4.GLBX-x-MINUTE-LAST", "step 'x' is not an integer"),
        ("ESH4.GLBX-1-FORTNIGHT-LAST", "invalid BarAggregation 'FORTNIGHT'"),
        ("ESH4.GLBX", "expected INSTRUMENT-STEP"),
        ("ESH4.GLBX-0-MINUTE-LAST", "step must be positive"),
    ],
)
def test_invalid_bar_type_strings_are_refused_naming_the_part(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        BarType.from_str(text)


def test_time_bar_interval_and_non_time_bar_has_none():
    assert BarSpecification(15, BarAggregation.SECOND, PriceType.LAST).interval_ns == 15_000_000_000
    with pytest.raises(ValueError, match="not time-aggregated"):
        _ = BarSpecification(100, BarAggregation.TICK, PriceType.LAST).interval_ns


def test_bar_with_close_above_high_is_refused():
    bar_type = BarType.from_str("ESH4.GLBX-1-MINUTE-LAST")
    with pytest.raises(ValueError, match="inconsistent bar"):
        Bar(bar_type, P("10.00"), P("10.50"), P("9.75"), P("10.75"), Q("1"), 60, 60)


def test_depth_snapshot_levels_must_be_best_first():
    instrument_id = InstrumentId("X.Y")
    with pytest.raises(ValueError, match="bid levels not strictly ordered"):
        OrderBookDepth(
            instrument_id, (BookLevel(P("1.0"), Q("1")), BookLevel(P("1.1"), Q("1"))), (), 1, 1, 1
        )
    with pytest.raises(ValueError, match="ask levels not strictly ordered"):
        OrderBookDepth(
            instrument_id, (), (BookLevel(P("1.1"), Q("1")), BookLevel(P("1.1"), Q("1"))), 1, 1, 1
        )
