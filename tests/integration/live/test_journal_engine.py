"""The journal hooked into a real ExecutionEngine, as docs/live/journal.md asks, rebuilds its state.

The engine is the project's own; the hooks the docs ask of it are placed here by overriding
(the engine itself is not this test's to edit): ``OrderInitialized`` when a submit creates the
order, every event the order accepted right after it applied (so the write-ahead markers go
before the client is called), and each fill's position events and account state once the
portfolio produced them. A real client (the execution tests' ``InstantClient``) answers at
once, fills, and sometimes never answers. Afterwards a fresh cache and portfolio rebuilt from
the file must hold the same orders (event for event), positions and balances as the engine's.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from tests.unit.execution.harness import SIM, USDT, InstantClient, sim_instrument
from zq.cache import Cache
from zq.execution import ExecutionEngine
from zq.kernel import Kernel
from zq.live.journal import Journal, JournalMarker
from zq.live.recovery import rebuild
from zq.model.commands import CancelOrder, ModifyOrder, SubmitOrder
from zq.model.currency import Currency
from zq.model.enums import OrderSide
from zq.model.events import OrderFilled
from zq.model.identifiers import AccountId, StrategyId
from zq.model.instruments import Instrument
from zq.model.orders import Order
from zq.model.position import PositionEvent
from zq.portfolio import Portfolio
from zq.portfolio.account import CashAccount
from zq.strategy.order_factory import OrderFactory
from zq_core.fixed import Money, Price, Quantity

BTC = Currency.from_str("BTC")
STRATEGY = StrategyId("S-001")


class JournalingPortfolio(Portfolio):
    """Journals what a fill produced: its position events, then its account's new state."""

    def __init__(self, cache: Cache, journal: Journal) -> None:
        super().__init__(cache)
        self.journal = journal

    def process_fill(self, fill: OrderFilled, instrument: Instrument) -> list[PositionEvent]:
        account = self.account_for(fill)
        states = 0 if account is None else len(account.events)
        produced = super().process_fill(fill, instrument)
        for event in produced:
            self.journal.append(event)
        if account is not None:
            for state in account.events[states:]:
                self.journal.append(state)
        return produced


class JournalingEngine(ExecutionEngine):
    """The engine with the journal calls of docs/live/journal.md."""

    journal: Journal

    def _submit(self, command: SubmitOrder) -> None:
        if self.cache.order(command.client_order_id) is None:
            self.journal.append(command.order)
        super()._submit(command)

    def _apply_venue(self, order: Order, event: Any) -> bool:
        applied = super()._apply_venue(order, event)
        if applied:
            self.journal.append(event)
        return applied

    # The engine applies its own events (submitted, pending, denied) the same way, under a
    # second name bound to the base method: hooked too.
    _apply_local = _apply_venue


class SometimesSilentClient(InstantClient):
    """Answers at once, except for the orders it was told to lose the response of."""

    lose_next = False

    def submit_order(self, command: SubmitOrder) -> None:
        if self.lose_next:
            self.lose_next = False
            self.submitted.append(command)
            return
        super().submit_order(command)


def test_a_journal_written_by_the_engine_rebuilds_the_engine_state(tmp_path):
    path = tmp_path / "node.journal"
    journal = Journal(path, synchronous="NORMAL")
    kernel = Kernel()
    clock, cache = kernel.clock, kernel.cache
    instrument = sim_instrument()
    cache.add_instrument(instrument)
    account = CashAccount(
        AccountId("SIM-001"),
        balances={"USDT": Money(1_000_000, USDT), "BTC": Money(50, BTC)},
    )
    cache.add_account(account)
    journal.append(JournalMarker(name="start", ts_event=0), sync=True)
    journal.append(instrument)
    journal.append(account.last_state)

    portfolio = JournalingPortfolio(cache, journal)
    engine = JournalingEngine(clock, kernel.bus, cache, portfolio)
    engine.journal = journal
    client = SometimesSilentClient(SimpleNamespace(clock=clock, cache=cache))  # type: ignore[arg-type]
    engine.register_client(client)
    kernel.add_component(engine)
    kernel.start()

    factory = OrderFactory(kernel.trader_id, STRATEGY, clock)
    rng = random.Random(11)
    working: list[Order] = []
    ts = 1_700_000_000_000_000_000

    def send(command: Any) -> None:
        engine.execute(command)

    base = {"trader_id": kernel.trader_id, "strategy_id": STRATEGY, "instrument_id": SIM}
    for _ in range(300):
        ts += rng.randint(1, 10**9)
        clock.set_time(ts)
        action = rng.random()
        qty = Quantity(Decimal(rng.randint(1, 200)) / 1000, 3)
        side = OrderSide.BUY if rng.random() < 0.5 else OrderSide.SELL
        if action < 0.25:  # a market order, filled at once
            order = factory.market(SIM, side, qty)
            send(SubmitOrder(order=order.init, ts_init=ts, **base))
        elif action < 0.5 or not working:  # a limit order, rests (or its answer is lost)
            price = Price(Decimal(rng.randint(9_000, 11_000)) / 100, 2)
            order = factory.limit(SIM, side, qty, price)
            client.lose_next = rng.random() < 0.1
            send(SubmitOrder(order=order.init, ts_init=ts, **base))
            engine_order = cache.order(order.client_order_id)
            assert engine_order is not None
            if engine_order.is_open:
                working.append(engine_order)
        else:
            order = working[rng.randrange(len(working))]
            if not order.is_open:
                working.remove(order)
                continue
            choice = rng.random()
            if choice < 0.4:  # the venue fills part or all of it
                lots = int(order.leaves_qty.as_decimal() * 1000)
                client.fill(order, Quantity(Decimal(rng.randint(1, lots)) / 1000, 3))
            elif choice < 0.7:
                send(CancelOrder(client_order_id=order.client_order_id, ts_init=ts, **base))
            else:
                new_qty = order.filled_qty + Quantity(Decimal(rng.randint(1, 100)) / 1000, 3)
                send(
                    ModifyOrder(
                        client_order_id=order.client_order_id, quantity=new_qty, ts_init=ts, **base
                    )
                )
    assert engine.duplicate_fills == engine.invalid_events == engine.overfills == 0
    journal.close()

    with Journal(path) as reopened:
        rebuilt_cache = Cache()
        rebuilt_portfolio = Portfolio(rebuilt_cache)
        summary = rebuild(reopened, rebuilt_cache, rebuilt_portfolio)

    assert summary.unjournaled_consequences == 0
    originals = cache.orders()
    rebuilt = rebuilt_cache.orders()
    assert [o.client_order_id for o in rebuilt] == [o.client_order_id for o in originals]
    for original, copy in zip(originals, rebuilt, strict=True):
        assert copy.events == original.events
        assert (copy.status, copy.filled_qty, copy.venue_order_id) == (
            original.status,
            original.filled_qty,
            original.venue_order_id,
        )
    ids = _ids
    assert ids(rebuilt_cache.orders_inflight()) == ids(cache.orders_inflight())
    assert ids(rebuilt_cache.orders_open()) == ids(cache.orders_open())
    assert summary.inflight_orders == tuple(ids(cache.orders_inflight()))
    assert len(summary.inflight_orders) >= 3  # the lost answers
    assert {"FILLED", "CANCELED", "ACCEPTED"} <= set(summary.orders_by_status)

    (position,) = cache.positions()
    (copy,) = rebuilt_cache.positions()
    assert (copy.id, copy.signed_qty, copy.realized_pnl_decimal) == (
        position.id,
        position.signed_qty,
        position.realized_pnl_decimal,
    )
    assert rebuilt_cache.account(account.id).events == account.events
    assert summary.order_counts == {STRATEGY: factory.count}
    assert rebuilt_cache.check_integrity() == []


def _ids(orders: Sequence[Order]) -> list[object]:
    return [o.client_order_id for o in orders]
