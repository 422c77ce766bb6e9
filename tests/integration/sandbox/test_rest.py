"""The sandbox venue's REST API over real loopback sockets: public endpoints, signatures,
the order lifecycle and its errors."""

from __future__ import annotations

import time

import pytest

from tests.integration.sandbox.conftest import (
    API_KEY,
    SYMBOL,
    Client,
    d,
    seed_book,
)
from zq.sandbox import SandboxVenue

pytestmark = pytest.mark.asyncio


# --- Public endpoints -----------------------------------------------------------------------


async def test_ping_time_and_exchange_info_describe_the_symbol(client: Client):
    assert (await client.request("GET", "/api/v3/ping")).body == {}
    before = int(time.time() * 1000)
    server_time = (await client.request("GET", "/api/v3/time")).body["serverTime"]
    assert before - 1000 <= server_time <= int(time.time() * 1000) + 1000
    info = (await client.request("GET", "/api/v3/exchangeInfo", {"symbol": SYMBOL})).body
    (symbol,) = info["symbols"]
    assert (symbol["symbol"], symbol["baseAsset"], symbol["quoteAsset"]) == ("BTCUSDT", "BTC", "USDT")
    filters = {f["filterType"]: f for f in symbol["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert {limit["rateLimitType"] for limit in info["rateLimits"]} == {"REQUEST_WEIGHT", "ORDERS"}


async def test_unknown_symbol_is_error_1121(client: Client):
    reply = await client.request("GET", "/api/v3/depth", {"symbol": "NOPEUSDT"})
    assert (reply.status, reply.body["code"]) == (400, -1121)


async def test_depth_lists_the_book_best_first_with_an_update_id(venue: SandboxVenue, client: Client):
    seed_book(venue)
    depth = (await client.request("GET", "/api/v3/depth", {"symbol": SYMBOL, "limit": 2})).body
    assert depth["lastUpdateId"] == 1
    assert depth["bids"] == [["59990.00000000", "1.00000000"], ["59980.00000000", "2.00000000"]]
    assert depth["asks"] == [["60000.00000000", "0.50000000"], ["60010.00000000", "1.00000000"]]


async def test_used_weight_header_adds_each_endpoint_weight(client: Client):
    # Binance weights: ping 1, exchangeInfo 20, depth limit<=100 5.
    first = await client.request("GET", "/api/v3/ping")
    second = await client.request("GET", "/api/v3/exchangeInfo")
    third = await client.request("GET", "/api/v3/depth", {"symbol": SYMBOL})
    used = [int(r.headers["X-MBX-USED-WEIGHT-1M"]) for r in (first, second, third)]
    assert used == [1, 21, 26]


# --- Signatures -----------------------------------------------------------------------------


async def test_signed_request_with_a_valid_signature_is_accepted(client: Client):
    reply = await client.request("GET", "/api/v3/account", signed=True)
    assert reply.status == 200
    balances = {b["asset"]: b for b in reply.body["balances"]}
    assert balances["USDT"]["free"] == "100000.00000000"


async def test_signature_in_the_body_of_a_post_is_accepted(venue: SandboxVenue, client: Client):
    seed_book(venue)
    params = {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
              "quantity": "0.01", "price": "59000"}
    reply = await client.request("POST", "/api/v3/order", params, signed=True, in_body=True)
    assert reply.status == 200, reply
    assert reply.body["status"] == "NEW"


async def test_wrong_signature_is_error_1022(client: Client):
    reply = await client.request("GET", "/api/v3/account", signed=True, signature="0" * 64)
    assert (reply.status, reply.body["code"]) == (400, -1022)


async def test_missing_or_unknown_api_key_is_refused(client: Client):
    missing = await client.request("GET", "/api/v3/account")
    assert (missing.status, missing.body["code"]) == (401, -2014)
    client.api_key = "nobody"
    unknown = await client.request("GET", "/api/v3/account", signed=True)
    assert (unknown.status, unknown.body["code"]) == (401, -2015)


async def test_stale_or_future_timestamp_is_error_1021(client: Client):
    now = int(time.time() * 1000)
    stale = await client.request("GET", "/api/v3/account", signed=True, timestamp=now - 6000)
    assert stale.body["code"] == -1021
    assert "recvWindow" in stale.body["msg"]
    future = await client.request("GET", "/api/v3/account", signed=True, timestamp=now + 5000)
    assert future.body["code"] == -1021
    # A wider recvWindow admits the older timestamp (it is part of the signed payload).
    wide = await client.request(
        "GET", "/api/v3/account", {"recvWindow": 10000}, signed=True, timestamp=now - 6000
    )
    assert wide.status == 200


# --- Order lifecycle ------------------------------------------------------------------------


async def test_limit_order_below_the_ask_rests_and_is_listed_open(venue: SandboxVenue, client: Client):
    seed_book(venue)
    reply = await client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1",
                               price="59995", newClientOrderId="rest-1")
    assert reply.body["status"] == "NEW"
    assert reply.body["fills"] == []
    opened = (await client.request("GET", "/api/v3/openOrders", {"symbol": SYMBOL}, signed=True)).body
    assert [(o["clientOrderId"], o["status"], o["price"]) for o in opened] == [
        ("rest-1", "NEW", "59995.00000000")
    ]


async def test_market_buy_walks_the_asks(venue: SandboxVenue, client: Client):
    seed_book(venue)
    reply = await client.order(side="BUY", type="MARKET", quantity="0.7")
    body = reply.body
    # By hand: 0.5 at 60000, then 0.2 at 60010; quote 30000 + 12002 = 42002.
    assert [(f["price"], f["qty"]) for f in body["fills"]] == [
        ("60000.00000000", "0.50000000"),
        ("60010.00000000", "0.20000000"),
    ]
    assert (body["status"], body["executedQty"], body["cummulativeQuoteQty"]) == (
        "FILLED", "0.70000000", "42002.00000000"
    )


async def test_market_order_larger_than_the_book_expires_with_a_partial_fill(
    venue: SandboxVenue, client: Client
):
    venue.set_levels(SYMBOL, asks=[(d("60000"), d("0.1"))])
    body = (await client.order(side="BUY", type="MARKET", quantity="0.3")).body
    assert (body["status"], body["executedQty"]) == ("EXPIRED", "0.10000000")


async def test_cancel_then_query_by_client_order_id(venue: SandboxVenue, client: Client):
    seed_book(venue)
    await client.order(side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.2",
                       price="60500", newClientOrderId="c-1")
    canceled = await client.request("DELETE", "/api/v3/order",
                                    {"symbol": SYMBOL, "origClientOrderId": "c-1"}, signed=True)
    assert canceled.body["status"] == "CANCELED"
    assert canceled.body["origClientOrderId"] == "c-1"
    queried = await client.request("GET", "/api/v3/order",
                                   {"symbol": SYMBOL, "origClientOrderId": "c-1"}, signed=True)
    assert (queried.body["status"], queried.body["orderId"]) == ("CANCELED", canceled.body["orderId"])
    again = await client.request("DELETE", "/api/v3/order",
                                 {"symbol": SYMBOL, "orderId": canceled.body["orderId"]}, signed=True)
    assert (again.body["code"], again.body["msg"]) == (-2011, "Unknown order sent.")


async def test_duplicate_client_order_id_of_an_open_order_is_rejected(venue: SandboxVenue, client: Client):
    seed_book(venue)
    params = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
              "price": "59000", "newClientOrderId": "dup-1"}
    assert (await client.order(**params)).status == 200
    duplicate = await client.order(**params)
    assert (duplicate.status, duplicate.body) == (400, {"code": -2010, "msg": "Duplicate order sent."})
    # Once the first order is closed, Binance accepts the id again.
    await client.request("DELETE", "/api/v3/order", {"symbol": SYMBOL, "origClientOrderId": "dup-1"},
                         signed=True)
    assert (await client.order(**params)).status == 200


async def test_unknown_order_query_is_error_2013(client: Client):
    reply = await client.request("GET", "/api/v3/order", {"symbol": SYMBOL, "orderId": 99}, signed=True)
    assert (reply.status, reply.body["code"]) == (400, -2013)


@pytest.mark.parametrize(
    ("params", "code", "msg_part"),
    [
        ({"price": "59000.001"}, -1013, "PRICE_FILTER"),
        ({"quantity": "0.000001"}, -1013, "LOT_SIZE"),
        ({"quantity": "0.00001", "price": "1000"}, -1013, "NOTIONAL"),
        ({"timeInForce": "GTD"}, -1115, "timeInForce"),
        ({"side": "HOLD"}, -1117, "side"),
        ({"type": "STOP_LOSS"}, -1020, "not supported"),
        ({"price": ""}, -1102, "price"),
        ({"quantity": "1e"}, -1100, "quantity"),
        ({"quantity": "1E-2"}, -1100, "quantity"),
        ({"price": "-59000"}, -1100, "price"),
        ({"newClientOrderId": "bad id!"}, -1100, "newClientOrderId"),
    ],
)
async def test_invalid_orders_get_binance_errors(
    venue: SandboxVenue, client: Client, params, code, msg_part
):
    seed_book(venue)
    order = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01", "price": "59000"}
    order.update(params)
    reply = await client.order(**order)
    assert reply.status == 400
    assert reply.body["code"] == code
    assert msg_part in reply.body["msg"]


async def test_limit_maker_that_would_cross_is_rejected(venue: SandboxVenue, client: Client):
    seed_book(venue)
    reply = await client.order(side="BUY", type="LIMIT_MAKER", quantity="0.01", price="60000")
    assert reply.body == {"code": -2010, "msg": "Order would immediately match and take."}
    rests = await client.order(side="BUY", type="LIMIT_MAKER", quantity="0.01", price="59999.99")
    assert rests.body["status"] == "NEW"


async def test_ioc_fills_what_crosses_and_expires_the_rest(venue: SandboxVenue, client: Client):
    seed_book(venue)
    body = (await client.order(side="BUY", type="LIMIT", timeInForce="IOC", quantity="1",
                               price="60000")).body
    assert (body["status"], body["executedQty"]) == ("EXPIRED", "0.50000000")


async def test_fok_that_cannot_fill_in_full_expires_without_fills(venue: SandboxVenue, client: Client):
    seed_book(venue)
    body = (await client.order(side="BUY", type="LIMIT", timeInForce="FOK", quantity="1",
                               price="60000")).body
    assert (body["status"], body["executedQty"], body["fills"]) == ("EXPIRED", "0.00000000", [])


async def test_order_beyond_the_free_balance_is_rejected(venue: SandboxVenue, client: Client):
    seed_book(venue)
    reply = await client.order(side="SELL", type="LIMIT", timeInForce="GTC", quantity="1.5",
                               price="61000")
    assert reply.body == {"code": -2010,
                          "msg": "Account has insufficient balance for requested action."}


async def test_cancel_all_open_orders_of_a_symbol(venue: SandboxVenue, client: Client):
    seed_book(venue)
    for price in ("59000", "59001"):
        await client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price=price)
    canceled = await client.request("DELETE", "/api/v3/openOrders", {"symbol": SYMBOL}, signed=True)
    assert [o["status"] for o in canceled.body] == ["CANCELED", "CANCELED"]
    none_left = await client.request("DELETE", "/api/v3/openOrders", {"symbol": SYMBOL}, signed=True)
    assert none_left.body["code"] == -2011
    assert venue.account(API_KEY).open_orders() == []


async def test_response_types_ack_and_result(venue: SandboxVenue, client: Client):
    seed_book(venue)
    ack = (await client.order(side="BUY", type="MARKET", quantity="0.01", newOrderRespType="ACK")).body
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    result = (await client.order(side="BUY", type="MARKET", quantity="0.01",
                                 newOrderRespType="RESULT")).body
    assert "fills" not in result
    assert result["status"] == "FILLED"


async def test_two_symbols_trade_apart(session):
    from tests.integration.sandbox.conftest import SECRET, manual_config
    from zq.sandbox import SymbolConfig

    eth = SymbolConfig(symbol="ETHUSDT", base_asset="ETH", quote_asset="USDT", size_precision=4,
                       step_size=d("0.0001"), min_qty=d("0.0001"))
    async with SandboxVenue(manual_config(symbols=(SymbolConfig(), eth))) as venue:
        client = Client(session, venue.url, API_KEY, SECRET)
        info = (await client.request("GET", "/api/v3/exchangeInfo",
                                     {"symbols": '["ETHUSDT","BTCUSDT"]'})).body
        assert [s["symbol"] for s in info["symbols"]] == ["ETHUSDT", "BTCUSDT"]
        venue.set_levels("ETHUSDT", asks=[(d("2500"), d("3"))])
        body = (await client.order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="2")).body
        assert (body["status"], body["cummulativeQuoteQty"]) == ("FILLED", "5000.00000000")
        btc = await client.request("GET", "/api/v3/depth", {"symbol": SYMBOL})
        assert btc.body == {"lastUpdateId": 0, "bids": [], "asks": []}
        balances = {b["asset"]: b["free"] for b in
                    (await client.request("GET", "/api/v3/account", signed=True)).body["balances"]}
        # 2 ETH less the 0.1 % commission (0.002); 100000 - 5000 USDT.
        assert (balances["ETH"], balances["USDT"]) == ("1.99800000", "95000.00000000")


REPLACE = {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
           "quantity": "0.02", "price": "59100"}


async def test_cancel_replace_moves_an_order(venue: SandboxVenue, client: Client):
    seed_book(venue)
    await client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="59000",
                       newClientOrderId="m-1")
    reply = await client.request("POST", "/api/v3/order/cancelReplace",
                                 {**REPLACE, "cancelReplaceMode": "STOP_ON_FAILURE",
                                  "cancelOrigClientOrderId": "m-1", "newClientOrderId": "m-1"},
                                 signed=True)
    assert reply.status == 200, reply
    assert (reply.body["cancelResult"], reply.body["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert reply.body["cancelResponse"]["status"] == "CANCELED"
    new = reply.body["newOrderResponse"]
    assert (new["clientOrderId"], new["price"], new["origQty"]) == ("m-1", "59100.00000000", "0.02000000")
    opened = (await client.request("GET", "/api/v3/openOrders", {"symbol": SYMBOL}, signed=True)).body
    assert [(o["orderId"], o["price"]) for o in opened] == [(new["orderId"], "59100.00000000")]
    # 0.02 * 59100 = 1182 USDT locked, the first order's 590 given back.
    assert venue.account(API_KEY).balance("USDT").locked == d("1182")


async def test_cancel_replace_of_an_unknown_order(venue: SandboxVenue, client: Client):
    seed_book(venue)
    stop = await client.request("POST", "/api/v3/order/cancelReplace",
                                {**REPLACE, "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": 77},
                                signed=True)
    assert (stop.status, stop.body["code"]) == (400, -2022)
    assert stop.body["data"]["cancelResponse"] == {"code": -2011, "msg": "Unknown order sent."}
    assert (stop.body["data"]["newOrderResult"], stop.body["data"]["newOrderResponse"]) == ("NOT_ATTEMPTED", None)
    allow = await client.request("POST", "/api/v3/order/cancelReplace",
                                 {**REPLACE, "cancelReplaceMode": "ALLOW_FAILURE", "cancelOrderId": 77},
                                 signed=True)
    assert (allow.status, allow.body["code"]) == (409, -2021)
    assert allow.body["data"]["newOrderResponse"]["status"] == "NEW"


async def test_cancel_replace_that_breaks_a_filter_cancels_nothing(venue: SandboxVenue, client: Client):
    seed_book(venue)
    first = (await client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01",
                                price="59000")).body
    reply = await client.request("POST", "/api/v3/order/cancelReplace",
                                 {**REPLACE, "price": "59100.005", "cancelReplaceMode": "STOP_ON_FAILURE",
                                  "cancelOrderId": first["orderId"]}, signed=True)
    assert reply.body["code"] == -1013
    query = await client.request("GET", "/api/v3/order", {"symbol": SYMBOL, "orderId": first["orderId"]},
                                 signed=True)
    assert query.body["status"] == "NEW"


async def test_all_orders_lists_open_and_closed_orders(venue: SandboxVenue, client: Client):
    seed_book(venue)
    ids = []
    for price in ("59000", "59001", "59002"):
        ids.append((await client.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01",
                                       price=price)).body["orderId"])
    await client.request("DELETE", "/api/v3/order", {"symbol": SYMBOL, "orderId": ids[0]}, signed=True)
    every = (await client.request("GET", "/api/v3/allOrders", {"symbol": SYMBOL}, signed=True)).body
    assert [(o["orderId"], o["status"]) for o in every] == [
        (ids[0], "CANCELED"), (ids[1], "NEW"), (ids[2], "NEW")
    ]
    later = (await client.request("GET", "/api/v3/allOrders", {"symbol": SYMBOL, "orderId": ids[1], "limit": 1},
                                  signed=True)).body
    assert [o["orderId"] for o in later] == [ids[1]]
