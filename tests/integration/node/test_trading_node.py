"""A TradingNode against the sandbox venue on loopback: real sockets, no mocks.

What the node believes (its cache: orders, fills, account) is compared with what the venue
says over its REST API, read by a client written for the tests (``conftest.VenueReader``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from tests.integration.node.conftest import (
    API_KEY,
    BTCUSDT,
    CREDENTIALS,
    SECRET,
    RestingOrders,
    VenueReader,
    closed_port,
    node_config,
    sandbox_config,
)
from zq.backtest.config import StrategyConfig
from zq.cache import Cache
from zq.live.config import LiveVenueConfig, TradingNodeConfig, load_live_config
from zq.live.journal import Journal
from zq.live.node import NodeHealth, NodeStartError, TradingNode
from zq.live.recovery import rebuild
from zq.model.data import QuoteTick, TradeTick
from zq.model.enums import LiquiditySide, OrderStatus
from zq.model.events import OrderAccepted, OrderFilled, OrderUpdated
from zq.portfolio import Portfolio
from zq.risk.engine import TradingState
from zq.sandbox import FaultConfig, MarketConfig, SandboxVenue
from zq.strategy import Strategy

EMA_CROSS = str(Path(__file__).resolve().parents[3] / "examples" / "ema_cross.py") + ":EmaCross"

# zq's order statuses as Binance names them (NEW is ACCEPTED in zq).
BINANCE_STATUS = {
    OrderStatus.ACCEPTED: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
}


async def assert_node_matches_venue(node: TradingNode, reader: VenueReader) -> None:
    """The node's orders, fills and balances equal the venue's, one by one."""
    assert node.kernel is not None
    cache = node.kernel.cache
    # A modified order is a new venue order under the same client order id: the latest counts.
    venue_orders = {
        o["clientOrderId"]: o for o in sorted(await reader.all_orders(), key=lambda o: o["orderId"])
    }
    node_orders = {str(o.client_order_id): o for o in cache.orders() if o.venue_order_id}
    assert set(node_orders) == set(venue_orders)
    for client_order_id, order in node_orders.items():
        theirs = venue_orders[client_order_id]
        assert BINANCE_STATUS[order.status] == theirs["status"], client_order_id
        assert order.filled_qty.as_decimal() == Decimal(theirs["executedQty"])
        assert str(order.venue_order_id) == str(theirs["orderId"])
    node_fills = {
        (str(e.venue_order_id), str(e.trade_id)): e
        for o in cache.orders()
        for e in o.events
        if isinstance(e, OrderFilled)
    }
    venue_trades = {(str(t["orderId"]), str(t["id"])): t for t in await reader.trades()}
    assert set(node_fills) == set(venue_trades)
    for key, fill in node_fills.items():
        trade = venue_trades[key]
        assert fill.last_qty.as_decimal() == Decimal(trade["qty"])
        assert fill.last_px.as_decimal() == Decimal(trade["price"])
        assert fill.commission.as_decimal() == Decimal(trade["commission"])
        assert fill.commission.currency.code == trade["commissionAsset"]
        maker = fill.liquidity_side is LiquiditySide.MAKER
        assert maker == trade["isMaker"]
    account = cache.account_for_venue(BTCUSDT.venue)
    balances = await reader.balances()
    for code in ("BTC", "USDT"):
        assert account.balance(code).as_decimal() == balances[code], code


@pytest.mark.asyncio
async def test_ema_cross_runs_unchanged_and_the_node_equals_the_venue(
    venue: SandboxVenue, reader: VenueReader
) -> None:
    # ACK answers carry no status and no fills: acceptance and every fill reach the node
    # through the user data stream only.
    config = node_config(
        venue,
        strategies=[
            StrategyConfig(
                path=EMA_CROSS,
                params={"instrument_id": "BTCUSDT.BINANCE", "trade_size": "0.01"},
            )
        ],
        run_seconds=3.0,
        venue_options={"new_order_response": "ACK"},
    )
    node = TradingNode(config, credentials=CREDENTIALS, install_signal_handlers=False)
    await node.run()

    assert node.health is NodeHealth.STOPPED
    assert node.heartbeats >= 2
    assert node.kernel is not None
    orders = node.kernel.cache.orders()
    assert len(orders) >= 2  # the EMAs crossed at least twice in 3 s of a 10 ms walk
    assert all(o.status is OrderStatus.FILLED for o in orders)
    execution = node.execution_client()
    assert execution.reports >= 2 * len(orders)  # NEW and TRADE per order, at least
    assert execution.errors == 0 and execution.unknown_reports == 0
    # Starting balances were 100,000 USDT and 1 BTC; the account moved only by the fills.
    await assert_node_matches_venue(node, reader)
    assert node.holdings == {BTCUSDT: Decimal("1")}


@pytest.mark.asyncio
async def test_sigterm_stops_the_node_and_cancels_its_open_orders(
    venue: SandboxVenue, reader: VenueReader
) -> None:
    # Once both resting orders are accepted, the process gets a real SIGTERM.
    strategy = RestingOrders(2, on_all_accepted=lambda: os.kill(os.getpid(), signal.SIGTERM))
    node = TradingNode(node_config(venue, run_seconds=20.0), credentials=CREDENTIALS)
    node.add_strategy(strategy)
    await node.run()

    assert strategy.accepted == 2
    assert node.health is NodeHealth.STOPPED
    assert node.canceled_on_stop == 2
    assert node.kernel is not None
    statuses = [o.status for o in node.kernel.cache.orders()]
    assert statuses == [OrderStatus.CANCELED, OrderStatus.CANCELED]
    assert await reader.open_orders() == []
    assert [o["status"] for o in await reader.all_orders()] == ["CANCELED", "CANCELED"]
    await assert_node_matches_venue(node, reader)


@pytest.mark.asyncio
async def test_stop_without_cancelling_leaves_the_orders_working(
    venue: SandboxVenue, reader: VenueReader
) -> None:
    node = TradingNode(
        node_config(venue, cancel_open_orders_on_stop=False),
        credentials=CREDENTIALS,
        install_signal_handlers=False,
    )
    frozen_while_running: list[int] = []

    def stop() -> None:
        frozen_while_running.append(gc.get_freeze_count())
        node.stop()

    strategy = RestingOrders(2, on_all_accepted=stop)
    node.add_strategy(strategy)
    await node.run()

    assert len(await reader.open_orders()) == 2
    await assert_node_matches_venue(node, reader)
    # Start-up's objects are frozen for the garbage collector while the node runs, not after.
    assert frozen_while_running[0] > 0 and gc.get_freeze_count() == 0


@pytest.mark.asyncio
async def test_a_node_with_a_cpu_affinity_runs_every_thread_on_those_cpus(
    venue: SandboxVenue, reader: VenueReader
) -> None:
    allowed = os.sched_getaffinity(0)
    cpu = max(allowed)
    node = TradingNode(
        node_config(venue, cpu_affinity=[cpu]),
        credentials=CREDENTIALS,
        install_signal_handlers=False,
    )
    node.add_strategy(RestingOrders(1))
    try:
        await node.start()
        try:
            threads = {
                int(tid): os.sched_getaffinity(int(tid)) for tid in os.listdir("/proc/self/task")
            }
        finally:
            await node.shutdown()
    finally:
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(tid), allowed)
    assert threads and set(map(frozenset, threads.values())) == {frozenset({cpu})}


@pytest.mark.asyncio
async def test_a_busy_polling_node_keeps_its_loop_turning_while_it_runs_and_only_then(
    venue: SandboxVenue, reader: VenueReader
) -> None:
    node = TradingNode(
        node_config(venue, busy_poll=True), credentials=CREDENTIALS, install_signal_handlers=False
    )
    strategy = RestingOrders(2)
    node.add_strategy(strategy)
    await node.start()
    try:
        before = node.busy_poll_turns
        # A sleep with nothing else to do: a sleeping loop would make no turn at all.
        await asyncio.sleep(0.1)
        turned = node.busy_poll_turns - before
        while strategy.accepted < 2:
            await asyncio.sleep(0.01)
    finally:
        await node.shutdown()
    after_stop = node.busy_poll_turns
    await asyncio.sleep(0.05)

    assert turned > 100, turned
    assert node.busy_poll_turns == after_stop  # the polling ended with the node
    assert [o.status for o in node.kernel.cache.orders()] == [OrderStatus.CANCELED] * 2
    await assert_node_matches_venue(node, reader)


@pytest.mark.asyncio
async def test_a_node_whose_venue_is_unreachable_refuses_to_start() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    config = TradingNodeConfig(
        venues=[LiveVenueConfig(venue="remote", rest_url=url, ws_url=url.replace("http", "ws"))],
        connect_timeout_s=2.0,
        startup_attempts=3,
        startup_backoff_s=0.05,
    )
    node = TradingNode(config, credentials=CREDENTIALS, install_signal_handlers=False)
    with pytest.raises(NodeStartError) as raised:
        await node.run()
    message = str(raised.value)
    assert f"venue BINANCE at {url} is unreachable" in message
    assert "(3 attempt(s), the last error:" in message
    assert "GET /api/v3/time" in message  # the first request made, and how it failed
    assert node.health is NodeHealth.FAILED


@pytest.mark.asyncio
async def test_a_node_refuses_to_start_beside_open_orders_it_does_not_know(
    venue: SandboxVenue, reader: VenueReader
) -> None:
    placed = await reader.place(
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="10000",
        newClientOrderId="manual-1",
    )
    assert placed["status"] == "NEW"
    node = TradingNode(node_config(venue), credentials=CREDENTIALS, install_signal_handlers=False)
    with pytest.raises(NodeStartError) as raised:
        await node.run()
    message = str(raised.value)
    assert "1 open order(s) this node does not know" in message
    assert "BTCUSDT BUY 0.00100000 @ 10000.00000000 (manual-1)" in message
    assert "unknown_open_orders" in message  # says how to proceed
    assert len(await reader.open_orders()) == 1  # left alone


@pytest.mark.asyncio
async def test_unknown_open_orders_are_cancelled_before_the_strategies_start_when_asked(
    venue: SandboxVenue, reader: VenueReader
) -> None:
    await reader.place(
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="900000",
        newClientOrderId="manual-2",
    )
    node = TradingNode(
        node_config(venue, run_seconds=0.2, venue_options={"unknown_open_orders": "cancel"}),
        credentials=CREDENTIALS,
        install_signal_handlers=False,
    )
    await node.run()
    assert await reader.open_orders() == []
    assert [o["status"] for o in await reader.all_orders()] == ["CANCELED"]


@pytest.mark.asyncio
async def test_submits_whose_answers_are_lost_are_resolved_by_asking_the_venue(
    venue: SandboxVenue, reader: VenueReader
) -> None:
    # 40 % of REST answers are lost after the venue acted, 20 % of requests are dropped
    # before it did: a lost submit may or may not have placed its order. Every order the
    # venue has must be known to the node as working, every other one rejected; then all
    # are cancelled.
    node = TradingNode(
        node_config(venue, venue_options={"submit_resolve_delay_s": 0.05}),
        credentials=CREDENTIALS,
        install_signal_handlers=False,
    )
    strategy = RestingOrders(12)
    node.add_strategy(strategy)
    await node.start()
    venue.faults.update(drop_after=0.4, drop_before=0.2, seed=5)
    assert node.kernel is not None
    cache = node.kernel.cache
    for _ in range(1000):
        if strategy.placed == 12 and not cache.orders_inflight():
            break
        await asyncio.sleep(0.01)
    execution = node.execution_client()
    assert execution.lost_submits > 0  # the faults struck
    assert execution.resolved_submits == execution.lost_submits
    assert not execution.unresolved
    # The stop cancels under the same faults: a cancel whose answer is lost is asked again.
    await node.shutdown()
    venue.faults.update(drop_after=0.0, drop_before=0.0)
    assert await reader.open_orders() == []
    venue_ids = {o["clientOrderId"] for o in await reader.all_orders()}
    for order in cache.orders():
        placed = str(order.client_order_id) in venue_ids
        assert order.status is (OrderStatus.CANCELED if placed else OrderStatus.REJECTED)
    assert node.canceled_on_stop == len(venue_ids)
    await assert_node_matches_venue(node, reader)


class ModifyOnce(RestingOrders):
    """One resting bid, modified once accepted: 0.002 BTC, 1 % lower."""

    def __init__(self) -> None:
        super().__init__(1)
        self.updates: list[OrderUpdated] = []
        self.on_updated = lambda: None
        self.before_modify = lambda: None

    def on_order_accepted(self, event: OrderAccepted) -> None:
        super().on_order_accepted(event)
        order = self.cache.order(event.client_order_id)
        instrument = self.cache.instrument(BTCUSDT)
        assert order is not None and order.price is not None and instrument is not None
        if not self.updates:
            price = (order.price.as_decimal() * Decimal("0.99")).quantize(Decimal("0.01"))
            self.before_modify()
            self.modify_order(
                order, instrument.make_qty(Decimal("0.002")), instrument.make_price(price)
            )

    def on_order_updated(self, event: OrderUpdated) -> None:
        self.updates.append(event)
        self.on_updated()


@pytest.mark.parametrize("answer_lost", [False, True], ids=["answered", "answer-lost"])
@pytest.mark.asyncio
async def test_a_limit_order_is_modified_by_cancel_replace_under_the_same_client_order_id(
    venue: SandboxVenue, reader: VenueReader, answer_lost: bool
) -> None:
    # answer-lost: the venue replaces the order but its answer is dropped (every REST answer
    # is lost for 50 ms); the node learns of the replacement by asking for the order.
    node = TradingNode(
        node_config(venue, cancel_open_orders_on_stop=False, run_seconds=10.0),
        credentials=CREDENTIALS,
        install_signal_handlers=False,
    )
    strategy = ModifyOnce()
    strategy.on_updated = node.stop
    if answer_lost:

        def lose_answers() -> None:
            venue.faults.update(drop_after=1.0)
            asyncio.get_running_loop().call_later(0.05, lambda: venue.faults.update(drop_after=0.0))

        strategy.before_modify = lose_answers
    node.add_strategy(strategy)
    await node.run()

    assert node.kernel is not None
    (order,) = node.kernel.cache.orders()
    (update,) = strategy.updates
    assert order.status is OrderStatus.ACCEPTED
    assert order.quantity.as_decimal() == Decimal("0.002")
    assert order.price == update.price
    venue_orders = sorted(await reader.all_orders(), key=lambda o: o["orderId"])
    assert [(o["clientOrderId"], o["status"]) for o in venue_orders] == [
        (str(order.client_order_id), "CANCELED"),
        (str(order.client_order_id), "NEW"),
    ]
    replacement = venue_orders[1]
    assert str(order.venue_order_id) == str(replacement["orderId"])
    assert Decimal(replacement["origQty"]) == Decimal("0.002")
    assert Decimal(replacement["price"]) == order.price.as_decimal()  # type: ignore[union-attr]
    assert (venue.faults.counts["dropped_after"] > 0) is answer_lost
    await assert_node_matches_venue(node, reader)


@pytest.mark.asyncio
async def test_duplicated_reordered_and_lost_stream_events_leave_the_node_equal_to_the_venue(
    reader: VenueReader,
) -> None:
    # The user stream repeats 30 % of its events, holds back 30 % behind the next one, and
    # every WebSocket is cut each second (events sent meanwhile are lost; the node reconciles
    # its open and in-flight orders after each reconnect). ACK answers: no REST fills.
    faults = FaultConfig(duplicate=0.3, reorder=0.3, disconnect_every=1.0, seed=11)
    async with SandboxVenue(sandbox_config(faults=faults)) as venue:
        reader.base = venue.url
        config = node_config(
            venue,
            strategies=[
                StrategyConfig(
                    path=EMA_CROSS,
                    params={"instrument_id": "BTCUSDT.BINANCE", "trade_size": "0.01"},
                )
            ],
            run_seconds=4.0,
            venue_options={"new_order_response": "ACK"},
        )
        node = TradingNode(config, credentials=CREDENTIALS, install_signal_handlers=False)
        await node.run()
        struck = venue.faults.counts
        assert node.kernel is not None
        orders = node.kernel.cache.orders()
        assert orders and all(o.status is OrderStatus.FILLED for o in orders)
        execution = node.execution_client()
        assert execution.stale_reports > 0  # repeats were seen and dropped
        assert execution.user_stream.websocket.stats.reconnects >= 2, struck
        await assert_node_matches_venue(node, reader)


@pytest.mark.asyncio
async def test_a_restarted_node_rebuilds_its_orders_from_the_journal_and_reconciles_them(
    venue: SandboxVenue, reader: VenueReader, tmp_path: Path
) -> None:
    journal_path = tmp_path / "node.journal"
    first = TradingNode(
        node_config(venue, journal=str(journal_path), cancel_open_orders_on_stop=False),
        credentials=CREDENTIALS,
        install_signal_handlers=False,
    )
    first.add_strategy(RestingOrders(2, on_all_accepted=lambda: first.stop()))
    await first.run()
    assert first.kernel is not None
    ids = [str(o.client_order_id) for o in first.kernel.cache.orders()]
    # While the node is down, one of its two working orders is cancelled at the venue.
    await reader.request("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId=ids[0])

    second = TradingNode(
        node_config(venue, journal=str(journal_path)),
        credentials=CREDENTIALS,
        install_signal_handlers=False,
    )
    second.add_strategy(RestingOrders(1, on_all_accepted=lambda: second.stop()))
    await second.run()  # does not refuse: the venue's open order is one it knows

    assert second.recovery is not None
    assert sorted(map(str, second.recovery.open_orders)) == sorted(ids)
    assert second.kernel is not None
    orders = {str(o.client_order_id): o for o in second.kernel.cache.orders()}
    (new_id,) = set(orders) - set(ids)
    assert new_id.endswith("-3")  # the strategy's order count went on from the journal
    cancels = [e for e in orders[ids[0]].events if type(e).__name__ == "OrderCanceled"]
    assert len(cancels) == 1  # generated by the reconciliation, not edited in
    assert all(o.status is OrderStatus.CANCELED for o in orders.values())  # the rest on stop
    await assert_node_matches_venue(second, reader)

    # The journal now holds both sessions: a fresh rebuild gives the same orders.
    with Journal(journal_path, readonly=True) as journal:
        cache = Cache()
        summary = rebuild(journal, cache, Portfolio(cache))
    assert summary.last_marker is not None and summary.last_marker.name == "stop"
    assert {str(o.client_order_id): o.status for o in cache.orders()} == {
        coid: o.status for coid, o in orders.items()
    }


@pytest.mark.asyncio
async def test_a_restarted_node_takes_its_account_and_positions_from_the_journal(
    venue: SandboxVenue, reader: VenueReader, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal_path = tmp_path / "node.journal"
    ema_cross = StrategyConfig(
        path=EMA_CROSS, params={"instrument_id": "BTCUSDT.BINANCE", "trade_size": "0.01"}
    )
    config = node_config(venue, journal=str(journal_path), strategies=[ema_cross])
    first = TradingNode(
        msgspec.structs.replace(config, run_seconds=2.0),
        credentials=CREDENTIALS,
        install_signal_handlers=False,
    )
    await first.run()
    assert first.kernel is not None
    fills = sum(isinstance(e, OrderFilled) for o in first.kernel.cache.orders() for e in o.events)
    assert fills >= 1
    position = first.portfolio.net_position(BTCUSDT) if first.portfolio else None

    second = TradingNode(
        msgspec.structs.replace(config, run_seconds=0.5),
        credentials=CREDENTIALS,
        install_signal_handlers=False,
    )
    with caplog.at_level("WARNING", logger="zq.live"):
        await second.start()
        try:
            assert second.recovery is not None and second.recovery.fills == fills
            # Rebuilt from the fills alone, the account equals the venue's: nothing to adjust.
            assert not [r for r in caplog.records if "differs from the journal" in r.message]
            assert second.portfolio is not None
            assert second.portfolio.net_position(BTCUSDT) == position
        finally:
            await second.shutdown()
    await assert_node_matches_venue(second, reader)


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
@pytest.mark.asyncio
async def test_a_node_killed_with_sigkill_restarts_from_its_journal_equal_to_the_venue(
    venue: SandboxVenue, reader: VenueReader, tmp_path: Path, synchronous: str
) -> None:
    # `zq live` runs the EMA cross in another process, journaling; once the venue shows
    # a few of its trades it is killed (no stop, no flush). A node started here on the same
    # journal rebuilds, reconciles what the journal missed, and ends equal to the venue.
    # Both synchronous modes survive the death of the process (NORMAL not a power loss).
    journal_path = tmp_path / "node.journal"
    config_path = tmp_path / "live.toml"
    config_path.write_text(
        f"""
journal = "{journal_path}"
journal_synchronous = "{synchronous}"
heartbeat_interval_s = 0.5

[[venues]]
venue = "remote"
rest_url = "{venue.url}"
ws_url = "{venue.ws_url}"
credentials = {{ api_key_env = "ZQ_TEST_KEY", api_secret_env = "ZQ_TEST_SECRET" }}

[[strategies]]
path = "{EMA_CROSS}"
params = {{ instrument_id = "BTCUSDT.BINANCE", trade_size = "0.01" }}
"""
    )
    environment = {**os.environ, "ZQ_TEST_KEY": API_KEY, "ZQ_TEST_SECRET": SECRET}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zq",
        "live",
        str(config_path),
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        # Up to a minute: on a loaded 2-core machine the process's start-up alone can take
        # many seconds. A process that died on its own fails the test here, not later.
        for _ in range(1200):
            if len(await reader.trades()) >= 3 or process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert process.returncode is None, f"`zq live` exited by itself: {process.returncode}"
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    venue_trades = len(await reader.trades())
    assert venue_trades >= 3

    config = load_live_config(config_path)
    assert config.journal_synchronous == synchronous
    restarted = TradingNode(
        msgspec.structs.replace(config, run_seconds=0.5),
        install_signal_handlers=False,
        credentials=CREDENTIALS,
    )
    await restarted.start()
    try:
        assert restarted.journal is not None
        assert restarted.journal.synchronous == synchronous
        # What SQLite itself runs with (its codes: FULL 2, NORMAL 1).
        db = restarted.journal._db
        assert db is not None
        assert db.execute("PRAGMA synchronous").fetchone()[0] == {"FULL": 2, "NORMAL": 1}[
            synchronous
        ]
        await asyncio.sleep(0.5)
    finally:
        await restarted.shutdown()
    assert restarted.recovery is not None
    assert restarted.recovery.last_marker is not None
    assert restarted.recovery.last_marker.name == "start"  # it never stopped
    assert restarted.kernel is not None
    await assert_node_matches_venue(restarted, reader)
    node_fills = [
        e for o in restarted.kernel.cache.orders() for e in o.events if isinstance(e, OrderFilled)
    ]
    assert len(node_fills) == len(await reader.trades()) >= venue_trades


class BookWatcher(Strategy):  # type: ignore[type-arg]
    """Subscribes to the L2 book and the quotes of BTCUSDT; keeps the quotes."""

    def __init__(self) -> None:
        super().__init__(strategy_id="Watcher-001", order_id_tag="002")
        self.quotes: list[QuoteTick] = []

    def on_start(self) -> None:
        self.subscribe_book_deltas(BTCUSDT)
        self.subscribe_quotes(BTCUSDT)

    def on_quote(self, quote: QuoteTick) -> None:
        self.quotes.append(quote)


@pytest.mark.asyncio
async def test_the_node_book_and_quotes_follow_the_venue_market() -> None:
    def d(text: str) -> Decimal:
        return Decimal(text)

    async with (
        SandboxVenue(sandbox_config(market=MarketConfig(kind="manual"))) as venue,
        aiohttp.ClientSession() as session,
    ):
        venue.set_levels(
            "BTCUSDT",
            bids=[(d("60000"), d("1.5")), (d("59999.5"), d("2.00001"))],
            asks=[(d("60001"), d("0.25")), (d("60002"), d("3"))],
        )
        node = TradingNode(
            node_config(venue), credentials=CREDENTIALS, install_signal_handlers=False
        )
        watcher = BookWatcher()
        node.add_strategy(watcher)
        await node.start()
        try:
            engine = node.data_engine

            async def book_shows(best_ask: str) -> bool:
                for _ in range(300):
                    book = engine.order_book(BTCUSDT)
                    asks = [] if book is None else book.asks(1)
                    if asks and asks[0][0].as_decimal() == d(best_ask):
                        return True
                    await asyncio.sleep(0.01)
                return False

            assert await book_shows("60001")
            # The best bid goes, a better ask comes: diffs on the depth stream.
            venue.set_levels(
                "BTCUSDT", bids=[(d("60000"), d("0"))], asks=[(d("60000.5"), d("0.1"))]
            )
            assert await book_shows("60000.5")
            async with session.get(f"{venue.url}/api/v3/depth?symbol=BTCUSDT&limit=10") as answer:
                depth = await answer.json()
            book = engine.order_book(BTCUSDT)
            assert book is not None
            levels = [(p.as_decimal(), s.as_decimal()) for p, s in book.bids(10)]
            assert levels == [(d(p), d(s)) for p, s in depth["bids"]]
            levels = [(p.as_decimal(), s.as_decimal()) for p, s in book.asks(10)]
            assert levels == [(d(p), d(s)) for p, s in depth["asks"]]
            assert levels[0] == (d("60000.5"), d("0.1"))
            for _ in range(300):
                if watcher.quotes and watcher.quotes[-1].ask_price.as_decimal() == d("60000.5"):
                    break
                await asyncio.sleep(0.01)
            last = watcher.quotes[-1]
            assert (last.bid_price.as_decimal(), last.bid_size.as_decimal()) == (
                d("59999.5"),
                d("2.00001"),
            )
            assert (last.ask_price.as_decimal(), last.ask_size.as_decimal()) == (
                d("60000.5"),
                d("0.1"),
            )
        finally:
            await node.shutdown()


@pytest.mark.asyncio
async def test_a_journal_that_fails_while_running_halts_trading_and_stops_the_node(
    venue: SandboxVenue, reader: VenueReader, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node = TradingNode(
        node_config(venue, journal=str(tmp_path / "node.journal"), run_seconds=10.0),
        credentials=CREDENTIALS,
        install_signal_handlers=False,
    )

    def break_journal() -> None:
        assert node.journal is not None
        node.journal.close()  # the next write fails, as on a full disk

    strategy = RestingOrders(3)
    strategy.on_order_accepted = lambda event: break_journal()  # type: ignore[method-assign]
    node.add_strategy(strategy)
    with caplog.at_level("ERROR", logger="zq.live"):
        await node.run()
    assert any("the journal failed, halting and stopping" in r.message for r in caplog.records)
    assert node.health is NodeHealth.STOPPED
    assert node.risk_engine.trading_state is TradingState.HALTED
    assert node.kernel is not None
    orders = node.kernel.cache.orders()
    assert orders and all(o.is_closed for o in orders)  # cancelled at the stop, or denied
    assert await reader.open_orders() == []


class QuotesThenTrades(Strategy):  # type: ignore[type-arg]
    """Subscribes to quotes and trades; drops the quotes after the first few."""

    def __init__(self) -> None:
        super().__init__(strategy_id="Streams-001", order_id_tag="003")
        self.quotes = 0
        self.trades = 0
        self.trades_after_unsubscribe = 0
        self.quotes_after_unsubscribe = 0
        self.unsubscribed = False
        self.probe: Any = lambda: ()
        self.streams_later: tuple[str, ...] = ()

    def on_start(self) -> None:
        self.subscribe_quotes(BTCUSDT)
        self.subscribe_trades(BTCUSDT)

    def on_quote(self, quote: QuoteTick) -> None:
        self.quotes += 1
        if self.unsubscribed:
            self.quotes_after_unsubscribe += 1
        elif self.quotes == 5:
            self.unsubscribe_quotes(BTCUSDT)
            self.unsubscribed = True

    def on_trade(self, trade: TradeTick) -> None:
        self.trades += 1
        if self.unsubscribed:
            self.trades_after_unsubscribe += 1
            if self.trades_after_unsubscribe == 10:
                self.streams_later = tuple(self.probe())


@pytest.mark.asyncio
async def test_dropping_one_stream_of_an_instrument_keeps_its_others(venue: SandboxVenue) -> None:
    node = TradingNode(
        node_config(venue, run_seconds=1.5), credentials=CREDENTIALS, install_signal_handlers=False
    )
    strategy = QuotesThenTrades()
    strategy.probe = lambda: node.data_client().market.websocket.streams
    node.add_strategy(strategy)
    await node.run()
    assert strategy.unsubscribed
    assert strategy.quotes_after_unsubscribe == 0
    assert strategy.trades_after_unsubscribe >= 10
    # At the venue: the trade stream alone is left (the adapter drops an instrument's
    # streams together; the client subscribed the trades again).
    assert strategy.streams_later == ("btcusdt@trade",)
    assert node.data_client().errors == 0
