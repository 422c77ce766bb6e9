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

from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import TYPE_CHECKING

import msgspec

from zq.model.currency import Currency
from zq.model.enums import OrderSide, PositionSide
from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    PositionId,
    StrategyId,
    TradeId,
    TraderId,
)
from zq_core.fixed import Money, Price, Quantity

if TYPE_CHECKING:
    from zq.model.events import OrderFilled
    from zq.model.instruments import Instrument

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

#: The decimal context of position arithmetic: wide enough that sums and products of
#: prices and quantities are exact; only the divisions of an average or of an inverse
#: value round, at the 60th significant digit.
EXACT_CONTEXT = Context(
    prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_ZERO = Decimal(0)
_ONE = Decimal(1)
# Values (entry and exit values) are integers in units of 10**-_SCALE. Divisions (a
# reduction's share of the entry value, an inverse value ``qty / price``) round half-even
# to that unit, so the sums and differences that follow are exact.
_SCALE = 30
_POW10: tuple[int, ...] = tuple(10**k for k in range(2 * _SCALE + 20))
# Decimal rounds a quotient at 60 significant digits before it is rounded to the unit. One
# integer rounding gives the same result while ``divisor × (|quotient| + 1) < 10**59``
# (the quotient is then at least half an ulp of 60 digits away from a rounding tie): see
# _ratio. Products below 10**60 are exact at 60 digits.
_ONE_ROUNDING_BOUND = 10**59
_EXACT_PRODUCT_BOUND = 10**60

_LONG, _SHORT, _FLAT = PositionSide.LONG, PositionSide.SHORT, PositionSide.FLAT
_BUY, _SELL = OrderSide.BUY, OrderSide.SELL


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


def _sign(side: OrderSide) -> int:
    if side is _BUY:
        return 1
    if side is _SELL:
        return -1
    raise PositionError(f"a fill needs a BUY or SELL side, got {side!r}")


def _div_half_even(num: int, den: int) -> int:
    """Return ``num / den`` rounded half-even to an integer (``den > 0``)."""
    quotient, remainder = divmod(num, den)  # floor division: 0 <= remainder < den
    twice = remainder + remainder
    if twice > den or (twice == den and quotient & 1):
        return quotient + 1
    return quotient


def _ratio(num: int, den: int) -> int:
    """Return ``num / den`` rounded half-even to an integer, as Decimal rounds it.

    Decimal divides at 60 significant digits, then quantizes: a double rounding. Within
    the bound one rounding equals it (and costs a tenth); outside, Decimal does both.
    """
    if den > 0:
        quotient = _div_half_even(num, den)
        if den * (abs(quotient) + 1) < _ONE_ROUNDING_BOUND:
            return quotient
    divided = EXACT_CONTEXT.divide(Decimal(num), Decimal(den))
    return int(divided.quantize(_ONE, context=EXACT_CONTEXT))


def _share(units: int, part: int, whole: int) -> int:
    """Return ``units × part / whole`` rounded half-even to an integer, as Decimal rounds it."""
    num = units * part
    if -_EXACT_PRODUCT_BOUND < num < _EXACT_PRODUCT_BOUND:
        return _ratio(num, whole)
    product = EXACT_CONTEXT.multiply(Decimal(units), Decimal(part))  # rounds at 60 digits
    divided = EXACT_CONTEXT.divide(product, Decimal(whole))
    return int(divided.quantize(_ONE, context=EXACT_CONTEXT))


def _decimal(units: int, scale: int) -> Decimal:
    """Return ``units × 10**-scale`` as a Decimal of exponent ``-scale``."""
    return Decimal(units).scaleb(-scale, EXACT_CONTEXT)


# Decimals made from integers, memoized by (integer, scale): a position comes back to the
# same quantities and prices again and again, and a dict look-up costs a tenth of making a
# Decimal. Decimals are immutable, so they are shared; the memo is emptied when full.
_MEMO_SIZE = 4096
_QUANTITIES: dict[tuple[int, int], Decimal] = {}
_NORMALIZED: dict[tuple[int, int], Decimal] = {}


def _memo_decimal(units: int, scale: int) -> Decimal:
    """:func:`_decimal`, memoized."""
    key = (units, scale)
    value = _QUANTITIES.get(key)
    if value is None:
        if len(_QUANTITIES) >= _MEMO_SIZE:
            _QUANTITIES.clear()
        value = _QUANTITIES[key] = Decimal(units).scaleb(-scale, EXACT_CONTEXT)
    return value


def _price(raw: int, precision: int) -> Decimal:
    """Return the price ``raw × 10**-precision`` as :func:`_quotient` gives an average
    of fills all at that price (normalized), memoized."""
    key = (raw, precision)
    value = _NORMALIZED.get(key)
    if value is None:
        if len(_NORMALIZED) >= _MEMO_SIZE:
            _NORMALIZED.clear()
        value = Decimal(raw).scaleb(-precision, EXACT_CONTEXT)
        value = _NORMALIZED[key] = value.normalize(EXACT_CONTEXT)
    return value


def _quotient(num: int, den: int, scale: int) -> Decimal:
    """Return ``num / den × 10**-scale`` rounded at 60 significant digits, normalized."""
    if den > 0:
        quotient, remainder = divmod(num, den)
        if remainder == 0:
            return _price(quotient, scale)
    divided = EXACT_CONTEXT.divide(Decimal(num), Decimal(den))
    return divided.scaleb(-scale, EXACT_CONTEXT).normalize(EXACT_CONTEXT)


class Position:
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
    """

    # The state in integers: ``_raw`` is the signed quantity in units of 10**-size_precision
    # (``signed_qty`` is its Decimal, with the exponent Decimal arithmetic on the fills'
    # quantities would give: ``-_places``); values are in units of 10**-_SCALE; PnL in
    # units of 10**-_pnl_scale (a value times the multiplier's raw units).
    __slots__ = (
        "_avg_px_open",
        "_closed_raw",
        "_closed_value",
        "_commissions",
        "_flat_avg_px_open",
        "_money_unit",
        "_multiplier_raw",
        "_open_value",
        "_places",
        "_pnl_scale",
        "_raw",
        "_realized",
        "_round_trip_start",
        "_trade_ids",
        "_unit_money",
        "_unit_qty",
        "_zero_money",
        "_zero_qty",
        "account_id",
        "closing_order_id",
        "currency",
        "entry",
        "id",
        "instrument_id",
        "is_inverse",
        "last_events",
        "last_px",
        "last_qty",
        "last_trade_id",
        "multiplier",
        "opening_order_id",
        "peak_qty",
        "signed_qty",
        "size_precision",
        "strategy_id",
        "trader_id",
        "ts_closed",
        "ts_init",
        "ts_last",
        "ts_opened",
    )

    def __init__(
        self, instrument: Instrument, fill: OrderFilled, position_id: PositionId | None = None
    ) -> None:
        pid = position_id if position_id is not None else fill.position_id
        if pid is None:
            raise PositionError(
                f"fill {fill.trade_id} has no position_id; pass position_id to Position()"
            )
        if fill.instrument_id != instrument.id:
            raise PositionError(
                f"fill {fill.trade_id} is for {fill.instrument_id}, not {instrument.id}"
            )
        self.id: PositionId = pid
        self.trader_id: TraderId = fill.trader_id
        self.strategy_id: StrategyId = fill.strategy_id
        self.instrument_id: InstrumentId = fill.instrument_id
        self.account_id: AccountId = fill.account_id
        self.currency: Currency = instrument.settlement_currency
        multiplier = instrument.multiplier
        self.multiplier: Decimal = multiplier.as_decimal()
        self._multiplier_raw: int = multiplier.raw
        self._pnl_scale: int = _SCALE + int(multiplier.precision)
        # PnL units per raw unit of the currency (the scale is above any currency's).
        self._money_unit: int = _POW10[self._pnl_scale - self.currency.precision]
        self._zero_money: Money = Money.from_raw(0, self.currency)
        # Money and Quantity are made as ``unit * raw``: one unit times an int, the same
        # value as from_raw(raw, ...) (OverflowError past int64 too) at a seventh of its cost.
        self._unit_money: Money = Money.from_raw(1, self.currency)
        self.is_inverse: bool = instrument.is_inverse
        self.size_precision: int = max(instrument.size_precision, int(fill.last_qty.precision))
        self._unit_qty: Quantity = Quantity.from_raw(1, self.size_precision)
        self._zero_qty: Quantity = Quantity.from_raw(0, self.size_precision)
        self._raw: int = 0
        self._places: int = 0
        self.signed_qty: Decimal = _ZERO
        self.peak_qty: Quantity = self._zero_qty
        self.entry: OrderSide = fill.order_side
        self.opening_order_id: ClientOrderId = fill.client_order_id
        self.closing_order_id: ClientOrderId | None = None
        self.ts_opened: int = fill.ts_event
        self.ts_last: int = fill.ts_event
        self.ts_closed: int | None = None
        self.ts_init: int = fill.ts_init
        self.last_trade_id: TradeId = fill.trade_id
        self.last_qty: Quantity = fill.last_qty
        self.last_px: Price = fill.last_px
        self._open_value: int = 0
        self._closed_raw: int = 0
        self._closed_value: int = 0
        self._flat_avg_px_open: Decimal = _ZERO
        # avg_px_open of the open quantity, made once per change of it (None: not yet).
        self._avg_px_open: Decimal | None = None
        self._realized: int = 0
        self._round_trip_start: int = 0
        self._commissions: dict[str, Money] = {}
        self._trade_ids: dict[TradeId, None] = {}
        self.last_events: list[PositionEvent] = []
        self.apply(fill)

    def __repr__(self) -> str:
        return (
            f"Position({self.id}, {self.side.name} {self.quantity} {self.instrument_id}, "
            f"avg_px_open={self.avg_px_open}, realized_pnl={self.realized_pnl})"
        )

    # -- state -----------------------------------------------------------------------------

    @property
    def side(self) -> PositionSide:
        """LONG, SHORT or FLAT, from the sign of the quantity."""
        raw = self._raw
        return _LONG if raw > 0 else _SHORT if raw < 0 else _FLAT

    @property
    def quantity(self) -> Quantity:
        """The open quantity, without sign."""
        return self._unit_qty * abs(self._raw)

    @property
    def is_open(self) -> bool:
        """Whether the position holds quantity."""
        return self._raw != 0

    @property
    def is_closed(self) -> bool:
        """Whether the position is flat."""
        return self._raw == 0

    @property
    def is_long(self) -> bool:
        """Whether the position is long."""
        return self._raw > 0

    @property
    def is_short(self) -> bool:
        """Whether the position is short."""
        return self._raw < 0

    @property
    def duration_ns(self) -> int:
        """Nanoseconds from opening to closing of the last round trip (0 while open)."""
        return 0 if self.ts_closed is None else self.ts_closed - self.ts_opened

    @property
    def trade_ids(self) -> list[TradeId]:
        """The ids of every fill applied, in order."""
        return list(self._trade_ids)

    def has_trade(self, trade_id: TradeId) -> bool:
        """Return whether a fill with this trade id was applied."""
        return trade_id in self._trade_ids

    @property
    def avg_px_open(self) -> Decimal:
        """The average entry price of the open quantity (when flat: that of the last round trip).

        Weighted by quantity for linear contracts; the harmonic mean for inverse ones.
        Exact when the quotient terminates, else rounded at 60 significant digits.
        """
        return self._avg_open()

    def _avg_open(self) -> Decimal:
        held = abs(self._raw)
        if held == 0:
            return self._flat_avg_px_open
        average = self._avg_px_open
        if average is None:
            # value / qty = (_open_value × 10**-_SCALE) / (held × 10**-size_precision)
            if self.is_inverse:
                average = _quotient(held * _POW10[_SCALE], self._open_value, self.size_precision)
            else:
                average = _quotient(self._open_value, held, _SCALE - self.size_precision)
            self._avg_px_open = average
        return average

    @property
    def avg_px_close(self) -> Decimal | None:
        """The average exit price of the current round trip, or None before any reduction."""
        return self._avg_close()

    def _avg_close(self) -> Decimal | None:
        closed = self._closed_raw
        if closed == 0:
            return None
        if self.is_inverse:
            return _quotient(closed * _POW10[_SCALE], self._closed_value, self.size_precision)
        return _quotient(self._closed_value, closed, _SCALE - self.size_precision)

    @property
    def entry_value(self) -> Decimal:
        """The open quantity's value at entry, in the settlement currency, exact.

        Linear: ``|qty| × avg_px_open × multiplier``; inverse: ``|qty| × multiplier /
        avg_px_open``. Margin is computed from it.
        """
        return _decimal(self._open_value * self._multiplier_raw, self._pnl_scale)

    # -- PnL -------------------------------------------------------------------------------

    @property
    def realized_pnl_decimal(self) -> Decimal:
        """The gross realized PnL over the position's life, unrounded."""
        return _decimal(self._realized, self._pnl_scale)

    @property
    def realized_pnl(self) -> Money:
        """The gross realized PnL over the position's life, in the settlement currency."""
        return self._money(self._realized)

    @property
    def commissions(self) -> dict[str, Money]:
        """The commissions paid, per currency code (negative for rebates)."""
        return dict(self._commissions)

    def commission(self, currency: Currency) -> Money:
        """Return the commissions paid in ``currency`` (zero if none)."""
        return self._commissions.get(currency.code, Money.from_raw(0, currency))

    @property
    def net_realized_pnl(self) -> Money:
        """Realized PnL minus the commissions paid in the settlement currency.

        Commissions in other currencies (fees paid in BNB, say) are not converted: read
        them from :attr:`commissions`.
        """
        return self.realized_pnl - self.commission(self.currency)

    def unrealized_pnl_decimal(self, price: Price) -> Decimal:
        """Return the unrealized PnL of the open quantity at ``price``, unrounded."""
        if self._raw == 0:
            return _ZERO
        return _decimal(self._unrealized(price.raw, price.precision), self._pnl_scale)

    def _unrealized(self, px_raw: int, px_precision: int) -> int:
        # In units of 10**-_pnl_scale.
        raw = self._raw
        if raw == 0:
            return 0
        exit_value = self._value(abs(raw), self.size_precision, px_raw, px_precision)
        gain = self._open_value - exit_value if self.is_inverse else exit_value - self._open_value
        return gain * self._multiplier_raw if raw > 0 else -gain * self._multiplier_raw

    def unrealized_pnl(self, price: Price) -> Money:
        """Return the unrealized PnL at ``price`` in the settlement currency.

        Linear: ``(price − avg_px_open) × signed_qty × multiplier``; inverse:
        ``signed_qty × multiplier × (1 / avg_px_open − 1 / price)`` in the base currency.
        """
        return self._money(self._unrealized(price.raw, price.precision))

    def total_pnl(self, price: Price) -> Money:
        """Return realized plus unrealized PnL at ``price`` (gross of commissions)."""
        return self._money(self._realized + self._unrealized(price.raw, price.precision))

    def notional_value(self, price: Price) -> Money:
        """Return the signed value of the open quantity at ``price`` (negative when short)."""
        ctx = EXACT_CONTEXT
        px = price.as_decimal()
        signed = ctx.multiply(self.signed_qty, self.multiplier)
        value = ctx.divide(signed, px) if self.is_inverse else ctx.multiply(signed, px)
        scaled = value.scaleb(self.currency.precision, ctx)
        return Money.from_raw(int(scaled.to_integral_value(ROUND_HALF_EVEN, ctx)), self.currency)

    def _money(self, units: int) -> Money:
        # Rounded half-even to the currency's precision (_div_half_even, inlined: a fill
        # makes up to five of these).
        unit = self._money_unit
        raw, remainder = divmod(units, unit)
        twice = remainder + remainder
        if twice > unit or (twice == unit and raw & 1):
            raw += 1
        return self._unit_money * raw

    # -- fills -----------------------------------------------------------------------------

    def check(self, fill: OrderFilled) -> None:
        """Raise :class:`PositionError` if :meth:`apply` would refuse ``fill``."""
        if fill.trade_id in self._trade_ids:
            raise PositionError(f"position {self.id} already applied trade {fill.trade_id}")
        if fill.instrument_id != self.instrument_id:
            raise PositionError(
                f"fill {fill.trade_id} is for {fill.instrument_id}, position {self.id} "
                f"holds {self.instrument_id}"
            )
        if fill.strategy_id != self.strategy_id:
            raise PositionError(
                f"fill {fill.trade_id} is from strategy {fill.strategy_id}, position "
                f"{self.id} belongs to {self.strategy_id}"
            )
        side = fill.order_side
        if side is not _BUY and side is not _SELL:
            _sign(side)  # raises

    def apply(self, fill: OrderFilled) -> list[PositionEvent]:
        """Apply a fill and return the events it caused (see the module's docstring).

        Raises
        ------
        PositionError
            If the fill's trade id was already applied, or it is for another instrument or
            strategy; the position is unchanged.
        """
        self.check(fill)
        return self._apply_checked(fill)

    def _apply_checked(self, fill: OrderFilled) -> list[PositionEvent]:
        # apply() after check(): the Portfolio checks before the account moves, then calls this.
        buying = fill.order_side is _BUY
        trade_id = fill.trade_id
        self._trade_ids[trade_id] = None
        commission = fill.commission
        code = commission.currency.code
        previous = self._commissions.get(code)
        self._commissions[code] = commission if previous is None else previous + commission
        last_qty = fill.last_qty
        last_px = fill.last_px
        self.last_trade_id = trade_id
        self.last_qty = last_qty
        self.last_px = last_px
        self.ts_last = fill.ts_event
        self.ts_init = fill.ts_init
        self.account_id = fill.account_id

        qty_precision = int(last_qty.precision)
        precision = self.size_precision
        if qty_precision > precision:
            self._raise_size_precision(qty_precision)
            precision = qty_precision
        qty = last_qty.raw * _POW10[precision - qty_precision]  # in units of the position
        px_raw, px_precision = last_px.raw, int(last_px.precision)
        held = self._raw
        places = self._places
        events: list[PositionEvent]
        # Opened at the fill's price, a position's unrealized PnL at that price is zero: its
        # entry value is the value of its quantity at that price, computed the same way.
        if held == 0:
            self._open(fill, qty if buying else -qty, qty_precision, px_raw, px_precision)
            realized = self._money(self._realized)
            events = [self._event(PositionOpened, fill, last_qty, realized, self._zero_money)]
        elif (held > 0) == buying:
            signed = qty if buying else -qty
            self._increase(signed, max(places, qty_precision), px_raw, px_precision)
            realized = self._money(self._realized)
            unrealized = self._money(self._unrealized(px_raw, px_precision))
            events = [self._event(PositionChanged, fill, last_qty, realized, unrealized)]
        elif qty < (held if held > 0 else -held):
            # Reduce by qty (Decimal's min(qty, |held|) keeps the fill's quantity on a tie,
            # and with it the exponent of the result: see _close).
            self._reduce(qty, max(places, qty_precision), px_raw, px_precision)
            realized = self._money(self._realized)
            unrealized = self._money(self._unrealized(px_raw, px_precision))
            events = [self._event(PositionChanged, fill, last_qty, realized, unrealized)]
        else:
            events = self._close(fill, buying, qty, qty_precision, px_raw, px_precision)
        self.last_events = events
        return events

    def _close(
        self,
        fill: OrderFilled,
        buying: bool,
        qty: int,
        qty_precision: int,
        px_raw: int,
        px_precision: int,
    ) -> list[PositionEvent]:
        # A fill of at least the held quantity against it: _reduce to flat and, through zero,
        # _open the rest; in one method (a flip is the fill the EMA cross makes).
        held = self._raw
        whole = held if held > 0 else -held
        places = self._places
        precision = self.size_precision
        # The entry value goes entirely; realized PnL is the exit value minus it.
        self._flat_avg_px_open = self._avg_open()
        removed = self._open_value
        exit_value = self._value(whole, precision, px_raw, px_precision)
        gain = removed - exit_value if self.is_inverse else exit_value - removed
        gain *= self._multiplier_raw
        realized_units = self._realized = self._realized + (gain if held > 0 else -gain)
        self._open_value = 0
        # min(qty, |held|) keeps the fill's quantity on a tie (and its exponent).
        self._set_qty(0, max(places, qty_precision) if qty == whole else places)
        # A linear round trip closed by this one reduction closes at the fill's price.
        single_exit = self._closed_raw == 0 and not self.is_inverse
        self._closed_raw += whole
        self._closed_value += exit_value
        ts_event = fill.ts_event
        self.closing_order_id = fill.client_order_id
        self.ts_closed = ts_event
        # The realized PnL (the same in both events of a flip) and the round trip's, rounded
        # half-even to the currency as _money rounds them.
        unit = self._money_unit
        raw, remainder = divmod(realized_units, unit)
        twice = remainder + remainder
        if twice > unit or (twice == unit and raw & 1):
            raw += 1
        realized = self._unit_money * raw
        raw, remainder = divmod(realized_units - self._round_trip_start, unit)
        twice = remainder + remainder
        if twice > unit or (twice == unit and raw & 1):
            raw += 1
        if qty == whole:
            part = fill.last_qty
        elif precision == qty_precision:
            part = self._unit_qty * whole
        else:
            part = self._part(whole, qty_precision, places)  # |held|, with its decimals
        # Positional, in the order of PositionClosed's fields. The position is flat: no
        # open quantity, no unrealized PnL.
        closed = PositionClosed(
            self.trader_id,
            self.strategy_id,
            self.instrument_id,
            self.id,  # position_id
            self.account_id,
            self.opening_order_id,
            self.entry,
            _FLAT,  # side
            self.signed_qty,
            self._zero_qty,  # quantity
            self.peak_qty,
            fill.trade_id,  # last_trade_id
            part,  # last_qty
            fill.last_px,
            self.currency,
            self._flat_avg_px_open,  # avg_px_open
            _price(px_raw, px_precision) if single_exit else self._avg_close(),
            realized,  # realized_pnl
            self._zero_money,  # unrealized_pnl
            self.ts_opened,
            ts_event,
            fill.ts_init,
            fill.client_order_id,  # closing_order_id
            self._unit_money * raw,  # round_trip_pnl
            ts_event,  # ts_closed
            ts_event - self.ts_opened,  # duration_ns
        )
        if qty == whole:
            return [closed]
        # Through zero: the rest opens the other side at the fill's price (_open, then
        # _event's PositionOpened, inline: its unrealized PnL is zero, nothing closed yet).
        remainder = qty - whole
        self._set_qty(remainder if buying else -remainder, max(qty_precision, places))
        self._open_value = self._value(remainder, precision, px_raw, px_precision)
        entry = self.entry = fill.order_side
        opening_order_id = self.opening_order_id = fill.client_order_id
        self.closing_order_id = None
        self.ts_opened = ts_event
        self.ts_closed = None
        self._closed_raw = 0
        self._closed_value = 0
        self._round_trip_start = realized_units
        quantity = self.peak_qty = self._unit_qty * remainder
        if precision == qty_precision:
            part = quantity
        else:  # qty − |held|, with the decimals of the two
            part = self._part(remainder, qty_precision, max(qty_precision, places))
        if self.is_inverse:
            average = self._avg_open()
        else:  # opened by one fill: at its price
            average = self._avg_px_open = _price(px_raw, px_precision)
        # Positional, in the order of PositionEvent's fields.
        opened = PositionOpened(
            self.trader_id,
            self.strategy_id,
            self.instrument_id,
            self.id,  # position_id
            self.account_id,
            opening_order_id,
            entry,
            _LONG if buying else _SHORT,  # side
            self.signed_qty,
            quantity,
            quantity,  # peak_qty
            fill.trade_id,  # last_trade_id
            part,  # last_qty
            fill.last_px,
            self.currency,
            average,  # avg_px_open
            None,  # avg_px_close: nothing closed in this round trip yet
            realized,  # realized_pnl
            self._zero_money,  # unrealized_pnl
            ts_event,  # ts_opened
            ts_event,
            fill.ts_init,
        )
        return [closed, opened]

    def _raise_size_precision(self, precision: int) -> None:
        factor = _POW10[precision - self.size_precision]
        self._raw *= factor
        self._closed_raw *= factor
        self.size_precision = precision
        self._unit_qty = Quantity.from_raw(1, precision)
        self._zero_qty = Quantity.from_raw(0, precision)
        self._avg_px_open = None

    def _part(self, raw: int, precision: int, places: int) -> Quantity:
        # A part of the fill's quantity (closed or reopened) at the fill's precision. It has
        # at most `places` decimals, the exponent Decimal arithmetic gives it: a part that
        # does not fit the fill's precision is refused naming that Decimal.
        size_precision = self.size_precision
        shift = size_precision - precision
        if raw % _POW10[shift] == 0:
            return Quantity.from_raw(raw // _POW10[shift], precision)
        return Quantity(_decimal(raw // _POW10[size_precision - places], places), precision)

    def _set_qty(self, raw: int, places: int) -> None:
        self._raw = raw
        self._places = places
        self._avg_px_open = None  # the open quantity (and its value) changes with it
        # Exact: the quantity has at most `places` decimals.
        self.signed_qty = _memo_decimal(raw // _POW10[self.size_precision - places], places)

    def _value(self, qty: int, qty_precision: int, px_raw: int, px_precision: int) -> int:
        # The value of `qty` at the price, in units of 10**-_SCALE: qty × px (linear), or
        # qty / px (inverse) rounded half-even.
        if self.is_inverse:
            return _ratio(qty * _POW10[_SCALE - qty_precision + px_precision], px_raw)
        return qty * px_raw * _POW10[_SCALE - qty_precision - px_precision]

    def _open(
        self, fill: OrderFilled, signed: int, places: int, px_raw: int, px_precision: int
    ) -> None:
        precision = self.size_precision
        self._set_qty(signed, places)
        self._open_value = self._value(abs(signed), precision, px_raw, px_precision)
        self.entry = fill.order_side
        self.opening_order_id = fill.client_order_id
        self.closing_order_id = None
        self.ts_opened = fill.ts_event
        self.ts_closed = None
        self._closed_raw = 0
        self._closed_value = 0
        self._round_trip_start = self._realized
        self.peak_qty = self._unit_qty * abs(signed)

    def _increase(self, signed: int, places: int, px_raw: int, px_precision: int) -> None:
        precision = self.size_precision
        self._set_qty(self._raw + signed, places)
        self._open_value += self._value(abs(signed), precision, px_raw, px_precision)
        held = abs(self._raw)
        peak = self.peak_qty
        if held > peak.raw * _POW10[precision - int(peak.precision)]:
            self.peak_qty = self._unit_qty * held

    def _reduce(self, qty: int, places: int, px_raw: int, px_precision: int) -> None:
        held = self._raw
        whole = abs(held)
        # The removed share of the entry value; whatever it rounds to stays in the books
        # (realized now, or left in the open value), so realized + unrealized stays exact.
        if qty == whole:
            self._flat_avg_px_open = self._avg_open()
            removed = self._open_value
        else:
            removed = _share(self._open_value, qty, whole)
        exit_value = self._value(qty, self.size_precision, px_raw, px_precision)
        gain = removed - exit_value if self.is_inverse else exit_value - removed
        gain *= self._multiplier_raw
        self._realized += gain if held > 0 else -gain
        self._open_value -= removed
        self._set_qty(held - qty if held > 0 else held + qty, places)
        self._closed_raw += qty
        self._closed_value += exit_value

    def _event(
        self,
        kind: type[PositionEvent],
        fill: OrderFilled,
        last_qty: Quantity,
        realized: Money,
        unrealized: Money,
    ) -> PositionEvent:
        raw = self._raw
        # Positional, in the order of PositionEvent's fields (see its docstring).
        return kind(
            self.trader_id,
            self.strategy_id,
            self.instrument_id,
            self.id,  # position_id
            self.account_id,
            self.opening_order_id,
            self.entry,
            _LONG if raw > 0 else _SHORT if raw < 0 else _FLAT,  # side
            self.signed_qty,
            self._unit_qty * abs(raw),  # quantity
            self.peak_qty,
            fill.trade_id,  # last_trade_id
            last_qty,
            fill.last_px,
            self.currency,
            self._avg_open(),
            self._avg_close(),
            realized,  # realized_pnl
            unrealized,  # unrealized_pnl
            self.ts_opened,
            fill.ts_event,
            fill.ts_init,
        )
