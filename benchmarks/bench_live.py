"""Live benchmarks: a TradingNode against a sandbox venue in another process, over loopback.

(a) tick-to-order: a bookTicker frame read off the WebSocket (the adapter stamps it) to the
    start of the REST call placing the order the strategy sent from that quote's
    ``on_quote``, p50/p99;
(b) submit -> acknowledgement: ``Strategy.submit_order`` to ``on_order_accepted`` (the venue's
    REST answer, ``newOrderRespType=FULL``), p50/p99;
(c) market-data throughput: WebSocket messages per second the node takes in and processes
    (L2 diff depth + bookTicker + trades) while the venue's generated market steps as fast as
    it can. The venue (pure Python) is the slower side on this machine: the node's CPU share
    and CPU time per message are printed too, and their inverse is the node's capacity;
(d) a cancel sent while (c)'s flood runs: every one gets through; its latency (cancel_order
    to ``on_order_canceled``), p50/max.

The venue runs in its own process (this script started with ``--serve``) so that the node's
process is measured alone. The timing points are wrappers set from here on the adapter's
WebSocket clock and the REST client's ``new_order``: nothing is added to the node's code.
Each case runs ``--runs`` times with a fresh node; the median of the runs' figures is printed.

Run: ``python benchmarks/bench_live.py [--runs 5] [--orders 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zq.adapters.binance import BinanceCredentials
from zq.live.config import LiveVenueConfig, TradingNodeConfig
from zq.live.node import TradingNode
from zq.model.data import QuoteTick, TradeTick
from zq.model.enums import OrderSide
from zq.model.events import OrderAccepted, OrderCanceled
from zq.model.identifiers import ClientOrderId, InstrumentId
from zq.strategy import Strategy

API_KEY = "bench-key"
SECRET = "bench-secret"
BTCUSDT = InstrumentId("BTCUSDT.BINANCE")


# -- the venue process -----------------------------------------------------------------------


def serve(interval: float) -> None:
    """Run a sandbox venue (generated market stepping every ``interval`` s) until killed."""
    import uvloop

    from zq.sandbox import AccountConfig, MarketConfig, SandboxVenue, VenueConfig

    async def main() -> None:
        config = VenueConfig(
            accounts=(
                AccountConfig(API_KEY, SECRET, {"USDT": Decimal("1000000"), "BTC": Decimal("10")}),
            ),
            market=MarketConfig(kind="generated", interval=interval, seed=3),
            orders_per_10s=1_000_000,
            orders_per_day=10_000_000,
            weight_limit=1_000_000_000,
        )
        async with SandboxVenue(config) as venue:
            print(json.dumps({"url": venue.url, "ws_url": venue.ws_url}), flush=True)
            await asyncio.Event().wait()

    uvloop.run(main())


class Venue:
    """The venue subprocess."""

    def __init__(self, interval: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--interval", str(interval)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the venue process did not start")
        urls = json.loads(line)
        self.url: str = urls["url"]
        self.ws_url: str = urls["ws_url"]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


# -- the node ----------------------------------------------------------------------------------


class Probe(Strategy):  # type: ignore[type-arg]
    """One order at a time: submit far from the market on a quote, cancel once accepted.

    ``received`` is the stamp (perf_counter_ns) of the WebSocket frame being dispatched.
    """

    def __init__(self, orders: int, book: bool = False) -> None:
        super().__init__(strategy_id="Probe-001", order_id_tag="001")
        self.orders = orders
        self.book = book
        self.armed = False
        self.received = 0
        self.working: ClientOrderId | None = None
        self.quote_stamp: dict[ClientOrderId, int] = {}
        self.on_quote_stamp: dict[ClientOrderId, int] = {}
        self.submitted: dict[ClientOrderId, int] = {}
        self.cancel_sent: dict[ClientOrderId, int] = {}
        self.ack_ns: list[int] = []
        self.cancel_ns: list[int] = []
        self.trades = 0
        self.on_finished: Callable[[], None] = lambda: None

    def on_start(self) -> None:
        self.subscribe_quotes(BTCUSDT)
        if self.book:
            self.subscribe_book_deltas(BTCUSDT)
            self.subscribe_trades(BTCUSDT)

    def on_trade(self, trade: TradeTick) -> None:
        self.trades += 1

    def on_quote(self, quote: QuoteTick) -> None:
        entered = time.perf_counter_ns()
        if not self.armed or self.working is not None or len(self.submitted) >= self.orders:
            return
        instrument = self.cache.instrument(BTCUSDT)
        assert instrument is not None
        stamp = self.received
        order = self.order_factory.limit(
            BTCUSDT,
            OrderSide.BUY,
            instrument.make_qty(Decimal("0.001")),
            instrument.make_price(
                (quote.bid_price.as_decimal() * Decimal("0.9")).quantize(Decimal("0.01"))
            ),
        )
        self.working = order.client_order_id
        self.quote_stamp[order.client_order_id] = stamp
        self.on_quote_stamp[order.client_order_id] = entered
        self.submitted[order.client_order_id] = time.perf_counter_ns()
        self.submit_order(order)

    def on_order_accepted(self, event: OrderAccepted) -> None:
        now = time.perf_counter_ns()
        self.ack_ns.append(now - self.submitted[event.client_order_id])
        order = self.cache.order(event.client_order_id)
        assert order is not None
        self.cancel_sent[event.client_order_id] = time.perf_counter_ns()
        self.cancel_order(order)

    def on_order_canceled(self, event: OrderCanceled) -> None:
        self.cancel_ns.append(time.perf_counter_ns() - self.cancel_sent[event.client_order_id])
        self.working = None
        if len(self.cancel_ns) >= self.orders:
            self.on_finished()


def node_config(venue: Venue) -> TradingNodeConfig:
    return TradingNodeConfig(
        venues=[
            LiveVenueConfig(
                venue="remote", rest_url=venue.url, ws_url=venue.ws_url, symbols=["BTCUSDT"]
            )
        ],
        heartbeat_interval_s=1.0,
        stop_timeout_s=5.0,
    )


def instrument_node(node: TradingNode, probe: Probe) -> dict[str, list[int]]:
    """Stamp WebSocket frames, the execution client's command and REST order starts.

    Return the samples: ``total`` (frame to REST start) and its parts ``to_strategy``
    (frame to ``on_quote``), ``to_client`` (``on_quote`` to the execution client's
    ``submit_order``: order factory, cache, risk, execution engine) and ``to_rest`` (from
    there to the REST call's start: the task's scheduling and the request's building), and
    ``rest`` (the REST call, start to answer decoded).
    """
    websocket = node.data_client().market.websocket
    clock_ns = websocket._clock_ns
    perf = time.perf_counter_ns

    def stamped() -> int:
        probe.received = perf()
        return clock_ns()

    websocket._clock_ns = stamped
    execution = node.execution_client()
    new_order = execution.http.new_order
    submit_order = execution.submit_order
    samples: dict[str, list[int]] = {
        "total": [],
        "to_strategy": [],
        "to_client": [],
        "to_rest": [],
        "rest": [],
    }
    at_client: dict[ClientOrderId, int] = {}

    def timed_submit_order(command: Any) -> None:
        at_client[command.client_order_id] = perf()
        submit_order(command)

    async def timed_new_order(*args: Any, **kwargs: Any) -> Any:
        start = perf()
        coid = ClientOrderId(kwargs["client_order_id"])
        stamp = probe.quote_stamp.get(coid)
        if stamp:
            samples["total"].append(start - stamp)
            samples["to_strategy"].append(probe.on_quote_stamp[coid] - stamp)
            samples["to_client"].append(at_client[coid] - probe.on_quote_stamp[coid])
            samples["to_rest"].append(start - at_client[coid])
        try:
            return await new_order(*args, **kwargs)
        finally:
            samples["rest"].append(perf() - start)

    execution.http.new_order = timed_new_order  # type: ignore[method-assign]
    execution.submit_order = timed_submit_order  # type: ignore[method-assign]
    return samples


def quantile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


async def latency_run(venue: Venue, orders: int, flood: bool) -> dict[str, float]:
    node = TradingNode(
        node_config(venue),
        credentials={"BINANCE": BinanceCredentials(API_KEY, SECRET)},
        install_signal_handlers=False,
    )
    probe = Probe(orders, book=flood)
    finished = asyncio.Event()
    probe.on_finished = finished.set
    node.add_strategy(probe)
    await node.start()
    try:
        samples = instrument_node(node, probe)
        await asyncio.sleep(0.3)
        messages = node.data_client().market.websocket.stats.messages
        started = time.perf_counter()
        probe.armed = True
        await asyncio.wait_for(finished.wait(), timeout=120)
        elapsed = time.perf_counter() - started
        messages = node.data_client().market.websocket.stats.messages - messages
    finally:
        await node.shutdown()
    return {
        "tick_to_order_p50_us": quantile(samples["total"], 0.5) / 1e3,
        "tick_to_order_p99_us": quantile(samples["total"], 0.99) / 1e3,
        "  frame->on_quote p50": quantile(samples["to_strategy"], 0.5) / 1e3,
        "  on_quote->client p50": quantile(samples["to_client"], 0.5) / 1e3,
        "  client->REST p50": quantile(samples["to_rest"], 0.5) / 1e3,
        "  frame->on_quote p99": quantile(samples["to_strategy"], 0.99) / 1e3,
        "  on_quote->client p99": quantile(samples["to_client"], 0.99) / 1e3,
        "  client->REST p99": quantile(samples["to_rest"], 0.99) / 1e3,
        "ack_p50_us": quantile(probe.ack_ns, 0.5) / 1e3,
        "  of which REST new_order p50": quantile(samples["rest"], 0.5) / 1e3,
        "ack_p99_us": quantile(probe.ack_ns, 0.99) / 1e3,
        "  of which REST new_order p99": quantile(samples["rest"], 0.99) / 1e3,
        "cancel_p50_us": quantile(probe.cancel_ns, 0.5) / 1e3,
        "cancel_max_us": max(probe.cancel_ns) / 1e3,
        "cancels": float(len(probe.cancel_ns)),
        "messages_per_s": messages / elapsed,
    }


async def throughput_run(venue: Venue, seconds: float) -> dict[str, float]:
    node = TradingNode(
        node_config(venue),
        credentials={"BINANCE": BinanceCredentials(API_KEY, SECRET)},
        install_signal_handlers=False,
    )
    node.add_strategy(Probe(0, book=True))
    await node.start()
    try:
        await asyncio.sleep(0.5)
        client = node.data_client()
        stats = client.market.websocket.stats
        before = (stats.messages, client.quotes, client.trades, client.delta_batches)
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        after = (stats.messages, client.quotes, client.trades, client.delta_batches)
        errors = stats.handler_errors
    finally:
        await node.shutdown()
    rates = [(b - a) / elapsed for a, b in zip(before, after, strict=True)]
    return {
        "messages_per_s": rates[0],
        "quotes_per_s": rates[1],
        "trades_per_s": rates[2],
        "depth_batches_per_s": rates[3],
        "handler_errors": float(errors),
        # Below 100 %, the node kept up and the venue's process set the pace; the node's
        # CPU time per message then bounds what it could take (1 / that).
        "node_cpu_percent": 100 * cpu / elapsed,
        "node_cpu_us_per_message": 1e6 * cpu / max(1, after[0] - before[0]),
        "node_capacity_per_s": (after[0] - before[0]) / cpu if cpu else 0.0,
    }


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def show(title: str, runs: list[dict[str, float]]) -> None:
    print(f"\n{title} (median of {len(runs)} runs)")
    for key, value in medians(runs).items():
        spread = ", ".join(f"{run[key]:.0f}" for run in runs)
        print(f"  {key:<24} {value:12,.1f}   [{spread}]")


async def main(args: argparse.Namespace) -> None:
    quiet = Venue(interval=0.01)  # a market moving every 10 ms
    try:
        runs = [await latency_run(quiet, args.orders, flood=False) for _ in range(args.runs)]
        show(f"(a)+(b) tick-to-order and submit->ack, {args.orders} orders per run", runs)
    finally:
        quiet.close()
    flood = Venue(interval=0.0)  # as fast as the venue's process can step
    try:
        runs = [await throughput_run(flood, args.seconds) for _ in range(args.runs)]
        show(f"(c) market-data throughput over {args.seconds} s", runs)
        runs = [await latency_run(flood, args.cancels, flood=True) for _ in range(args.runs)]
        show(f"(d) cancels under the flood, {args.cancels} per run", runs)
    finally:
        flood.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=float, default=0.01, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--orders", type=int, default=300, help="orders per latency run")
    parser.add_argument("--cancels", type=int, default=50, help="cancels per flood run")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of a throughput run")
    arguments = parser.parse_args()
    if arguments.serve:
        serve(arguments.interval)
    else:
        import uvloop

        uvloop.run(main(arguments))
