"""The RiskEngine: every trading command passes through it before it can leave the process.

Strategies send their commands to ``ENDPOINT_RISK``. A ``SubmitOrder`` is checked against the
instrument and the :class:`RiskLimits`; if it passes it goes on to ``ENDPOINT_EXECUTION``,
otherwise the order gets an ``OrderDenied`` naming the check that failed (applied to the order,
cached, and published on the strategy's order topic). A ``ModifyOrder`` has its new price and
quantity checked the same way (a failure answers ``OrderModifyRejected``). Cancels always pass,
whatever the trading state, so a halted node can still get out of the market.
"""

from __future__ import annotations

import logging
from collections import deque
from decimal import Decimal
from enum import IntEnum, unique
from typing import Protocol

import msgspec

from zq.cache import Cache
from zq.common.clock import Clock
from zq.common.component import Component
from zq.common.topics import ENDPOINT_EXECUTION, ENDPOINT_RISK, TOPIC_TRADING_STATE, order_events
from zq.model.commands import (
    CancelAllOrders,
    CancelOrder,
    ModifyOrder,
    QueryOrder,
    SubmitOrder,
    TradingCommand,
)
from zq.model.enums import OrderSide, OrderType
from zq.model.events import OrderDenied, OrderEvent, OrderModifyRejected
from zq.model.identifiers import InstrumentId, StrategyId
from zq.model.instruments import Instrument
from zq.model.orders import ORDER_STATE_TABLE, Order
from zq_core.bus import MessageBus
from zq_core.fixed import Price, Quantity
from zq_core.risk import RiskCore

__all__ = ["NetPositionSource", "RiskEngine", "RiskLimits", "TradingState", "TradingStateChanged"]

_log = logging.getLogger("zq.risk")
_ZERO = Decimal(0)


@unique
class TradingState(IntEnum):
    """What the RiskEngine lets through."""

    #: Every order that passes the checks.
    ACTIVE = 1
    #: Only orders that reduce the strategy's position on the instrument (cancels too).
    REDUCING = 2
    #: No new order and no modify; cancels still pass.
    HALTED = 3


_HALTED = TradingState.HALTED
_REDUCING = TradingState.REDUCING
# The order types a notional check values at their trigger price (see _valuation_price).
_TRIGGER_VALUED = (OrderType.STOP_MARKET, OrderType.MARKET_IF_TOUCHED)


class TradingStateChanged(msgspec.Struct, frozen=True, gc=False, tag=True):
    """Published on ``TOPIC_TRADING_STATE`` when the trading state changes."""

    previous: TradingState
    state: TradingState
    reason: str
    ts_event: int


class RiskLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The limits the RiskEngine enforces on top of each instrument's own limits.

    Per-instrument limits are keyed by instrument id (``"BTCUSDT.BINANCE"``); an instrument
    missing from a mapping has no such limit. Quantities are in the instrument's units;
    notionals in its settlement currency.

    Parameters
    ----------
    bypass : bool, default False
        Skip every check (the trading state still applies). For tests of the venue only.
    max_order_quantity : dict[str, Decimal]
        Largest quantity of one order.
    max_notional_per_order : dict[str, Decimal]
        Largest notional of one order (``instrument.notional_value``). A market order is
        valued at the reference price (last quote's ask for a buy, bid for a sell, else the
        last trade); one that cannot be valued is denied.
    max_position : dict[str, Decimal]
        Largest absolute net position of the strategy on the instrument after the order is
        filled. The projection counts the strategy's net position, the leaves quantity of its
        open orders on the same side (when ``position_includes_open_orders``), and the order.
    position_includes_open_orders : bool, default True
        Count the same-side open orders in the ``max_position`` projection.
    max_price_deviation : Decimal, optional
        Largest relative distance of an order's price (and trigger price) from the reference
        price: the last quote's mid, else the last trade. ``Decimal("0.05")`` is 5 %. Not
        checked while the instrument has no quote or trade yet.
    max_orders_per_interval : int, optional
        Order-rate throttle: at most this many ``SubmitOrder`` passed per
        ``throttle_interval_ns`` on the clock (a sliding window); more are denied.
    throttle_interval_ns : int, default 1 second
        The throttle's window.
    """

    bypass: bool = False
    max_order_quantity: dict[str, Decimal] = msgspec.field(default_factory=dict)
    max_notional_per_order: dict[str, Decimal] = msgspec.field(default_factory=dict)
    max_position: dict[str, Decimal] = msgspec.field(default_factory=dict)
    position_includes_open_orders: bool = True
    max_price_deviation: Decimal | None = None
    max_orders_per_interval: int | None = None
    throttle_interval_ns: int = 1_000_000_000

    def __post_init__(self) -> None:
        for name in ("max_order_quantity", "max_notional_per_order", "max_position"):
            for key, value in getattr(self, name).items():
                InstrumentId(key)
                if value < 0:
                    raise ValueError(f"RiskLimits.{name}[{key!r}] must not be negative: {value}")
        if self.max_price_deviation is not None and self.max_price_deviation < 0:
            raise ValueError(
                f"RiskLimits.max_price_deviation must not be negative: {self.max_price_deviation}"
            )
        if self.max_orders_per_interval is not None and self.max_orders_per_interval <= 0:
            raise ValueError(
                "RiskLimits.max_orders_per_interval must be positive, got "
                f"{self.max_orders_per_interval}"
            )
        if self.throttle_interval_ns <= 0:
            raise ValueError(
                f"RiskLimits.throttle_interval_ns must be positive, got {self.throttle_interval_ns}"
            )


class NetPositionSource(Protocol):
    """What the RiskEngine needs of the portfolio."""

    def net_position(
        self, instrument_id: InstrumentId, strategy_id: StrategyId | None = None
    ) -> Decimal:
        """Return the signed net quantity (long positive) of the instrument."""
        ...


class _Denied(Exception):
    """A check failed; the message is the reason given to the strategy."""


def _signed(side: OrderSide, quantity: Decimal) -> Decimal:
    return quantity if side is OrderSide.BUY else -quantity


class RiskEngine(Component):
    """Check trading commands before they leave; deny with a reason.

    Parameters
    ----------
    clock : Clock
        The node's clock (event timestamps and the throttle's window).
    bus : MessageBus
        The node's bus; the engine registers ``ENDPOINT_RISK`` on it.
    cache : Cache
        The node's cache: instruments, orders, latest quotes and trades.
    portfolio : NetPositionSource
        Net positions, for ``max_position``, reduce-only orders and ``REDUCING``.
    limits : RiskLimits, optional
        The initial limits (default: none beyond the instruments' own).
    component_id : str, default "RiskEngine"

    Notes
    -----
    Commands are processed in any component state (the engine has no stream to start).
    Counters: :attr:`denied_count`, :attr:`passed_count`.
    """

    def __init__(
        self,
        clock: Clock,
        bus: MessageBus,
        cache: Cache,
        portfolio: NetPositionSource,
        limits: RiskLimits | None = None,
        *,
        component_id: str = "RiskEngine",
    ) -> None:
        super().__init__(component_id)
        self.clock = clock
        self.bus = bus
        self.cache = cache
        self.portfolio = portfolio
        self._limits = limits or RiskLimits()
        self._trading_state = TradingState.ACTIVE
        # The checks on raw integers, and the ENDPOINT_RISK handler: a submit they show to
        # pass goes on from there, without the Python checks (which stay the reference, and
        # decide and word every denial); other commands come to _execute.
        self._core = RiskCore(
            cache,
            OrderSide.BUY,
            _TRIGGER_VALUED,
            bus,
            ENDPOINT_EXECUTION,
            SubmitOrder,
            ModifyOrder,
            CancelOrder,
            self._execute,
        )
        self._core.set_limits(self._limits)
        self._submit_times: deque[int] = deque()
        self._throttled = self._is_throttled(self._limits)
        # Per instrument: the settlement currency's precision when its notional is
        # quantity x price exactly (linear, multiplier 1, min/max notional at that
        # precision), else None; see _notional_passes.
        self._integer_notional: dict[InstrumentId, int | None] = {}
        self.denied_count = 0
        bus.register(ENDPOINT_RISK, self._core.execute)

    # -- control -------------------------------------------------------------------------

    @property
    def passed_count(self) -> int:
        """How many submits passed."""
        return self._core.passed_count

    @property
    def limits(self) -> RiskLimits:
        """The limits in force."""
        return self._limits

    def update_limits(self, limits: RiskLimits) -> None:
        """Replace the limits; the next command is checked against the new ones.

        Raises
        ------
        TypeError
            If ``limits`` is not a :class:`RiskLimits`.
        """
        if not isinstance(limits, RiskLimits):
            raise TypeError(f"update_limits takes a RiskLimits, got {type(limits).__name__}")
        self._limits = limits
        self._core.set_limits(limits)
        self._throttled = self._is_throttled(limits)

    @staticmethod
    def _is_throttled(limits: RiskLimits) -> bool:
        return not limits.bypass and limits.max_orders_per_interval is not None

    @property
    def trading_state(self) -> TradingState:
        """The trading state in force."""
        return self._trading_state

    def set_trading_state(self, state: TradingState, reason: str = "") -> None:
        """Set the trading state and publish a :class:`TradingStateChanged` if it changed."""
        state = TradingState(state)
        previous = self._trading_state
        if state is previous:
            return
        self._trading_state = state
        self._core.set_trading_state(state)
        _log.warning(
            "%s: trading state %s -> %s %s", self.component_id, previous.name, state.name, reason
        )
        self.bus.publish(
            TOPIC_TRADING_STATE,
            TradingStateChanged(previous, state, reason, self.clock.timestamp_ns()),
        )

    def _on_reset(self) -> None:
        self._submit_times.clear()
        self._trading_state = TradingState.ACTIVE
        self._core.set_trading_state(TradingState.ACTIVE)
        self.denied_count = 0
        self._core.passed_count = 0

    # -- commands ------------------------------------------------------------------------

    def execute(self, command: TradingCommand) -> None:
        """Check ``command`` and forward it to ``ENDPOINT_EXECUTION``, or deny it.

        Raises
        ------
        TypeError
            If ``command`` is not a trading command.
        """
        self._core.execute(command)  # the compiled fast path, else _execute

    def _execute(self, command: TradingCommand) -> None:
        kind = type(command)
        if kind is SubmitOrder:  # the usual commands by exact type first: one comparison
            self._handle_submit(command)  # type: ignore[arg-type]
        elif kind is CancelOrder:
            self.bus.send(ENDPOINT_EXECUTION, command)
        elif isinstance(command, SubmitOrder):
            self._handle_submit(command)
        elif isinstance(command, ModifyOrder):
            self._handle_modify(command)
        elif isinstance(command, CancelOrder | CancelAllOrders | QueryOrder):
            self.bus.send(ENDPOINT_EXECUTION, command)
        else:
            raise TypeError(
                f"{self.component_id} cannot execute a {type(command).__name__}: expected a "
                "trading command of zq.model.commands"
            )

    def _handle_submit(self, command: SubmitOrder) -> None:
        init = command.order
        order = self.cache.order(init.client_order_id)
        if order is None:
            # Not sent by a Strategy (which caches first): cache it so the denial is not lost.
            order = Order.create(init)
            self.cache.add_order(order)
        try:
            if not self._core.submit_passes(order):
                self._check_submit(order)  # decides: raises _Denied, or passes
            elif self._throttled:
                self._check_throttle()  # the one check the core leaves (it is the last)
        except _Denied as denied:
            self._deny(order, str(denied))
            return
        if self._throttled:
            self._submit_times.append(self.clock.timestamp_ns())
        self._core.passed_count += 1
        self.bus.send(ENDPOINT_EXECUTION, command)

    def _handle_modify(self, command: ModifyOrder) -> None:
        order = self.cache.order(command.client_order_id)
        if order is None:
            # The ExecutionEngine reports commands for unknown orders.
            self.bus.send(ENDPOINT_EXECUTION, command)
            return
        try:
            if self._core.modify_passes(
                order, command.quantity, command.price, command.trigger_price
            ):
                self.bus.send(ENDPOINT_EXECUTION, command)
                return
            if self._trading_state is _HALTED:
                raise _Denied("trading is HALTED: no modify passes")
            instrument = self._instrument(order.instrument_id)
            if not self._limits.bypass:
                if command.quantity is not None:
                    self._check_quantity(instrument, command.quantity)
                    self._check_order_quantity_limit(instrument, command.quantity)
                    if self._limits.max_position.get(instrument.id) is not None:
                        net = self.portfolio.net_position(order.instrument_id, order.strategy_id)
                        leaves = command.quantity - order.filled_qty
                        self._check_position(instrument, order, leaves, net)
                price = command.price
                if price is not None:
                    self._check_price(instrument, price, "price")
                    self._check_band(instrument, price, "price")
                trigger_price = command.trigger_price
                if trigger_price is not None:
                    self._check_price(instrument, trigger_price, "trigger_price")
                    self._check_band(instrument, trigger_price, "trigger_price")
        except _Denied as denied:
            self.denied_count += 1
            now = self.clock.timestamp_ns()
            event = OrderModifyRejected(
                trader_id=order.trader_id,
                strategy_id=order.strategy_id,
                instrument_id=order.instrument_id,
                client_order_id=order.client_order_id,
                reason=str(denied),
                venue_order_id=order.venue_order_id,
                account_id=order.account_id,
                ts_event=now,
                ts_init=now,
            )
            self._apply_if_valid(order, event)
            self.bus.publish(order_events(order.strategy_id), event)
            return
        self.bus.send(ENDPOINT_EXECUTION, command)

    # -- checks --------------------------------------------------------------------------

    def _check_submit(self, order: Order) -> None:
        state = self._trading_state
        if state is _HALTED:
            raise _Denied("trading is HALTED: no new order passes")
        instrument = self.cache.instrument(order.instrument_id)
        if instrument is None:
            raise _Denied(f"instrument {order.instrument_id} is not in the cache")
        limits = self._limits
        net = _ZERO
        reducing = state is _REDUCING
        if reducing or order.reduce_only or limits.max_position:
            net = self.portfolio.net_position(order.instrument_id, order.strategy_id)
        if reducing and not self._reduces(order, net):
            raise _Denied(
                f"trading is REDUCING: {order.side.name} {order.quantity} would not reduce "
                f"the net position {net}"
            )
        if order.reduce_only and not self._reduces(order, net):
            raise _Denied(
                f"reduce-only {order.side.name} {order.quantity} would increase the net "
                f"position {net}"
            )
        if limits.bypass:
            return
        self._check_quantity(instrument, order.quantity)
        if limits.max_order_quantity:
            self._check_order_quantity_limit(instrument, order.quantity)
        price = order.price
        if price is not None:
            self._check_price(instrument, price, "price")
            self._check_band(instrument, price, "price")
        trigger_price = order.trigger_price
        if trigger_price is not None:
            self._check_price(instrument, trigger_price, "trigger_price")
            self._check_band(instrument, trigger_price, "trigger_price")
        self._check_notional(instrument, order)
        if limits.max_position:
            self._check_position(instrument, order, order.quantity, net)
        if limits.max_orders_per_interval is not None:
            self._check_throttle()

    def _instrument(self, instrument_id: InstrumentId) -> Instrument:
        instrument = self.cache.instrument(instrument_id)
        if instrument is None:
            raise _Denied(f"instrument {instrument_id} is not in the cache")
        return instrument

    @staticmethod
    def _reduces(order: Order, net: Decimal) -> bool:
        """Whether the order, filled, brings the position towards flat without flipping it."""
        if net == 0:
            return False
        if (net > 0) == (order.side is OrderSide.BUY):
            return False
        return order.quantity.as_decimal() <= abs(net)

    @staticmethod
    def _check_quantity(instrument: Instrument, quantity: Quantity) -> None:
        if quantity.precision > instrument.size_increment.precision or not quantity.is_multiple_of(
            instrument.size_increment
        ):
            raise _Denied(
                f"quantity {quantity} is not on {instrument.id}'s size grid "
                f"(size increment {instrument.size_increment})"
            )
        if instrument.min_quantity is not None and quantity < instrument.min_quantity:
            raise _Denied(
                f"quantity {quantity} is below {instrument.id}'s min_quantity "
                f"{instrument.min_quantity}"
            )
        if instrument.max_quantity is not None and quantity > instrument.max_quantity:
            raise _Denied(
                f"quantity {quantity} is above {instrument.id}'s max_quantity "
                f"{instrument.max_quantity}"
            )

    def _check_order_quantity_limit(self, instrument: Instrument, quantity: Quantity) -> None:
        limit = self._limits.max_order_quantity.get(instrument.id)
        if limit is not None and quantity.as_decimal() > limit:
            raise _Denied(f"quantity {quantity} exceeds max_order_quantity {limit}")

    @staticmethod
    def _check_price(instrument: Instrument, price: Price, name: str) -> None:
        if price.precision > instrument.price_increment.precision or not price.is_multiple_of(
            instrument.price_increment
        ):
            raise _Denied(
                f"{name} {price} is not on {instrument.id}'s tick grid "
                f"(tick size {instrument.price_increment})"
            )
        if instrument.min_price is not None and price < instrument.min_price:
            raise _Denied(
                f"{name} {price} is below {instrument.id}'s min_price {instrument.min_price}"
            )
        if instrument.max_price is not None and price > instrument.max_price:
            raise _Denied(
                f"{name} {price} is above {instrument.id}'s max_price {instrument.max_price}"
            )

    def _reference_price(self, instrument_id: InstrumentId) -> Decimal | None:
        quote = self.cache.quote(instrument_id)
        if quote is not None:
            return (quote.bid_price.as_decimal() + quote.ask_price.as_decimal()) / 2
        trade = self.cache.trade(instrument_id)
        return None if trade is None else trade.price.as_decimal()

    def _check_band(self, instrument: Instrument, price: Price, name: str) -> None:
        band = self._limits.max_price_deviation
        if band is None:
            return
        reference = self._reference_price(instrument.id)
        if reference is None or reference == 0:
            return
        deviation = abs(price.as_decimal() - reference) / reference
        if deviation > band:
            raise _Denied(
                f"{name} {price} is {deviation:.4%} from the reference price {reference}, "
                f"beyond max_price_deviation {band:.4%}"
            )

    def _valuation_price(self, order: Order) -> Price | None:
        if order.price is not None:
            return order.price
        if order.order_type in (OrderType.STOP_MARKET, OrderType.MARKET_IF_TOUCHED):
            return order.trigger_price
        quote = self.cache.quote(order.instrument_id)
        if quote is not None:
            return quote.ask_price if order.side is OrderSide.BUY else quote.bid_price
        trade = self.cache.trade(order.instrument_id)
        return None if trade is None else trade.price

    def _check_notional(self, instrument: Instrument, order: Order) -> None:
        limit = self._limits.max_notional_per_order.get(instrument.id)
        needs_value = limit is not None or instrument.min_notional is not None
        if not needs_value and instrument.max_notional is None:
            return
        price = self._valuation_price(order)
        if price is not None and limit is None and self._notional_passes(instrument, order, price):
            return
        if price is None:
            if limit is not None:
                raise _Denied(
                    f"cannot value the {order.order_type.name} order against "
                    f"max_notional_per_order {limit}: no price, quote or trade for "
                    f"{instrument.id}"
                )
            return
        notional = instrument.notional_value(order.quantity, price)
        value = notional.as_decimal()
        code = notional.currency.code
        if limit is not None and value > limit:
            raise _Denied(f"notional {value} {code} exceeds max_notional_per_order {limit}")
        if instrument.min_notional is not None and notional.raw < instrument.min_notional.raw:
            raise _Denied(
                f"notional {value} {code} is below {instrument.id}'s min_notional "
                f"{instrument.min_notional.as_decimal()}"
            )
        if instrument.max_notional is not None and notional.raw > instrument.max_notional.raw:
            raise _Denied(
                f"notional {value} {code} is above {instrument.id}'s max_notional "
                f"{instrument.max_notional.as_decimal()}"
            )

    def _notional_passes(self, instrument: Instrument, order: Order, price: Price) -> bool:
        """Whether the order's notional is within the instrument's min/max notional, in
        integers (the hot path: no Decimal, no Money); False means "not shown here", and
        the exact check decides and words the denial.

        The notional is rounded half-even at the currency's precision, as
        ``Instrument.notional_value`` does.
        """
        precision = self._integer_notional.get(instrument.id, -1)
        if precision == -1:
            precision = _integer_notional_precision(instrument)
            self._integer_notional[instrument.id] = precision
        if precision is None:
            return False
        raw = _notional_raw(order.quantity, price, precision)
        if raw is None:
            return False
        low, high = instrument.min_notional, instrument.max_notional
        return (low is None or raw >= low.raw) and (high is None or raw <= high.raw)

    def _check_position(
        self, instrument: Instrument, order: Order, quantity: Quantity, net: Decimal
    ) -> None:
        """Deny if ``order`` filling ``quantity`` (plus same-side open orders) breaches
        ``max_position``; the order's own leaves are not counted twice on a modify."""
        limit = self._limits.max_position.get(instrument.id)
        if limit is None:
            return
        projected = net + _signed(order.side, quantity.as_decimal())
        pending = _ZERO
        if self._limits.position_includes_open_orders:
            others = {
                o.client_order_id: o
                for o in (
                    *self.cache.orders_open(
                        instrument_id=order.instrument_id,
                        strategy_id=order.strategy_id,
                        side=order.side,
                    ),
                    *self.cache.orders_inflight(
                        instrument_id=order.instrument_id,
                        strategy_id=order.strategy_id,
                        side=order.side,
                    ),
                )
            }
            others.pop(order.client_order_id, None)
            for other in others.values():
                pending += other.leaves_qty.as_decimal()
            projected += _signed(order.side, pending)
        if abs(projected) > limit:
            with_open = f" (with {pending} on open orders)" if pending else ""
            raise _Denied(
                f"position after fill {projected}{with_open} exceeds max_position {limit}"
            )

    def _check_throttle(self) -> None:
        limit = self._limits.max_orders_per_interval
        if limit is None:
            return
        times = self._submit_times
        window_start = self.clock.timestamp_ns() - self._limits.throttle_interval_ns
        while times and times[0] <= window_start:
            times.popleft()
        if len(times) >= limit:
            raise _Denied(
                f"order rate exceeded: {limit} orders per {self._limits.throttle_interval_ns} ns"
            )

    # -- denial --------------------------------------------------------------------------

    def _deny(self, order: Order, reason: str) -> None:
        self.denied_count += 1
        _log.info("%s: denied %s: %s", self.component_id, order.client_order_id, reason)
        now = self.clock.timestamp_ns()
        event = OrderDenied(
            trader_id=order.trader_id,
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            client_order_id=order.client_order_id,
            reason=reason,
            ts_event=now,
            ts_init=now,
        )
        self._apply_if_valid(order, event)
        self.bus.publish(order_events(order.strategy_id), event)

    def _apply_if_valid(self, order: Order, event: OrderEvent) -> None:
        if (order.status, type(event)) in ORDER_STATE_TABLE:
            order.apply(event)
            self.cache.update_order(order)


def _integer_notional_precision(instrument: Instrument) -> int | None:
    """The precision at which ``RiskEngine._notional_passes`` can value ``instrument``."""
    multiplier = instrument.multiplier
    if instrument.is_inverse or multiplier.raw != 10**multiplier.precision:
        return None
    precision = instrument.settlement_currency.precision
    for bound in (instrument.min_notional, instrument.max_notional):
        if bound is not None and (
            bound.currency.code != instrument.settlement_currency.code
            or bound.precision != precision
        ):
            return None
    return precision


def _notional_raw(quantity: Quantity, price: Price, precision: int) -> int | None:
    """Return quantity x price as a raw integer at ``precision`` decimals, rounded half-even
    (None for a negative product: the exact path handles it)."""
    product = quantity.raw * price.raw
    if product < 0:
        return None
    shift = quantity.precision + price.precision - precision
    if shift <= 0:
        scale: int = 10**-shift
        return product * scale
    unit: int = 10**shift
    raw, remainder = divmod(product, unit)
    if 2 * remainder > unit or (2 * remainder == unit and raw & 1):
        raw += 1
    return raw
