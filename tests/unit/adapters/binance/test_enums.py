"""zq order vocabulary ⇄ Binance's, and refusals of what Binance spot cannot express."""

from __future__ import annotations

import pytest

from zq.adapters.binance.enums import (
    BinanceEnumError,
    order_side_to_binance,
    order_type_to_binance,
    parse_liquidity_side,
    parse_order_side,
    parse_order_status,
    parse_order_type,
    parse_time_in_force,
    time_in_force_to_binance,
)
from zq.model.enums import LiquiditySide, OrderSide, OrderStatus, OrderType, TimeInForce


def test_sides_round_trip():
    for side in (OrderSide.BUY, OrderSide.SELL):
        assert parse_order_side(order_side_to_binance(side)) is side
    with pytest.raises(BinanceEnumError, match=r"order side 'NO_ORDER_SIDE'"):
        order_side_to_binance(OrderSide.NO_ORDER_SIDE)


@pytest.mark.parametrize(
    ("zq_type", "binance"),
    [
        (OrderType.MARKET, "MARKET"),
        (OrderType.LIMIT, "LIMIT"),
        # Buy stop: triggers as the price rises to it; Binance calls that STOP_LOSS.
        (OrderType.STOP_MARKET, "STOP_LOSS"),
        (OrderType.STOP_LIMIT, "STOP_LOSS_LIMIT"),
        # Buy if touched: triggers as the price falls to it; Binance's TAKE_PROFIT.
        (OrderType.MARKET_IF_TOUCHED, "TAKE_PROFIT"),
        (OrderType.LIMIT_IF_TOUCHED, "TAKE_PROFIT_LIMIT"),
    ],
)
def test_order_types_round_trip(zq_type, binance):
    assert order_type_to_binance(zq_type) == binance
    assert parse_order_type(binance) == (zq_type, False)


def test_post_only_limit_is_limit_maker_and_nothing_else_can_be_post_only():
    assert order_type_to_binance(OrderType.LIMIT, post_only=True) == "LIMIT_MAKER"
    assert parse_order_type("LIMIT_MAKER") == (OrderType.LIMIT, True)
    with pytest.raises(BinanceEnumError, match="post-only STOP_LIMIT"):
        order_type_to_binance(OrderType.STOP_LIMIT, post_only=True)


def test_time_in_force_gtd_and_day_are_refused():
    for tif in (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK):
        assert parse_time_in_force(time_in_force_to_binance(tif)) is tif
    with pytest.raises(BinanceEnumError, match=r"time in force 'GTD'.*accepted: GTC, IOC, FOK"):
        time_in_force_to_binance(TimeInForce.GTD)


def test_statuses():
    assert parse_order_status("NEW") is OrderStatus.ACCEPTED
    assert parse_order_status("PARTIALLY_FILLED") is OrderStatus.PARTIALLY_FILLED
    assert parse_order_status("FILLED") is OrderStatus.FILLED
    assert parse_order_status("CANCELED") is OrderStatus.CANCELED
    assert parse_order_status("REJECTED") is OrderStatus.REJECTED
    assert parse_order_status("EXPIRED") is OrderStatus.EXPIRED
    assert parse_order_status("EXPIRED_IN_MATCH") is OrderStatus.EXPIRED
    with pytest.raises(BinanceEnumError, match="unknown Binance order status 'DONE'"):
        parse_order_status("DONE")


def test_liquidity_side():
    assert parse_liquidity_side(True) is LiquiditySide.MAKER
    assert parse_liquidity_side(False) is LiquiditySide.TAKER
