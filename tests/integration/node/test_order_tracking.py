"""Order tracking across gaps: fills caught up account-wide, lost submits found with their
fills, the submit deadline, and a cancel whose answer and queries are all lost.

A sandbox venue with a manual market (nothing moves unless the test prints a trade or sets
levels) on loopback; real sockets, no mocks. The node's user stream is stopped where a test
needs the REST path alone to tell what happened (events sent meanwhile are lost, as in a
gap). ``RequestLog`` wraps the adapter's ``request`` to count what the node asked for: the
requests still go over the network.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.integration.node.conftest import (
    BTCUSDT,
    CREDENTIALS,
    SYMBOL,
    VenueReader,
    node_config,
    sandbox_config,
)
from zq.adapters.binance.http import BinanceHttpClient
from zq.live.journal import Journal
from zq.live.node import TradingNode
from zq.model.enums import LiquiditySide, OrderSide, OrderStatus
from zq.model.events import OrderFilled, OrderRejected
from zq.model.orders import Order
from zq.sandbox import MarketConfig, SandboxVenue
from zq.strategy import Strategy

ORDER = "/api/v3/order"
MY_TRADES = "/api/v3/myTrades"
OPEN_ORDERS = "/api/v3/openOrders"


class Orders(Strategy):  # type: ignore[type-arg]
    """Places the limit orders the test asks for."""

    def __init__(self) -> None:
        super().__init__(strategy_id="Orders-001", order_id_tag="001")

    def limit(self, side: OrderSide, qty: str, price: Decimal) -> Order:
        instrument = self.cache.instrument(BTCUSDT)
        assert instrument is not None
        order: Order = self.order_factory.limit(
            BTCUSDT, side, instrument.make_qty(Decimal(qty)), instrument.make_price(price)
        )
        self.submit_order(order)
        return order


class RequestLog:
    """Every REST request the node's adapter sends: (method, path, params)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        original = BinanceHttpClient.request

        async def request(
            client: BinanceHttpClient, method: str, path: str, *args: Any, **kw: Any
        ) -> Any:
            params = args[0] if args else kw.get("params")
            self.calls.append((method, path, dict(params or {})))
            return await original(client, method, path, *args, **kw)

        monkeypatch.setattr(BinanceHttpClient, "request", request)

    def count(self, method: str, path: str, **having: Any) -> int:
        return sum(
            1
            for m, p, params in self.calls
            if m == method and p == path and all(params.get(k) == v for k, v in having.items())
        )

    def params(self, method: str, path: str) -> list[dict[str, Any]]:
        return [params for m, p, params in self.calls if m == method and p == path]


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


@pytest_asyncio.fixture
async def manual() -> AsyncIterator[SandboxVenue]:
    async with SandboxVenue(sandbox_config(market=MarketConfig(kind="manual"))) as running:
        yield running


@pytest_asyncio.fixture
async def manual_reader(manual: SandboxVenue) -> AsyncIterator[VenueReader]:
    async with aiohttp.ClientSession() as session:
        yield VenueReader(session, manual.url)


def fills_of(order: Order) -> list[OrderFilled]:
    return [e for e in order.events if isinstance(e, OrderFilled)]


async def venue_trades_by_order(reader: VenueReader) -> dict[str, list[dict[str, Any]]]:
    trades: dict[str, list[dict[str, Any]]] = {}
    for trade in await reader.trades():
        trades.setdefault(str(trade["orderId"]), []).append(trade)
    return trades


def assert_fills_equal_venue(order: Order, venue_trades: list[dict[str, Any]]) -> None:
    """The order's fills are the venue's trades of its venue order, one by one."""
    ours = sorted(
        (str(f.trade_id), f.last_qty.as_decimal(), f.last_px.as_decimal()) for f in fills_of(order)
    )
    theirs = sorted((str(t["id"]), Decimal(t["qty"]), Decimal(t["price"])) for t in venue_trades)
    assert ours == theirs, order.client_order_id


# -- fills caught up account-wide ------------------------------------------------------------

BIDS = 20  # resting bids, 1 USDT apart from 50,000 down: 0.002 BTC each


async def start_node(venue: SandboxVenue, **config: Any) -> tuple[TradingNode, Orders]:
    """Start a node on ``venue`` (``node_config`` keywords) with an ``Orders`` strategy."""
    node = TradingNode(
        node_config(venue, **config), credentials=CREDENTIALS, install_signal_handlers=False
    )
    strategy = Orders()
    node.add_strategy(strategy)
    await node.start()
    return node, strategy


async def place_bids(node: TradingNode, strategy: Orders) -> list[Order]:
    orders = [strategy.limit(OrderSide.BUY, "0.002", Decimal(50_000 - i)) for i in range(BIDS)]
    await until(lambda: all(o.status is OrderStatus.ACCEPTED for o in orders))
    return orders


@pytest.mark.asyncio
async def test_a_restarted_node_catches_up_its_fills_per_symbol_not_per_order(
    manual: SandboxVenue,
    manual_reader: VenueReader,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = str(tmp_path / "node.journal")
    first, strategy = await start_node(manual, journal=journal, cancel_open_orders_on_stop=False)
    try:
        bids = await place_bids(first, strategy)
    finally:
        await first.shutdown()
    # While the node is down: market sells printed at 50,000 (0.002 BTC: the bid there
    # fills), at 49,999.50 (0.001: an order placed elsewhere on the account fills) and at
    # 49,999 (0.001: the bid there fills half). Each print reaches one order only.
    await manual_reader.place(
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="49999.50",
        newClientOrderId="elsewhere-1",
    )
    for price, qty in (("50000", "0.002"), ("49999.50", "0.001"), ("49999", "0.001")):
        manual.trade(SYMBOL, Decimal(price), Decimal(qty), buyer_is_maker=True)

    log = RequestLog(monkeypatch)
    second = TradingNode(
        node_config(manual, journal=journal, cancel_open_orders_on_stop=False),
        credentials=CREDENTIALS,
        install_signal_handlers=False,
    )
    with caplog.at_level("WARNING", logger="zq.live"):
        await second.start()
    try:
        assert second.kernel is not None
        cache = second.kernel.cache
        orders = [cache.order(o.client_order_id) for o in bids]
        assert all(o is not None for o in orders)
        statuses = [o.status for o in orders if o is not None]
        assert statuses == [OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED] + [
            OrderStatus.ACCEPTED
        ] * (BIDS - 2)
        trades = await venue_trades_by_order(manual_reader)
        for order in orders:
            assert order is not None
            assert_fills_equal_venue(order, trades.get(str(order.venue_order_id), []))
        # Per symbol: one open-orders read and one trades read, no query of any order.
        assert log.count("GET", ORDER) == 0
        assert log.count("GET", OPEN_ORDERS) == 1
        (trades_read,) = log.params("GET", MY_TRADES)
        assert "orderId" not in trades_read or trades_read["orderId"] is None
        # The other order's trade is not the node's: counted and said.
        execution = second.execution_client()
        assert execution.foreign_trades == 1
        assert any("belong to no order of this node" in r.message for r in caplog.records)
    finally:
        await second.shutdown()


@pytest.mark.asyncio
async def test_after_a_stream_gap_fills_and_ends_are_caught_up_with_few_requests(
    manual: SandboxVenue, manual_reader: VenueReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, strategy = await start_node(manual, cancel_open_orders_on_stop=False)
    try:
        bids = await place_bids(node, strategy)
        execution = node.execution_client()
        await execution.user_stream.stop()  # the gap: what the venue reports now is lost
        log = RequestLog(monkeypatch)

        # First gap: 0.003 BTC sold at 49,999 (the bid at 50,000 fills, 49,999 half).
        manual.trade(SYMBOL, Decimal("49999"), Decimal("0.003"), buyer_is_maker=True)
        await execution.reconcile_open_orders()  # what a reconnect runs
        assert [o.status for o in bids[:3]] == [
            OrderStatus.FILLED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.ACCEPTED,
        ]
        assert log.count("GET", ORDER) == 0
        assert log.count("GET", OPEN_ORDERS) == 1
        assert log.count("GET", MY_TRADES) == 1
        last_trade = max(int(str(f.trade_id)) for o in bids for f in fills_of(o))

        # Second gap: the rest of 49,999 fills, and a bid is cancelled at the venue (no
        # trade tells that: that one order is queried). Trades are read from the last one.
        log.calls.clear()
        manual.trade(SYMBOL, Decimal("49999"), Decimal("0.001"), buyer_is_maker=True)
        await manual_reader.request(
            "DELETE", ORDER, symbol=SYMBOL, origClientOrderId=str(bids[5].client_order_id)
        )
        await execution.reconcile_open_orders()
        assert bids[1].status is OrderStatus.FILLED
        assert bids[5].status is OrderStatus.CANCELED
        assert [p.get("fromId") for p in log.params("GET", MY_TRADES)] == [last_trade + 1]
        assert log.count("GET", ORDER) == 1
        trades = await venue_trades_by_order(manual_reader)
        for order in bids:
            assert_fills_equal_venue(order, trades.get(str(order.venue_order_id), []))
        assert execution.foreign_trades == 0
    finally:
        await node.shutdown()


# -- a lost submit found with its fills ------------------------------------------------------


@pytest.mark.parametrize(
    ("ask_size", "status"), [("0.002", "FILLED"), ("0.001", "PARTIALLY_FILLED")]
)
@pytest.mark.asyncio
async def test_a_submit_whose_answer_was_lost_gets_the_fills_the_query_finds(
    manual: SandboxVenue, manual_reader: VenueReader, ask_size: str, status: str
) -> None:
    # The venue fills the order (fully, or partly: the rest rests) but its answer is lost,
    # and the user stream is down: only the query, then the order's trades, can tell.
    manual.set_levels(SYMBOL, asks=[(Decimal("60000"), Decimal(ask_size))])
    node, strategy = await start_node(manual, venue_options={"submit_resolve_delay_s": 0.3})
    try:
        execution = node.execution_client()
        await execution.user_stream.stop()
        manual.faults.update(drop_after=1.0)
        order = strategy.limit(OrderSide.BUY, "0.002", Decimal("60000"))
        await until(lambda: execution.lost_submits == 1)
        manual.faults.update(drop_after=0.0)  # before the first query, 0.3 s later
        await until(lambda: execution.resolved_submits == 1)
        await execution.wait_idle(5)
        assert order.status is OrderStatus[status]
        assert order.filled_qty.as_decimal() == Decimal(ask_size)
        (venue_order,) = await manual_reader.all_orders()
        assert venue_order["status"] == status
        assert str(order.venue_order_id) == str(venue_order["orderId"])
        trades = await venue_trades_by_order(manual_reader)
        assert_fills_equal_venue(order, trades[str(order.venue_order_id)])
        assert all(f.liquidity_side is LiquiditySide.TAKER for f in fills_of(order))
        assert execution.reports == 0  # none of it came from the stream
    finally:
        await node.shutdown()


# -- the submit deadline ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_submit_unresolved_by_its_deadline_is_rejected_journaled_and_its_orphan_cancelled(
    manual: SandboxVenue, manual_reader: VenueReader, tmp_path: Path
) -> None:
    # The venue places the order, but the submit's answer and the answers of the queries
    # (2 attempts, 3 tries each) are all lost: at the deadline the order is declared lost.
    journal = str(tmp_path / "node.journal")
    node, strategy = await start_node(
        manual,
        journal=journal,
        venue_options={"submit_resolve_attempts": 2, "submit_resolve_delay_s": 0.05},
    )
    try:
        execution = node.execution_client()
        await execution.user_stream.stop()
        manual.faults.update(drop_after=1.0)
        order = strategy.limit(OrderSide.BUY, "0.001", Decimal("50000"))
        await until(lambda: order.status is OrderStatus.REJECTED)
        manual.faults.update(drop_after=0.0)
        assert execution.expired_submits == 1
        assert execution.resolved_submits == 0
        (rejected,) = [e for e in order.events if isinstance(e, OrderRejected)]
        assert "submit deadline" in rejected.reason and "declared lost" in rejected.reason
        # The venue has it: the next reconciliation cancels it there.
        assert [o["status"] for o in await manual_reader.all_orders()] == ["NEW"]
        await execution.reconcile_open_orders()
        assert execution.orphans_cancelled == 1
        assert [o["status"] for o in await manual_reader.all_orders()] == ["CANCELED"]
        assert order.status is OrderStatus.REJECTED
    finally:
        await node.shutdown()
    with Journal(Path(journal), readonly=True) as replayed:
        records = [r.entry for r in replayed.replay()]
    (journaled,) = [
        e
        for e in records
        if isinstance(e, OrderRejected) and e.client_order_id == order.client_order_id
    ]
    assert journaled.reason == rejected.reason


# -- a cancel whose answer and queries are all lost ------------------------------------------


@pytest.mark.asyncio
async def test_a_cancel_whose_answer_and_queries_are_lost_leaves_the_order_working_and_asked_again(
    manual: SandboxVenue, manual_reader: VenueReader
) -> None:
    # The root cause of a flaky test: such a cancel left the order PENDING_CANCEL for good
    # (nothing asked again, and the stop's cancel loop skips pending cancels).
    node, strategy = await start_node(manual, cancel_open_orders_on_stop=False)
    try:
        execution = node.execution_client()
        order = strategy.limit(OrderSide.BUY, "0.001", Decimal("50000"))
        await until(lambda: order.status is OrderStatus.ACCEPTED)
        await execution.user_stream.stop()
        manual.faults.update(drop_after=1.0)  # the venue cancels; no answer gets back
        strategy.cancel_order(order)
        await execution.wait_idle(10)
        assert order.status is OrderStatus.ACCEPTED  # cancel rejected: taken as working
        assert order.client_order_id in execution.unresolved
        manual.faults.update(drop_after=0.0)
        await until(lambda: order.status is OrderStatus.CANCELED)  # the heartbeat asked
        assert not execution.unresolved
        assert [o["status"] for o in await manual_reader.all_orders()] == ["CANCELED"]
    finally:
        await node.shutdown()


@pytest.mark.asyncio
async def test_an_end_reported_after_a_gap_that_lost_a_fill_brings_that_fill(
    manual: SandboxVenue, manual_reader: VenueReader
) -> None:
    # The order half fills while the stream is down; the stream comes back, then the order
    # is cancelled: the cancel's report says 0.001 filled, which the node never heard of.
    node, strategy = await start_node(manual, cancel_open_orders_on_stop=False)
    try:
        execution = node.execution_client()
        order = strategy.limit(OrderSide.BUY, "0.002", Decimal("50000"))
        await until(lambda: order.status is OrderStatus.ACCEPTED)
        await execution.user_stream.stop()
        manual.trade(SYMBOL, Decimal("50000"), Decimal("0.001"), buyer_is_maker=True)
        await execution.user_stream.start()
        await execution.user_stream.wait_connected(5)
        await manual_reader.request(
            "DELETE", ORDER, symbol=SYMBOL, origClientOrderId=str(order.client_order_id)
        )
        await until(lambda: order.status is OrderStatus.CANCELED and order.filled_qty.raw > 0)
        await execution.wait_idle(5)
        assert order.filled_qty.as_decimal() == Decimal("0.001")
        trades = await venue_trades_by_order(manual_reader)
        assert_fills_equal_venue(order, trades[str(order.venue_order_id)])
    finally:
        await node.shutdown()


@pytest.mark.asyncio
async def test_a_trade_of_an_order_whose_submit_is_unanswered_is_not_called_foreign(
    manual: SandboxVenue, manual_reader: VenueReader
) -> None:
    # A catch-up runs while the node's marketable submit waits for its (delayed) answer: the
    # order's trade names a venue order id the node does not know yet. It waits for the next
    # catch-up; an order placed elsewhere on the account is then said to be no order's.
    manual.set_levels(SYMBOL, asks=[(Decimal("60000"), Decimal("0.002"))])
    node, strategy = await start_node(manual, cancel_open_orders_on_stop=False)
    try:
        execution = node.execution_client()
        await execution.user_stream.stop()
        manual.faults.update(delay=1.0, delay_seconds=2.0)
        order = strategy.limit(OrderSide.BUY, "0.001", Decimal("60000"))
        await until(lambda: manual.faults.counts["delayed"] == 1)  # placed, answer held
        manual.faults.update(delay=0.0)
        await manual_reader.place(
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.001",
            price="60000",
            newClientOrderId="elsewhere-2",
        )  # fills against the rest of the level at once
        await execution.reconcile_open_orders()
        assert order.status is OrderStatus.SUBMITTED  # the answer is still on its way
        assert execution.foreign_trades == 0
        await execution.wait_idle(5)
        assert order.status is OrderStatus.FILLED
        await execution.reconcile_open_orders()
        assert execution.foreign_trades == 1  # elsewhere-2's, and only it
        trades = await venue_trades_by_order(manual_reader)
        assert_fills_equal_venue(order, trades[str(order.venue_order_id)])
    finally:
        await node.shutdown()


# -- a modify whose answer and query answer are both lost ------------------------------------


def events_named(order: Order, *names: str) -> list[str]:
    return [type(e).__name__ for e in order.events if type(e).__name__ in names]


async def start_with_resting_bid(
    manual: SandboxVenue, **venue_options: Any
) -> tuple[TradingNode, Orders, Order]:
    node, strategy = await start_node(manual, cancel_open_orders_on_stop=False, venue_options=venue_options)
    order = strategy.limit(OrderSide.BUY, "0.002", Decimal("50000"))
    await until(lambda: order.status is OrderStatus.ACCEPTED)
    # Only the REST path may tell what happened: the stream's reports would be lost in a gap.
    await node.execution_client().user_stream.stop()
    return node, strategy, order


@pytest.mark.parametrize("then", ["rests", "fills", "is_cancelled"])
@pytest.mark.asyncio
async def test_a_modify_whose_answer_and_first_query_are_lost_ends_with_the_venues_replacement(
    manual: SandboxVenue, manual_reader: VenueReader, then: str
) -> None:
    # The fault run's O-...-9165: the venue replaced the order (a new venue order id) but the
    # cancel-replace's answer was dropped, and so were the first query's three tries. The
    # node used to reject the modify at once, the order working at its old price; a later
    # query did not apply a replacement that had filled or been cancelled meanwhile.
    node, strategy, order = await start_with_resting_bid(
        manual, submit_resolve_attempts=4, submit_resolve_delay_s=0.2
    )
    try:
        execution = node.execution_client()
        old_id = str(order.venue_order_id)
        instrument = node.kernel.cache.instrument(BTCUSDT) if node.kernel else None
        assert instrument is not None
        manual.faults.update(drop_after=1.0)  # the venue acts, no answer gets back
        strategy.modify_order(order, price=instrument.make_price(Decimal("50010")))
        # The cancel-replace (no retry of a POST) and the first query (a read: 3 tries).
        await until(lambda: manual.faults.counts["dropped_after"] >= 4)
        assert order.status is OrderStatus.PENDING_UPDATE  # in doubt: not decided yet
        manual.faults.update(drop_after=0.0)
        if then == "fills":  # a market sell at 50,010 fills the replacement at the venue
            manual.trade(SYMBOL, Decimal("50010"), Decimal("0.002"), buyer_is_maker=True)
        elif then == "is_cancelled":
            await manual_reader.request(
                "DELETE", ORDER, symbol=SYMBOL, origClientOrderId=str(order.client_order_id)
            )
        await execution.wait_idle(10)
        venue_orders = sorted(await manual_reader.all_orders(), key=lambda o: o["orderId"])
        # The venue: the original cancelled, the replacement under the same client order id.
        assert [(str(o["orderId"]) == old_id, o["status"]) for o in venue_orders] == [
            (True, "CANCELED"),
            (False, {"rests": "NEW", "fills": "FILLED", "is_cancelled": "CANCELED"}[then]),
        ]
        replacement = venue_orders[1]
        assert replacement["clientOrderId"] == str(order.client_order_id)
        assert Decimal(replacement["price"]) == Decimal("50010")
        # The node: the replacement applied once, never a rejection of the modify.
        assert events_named(order, "OrderUpdated", "OrderModifyRejected") == ["OrderUpdated"]
        assert str(order.venue_order_id) == str(replacement["orderId"])
        assert order.price.as_decimal() == Decimal("50010")
        assert order.quantity.as_decimal() == Decimal("0.002")
        assert order.status.name == {
            "rests": "ACCEPTED",
            "fills": "FILLED",
            "is_cancelled": "CANCELED",
        }[then]
        trades = await venue_trades_by_order(manual_reader)
        assert_fills_equal_venue(order, trades.get(str(order.venue_order_id), []))
        assert order.client_order_id not in execution.unresolved
    finally:
        await node.shutdown()


@pytest.mark.asyncio
async def test_a_modify_unresolved_by_its_deadline_is_rejected_journaled_then_its_replacement_applied(
    manual: SandboxVenue, manual_reader: VenueReader, tmp_path: Path
) -> None:
    # Every answer is lost until the modify's deadline (2 queries): the defined outcome is a
    # modify rejected with a reason that says the outcome is unknown, the order asked for at
    # each heartbeat; when the venue answers, the replacement it made is applied.
    journal = str(tmp_path / "node.journal")
    node, strategy = await start_node(
        manual,
        journal=journal,
        cancel_open_orders_on_stop=False,
        venue_options={"submit_resolve_attempts": 2, "submit_resolve_delay_s": 0.05},
    )
    try:
        execution = node.execution_client()
        order = strategy.limit(OrderSide.BUY, "0.002", Decimal("50000"))
        await until(lambda: order.status is OrderStatus.ACCEPTED)
        await execution.user_stream.stop()
        old_id = order.venue_order_id
        instrument = node.kernel.cache.instrument(BTCUSDT) if node.kernel else None
        assert instrument is not None
        manual.faults.update(drop_after=1.0)
        strategy.modify_order(
            order,
            quantity=instrument.make_qty(Decimal("0.003")),
            price=instrument.make_price(Decimal("49990")),
        )
        await until(lambda: order.status is OrderStatus.ACCEPTED)
        assert execution.expired_modifies == 1
        (rejected,) = [e for e in order.events if type(e).__name__ == "OrderModifyRejected"]
        assert "modify deadline" in rejected.reason  # type: ignore[attr-defined]
        assert order.client_order_id in execution.unresolved
        assert order.venue_order_id == old_id and order.price.as_decimal() == 50000
        manual.faults.update(drop_after=0.0)
        await until(lambda: order.venue_order_id != old_id)  # the heartbeat asked
        assert not execution.unresolved
        (venue_old, venue_new) = sorted(
            await manual_reader.all_orders(), key=lambda o: o["orderId"]
        )
        assert (str(venue_old["orderId"]), venue_old["status"]) == (str(old_id), "CANCELED")
        assert str(order.venue_order_id) == str(venue_new["orderId"])
        assert venue_new["status"] == "NEW"
        assert (order.quantity.as_decimal(), order.price.as_decimal()) == (
            Decimal(venue_new["origQty"]),
            Decimal(venue_new["price"]),
        ) == (Decimal("0.003"), Decimal("49990"))
        assert events_named(order, "OrderUpdated", "OrderModifyRejected") == [
            "OrderModifyRejected",
            "OrderUpdated",
        ]
    finally:
        await node.shutdown()
    with Journal(Path(journal), readonly=True) as replayed:
        records = [r.entry for r in replayed.replay()]
    mine = [
        type(e).__name__
        for e in records
        if getattr(e, "client_order_id", None) == order.client_order_id
        and type(e).__name__ in ("OrderModifyRejected", "OrderUpdated")
    ]
    assert mine == ["OrderModifyRejected", "OrderUpdated"]


@pytest.mark.asyncio
async def test_a_modify_that_never_reached_the_venue_is_rejected_once_a_query_shows_the_original(
    manual: SandboxVenue, manual_reader: VenueReader
) -> None:
    # The cancel-replace and the first query are dropped before the venue acts: nothing was
    # replaced. The second query shows the original working: the modify is rejected then,
    # and the original's own end (a cancel at the venue, reported by the stream) ends it.
    node, strategy, order = await start_with_resting_bid(
        manual, submit_resolve_attempts=4, submit_resolve_delay_s=0.2
    )
    try:
        execution = node.execution_client()
        old_id = order.venue_order_id
        instrument = node.kernel.cache.instrument(BTCUSDT) if node.kernel else None
        assert instrument is not None
        manual.faults.update(drop_before=1.0)
        strategy.modify_order(order, price=instrument.make_price(Decimal("50010")))
        await until(lambda: manual.faults.counts["dropped_before"] >= 4)
        assert order.status is OrderStatus.PENDING_UPDATE
        manual.faults.update(drop_before=0.0)
        await execution.wait_idle(10)
        assert events_named(order, "OrderUpdated", "OrderModifyRejected") == [
            "OrderModifyRejected"
        ]
        assert (order.status, order.venue_order_id) == (OrderStatus.ACCEPTED, old_id)
        assert execution.resolved_modifies == 1 and execution.expired_modifies == 0
        (venue_order,) = await manual_reader.all_orders()
        assert (str(venue_order["orderId"]), venue_order["status"]) == (str(old_id), "NEW")
        assert Decimal(venue_order["price"]) == order.price.as_decimal() == Decimal("50000")
        await execution.user_stream.start()
        await execution.user_stream.wait_connected(5)
        await manual_reader.request(
            "DELETE", ORDER, symbol=SYMBOL, origClientOrderId=str(order.client_order_id)
        )
        await until(lambda: order.status is OrderStatus.CANCELED)
    finally:
        await node.shutdown()


@pytest.mark.asyncio
async def test_a_replacement_the_stream_reports_before_the_lost_answers_query_is_applied_once(
    manual: SandboxVenue, manual_reader: VenueReader
) -> None:
    # The stream is up: the cancel-replace's answer is lost, but the stream reports the
    # replacement (NEW) and then its fill, all before any query is answered. The modify
    # raises the quantity to 0.003, which the replacement fills at once in full: applied as
    # a fill of the unmodified 0.002 order it would overfill; applied after the stream's NEW
    # (OrderUpdated: 0.003 at 50,010) it fills the order. The query then finds it applied.
    node, strategy = await start_node(
        manual,
        cancel_open_orders_on_stop=False,
        venue_options={"submit_resolve_attempts": 4, "submit_resolve_delay_s": 0.2},
    )
    try:
        execution = node.execution_client()
        order = strategy.limit(OrderSide.BUY, "0.002", Decimal("50000"))
        await until(lambda: order.status is OrderStatus.ACCEPTED)
        instrument = node.kernel.cache.instrument(BTCUSDT) if node.kernel else None
        assert instrument is not None
        manual.faults.update(drop_after=1.0)
        strategy.modify_order(
            order,
            quantity=instrument.make_qty(Decimal("0.003")),
            price=instrument.make_price(Decimal("50010")),
        )
        await until(lambda: manual.faults.counts["dropped_after"] >= 1)
        manual.trade(SYMBOL, Decimal("50010"), Decimal("0.003"), buyer_is_maker=True)
        await until(lambda: order.status is OrderStatus.FILLED)  # from the stream alone
        manual.faults.update(drop_after=0.0)
        await execution.wait_idle(10)
        assert execution.lost_modifies == 1 and execution.resolved_modifies == 1
        assert execution.errors == 0
        (_, venue_new) = sorted(await manual_reader.all_orders(), key=lambda o: o["orderId"])
        assert venue_new["status"] == "FILLED"
        assert events_named(order, "OrderUpdated", "OrderModifyRejected") == ["OrderUpdated"]
        assert str(order.venue_order_id) == str(venue_new["orderId"])
        assert (order.quantity.as_decimal(), order.price.as_decimal()) == (
            Decimal("0.003"),
            Decimal("50010"),
        )
        trades = await venue_trades_by_order(manual_reader)
        assert_fills_equal_venue(order, trades[str(order.venue_order_id)])
    finally:
        await node.shutdown()
