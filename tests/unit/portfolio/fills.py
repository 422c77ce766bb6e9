"""Instruments and fill builders shared by the position, account and portfolio tests."""

from __future__ import annotations

import itertools
from decimal import Decimal

from zq.model.currency import Currency
from zq.model.enums import AssetClass, LiquiditySide, OrderSide, OrderType
from zq.model.events import OrderFilled
from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    PositionId,
    StrategyId,
    TradeId,
    TraderId,
    VenueOrderId,
)
from zq.model.instruments import CryptoPerpetual, CurrencyPair, FuturesContract, Instrument
from zq_core.fixed import Money, Price, Quantity

USD = Currency.from_str("USD")
USDT = Currency.from_str("USDT")
BTC = Currency.from_str("BTC")
ETH = Currency.from_str("ETH")
BNB = Currency.from_str("BNB")
STRATEGY = StrategyId("S-001")

ETHUSDT = CurrencyPair(
    id=InstrumentId("ETHUSDT.BINANCE"),
    raw_symbol="ETHUSDT",
    asset_class=AssetClass.CRYPTOCURRENCY,
    quote_currency=USDT,
    base_currency=ETH,
    price_increment=Price.from_str("0.01"),
    size_increment=Quantity.from_str("0.001"),
)
BTCUSDT_PERP = CryptoPerpetual(
    id=InstrumentId("BTCUSDT-PERP.BINANCE"),
    raw_symbol="BTCUSDT",
    asset_class=AssetClass.CRYPTOCURRENCY,
    quote_currency=USDT,
    base_currency=BTC,
    price_increment=Price.from_str("0.1"),
    size_increment=Quantity.from_str("0.001"),
)
BTCUSD_INVERSE = CryptoPerpetual(
    id=InstrumentId("XBTUSD.BITMEX"),
    raw_symbol="XBTUSD",
    asset_class=AssetClass.CRYPTOCURRENCY,
    quote_currency=USD,
    base_currency=BTC,
    inverse=True,
    price_increment=Price.from_str("0.5"),
    size_increment=Quantity.from_str("1"),
    margin_init=Decimal("0.01"),
)
ES = FuturesContract(
    id=InstrumentId("ESH4.GLBX"),
    raw_symbol="ESH4",
    asset_class=AssetClass.INDEX,
    quote_currency=USD,
    underlying="ES",
    price_increment=Price.from_str("0.25"),
    size_increment=Quantity.from_str("1"),
    multiplier=Quantity.from_str("50"),
    margin_init=Decimal("0.05"),
    margin_maint=Decimal("0.04"),
    activation_ns=1,
    expiration_ns=2_000_000_000_000_000_000,
)

_trade_ids = itertools.count(1)


def fill(
    instrument: Instrument,
    side: OrderSide,
    qty: str,
    px: str,
    *,
    commission: Money | None = None,
    order: str = "O-1",
    strategy: StrategyId = STRATEGY,
    position_id: str | None = None,
    ts: int = 0,
    trade_id: str | None = None,
    account: str | None = None,
) -> OrderFilled:
    """Return a fill of ``qty`` at ``px`` (commission zero in the settlement currency)."""
    venue = instrument.id.venue
    return OrderFilled(
        trader_id=TraderId("TRADER-001"),
        strategy_id=strategy,
        instrument_id=instrument.id,
        client_order_id=ClientOrderId(order),
        ts_event=ts,
        ts_init=ts,
        venue_order_id=VenueOrderId(f"V-{order}"),
        account_id=AccountId(account or f"{venue}-001"),
        trade_id=TradeId(trade_id or f"T-{next(_trade_ids)}"),
        order_side=side,
        order_type=OrderType.MARKET,
        last_qty=Quantity.from_str(qty),
        last_px=Price.from_str(px),
        commission=commission
        if commission is not None
        else Money.from_raw(0, instrument.settlement_currency),
        liquidity_side=LiquiditySide.TAKER,
        position_id=PositionId(position_id) if position_id is not None else None,
    )


def buy(instrument: Instrument, qty: str, px: str, **kwargs: object) -> OrderFilled:
    return fill(instrument, OrderSide.BUY, qty, px, **kwargs)  # type: ignore[arg-type]


def sell(instrument: Instrument, qty: str, px: str, **kwargs: object) -> OrderFilled:
    return fill(instrument, OrderSide.SELL, qty, px, **kwargs)  # type: ignore[arg-type]
