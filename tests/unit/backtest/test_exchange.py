"""SimulatedExchange: commands, events, models and determinism."""

from __future__ import annotations

import random
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from tests.unit.backtest import ASK, BID, BUY, INSTRUMENT, INSTRUMENT_ID, SELL, VENUE, Venue1
from tests.unit.backtest.exchange_reference import ReferenceExchange
from zq.backtest import LatencyModel, ProbabilisticQueueModel, SimulatedExchange
from zq.backtest.models import MakerTakerFeeModel
from zq.data.arrays import DELTA_DTYPE
from zq.model.enums import AggressorSide, BookAction, BookType, OrderSide, OrderType, TimeInForce
from zq.model.events import OrderAccepted, OrderEvent, OrderFilled, OrderUpdated
from zq.model.identifiers import InstrumentId, TradeId, Venue, VenueOrderId
from zq_core.fixed import Quantity

LIMIT = OrderType.LIMIT
MARKET = OrderType.MARKET
DOC = Path(__file__).parents[3] / "docs" / "concepts" / "simulated-exchange.md"
NS_PER_DAY = 86_400_000_000_000


def test_accepted_event_carries_venue_order_id_and_account() -> None:
    venue = Venue1()
    venue.submit("O-1", BUY, LIMIT, 1, price="99.00", ts=5)
    (event,) = venue.events
    assert isinstance(event, OrderAccepted)
    assert (event.venue_order_id, event.account_id, event.ts_event) == ("SIM-1", "SIM-001", 5)


def test_venue_order_and_trade_ids_built_in_c_are_plain_identifiers() -> None:
    # The exchange writes "{venue}-{n}" straight into an instance of the id type (see
    # zq_numbered_id in exchange.pyx): it must behave as VenueOrderId("SIM-1") built in
    # Python does, as a str, a dict key, in a pickle, and when released.
    import gc
    import pickle

    venue = Venue1(book_type=BookType.L1_MBP)
    for k in range(1, 201):  # ids of 1 to 3 digits, most released at once
        venue.quote("99.99", 5, "100.01", 5, ts=2 * k)
        venue.submit(f"O-{k}", BUY, MARKET, 1, ts=2 * k + 1)
    fills = [e for e in venue.events if isinstance(e, OrderFilled)]
    assert len(fills) == 200
    last = fills[-1]
    for value, kind, text in (
        (last.venue_order_id, VenueOrderId, "SIM-200"),
        (last.trade_id, TradeId, "SIM-200"),
        (fills[8].venue_order_id, VenueOrderId, "SIM-9"),
    ):
        built = kind(text)
        assert type(value) is kind
        assert value == built == text and str(value) == text and len(value) == len(text)
        assert hash(value) == hash(text) and {text: 1}[value] == 1 and {value: 2}[text] == 2
        assert value.encode() == text.encode() and value.isascii() and f"{value}" == text
        assert repr(value) == repr(built)
        assert pickle.loads(pickle.dumps(value)) == built
        assert value + "x" == text + "x" and value.split("-") == text.split("-")
    del fills, last
    venue.events.clear()
    gc.collect()


def test_cancel_of_an_open_order_cancels_it() -> None:
    venue = Venue1()
    venue.submit("O-1", BUY, LIMIT, 1, price="99.00", ts=1)
    venue.cancel("O-1", ts=2)
    assert venue.kinds("O-1") == ["OrderAccepted", "OrderCanceled"]


def test_cancel_of_an_unknown_order_is_rejected() -> None:
    venue = Venue1()
    venue.cancel("O-9", ts=2)
    assert venue.kinds() == ["OrderCancelRejected"]


def test_cancel_all_cancels_only_the_side_asked() -> None:
    venue = Venue1()
    venue.submit("B", BUY, LIMIT, 1, price="99.00", ts=1)
    venue.submit("S", SELL, LIMIT, 1, price="101.00", ts=1)
    venue.cancel_all(ts=2, side=OrderSide.SELL)
    assert venue.kinds("B") == ["OrderAccepted"]
    assert venue.kinds("S") == ["OrderAccepted", "OrderCanceled"]


def test_submit_of_a_duplicate_client_order_id_is_rejected() -> None:
    venue = Venue1()
    venue.submit("O-1", BUY, LIMIT, 1, price="99.00", ts=1)
    venue.submit("O-1", BUY, LIMIT, 1, price="99.00", ts=2)
    assert venue.kinds("O-1") == ["OrderAccepted", "OrderRejected"]


def test_modify_to_a_new_price_loses_the_queue_place() -> None:
    venue = Venue1()
    venue.delta(BID, "99.99", 4)
    venue.delta(BID, "99.98", 6)
    venue.submit("O-1", BUY, LIMIT, 2, price="99.99", ts=1)
    venue.modify("O-1", price="99.98", ts=2)
    assert venue.ahead("O-1") == 6
    updated = venue.events[-1]
    assert isinstance(updated, OrderUpdated) and str(updated.price) == "99.98"


def test_modify_to_a_smaller_quantity_keeps_the_queue_place() -> None:
    venue = Venue1()
    venue.delta(BID, "99.99", 4)
    venue.submit("O-1", BUY, LIMIT, 3, price="99.99", ts=1)
    venue.delta(BID, "99.99", 9, ts=2)
    venue.modify("O-1", quantity=2, ts=3)
    assert venue.ahead("O-1") == 4


def test_modify_of_post_only_order_into_the_market_is_rejected() -> None:
    venue = Venue1()
    venue.delta(ASK, "100.01", 4)
    venue.submit("O-1", BUY, LIMIT, 3, price="99.99", ts=1, post_only=True)
    venue.modify("O-1", price="100.01", ts=2)
    assert venue.kinds("O-1") == ["OrderAccepted", "OrderModifyRejected"]


def test_day_order_expires_at_the_next_utc_midnight() -> None:
    venue = Venue1()
    venue.submit(
        "O-1", BUY, LIMIT, 1, price="99.00", ts=NS_PER_DAY + 5, time_in_force=TimeInForce.DAY
    )
    venue.exchange.advance_time(2 * NS_PER_DAY - 1)
    assert venue.kinds("O-1") == ["OrderAccepted"]
    venue.exchange.advance_time(2 * NS_PER_DAY)
    assert venue.kinds("O-1") == ["OrderAccepted", "OrderExpired"]


def test_reduce_only_order_fills_no_more_than_the_callers_limit() -> None:
    def limit(instrument_id: InstrumentId, side: OrderSide) -> Quantity:
        return Quantity.from_int(3)  # the position the caller holds

    venue = Venue1(reduce_only_limit=limit)
    venue.delta(BID, "99.99", 10)
    venue.submit("O-1", SELL, MARKET, 5, ts=1, reduce_only=True)
    assert venue.fills("O-1") == [("3", "99.99", "TAKER")]
    assert venue.kinds("O-1")[-1] == "OrderCanceled"


def test_l1_quotes_feed_the_book_and_the_queue() -> None:
    venue = Venue1(book_type=BookType.L1_MBP)
    venue.quote("99.99", 5, "100.01", 5, ts=1)
    venue.submit("O-1", BUY, LIMIT, 2, price="99.99", ts=2)
    assert venue.ahead("O-1") == 5
    venue.trade("99.99", 6, ts=3, aggressor=AggressorSide.SELLER)  # 5 ahead, 1 for us
    assert venue.fills("O-1") == [("1", "99.99", "MAKER")]
    venue.submit("O-2", BUY, MARKET, 2, ts=4)
    assert venue.fills("O-2") == [("2", "100.01", "TAKER")]


def test_instrument_of_another_venue_is_refused() -> None:
    with pytest.raises(ValueError, match="not on venue"):
        SimulatedExchange(Venue("OTHER"), [INSTRUMENT], print)


def _run(seed: int) -> list[OrderEvent]:
    """A random market with random orders, every model seeded."""
    rng = random.Random(seed)
    venue = Venue1(
        queue_model=ProbabilisticQueueModel(seed=7),
        latency_model=LatencyModel(entry_ns=50, cancel_ns=30, ack_ns=10, jitter_ns=40, seed=3),
    )
    ts = 0
    for number in range(400):
        ts += rng.randrange(1, 100)
        mid = 10_000 + rng.randrange(-20, 21)
        roll = rng.random()
        if roll < 0.6:
            side = rng.choice([BID, ASK])
            price = mid - rng.randrange(1, 5) if side == BID else mid + rng.randrange(1, 5)
            venue.delta(side, f"{price / 100:.2f}", rng.randrange(0, 20), ts=ts)
        elif roll < 0.8:
            aggressor = rng.choice([AggressorSide.BUYER, AggressorSide.SELLER])
            venue.trade(f"{mid / 100:.2f}", rng.randrange(1, 10), ts=ts, aggressor=aggressor)
        elif roll < 0.95:
            side = rng.choice([BUY, SELL])
            order_type = rng.choice([LIMIT, MARKET])
            limit = f"{(mid + rng.randrange(-5, 6)) / 100:.2f}" if order_type == LIMIT else None
            venue.submit(f"O-{number}", side, order_type, rng.randrange(1, 6), price=limit, ts=ts)
        else:
            venue.cancel_all(ts=ts)
    venue.exchange.advance_time(ts + 1_000)
    return venue.events


def test_same_inputs_give_the_identical_event_sequence() -> None:
    first = _run(42)
    assert any(type(event).__name__ == "OrderFilled" for event in first)
    assert first == _run(42)


def test_docs_examples_run_in_order() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert blocks
    namespace: dict[str, object] = {"__name__": "docs_simulated_exchange"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)


def test_exchange_knows_its_instruments_core() -> None:
    venue = Venue1()
    assert venue.exchange.core(INSTRUMENT_ID).book_type == 2


def _delta_rows(seed: int) -> np.ndarray:
    rng = random.Random(seed)
    rows = np.zeros(300, dtype=DELTA_DTYPE)
    rows["ts_init"] = rows["ts_event"] = np.arange(300) * 10
    rows["side"] = [rng.choice([1, 2]) for _ in range(300)]
    rows["price"] = [
        10_000 - rng.randrange(0, 4) if side == 1 else 10_001 + rng.randrange(0, 4)
        for side in rows["side"].tolist()
    ]
    rows["size"] = [rng.randrange(0, 10) for _ in range(300)]
    rows["action"] = [2 if size else 3 for size in rows["size"].tolist()]
    return rows


def _replay(batch: bool) -> list[OrderEvent]:
    venue = Venue1(latency_model=LatencyModel(entry_ns=25, cancel_ns=15))
    rows = _delta_rows(5)
    exchange = venue.exchange
    for chunk in range(0, 300, 50):
        part = rows[chunk : chunk + 50]
        if batch:
            exchange.process_delta_array(INSTRUMENT_ID, part)
        else:
            for row in part.tolist():
                ts, _, price, size, _, _, action, side, _, _ = row
                if action == 3 and exchange.core(INSTRUMENT_ID).book.size_at(side, price) == 0:
                    continue
                venue.delta(
                    OrderSide(side), f"{price / 100:.2f}", size, ts=ts, action=BookAction(action)
                )
        ts = int(part["ts_init"][-1])
        venue.submit(f"B-{chunk}", BUY, LIMIT, 3, price="100.01", ts=ts)
        venue.submit(f"S-{chunk}", SELL, MARKET, 2, ts=ts)
        venue.cancel(f"B-{chunk}", ts=ts + 5)
    exchange.advance_time(10_000)
    return venue.events


def test_delta_array_path_gives_the_same_events_as_the_object_path() -> None:
    events = _replay(batch=True)
    assert any(type(event).__name__ == "OrderFilled" for event in events)
    assert events == _replay(batch=False)


def _mixed_run(reference: bool, seed: int, latency: str) -> list[OrderEvent]:
    """A random market with every kind of command, on the compiled exchange or on the
    pure-Python reference; an event handler sends cancels from inside the delivery."""
    rng = random.Random(seed)
    models = {
        "none": LatencyModel(),
        "fixed": LatencyModel(entry_ns=20, cancel_ns=10, ack_ns=5),
        "jitter": LatencyModel(entry_ns=20, cancel_ns=10, ack_ns=5, jitter_ns=30, seed=5),
    }
    venue = Venue1(queue_model=ProbabilisticQueueModel(seed=7), latency_model=models[latency])
    events = venue.events
    if reference:
        venue.exchange = ReferenceExchange(  # type: ignore[assignment]
            VENUE,
            [INSTRUMENT],
            events.append,
            book_type=BookType.L2_MBP,
            queue_model=ProbabilisticQueueModel(seed=7),
            latency_model=models[latency],
        )
    submitted: list[str] = []
    limits: list[str] = []

    def on_event(event: OrderEvent) -> None:
        events.append(event)
        if isinstance(event, OrderFilled) and len(events) % 3 == 0 and submitted:
            venue.cancel(rng.choice(submitted), ts=event.ts_event)  # sent while delivering

    venue.exchange.set_event_handler(on_event)
    ts = 0
    for number in range(500):
        ts += rng.randrange(0, 60)
        mid = 10_000 + rng.randrange(-20, 21)
        roll = rng.random()
        if roll < 0.5:
            side = rng.choice([BID, ASK])
            price = mid - rng.randrange(1, 5) if side == BID else mid + rng.randrange(1, 5)
            venue.delta(side, f"{price / 100:.2f}", rng.randrange(0, 20), ts=ts)
        elif roll < 0.65:
            aggressor = rng.choice([AggressorSide.BUYER, AggressorSide.SELLER])
            venue.trade(f"{mid / 100:.2f}", rng.randrange(1, 10), ts=ts, aggressor=aggressor)
        elif roll < 0.8:
            coid = f"O-{number}"
            side = rng.choice([BUY, SELL])
            order_type = rng.choice([LIMIT, LIMIT, MARKET, OrderType.STOP_MARKET])
            price = f"{(mid + rng.randrange(-5, 6)) / 100:.2f}"
            extra: dict[str, object] = {}
            if order_type == LIMIT and rng.random() < 0.3:
                extra = {"time_in_force": TimeInForce.GTD, "expire_time_ns": ts + 200}
            elif order_type == LIMIT and rng.random() < 0.3:
                extra = {"post_only": True}
            venue.submit(
                coid,
                side,
                order_type,
                rng.randrange(1, 6),
                price=price if order_type == LIMIT else None,
                trigger=price if order_type == OrderType.STOP_MARKET else None,
                ts=ts,
                **extra,
            )
            submitted.append(coid)
            if order_type == LIMIT:
                limits.append(coid)
        elif roll < 0.93 and limits:
            price = f"{(mid + rng.randrange(-5, 6)) / 100:.2f}"
            venue.modify(rng.choice(limits[-3:]), quantity=rng.randrange(1, 8), price=price, ts=ts)
        elif roll < 0.98:
            venue.cancel(rng.choice(submitted) if submitted else "O-unknown", ts=ts)
        else:
            venue.cancel_all(ts=ts)
    venue.exchange.advance_time(ts + 1_000)
    return events


@pytest.mark.parametrize("latency", ["none", "fixed", "jitter"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_compiled_exchange_gives_the_reference_exchanges_events(
    seed: int, latency: str
) -> None:
    compiled = _mixed_run(False, seed, latency)
    kinds = {type(event).__name__ for event in compiled}
    assert {"OrderFilled", "OrderUpdated", "OrderCanceled", "OrderAccepted"} <= kinds
    assert compiled == _mixed_run(True, seed, latency)


def test_a_fee_model_assigned_later_charges_the_later_fills() -> None:
    venue = Venue1()
    venue.delta(ASK, "100.00", 5)
    venue.submit("O-1", BUY, MARKET, 1, ts=1)
    venue.exchange.fee_model = MakerTakerFeeModel(taker_fee=Decimal("0.001"))
    venue.submit("O-2", BUY, MARKET, 1, ts=2)
    # 1 x 100.00 at the instrument's 0.05 % taker rate: 0.05 USD; then at 0.1 %: 0.10 USD.
    fills = [event for event in venue.events if isinstance(event, OrderFilled)]
    assert [str(fill.commission.as_decimal()) for fill in fills] == ["0.05", "0.10"]
