"""A small real trading node for the strategy, risk and execution tests.

``Node`` wires a backtest ``Kernel``, a netting ``SmallPortfolio`` (signed ``Decimal``
quantities), a ``RiskEngine``, an ``ExecutionEngine`` and an ``InstantClient`` that
acknowledges every order and fills market orders at once, deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from zq.cache import Cache
from zq.common.clock import TestClock
from zq.execution import ExecutionClient, ExecutionEngine
from zq.kernel import Kernel
from zq.model.commands import CancelAllOrders, CancelOrder, ModifyOrder, QueryOrder, SubmitOrder
from zq.model.currency import Currency
from zq.model.enums import AssetClass, LiquiditySide, OmsType, OrderSide, OrderType
from zq.model.events import OrderFilled
from zq.model.identifiers import InstrumentId, PositionId, StrategyId, TradeId, VenueOrderId
from zq.model.instruments import CurrencyPair, Instrument
from zq.model.orders import Order
from zq.risk import RiskEngine, RiskLimits
from zq.strategy import Strategy
from zq_core.fixed import Money, Price, Quantity

SIM = InstrumentId("BTCUSDT.SIM")
USDT = Currency.from_str("USDT")
P = Price.from_str
Q = Quantity.from_str


def sim_instrument(**overrides: Any) -> CurrencyPair:
    values: dict[str, Any] = dict(
        id=SIM,
        raw_symbol="BTCUSDT",
        asset_class=AssetClass.CRYPTOCURRENCY,
        quote_currency=USDT,
        base_currency=Currency.from_str("BTC"),
        price_increment=P("0.01"),
        size_increment=Q("0.001"),
        min_quantity=Q("0.001"),
        max_quantity=Q("100"),
        min_notional=Money("5.00", USDT),
        min_price=P("1.00"),
        max_price=P("1000000.00"),
    )
    values.update(overrides)
    return CurrencyPair(**values)


# -- a small real portfolio ----------------------------------------------------------------


@dataclass
class Position:
    id: PositionId
    instrument_id: InstrumentId
    strategy_id: StrategyId
    signed_qty: Decimal = Decimal(0)
    was_open: bool = False

    @property
    def is_closed(self) -> bool:
        return self.was_open and self.signed_qty == 0


@dataclass(frozen=True)
class PositionOpened:
    strategy_id: StrategyId
    position_id: PositionId
    instrument_id: InstrumentId
    signed_qty: Decimal


@dataclass(frozen=True)
class PositionChanged:
    strategy_id: StrategyId
    position_id: PositionId
    instrument_id: InstrumentId
    signed_qty: Decimal


@dataclass(frozen=True)
class PositionClosed:
    strategy_id: StrategyId
    position_id: PositionId
    instrument_id: InstrumentId
    signed_qty: Decimal


@dataclass
class SmallPortfolio:
    """Positions keyed by the fill's position id; quantities signed, long positive."""

    cache: Cache
    fills: list[OrderFilled] = field(default_factory=list)

    def process_fill(self, fill: OrderFilled, instrument: Instrument) -> list[Any]:
        self.fills.append(fill)
        assert fill.position_id is not None
        position = self.cache.position(fill.position_id)
        qty = fill.last_qty.as_decimal()
        signed = qty if fill.order_side.name == "BUY" else -qty
        if position is None or position.is_closed:
            if position is not None:  # reopened under the same netting id
                position.signed_qty, position.was_open = signed, True
                self.cache.update_position(position)
            else:
                position = Position(
                    fill.position_id, fill.instrument_id, fill.strategy_id, signed, True
                )
                self.cache.add_position(position)
            return [PositionOpened(fill.strategy_id, position.id, fill.instrument_id, signed)]
        position.signed_qty += signed
        self.cache.update_position(position)
        kind = PositionClosed if position.signed_qty == 0 else PositionChanged
        return [kind(fill.strategy_id, position.id, fill.instrument_id, position.signed_qty)]

    def net_position(
        self, instrument_id: InstrumentId, strategy_id: StrategyId | None = None
    ) -> Decimal:
        return sum(
            (
                p.signed_qty
                for p in self.cache.positions(instrument_id=instrument_id, strategy_id=strategy_id)
            ),
            Decimal(0),
        )


# -- a small real execution client -----------------------------------------------------------


class InstantClient(ExecutionClient):
    """Accepts every order at once; fills market orders at ``fill_price`` in one trade."""

    def __init__(
        self,
        node: Node,
        oms_type: OmsType = OmsType.NETTING,
        venue: str = "SIM",
        client_id: str | None = None,
    ) -> None:
        super().__init__(client_id or f"{venue}-EXEC", venue, f"{venue}-001", node.clock, oms_type)
        self.cache = node.cache
        self.fill_price = P("100.00")
        self.fill_market = True
        self.raise_on: set[str] = set()
        self.submitted: list[SubmitOrder] = []
        self.inflight_when_called: list[bool] = []
        self.trades = 0
        self.orders = 0

    def _maybe_raise(self, method: str) -> None:
        if method in self.raise_on:
            raise ConnectionError(f"venue unreachable during {method}")

    def submit_order(self, command: SubmitOrder) -> None:
        self.inflight_when_called.append(
            any(o.client_order_id == command.client_order_id for o in self.cache.orders_inflight())
        )
        self._maybe_raise("submit_order")
        self.submitted.append(command)
        self.orders += 1
        venue_order_id = VenueOrderId(f"V-{self.orders}")
        self._send_event(self.generate_order_accepted(command.order, venue_order_id))
        if command.order.order_type is OrderType.MARKET and self.fill_market:
            self.fill(self.cache.order(command.client_order_id), command.order.quantity)

    def fill(self, order: Order | None, qty: Quantity, trade_id: str | None = None) -> None:
        assert order is not None
        if trade_id is None:
            self.trades += 1
            trade_id = f"T-{self.trades}"
        self._send_event(
            self.generate_order_filled(
                order,
                venue_order_id=order.venue_order_id or VenueOrderId("V-0"),
                trade_id=TradeId(trade_id),
                order_side=order.side,
                order_type=order.order_type,
                last_qty=qty,
                last_px=order.price or self.fill_price,
                commission=Money("0.00", USDT),
                liquidity_side=LiquiditySide.TAKER,
            )
        )

    def modify_order(self, command: ModifyOrder) -> None:
        self._maybe_raise("modify_order")
        order = self.cache.order(command.client_order_id)
        assert order is not None
        self._send_event(
            self.generate_order_updated(
                order,
                command.quantity or order.quantity,
                price=command.price,
                trigger_price=command.trigger_price,
            )
        )

    def cancel_order(self, command: CancelOrder) -> None:
        self._maybe_raise("cancel_order")
        self._send_event(self.generate_order_canceled(command, command.venue_order_id))

    def cancel_all_orders(self, command: CancelAllOrders) -> None:
        side = None if command.order_side is OrderSide.NO_ORDER_SIDE else command.order_side
        for order in self.cache.orders_open(
            instrument_id=command.instrument_id, strategy_id=command.strategy_id, side=side
        ):
            self._send_event(self.generate_order_canceled(order, order.venue_order_id))

    def query_order(self, command: QueryOrder) -> None:
        pass


class Node:
    """A backtest kernel with a portfolio, both engines and one InstantClient on SIM."""

    def __init__(
        self,
        limits: RiskLimits | None = None,
        oms_type: OmsType = OmsType.NETTING,
        instrument: Instrument | None = None,
    ) -> None:
        self.kernel = Kernel()
        self.clock = self.kernel.clock
        assert isinstance(self.clock, TestClock)
        self.bus = self.kernel.bus
        self.cache = self.kernel.cache
        self.cache.add_instrument(instrument or sim_instrument())
        self.portfolio = SmallPortfolio(self.cache)
        self.risk = RiskEngine(self.clock, self.bus, self.cache, self.portfolio, limits)
        self.execution = ExecutionEngine(self.clock, self.bus, self.cache, self.portfolio)
        self.client = InstantClient(self, oms_type)
        self.execution.register_client(self.client)
        self.kernel.add_component(self.risk)
        self.kernel.add_component(self.execution)
        self.errors: list[Any] = []
        from zq.common.topics import TOPIC_EXECUTION_ERRORS

        self.bus.subscribe(TOPIC_EXECUTION_ERRORS, self.errors.append)

    def add_strategy(self, strategy: Strategy[Any]) -> Strategy[Any]:
        strategy.register(self.kernel.trader_id, self.clock, self.bus, self.cache, self.portfolio)
        self.kernel.add_component(strategy)
        return strategy

    def start(self) -> Node:
        self.kernel.start()
        return self


class Recorder(Strategy[Any]):
    """A strategy that records the names of its callbacks and their events."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, Any]] = []

    def on_order_event(self, event: Any) -> None:
        self.calls.append(("on_order_event", event))

    def on_order_denied(self, event: Any) -> None:
        self.calls.append(("on_order_denied", event))

    def on_order_submitted(self, event: Any) -> None:
        self.calls.append(("on_order_submitted", event))

    def on_order_accepted(self, event: Any) -> None:
        self.calls.append(("on_order_accepted", event))

    def on_order_rejected(self, event: Any) -> None:
        self.calls.append(("on_order_rejected", event))

    def on_order_filled(self, event: Any) -> None:
        self.calls.append(("on_order_filled", event))

    def on_order_canceled(self, event: Any) -> None:
        self.calls.append(("on_order_canceled", event))

    def on_order_updated(self, event: Any) -> None:
        self.calls.append(("on_order_updated", event))

    def on_order_pending_update(self, event: Any) -> None:
        self.calls.append(("on_order_pending_update", event))

    def on_order_pending_cancel(self, event: Any) -> None:
        self.calls.append(("on_order_pending_cancel", event))

    def on_order_cancel_rejected(self, event: Any) -> None:
        self.calls.append(("on_order_cancel_rejected", event))

    def on_order_modify_rejected(self, event: Any) -> None:
        self.calls.append(("on_order_modify_rejected", event))

    def on_position_opened(self, event: Any) -> None:
        self.calls.append(("on_position_opened", event))

    def on_position_changed(self, event: Any) -> None:
        self.calls.append(("on_position_changed", event))

    def on_position_closed(self, event: Any) -> None:
        self.calls.append(("on_position_closed", event))

    def names(self, skip_catch_all: bool = True) -> list[str]:
        return [n for n, _ in self.calls if not (skip_catch_all and n == "on_order_event")]

    def reasons(self) -> list[str]:
        return [e.reason for n, e in self.calls if n.endswith(("denied", "rejected"))]
