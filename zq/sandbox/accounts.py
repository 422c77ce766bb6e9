"""Accounts of the sandbox venue: balances, orders and trades, and their Binance JSON."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from zq.sandbox.config import AccountConfig

__all__ = ["Account", "Balance", "Order", "Trade", "format_decimal", "now_ms"]

_EIGHT: Final = Decimal("0.00000001")
_ZERO: Final = Decimal(0)


#: Formatted values, by their ``str``: a venue writes the same prices, sizes and zeros over
#: and over (an executionReport has eighteen decimals). The key is the decimal's own text
#: (its sign, digits and exponent, one to one), not the decimal: hashing a fresh ``Decimal``
#: with a fractional exponent costs more than formatting it, and ``0`` and ``-0`` are equal
#: decimals that format differently. Cleared when full.
_FORMATTED: dict[str, str] = {}
_FORMATTED_MAX: Final = 4096
_ZERO_TEXT: Final = "0.00000000"


def format_decimal(value: Decimal) -> str:
    """Write a decimal the way Binance does: eight decimals."""
    if value is _ZERO:  # the zero every order and report holds (no str() made)
        return _ZERO_TEXT
    key = str(value)
    text = _FORMATTED.get(key)
    if text is None:
        text = f"{value.quantize(_EIGHT):f}"
        if len(_FORMATTED) >= _FORMATTED_MAX:
            _FORMATTED.clear()
        _FORMATTED[key] = text
    return text


def now_ms() -> int:
    """Return the venue's time in UNIX milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Balance:
    """One asset of an account."""

    free: Decimal = _ZERO
    locked: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill of an account order (a row of myTrades)."""

    id: int
    order_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool

    def to_json(self) -> dict[str, Any]:
        """Return the myTrades row."""
        return {
            "symbol": self.symbol,
            "id": self.id,
            "orderId": self.order_id,
            "orderListId": -1,
            "price": format_decimal(self.price),
            "qty": format_decimal(self.qty),
            "quoteQty": format_decimal(self.quote_qty),
            "commission": format_decimal(self.commission),
            "commissionAsset": self.commission_asset,
            "time": self.time,
            "isBuyer": self.is_buyer,
            "isMaker": self.is_maker,
            "isBestMatch": True,
        }


@dataclass(slots=True)
class Order:
    """One account order and its state."""

    symbol: str
    order_id: int
    client_order_id: str
    api_key: str
    side: str
    type: str
    time_in_force: str
    price: Decimal  # 0 for MARKET
    orig_qty: Decimal
    time: int
    core_id: int
    lock_asset: str
    lock_left: Decimal
    executed_qty: Decimal = _ZERO
    cumulative_quote: Decimal = _ZERO
    status: str = "NEW"
    update_time: int = 0
    is_working: bool = False
    fills: list[Trade] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Whether the order can still fill."""
        return self.status in ("NEW", "PARTIALLY_FILLED")

    def to_json(self) -> dict[str, Any]:
        """Return the order as GET /api/v3/order shows it."""
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": format_decimal(self.price),
            "origQty": format_decimal(self.orig_qty),
            "executedQty": format_decimal(self.executed_qty),
            "cummulativeQuoteQty": format_decimal(self.cumulative_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "stopPrice": format_decimal(_ZERO),
            "icebergQty": format_decimal(_ZERO),
            "time": self.time,
            "updateTime": self.update_time,
            "isWorking": self.is_working,
            "workingTime": self.time if self.is_working else -1,
            "origQuoteOrderQty": format_decimal(_ZERO),
            "selfTradePreventionMode": "NONE",
        }

    def to_new_order_response(self, response_type: str) -> dict[str, Any]:
        """Return the POST /api/v3/order body for ``ACK``, ``RESULT`` or ``FULL``."""
        ack: dict[str, Any] = {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "transactTime": self.time,
        }
        if response_type == "ACK":
            return ack
        result = {
            **ack,
            "price": format_decimal(self.price),
            "origQty": format_decimal(self.orig_qty),
            "executedQty": format_decimal(self.executed_qty),
            "origQuoteOrderQty": format_decimal(_ZERO),
            "cummulativeQuoteQty": format_decimal(self.cumulative_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "workingTime": self.time if self.is_working else -1,
            "selfTradePreventionMode": "NONE",
        }
        if response_type == "RESULT":
            return result
        result["fills"] = [
            {
                "price": format_decimal(fill.price),
                "qty": format_decimal(fill.qty),
                "commission": format_decimal(fill.commission),
                "commissionAsset": fill.commission_asset,
                "tradeId": fill.id,
            }
            for fill in self.fills
        ]
        return result

    def to_cancel_response(self, cancel_client_id: str, transact_time: int) -> dict[str, Any]:
        """Return the DELETE /api/v3/order body."""
        return {
            "symbol": self.symbol,
            "origClientOrderId": self.client_order_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": cancel_client_id,
            "transactTime": transact_time,
            "price": format_decimal(self.price),
            "origQty": format_decimal(self.orig_qty),
            "executedQty": format_decimal(self.executed_qty),
            "origQuoteOrderQty": format_decimal(_ZERO),
            "cummulativeQuoteQty": format_decimal(self.cumulative_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "selfTradePreventionMode": "NONE",
        }


class Account:
    """One account: balances, orders (by id and by client order id) and trades."""

    def __init__(self, config: AccountConfig) -> None:
        self.config = config
        self.api_key = config.api_key
        self.balances: dict[str, Balance] = {
            asset: Balance(amount) for asset, amount in sorted(config.balances.items())
        }
        self.orders: dict[tuple[str, int], Order] = {}
        self.by_client_id: dict[tuple[str, str], Order] = {}
        self.trades: dict[str, list[Trade]] = {}
        self.update_time = now_ms()

    def balance(self, asset: str) -> Balance:
        """Return the balance of an asset (created at zero)."""
        balance = self.balances.get(asset)
        if balance is None:
            balance = self.balances[asset] = Balance()
        return balance

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return the open orders (of one symbol), oldest first."""
        return [
            order
            for order in self.orders.values()
            if order.is_open and (symbol is None or order.symbol == symbol)
        ]

    def to_json(self) -> dict[str, Any]:
        """Return GET /api/v3/account."""
        maker = self.config.maker_commission
        taker = self.config.taker_commission
        return {
            "makerCommission": int(maker * 10_000),
            "takerCommission": int(taker * 10_000),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": format_decimal(maker),
                "taker": format_decimal(taker),
                "buyer": format_decimal(_ZERO),
                "seller": format_decimal(_ZERO),
            },
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.update_time,
            "accountType": "SPOT",
            "balances": [
                {
                    "asset": asset,
                    "free": format_decimal(balance.free),
                    "locked": format_decimal(balance.locked),
                }
                for asset, balance in sorted(self.balances.items())
            ],
            "permissions": ["SPOT"],
            "uid": 0,
        }
