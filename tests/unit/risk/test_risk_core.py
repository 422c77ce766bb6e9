"""The compiled RiskCore against the RiskEngine's Python checks (the reference).

``RiskCore.submit_passes`` and ``modify_passes`` may answer True only for a command the Python
checks pass, and must answer True for every such command in the cases they cover (ACTIVE,
not reduce-only, no position limit, no price band, a notional that is quantity x price at the
settlement currency's precision). Hypothesis draws the instruments, limits, orders and quotes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.execution.harness import SIM, USDT, Node, P, Q, Recorder, sim_instrument
from zq.common.topics import ENDPOINT_RISK
from zq.model.commands import SubmitOrder
from zq.model.data import QuoteTick
from zq.model.enums import OrderSide, OrderStatus
from zq.model.orders import Order
from zq.risk import RiskLimits, TradingState
from zq.risk.engine import _Denied
from zq_core.fixed import Money, Price, Quantity

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def python_passes(check: Any) -> bool:
    """Whether the reference check passes (it raises _Denied with the reason otherwise)."""
    try:
        check()
    except _Denied:
        return False
    return True


optional = st.none() | st.just(True)
instruments = st.fixed_dictionaries(
    {
        "size_increment": st.sampled_from(["0.001", "0.005", "1", "0.00001", "0.250"]),
        "price_increment": st.sampled_from(["0.01", "0.05", "0.5", "1", "0.0001"]),
        "min_quantity": st.none() | st.sampled_from(["0.001", "0.010", "0.5", "2"]),
        "max_quantity": st.none() | st.sampled_from(["1", "100", "0.75"]),
        "min_price": st.none() | st.sampled_from(["1.00", "0.5", "150"]),
        "max_price": st.none() | st.sampled_from(["1000000.00", "200", "99.5"]),
        "min_notional": st.none() | st.sampled_from(["5.00", "0.10", "100"]),
        "max_notional": st.none() | st.sampled_from(["10000", "50.5"]),
        "multiplier": st.sampled_from(["1", "1", "1", "10", "0.5"]),
    }
)
limits = st.fixed_dictionaries(
    {
        "max_order_quantity": st.none() | st.sampled_from(["2", "0.5", "1.0005", "0"]),
        "max_notional_per_order": st.none() | st.sampled_from(["1000", "25.125", "0"]),
    }
)
# Bounded so that every notional fits Money's int64 at USDT's 8 decimals (<= 5,000 x 50,000).
quantities = st.builds(
    Quantity.from_raw, st.integers(min_value=1, max_value=5_000_000), st.integers(3, 9)
)
prices = st.builds(Price.from_raw, st.integers(min_value=0, max_value=5_000_000), st.integers(2, 9))
negative_prices = st.builds(Price.from_raw, st.integers(min_value=-500, max_value=-1), st.integers(0, 9))


def build_instrument(spec: dict[str, Any]) -> Any:
    def quantity(text: str | None) -> Quantity | None:
        return None if text is None else Quantity(Decimal(text), len(text.partition(".")[2]))

    def price(text: str | None) -> Price | None:
        return None if text is None else Price(Decimal(text), len(text.partition(".")[2]))

    def money(text: str | None) -> Money | None:
        return None if text is None else Money(text, USDT)

    min_quantity, max_quantity = quantity(spec["min_quantity"]), quantity(spec["max_quantity"])
    if min_quantity is not None and max_quantity is not None and min_quantity > max_quantity:
        max_quantity = None
    min_price, max_price = price(spec["min_price"]), price(spec["max_price"])
    if min_price is not None and max_price is not None and min_price > max_price:
        max_price = None
    return sim_instrument(
        size_increment=quantity(spec["size_increment"]),
        price_increment=price(spec["price_increment"]),
        min_quantity=min_quantity,
        max_quantity=max_quantity,
        min_price=min_price,
        max_price=max_price,
        min_notional=money(spec["min_notional"]),
        max_notional=money(spec["max_notional"]),
        multiplier=quantity(spec["multiplier"]),
    )


def build_limits(spec: dict[str, Any]) -> RiskLimits:
    return RiskLimits(
        **{
            name: {SIM: Decimal(value)}
            for name, value in spec.items()
            if value is not None
        }
    )


def on_grid(value: Any, increment: Any, steps: int | None) -> Any:
    """``value``, or when ``steps`` is drawn, that many increments (on the grid: the
    cases the other checks then decide)."""
    if steps is None:
        return value
    return type(increment).from_raw(increment.raw * steps, increment.precision)


def new_order(s: Recorder, kind: str, side: OrderSide, quantity: Quantity, price: Price) -> Order:
    factory = s.order_factory
    if kind == "market":
        return factory.market(SIM, side, quantity)
    if kind == "limit":
        return factory.limit(SIM, side, quantity, price)
    if kind == "stop_market":
        return factory.stop_market(SIM, side, quantity, price)
    return factory.stop_limit(SIM, side, quantity, price, price)


@settings(max_examples=400, deadline=None)
@given(
    instrument_spec=instruments,
    limits_spec=limits,
    kind=st.sampled_from(["market", "limit", "stop_market", "stop_limit"]),
    side=st.sampled_from([BUY, SELL]),
    quantity=quantities,
    price=prices,
    quantity_steps=st.none() | st.integers(min_value=1, max_value=5_000),
    price_steps=st.none() | st.integers(min_value=1, max_value=300_000),
    with_quote=st.booleans(),
)
def test_submit_passes_exactly_when_the_python_checks_pass(
    instrument_spec: dict[str, Any],
    limits_spec: dict[str, Any],
    kind: str,
    side: OrderSide,
    quantity: Quantity,
    price: Price,
    quantity_steps: int | None,
    price_steps: int | None,
    with_quote: bool,
) -> None:
    instrument = build_instrument(instrument_spec)
    quantity = on_grid(quantity, instrument.size_increment, quantity_steps)
    price = on_grid(price, instrument.price_increment, price_steps)
    n = Node(build_limits(limits_spec), instrument=instrument).start()
    s = n.add_strategy(Recorder())
    if with_quote:
        n.cache.add_quote(QuoteTick(SIM, P("99.50"), P("100.50"), Q("1.000"), Q("1.000"), 0, 0))
    order = new_order(s, kind, side, quantity, price)  # type: ignore[arg-type]
    core_passes = n.risk._core.submit_passes(order)
    reference = python_passes(lambda: n.risk._check_submit(order))
    if core_passes:
        assert reference, order
    # Covered: the notional is quantity x price, and valued when anything bounds it.
    notional_bounded = (
        instrument.min_notional is not None
        or instrument.max_notional is not None
        or limits_spec["max_notional_per_order"] is not None
    )
    valued = kind != "market" or with_quote
    covered = instrument.multiplier == Q("1") and (not notional_bounded or valued)
    if reference and covered:
        assert core_passes, order


@settings(max_examples=300, deadline=None)
@given(
    instrument_spec=instruments,
    limits_spec=limits,
    quantity=st.none() | quantities,
    price=st.none() | prices | negative_prices,
    trigger_price=st.none() | prices,
    quantity_steps=st.none() | st.integers(min_value=1, max_value=5_000),
)
def test_modify_passes_exactly_when_the_python_checks_pass(
    instrument_spec: dict[str, Any],
    limits_spec: dict[str, Any],
    quantity: Quantity | None,
    price: Price | None,
    trigger_price: Price | None,
    quantity_steps: int | None,
) -> None:
    instrument = build_instrument(instrument_spec)
    if quantity is not None:
        quantity = on_grid(quantity, instrument.size_increment, quantity_steps)
    n = Node(build_limits(limits_spec), instrument=instrument).start()
    s = n.add_strategy(Recorder())
    order = s.order_factory.limit(SIM, BUY, Q("1"), P("100"))
    risk = n.risk
    core_passes = risk._core.modify_passes(order, quantity, price, trigger_price)

    def reference() -> None:  # the checks of RiskEngine._handle_modify
        instrument = risk._instrument(order.instrument_id)
        if quantity is not None:
            risk._check_quantity(instrument, quantity)
            risk._check_order_quantity_limit(instrument, quantity)
        for value, name in ((price, "price"), (trigger_price, "trigger_price")):
            if value is not None:
                risk._check_price(instrument, value, name)

    assert core_passes == python_passes(reference)


def test_a_replaced_instrument_is_read_again() -> None:
    n = Node().start()
    s = n.add_strategy(Recorder())
    first = s.order_factory.limit(SIM, BUY, Q("0.100"), P("100.00"))
    s.submit_order(first)
    assert first.status is not OrderStatus.DENIED
    n.cache.add_instrument(sim_instrument(min_quantity=Q("0.5")))
    second = s.order_factory.limit(SIM, BUY, Q("0.100"), P("100.00"))
    s.submit_order(second)
    assert second.status is OrderStatus.DENIED
    assert "below BTCUSDT.SIM's min_quantity 0.5" in s.reasons()[-1]


def test_core_leaves_every_order_to_the_python_checks_unless_trading_is_active() -> None:
    n = Node().start()
    s = n.add_strategy(Recorder())
    order = s.order_factory.limit(SIM, BUY, Q("0.100"), P("100.00"))
    core = n.risk._core
    assert core.submit_passes(order)
    n.risk.set_trading_state(TradingState.REDUCING)
    assert not core.submit_passes(order)
    assert core.modify_passes(order, Q("0.200"), None, None)  # REDUCING lets modifies through
    n.risk.set_trading_state(TradingState.HALTED)
    assert not core.modify_passes(order, Q("0.200"), None, None)
    n.risk.stop()
    n.risk.reset()
    assert n.risk.trading_state is TradingState.ACTIVE
    assert core.submit_passes(order)
    reduce_only = s.order_factory.market(SIM, SELL, Q("0.100"), reduce_only=True)
    assert not core.submit_passes(reduce_only)


def test_core_leaves_position_limits_and_price_bands_to_the_python_checks() -> None:
    n = Node().start()
    s = n.add_strategy(Recorder())
    order = s.order_factory.limit(SIM, BUY, Q("0.100"), P("100.00"))
    core = n.risk._core
    n.risk.update_limits(RiskLimits(max_position={SIM: Decimal("10")}))
    assert not core.submit_passes(order)
    n.risk.update_limits(RiskLimits(max_price_deviation=Decimal("0.05")))
    assert not core.submit_passes(order)
    n.cache.add_quote(QuoteTick(SIM, P("99.50"), P("100.50"), Q("1.000"), Q("1.000"), 0, 0))
    assert core.submit_passes(s.order_factory.market(SIM, BUY, Q("0.100")))  # no price: no band
    n.risk.update_limits(RiskLimits(bypass=True))
    assert core.submit_passes(s.order_factory.limit(SIM, BUY, Q("0.0001"), P("100.005")))


def test_core_passes_a_submit_of_a_cached_order_added_before_another() -> None:
    # The order the cache added last is found without a look-up; any other is looked up.
    n = Node().start()
    s = n.add_strategy(Recorder())
    first = s.order_factory.limit(SIM, BUY, Q("0.100"), P("100.00"))
    second = s.order_factory.limit(SIM, BUY, Q("0.200"), P("99.00"))
    n.cache.add_order(first)
    n.cache.add_order(second)
    core = n.risk._core
    for order in (first, second):
        passed = core.passed_count
        n.bus.send(
            ENDPOINT_RISK,
            SubmitOrder(n.kernel.trader_id, s.id, SIM, n.clock.timestamp_ns(), order.init, None),
        )
        assert core.passed_count == passed + 1
        assert order.status is OrderStatus.ACCEPTED
