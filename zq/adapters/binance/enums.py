"""Binance's order vocabulary and zq's, both ways.

Binance names order sides, types, times in force and statuses with strings; zq with the
enums of :mod:`zq.model.enums`. An execution client translates commands into Binance
parameters with the ``*_to_binance`` functions and venue reports into zq values with the
``parse_*`` functions; what one side cannot express is refused with an error naming it.

Order types: Binance's stop orders are named by the direction of their trigger, not by
whether they take a loss. ``STOP_LOSS`` buys when the price rises to the stop (sells when it
falls to it), as a zq ``STOP_MARKET``; ``TAKE_PROFIT`` buys when the price falls to it, as a
``MARKET_IF_TOUCHED``; the ``*_LIMIT`` variants place a limit order instead. ``LIMIT_MAKER``
is a post-only limit order, refused rather than executed as a taker.
"""

from __future__ import annotations

from typing import Final

from zq.model.enums import LiquiditySide, OrderSide, OrderStatus, OrderType, TimeInForce

__all__ = [
    "BinanceEnumError",
    "order_side_to_binance",
    "order_type_to_binance",
    "parse_liquidity_side",
    "parse_order_side",
    "parse_order_status",
    "parse_order_type",
    "parse_time_in_force",
    "time_in_force_to_binance",
]


class BinanceEnumError(ValueError):
    """A value with no counterpart on the other side; names it and what is accepted."""


_SIDES: Final = {OrderSide.BUY: "BUY", OrderSide.SELL: "SELL"}
_SIDES_BACK: Final = {text: side for side, text in _SIDES.items()}

_TYPES: Final = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_MARKET: "STOP_LOSS",
    OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT",
    OrderType.MARKET_IF_TOUCHED: "TAKE_PROFIT",
    OrderType.LIMIT_IF_TOUCHED: "TAKE_PROFIT_LIMIT",
}
_TYPES_BACK: Final = {
    **{text: kind for kind, text in _TYPES.items()},
    "LIMIT_MAKER": OrderType.LIMIT,
}

_TIME_IN_FORCE: Final = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_TIME_IN_FORCE_BACK: Final = {text: tif for tif, text in _TIME_IN_FORCE.items()}

_STATUSES: Final = {
    "NEW": OrderStatus.ACCEPTED,
    "PENDING_NEW": OrderStatus.SUBMITTED,  # order lists: not yet working
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.PENDING_CANCEL,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,  # expired by self-trade prevention
}


def _refuse(what: str, value: object, accepted: object) -> BinanceEnumError:
    return BinanceEnumError(
        f"{what} {value!r} has no Binance spot counterpart; accepted: {accepted}"
    )


def order_side_to_binance(side: OrderSide) -> str:
    """Return ``"BUY"`` or ``"SELL"``."""
    try:
        return _SIDES[side]
    except KeyError:
        raise _refuse("order side", getattr(side, "name", side), "BUY, SELL") from None


def order_type_to_binance(order_type: OrderType, *, post_only: bool = False) -> str:
    """Return Binance's order type; a post-only limit order is ``LIMIT_MAKER``.

    Raises
    ------
    BinanceEnumError
        For ``post_only`` on anything but a limit order (Binance has no post-only stop).
    """
    if post_only:
        if order_type is not OrderType.LIMIT:
            raise BinanceEnumError(
                f"post-only {order_type.name} order: Binance spot has post-only LIMIT only "
                "(LIMIT_MAKER)"
            )
        return "LIMIT_MAKER"
    return _TYPES[order_type]


def time_in_force_to_binance(time_in_force: TimeInForce) -> str:
    """Return ``GTC``, ``IOC`` or ``FOK`` (Binance spot has no GTD or DAY orders)."""
    try:
        return _TIME_IN_FORCE[time_in_force]
    except KeyError:
        raise _refuse("time in force", time_in_force.name, "GTC, IOC, FOK") from None


def parse_order_side(text: str) -> OrderSide:
    """Return Binance's side as an :class:`OrderSide`."""
    try:
        return _SIDES_BACK[text]
    except KeyError:
        raise BinanceEnumError(f"unknown Binance order side {text!r}") from None


def parse_order_type(text: str) -> tuple[OrderType, bool]:
    """Return Binance's order type as ``(OrderType, post_only)``."""
    try:
        return _TYPES_BACK[text], text == "LIMIT_MAKER"
    except KeyError:
        raise BinanceEnumError(
            f"unknown Binance order type {text!r}; known: {sorted(_TYPES_BACK)}"
        ) from None


def parse_time_in_force(text: str) -> TimeInForce:
    """Return Binance's time in force as a :class:`TimeInForce`."""
    try:
        return _TIME_IN_FORCE_BACK[text]
    except KeyError:
        raise BinanceEnumError(f"unknown Binance time in force {text!r}") from None


def parse_order_status(text: str) -> OrderStatus:
    """Return Binance's order status as an :class:`OrderStatus` (``NEW`` is ``ACCEPTED``)."""
    try:
        return _STATUSES[text]
    except KeyError:
        raise BinanceEnumError(
            f"unknown Binance order status {text!r}; known: {sorted(_STATUSES)}"
        ) from None


def parse_liquidity_side(is_maker: bool) -> LiquiditySide:
    """Return the liquidity side of a fill from Binance's ``isMaker`` / ``m``."""
    return LiquiditySide.MAKER if is_maker else LiquiditySide.TAKER
