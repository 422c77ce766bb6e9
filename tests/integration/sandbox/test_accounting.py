"""Random orders against a moving market: the account's balances, locks, orders and trades
stay consistent with one another, checked by a reference computed from myTrades."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_EVEN, Decimal

import aiohttp
import pytest

from tests.integration.sandbox.conftest import API_KEY, SECRET, SYMBOL, Client, d, manual_config
from zq.sandbox import SandboxVenue
from zq.sandbox.market import GeneratedMarket

pytestmark = pytest.mark.asyncio

RATE = Decimal("0.001")
EIGHT = Decimal("0.00000001")
# The errors random orders may meet (anything else is a defect).
EXPECTED_ERRORS = {-2010, -2011, -1013}


async def all_trades(client: Client) -> list[dict]:
    trades: list[dict] = []
    from_id = 0
    while True:
        page = (await client.request("GET", "/api/v3/myTrades",
                                     {"symbol": SYMBOL, "fromId": from_id, "limit": 1000}, signed=True)).body
        trades += page
        if len(page) < 1000:
            return trades
        from_id = page[-1]["id"] + 1


async def test_random_orders_keep_balances_locks_and_trades_consistent(session: aiohttp.ClientSession):
    # Binance's limit of 50 new orders per 10 s would refuse most of this burst.
    async with SandboxVenue(manual_config(orders_per_10s=10_000)) as venue:
        market = GeneratedMarket(venue.exchange, d("60000"), levels=10, seed=11)
        client = Client(session, venue.url, API_KEY, SECRET)
        rng = random.Random(5)
        state = venue.exchange.symbols[SYMBOL]
        placed: list[int] = []
        errors = []
        for i in range(400):
            if i % 4 == 0:
                market.step()
            bid = state.price(state.top[0])
            side = rng.choice(("BUY", "SELL"))
            quantity = str(Decimal(rng.randint(100, 5000)) * Decimal("0.00001"))
            price = str(bid + Decimal(rng.randint(-5, 6)) * Decimal("0.01"))
            action = rng.random()
            if action < 0.35:
                reply = await client.order(side=side, type="LIMIT", timeInForce="GTC",
                                           quantity=quantity, price=price)
            elif action < 0.5:
                reply = await client.order(side=side, type="MARKET", quantity=quantity)
            elif action < 0.6:
                reply = await client.order(side=side, type="LIMIT", timeInForce=rng.choice(("IOC", "FOK")),
                                           quantity=quantity, price=price)
            elif action < 0.7:
                reply = await client.order(side=side, type="LIMIT_MAKER", quantity=quantity, price=price)
            elif placed:
                reply = await client.request("DELETE", "/api/v3/order",
                                             {"symbol": SYMBOL, "orderId": rng.choice(placed)}, signed=True)
            else:
                continue
            if reply.status == 200:
                if "orderId" in reply.body:
                    placed.append(reply.body["orderId"])
            else:
                errors.append(reply.body["code"])
        account = (await client.request("GET", "/api/v3/account", signed=True)).body
        opened = (await client.request("GET", "/api/v3/openOrders", {"symbol": SYMBOL}, signed=True)).body
        trades = await all_trades(client)
        orders = [
            (await client.request("GET", "/api/v3/order", {"symbol": SYMBOL, "orderId": order_id},
                                  signed=True)).body
            for order_id in sorted(set(placed))
        ]
    assert set(errors) <= EXPECTED_ERRORS, errors
    assert len(trades) > 50 and opened  # the run did trade and left orders resting
    # Reference: the starting balances moved by every trade.
    expected = {"BTC": Decimal("1"), "USDT": Decimal("100000")}
    for trade in trades:
        price, qty, quote = Decimal(trade["price"]), Decimal(trade["qty"]), Decimal(trade["quoteQty"])
        commission = Decimal(trade["commission"])
        assert quote == price * qty
        if trade["isBuyer"]:
            assert (commission, trade["commissionAsset"]) == (
                (qty * RATE).quantize(EIGHT, ROUND_HALF_EVEN), "BTC")
            expected["BTC"] += qty - commission
            expected["USDT"] -= quote
        else:
            assert (commission, trade["commissionAsset"]) == (
                (quote * RATE).quantize(EIGHT, ROUND_HALF_EVEN), "USDT")
            expected["BTC"] -= qty
            expected["USDT"] += quote - commission
    balances = {b["asset"]: (Decimal(b["free"]), Decimal(b["locked"])) for b in account["balances"]}
    for asset, total in expected.items():
        free, locked = balances[asset]
        assert free >= 0 and locked >= 0
        assert free + locked == total, asset
    # What is locked is exactly what the open orders still need.
    locked_usdt = sum((Decimal(o["price"]) * (Decimal(o["origQty"]) - Decimal(o["executedQty"]))
                       for o in opened if o["side"] == "BUY"), Decimal(0))
    locked_btc = sum((Decimal(o["origQty"]) - Decimal(o["executedQty"])
                      for o in opened if o["side"] == "SELL"), Decimal(0))
    assert (balances["USDT"][1], balances["BTC"][1]) == (locked_usdt, locked_btc)
    # Every order's executed quantities are the sum of its trades.
    by_order: dict[int, list[dict]] = {}
    for trade in trades:
        by_order.setdefault(trade["orderId"], []).append(trade)
    for order in orders:
        own = by_order.get(order["orderId"], [])
        assert Decimal(order["executedQty"]) == sum((Decimal(t["qty"]) for t in own), Decimal(0))
        assert Decimal(order["cummulativeQuoteQty"]) == sum((Decimal(t["quoteQty"]) for t in own), Decimal(0))
        if order["status"] == "FILLED":
            assert order["executedQty"] == order["origQty"]
        if order["type"] == "LIMIT_MAKER":
            assert all(t["isMaker"] for t in own)
    assert len({t["id"] for t in trades}) == len(trades)
