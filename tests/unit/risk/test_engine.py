"""The RiskEngine on a real backtest node: each check denies with its reason and passes at
its boundary; trading states; the throttle on the TestClock; limits changed while running."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from tests.unit.execution.harness import SIM, Node, P, Q, Recorder, sim_instrument
from zq.common.topics import TOPIC_TRADING_STATE
from zq.model.data import QuoteTick, TradeTick
from zq.model.enums import AggressorSide, OrderSide, OrderStatus
from zq.model.identifiers import InstrumentId, TradeId
from zq.model.orders import Order
from zq.risk import RiskLimits, TradingState

BUY, SELL = OrderSide.BUY, OrderSide.SELL
SECOND = 1_000_000_000


def node(**limits: Any) -> tuple[Node, Recorder]:
    n = Node(RiskLimits(**limits)).start()
    return n, n.add_strategy(Recorder())  # type: ignore[return-value]


def limit(s: Recorder, side: OrderSide, qty: str, price: str, **kw: Any) -> Order:
    order = s.order_factory.limit(SIM, side, Q(qty), P(price), **kw)
    s.submit_order(order)
    return order


def market(s: Recorder, side: OrderSide, qty: str, **kw: Any) -> Order:
    order = s.order_factory.market(SIM, side, Q(qty), **kw)
    s.submit_order(order)
    return order


def quote(n: Node, bid: str, ask: str) -> None:
    n.cache.add_quote(QuoteTick(SIM, P(bid), P(ask), Q("1.000"), Q("1.000"), 0, 0))


def assert_denied(s: Recorder, order: Order, reason_part: str) -> None:
    assert order.status is OrderStatus.DENIED
    assert s.names()[-1] == "on_order_denied"
    assert reason_part in s.reasons()[-1], s.reasons()[-1]
    assert s.cache.is_order_closed(order.client_order_id)


def assert_passed(order: Order) -> None:
    assert order.status is not OrderStatus.DENIED, order


def test_order_for_an_instrument_not_in_the_cache_is_denied() -> None:
    n, s = node()
    order = s.order_factory.market(InstrumentId("ETHUSDT.SIM"), BUY, Q("1.000"))
    s.submit_order(order)
    assert_denied(s, order, "instrument ETHUSDT.SIM is not in the cache")
    assert n.risk.denied_count == 1


def test_quantity_off_the_size_grid_is_denied() -> None:
    _n, s = node()
    assert_denied(s, limit(s, BUY, "1.0005", "100.00"), "not on BTCUSDT.SIM's size grid")


def test_price_off_the_tick_grid_is_denied() -> None:
    _n, s = node()
    assert_denied(s, limit(s, BUY, "1.000", "100.005"), "not on BTCUSDT.SIM's tick grid")


def test_quantity_below_the_instruments_min_quantity_is_denied_and_at_it_passes() -> None:
    n, s = node()
    n.cache.add_instrument(sim_instrument(min_quantity=Q("0.010"), min_notional=None))
    assert_denied(s, limit(s, BUY, "0.009", "100.00"), "below BTCUSDT.SIM's min_quantity 0.010")
    assert_passed(limit(s, BUY, "0.010", "100.00"))


def test_quantity_above_the_instruments_max_quantity_is_denied_and_at_it_passes() -> None:
    _n, s = node()
    assert_denied(s, limit(s, BUY, "100.001", "100.00"), "above BTCUSDT.SIM's max_quantity 100")
    assert_passed(limit(s, BUY, "100.000", "100.00"))


def test_price_outside_the_instruments_price_limits_is_denied_and_at_them_passes() -> None:
    _n, s = node()
    assert_denied(s, limit(s, BUY, "1.000", "0.99"), "below BTCUSDT.SIM's min_price 1.00")
    assert_denied(s, limit(s, SELL, "1.000", "1000000.01"), "above BTCUSDT.SIM's max_price")
    assert_passed(limit(s, BUY, "5.000", "1.00"))
    assert_passed(limit(s, SELL, "1.000", "1000000.00"))


def test_notional_below_the_instruments_min_notional_is_denied_and_at_it_passes() -> None:
    _n, s = node()
    assert_denied(s, limit(s, BUY, "0.049", "100.00"), "notional 4.90000000 USDT is below")
    assert_passed(limit(s, BUY, "0.050", "100.00"))


def test_order_quantity_above_max_order_quantity_is_denied_and_at_it_passes() -> None:
    _n, s = node(max_order_quantity={SIM: Decimal("2")})
    assert_denied(s, limit(s, BUY, "2.001", "100.00"), "exceeds max_order_quantity 2")
    assert_passed(limit(s, BUY, "2.000", "100.00"))


def test_order_notional_above_max_notional_is_denied_and_at_it_passes() -> None:
    _n, s = node(max_notional_per_order={SIM: Decimal("1000")})
    assert_denied(
        s,
        limit(s, BUY, "10.001", "100.00"),
        "notional 1000.10000000 USDT exceeds max_notional_per_order 1000",
    )
    assert_passed(limit(s, BUY, "10.000", "100.00"))


def test_market_order_is_valued_at_the_quote_and_denied_without_any_price() -> None:
    n, s = node(max_notional_per_order={SIM: Decimal("1000")})
    assert_denied(s, market(s, BUY, "1.000"), "cannot value the MARKET order")
    quote(n, "99.00", "101.00")
    assert_denied(s, market(s, BUY, "9.901"), "exceeds max_notional_per_order")
    assert_passed(market(s, BUY, "9.900"))  # 9.9 × 101 = 999.90


def test_position_after_the_fill_above_max_position_is_denied_and_at_it_passes() -> None:
    _n, s = node(max_position={SIM: Decimal("3")})
    assert_passed(market(s, BUY, "2.000"))  # filled: net +2
    assert_denied(s, market(s, BUY, "1.001"), "position after fill 3.001 exceeds max_position 3")
    assert_passed(market(s, BUY, "1.000"))  # net +3
    assert_passed(market(s, SELL, "6.000"))  # net -3


def test_max_position_counts_open_orders_on_the_same_side() -> None:
    n, s = node(max_position={SIM: Decimal("3")})
    assert_passed(limit(s, BUY, "2.000", "100.00"))  # accepted, resting
    denied = limit(s, BUY, "1.500", "100.00")
    assert_denied(s, denied, "(with 2.000 on open orders) exceeds max_position 3")
    n.risk.update_limits(
        RiskLimits(max_position={SIM: Decimal("3")}, position_includes_open_orders=False)
    )
    assert_passed(limit(s, BUY, "1.500", "100.00"))


def test_price_outside_the_band_around_the_last_price_is_denied_and_at_its_edge_passes() -> None:
    n, s = node(max_price_deviation=Decimal("0.05"))
    assert_passed(limit(s, BUY, "1.000", "200.00"))  # no reference price yet: not checked
    n.cache.add_trade(
        TradeTick(SIM, P("100.00"), Q("1.000"), AggressorSide.BUYER, TradeId("X"), 0, 0)
    )
    assert_denied(s, limit(s, BUY, "1.000", "105.01"), "beyond max_price_deviation 5.0000%")
    assert_denied(s, limit(s, SELL, "1.000", "94.99"), "from the reference price 100.00")
    assert_passed(limit(s, BUY, "1.000", "105.00"))
    assert_passed(limit(s, SELL, "1.000", "95.00"))


def test_price_band_uses_the_quote_mid_when_there_is_a_quote() -> None:
    n, s = node(max_price_deviation=Decimal("0.01"))
    quote(n, "199.00", "201.00")
    assert_passed(limit(s, BUY, "1.000", "202.00"))
    assert_denied(s, limit(s, BUY, "1.000", "202.01"), "reference price 200")


def test_stop_trigger_price_is_checked_against_the_band() -> None:
    n, s = node(max_price_deviation=Decimal("0.05"))
    quote(n, "99.00", "101.00")
    order = s.order_factory.stop_market(SIM, BUY, Q("1.000"), P("110.00"))
    s.submit_order(order)
    assert_denied(s, order, "trigger_price 110.00")


def test_reduce_only_order_that_would_increase_the_position_is_denied() -> None:
    n, s = node()
    assert_denied(
        s,
        market(s, SELL, "1.000", reduce_only=True),
        "reduce-only SELL 1.000 would increase the net position 0",
    )
    market(s, BUY, "2.000")
    assert_denied(s, market(s, BUY, "1.000", reduce_only=True), "would increase the net position 2")
    assert_denied(s, market(s, SELL, "2.001", reduce_only=True), "reduce-only")
    assert_passed(market(s, SELL, "2.000", reduce_only=True))
    assert n.portfolio.net_position(SIM) == 0


def test_when_trading_is_halted_every_order_is_denied_but_cancels_pass() -> None:
    n, s = node()
    resting = limit(s, BUY, "1.000", "100.00")
    changes: list[Any] = []
    n.bus.subscribe(TOPIC_TRADING_STATE, changes.append)
    n.risk.set_trading_state(TradingState.HALTED, "emergency stop")
    assert [(c.previous, c.state, c.reason) for c in changes] == [
        (TradingState.ACTIVE, TradingState.HALTED, "emergency stop")
    ]
    assert_denied(s, market(s, BUY, "1.000"), "trading is HALTED")
    s.modify_order(resting, price=P("99.00"))
    assert "trading is HALTED: no modify passes" in s.reasons()[-1]
    assert resting.price == P("100.00")
    s.cancel_order(resting)
    assert resting.status is OrderStatus.CANCELED


def test_when_trading_is_reducing_only_orders_that_reduce_the_position_pass() -> None:
    n, s = node()
    market(s, BUY, "2.000")
    n.risk.set_trading_state(TradingState.REDUCING)
    assert_denied(
        s,
        market(s, BUY, "1.000"),
        "trading is REDUCING: BUY 1.000 would not reduce the net position 2",
    )
    assert_denied(s, market(s, SELL, "3.000"), "would not reduce")  # would flip
    assert_passed(market(s, SELL, "1.500"))
    n.risk.set_trading_state(TradingState.ACTIVE)
    assert_passed(market(s, BUY, "1.000"))


def test_throttle_denies_orders_beyond_the_rate_and_lets_them_through_in_the_next_window() -> None:
    n, s = node(max_orders_per_interval=2, throttle_interval_ns=SECOND)
    assert_passed(limit(s, BUY, "1.000", "100.00"))
    n.clock.advance_time(SECOND // 2)
    assert_passed(limit(s, BUY, "1.000", "100.00"))
    assert_denied(
        s, limit(s, BUY, "1.000", "100.00"), "order rate exceeded: 2 orders per 1000000000 ns"
    )
    n.clock.advance_time(SECOND)  # the first order leaves the window
    assert_passed(limit(s, BUY, "1.000", "100.00"))
    assert_denied(s, limit(s, BUY, "1.000", "100.00"), "order rate exceeded")


def test_denied_orders_do_not_count_against_the_throttle() -> None:
    _n, s = node(max_orders_per_interval=1)
    assert_denied(s, limit(s, BUY, "1.000", "0.50"), "min_price")
    assert_passed(limit(s, BUY, "1.000", "100.00"))


def test_limits_can_be_changed_while_running() -> None:
    n, s = node(max_order_quantity={SIM: Decimal("1")})
    assert_denied(s, limit(s, BUY, "2.000", "100.00"), "max_order_quantity 1")
    n.risk.update_limits(RiskLimits(max_order_quantity={SIM: Decimal("5")}))
    assert_passed(limit(s, BUY, "2.000", "100.00"))
    with pytest.raises(TypeError, match="RiskLimits"):
        n.risk.update_limits({"max_order_quantity": {}})  # type: ignore[arg-type]


def test_modify_rechecks_price_and_quantity() -> None:
    _n, s = node(max_order_quantity={SIM: Decimal("2")})
    order = limit(s, BUY, "1.000", "100.00")
    s.modify_order(order, quantity=Q("3.000"))
    assert s.names()[-1] == "on_order_modify_rejected"
    assert "exceeds max_order_quantity 2" in s.reasons()[-1]
    s.modify_order(order, price=P("100.001"))
    assert "tick grid" in s.reasons()[-1]
    s.modify_order(order, quantity=Q("2.000"), price=P("99.00"))
    assert (order.quantity, order.price, order.status) == (
        Q("2.000"),
        P("99.00"),
        OrderStatus.ACCEPTED,
    )


def test_risk_limits_are_validated_and_decode_from_builtins() -> None:
    limits = msgspec.convert(
        {"max_position": {"BTCUSDT.SIM": "3"}, "max_price_deviation": "0.05"},
        RiskLimits,
        strict=False,
    )
    assert limits.max_position == {"BTCUSDT.SIM": Decimal("3")}
    with pytest.raises(ValueError, match="max_orders_per_interval must be positive"):
        RiskLimits(max_orders_per_interval=0)
    with pytest.raises(ValueError, match="must not be negative"):
        RiskLimits(max_position={"BTCUSDT.SIM": Decimal("-1")})
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"max_positoin": {}}, RiskLimits)


def test_modify_that_would_breach_max_position_is_rejected_and_within_it_passes() -> None:
    _n, s = node(max_position={SIM: Decimal("3")})
    order = limit(s, BUY, "1.000", "100.00")
    limit(s, BUY, "1.000", "100.00")
    s.modify_order(order, quantity=Q("2.001"))
    assert (
        "position after fill 3.001 (with 1.000 on open orders) exceeds max_position 3"
        in s.reasons()[-1]
    )
    s.modify_order(order, quantity=Q("2.000"))
    assert order.quantity == Q("2.000")
