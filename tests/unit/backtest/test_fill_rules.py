"""The simulated exchange's fill rules, one per test, against hand-computed cases."""

from __future__ import annotations

from decimal import Decimal

from tests.unit.backtest import ASK, BID, BUY, SELL, USD, Venue1
from zq.backtest import FillModel, LatencyModel, ProbabilisticQueueModel
from zq.model.enums import AggressorSide, BookAction, BookType, OrderType, TimeInForce, TriggerType
from zq.model.events import OrderFilled
from zq_core.fixed import Money

MARKET = OrderType.MARKET
LIMIT = OrderType.LIMIT


def three_ask_levels() -> Venue1:
    """Asks 100.01 x 5, 100.02 x 5, 100.03 x 5; bid 99.99 x 7."""
    venue = Venue1()
    venue.delta(ASK, "100.01", 5)
    venue.delta(ASK, "100.02", 5)
    venue.delta(ASK, "100.03", 5)
    venue.delta(BID, "99.99", 7)
    return venue


def test_market_order_walks_three_levels_at_their_prices() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, MARKET, 12, ts=1)
    # 12 = 5 @ 100.01 + 5 @ 100.02 + 2 @ 100.03
    assert venue.fills("O-1") == [
        ("5", "100.01", "TAKER"),
        ("5", "100.02", "TAKER"),
        ("2", "100.03", "TAKER"),
    ]
    # avg = (500.05 + 500.10 + 200.06) / 12 = 1200.21 / 12 = 100.0175
    fills = [event for event in venue.events if isinstance(event, OrderFilled)]
    notional = sum(event.last_qty.as_decimal() * event.last_px.as_decimal() for event in fills)
    assert notional / 12 == Decimal("100.0175")


def test_market_order_larger_than_the_book_cancels_the_rest() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, MARKET, 20, ts=1)
    # 15 on the book, the other 5 have nothing to fill against.
    assert [fill[0] for fill in venue.fills("O-1")] == ["5", "5", "5"]
    assert venue.kinds("O-1")[-1] == "OrderCanceled"


def test_our_fills_do_not_take_the_same_displayed_size_twice() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, MARKET, 4, ts=1)
    venue.submit("O-2", BUY, MARKET, 4, ts=2)
    # O-1 takes 4 of the 5 at 100.01; O-2 finds 1 left there, then 3 at 100.02.
    assert venue.fills("O-2") == [("1", "100.01", "TAKER"), ("3", "100.02", "TAKER")]


def test_an_update_of_a_level_restores_its_displayed_size() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, MARKET, 5, ts=1)
    venue.delta(ASK, "100.01", 5, ts=2)  # the venue says 100.01 shows 5 again
    venue.submit("O-2", BUY, MARKET, 5, ts=3)
    assert venue.fills("O-2") == [("5", "100.01", "TAKER")]


def test_limit_order_crossing_partially_fills_then_rests_and_fills_as_maker() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, LIMIT, 8, price="100.01", ts=1)
    # 5 cross at 100.01; 100.02 is above the limit, so 3 rest at 100.01.
    assert venue.fills("O-1") == [("5", "100.01", "TAKER")]
    assert venue.kinds("O-1") == ["OrderAccepted", "OrderFilled"]
    venue.delta(ASK, "100.01", 10, ts=2)  # fresh size at our price meets the resting 3
    assert venue.fills("O-1")[1:] == [("3", "100.01", "MAKER")]


def test_ioc_remainder_is_canceled() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, LIMIT, 8, price="100.01", ts=1, time_in_force=TimeInForce.IOC)
    # 5 fill at 100.01; the other 3 do not rest.
    assert venue.fills("O-1") == [("5", "100.01", "TAKER")]
    assert venue.kinds("O-1") == ["OrderAccepted", "OrderFilled", "OrderCanceled"]


def test_fok_that_cannot_fill_in_full_is_canceled_without_fills() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, LIMIT, 12, price="100.02", ts=1, time_in_force=TimeInForce.FOK)
    # within 100.02 there are 5 + 5 = 10 < 12
    assert venue.kinds("O-1") == ["OrderAccepted", "OrderCanceled"]


def test_fok_that_can_fill_in_full_fills() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, LIMIT, 10, price="100.02", ts=1, time_in_force=TimeInForce.FOK)
    assert venue.fills("O-1") == [("5", "100.01", "TAKER"), ("5", "100.02", "TAKER")]


def test_post_only_order_that_would_take_is_rejected() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, LIMIT, 1, price="100.01", ts=1, post_only=True)
    venue.submit("O-2", BUY, LIMIT, 1, price="100.00", ts=1, post_only=True)
    assert venue.kinds("O-1") == ["OrderRejected"]
    assert venue.kinds("O-2") == ["OrderAccepted"]


def test_stop_market_buy_triggers_when_the_ask_reaches_the_trigger() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, OrderType.STOP_MARKET, 2, trigger="100.05", ts=1)
    venue.delta(ASK, "100.01", 0, ts=2)
    venue.delta(ASK, "100.02", 0, ts=3)
    venue.delta(ASK, "100.03", 0, ts=4)
    venue.delta(ASK, "100.04", 5, ts=5)  # 100.04 < 100.05: not yet
    assert venue.kinds("O-1") == ["OrderAccepted"]
    venue.delta(ASK, "100.04", 0, ts=6)
    venue.delta(ASK, "100.06", 5, ts=7)  # 100.06 >= 100.05: triggers, fills at the ask
    assert venue.fills("O-1") == [("2", "100.06", "TAKER")]


def test_stop_with_last_price_trigger_fires_on_a_trade() -> None:
    venue = three_ask_levels()
    venue.submit(
        "O-1",
        SELL,
        OrderType.STOP_MARKET,
        2,
        trigger="99.95",
        ts=1,
        trigger_type=TriggerType.LAST_PRICE,
    )
    venue.trade("99.96", 1, ts=2)
    assert venue.fills("O-1") == []
    venue.trade("99.95", 1, ts=3)  # last 99.95 <= 99.95: sell 2 into the bid 99.99
    assert venue.fills("O-1") == [("2", "99.99", "TAKER")]


def test_stop_limit_triggered_then_rests_at_its_limit() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, OrderType.STOP_LIMIT, 4, price="100.00", trigger="100.00", ts=1)
    # The ask 100.01 >= trigger 100.00 fires it at once; the limit 100.00 does not cross
    # the ask 100.01, so it rests.
    assert venue.kinds("O-1") == ["OrderAccepted", "OrderTriggered"]
    venue.delta(ASK, "100.00", 3, ts=2)  # an ask at our limit: 3 fill as maker
    assert venue.fills("O-1") == [("3", "100.00", "MAKER")]


def test_gtd_order_expires_at_its_expire_time() -> None:
    venue = three_ask_levels()
    venue.submit(
        "O-1",
        BUY,
        LIMIT,
        1,
        price="99.00",
        ts=1,
        time_in_force=TimeInForce.GTD,
        expire_time_ns=1_000,
    )
    venue.exchange.advance_time(999)
    assert venue.kinds("O-1") == ["OrderAccepted"]
    venue.exchange.advance_time(1_000)
    assert venue.kinds("O-1") == ["OrderAccepted", "OrderExpired"]
    assert venue.events[-1].ts_event == 1_000


def test_conservative_queue_fills_only_after_the_volume_ahead_has_traded() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, LIMIT, 3, price="99.99", ts=1)
    assert venue.ahead("O-1") == 7  # the displayed 7 at 99.99
    venue.trade("99.99", 6, ts=2, aggressor=AggressorSide.SELLER)
    assert venue.ahead("O-1") == 1 and venue.fills("O-1") == []  # 7 - 6 = 1
    venue.delta(BID, "99.99", 1, ts=3)  # the book shows the trade: ahead stays 1
    assert venue.ahead("O-1") == 1
    venue.trade("99.99", 3, ts=4, aggressor=AggressorSide.SELLER)
    # 3 traded: 1 was ahead of us, 2 reach us
    assert venue.fills("O-1") == [("2", "99.99", "MAKER")]


def test_conservative_queue_ignores_cancels_except_as_a_cap() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, LIMIT, 3, price="99.99", ts=1)
    venue.delta(BID, "99.99", 12, ts=2)  # 5 join behind us
    venue.delta(BID, "99.99", 9, ts=3)  # 3 canceled: might be behind us, ahead stays 7
    assert venue.ahead("O-1") == 7
    venue.delta(BID, "99.99", 4, ts=4)  # only 4 displayed: at most 4 can be ahead
    assert venue.ahead("O-1") == 4


def test_probabilistic_queue_takes_cancels_as_ahead_with_probability_ahead_over_size() -> None:
    outcomes = set()
    for seed in range(20):
        venue = Venue1(queue_model=ProbabilisticQueueModel(seed=seed))
        venue.delta(BID, "99.99", 10)
        venue.submit("O-1", BUY, LIMIT, 1, price="99.99", ts=1)
        venue.delta(BID, "99.99", 20, ts=2)  # 10 ahead, 10 behind
        venue.delta(BID, "99.99", 16, ts=3)  # 4 canceled: ahead with probability 10/20
        outcomes.add(venue.ahead("O-1"))
    assert outcomes == {6, 10}


def test_l3_queue_is_exact_and_an_order_behind_us_trading_fills_us_first() -> None:
    venue = Venue1(book_type=BookType.L3_MBO)
    venue.delta(BID, "99.99", 3, action=BookAction.ADD, order_id=1)
    venue.delta(BID, "99.99", 4, action=BookAction.ADD, order_id=2)
    venue.submit("O-1", BUY, LIMIT, 2, price="99.99", ts=1)
    assert venue.ahead("O-1") == 7  # orders 1 and 2
    venue.delta(BID, "99.99", 5, ts=2, action=BookAction.ADD, order_id=3)  # behind us
    venue.delta(BID, "99.99", 3, ts=3, action=BookAction.DELETE, order_id=1)
    assert venue.ahead("O-1") == 4  # only order 2 left ahead
    venue.delta(BID, "99.99", 4, ts=4, action=BookAction.FILL, order_id=2)
    assert venue.ahead("O-1") == 0 and venue.fills("O-1") == []
    venue.delta(BID, "99.99", 1, ts=5, action=BookAction.FILL, order_id=3)
    # order 3 traded 1 while we were first in line: that 1 was ours
    assert venue.fills("O-1") == [("1", "99.99", "MAKER")]


def test_with_trades_only_a_market_order_fills_the_trade_size_then_one_tick_worse() -> None:
    venue = Venue1(book_type=BookType.L1_MBP)
    venue.trade("100.00", 3, ts=1)
    venue.submit("O-1", BUY, MARKET, 5, ts=2)
    venue.submit("O-2", BUY, MARKET, 5, ts=3)
    # buy: 3 at the last trade 100.00, the other 2 at 100.00 + 0.01
    assert venue.fills("O-1") == [("3", "100.00", "TAKER"), ("2", "100.01", "TAKER")]
    # O-1 took the trade's 3 until the next trade: all of O-2 is one tick worse
    assert venue.fills("O-2") == [("5", "100.01", "TAKER")]


def test_with_trades_only_a_sell_market_order_fills_then_one_tick_lower() -> None:
    venue = Venue1(book_type=BookType.L1_MBP)
    venue.trade("100.00", 3, ts=1)
    venue.submit("O-1", SELL, MARKET, 5, ts=2)
    assert venue.fills("O-1") == [("3", "100.00", "TAKER"), ("2", "99.99", "TAKER")]


def bar_venue(sweep: str) -> Venue1:
    venue = Venue1(book_type=BookType.L1_MBP, fill_model=FillModel(bar_sweep=sweep))  # type: ignore[arg-type]
    venue.submit("HI", SELL, LIMIT, 1, price="101.50", ts=1)
    venue.submit("LO", BUY, LIMIT, 1, price="98.50", ts=1)
    return venue


def test_bar_swept_open_high_low_close_fills_the_high_side_first() -> None:
    venue = bar_venue("ohlc")
    venue.bar("100.00", "102.00", "98.00", "101.00", 8, ts=60)
    # 100 -> 102 passes the sell at 101.50, then 98 passes the buy at 98.50
    assert [event.client_order_id for event in venue.events if isinstance(event, OrderFilled)] == [
        "HI",
        "LO",
    ]
    assert all(event.ts_event == 60 for event in venue.events if isinstance(event, OrderFilled))


def test_bar_swept_open_low_high_close_fills_the_low_side_first() -> None:
    venue = bar_venue("olhc")
    venue.bar("100.00", "102.00", "98.00", "101.00", 8, ts=60)
    assert [event.client_order_id for event in venue.events if isinstance(event, OrderFilled)] == [
        "LO",
        "HI",
    ]


def test_bar_swept_by_nearest_extreme_visits_the_one_nearer_the_open_first() -> None:
    venue = bar_venue("nearest")
    # low 98.00 is 1.00 from the open 99.00, high 102.00 is 3.00 away: low first
    venue.bar("99.00", "102.00", "98.00", "101.00", 8, ts=60)
    assert [event.client_order_id for event in venue.events if isinstance(event, OrderFilled)] == [
        "LO",
        "HI",
    ]


def test_latency_order_arrives_after_a_price_move_and_fills_at_the_new_price() -> None:
    venue = Venue1(latency_model=LatencyModel(entry_ns=100, ack_ns=20))
    venue.delta(ASK, "100.01", 5, ts=0)
    venue.submit("O-1", BUY, MARKET, 2, ts=10)  # arrives at 10 + 100 = 110
    venue.delta(ASK, "100.01", 0, ts=50)
    venue.delta(ASK, "100.05", 5, ts=50)
    assert venue.events == []
    venue.exchange.advance_time(129)  # matched at 110; reports come back at 110 + 20
    assert venue.events == []
    venue.exchange.advance_time(130)
    assert venue.fills("O-1") == [("2", "100.05", "TAKER")]
    assert [event.ts_event for event in venue.events] == [110, 110]


def test_cancel_latency_lets_a_fill_happen_before_the_cancel_arrives() -> None:
    venue = Venue1(latency_model=LatencyModel(entry_ns=0, cancel_ns=100))
    venue.delta(BID, "99.99", 1, ts=0)
    venue.submit("O-1", BUY, LIMIT, 1, price="99.99", ts=1)
    venue.cancel("O-1", ts=2)  # arrives at 102
    venue.trade("99.99", 2, ts=50, aggressor=AggressorSide.SELLER)  # 1 ahead, 1 for us
    venue.exchange.advance_time(102)
    assert venue.kinds("O-1") == ["OrderAccepted", "OrderFilled", "OrderCancelRejected"]


def test_taker_and_maker_fills_pay_their_own_fee_rates() -> None:
    venue = three_ask_levels()
    venue.submit("O-1", BUY, MARKET, 2, ts=1)
    # taker: 2 x 100.01 = 200.02 USD x 0.0005 = 0.10001 -> 0.10 USD
    venue.submit("O-2", SELL, LIMIT, 10, price="100.50", ts=2)
    venue.delta(BID, "100.60", 10, ts=3)  # the bid crosses our ask: maker at 100.50
    # maker: 10 x 100.50 = 1005.00 USD x 0.0002 = 0.201 -> 0.20 USD
    fills = [event for event in venue.events if isinstance(event, OrderFilled)]
    assert [(str(event.last_px), event.commission) for event in fills] == [
        ("100.01", Money("0.10", USD)),
        ("100.50", Money("0.20", USD)),
    ]


def test_post_only_stop_limit_that_would_take_when_triggered_is_canceled() -> None:
    venue = three_ask_levels()
    venue.submit(
        "O-1", BUY, OrderType.STOP_LIMIT, 1, price="100.10", trigger="100.05", ts=1, post_only=True
    )
    venue.delta(ASK, "100.01", 0, ts=2)
    venue.delta(ASK, "100.02", 0, ts=2)
    venue.delta(ASK, "100.03", 0, ts=2)
    venue.delta(ASK, "100.06", 5, ts=3)  # fires; the limit 100.10 would take the ask 100.06
    assert venue.kinds("O-1") == ["OrderAccepted", "OrderTriggered", "OrderCanceled"]
