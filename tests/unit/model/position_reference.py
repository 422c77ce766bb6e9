"""A reference position: the Decimal arithmetic of ``Position`` before it moved to integers.

``zq.model.position.Position`` keeps its state in integers (units of 1e-30) for speed. This
module keeps the straightforward ``Decimal`` implementation it replaced, unchanged but for
the class name, so that the tests can check the fast one against it event by event,
field by field, down to the exponent of every ``Decimal``.
"""

from __future__ import annotations

from decimal import (
    ROUND_HALF_EVEN,
    Decimal,
    localcontext,
)
from typing import TYPE_CHECKING

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
from zq.model.position import (
    EXACT_CONTEXT,
    PositionChanged,
    PositionClosed,
    PositionError,
    PositionEvent,
    PositionOpened,
)
from zq_core.fixed import Money, Price, Quantity

if TYPE_CHECKING:
    from zq.model.events import OrderFilled
    from zq.model.instruments import Instrument

_ZERO = Decimal(0)
_QUANTUM = Decimal("1e-30")


def _sign(side: OrderSide) -> int:
    if side is OrderSide.BUY:
        return 1
    if side is OrderSide.SELL:
        return -1
    raise PositionError(f"a fill needs a BUY or SELL side, got {side!r}")


class ReferencePosition:
    """The Decimal position zq used before its integer arithmetic; the oracle of the tests.

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

    __slots__ = (
        "_closed_qty",
        "_closed_value",
        "_commissions",
        "_flat_avg_px_open",
        "_open_value",
        "_realized",
        "_round_trip_start",
        "_trade_ids",
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
        self.multiplier: Decimal = instrument.multiplier.as_decimal()
        self.is_inverse: bool = instrument.is_inverse
        self.size_precision: int = max(instrument.size_precision, int(fill.last_qty.precision))
        self.signed_qty: Decimal = _ZERO
        self.peak_qty: Quantity = Quantity.from_raw(0, self.size_precision)
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
        self._open_value: Decimal = _ZERO
        self._closed_qty: Decimal = _ZERO
        self._closed_value: Decimal = _ZERO
        self._flat_avg_px_open: Decimal = _ZERO
        self._realized: Decimal = _ZERO
        self._round_trip_start: Decimal = _ZERO
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
        if self.signed_qty > 0:
            return PositionSide.LONG
        if self.signed_qty < 0:
            return PositionSide.SHORT
        return PositionSide.FLAT

    @property
    def quantity(self) -> Quantity:
        """The open quantity, without sign."""
        return self._quantity(abs(self.signed_qty))

    def _quantity(self, value: Decimal) -> Quantity:
        # Exact: a position's quantity never has more decimals than its size precision.
        precision = self.size_precision
        return Quantity.from_raw(int(value.scaleb(precision, EXACT_CONTEXT)), precision)

    @property
    def is_open(self) -> bool:
        """Whether the position holds quantity."""
        return self.signed_qty != 0

    @property
    def is_closed(self) -> bool:
        """Whether the position is flat."""
        return self.signed_qty == 0

    @property
    def is_long(self) -> bool:
        """Whether the position is long."""
        return self.signed_qty > 0

    @property
    def is_short(self) -> bool:
        """Whether the position is short."""
        return self.signed_qty < 0

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
        with localcontext(EXACT_CONTEXT):
            return self._avg_open()

    def _avg_open(self) -> Decimal:
        qty = abs(self.signed_qty)
        if qty == 0:
            return self._flat_avg_px_open
        if self.is_inverse:
            return (qty / self._open_value).normalize()
        return (self._open_value / qty).normalize()

    @property
    def avg_px_close(self) -> Decimal | None:
        """The average exit price of the current round trip, or None before any reduction."""
        with localcontext(EXACT_CONTEXT):
            return self._avg_close()

    def _avg_close(self) -> Decimal | None:
        if self._closed_qty == 0:
            return None
        if self.is_inverse:
            return (self._closed_qty / self._closed_value).normalize()
        return (self._closed_value / self._closed_qty).normalize()

    @property
    def entry_value(self) -> Decimal:
        """The open quantity's value at entry, in the settlement currency, exact.

        Linear: ``|qty| × avg_px_open × multiplier``; inverse: ``|qty| × multiplier /
        avg_px_open``. Margin is computed from it.
        """
        with localcontext(EXACT_CONTEXT):
            return self._open_value * self.multiplier

    # -- PnL -------------------------------------------------------------------------------

    @property
    def realized_pnl_decimal(self) -> Decimal:
        """The gross realized PnL over the position's life, unrounded."""
        return self._realized

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
        with localcontext(EXACT_CONTEXT):
            return self._unrealized(price.as_decimal())

    def _unrealized(self, px: Decimal) -> Decimal:
        if self.signed_qty == 0:
            return _ZERO
        qty = abs(self.signed_qty)
        gain = (
            self._open_value - self._value(qty, px)
            if self.is_inverse
            else qty * px - self._open_value
        )
        return gain * self.multiplier if self.signed_qty > 0 else -gain * self.multiplier

    def unrealized_pnl(self, price: Price) -> Money:
        """Return the unrealized PnL at ``price`` in the settlement currency.

        Linear: ``(price − avg_px_open) × signed_qty × multiplier``; inverse:
        ``signed_qty × multiplier × (1 / avg_px_open − 1 / price)`` in the base currency.
        """
        return self._money(self.unrealized_pnl_decimal(price))

    def total_pnl(self, price: Price) -> Money:
        """Return realized plus unrealized PnL at ``price`` (gross of commissions)."""
        with localcontext(EXACT_CONTEXT):
            return self._money(self._realized + self.unrealized_pnl_decimal(price))

    def notional_value(self, price: Price) -> Money:
        """Return the signed value of the open quantity at ``price`` (negative when short)."""
        with localcontext(EXACT_CONTEXT):
            px = price.as_decimal()
            if self.is_inverse:
                value = self.signed_qty * self.multiplier / px
            else:
                value = self.signed_qty * px * self.multiplier
            return self._money(value)

    def _money(self, value: Decimal) -> Money:
        # Rounded half-even to the currency's precision; built from raw units (fast path).
        scaled = value.scaleb(self.currency.precision, EXACT_CONTEXT)
        return Money.from_raw(
            int(scaled.to_integral_value(ROUND_HALF_EVEN, EXACT_CONTEXT)), self.currency
        )

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
        _sign(fill.order_side)

    def apply(self, fill: OrderFilled) -> list[PositionEvent]:
        """Apply a fill and return the events it caused (see the module's docstring).

        Raises
        ------
        PositionError
            If the fill's trade id was already applied, or it is for another instrument or
            strategy; the position is unchanged.
        """
        self.check(fill)
        sign = _sign(fill.order_side)
        self._trade_ids[fill.trade_id] = None
        code = fill.commission.currency.code
        previous = self._commissions.get(code)
        self._commissions[code] = (
            fill.commission if previous is None else previous + fill.commission
        )
        self.last_trade_id = fill.trade_id
        self.last_qty = fill.last_qty
        self.last_px = fill.last_px
        self.ts_last = fill.ts_event
        self.ts_init = fill.ts_init
        self.account_id = fill.account_id
        if fill.last_qty.precision > self.size_precision:
            self.size_precision = int(fill.last_qty.precision)

        events: list[PositionEvent] = []
        with localcontext(EXACT_CONTEXT):
            qty = fill.last_qty.as_decimal()
            px = fill.last_px.as_decimal()
            held = self.signed_qty
            if held == 0:
                self._open(fill, sign * qty, px)
                events.append(self._event(PositionOpened, fill))
            elif (held > 0) == (sign > 0):
                self._increase(sign * qty, px)
                events.append(self._event(PositionChanged, fill))
            else:
                reduce = min(qty, abs(held))
                self._reduce(reduce, px)
                if self.signed_qty != 0:
                    events.append(self._event(PositionChanged, fill))
                else:
                    self.closing_order_id = fill.client_order_id
                    self.ts_closed = fill.ts_event
                    events.append(self._closed_event(fill, reduce))
                    remainder = qty - reduce
                    if remainder > 0:
                        self._open(fill, sign * remainder, px)
                        events.append(self._event(PositionOpened, fill, remainder))
        self.last_events = events
        return events

    def _value(self, qty: Decimal, px: Decimal) -> Decimal:
        return (qty / px).quantize(_QUANTUM) if self.is_inverse else qty * px

    def _open(self, fill: OrderFilled, signed_qty: Decimal, px: Decimal) -> None:
        self.signed_qty = signed_qty
        self._open_value = self._value(abs(signed_qty), px)
        self.entry = fill.order_side
        self.opening_order_id = fill.client_order_id
        self.closing_order_id = None
        self.ts_opened = fill.ts_event
        self.ts_closed = None
        self._closed_qty = _ZERO
        self._closed_value = _ZERO
        self._round_trip_start = self._realized
        self.peak_qty = self._quantity(abs(signed_qty))

    def _increase(self, signed_qty: Decimal, px: Decimal) -> None:
        self.signed_qty += signed_qty
        self._open_value += self._value(abs(signed_qty), px)
        held = abs(self.signed_qty)
        if held > self.peak_qty.as_decimal():
            self.peak_qty = self._quantity(held)

    def _reduce(self, qty: Decimal, px: Decimal) -> None:
        held = abs(self.signed_qty)
        # The removed share of the entry value; whatever it rounds to stays in the books
        # (realized now, or left in the open value), so realized + unrealized stays exact.
        if qty == held:
            self._flat_avg_px_open = self._avg_open()
            removed = self._open_value
        else:
            removed = (self._open_value * qty / held).quantize(_QUANTUM)
        exit_value = self._value(qty, px)
        gain = removed - exit_value if self.is_inverse else exit_value - removed
        self._realized += gain * self.multiplier if self.signed_qty > 0 else -gain * self.multiplier
        self._open_value -= removed
        self.signed_qty += -qty if self.signed_qty > 0 else qty
        self._closed_qty += qty
        self._closed_value += exit_value

    def _fields(self, fill: OrderFilled, last_qty: Decimal | None) -> dict[str, object]:
        return {
            "trader_id": self.trader_id,
            "strategy_id": self.strategy_id,
            "instrument_id": self.instrument_id,
            "position_id": self.id,
            "account_id": self.account_id,
            "opening_order_id": self.opening_order_id,
            "entry": self.entry,
            "side": self.side,
            "signed_qty": self.signed_qty,
            "quantity": self.quantity,
            "peak_qty": self.peak_qty,
            "last_trade_id": fill.trade_id,
            "last_qty": fill.last_qty
            if last_qty is None
            else Quantity(last_qty, fill.last_qty.precision),
            "last_px": fill.last_px,
            "currency": self.currency,
            "avg_px_open": self._avg_open(),
            "avg_px_close": self._avg_close(),
            "realized_pnl": self._money(self._realized),
            "unrealized_pnl": self._money(self._unrealized(fill.last_px.as_decimal())),
            "ts_opened": self.ts_opened,
            "ts_event": fill.ts_event,
            "ts_init": fill.ts_init,
        }

    def _event(
        self, kind: type[PositionEvent], fill: OrderFilled, last_qty: Decimal | None = None
    ) -> PositionEvent:
        return kind(**self._fields(fill, last_qty))  # type: ignore[arg-type]

    def _closed_event(self, fill: OrderFilled, closed_qty: Decimal) -> PositionClosed:
        fields = self._fields(fill, closed_qty)
        return PositionClosed(
            **fields,  # type: ignore[arg-type]
            closing_order_id=fill.client_order_id,
            round_trip_pnl=self._money(self._realized - self._round_trip_start),
            ts_closed=fill.ts_event,
            duration_ns=fill.ts_event - self.ts_opened,
        )
