"""Positions: the open quantity of one instrument held by one strategy, and its PnL.

A :class:`Position` is built from its first fill and moved only by applying fills. It
carries exact state (never floats): the signed quantity, the *entry value* of the open
quantity, the realized PnL and the commissions paid in each currency. The public values
are ``Decimal``; inside, the position counts in integers (quantities in units of its size
precision, values in units of 1e-30), which is what makes a fill cheap. The integers give
the very numbers, ``Decimal`` exponents included, that ``Decimal`` arithmetic at 60 digits
gives (``tests/unit/model/position_reference.py`` keeps that arithmetic as the oracle).

The entry value is what makes the arithmetic exact. For a linear contract it is
``Σ qty × price`` of the open quantity; for an inverse contract ``Σ qty / price`` (the
quantity's value in the base currency). A reduction of ``q`` out of ``Q`` removes the share
``q / Q`` of it, and realized PnL is the exit value minus the removed entry value; so
realized plus unrealized PnL always equals the fills' cash flows exactly, whatever the
average price's decimal expansion. The average entry price is ``value / Q`` (linear) or
``Q / value`` (inverse: the harmonic mean, as inverse venues compute it).

A position reopens after it went flat (netting mode keeps one position per instrument and
strategy): realized PnL and commissions are kept for the position's whole life, while the
fields of one round trip (``opening_order_id``, ``ts_opened``, ``avg_px_open``,
``avg_px_close``, ``peak_qty``) start again. Each fill returns the events it caused:

- opening fill: ``[PositionOpened]``;
- increase or partial reduction: ``[PositionChanged]``;
- reduction to flat: ``[PositionClosed]``;
- a fill through zero (long 10, sell 15): ``[PositionClosed, PositionOpened]``: the round
  trip closes on the first 10 (its PnL realized at the fill price) and the remaining 5
  open a short at the same price. Both events carry the fill's trade id; the fill's
  commission is charged once, to the position.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from zq.model.currency import Currency
from zq.model.enums import OrderSide, PositionSide
from zq.model.events import OrderFilled
from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    PositionId,
    StrategyId,
    TradeId,
    TraderId,
)
from zq_core import position as _core
from zq_core.fixed import Money, Price, Quantity
from zq_core.position import EXACT_CONTEXT, PositionCore

# The integer helpers, compared with Decimal by the tests (re-exported).
from zq_core.position import _div_half_even as _div_half_even
from zq_core.position import _quotient as _quotient
from zq_core.position import _ratio as _ratio
from zq_core.position import _share as _share

__all__ = [
    "EXACT_CONTEXT",
    "POSITION_EVENT_TYPES",
    "Position",
    "PositionChanged",
    "PositionClosed",
    "PositionError",
    "PositionEvent",
    "PositionOpened",
]

class PositionError(ValueError):
    """A fill the position refuses (a duplicate trade id, another instrument or strategy)."""


class PositionEvent(msgspec.Struct, frozen=True, gc=False, tag=True):
    """A snapshot of a position after a fill; fields shared by every position event.

    ``realized_pnl`` is gross and covers the position's whole life; ``unrealized_pnl`` is
    valued at ``last_px``. Both are in ``currency``, the instrument's settlement currency.

    Not ``kw_only`` (unlike most zq structs): a position builds two of these per fill, and
    msgspec builds a struct from 22 positional arguments ten times faster than from
    keywords. Build them with keywords anywhere else; the field order is fixed.
    """

    trader_id: TraderId
    strategy_id: StrategyId
    instrument_id: InstrumentId
    position_id: PositionId
    account_id: AccountId
    opening_order_id: ClientOrderId
    entry: OrderSide
    side: PositionSide
    signed_qty: Decimal
    quantity: Quantity
    peak_qty: Quantity
    last_trade_id: TradeId
    last_qty: Quantity
    last_px: Price
    currency: Currency
    avg_px_open: Decimal
    avg_px_close: Decimal | None
    realized_pnl: Money
    unrealized_pnl: Money
    ts_opened: int
    ts_event: int
    ts_init: int


class PositionOpened(PositionEvent, frozen=True, gc=False, tag=True):
    """A flat position took on quantity (its first fill, a reopening or a flip)."""


class PositionChanged(PositionEvent, frozen=True, gc=False, tag=True):
    """An open position grew or shrank without going flat."""


class PositionClosed(PositionEvent, frozen=True, gc=False, tag=True):
    """The position went flat; ``round_trip_pnl`` is the gross PnL realized since it opened."""

    closing_order_id: ClientOrderId
    round_trip_pnl: Money
    ts_closed: int
    duration_ns: int


POSITION_EVENT_TYPES: tuple[type[PositionEvent], ...] = (
    PositionOpened,
    PositionChanged,
    PositionClosed,
)


_core.bind(
    PositionOpened,
    PositionChanged,
    PositionClosed,
    PositionError,
    PositionSide.LONG,
    PositionSide.SHORT,
    PositionSide.FLAT,
    OrderSide.BUY,
    OrderSide.SELL,
)
_core.bind_fill(OrderFilled)


class Position(PositionCore):
    """The position of one strategy in one instrument, built from its first fill.

    Parameters
    ----------
    instrument : Instrument
        The instrument traded: it gives the multiplier, whether the contract is inverse,
        the settlement currency and the size precision.
    fill : OrderFilled
        The opening fill.
    position_id : PositionId, optional
        The position's id; by default the fill's ``position_id``.

    Raises
    ------
    PositionError
        If no id is given and the fill has none, or the fill is for another instrument.

    Examples
    --------
    >>> position = Position(instrument, buy_fill)           # doctest: +SKIP
    >>> events = position.apply(sell_fill)                  # doctest: +SKIP

    Notes
    -----
    The state and the fill arithmetic are compiled (:class:`zq_core.position.PositionCore`):
    the signed quantity is an int64 of raw units, the values and PnL Python integers.
    """

    __slots__ = ()

    # The attributes, typed for readers (the fields are the core's).
    id: PositionId
    trader_id: TraderId
    strategy_id: StrategyId
    instrument_id: InstrumentId
    account_id: AccountId
    currency: Currency
    entry: OrderSide
    opening_order_id: ClientOrderId
    closing_order_id: ClientOrderId | None
    last_trade_id: TradeId
    last_qty: Quantity
    last_px: Price
    last_events: list[PositionEvent]
    side: PositionSide
    _commissions: dict[str, Money]
    _trade_ids: dict[TradeId, None]
