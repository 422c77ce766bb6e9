"""The fee model: its integer paths (the model's and the exchange's) give the exact Decimal
commission, to the last digit."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.unit.model.samples import instruments
from zq.backtest import SimulatedExchange
from zq.backtest.models import MakerTakerFeeModel
from zq.model.commands import SubmitOrder
from zq.model.data import OrderBookDelta, TradeTick
from zq.model.enums import AggressorSide, BookAction, LiquiditySide, OrderSide, OrderType
from zq.model.events import OrderEvent, OrderFilled, OrderInitialized
from zq.model.identifiers import ClientOrderId, StrategyId, TradeId, TraderId
from zq.model.instruments import Instrument
from zq_core.fixed import Money, Price, Quantity

SPOT, _INVERSE, FUTURE, EQUITY = instruments()


def reference_commission(
    instrument: Instrument, quantity: Quantity, price: Price, rate: Decimal
) -> Money:
    """quantity × price × multiplier × rate of a linear instrument, exact (60 digits), then
    rounded half-even to the currency (the model's documented result)."""
    currency = instrument.settlement_currency
    q, p, m = quantity.as_decimal(), price.as_decimal(), instrument.multiplier.as_decimal()
    with localcontext(prec=60):
        exact = q * p * m * rate
        exponent = Decimal(1).scaleb(-currency.precision)
        return Money(exact.quantize(exponent, rounding=ROUND_HALF_EVEN), currency)


def test_a_spot_taker_fill_pays_the_rate_on_its_notional() -> None:
    # 0.01 BTC at 30,000.00 USDT is 300 USDT of notional; 0.1 % of it is 0.30 USDT.
    fee = MakerTakerFeeModel().commission(
        SPOT, Quantity.from_str("0.01000"), Price.from_str("30000.00"), LiquiditySide.TAKER
    )
    assert fee == Money("0.30", SPOT.settlement_currency)


def test_a_future_fill_counts_the_multiplier() -> None:
    # 3 ES at 4800.25 x 50 = 720,037.50 USD; at 0.0001 that is 72.00375, half-even 72.00.
    model = MakerTakerFeeModel(taker_fee=Decimal("0.0001"))
    fee = model.commission(FUTURE, Quantity(3, 0), Price.from_str("4800.25"), LiquiditySide.TAKER)
    assert fee == Money("72.00", FUTURE.settlement_currency)


def test_a_half_cent_rounds_to_the_even_cent_both_signs() -> None:
    # 1 share at 0.25 x 0.1 = 0.025 exactly: half-even gives 0.02; a rebate gives -0.02.
    assert MakerTakerFeeModel(taker_fee=Decimal("0.1")).commission(
        EQUITY, Quantity(1, 0), Price.from_str("0.25"), LiquiditySide.TAKER
    ) == Money("0.02", EQUITY.settlement_currency)
    assert MakerTakerFeeModel(maker_fee=Decimal("-0.1")).commission(
        EQUITY, Quantity(1, 0), Price.from_str("0.25"), LiquiditySide.MAKER
    ) == Money("-0.02", EQUITY.settlement_currency)


def test_a_product_too_large_for_integers_takes_the_decimal_path() -> None:
    # 10**12 contracts x 10**6 x 50 x rate has more than 27 digits: Decimal decides.
    quantity, price = Quantity(10**12, 0), Price.from_str("1000000.25")
    model = MakerTakerFeeModel(taker_fee=Decimal("0.000123456789"))
    fee = model.commission(FUTURE, quantity, price, LiquiditySide.TAKER)
    assert fee == reference_commission(FUTURE, quantity, price, Decimal("0.000123456789"))


rates = st.decimals(
    min_value=Decimal("-0.01"), max_value=Decimal("0.01"), places=7, allow_nan=False
)


@settings(max_examples=400, deadline=None)
@given(
    instrument=st.sampled_from([SPOT, FUTURE, EQUITY]),
    quantity_raw=st.integers(min_value=1, max_value=10**12),
    price_raw=st.integers(min_value=1, max_value=10**9),
    rate=rates,
    maker=st.booleans(),
)
# Commissions too large for Money (found by hypothesis in CI): refused on both paths.
@example(
    instrument=FUTURE, quantity_raw=999_832_220_922, price_raw=255_731_791,
    rate=Decimal("0.01"), maker=False,
)
@example(
    instrument=SPOT, quantity_raw=995_457_953_851, price_raw=999_472_320,
    rate=Decimal("-0.01"), maker=False,
)
def test_the_commission_equals_the_exact_decimal_reference(
    instrument: Instrument, quantity_raw: int, price_raw: int, rate: Decimal, maker: bool
) -> None:
    quantity = Quantity.from_raw(quantity_raw, instrument.size_precision)
    price = Price.from_raw(price_raw, instrument.price_precision)
    side = LiquiditySide.MAKER if maker else LiquiditySide.TAKER
    model = MakerTakerFeeModel(maker_fee=rate, taker_fee=rate)
    try:
        expected = reference_commission(instrument, quantity, price, rate)
    except OverflowError:  # a commission too large for Money's int64 is refused either way
        with pytest.raises(OverflowError, match="does not fit in int64"):
            model.commission(instrument, quantity, price, side)
        return
    assert model.commission(instrument, quantity, price, side) == expected


def test_a_rate_replaced_on_the_instrument_is_used() -> None:
    # The model remembers rates by object; a new instrument with another rate gets its own.
    model = MakerTakerFeeModel()
    cheaper = msgspec.structs.replace(SPOT, taker_fee=Decimal("0.0005"))
    quantity, price = Quantity.from_str("0.01000"), Price.from_str("30000.00")
    assert model.commission(SPOT, quantity, price, LiquiditySide.TAKER).as_decimal() == Decimal(
        "0.30"
    )
    assert model.commission(cheaper, quantity, price, LiquiditySide.TAKER).as_decimal() == (
        Decimal("0.15")
    )


def exchange_fill(
    instrument: Instrument, quantity: Quantity, price: Price, rate: Decimal, maker: bool
) -> OrderFilled:
    """Fill one order of ``quantity`` at ``price`` on a SimulatedExchange charging ``rate``:
    a market buy against an ask of that size (taker), or a resting buy a seller trades
    through (maker)."""
    events: list[OrderEvent] = []
    exchange = SimulatedExchange(
        instrument.id.venue,
        [instrument],
        events.append,
        fee_model=MakerTakerFeeModel(maker_fee=rate, taker_fee=rate),
    )
    if not maker:
        exchange.process_delta(
            OrderBookDelta(
                instrument.id, BookAction.ADD, OrderSide.SELL, price, quantity, 0, 0, 1, 1, 1
            )
        )
    order = OrderInitialized(
        TraderId("TRADER-001"),
        StrategyId("S-001"),
        instrument.id,
        ClientOrderId("O-1"),
        2,
        2,
        OrderSide.BUY,
        OrderType.LIMIT if maker else OrderType.MARKET,
        quantity,
        price=price if maker else None,
    )
    exchange.submit(SubmitOrder(order.trader_id, order.strategy_id, instrument.id, 2, order))
    if maker:
        exchange.process_trade(
            TradeTick(instrument.id, price, quantity, AggressorSide.SELLER, TradeId("T-1"), 3, 3)
        )
    (fill,) = [event for event in events if isinstance(event, OrderFilled)]
    assert (fill.last_qty, fill.last_px) == (quantity, price)
    assert fill.liquidity_side == (LiquiditySide.MAKER if maker else LiquiditySide.TAKER)
    return fill


@settings(max_examples=300, deadline=None)
@given(
    instrument=st.sampled_from([SPOT, _INVERSE, FUTURE, EQUITY]),
    quantity_raw=st.integers(min_value=1, max_value=10**12),
    price_raw=st.integers(min_value=1, max_value=10**9),
    rate=rates,
    maker=st.booleans(),
)
@example(  # the raw product just past int64: the exchange asks the model
    instrument=FUTURE, quantity_raw=10**9, price_raw=10**9, rate=Decimal("0.01"), maker=False
)
def test_an_exchange_fill_pays_the_exact_decimal_commission(
    instrument: Instrument, quantity_raw: int, price_raw: int, rate: Decimal, maker: bool
) -> None:
    # The exchange computes linear commissions on raw ints (MakerTakerFeeModel.raw_terms);
    # the reference computes them in 60-digit Decimal, and inverse ones come from the model.
    quantity = Quantity.from_raw(quantity_raw, instrument.size_precision)
    price = Price.from_raw(price_raw, instrument.price_precision)
    side = LiquiditySide.MAKER if maker else LiquiditySide.TAKER
    model = MakerTakerFeeModel(maker_fee=rate, taker_fee=rate)
    try:
        expected = (
            model.commission(instrument, quantity, price, side)
            if instrument.is_inverse
            else reference_commission(instrument, quantity, price, rate)
        )
    except OverflowError:  # a commission too large for Money's int64 is refused either way
        with pytest.raises(OverflowError, match="does not fit in int64"):
            exchange_fill(instrument, quantity, price, rate, maker)
        return
    assert exchange_fill(instrument, quantity, price, rate, maker).commission == expected


def test_raw_terms_of_a_spot_pair_and_none_for_an_inverse_contract() -> None:
    # BTCUSDT: size 5 + price 2 + multiplier 0 decimals, rate 0.001 = 1 / 10**3, fees in
    # USDT at 8 decimals: shift 5 + 2 + 0 + 3 - 8 = 2 (raw product / 100).
    assert (SPOT.size_precision, SPOT.price_precision) == (5, 2)
    assert SPOT.multiplier.precision == 0 and SPOT.settlement_currency.precision == 8
    assert MakerTakerFeeModel().raw_terms(SPOT) == (1, 1, 2, 1, 2, SPOT.settlement_currency)
    assert MakerTakerFeeModel().raw_terms(_INVERSE) is None
