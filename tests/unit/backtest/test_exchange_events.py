"""SimulatedExchange: every field of every event it builds, against events built by keyword.

The exchange builds its events positionally (a fixed field order, for speed); each expected
event here is built with keywords from the test's own inputs, so a field in the wrong place
shows up as a difference.
"""

from __future__ import annotations

from decimal import Decimal

from tests.unit.backtest import BUY, INSTRUMENT_ID, SELL, USD, Venue1
from zq.model.enums import LiquiditySide, OrderType, TimeInForce
from zq.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderTriggered,
    OrderUpdated,
)
from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    StrategyId,
    TradeId,
    TraderId,
    VenueOrderId,
)
from zq_core.fixed import Money, Price, Quantity

ACCOUNT = AccountId("SIM-001")
TRADER = TraderId("TRADER-001")
STRATEGY = StrategyId("S-001")


def _ids(coid: str, ts: int) -> dict[str, object]:
    return {
        "trader_id": TRADER,
        "strategy_id": STRATEGY,
        "instrument_id": INSTRUMENT_ID,
        "client_order_id": ClientOrderId(coid),
        "ts_event": ts,
        "ts_init": ts,
    }


def test_limit_order_accepted_updated_and_canceled_carry_every_field() -> None:
    venue = Venue1()
    venue.submit("O-1", BUY, OrderType.LIMIT, 3, price="99.00", ts=10)
    venue.modify("O-1", quantity=2, price="98.50", ts=20)
    venue.cancel("O-1", ts=30)
    venue_id = VenueOrderId("SIM-1")  # the venue numbers its orders from 1
    assert venue.events == [
        OrderAccepted(**_ids("O-1", 10), venue_order_id=venue_id, account_id=ACCOUNT),
        OrderUpdated(
            **_ids("O-1", 20),
            quantity=Quantity.from_int(2),
            price=Price.from_str("98.50"),
            trigger_price=None,
            venue_order_id=venue_id,
            account_id=ACCOUNT,
        ),
        OrderCanceled(**_ids("O-1", 30), venue_order_id=venue_id, account_id=ACCOUNT),
    ]
    for event in venue.events:  # equal, and of the same field types
        assert type(event.trader_id) is TraderId and type(event.strategy_id) is StrategyId


def test_market_order_fill_carries_every_field() -> None:
    venue = Venue1()
    venue.delta(SELL, "100.00", 5, ts=1)
    venue.submit("O-1", BUY, OrderType.MARKET, 2, ts=10)
    accepted, filled = venue.events
    assert accepted == OrderAccepted(
        **_ids("O-1", 10), venue_order_id=VenueOrderId("SIM-1"), account_id=ACCOUNT
    )
    # Taker fee 0.05 % of 2 x 100.00 = 0.10 USD.
    assert filled == OrderFilled(
        **_ids("O-1", 10),
        venue_order_id=VenueOrderId("SIM-1"),
        account_id=ACCOUNT,
        trade_id=TradeId("SIM-1"),
        order_side=BUY,
        order_type=OrderType.MARKET,
        last_qty=Quantity.from_int(2),
        last_px=Price.from_str("100.00"),
        commission=Money(Decimal("0.10"), USD),
        liquidity_side=LiquiditySide.TAKER,
        position_id=None,
        info=None,
    )


def test_stop_trigger_and_gtd_expiry_carry_every_field() -> None:
    venue = Venue1()
    venue.delta(SELL, "100.00", 5, ts=1)
    venue.delta(BUY, "99.00", 5, ts=1)
    venue.submit("S-1", BUY, OrderType.STOP_LIMIT, 1, price="90.00", trigger="100.00", ts=2)
    venue.submit(
        "G-1",
        BUY,
        OrderType.LIMIT,
        1,
        price="95.00",
        ts=3,
        time_in_force=TimeInForce.GTD,
        expire_time_ns=50,
    )
    venue.delta(SELL, "101.00", 1, ts=40)  # no trigger yet: the ask is still 100.00
    venue.trade("100.00", 1, ts=45)  # touches the trigger
    venue.delta(SELL, "101.00", 2, ts=60)  # past the expiry
    triggered = [e for e in venue.events if isinstance(e, OrderTriggered)]
    expired = [e for e in venue.events if isinstance(e, OrderExpired)]
    assert len(triggered) == 1 and len(expired) == 1
    assert triggered[0] == OrderTriggered(
        **_ids("S-1", triggered[0].ts_event),
        venue_order_id=VenueOrderId("SIM-1"),
        account_id=ACCOUNT,
    )
    assert expired[0] == OrderExpired(
        **_ids("G-1", 50), venue_order_id=VenueOrderId("SIM-2"), account_id=ACCOUNT
    )


def test_refusals_carry_every_field() -> None:
    venue = Venue1()
    venue.submit("O-1", BUY, OrderType.LIMIT, 1, price="99.00", ts=1)
    venue.submit("O-1", BUY, OrderType.LIMIT, 1, price="99.00", ts=2)  # duplicate id
    venue.modify("O-9", price="98.00", ts=3)  # unknown order
    venue.cancel("O-9", ts=4)
    assert venue.events[1:] == [
        OrderRejected(
            **_ids("O-1", 2), account_id=ACCOUNT, reason="duplicate client order id O-1"
        ),
        OrderModifyRejected(**_ids("O-9", 3), reason="unknown order O-9"),
        OrderCancelRejected(**_ids("O-9", 4), reason="unknown order O-9"),
    ]


def test_venue_order_ids_and_trade_ids_count_up_per_venue() -> None:
    # Written in C for an ASCII venue name: the same text and types as f"{venue}-{n}".
    venue = Venue1()
    venue.delta(SELL, "100.00", 50, ts=1)
    for n in range(1, 13):
        venue.submit(f"O-{n}", BUY, OrderType.MARKET, 1, ts=10 + n)
    accepted = [event for event in venue.events if isinstance(event, OrderAccepted)]
    filled = [event for event in venue.events if isinstance(event, OrderFilled)]
    assert [event.venue_order_id for event in accepted] == [f"SIM-{n}" for n in range(1, 13)]
    assert [event.trade_id for event in filled] == [f"SIM-{n}" for n in range(1, 13)]
    assert {type(event.venue_order_id) for event in accepted + filled} == {VenueOrderId}
    assert {type(event.trade_id) for event in filled} == {TradeId}
