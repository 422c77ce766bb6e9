"""The fault run: thousands of orders through a TradingNode against a faulty sandbox venue.

A scripted strategy submits limit orders (most rest away from the market, some cross it and
fill), modifies working ones (Binance cancel-replace) and cancels others, while the venue
drops 10 % of REST answers (5 % before it acted, 5 % after: the order may or may not exist),
cuts every WebSocket every two seconds and repeats and reorders user-stream events.
Afterwards, read with the tests' own signed client:

- every client order id the strategy created is known to the venue (once, plus one venue order
  per modify the node applied) or was resolved as never placed; none is at the venue unknown
  to the node;
- the node's orders (status, filled quantity, venue order id), fills (trade id, quantity, price,
  commission), net position and balances equal the venue's; the venue's balances equal the
  starting balances moved by its own trades (computed here).

The order count is ``ZQ_FAULT_ORDERS`` (default 10,000, the run of issue 5: 22-32 s here).
The second test runs ``ZQ_FAULT_KILL_ORDERS`` (default half of that) in a ``zq live`` process,
kills it with SIGKILL half way, and restarts from its journal, which carries the run on to the
end (~30 s here). ``-s`` prints the fault counters and the outcome counts. The third test
leaves a cancel and a modify pending in a node's journal and checks the restart finishes them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import sys
import time
from collections import Counter
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
    SYMBOL,
    RestingOrders,
    VenueReader,
    node_config,
    sandbox_config,
)
from zq.backtest.config import StrategyConfig
from zq.live.config import load_live_config
from zq.live.node import TradingNode
from zq.model.data import QuoteTick
from zq.model.enums import LiquiditySide, OrderSide, OrderStatus
from zq.model.events import OrderFilled, OrderUpdated
from zq.model.identifiers import InstrumentId
from zq.model.orders import Order
from zq.sandbox import FaultConfig, MarketConfig, SandboxVenue
from zq.strategy import Strategy

ORDERS = int(os.environ.get("ZQ_FAULT_ORDERS", "10000"))
FAULTS = FaultConfig(
    drop_before=0.05, drop_after=0.05, disconnect_every=2.0, duplicate=0.1, reorder=0.1, seed=7
)
START = {"USDT": Decimal("100000"), "BTC": Decimal("1")}
THIS_FILE = Path(__file__).resolve()
REPO = THIS_FILE.parents[3]

BINANCE_STATUS = {
    OrderStatus.ACCEPTED: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
}


class ChurnParams(msgspec.Struct, frozen=True):
    instrument_id: str = "BTCUSDT.BINANCE"
    orders: int = 1000  # client order ids to create in all
    seed: int = 1
    actions_per_quote: int = 4
    max_inflight: int = 12  # commands awaiting the venue's answer
    max_open: int = 30  # working orders at most


class Churn(Strategy[ChurnParams]):
    """Submit, modify and cancel limit orders at random (seeded) on each quote.

    A submit rests 0.5-5 % away from the touch (four in five) or crosses it by 0.1 % (it
    fills against the book, possibly in part); a modify moves a working order's price and
    quantity; a cancel ends one. ``finished`` is set once ``orders`` ids were created and none
    awaits an answer. On a restart the orders already in the cache (rebuilt from the journal)
    count.
    """

    def __init__(
        self,
        params: ChurnParams | None = None,
        *,
        strategy_id: str | None = "Churn-001",
        order_id_tag: str = "009",
    ) -> None:
        super().__init__(
            params or ChurnParams(), strategy_id=strategy_id, order_id_tag=order_id_tag
        )
        self.instrument_id = InstrumentId(self.params.instrument_id)
        self.rng = random.Random(self.params.seed)
        self.placed = 0
        self.actions: Counter[str] = Counter()
        self.finished = False  # all ids created and none awaiting the venue

    def on_start(self) -> None:
        self.placed = len(self.cache.orders(strategy_id=self.id))
        self.subscribe_quotes(self.instrument_id)

    def on_quote(self, quote: QuoteTick) -> None:
        if self.placed >= self.params.orders:
            if not self.finished and not self.cache.orders_inflight(strategy_id=self.id):
                self.finished = True
            return
        instrument = self.cache.instrument(self.instrument_id)
        assert instrument is not None
        bid = quote.bid_price.as_decimal()
        ask = quote.ask_price.as_decimal()
        rng = self.rng
        for _ in range(self.params.actions_per_quote):
            if len(self.cache.orders_inflight(strategy_id=self.id)) >= self.params.max_inflight:
                return
            working = [
                o
                for o in self.cache.orders_open(strategy_id=self.id)
                if o.status is OrderStatus.ACCEPTED
            ]
            draw = rng.random()
            if working and (draw < 0.25 or len(working) >= self.params.max_open):
                order = rng.choice(working)
                if draw < 0.125:
                    self.actions["modify"] += 1
                    assert order.price is not None
                    factor = Decimal(1) + Decimal(rng.choice((-2, -1, 1, 2))) / 1000
                    self.modify_order(
                        order,
                        instrument.make_qty(Decimal(rng.choice(("0.001", "0.002", "0.003")))),
                        instrument.make_price(
                            (order.price.as_decimal() * factor).quantize(Decimal("0.01"))
                        ),
                    )
                else:
                    self.actions["cancel"] += 1
                    self.cancel_order(order)
                continue
            if self.placed >= self.params.orders:
                return
            buy = rng.random() < 0.5
            if rng.random() < 0.2:
                self.actions["crossing submit"] += 1
                price = ask * Decimal("1.001") if buy else bid * Decimal("0.999")
            else:
                self.actions["resting submit"] += 1
                away = Decimal(rng.randint(5, 50)) / 1000
                price = bid * (1 - away) if buy else ask * (1 + away)
            order = self.order_factory.limit(
                self.instrument_id,
                OrderSide.BUY if buy else OrderSide.SELL,
                instrument.make_qty(Decimal(rng.choice(("0.001", "0.002")))),
                instrument.make_price(price.quantize(Decimal("0.01"))),
            )
            self.placed += 1
            self.submit_order(order)


def churn_config(orders: int) -> StrategyConfig:
    return StrategyConfig(path=f"{THIS_FILE}:Churn", params={"orders": orders, "seed": 1})


def venue_config() -> Any:
    # The market moves every 2 ms; the limits are raised so that the run is not throttled
    # (a high-rate run, not a test of the 429 path).
    return sandbox_config(
        market=MarketConfig(kind="generated", interval=0.002, seed=3),
        faults=FaultConfig(),
        orders_per_10s=1_000_000,
        orders_per_day=1_000_000,
        weight_limit=1_000_000_000,
        # Request weight is per IP, and a client that has not read exchangeInfo yet assumes
        # Binance's 6,000 per minute: a restarting node seeing the killed one's weight would
        # wait for the minute to pass. A one-second window keeps the figure small.
        weight_window=1.0,
    )


async def paged(reader: VenueReader, path: str, key: str, param: str) -> list[dict[str, Any]]:
    """Every row of allOrders / myTrades, 1,000 at a time from the first id."""
    rows: list[dict[str, Any]] = []
    start = 0
    while True:
        page = await reader.request("GET", path, symbol=SYMBOL, limit=1000, **{param: start})
        rows.extend(page)
        if len(page) < 1000:
            return rows
        start = int(page[-1][key]) + 1


async def assert_node_equals_venue(
    node: TradingNode, reader: VenueReader, strategy_id: str = "Churn-001"
) -> Counter[str]:
    """Check the node against the venue, order by order; return the outcome counts."""
    assert node.kernel is not None and node.portfolio is not None
    cache = node.kernel.cache
    venue_orders: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(
        await paged(reader, "/api/v3/allOrders", "orderId", "orderId"), key=lambda o: o["orderId"]
    ):
        venue_orders.setdefault(row["clientOrderId"], []).append(row)
    orders: dict[str, Order] = {str(o.client_order_id): o for o in cache.orders()}
    assert all(str(o.strategy_id) == strategy_id for o in orders.values())
    # Nothing at the venue the node does not know.
    assert set(venue_orders) <= set(orders), sorted(set(venue_orders) - set(orders))[:5]
    outcomes: Counter[str] = Counter()
    for coid, order in orders.items():
        chain = venue_orders.get(coid)
        if chain is None:
            # Resolved as never placed: the submit's answer was lost, the venue has no such
            # order; or refused outright. Never left in flight.
            assert order.status is OrderStatus.REJECTED, (coid, order.status)
            outcomes["never placed (rejected)"] += 1
            continue
        # One venue order per submit, plus one per cancel-replace the node applied: a
        # client order id is never placed twice.
        updates = sum(isinstance(e, OrderUpdated) for e in order.events)
        assert len(chain) == 1 + updates, (
            coid,
            [(o["orderId"], o["status"], o["origQty"], o["executedQty"]) for o in chain],
            [(type(e).__name__, str(getattr(e, "venue_order_id", ""))) for e in order.events],
        )
        assert all(o["status"] == "CANCELED" for o in chain[:-1]), coid
        latest = chain[-1]
        assert BINANCE_STATUS[order.status] == latest["status"], (coid, order.status, latest)
        assert str(order.venue_order_id) == str(latest["orderId"]), coid
        assert order.quantity.as_decimal() == Decimal(latest["origQty"]) + sum(
            (Decimal(o["executedQty"]) for o in chain[:-1]), Decimal(0)
        ), coid
        assert order.filled_qty.as_decimal() == sum(
            (Decimal(o["executedQty"]) for o in chain), Decimal(0)
        ), coid
        outcomes[f"placed, {latest['status']}"] += 1
        outcomes["modified (venue orders replaced)"] += updates
    trades = await paged(reader, "/api/v3/myTrades", "id", "fromId")
    fills = {
        (str(e.venue_order_id), str(e.trade_id)): e
        for o in orders.values()
        for e in o.events
        if isinstance(e, OrderFilled)
    }
    venue_trades = {(str(t["orderId"]), str(t["id"])): t for t in trades}
    assert len(fills) == sum(isinstance(e, OrderFilled) for o in orders.values() for e in o.events)
    assert set(fills) == set(venue_trades)
    for key, fill in fills.items():
        trade = venue_trades[key]
        assert fill.last_qty.as_decimal() == Decimal(trade["qty"]), key
        assert fill.last_px.as_decimal() == Decimal(trade["price"]), key
        assert fill.commission.as_decimal() == Decimal(trade["commission"]), key
        assert fill.commission.currency.code == trade["commissionAsset"], key
        assert (fill.liquidity_side is LiquiditySide.MAKER) == trade["isMaker"], key
    outcomes["fills"] = len(fills)
    # The venue's balances, recomputed here from its trades: the start moved by each trade
    # (buyer: +qty BTC, -quoteQty USDT; seller the reverse) less its commission.
    expected = dict(START)
    net = Decimal(0)
    for trade in trades:
        qty, quote_qty = Decimal(trade["qty"]), Decimal(trade["quoteQty"])
        sign = 1 if trade["isBuyer"] else -1
        net += sign * qty
        expected["BTC"] += sign * qty
        expected["USDT"] -= sign * quote_qty
        expected[trade["commissionAsset"]] -= Decimal(trade["commission"])
    balances = await reader.balances()
    account = cache.account_for_venue(BTCUSDT.venue)
    for code in ("BTC", "USDT"):
        assert balances[code] == expected[code], (code, balances[code], expected[code])
        assert account.balance(code).as_decimal() == balances[code], code
    assert node.portfolio.net_position(BTCUSDT) == net
    return outcomes


def report(
    title: str,
    venue: SandboxVenue,
    node: TradingNode,
    outcomes: Counter[str],
    seconds: float,
    extra: dict[str, Any] | None = None,
) -> None:
    execution = node.execution_client()
    print(f"\n{title}: {seconds:.1f} s")
    print(f"  venue faults struck: {venue.faults.counts}")
    print(
        f"  node: lost submits {execution.lost_submits}, resolved {execution.resolved_submits}, "
        f"unresolved {len(execution.unresolved)}, stale reports {execution.stale_reports}, "
        f"reports {execution.reports}, user-stream reconnects "
        f"{execution.user_stream.websocket.stats.reconnects}, reconciliations "
        f"{execution.reconciliations}, cancels resumed after a restart {execution.resumed_cancels}"
    )
    print(
        f"  catch-ups {execution.catch_ups}, trades of no order of the node "
        f"{execution.foreign_trades}, submits past their deadline {execution.expired_submits}, "
        f"orphans cancelled {execution.orphans_cancelled}, task errors {execution.errors}"
    )
    print(f"  outcomes: {dict(sorted(outcomes.items()))}")
    for key, value in (extra or {}).items():
        print(f"  {key}: {value}")


async def wait_for_churn(
    node: TradingNode, strategy: Any, timeout: float, venue: SandboxVenue | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not strategy.finished:
        if venue is not None and venue.market_task is not None and venue.market_task.done():
            raise AssertionError(f"the venue's market stopped: {venue.market_task!r}")
        if time.monotonic() > deadline:
            assert node.kernel is not None
            stuck = [
                (str(o.client_order_id), o.status.name) for o in node.kernel.cache.orders_inflight()
            ]
            raise AssertionError(
                f"the churn did not finish in {timeout} s: {strategy.placed} placed, "
                f"in flight: {stuck[:10]} ({len(stuck)}); market data: "
                f"{node.data_client().market.websocket.stats}, {node.data_client().quotes} quotes"
            )
        await asyncio.sleep(0.05)


async def wait_for_resolved(execution: Any, timeout: float) -> None:
    """Wait until no order is left in doubt.

    An order whose command and query both went unanswered is asked for again at each
    heartbeat (every 0.5 s here), still under the faults, so one may be in doubt at the very
    moment the churn ends; the guarantee is that it is resolved, not that it already was.
    """
    deadline = time.monotonic() + timeout
    while execution.unresolved:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"still unresolved after {timeout} s: {sorted(map(str, execution.unresolved))}"
            )
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_orders_under_dropped_answers_disconnects_and_repeated_events_all_match_the_venue() -> (
    None
):
    started = time.monotonic()
    async with SandboxVenue(venue_config()) as venue, aiohttp.ClientSession() as session:
        reader = VenueReader(session, venue.url)
        node = TradingNode(
            node_config(venue, venue_options={"submit_resolve_delay_s": 0.05}),
            credentials=CREDENTIALS,
            install_signal_handlers=False,
        )
        strategy = Churn(ChurnParams(orders=ORDERS))
        node.add_strategy(strategy)
        await node.start()
        try:
            venue.faults.update(**dataclasses.asdict(FAULTS))
            await wait_for_churn(node, strategy, max(30.0, ORDERS / 50), venue)
            execution = node.execution_client()
            await wait_for_resolved(execution, timeout=10.0)
        finally:
            # The stop cancels the working orders under the same faults.
            await node.shutdown()
        venue.faults.update(drop_before=0.0, drop_after=0.0, disconnect_every=0.0)
        assert await reader.open_orders() == []
        outcomes = await assert_node_equals_venue(node, reader)
        struck = venue.faults.counts
        assert struck["dropped_before"] > 0 and struck["dropped_after"] > 0
        assert struck["duplicated"] > 0 and struck["reordered"] > 0
        # Every cut of the user stream (one per ``disconnect_every`` seconds) was survived.
        assert execution.user_stream.websocket.stats.reconnects >= min(1, struck["disconnects"])
        assert execution.lost_submits > 0 and execution.resolved_submits == execution.lost_submits
        assert sum(v for k, v in outcomes.items() if k.startswith(("placed", "never"))) == ORDERS
        report(
            f"fault run, {ORDERS} orders",
            venue,
            node,
            outcomes,
            time.monotonic() - started,
            {"strategy actions": dict(strategy.actions)},
        )


@pytest.mark.asyncio
async def test_a_fault_run_killed_with_sigkill_half_way_restarts_from_its_journal_and_matches(
    tmp_path: Path,
) -> None:
    # `zq live` runs the churn in another process under the same faults, journaling; once the
    # venue has seen about half the orders it is killed (no stop, no flush). A node started
    # here on the same journal rebuilds, reconciles, and carries the churn on to the end.
    orders = int(os.environ.get("ZQ_FAULT_KILL_ORDERS", max(200, ORDERS // 2)))
    started = time.monotonic()
    async with SandboxVenue(venue_config()) as venue, aiohttp.ClientSession() as session:
        reader = VenueReader(session, venue.url)
        journal_path = tmp_path / "node.journal"
        config_path = tmp_path / "live.toml"
        config_path.write_text(
            f"""
journal = "{journal_path}"
heartbeat_interval_s = 0.5

[[venues]]
venue = "remote"
rest_url = "{venue.url}"
ws_url = "{venue.ws_url}"
submit_resolve_delay_s = 0.05
credentials = {{ api_key_env = "ZQ_TEST_KEY", api_secret_env = "ZQ_TEST_SECRET" }}

[[strategies]]
path = "{THIS_FILE}:Churn"
params = {{ orders = {orders}, seed = 1 }}
"""
        )
        environment = {
            **os.environ,
            "ZQ_TEST_KEY": API_KEY,
            "ZQ_TEST_SECRET": SECRET,
            "PYTHONPATH": str(REPO),
        }
        # Its stderr is kept: should it end before it is killed, the failure shows why.
        stderr_path = tmp_path / "zq-live.stderr"
        stderr_file = stderr_path.open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "zq",
            "live",
            str(config_path),
            env=environment,
            cwd=str(REPO),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr_file,
        )
        try:
            # The faults strike once the node trades (its start-up gives up on a request
            # after two retries; see below).
            faulty = False
            for _ in range(1200):
                try:  # the reader's requests are dropped too, now and then
                    latest = await reader.request(
                        "GET", "/api/v3/allOrders", symbol=SYMBOL, limit=1
                    )
                except aiohttp.ClientError:
                    continue
                if latest and not faulty:
                    venue.faults.update(**dataclasses.asdict(FAULTS))
                    faulty = True
                if latest and int(latest[-1]["orderId"]) >= orders // 2:
                    break
                if process.returncode is not None:
                    break
                await asyncio.sleep(0.05)
        finally:
            if process.returncode is None:  # signalling an ended process raises
                process.send_signal(signal.SIGKILL)
            await process.wait()
            stderr_file.close()
        assert process.returncode == -signal.SIGKILL, (
            f"zq live ended with {process.returncode} before it was killed; its stderr ends:\n"
            + stderr_path.read_text(errors="replace")[-3000:]
        )
        venue.faults.update(drop_before=0.0, drop_after=0.0)  # for the reads and the start-up
        killed_at = len(await paged(reader, "/api/v3/allOrders", "orderId", "orderId"))

        restarted = TradingNode(
            load_live_config(config_path),
            install_signal_handlers=False,
            credentials=CREDENTIALS,
        )
        # The start-up requests (exchangeInfo, account, open orders, the order queries of the
        # reconciliation) were made without dropped answers: the node's start-up gives up on
        # a request after two retries, which 10 % of dropped answers defeats now and then.
        # The faults come back once it runs.
        await restarted.start()
        venue.faults.update(**dataclasses.asdict(FAULTS))
        try:
            # Loaded from this file by path: another module than this one's ``Churn``.
            (strategy,) = restarted.strategies
            assert type(strategy).__name__ == "Churn"
            resumed_from = len(restarted.kernel.cache.orders()) if restarted.kernel else 0
            assert 0 < resumed_from < orders
            assert restarted.recovery is not None
            await wait_for_churn(restarted, strategy, max(30.0, orders / 50), venue)
        finally:
            await restarted.shutdown()
        venue.faults.update(drop_before=0.0, drop_after=0.0, disconnect_every=0.0)
        assert await reader.open_orders() == []
        outcomes = await assert_node_equals_venue(restarted, reader)
        assert sum(v for k, v in outcomes.items() if k.startswith(("placed", "never"))) == orders
        report(
            f"fault run with SIGKILL, {orders} orders",
            venue,
            restarted,
            outcomes,
            time.monotonic() - started,
            {
                "venue orders when killed": killed_at,
                "orders rebuilt from the journal": resumed_from,
                "last journal marker": restarted.recovery.last_marker,
            },
        )


@pytest.mark.asyncio
async def test_a_cancel_and_a_modify_left_pending_by_a_stopped_node_are_finished_on_restart(
    tmp_path: Path,
) -> None:
    # The first node's cancel and modify find the venue gone (every request dropped before
    # the venue acts) and the node stops before they give up (its stop waits 50 ms for
    # them, then ends their tasks): the orders stay PENDING_CANCEL and PENDING_UPDATE in
    # its journal, as after a kill. The restarted node finds both still working at the
    # venue: it sends the cancel again and rejects the modify.
    journal = str(tmp_path / "node.journal")
    async with (
        SandboxVenue(sandbox_config()) as venue,
        aiohttp.ClientSession() as session,
    ):
        reader = VenueReader(session, venue.url)
        accepted = asyncio.Event()
        first = TradingNode(
            node_config(
                venue, journal=journal, cancel_open_orders_on_stop=False, stop_timeout_s=0.05
            ),
            credentials=CREDENTIALS,
            install_signal_handlers=False,
        )
        strategy = RestingOrders(2, on_all_accepted=accepted.set)
        first.add_strategy(strategy)
        await first.start()
        try:
            await asyncio.wait_for(accepted.wait(), 10)
            assert first.kernel is not None
            cancelled, modified = first.kernel.cache.orders()
            assert modified.price is not None
            venue.faults.update(drop_before=1.0)
            strategy.cancel_order(cancelled)
            strategy.modify_order(modified, modified.quantity, modified.price)
        finally:
            await first.shutdown()
        # (Given up, the cancel would be rejected and the modify too: the order working.)
        assert cancelled.status is OrderStatus.PENDING_CANCEL
        assert modified.status is OrderStatus.PENDING_UPDATE
        venue.faults.update(drop_before=0.0)

        second = TradingNode(
            node_config(venue, journal=journal, cancel_open_orders_on_stop=False),
            credentials=CREDENTIALS,
            install_signal_handlers=False,
        )
        await second.start()
        try:
            execution = second.execution_client()
            await execution.wait_idle(10)
            assert execution.resumed_cancels == 1
        finally:
            await second.shutdown()
        assert second.kernel is not None
        orders = {o.client_order_id: o for o in second.kernel.cache.orders()}
        assert orders[cancelled.client_order_id].status is OrderStatus.CANCELED
        again = orders[modified.client_order_id]
        assert again.status is OrderStatus.ACCEPTED
        assert [type(e).__name__ for e in again.events][-1] == "OrderModifyRejected"
        venue_orders = {o["clientOrderId"]: o for o in await reader.all_orders()}
        assert venue_orders[str(cancelled.client_order_id)]["status"] == "CANCELED"
        assert venue_orders[str(modified.client_order_id)]["status"] == "NEW"
        assert str(again.venue_order_id) == str(
            venue_orders[str(modified.client_order_id)]["orderId"]
        )
        assert [o["clientOrderId"] for o in await reader.open_orders()] == [
            str(modified.client_order_id)
        ]
