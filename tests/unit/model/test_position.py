"""Position: entry price, realized and unrealized PnL, commissions and events, by hand."""

from __future__ import annotations

from decimal import Decimal, localcontext

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.portfolio.fills import (
    BNB,
    BTC,
    BTCUSD_INVERSE,
    BTCUSDT_PERP,
    ES,
    USD,
    USDT,
    buy,
    fill,
    sell,
)
from zq.model.enums import OrderSide, PositionSide
from zq.model.identifiers import PositionId, TradeId
from zq.model.position import (
    EXACT_CONTEXT,
    Position,
    PositionChanged,
    PositionClosed,
    PositionError,
    PositionOpened,
)
from zq.model.serialization import _encode_hook, from_json, to_json
from zq_core.fixed import Money, Price, Quantity

PERP = BTCUSDT_PERP
PID = PositionId("P-1")


def usdt(value: str) -> Money:
    return Money(value, USDT)


def open_position(first):  # type: ignore[no-untyped-def]
    return Position(first_instrument(first), first, PID)


def first_instrument(f):  # type: ignore[no-untyped-def]
    return {i.id: i for i in (PERP, BTCUSD_INVERSE, ES)}[f.instrument_id]


def test_first_fill_opens_a_long_position_at_the_fill_price():
    position = Position(PERP, buy(PERP, "2", "100.0", ts=5, order="O-7"), PID)
    assert position.id == PID
    assert position.side is PositionSide.LONG
    assert position.quantity == Quantity.from_str("2.000")
    assert position.signed_qty == Decimal(2)
    assert position.avg_px_open == Decimal(100)
    assert position.avg_px_close is None
    assert position.opening_order_id == "O-7"
    assert position.ts_opened == 5 and position.ts_last == 5 and position.ts_closed is None
    assert position.is_open and not position.is_closed
    assert position.realized_pnl == usdt("0")
    assert [type(e) for e in position.last_events] == [PositionOpened]


def test_position_without_an_id_is_refused():
    with pytest.raises(PositionError, match="has no position_id"):
        Position(PERP, buy(PERP, "1", "100.0"))


def test_scaling_in_weights_the_entry_price_by_quantity():
    position = Position(PERP, buy(PERP, "1", "100.0"), PID)
    events = position.apply(buy(PERP, "3", "104.0"))
    # (1 × 100 + 3 × 104) / 4 = 412 / 4 = 103
    assert position.avg_px_open == Decimal(103)
    assert position.peak_qty == Quantity.from_str("4.000")
    assert [type(e) for e in events] == [PositionChanged]


def test_entry_price_that_does_not_terminate_keeps_pnl_exact():
    position = Position(PERP, buy(PERP, "1", "100.0"), PID)
    position.apply(buy(PERP, "2", "101.0"))
    # avg = 302 / 3 = 100.666...; selling all 3 at 102 realizes 306 − 302 = 4 exactly
    assert str(position.avg_px_open).startswith("100.6666666666")
    position.apply(sell(PERP, "3", "102.0"))
    assert position.realized_pnl_decimal == Decimal(4)


def test_scaling_out_of_a_long_realizes_pnl_on_the_reduced_quantity():
    position = Position(PERP, buy(PERP, "4", "100.0"), PID)
    events = position.apply(sell(PERP, "1", "110.0"))
    # (110 − 100) × 1 = 10 realized; 3 left at 100
    assert position.realized_pnl == usdt("10")
    assert position.quantity == Quantity.from_str("3.000")
    assert position.avg_px_open == Decimal(100)
    assert position.avg_px_close == Decimal(110)
    assert [type(e) for e in events] == [PositionChanged]
    # 3 × (105 − 100) = 15 unrealized at 105
    assert position.unrealized_pnl(Price.from_str("105.0")) == usdt("15")
    assert position.total_pnl(Price.from_str("105.0")) == usdt("25")


def test_short_position_gains_when_the_price_falls():
    position = Position(PERP, sell(PERP, "2", "100.0"), PID)
    assert position.side is PositionSide.SHORT and position.signed_qty == Decimal(-2)
    # −2 × (90 − 100) = 20 unrealized
    assert position.unrealized_pnl(Price.from_str("90.0")) == usdt("20")
    position.apply(buy(PERP, "2", "95.0", ts=9))
    # 2 × (100 − 95) = 10 realized
    assert position.realized_pnl == usdt("10")
    assert position.is_closed and position.side is PositionSide.FLAT
    assert position.ts_closed == 9


def test_closing_to_flat_emits_position_closed_with_the_round_trip():
    position = Position(PERP, buy(PERP, "2", "100.0", ts=10), PID)
    position.apply(sell(PERP, "1", "104.0", ts=20))
    events = position.apply(sell(PERP, "1", "106.0", ts=30, order="O-2"))
    # 1 × 4 + 1 × 6 = 10; exits average (104 + 106) / 2 = 105
    (closed,) = events
    assert isinstance(closed, PositionClosed)
    assert closed.round_trip_pnl == usdt("10") and closed.realized_pnl == usdt("10")
    assert closed.avg_px_open == Decimal(100) and closed.avg_px_close == Decimal(105)
    assert closed.closing_order_id == "O-2"
    assert closed.duration_ns == 20 and position.duration_ns == 20
    assert closed.quantity == Quantity.from_str("0.000")
    assert position.avg_px_open == Decimal(100)  # the closed round trip's entry


def test_fill_through_zero_closes_then_reopens_at_the_fill_price():
    position = Position(PERP, buy(PERP, "10", "100.0", ts=1), PID)
    events = position.apply(sell(PERP, "15", "90.0", ts=2, order="O-2"))
    # closes 10: (90 − 100) × 10 = −100; the other 5 open a short at 90
    assert [type(e) for e in events] == [PositionClosed, PositionOpened]
    closed, opened = events
    assert closed.last_qty == Quantity.from_str("10") and closed.round_trip_pnl == usdt("-100")
    assert opened.last_qty == Quantity.from_str("5") and opened.side is PositionSide.SHORT
    assert opened.avg_px_open == Decimal(90) and opened.entry is OrderSide.SELL
    assert closed.last_trade_id == opened.last_trade_id
    assert position.signed_qty == Decimal(-5)
    assert position.opening_order_id == "O-2" and position.ts_opened == 2
    assert position.realized_pnl == usdt("-100")
    assert position.peak_qty == Quantity.from_str("5.000")


def test_reopened_position_keeps_lifetime_pnl_and_reports_each_round_trip():
    position = Position(PERP, buy(PERP, "1", "100.0"), PID)
    position.apply(sell(PERP, "1", "110.0"))  # +10
    assert [type(e) for e in position.apply(buy(PERP, "1", "200.0"))] == [PositionOpened]
    (closed,) = position.apply(sell(PERP, "1", "195.0"))  # −5
    assert isinstance(closed, PositionClosed)
    assert closed.round_trip_pnl == usdt("-5")
    assert position.realized_pnl == usdt("5")


def test_duplicate_trade_id_is_refused_and_changes_nothing():
    position = Position(PERP, buy(PERP, "1", "100.0", trade_id="T-X"), PID)
    with pytest.raises(PositionError, match="already applied trade T-X"):
        position.apply(buy(PERP, "1", "120.0", trade_id="T-X"))
    assert position.signed_qty == Decimal(1) and position.trade_ids == [TradeId("T-X")]


def test_fill_of_another_instrument_is_refused():
    position = Position(PERP, buy(PERP, "1", "100.0"), PID)
    with pytest.raises(PositionError, match=r"is for ESH4\.GLBX"):
        position.apply(buy(ES, "1", "5000.00"))


def test_futures_pnl_uses_the_contract_multiplier():
    position = Position(ES, buy(ES, "2", "5000.00"), PID)
    position.apply(sell(ES, "1", "5010.25"))
    # (5010.25 − 5000) × 1 × 50 = 512.50 USD
    assert position.realized_pnl == Money("512.50", USD)
    # (4990 − 5000) × 1 × 50 = −500
    assert position.unrealized_pnl(Price.from_str("4990.00")) == Money("-500.00", USD)
    # entry notional of the open contract: 1 × 5000 × 50
    assert position.entry_value == Decimal(250000)
    assert position.notional_value(Price.from_str("4990.00")) == Money("249500.00", USD)


def test_inverse_perpetual_pnl_is_in_bitcoin():
    position = Position(BTCUSD_INVERSE, buy(BTCUSD_INVERSE, "10000", "40000.0"), PID)
    position.apply(sell(BTCUSD_INVERSE, "10000", "50000.0"))
    # 10000 × 1 × (1/40000 − 1/50000) = 0.25 − 0.2 = 0.05 BTC
    assert position.currency == BTC
    assert position.realized_pnl == Money("0.05", BTC)


def test_inverse_short_loses_bitcoin_when_the_price_rises():
    position = Position(BTCUSD_INVERSE, sell(BTCUSD_INVERSE, "20000", "50000.0"), PID)
    # signed_qty × (1/entry − 1/price) = −20000 × (1/50000 − 1/62500)
    #   = −20000 × (0.00002 − 0.000016) = −0.08 BTC
    assert position.unrealized_pnl(Price.from_str("62500.0")) == Money("-0.08", BTC)
    # and gains when it falls: −20000 × (0.00002 − 0.000025) = +0.1 BTC
    assert position.unrealized_pnl(Price.from_str("40000.0")) == Money("0.1", BTC)


def test_inverse_entry_price_is_the_harmonic_mean():
    position = Position(BTCUSD_INVERSE, buy(BTCUSD_INVERSE, "10000", "40000.0"), PID)
    position.apply(buy(BTCUSD_INVERSE, "10000", "60000.0"))
    # 20000 / (10000/40000 + 10000/60000) = 20000 / (0.25 + 0.1666...) = 48000
    # (0.1666... is kept to 30 decimals, so the mean is 48000 to about 25 digits)
    assert abs(position.avg_px_open - 48000) < Decimal("1e-20")
    position.apply(sell(BTCUSD_INVERSE, "20000", "48000.0"))
    assert position.realized_pnl == Money("0", BTC)


def test_commissions_in_another_currency_are_kept_apart_from_pnl():
    position = Position(PERP, buy(PERP, "1", "100.0", commission=usdt("0.10")), PID)
    position.apply(sell(PERP, "1", "110.0", commission=Money("0.002", BNB)))
    position.apply(buy(PERP, "1", "110.0", commission=usdt("0.11")))
    assert position.commissions == {"USDT": usdt("0.21"), "BNB": Money("0.002", BNB)}
    assert position.commission(USDT) == usdt("0.21")
    # gross 10, net of the USDT commissions: 10 − 0.21 = 9.79 (BNB is not converted)
    assert position.realized_pnl == usdt("10")
    assert position.net_realized_pnl == usdt("9.79")


def test_position_events_round_trip_through_json():
    position = Position(ES, buy(ES, "1", "5000.00", commission=Money("2.25", USD)), PID)
    events = position.apply(sell(ES, "3", "5001.50"))
    encoder = msgspec.json.Encoder(enc_hook=_encode_hook)
    for event in events:
        assert encoder.encode(event) == to_json(event)
        assert from_json(to_json(event), PositionOpened | PositionChanged | PositionClosed) == event
        assert from_json(to_json(event), type(event)) == event


# -- property: PnL equals the cash flows ---------------------------------------------------

_fills = st.lists(
    st.tuples(
        st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
        st.integers(min_value=1, max_value=5_000),  # quantity in thousandths
        st.integers(min_value=1, max_value=2_000_000),  # price in tenths
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(fills=_fills, mark=st.integers(min_value=1, max_value=2_000_000))
def test_realized_plus_unrealized_equals_the_cash_flows_exactly(fills, mark):
    instrument = ES if len(fills) % 2 else PERP  # with and without a multiplier
    qty_scale = Decimal(1) if instrument is ES else Decimal("0.001")
    position = None
    cash = Decimal(0)
    held = Decimal(0)
    for side, q, p in fills:
        qty = Decimal(q) * qty_scale
        px = Decimal(p) / 4 if instrument is ES else Decimal(p) / 10
        f = fill(instrument, side, str(qty), str(px))
        sign = 1 if side is OrderSide.BUY else -1
        cash -= sign * qty * px
        held += sign * qty
        if position is None:
            position = Position(instrument, f, PID)
        else:
            position.apply(f)
    assert position is not None
    price = Price(Decimal(mark) / 4 if instrument is ES else Decimal(mark) / 10)
    with localcontext(EXACT_CONTEXT):  # wide enough that the reference itself is exact
        expected = (cash + held * price.as_decimal()) * instrument.multiplier.as_decimal()
        actual = position.realized_pnl_decimal + position.unrealized_pnl_decimal(price)
    assert actual == expected
    assert position.signed_qty == held


def test_position_events_in_an_eight_decimal_currency_round_trip_through_json():
    position = Position(PERP, buy(PERP, "1", "100.0"), PID)
    (opened,) = position.last_events
    assert from_json(to_json(opened), PositionOpened) == opened


@settings(max_examples=200, deadline=None)
@given(
    fills=st.lists(
        st.tuples(
            st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
            st.integers(min_value=1, max_value=100_000),  # contracts (USD)
            st.integers(min_value=2, max_value=200_000),  # price in halves of a dollar
        ),
        min_size=1,
        max_size=25,
    ),
    mark=st.integers(min_value=2, max_value=200_000),
)
def test_inverse_pnl_equals_the_bitcoin_cash_flows(fills, mark):
    # Long q at e, out at x: q × (1/e − 1/x) BTC, so a buy brings +q/px and a sell −q/px,
    # and the open quantity is valued at −Q/P. Each q/px is kept to 30 decimals.
    position = None
    with localcontext(EXACT_CONTEXT):
        flows = Decimal(0)
        held = Decimal(0)
        for side, q, p in fills:
            px = Decimal(p) / 2
            sign = 1 if side is OrderSide.BUY else -1
            flows += sign * Decimal(q) / px
            held += sign * q
            f = fill(BTCUSD_INVERSE, side, str(q), str(px))
            if position is None:
                position = Position(BTCUSD_INVERSE, f, PID)
            else:
                position.apply(f)
        assert position is not None
        price = Price(Decimal(mark) / 2)
        expected = flows - held / price.as_decimal()
        actual = position.realized_pnl_decimal + position.unrealized_pnl_decimal(price)
        assert abs(actual - expected) < Decimal("1e-27")
