"""The shapes of Binance spot REST answers, decoded (and checked) with msgspec.

Prices and quantities stay the decimal strings Binance sends, so nothing is rounded here;
the caller converts them at the instrument's precision. Field names are Python's, mapped to
Binance's camelCase names.
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = [
    "Account",
    "AccountBalance",
    "AccountTrade",
    "CancelReplaceResult",
    "DepthSnapshot",
    "ErrorBody",
    "ListenKey",
    "OrderFill",
    "OrderResponse",
    "ServerTime",
]


class ServerTime(msgspec.Struct, frozen=True):
    """``GET /api/v3/time``."""

    server_time: int = msgspec.field(name="serverTime")


class DepthSnapshot(msgspec.Struct, frozen=True):
    """``GET /api/v3/depth``: the book at ``last_update_id``; levels left as raw JSON."""

    last_update_id: int = msgspec.field(name="lastUpdateId")
    bids: msgspec.Raw
    asks: msgspec.Raw


class OrderFill(msgspec.Struct, frozen=True):
    """One fill of a ``FULL`` new-order answer."""

    price: str
    qty: str
    commission: str
    commission_asset: str = msgspec.field(name="commissionAsset")
    trade_id: int = msgspec.field(name="tradeId")


class OrderResponse(msgspec.Struct, frozen=True, kw_only=True):
    """An order as the new-order, query-order, cancel and open-orders endpoints return it.

    ``ACK`` answers carry the ids and ``transact_time`` only; the other fields are then
    None.
    """

    symbol: str
    order_id: int = msgspec.field(name="orderId")
    client_order_id: str = msgspec.field(name="clientOrderId")
    order_list_id: int = msgspec.field(default=-1, name="orderListId")
    orig_client_order_id: str | None = msgspec.field(default=None, name="origClientOrderId")
    transact_time: int | None = msgspec.field(default=None, name="transactTime")
    time: int | None = None
    update_time: int | None = msgspec.field(default=None, name="updateTime")
    price: str | None = None
    orig_qty: str | None = msgspec.field(default=None, name="origQty")
    executed_qty: str | None = msgspec.field(default=None, name="executedQty")
    cummulative_quote_qty: str | None = msgspec.field(default=None, name="cummulativeQuoteQty")
    status: str | None = None
    time_in_force: str | None = msgspec.field(default=None, name="timeInForce")
    type: str | None = None
    side: str | None = None
    stop_price: str | None = msgspec.field(default=None, name="stopPrice")
    is_working: bool | None = msgspec.field(default=None, name="isWorking")
    fills: list[OrderFill] = msgspec.field(default_factory=list)


class AccountTrade(msgspec.Struct, frozen=True, kw_only=True):
    """One trade of the account (``GET /api/v3/myTrades``)."""

    symbol: str
    id: int
    order_id: int = msgspec.field(name="orderId")
    order_list_id: int = msgspec.field(default=-1, name="orderListId")
    price: str
    qty: str
    quote_qty: str = msgspec.field(name="quoteQty")
    commission: str
    commission_asset: str = msgspec.field(name="commissionAsset")
    time: int
    is_buyer: bool = msgspec.field(name="isBuyer")
    is_maker: bool = msgspec.field(name="isMaker")


class AccountBalance(msgspec.Struct, frozen=True):
    """One asset of the account: ``free`` to trade, ``locked`` in open orders."""

    asset: str
    free: str
    locked: str


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/v3/account`` (the fields the node uses)."""

    balances: list[AccountBalance]
    can_trade: bool = msgspec.field(default=True, name="canTrade")
    update_time: int = msgspec.field(default=0, name="updateTime")
    account_type: str = msgspec.field(default="SPOT", name="accountType")


class ListenKey(msgspec.Struct, frozen=True):
    """``POST /api/v3/userDataStream``."""

    listen_key: str = msgspec.field(name="listenKey")


class ErrorBody(msgspec.Struct, frozen=True):
    """The body of an error answer: ``{"code": -1121, "msg": "Invalid symbol."}``."""

    code: int | None = None
    msg: str = ""
    data: msgspec.Raw = msgspec.Raw()  # cancel-replace failures: what each half did


_ORDER: Final = msgspec.json.Decoder(OrderResponse)
_ERROR: Final = msgspec.json.Decoder(ErrorBody)


class CancelReplaceResult(msgspec.Struct, frozen=True):
    """``POST /api/v3/order/cancelReplace``: the outcome of each half.

    ``cancel_result`` and ``new_order_result`` are ``SUCCESS``, ``FAILURE`` or
    ``NOT_ATTEMPTED``; each response is an order on success, an error body on failure,
    ``null`` when not attempted (kept as raw JSON; read them with the methods).
    """

    cancel_result: str = msgspec.field(name="cancelResult")
    new_order_result: str = msgspec.field(name="newOrderResult")
    cancel_response: msgspec.Raw = msgspec.field(default=msgspec.Raw(), name="cancelResponse")
    new_order_response: msgspec.Raw = msgspec.field(default=msgspec.Raw(), name="newOrderResponse")

    def canceled(self) -> OrderResponse | None:
        """The canceled order, if the cancel succeeded."""
        return _ORDER.decode(self.cancel_response) if self.cancel_result == "SUCCESS" else None

    def placed(self) -> OrderResponse | None:
        """The new order, if it was placed."""
        if self.new_order_result != "SUCCESS":
            return None
        return _ORDER.decode(self.new_order_response)

    def cancel_error(self) -> ErrorBody | None:
        """Why the cancel failed, if it did."""
        return _ERROR.decode(self.cancel_response) if self.cancel_result == "FAILURE" else None

    def new_order_error(self) -> ErrorBody | None:
        """Why the new order failed, if it did."""
        if self.new_order_result != "FAILURE":
            return None
        return _ERROR.decode(self.new_order_response)
