"""Strategy and Actor on a real backtest node: lifecycle, callbacks in order, data through the
bus and the DataEngine, timers, parameters, state, and the trading actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from tests.unit.execution.harness import SIM, Node, P, Q, Recorder
from zq.common.clock import TimeEvent
from zq.common.topics import ENDPOINT_DATA_PROCESS
from zq.data.client import ReplayDataClient
from zq.data.engine import DataEngine
from zq.model.data import QuoteTick, TradeTick
from zq.model.enums import AggressorSide, OrderSide, OrderStatus
from zq.model.identifiers import TradeId
from zq.strategy import Actor, NoParams, Strategy

SECOND = 1_000_000_000


def quote(ts: int, bid: str = "99.00") -> QuoteTick:
    return QuoteTick(SIM, P(bid), P("101.00"), Q("1.000"), Q("1.000"), ts, ts)


class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    size: Decimal = Decimal("1")
    fast: int = 10
    slow: int = 20

    def __post_init__(self) -> None:
        if self.fast >= self.slow:
            raise ValueError(f"fast {self.fast} must be below slow {self.slow}")


class QuoteTaker(Strategy[Params]):
    """Buys at market on the first quote; records everything it sees."""

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params or Params())
        self.seen: list[str] = []
        self.changes: list[tuple[Params, Params]] = []

    def on_start(self) -> None:
        self.seen.append("on_start")
        self.subscribe_quotes(SIM)

    def on_stop(self) -> None:
        self.seen.append("on_stop")

    def on_resume(self) -> None:
        self.seen.append("on_resume")

    def on_reset(self) -> None:
        self.seen.append("on_reset")

    def on_quote(self, quote: QuoteTick) -> None:
        self.seen.append(f"on_quote {quote.bid_price}")
        if not self.cache.orders(strategy_id=self.id):
            qty = Q(str(self.params.size))
            self.submit_order(self.order_factory.market(SIM, OrderSide.BUY, qty))

    def on_order_event(self, event: Any) -> None:
        self.seen.append(type(event).__name__)

    def on_order_filled(self, event: Any) -> None:
        self.seen.append("on_order_filled")

    def on_position_opened(self, event: Any) -> None:
        self.seen.append("on_position_opened")

    def on_params_changed(self, old: Params, new: Params) -> None:
        self.changes.append((old, new))

    def on_save(self) -> dict[str, bytes]:
        return {"seen": str(len(self.seen)).encode()}

    def on_load(self, state: dict[str, bytes]) -> None:
        self.seen.append(f"loaded {state['seen'].decode()}")


def data_node() -> tuple[Node, DataEngine]:
    n = Node()
    engine = DataEngine(n.clock, n.bus, n.cache)
    engine.register_client(ReplayDataClient())
    n.kernel.add_component(engine)
    return n, engine


def test_strategy_subscribing_through_the_bus_receives_quotes_published_by_the_data_engine() -> (
    None
):
    n, _engine = data_node()
    strategy = n.add_strategy(QuoteTaker())
    n.start()
    n.bus.send(ENDPOINT_DATA_PROCESS, quote(1))
    assert strategy.seen[:2] == ["on_start", "on_quote 99.00"]
    assert n.cache.quote(SIM) == quote(1)


def test_callbacks_fire_in_order_specific_before_catch_all_and_order_before_position() -> None:
    n, _ = data_node()
    strategy = n.add_strategy(QuoteTaker())
    n.start()
    n.bus.send(ENDPOINT_DATA_PROCESS, quote(1))
    assert strategy.seen == [
        "on_start",
        "on_quote 99.00",
        "OrderSubmitted",
        "OrderAccepted",
        "on_order_filled",
        "OrderFilled",
        "on_position_opened",
    ]


class InheritsQuoteTaker(QuoteTaker):
    """Overrides nothing itself: QuoteTaker's callbacks are inherited."""


def test_callbacks_run_when_inherited_or_set_on_the_instance_after_registration() -> None:
    # The strategy skips the callbacks nobody overrode; inherited ones and ones assigned on
    # the instance (after registration, as a test or a debugger might) still run.
    n, _ = data_node()
    strategy = n.add_strategy(InheritsQuoteTaker())
    accepted: list[str] = []
    positions: list[str] = []
    strategy.on_order_accepted = lambda event: accepted.append(  # type: ignore[method-assign]
        str(event.client_order_id)
    )
    strategy.on_position_event = lambda event: positions.append(  # type: ignore[method-assign]
        type(event).__name__
    )
    n.start()
    n.bus.send(ENDPOINT_DATA_PROCESS, quote(1))
    (order,) = n.cache.orders(strategy_id=strategy.id)
    assert accepted == [str(order.client_order_id)]
    assert positions == ["PositionOpened"]
    assert strategy.seen[2:] == [
        "OrderSubmitted",
        "OrderAccepted",
        "on_order_filled",
        "OrderFilled",
        "on_position_opened",
    ]


def test_lifecycle_hooks_follow_the_kernel_and_data_stops_while_stopped() -> None:
    n, _ = data_node()
    strategy = n.add_strategy(QuoteTaker())
    n.start()
    n.kernel.stop()
    n.bus.send(ENDPOINT_DATA_PROCESS, quote(1, "98.00"))
    n.kernel.resume()
    n.kernel.stop()
    n.kernel.reset()
    assert strategy.seen == ["on_start", "on_stop", "on_resume", "on_stop", "on_reset"]


def test_a_strategy_that_is_not_registered_cannot_start() -> None:
    with pytest.raises(RuntimeError, match="is not registered"):
        QuoteTaker().start()


def test_timers_and_time_alerts_call_back_on_the_clock() -> None:
    n = Node().start()
    fired: list[tuple[str, int]] = []

    class Timed(Actor[NoParams]):
        def on_start(self) -> None:
            self.clock.set_timer("tick", SECOND, self.on_tick)
            self.clock.set_time_alert("once", 3 * SECOND // 2, self.on_tick)

        def on_tick(self, event: TimeEvent) -> None:
            fired.append((event.name, event.ts_event))

    actor = Timed()
    actor.register(n.kernel.trader_id, n.clock, n.bus, n.cache)
    n.kernel.add_component(actor)
    n.clock.advance_time(2 * SECOND)
    assert fired == [("tick", SECOND), ("once", 3 * SECOND // 2), ("tick", 2 * SECOND)]


def test_params_can_be_replaced_while_running_with_validation() -> None:
    n, _ = data_node()
    n.start()
    strategy = n.add_strategy(QuoteTaker(Params(size=Decimal("2"))))
    assert isinstance(strategy, QuoteTaker)
    strategy.update_params(Params(size=Decimal("3"), fast=5, slow=30))
    strategy.update_params({"fast": 7})
    assert strategy.params == Params(size=Decimal("3"), fast=7, slow=30)
    assert [new.fast for _, new in strategy.changes] == [5, 7]
    with pytest.raises(msgspec.ValidationError, match="fast 40 must be below slow 30"):
        strategy.update_params({"fast": 40})
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        strategy.update_params({"fats": 1})
    with pytest.raises(TypeError, match="params must be a Params, got NoParams"):
        strategy.update_params(NoParams())  # type: ignore[arg-type]
    assert strategy.params.fast == 7 and len(strategy.changes) == 2


def test_state_save_and_load_keep_the_users_state_and_the_order_count() -> None:
    n, _ = data_node()
    strategy = n.add_strategy(QuoteTaker())
    n.start()
    n.bus.send(ENDPOINT_DATA_PROCESS, quote(1))
    state = strategy.save()
    assert state["zq.order_factory.count"] == b"1"
    restored = QuoteTaker()
    restored.register(n.kernel.trader_id, n.clock, n.bus, n.cache, n.portfolio)
    restored.load(state)
    assert restored.seen == ["loaded 7"]
    assert restored.order_factory.market(SIM, OrderSide.BUY, Q("1")).client_order_id.endswith("-2")


def test_close_all_positions_flattens_the_strategys_positions_with_reduce_only_orders() -> None:
    n = Node().start()
    strategy = n.add_strategy(Recorder())
    strategy.submit_order(strategy.order_factory.market(SIM, OrderSide.SELL, Q("2.500")))
    orders = strategy.close_all_positions(SIM)
    assert [(o.side, o.quantity, o.reduce_only, o.status) for o in orders] == [
        (OrderSide.BUY, Q("2.500"), True, OrderStatus.FILLED)
    ]
    assert n.portfolio.net_position(SIM, strategy.id) == 0
    assert strategy.names()[-1] == "on_position_closed"
    assert strategy.close_all_positions(SIM) == []


def test_a_strategy_cannot_submit_another_strategys_order_or_the_same_order_twice() -> None:
    n = Node().start()
    mine = n.add_strategy(Recorder())
    theirs = n.add_strategy(Recorder(strategy_id="Other-002", order_id_tag="002"))
    order = theirs.order_factory.limit(SIM, OrderSide.BUY, Q("1.000"), P("100.00"))
    with pytest.raises(ValueError, match="cannot submit"):
        mine.submit_order(order)
    theirs.submit_order(order)
    with pytest.raises(KeyError, match="already in the cache"):
        theirs.submit_order(order)


def test_actor_receives_trades_and_custom_data_only_on_its_subscriptions() -> None:
    n, _ = data_node()
    got: list[Any] = []

    class Watcher(Actor[NoParams]):
        def on_start(self) -> None:
            self.subscribe_trades(SIM)
            self.subscribe_data("signals.*")

        def on_trade(self, trade: TradeTick) -> None:
            got.append(trade.price)

        def on_data(self, data: Any) -> None:
            got.append(data)

    watcher = Watcher()
    watcher.register(n.kernel.trader_id, n.clock, n.bus, n.cache)
    n.kernel.add_component(watcher)
    n.start()
    n.bus.send(ENDPOINT_DATA_PROCESS, quote(1))
    n.bus.send(
        ENDPOINT_DATA_PROCESS,
        TradeTick(SIM, P("100.50"), Q("0.100"), AggressorSide.BUYER, TradeId("T1"), 2, 2),
    )
    n.bus.publish("signals.ema", "cross-up")
    watcher.unsubscribe_trades(SIM)
    n.bus.send(
        ENDPOINT_DATA_PROCESS,
        TradeTick(SIM, P("100.60"), Q("0.100"), AggressorSide.BUYER, TradeId("T2"), 3, 3),
    )
    assert got == [P("100.50"), "cross-up"]


@pytest.mark.parametrize("assign", [False, True])
def test_compiled_event_callbacks_call_what_the_python_reference_calls(assign: bool) -> None:
    # EventCallbacks (C) against Strategy._handle_order_event / _handle_position_event (the
    # Python rules it replaces): the same events give the same calls, with and without a
    # callback assigned on the instance.
    from zq.common import topics

    n, _ = data_node()
    compiled = n.add_strategy(InheritsQuoteTaker())
    reference = InheritsQuoteTaker()  # never registered: only its Python handlers run
    for strategy in (compiled, reference):
        if assign:
            strategy.on_order_accepted = (  # type: ignore[method-assign]
                lambda event, seen=strategy.seen: seen.append("assigned accepted")
            )
    delivered: list[tuple[str, Any]] = []
    n.bus.subscribe(topics.order_events(compiled.id), lambda e: delivered.append(("order", e)))
    n.bus.subscribe(
        topics.position_events(compiled.id), lambda e: delivered.append(("position", e))
    )
    n.start()
    n.bus.send(ENDPOINT_DATA_PROCESS, quote(1))
    n.bus.send(ENDPOINT_DATA_PROCESS, quote(2, bid="98.00"))
    for kind, event in delivered:
        if kind == "order":
            reference._handle_order_event(event)
        else:
            reference._handle_position_event(event)
    calls = [s for s in compiled.seen if not s.startswith(("on_start", "on_quote"))]
    assert len(delivered) >= 4 and calls == reference.seen
    assert ("assigned accepted" in calls) is assign
