"""The ExecutionEngine on a real backtest node with an in-test ExecutionClient: pre-submission
tracking, routing, client failures, fill de-duplication, overfills, unknown orders, position
modes, modify and cancel."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.unit.execution.harness import SIM, InstantClient, Node, P, Q, Recorder, SmallPortfolio
from zq.common.topics import ENDPOINT_EXECUTION_PROCESS, order_events
from zq.execution import ExecutionErrorKind
from zq.model.enums import OmsType, OrderSide, OrderStatus
from zq.model.identifiers import ClientOrderId, InstrumentId, PositionId, StrategyId
from zq.model.orders import Order

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def setup(oms_type: OmsType = OmsType.NETTING) -> tuple[Node, Recorder]:
    n = Node(oms_type=oms_type).start()
    return n, n.add_strategy(Recorder())  # type: ignore[return-value]


def resting(s: Recorder, qty: str = "2.000", price: str = "100.00", side: OrderSide = BUY) -> Order:
    order = s.order_factory.limit(SIM, side, Q(qty), P(price))
    s.submit_order(order)
    return order


def test_order_is_in_flight_in_the_cache_before_the_client_is_called() -> None:
    n, s = setup()
    order = resting(s)
    assert n.client.inflight_when_called == [True]
    assert [type(e).__name__ for e in order.events] == [
        "OrderInitialized",
        "OrderSubmitted",
        "OrderAccepted",
    ]
    assert order.account_id == n.client.account_id
    assert n.cache.is_order_open(order.client_order_id)


def test_client_raising_on_submit_rejects_the_order_with_the_exception_and_loses_nothing() -> None:
    n, s = setup()
    n.client.raise_on.add("submit_order")
    order = resting(s)
    assert order.status is OrderStatus.REJECTED
    assert s.names() == ["on_order_submitted", "on_order_rejected"]
    assert (
        "failed to submit: ConnectionError('venue unreachable during submit_order')"
        in s.reasons()[-1]
    )
    assert n.cache.order(order.client_order_id) is order
    assert n.cache.is_order_closed(order.client_order_id)
    assert n.execution.client_errors == 1
    assert [e.kind for e in n.errors] == [ExecutionErrorKind.CLIENT_ERROR]


def test_order_for_a_venue_without_a_client_is_denied_with_the_reason() -> None:
    n, s = setup()
    other = InstrumentId("BTCUSDT.ELSEWHERE")
    from tests.unit.execution.harness import sim_instrument

    n.cache.add_instrument(sim_instrument(id=other))
    order = s.order_factory.limit(other, BUY, Q("1.000"), P("100.00"))
    s.submit_order(order)
    assert order.status is OrderStatus.DENIED
    assert s.reasons() == ["no execution client for venue ELSEWHERE (registered venues: SIM)"]
    assert n.client.submitted == []


def test_repeated_trade_id_is_dropped_and_counted() -> None:
    n, s = setup()
    order = resting(s)
    n.client.fill(order, Q("1.000"), trade_id="T-1")
    n.client.fill(order, Q("1.000"), trade_id="T-1")
    assert order.filled_qty == Q("1.000")
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert n.execution.duplicate_fills == 1
    assert len(n.portfolio.fills) == 1
    assert s.names().count("on_order_filled") == 1
    assert n.errors[-1].kind is ExecutionErrorKind.DUPLICATE_FILL
    assert "trade T-1 was already applied" in n.errors[-1].message


def test_overfill_is_refused_reported_and_the_order_stays_consistent() -> None:
    n, s = setup()
    order = resting(s)
    n.client.fill(order, Q("1.500"))
    n.client.fill(order, Q("1.000"))
    assert (order.filled_qty, order.leaves_qty, order.status) == (
        Q("1.500"),
        Q("0.500"),
        OrderStatus.PARTIALLY_FILLED,
    )
    assert n.execution.overfills == 1
    assert n.errors[-1].kind is ExecutionErrorKind.OVERFILL
    assert "exceeds leaves quantity 0.500" in n.errors[-1].message
    assert n.portfolio.net_position(SIM) == Decimal("1.5")
    n.client.fill(order, Q("0.500"))
    assert order.status is OrderStatus.FILLED


def test_events_for_unknown_orders_are_reported_not_raised() -> None:
    n, s = setup()
    order = resting(s)
    stranger = n.client.generate_order_canceled(
        type(
            "Ref",
            (),
            dict(
                trader_id=order.trader_id,
                strategy_id=order.strategy_id,
                instrument_id=SIM,
                client_order_id=ClientOrderId("O-NOBODY"),
            ),
        )()
    )
    n.bus.send(ENDPOINT_EXECUTION_PROCESS, stranger)
    assert n.execution.unknown_events == 1
    assert n.errors[-1].kind is ExecutionErrorKind.UNKNOWN_ORDER
    assert n.errors[-1].event is stranger


def test_event_invalid_in_the_orders_state_is_reported_and_dropped() -> None:
    n, s = setup()
    order = resting(s)
    n.client.fill(order, Q("2.000"))
    n.bus.send(ENDPOINT_EXECUTION_PROCESS, n.client.generate_order_canceled(order))
    assert order.status is OrderStatus.FILLED
    assert n.execution.invalid_events == 1
    assert n.errors[-1].kind is ExecutionErrorKind.INVALID_TRANSITION


def test_cancel_applies_pending_cancel_before_the_client_is_called() -> None:
    n, s = setup()
    order = resting(s)
    s.cancel_order(order)
    assert s.names()[-2:] == ["on_order_pending_cancel", "on_order_canceled"]
    assert order.status is OrderStatus.CANCELED
    assert not n.cache.is_order_open(order.client_order_id)


def test_modify_applies_pending_update_then_the_venues_update() -> None:
    _n, s = setup()
    order = resting(s)
    s.modify_order(order, price=P("99.50"))
    assert s.names()[-2:] == ["on_order_pending_update", "on_order_updated"]
    assert (order.price, order.status) == (P("99.50"), OrderStatus.ACCEPTED)


def test_client_raising_on_cancel_returns_the_order_to_its_previous_state() -> None:
    n, s = setup()
    order = resting(s)
    n.client.raise_on.add("cancel_order")
    s.cancel_order(order)
    assert order.status is OrderStatus.ACCEPTED
    assert s.names()[-2:] == ["on_order_pending_cancel", "on_order_cancel_rejected"]
    assert "ConnectionError('venue unreachable during cancel_order')" in s.reasons()[-1]
    assert n.execution.client_errors == 1


def test_cancel_of_a_closed_order_is_answered_with_a_cancel_rejected() -> None:
    n, s = setup()
    order = s.order_factory.market(SIM, BUY, Q("1.000"))
    s.submit_order(order)
    got: list[Any] = []
    n.bus.subscribe(order_events(s.id), got.append)
    s.cancel_order(order)
    assert order.status is OrderStatus.FILLED
    assert [type(e).__name__ for e in got] == ["OrderCancelRejected"]
    assert "is FILLED: cannot cancel" in got[0].reason


def test_cancel_all_orders_cancels_only_this_strategys_orders_on_the_side() -> None:
    n, s = setup()
    other = n.add_strategy(Recorder(strategy_id="Other-002", order_id_tag="002"))
    bids = [resting(s), resting(s)]
    ask = resting(s, side=SELL, price="101.00")
    theirs = resting(other)  # type: ignore[arg-type]
    s.cancel_all_orders(SIM, BUY)
    assert [o.status for o in bids] == [OrderStatus.CANCELED, OrderStatus.CANCELED]
    assert ask.status is OrderStatus.ACCEPTED and theirs.status is OrderStatus.ACCEPTED


def test_netting_mode_gives_one_position_per_instrument_and_strategy() -> None:
    n, s = setup(OmsType.NETTING)
    for side in (BUY, BUY, SELL):
        s.submit_order(s.order_factory.market(SIM, side, Q("1.000")))
    ids = {f.position_id for f in n.portfolio.fills}
    assert ids == {PositionId("BTCUSDT.SIM-Recorder-001")}
    assert n.portfolio.net_position(SIM, s.id) == Decimal("1")


def test_hedging_mode_opens_a_position_per_order_and_closes_the_one_given() -> None:
    n, s = setup(OmsType.HEDGING)
    first = s.order_factory.market(SIM, BUY, Q("1.000"))
    second = s.order_factory.market(SIM, BUY, Q("2.000"))
    s.submit_order(first)
    s.submit_order(second)
    positions = n.cache.positions_open(strategy_id=s.id)
    assert [p.id for p in positions] == [
        f"BTCUSDT.SIM-Recorder-001-{first.client_order_id}",
        f"BTCUSDT.SIM-Recorder-001-{second.client_order_id}",
    ]
    closing = s.close_position(positions[0])
    assert closing is not None and closing.reduce_only
    assert closing.position_id == positions[0].id
    assert [p.id for p in n.cache.positions_open(strategy_id=s.id)] == [positions[1].id]


def test_order_and_position_events_go_only_to_the_owning_strategy() -> None:
    n, s = setup()
    other = n.add_strategy(Recorder(strategy_id="Other-002", order_id_tag="002"))
    s.submit_order(s.order_factory.market(SIM, BUY, Q("1.000")))
    assert other.calls == []  # type: ignore[attr-defined]
    assert "on_position_opened" in s.names()


def test_clients_cannot_share_a_venue_or_an_id() -> None:
    n, _ = setup()
    with pytest.raises(ValueError, match="an execution client 'SIM-EXEC' is already registered"):
        n.execution.register_client(InstantClient(n))
    with pytest.raises(ValueError, match="venue SIM is already served by client 'SIM-EXEC'"):
        n.execution.register_client(InstantClient(n, client_id="SIM-EXEC-2"))
    assert n.client.is_running


def test_a_client_without_an_engine_cannot_send_events() -> None:
    n = Node()
    lonely = InstantClient(n, venue="LONELY")
    with pytest.raises(RuntimeError, match="no event sink"):
        lonely._send_event(
            lonely.generate_order_canceled(
                type(
                    "Ref",
                    (),
                    dict(
                        trader_id=n.kernel.trader_id,
                        strategy_id=StrategyId("S-1"),
                        instrument_id=SIM,
                        client_order_id=ClientOrderId("O-1"),
                    ),
                )()
            )
        )


class RefusingPortfolio(SmallPortfolio):
    def process_fill(self, fill: Any, instrument: Any) -> list[Any]:
        raise ValueError("insufficient balance")


def test_portfolio_refusing_a_fill_is_reported_and_raised_and_the_order_keeps_the_fill() -> None:
    n, s = setup()
    n.execution.portfolio = RefusingPortfolio(n.cache)
    order = resting(s)
    with pytest.raises(ValueError, match="insufficient balance"):
        n.client.fill(order, Q("1.000"))
    assert order.filled_qty == Q("1.000")
    assert n.execution.portfolio_errors == 1
    assert n.errors[-1].kind is ExecutionErrorKind.PORTFOLIO_ERROR


@pytest.mark.parametrize("oms_type", [OmsType.NETTING, OmsType.HEDGING])
def test_the_real_portfolio_receives_fills_and_the_strategy_its_position_events(
    oms_type: OmsType,
) -> None:
    from zq.portfolio import Portfolio, PositionClosed, PositionOpened

    n = Node(oms_type=oms_type)
    portfolio = Portfolio(n.cache, {"SIM": oms_type})
    n.execution.portfolio = portfolio
    n.risk.portfolio = portfolio
    n.portfolio = portfolio  # type: ignore[assignment]
    n.start()
    s = n.add_strategy(Recorder())
    s.submit_order(s.order_factory.market(SIM, BUY, Q("1.000")))
    assert portfolio.net_position(SIM, s.id) == Decimal("1")
    [position] = n.cache.positions_open(strategy_id=s.id)
    s.close_position(position)
    assert portfolio.net_position(SIM, s.id) == 0
    events = [e for name, e in s.calls if name.startswith("on_position")]
    assert [type(e) for e in events] == [PositionOpened, PositionClosed]
    assert {e.position_id for e in events} == {position.id}


def test_the_same_client_order_id_is_never_submitted_twice() -> None:
    from zq.common.topics import ENDPOINT_RISK

    n, s = setup()
    order = resting(s)
    again = n.client.submitted[0]
    n.bus.send(ENDPOINT_RISK, again)
    assert len(n.client.submitted) == 1
    assert order.status is OrderStatus.ACCEPTED
    assert n.errors[-1].kind is ExecutionErrorKind.INVALID_TRANSITION


def test_a_disposed_strategy_no_longer_receives_order_events() -> None:
    n, s = setup()
    order = resting(s)
    n.kernel.stop()
    s.dispose()
    before = len(s.calls)
    n.client.fill(order, Q("1.000"))
    assert len(s.calls) == before


def test_a_portfolio_subclass_overriding_process_fill_is_called_after_the_plain_one() -> None:
    # The engine calls a plain Portfolio's compiled fill path directly and remembers its
    # class; a subclass that overrides process_fill, put in its place, is called instead.
    from zq.portfolio import Portfolio

    class CountingPortfolio(Portfolio):
        seen: list[Any]

        def process_fill(self, fill: Any, instrument: Any) -> list[Any]:
            self.seen.append(fill.trade_id)
            return super().process_fill(fill, instrument)

    n = Node()
    plain = Portfolio(n.cache, {"SIM": OmsType.NETTING})
    n.execution.portfolio = plain
    n.start()
    s = n.add_strategy(Recorder())
    s.submit_order(s.order_factory.market(SIM, BUY, Q("1.000")))
    assert plain.net_position(SIM, s.id) == Decimal("1")
    counting = CountingPortfolio(n.cache, {"SIM": OmsType.NETTING})
    counting.seen = []
    n.execution.portfolio = counting
    s.submit_order(s.order_factory.market(SIM, BUY, Q("2.000")))
    assert len(counting.seen) == 1
    assert counting.net_position(SIM, s.id) == Decimal("3")
    positions = [e for name, e in s.calls if name.startswith("on_position")]
    assert len(positions) == 2  # opened by the first fill, changed by the second


def test_netting_ids_forgotten_when_the_routes_change_are_found_again() -> None:
    # The engine keeps the latest netting pair's position id for its next fill; when the
    # routes change (register_client forgets the netting ids), a venue now HEDGING gives
    # the next order its own position.
    n, s = setup()
    s.submit_order(s.order_factory.market(SIM, BUY, Q("1.000")))
    s.submit_order(s.order_factory.market(SIM, BUY, Q("1.000")))
    assert [p.id for p in n.cache.positions_open(strategy_id=s.id)] == [
        "BTCUSDT.SIM-Recorder-001"
    ]
    n.client.oms_type = OmsType.HEDGING
    n.execution._forget_netting_ids()  # what register_client does
    third = s.order_factory.market(SIM, BUY, Q("1.000"))
    s.submit_order(third)
    assert [p.id for p in n.cache.positions_open(strategy_id=s.id)] == [
        "BTCUSDT.SIM-Recorder-001",
        f"BTCUSDT.SIM-Recorder-001-{third.client_order_id}",
    ]


def test_a_fill_without_position_id_is_applied_as_a_copy_with_the_netting_id() -> None:
    # The engine writes the position id into a copy of the venue's fill (in C): the copy
    # must equal what msgspec.structs.replace makes, and the venue's fill stay as it was.
    import msgspec

    n, s = setup(OmsType.NETTING)
    order = resting(s)
    sent = []
    n.client._send_event = sent.append  # type: ignore[method-assign]
    n.client.fill(order, Q("2.000"), trade_id="T-9")
    (fill,) = sent
    n.execution.process(fill)
    applied = order.events[-1]
    position_id = PositionId("BTCUSDT.SIM-Recorder-001")
    assert fill.position_id is None and applied is not fill
    assert type(applied) is type(fill)
    replaced = msgspec.structs.replace(fill, position_id=position_id)
    assert applied == replaced and repr(applied) == repr(replaced)
    assert hash(applied) == hash(replaced)
    assert applied.position_id == position_id


def test_handlers_subscribed_between_orders_get_the_events_until_unsubscribed() -> None:
    # The core publishes an order's and a position's events to the subscribers it resolved
    # last for the topic while nothing subscribed or unsubscribed since.
    from zq.common.topics import position_events
    from zq.portfolio import Portfolio

    n, s = setup()
    portfolio = n.execution.portfolio = Portfolio(n.cache)
    s.submit_order(s.order_factory.market(SIM, BUY, Q("1.000")))
    orders: list[Any] = []
    positions: list[Any] = []
    n.bus.subscribe(order_events(s.id), orders.append)
    n.bus.subscribe(position_events(s.id), positions.append)
    published = n.bus.published
    s.submit_order(s.order_factory.market(SIM, SELL, Q("2.000")))  # flips the position
    assert [type(e).__name__ for e in orders] == ["OrderSubmitted", "OrderAccepted", "OrderFilled"]
    assert [type(e).__name__ for e in positions] == ["PositionClosed", "PositionOpened"]
    assert n.bus.published - published == 5
    n.bus.unsubscribe(order_events(s.id), orders.append)
    n.bus.unsubscribe(position_events(s.id), positions.append)
    s.submit_order(s.order_factory.market(SIM, BUY, Q("2.000")))
    assert len(orders) == 3 and len(positions) == 2
    assert portfolio.net_position(SIM, s.id) == Decimal("1")


def test_an_event_for_the_latest_order_after_the_cache_was_reset_is_unknown() -> None:
    # The core finds the order the cache added or updated last without a look-up; a reset
    # cache has no orders, that one included.
    n, s = setup()
    order = resting(s)
    sent: list[Any] = []
    n.client._send_event = sent.append  # type: ignore[method-assign]
    n.client.fill(order, Q("1.000"), trade_id="T-1")
    n.cache.reset()
    n.execution.process(sent[0])
    assert n.execution.unknown_events == 1
    assert n.errors[-1].kind is ExecutionErrorKind.UNKNOWN_ORDER
    assert order.filled_qty == Q("0.000")
