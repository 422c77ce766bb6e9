"""The compiled parts of a strategy's order path against the Python they replace: the
commands OrderSender builds, the clock read from its time cell, the registered parts read
through Required, the callbacks found per event, and the backtest client skipped for its
exchange (a subclass of it still called)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.unit.execution.harness import SIM, Node, P, Q, Recorder
from zq.backtest import LatencyModel
from zq.backtest.client import BacktestExecutionClient
from zq.cache import Cache
from zq.common.clock import LiveClock, TestClock
from zq.common.topics import ENDPOINT_RISK
from zq.demo import demo_instrument
from zq.execution import ExecutionEngine
from zq.kernel import Kernel, KernelConfig
from zq.model.commands import CancelOrder, ModifyOrder, SubmitOrder
from zq.model.data import TradeTick
from zq.model.enums import AggressorSide, BookType, OrderSide, OrderStatus
from zq.model.identifiers import PositionId, TradeId
from zq.risk import RiskEngine
from zq.strategy import Strategy
from zq_core.bus import MessageBus
from zq_core.strategy import OrderSender, Required, SentCommand
from zq_core.time_source import TimeSource

START = 1_700_000_000_000_000_000


class ShiftedClock(TestClock):
    """A TestClock subclass that reads its time otherwise: never read from the cell."""

    def timestamp_ns(self) -> int:
        return super().timestamp_ns() + 7


def test_time_source_reads_the_test_clocks_cell_and_asks_any_other_clock() -> None:
    clock = TestClock(START)
    source = TimeSource(clock)
    assert source.cell is not None and source.now() == START
    clock.set_time(START + 5)
    assert source.now() == clock.timestamp_ns() == START + 5
    shifted = ShiftedClock(START)
    assert TimeSource(shifted).cell is None
    assert TimeSource(shifted).now() == START + 7  # its own timestamp_ns, not the cell
    live = LiveClock()
    before = live.timestamp_ns()
    assert TimeSource(live).cell is None and TimeSource(live).now() >= before


def test_time_sources_hand_out_one_int_per_time_and_follow_the_clock() -> None:
    # Every reader of a cell gets the int made for the current time (one per order, not one
    # per reader); a new time, or an earlier one again, gives its own value.
    clock, other = TestClock(START), TestClock(0)
    first, second, third = TimeSource(clock), TimeSource(clock), TimeSource(other)
    assert first.now() is second.now() and first.now() == START  # far past the small ints
    assert third.now() == 0 and first.now() == START
    for stamp in (START + 1, START - 5, START, 2**63 - 1):
        clock.set_time(stamp)
        assert first.now() == second.now() == clock.timestamp_ns() == stamp
        assert first.now() is second.now()


class ShiftedLiveClock(LiveClock):
    """A LiveClock subclass that reads its time otherwise: asked, never read in C."""

    def timestamp_ns(self) -> int:
        return 7


def test_time_source_reads_the_live_clock_as_time_time_ns_unless_it_was_replaced() -> None:
    live = LiveClock()
    source = TimeSource(live)
    assert source.wall and source.cell is None
    before = time.time_ns()
    now = source.now()
    assert before <= now <= time.time_ns()
    with pytest.MonkeyPatch.context() as patch:  # time.time_ns replaced: the clock is asked
        patch.setattr(time, "time_ns", lambda: 1_763_884_800_123_456_789)
        assert source.now() == live.timestamp_ns() == 1_763_884_800_123_456_789
    assert source.now() >= now
    assert not TimeSource(ShiftedLiveClock()).wall
    assert TimeSource(ShiftedLiveClock()).now() == 7
    assigned = LiveClock()
    assigned.timestamp_ns = lambda: 11  # type: ignore[method-assign]
    assert not TimeSource(assigned).wall and TimeSource(assigned).now() == 11


def test_order_sender_sends_the_commands_the_python_reference_builds() -> None:
    # The reference: the fields Strategy.submit_order / modify_order / cancel_order built in
    # Python before (positional, in the order of each command's fields).
    n = Node().start()
    strategy = n.add_strategy(Recorder())
    order = strategy.order_factory.limit(SIM, OrderSide.BUY, Q("1.000"), P("100.00"))
    bus = MessageBus()
    sent: list[Any] = []
    bus.register(ENDPOINT_RISK, sent.append)
    clock = TestClock(START)
    cache = Cache()
    sender = OrderSender(
        n.kernel.trader_id,
        strategy.id,
        cache,
        bus,
        clock,
        ENDPOINT_RISK,
        (SubmitOrder, ModifyOrder, CancelOrder),
    )
    position_id = PositionId("P-1")
    sender.submit_order(order, position_id)
    clock.set_time(START + 1)
    sender.modify_order(order, Q("2.000"), P("99.00"))
    clock.set_time(START + 2)
    sender.cancel_order(order)
    trader, me, instrument = n.kernel.trader_id, strategy.id, order.instrument_id
    coid, void = order.client_order_id, order.venue_order_id
    assert sent == [
        SubmitOrder(trader, me, instrument, START, order.init, position_id),
        ModifyOrder(trader, me, instrument, START + 1, coid, void, Q("2.000"), P("99.00"), None),
        CancelOrder(trader, me, instrument, START + 2, coid, void),
    ]
    assert cache.order(coid) is order
    with pytest.raises(KeyError, match="already in the cache"):
        sender.submit_order(order)


class RecordingCache(Cache):
    """A Cache subclass that overrides add_order: the sender calls the override."""

    def __init__(self) -> None:
        super().__init__()
        self.added: list[Any] = []

    def add_order(self, order: Any, /) -> None:
        self.added.append(order)
        super().add_order(order)


class PlainCache:
    """Not a Cache at all: the sender calls its add_order by name."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    def add_order(self, order: Any) -> None:
        self.added.append(order)


@pytest.mark.parametrize("cache_type", [RecordingCache, PlainCache])
def test_order_sender_adds_the_order_through_the_caches_own_add_order(
    cache_type: type[Any],
) -> None:
    n = Node().start()
    strategy = n.add_strategy(Recorder())
    order = strategy.order_factory.market(SIM, OrderSide.BUY, Q("1.000"))
    bus = MessageBus()
    sent: list[Any] = []
    bus.register(ENDPOINT_RISK, sent.append)
    cache = cache_type()
    sender = OrderSender(
        n.kernel.trader_id,
        strategy.id,
        cache,
        bus,
        TestClock(START),
        ENDPOINT_RISK,
        (SubmitOrder, ModifyOrder, CancelOrder),
    )
    sender.submit_order(order)
    assert cache.added == [order]
    assert [command.order for command in sent] == [order.init]


def test_submitting_another_strategys_order_is_refused_registered_or_not() -> None:
    n = Node().start()
    theirs = n.add_strategy(Recorder(strategy_id="Other-002", order_id_tag="002"))
    order = theirs.order_factory.market(SIM, OrderSide.BUY, Q("1.000"))
    message = f"Recorder-001 cannot submit {order.client_order_id} of Other-002"
    with pytest.raises(ValueError, match=message):
        Recorder().submit_order(order)  # not registered: the strategy is checked first
    with pytest.raises(ValueError, match=message):
        n.add_strategy(Recorder()).submit_order(order)


class OverridesSubmit(Recorder):
    """Overrides submit_order (calling the base's): the override runs, not the sender."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.overridden: list[Any] = []

    def submit_order(self, order: Any, position_id: Any = None) -> None:
        self.overridden.append(order)
        super().submit_order(order, position_id)


def test_a_registered_strategy_sends_through_its_sender_unless_the_method_is_overridden() -> None:
    n = Node().start()
    plain = n.add_strategy(Recorder())
    sender = plain._sender
    assert sender is not None
    # The command methods read on the instance are the sender's own (no interpreter frame
    # between), and nothing is set on the instance.
    assert not {"submit_order", "modify_order", "cancel_order"} & set(vars(plain))
    assert isinstance(Strategy.__dict__["submit_order"], SentCommand)
    assert Strategy.submit_order is Strategy.__dict__["submit_order"].function  # the reference
    assert plain.submit_order == sender.submit_order
    assert plain.modify_order == sender.modify_order
    assert plain.cancel_order == sender.cancel_order
    order = plain.order_factory.limit(SIM, OrderSide.BUY, Q("1.000"), P("100.00"))
    plain.submit_order(order, position_id=None)
    assert n.cache.order(order.client_order_id) is order
    assert order.status is not OrderStatus.INITIALIZED  # on to the risk engine and beyond
    overriding = n.add_strategy(OverridesSubmit(strategy_id="Overrides-002", order_id_tag="002"))
    assert "submit_order" not in vars(overriding)  # the class's override is kept
    assert overriding.cancel_order == overriding._sender.cancel_order  # type: ignore[union-attr]
    mine = overriding.order_factory.limit(SIM, OrderSide.BUY, Q("1.000"), P("100.00"))
    overriding.submit_order(mine)
    assert overriding.overridden == [mine]
    assert n.cache.order(mine.client_order_id) is mine


def test_registered_parts_raise_until_registered_and_cannot_be_set() -> None:
    strategy = Recorder()
    for name, what in [
        ("clock", "clock"),
        ("bus", "bus"),
        ("cache", "cache"),
        ("trader_id", "trader id"),
        ("portfolio", "portfolio"),
        ("order_factory", "order factory"),
    ]:
        with pytest.raises(RuntimeError, match=f"is not registered: it has no {what} yet"):
            getattr(strategy, name)
    with pytest.raises(RuntimeError, match="is not registered"):
        strategy.modify_order(None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="is not registered"):
        strategy.cancel_order(None)  # type: ignore[arg-type]
    assert strategy.params is strategy._params
    with pytest.raises(AttributeError, match="property 'clock' of 'Recorder' object has no setter"):
        strategy.clock = TestClock()  # type: ignore[misc]
    with pytest.raises(AttributeError, match="has no deleter"):
        del strategy.portfolio  # type: ignore[misc]
    assert isinstance(Strategy.__dict__["order_factory"], Required)
    n = Node().start()
    n.add_strategy(strategy)
    assert strategy.clock is n.clock and strategy.portfolio is n.portfolio
    assert strategy.cache is n.cache and strategy.bus is n.bus


class Quiet(Strategy[Any]):
    """Overrides no callback."""


class Dynamic(Strategy[Any]):
    """Answers every unknown attribute (its attribute look-up is not the generic one)."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


@pytest.mark.parametrize("kind", [Quiet, Dynamic])
def test_callbacks_follow_assignments_on_the_class_and_the_instance(kind: type[Any]) -> None:
    n = Node().start()
    strategy = n.add_strategy(kind())
    seen: list[str] = []

    def submit() -> None:
        n.clock.set_time(n.clock.timestamp_ns() + 1)
        strategy.submit_order(strategy.order_factory.market(SIM, OrderSide.BUY, Q("1.000")))

    submit()
    assert seen == []
    # On the class after registration: found as a call finds it.
    kind.on_order_filled = lambda self, event: seen.append(f"class {type(event).__name__}")
    try:
        submit()
        assert seen == ["class OrderFilled"]
        # On the instance: it shadows the class's.
        strategy.on_order_filled = lambda event: seen.append("instance")
        strategy.on_position_event = lambda event: seen.append(type(event).__name__)
        submit()
        assert seen[1:] == ["instance", "PositionChanged"]
        del strategy.on_order_filled
        del strategy.on_position_event
        submit()
        assert seen[3:] == ["class OrderFilled"]
    finally:
        del kind.on_order_filled
    submit()
    assert len(seen) == 4


class BindsTheBaseFunction(Strategy[Any]):
    """Binds Strategy's own (no-op) callback in its class body: a plain function there, so
    an instance's assignment lands in the instance's __dict__."""

    on_order_filled = Strategy.on_order_filled


def test_strategys_callbacks_read_as_methods_and_take_assignments_as_attributes() -> None:
    # The slots against plain Python attributes: read from the class, the function; from an
    # instance, the bound method, or the value assigned on that instance only.
    first, second = Quiet(), Quiet(strategy_id="Quiet-002")
    function = Strategy.__dict__["on_order_filled"].function
    assert Strategy.on_order_filled is function and Quiet.on_order_filled is function
    assert first.on_order_filled == first.on_order_filled and first.on_order_filled.__self__ is first
    assert first.on_order_filled.__func__ is function
    seen: list[Any] = []
    first.on_order_filled = seen.append  # type: ignore[method-assign]
    assert first.on_order_filled == seen.append and second.on_order_filled.__func__ is function
    del first.on_order_filled
    assert first.on_order_filled.__func__ is function
    with pytest.raises(AttributeError) as refused:
        del first.on_order_filled

    class Plain:
        def on_order_filled(self, event: Any) -> None:
            pass

    with pytest.raises(AttributeError) as python:
        del Plain().on_order_filled  # type: ignore[method-assign]
    assert str(refused.value) == str(python.value).replace("Plain", "Quiet")


def test_a_callback_is_called_only_on_the_instance_it_was_assigned_on() -> None:
    n = Node().start()
    first = n.add_strategy(Quiet())
    second = n.add_strategy(Quiet(strategy_id="Quiet-002"))
    seen: list[str] = []
    first.on_order_accepted = lambda event: seen.append("first")  # type: ignore[method-assign]
    for strategy in (first, second):
        n.clock.set_time(n.clock.timestamp_ns() + 1)
        strategy.submit_order(strategy.order_factory.market(SIM, OrderSide.BUY, Q("1.000")))
    assert seen == ["first"]


def test_an_assignment_next_to_a_class_bound_base_function_is_called() -> None:
    n = Node().start()
    strategy = n.add_strategy(BindsTheBaseFunction())
    seen: list[str] = []
    strategy.on_order_filled = lambda event: seen.append("instance")  # type: ignore[method-assign]
    assert "on_order_filled" in vars(strategy)  # a plain attribute: no slot involved
    strategy.submit_order(strategy.order_factory.market(SIM, OrderSide.BUY, Q("1.000")))
    assert seen == ["instance"]


def test_a_callback_set_on_strategy_itself_after_registration_is_called(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    n = Node().start()
    strategy = n.add_strategy(Quiet())
    seen: list[str] = []
    strategy.submit_order(strategy.order_factory.market(SIM, OrderSide.BUY, Q("1.000")))
    assert seen == []
    monkeypatch.setattr(Strategy, "on_order_event", lambda self, event: seen.append("base"))
    n.clock.set_time(n.clock.timestamp_ns() + 1)
    strategy.submit_order(strategy.order_factory.market(SIM, OrderSide.BUY, Q("1.000")))
    assert seen and set(seen) == {"base"}


def backtest_node(client_type: type[BacktestExecutionClient]) -> tuple[Strategy[Any], Any]:
    kernel = Kernel(KernelConfig(trader_id="TEST-001"))
    clock = kernel.clock
    assert isinstance(clock, TestClock)
    clock.set_time(START)
    instrument = demo_instrument()
    kernel.cache.add_instrument(instrument)
    portfolio = Node().portfolio.__class__(kernel.cache)
    risk = RiskEngine(clock, kernel.bus, kernel.cache, portfolio)
    execution = ExecutionEngine(clock, kernel.bus, kernel.cache, portfolio)
    client = client_type(
        instrument.id.venue,
        [instrument],
        clock,
        book_type=BookType.L1_MBP,
        latency_model=LatencyModel(),
    )
    execution.register_client(client)
    strategy = Recorder()
    strategy.register(kernel.trader_id, clock, kernel.bus, kernel.cache, portfolio)
    for component in (risk, execution, strategy):
        kernel.add_component(component)
    kernel.start()
    client.exchange.process_trade(
        TradeTick(
            instrument.id,
            P("30000.00"),
            Q("5.00000"),
            AggressorSide.BUYER,
            TradeId("T-1"),
            START,
            START,
        )
    )
    return strategy, client


class CountingClient(BacktestExecutionClient):
    """A subclass: the command path calls its methods, not its exchange."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: list[str] = []

    def submit_order(self, command: Any) -> None:
        self.commands.append(type(command).__name__)
        super().submit_order(command)

    def modify_order(self, command: Any) -> None:
        self.commands.append(type(command).__name__)
        super().modify_order(command)

    def cancel_order(self, command: Any) -> None:
        self.commands.append(type(command).__name__)
        super().cancel_order(command)


def run_orders(strategy: Strategy[Any]) -> list[tuple[str, Any]]:
    instrument_id = demo_instrument().id
    market = strategy.order_factory.market(instrument_id, OrderSide.BUY, Q("0.01000"))
    strategy.submit_order(market)
    limit = strategy.order_factory.limit(instrument_id, OrderSide.BUY, Q("0.01000"), P("29000.00"))
    strategy.submit_order(limit)
    strategy.modify_order(limit, price=P("28990.00"))
    strategy.cancel_order(limit)
    assert market.status is OrderStatus.FILLED and limit.status is OrderStatus.CANCELED
    return [(name, event) for name, event in strategy.calls]  # type: ignore[attr-defined]


def test_the_backtest_client_is_skipped_for_its_exchange_and_a_subclass_is_called() -> None:
    direct, _ = backtest_node(BacktestExecutionClient)
    counted, client = backtest_node(CountingClient)
    events = run_orders(direct)
    assert client.commands == []
    assert run_orders(counted) == events  # the same events, field for field
    assert client.commands == ["SubmitOrder", "SubmitOrder", "ModifyOrder", "CancelOrder"]
    assert [name for name, _ in events].count("on_order_event") == 9


@pytest.mark.parametrize("name", ["submit_order", "modify_order", "cancel_order"])
def test_a_backtest_clients_command_cannot_be_replaced_on_an_instance(name: str) -> None:
    # The command path hands a BacktestExecutionClient's commands to its exchange, so a
    # method set on an instance would never be called: the assignment is refused.
    _, client = backtest_node(BacktestExecutionClient)
    with pytest.raises(AttributeError, match=rf"Client\.{name} cannot be replaced on an instance"):
        setattr(client, name, lambda command: None)
    with pytest.raises(AttributeError, match="subclass BacktestExecutionClient and override"):
        delattr(client, name)
    # Written into the instance's dictionary it is not found either: the class's wins, as for
    # the command path.
    vars(client)[name] = lambda command: None
    assert getattr(client, name).__func__ is getattr(BacktestExecutionClient, name)
    # A subclass's own method stays replaceable on its instances (they are called).
    _, counting = backtest_node(CountingClient)
    setattr(counting, name, lambda command: None)


def test_the_command_path_uses_the_exchange_the_client_holds_at_each_command() -> None:
    strategy, client = backtest_node(BacktestExecutionClient)
    instrument_id = demo_instrument().id
    first = strategy.order_factory.market(instrument_id, OrderSide.BUY, Q("0.01000"))
    strategy.submit_order(first)
    assert first.status is OrderStatus.FILLED

    class Holding:
        """An exchange that keeps the commands it is given."""

        def __init__(self) -> None:
            self.commands: list[Any] = []

        def submit(self, command: Any) -> None:
            self.commands.append(command)

    holding = Holding()
    client.exchange = holding  # type: ignore[assignment]
    second = strategy.order_factory.market(instrument_id, OrderSide.BUY, Q("0.01000"))
    strategy.submit_order(second)
    assert [command.order.client_order_id for command in holding.commands] == [
        second.client_order_id
    ]
    assert second.status is OrderStatus.SUBMITTED


def test_an_exchange_client_type_needs_its_commands_marked() -> None:
    from zq_core.commands import ExchangeCommand, register_exchange_client

    class Unmarked(BacktestExecutionClient):
        def submit_order(self, command: Any) -> None:
            super().submit_order(command)

    with pytest.raises(TypeError, match=r"Unmarked\.submit_order must be defined with exchange_"):
        register_exchange_client(Unmarked)
    marked = ExchangeCommand(BacktestExecutionClient.submit_order)
    assert marked.__get__(None, BacktestExecutionClient) is BacktestExecutionClient.submit_order
