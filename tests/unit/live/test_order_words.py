"""The execution client's new-order words, made for every combination at import."""

from __future__ import annotations

import pytest

from zq.adapters.binance.enums import (
    order_side_to_binance,
    order_type_to_binance,
    time_in_force_to_binance,
)
from zq.live import execution_client
from zq.model.enums import OrderSide, OrderType, TimeInForce


def test_every_combination_binance_takes_has_its_words_at_import():
    made = dict(execution_client._ORDER_WORDS)
    for order_type in OrderType:
        for side in OrderSide:
            for time_in_force in TimeInForce:
                for post_only in (False, True):
                    key = (order_type, side, time_in_force, post_only)
                    try:
                        binance_type = order_type_to_binance(order_type, post_only=post_only)
                        binance_side = order_side_to_binance(side)
                        priced = order_type in (
                            OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_IF_TOUCHED
                        )
                        tif = None
                        if priced and binance_type != "LIMIT_MAKER":
                            tif = time_in_force_to_binance(time_in_force)
                    except ValueError:
                        assert key not in made
                        with pytest.raises(ValueError):
                            execution_client._order_words(*key)
                        continue
                    triggered = order_type in (
                        OrderType.STOP_MARKET,
                        OrderType.STOP_LIMIT,
                        OrderType.MARKET_IF_TOUCHED,
                        OrderType.LIMIT_IF_TOUCHED,
                    )
                    assert made.pop(key) == (binance_side, binance_type, tif, priced, triggered)
    assert made == {}
    assert execution_client._ORDER_WORDS[
        (OrderType.LIMIT, OrderSide.BUY, TimeInForce.GTC, False)
    ] == ("BUY", "LIMIT", "GTC", True, False)
