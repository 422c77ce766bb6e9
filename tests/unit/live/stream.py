"""A scripted, deterministic stream of journal entries, as a live node would write it.

Orders come from zq's own :class:`OrderFactory` on a :class:`TestClock`; each follows a
scenario (accepted and filled in parts, canceled after a partial fill, modified, rejected,
left in flight...), interleaved with the others at random (seeded). Every event is applied to
its order (so the stream is valid), and each fill goes through a real :class:`Portfolio` with
a cash account, whose position events and account states follow the fill in the stream, in
the order the execution engine produces them.

Quantities are whole lots of 0.001 ETH at prices of 0.01 USDT and the commission is 0.1 %: every
amount is exact at USDT's and ETH's 8 decimal places, so a test can recompute balances by hand.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

import msgspec

from zq.cache import Cache
from zq.common.clock import TestClock
from zq.live.journal import MARKER_START, JournalEntry, JournalMarker
from zq.model.currency import Currency
from zq.model.enums import AssetClass, LiquiditySide, OrderSide
from zq.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderUpdated,
)
from zq.model.identifiers import (
    AccountId,
    InstrumentId,
    StrategyId,
    TradeId,
    TraderId,
    VenueOrderId,
)
from zq.model.instruments import CurrencyPair
from zq.model.orders import Order
from zq.portfolio import Portfolio
from zq.portfolio.account import CashAccount
from zq.strategy.order_factory import OrderFactory
from zq_core.fixed import Money, Price, Quantity

USDT = Currency.from_str("USDT")
ETH = Currency.from_str("ETH")
TRADER = TraderId("TRADER-001")
STRATEGY = StrategyId("MM-001")
ACCOUNT = AccountId("BINANCE-001")
T0 = 1_700_000_000_000_000_000
LOT = Decimal("0.001")
COMMISSION_RATE = Decimal("0.001")
OPENING_USDT = Decimal(1_000_000)
OPENING_ETH = Decimal(500)

ETHUSDT = CurrencyPair(
    id=InstrumentId("ETHUSDT.BINANCE"),
    raw_symbol="ETHUSDT",
    asset_class=AssetClass.CRYPTOCURRENCY,
    quote_currency=USDT,
    base_currency=ETH,
    price_increment=Price.from_str("0.01"),
    size_increment=Quantity.from_str("0.001"),
)

#: The steps each order goes through, one scenario per order (the last steps may never come
#: if the stream is cut: that is the point of the kill test).
SCENARIOS: tuple[tuple[str, ...], ...] = (
    ("submit", "accept", "fill_all"),
    ("submit", "accept", "fill_part", "fill_all"),
    ("submit", "fill_all"),  # the fill overtakes the acknowledgement
    ("submit", "reject"),
    ("submit", "accept", "pend_cancel", "cancel"),
    ("submit", "accept", "fill_part", "pend_cancel", "cancel"),
    ("submit", "accept", "pend_update", "update", "fill_part", "fill_all"),
    ("submit", "accept", "pend_update", "modify_reject"),
    ("submit", "accept", "pend_cancel", "fill_all"),  # filled while the cancel was in flight
    ("submit",),  # stays in flight: the venue never answered
    ("submit", "accept", "pend_cancel"),  # the cancel is never answered
)


def opening_account(ts_event: int = T0) -> CashAccount:
    """Return the account the stream starts with (1,000,000 USDT and 500 ETH)."""
    return CashAccount(
        ACCOUNT,
        balances={"USDT": Money(OPENING_USDT, USDT), "ETH": Money(OPENING_ETH, ETH)},
        ts_event=ts_event,
    )


class _Writer:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = TestClock(T0)
        self.factory = OrderFactory(TRADER, STRATEGY, self.clock)
        self.cache = Cache()
        self.portfolio = Portfolio(self.cache)
        self.account = opening_account()
        self.cache.add_instrument(ETHUSDT)
        self.cache.add_account(self.account)
        self.trades = 0
        self.out: list[JournalEntry] = [
            JournalMarker(name=MARKER_START, ts_event=T0, info={"seed": str(seed)}),
            ETHUSDT,
            self.account.last_state,
        ]

    def new_order(self) -> Order:
        rng = self.rng
        side = OrderSide.BUY if rng.random() < 0.5 else OrderSide.SELL
        quantity = Quantity(rng.randint(2, 1000) * LOT, 3)
        price = Price(Decimal(rng.randint(190_000, 210_000)) / 100, 2)
        order = self.factory.limit(ETHUSDT.id, side, quantity, price)
        self.out.append(order.init)
        return order

    def step(self, order: Order, step: str) -> None:
        now = self.clock.timestamp_ns()
        common = {
            "trader_id": order.trader_id,
            "strategy_id": order.strategy_id,
            "instrument_id": order.instrument_id,
            "client_order_id": order.client_order_id,
            "ts_event": now,
            "ts_init": now,
        }
        venue_id = VenueOrderId(f"V-{str(order.client_order_id).rpartition('-')[2]}")
        event: OrderEvent
        if step == "submit":
            event = OrderSubmitted(**common, account_id=ACCOUNT)
        elif step == "accept":
            event = OrderAccepted(**common, venue_order_id=venue_id, account_id=ACCOUNT)
        elif step == "reject":
            event = OrderRejected(**common, account_id=ACCOUNT, reason="insufficient balance")
        elif step == "pend_cancel":
            event = OrderPendingCancel(**common, venue_order_id=venue_id, account_id=ACCOUNT)
        elif step == "cancel":
            event = OrderCanceled(**common, venue_order_id=venue_id, account_id=ACCOUNT)
        elif step == "pend_update":
            event = OrderPendingUpdate(**common, venue_order_id=venue_id, account_id=ACCOUNT)
        elif step == "update":
            lots = int(order.quantity.as_decimal() / LOT) + self.rng.randint(1, 50)
            assert order.price is not None
            event = OrderUpdated(
                **common,
                quantity=Quantity(lots * LOT, 3),
                price=Price(order.price.as_decimal() + Decimal("0.05"), 2),
                venue_order_id=venue_id,
                account_id=ACCOUNT,
            )
        elif step == "modify_reject":
            event = OrderModifyRejected(
                **common, reason="price out of range", venue_order_id=venue_id, account_id=ACCOUNT
            )
        else:
            leaves = int(order.leaves_qty.as_decimal() / LOT)
            lots = leaves if step == "fill_all" else max(1, leaves // 2)
            self.fill(order, lots, venue_id, common)
            return
        order.apply(event)
        self.out.append(event)

    def fill(self, order: Order, lots: int, venue_id: VenueOrderId, common: dict[str, object]) -> None:
        assert order.price is not None
        self.trades += 1
        qty = Quantity(lots * LOT, 3)
        notional = qty.as_decimal() * order.price.as_decimal()
        fill = OrderFilled(
            **common,  # type: ignore[arg-type]
            venue_order_id=venue_id,
            account_id=ACCOUNT,
            trade_id=TradeId(f"T-{self.trades}"),
            order_side=order.side,
            order_type=order.order_type,
            last_qty=qty,
            last_px=order.price,
            commission=Money(notional * COMMISSION_RATE, USDT),
            liquidity_side=LiquiditySide.MAKER,
            position_id=None,
        )
        # The execution engine names the position before applying the fill; so does this.
        fill = msgspec.structs.replace(fill, position_id=self.portfolio.position_id_for(fill))
        order.apply(fill)
        self.out.append(fill)
        states = len(self.account.events)
        self.out.extend(self.portfolio.process_fill(fill, ETHUSDT))
        self.out.extend(self.account.events[states:])


def scripted_stream(seed: int, orders: int) -> list[JournalEntry]:
    """Return the entries a node would journal for ``orders`` orders (deterministic per seed)."""
    return list(iter_stream(seed, orders))


def iter_stream(seed: int, orders: int | None = None) -> Iterator[JournalEntry]:
    """Yield the entries of the stream as they are made; without ``orders``, endlessly."""
    writer = _Writer(seed)
    active: list[tuple[Order, list[str]]] = []
    made = 0
    rng = writer.rng

    def more() -> bool:
        return orders is None or made < orders

    while more() or active:
        yield from writer.out
        writer.out.clear()
        writer.clock.set_time(writer.clock.timestamp_ns() + rng.randint(1, 5_000_000))
        if more() and (len(active) < 3 or rng.random() < 0.3):
            active.append((writer.new_order(), list(rng.choice(SCENARIOS))))
            made += 1
            continue
        index = rng.randrange(len(active))
        order, steps = active[index]
        writer.step(order, steps.pop(0))
        if not steps:
            active.pop(index)
    yield from writer.out
