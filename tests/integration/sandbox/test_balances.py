"""Balances after fills, with commissions, computed by hand in the comments."""

from __future__ import annotations

import pytest

from tests.integration.sandbox.conftest import SYMBOL, Client, d, seed_book
from zq.sandbox import SandboxVenue

pytestmark = pytest.mark.asyncio


async def balances(client: Client) -> dict[str, tuple[str, str]]:
    body = (await client.request("GET", "/api/v3/account", signed=True)).body
    return {b["asset"]: (b["free"], b["locked"]) for b in body["balances"]}


async def test_balances_follow_fills_with_fees(venue: SandboxVenue, client: Client):
    seed_book(venue)
    # Start: USDT 100000, BTC 1; commission 0.1 % maker and taker.
    await client.order(side="BUY", type="MARKET", quantity="0.7")
    # Bought 0.5 at 60000 and 0.2 at 60010: 42002 USDT out.
    # Commission in BTC: 0.5 * 0.001 + 0.2 * 0.001 = 0.0007; BTC 1 + 0.7 - 0.0007 = 1.6993.
    assert await balances(client) == {
        "BTC": ("1.69930000", "0.00000000"),
        "USDT": ("57998.00000000", "0.00000000"),
    }
    await client.order(side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.5",
                       price="60100", newClientOrderId="ask")
    # 0.5 BTC locked by the resting sell.
    assert (await balances(client))["BTC"] == ("1.19930000", "0.50000000")
    await client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1",
                       price="59000", newClientOrderId="bid")
    # 0.1 * 59000 = 5900 USDT locked: 57998 - 5900 = 52098 free.
    assert (await balances(client))["USDT"] == ("52098.00000000", "5900.00000000")
    # A market buy of 0.3 prints at 60100: nothing is queued ahead of us (no book level at
    # 60100), so the sell fills 0.3 as maker at its price: 18030 USDT in, commission
    # 18030 * 0.001 = 18.03 USDT; 52098 + 18030 - 18.03 = 70109.97.
    venue.trade(SYMBOL, d("60100"), d("0.3"), buyer_is_maker=False)
    assert await balances(client) == {
        "BTC": ("1.19930000", "0.20000000"),
        "USDT": ("70109.97000000", "5900.00000000"),
    }
    order = (await client.request("GET", "/api/v3/order",
                                  {"symbol": SYMBOL, "origClientOrderId": "ask"}, signed=True)).body
    assert (order["status"], order["executedQty"], order["cummulativeQuoteQty"]) == (
        "PARTIALLY_FILLED", "0.30000000", "18030.00000000"
    )
    # Cancelling the bid gives the 5900 back.
    await client.request("DELETE", "/api/v3/order", {"symbol": SYMBOL, "origClientOrderId": "bid"},
                         signed=True)
    assert (await balances(client))["USDT"] == ("76009.97000000", "0.00000000")
    trades = (await client.request("GET", "/api/v3/myTrades", {"symbol": SYMBOL}, signed=True)).body
    assert [(t["price"], t["qty"], t["commission"], t["commissionAsset"], t["isBuyer"], t["isMaker"])
            for t in trades] == [
        ("60000.00000000", "0.50000000", "0.00050000", "BTC", True, False),
        ("60010.00000000", "0.20000000", "0.00020000", "BTC", True, False),
        ("60100.00000000", "0.30000000", "18.03000000", "USDT", False, True),
    ]
    assert len({t["id"] for t in trades}) == 3


async def test_limit_buy_filled_below_its_price_returns_the_difference(venue: SandboxVenue, client: Client):
    seed_book(venue)
    # A limit buy of 0.5 at 60005 takes the 0.5 offered at 60000: it locked 30002.50 and
    # spends 30000, so 2.50 comes back; commission 0.0005 BTC.
    body = (await client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.5",
                               price="60005")).body
    assert body["status"] == "FILLED"
    assert await balances(client) == {
        "BTC": ("1.49950000", "0.00000000"),
        "USDT": ("70000.00000000", "0.00000000"),
    }


async def test_resting_order_fills_when_the_book_moves_through_it(venue: SandboxVenue, client: Client):
    seed_book(venue)
    await client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.2", price="59995",
                       newClientOrderId="inside")
    # The asks come down to 59994: the bid is crossed and fills as maker at its own price.
    venue.set_levels(SYMBOL, asks=[(d("60000"), d("0")), (d("59994"), d("1"))])
    order = (await client.request("GET", "/api/v3/order",
                                  {"symbol": SYMBOL, "origClientOrderId": "inside"}, signed=True)).body
    assert (order["status"], order["executedQty"], order["cummulativeQuoteQty"]) == (
        "FILLED", "0.20000000", "11999.00000000"  # 0.2 * 59995
    )
    trades = (await client.request("GET", "/api/v3/myTrades", {"symbol": SYMBOL}, signed=True)).body
    assert [t["isMaker"] for t in trades] == [True]
