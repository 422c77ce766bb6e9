"""Live benchmarks: a TradingNode against a sandbox venue in another process, over loopback.

(a) tick-to-order: a bookTicker frame's bytes read off the socket to the order's request
    written to the REST connection's socket ("out of the adapter"), for the order the
    strategy sent from that quote's ``on_quote``, p50/p99, and its legs: socket read -> the
    adapter's frame stamp (the WebSocket connection's frame parsing), frame ->
    ``on_quote`` (envelope and quote decoding, DataEngine, bus), ``on_quote`` -> the
    execution client (order factory, cache, RiskEngine, ExecutionEngine; the journal's synced
    write when there is one), -> the REST call (``send_new_order`` in ``submit_order``, or the
    submit task's start when the request cannot go at once), -> written (rate limiter, query,
    HMAC, the HTTP request). The same from the adapter's frame stamp, and from it to
    the REST call's start (what the first version of this script measured), follow;
(b) submit -> acknowledgement: ``Strategy.submit_order`` to ``on_order_accepted`` (the venue's
    REST answer, ``newOrderRespType=FULL``), p50/p99, and its legs, stamped on both sides of
    the socket (one monotonic clock for both processes): node submit -> written, written ->
    read by the venue (the venue process waking up), the venue's HTTP server until the handler,
    the handler (signature, checks, matching, JSON), -> written back, -> read by the node (the
    node waking up), -> ``on_order_accepted`` (answer decoding, events, engine, strategy);
(c) market-data throughput: WebSocket messages per second the node takes in and processes
    (L2 diff depth + bookTicker + trades) while the venue's generated market steps as fast as
    it can. The venue (pure Python) is the slower side on this machine: the node's CPU share
    and CPU time per message are printed too, and their inverse is the node's capacity;
(d) a cancel sent while (c)'s flood runs: every one gets through; its latency (cancel_order
    to ``on_order_canceled``), p50/max;
(e) (a)+(b) with the node's journal (``synchronous`` FULL, then NORMAL): the submit's
    in-flight record is committed before the REST call;
(f) ``--only loop``: two legs of (a) timed call by call in one process (venue and node on
    one loop), frame -> ``on_quote`` and REST call -> written, warm or with the caches
    emptied before each call (``--cold-mb``); each call goes through ``operator.call`` for
    callgrind's ``--toggle-collect=_operator_call`` (instructions per call). ``--leg venue``
    times the venue's side of a new order, ``--leg ack`` the user stream's report of a new
    order to ``on_order_accepted``, ``--leg answer`` a new order's REST answer to
    ``on_order_accepted`` (applied in the read: how the node learns the order was accepted),
    ``--leg tick`` the whole of tick-to-order (a frame, the probe armed, to its order's
    request written nowhere; the timed call includes what follows the write in that call).

The venue runs in its own process (this script started with ``--serve``) so that the node's
process is measured alone. The timing points are wrappers set from here (on the WebSocket
connections' reads, the adapter's WebSocket clock, the execution client, the REST client, the
HTTP connection's writes and reads, and in the venue's process on its HTTP server): nothing is
added to the node's or the venue's code. A socket read is taken for the frame's when it is the
last read before the adapter's stamp (with a quote every 10 ms, it is). Each case runs
``--runs`` times with a fresh node; the median of the runs' figures is printed, with the load
averages before and after: on a shared 2-core machine the p99s follow the other processes (a
woken process waits for a CPU), so read them with the load.
``--gc-freeze`` moves what start-up allocated out of the collector's reach in both processes.
``--busy-poll`` sets the node's ``busy_poll``: its loop never sleeps in the poller, so the
node is not woken up for a message (one core kept busy); ``--venue-busy-poll`` does the same
in the venue's process (``zq venue --busy-poll``). Each run prints the node's and the venue's
CPU time over the armed run, in % of its wall time (100 %: a whole core).
``--fifo`` runs both processes under ``SCHED_FIFO`` (root or CAP_SYS_NICE; the lowest real-time
priority): a woken process then takes a CPU at once, so the difference from a normal run is
the time the scheduler kept it waiting. A diagnosis, and what an isolated deployment gets.
``--node-cpus`` / ``--venue-cpus`` pin the node (its ``cpu_affinity``) and the venue process
(as ``zq venue --cpu-affinity``) to CPUs, e.g. ``--node-cpus 0 --venue-cpus 1``.

Run: ``python benchmarks/bench_live.py [--runs 5] [--orders 300] [--gc-freeze] [--busy-poll]
[--fifo] [--node-cpus 0] [--venue-cpus 1] [--only latency|throughput|flood|journal|loop]
[--leg quote|request|both|venue|ack|answer|tick] [--iterations N] [--cold-mb MB]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zq.adapters.binance import BinanceCredentials
from zq.adapters.binance import transport as http_transport
from zq.live.affinity import set_cpu_affinity
from zq.live.config import LiveVenueConfig, TradingNodeConfig
from zq.live.node import TradingNode
from zq.model.data import QuoteTick, TradeTick
from zq.model.enums import OrderSide
from zq.model.events import OrderAccepted, OrderCanceled
from zq.model.identifiers import ClientOrderId, InstrumentId
from zq.strategy import Strategy
from zq_core.fixed import Price

API_KEY = "bench-key"
SECRET = "bench-secret"
BTCUSDT = InstrumentId("BTCUSDT.BINANCE")
_CLIENT_ORDER_ID = re.compile(rb"newClientOrderId=([^& ]+)")
perf = time.perf_counter_ns  # CLOCK_MONOTONIC: one clock for both processes


# -- the venue process -----------------------------------------------------------------------


def _stamp_venue(stamps: dict[str, dict[str, int]]) -> None:
    """Stamp each new order's request in the venue: read, handler start and end, written.

    Wrappers on the venue's REST protocol (its reads and its answers' writes) and on its
    API's handler (the benchmark's own; the venue's code is unchanged). Written by L5.
    """
    from zq.sandbox.protocol import RestProtocol
    from zq.sandbox.rest import RestApi

    current: dict[str, Any] = {}
    data_received = RestProtocol.data_received

    def read(self: Any, data: bytes) -> Any:  # bytes read off the socket
        if data[:5] == b"POST ":
            found = _CLIENT_ORDER_ID.search(data)
            if found:
                current.clear()
                current["id"] = found.group(1).decode()
                current["read"] = perf()
        return data_received(self, data)

    handle = RestApi.handle  # synchronous: faults, limits, signature, checks, matching, JSON

    def timed(self: Any, method: str, *args: Any) -> Any:
        mine = "id" in current and method == "POST" and "handler" not in current
        if mine:
            current["handler"] = perf()
        answer = handle(self, method, *args)
        if mine:
            current["handled"] = perf()
        return answer

    send = RestProtocol._send  # head and body in one transport.write

    def written(self: Any, answer: Any, close: bool) -> None:
        send(self, answer, close)  # stamped after the write returns
        if "handled" in current:
            current["written"] = perf()
            stamps[current.pop("id")] = dict(current)
            current.clear()

    RestProtocol.data_received = read  # type: ignore[method-assign]
    RestApi.handle = timed  # type: ignore[method-assign]
    RestProtocol._send = written  # type: ignore[method-assign]


def fifo() -> None:
    """Run this process under SCHED_FIFO at the lowest real-time priority."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (PermissionError, AttributeError) as error:
        raise SystemExit(f"--fifo: cannot set SCHED_FIFO here: {error}") from None


def serve(
    interval: float,
    stamps_path: str | None,
    freeze: bool,
    cpus: list[int] | None = None,
    busy_poll: bool = False,
) -> None:
    """Run a sandbox venue (generated market stepping every ``interval`` s) until SIGTERM;
    then write the stamps of the orders' requests to ``stamps_path``. ``cpus``: pinned to
    them, as ``zq venue --cpu-affinity`` does; ``busy_poll``: its loop never sleeps, as
    ``zq venue --busy-poll``."""
    import uvloop

    from zq.live.busy_poll import BusyPoll

    if cpus is not None:
        set_cpu_affinity(cpus, "--venue-cpus")

    from zq.sandbox import AccountConfig, MarketConfig, SandboxVenue, VenueConfig

    stamps: dict[str, dict[str, int]] = {}
    if stamps_path:
        _stamp_venue(stamps)

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
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with SandboxVenue(config) as venue:
            if freeze:
                gc.collect()
                gc.freeze()
            polling = BusyPoll(asyncio.get_running_loop())
            if busy_poll:
                polling.start()
            print(json.dumps({"url": venue.url, "ws_url": venue.ws_url}), flush=True)
            await stop.wait()
            polling.stop()
        if stamps_path:
            Path(stamps_path).write_text(json.dumps(stamps))

    uvloop.run(main())


class Venue:
    """The venue subprocess."""

    def __init__(self, interval: float, freeze: bool = False) -> None:
        handle, self.stamps_path = tempfile.mkstemp(prefix="zq-bench-venue-", suffix=".json")
        os.close(handle)
        command = [sys.executable, __file__, "--serve", "--interval", str(interval)]
        command += ["--stamps", self.stamps_path] + (["--gc-freeze"] if freeze else [])
        if AFFINITY["venue"] is not None:
            command += ["--venue-cpus", ",".join(map(str, AFFINITY["venue"]))]
        if BUSY_POLL["venue"]:
            command.append("--venue-busy-poll")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the venue process did not start")
        urls = json.loads(line)
        self.url: str = urls["url"]
        self.ws_url: str = urls["ws_url"]

    def close(self) -> dict[str, dict[str, int]]:
        """Stop the venue; return its stamps by client order id."""
        self.process.terminate()
        self.process.wait(10)
        path = Path(self.stamps_path)
        try:
            text = path.read_text()
            return json.loads(text) if text else {}
        finally:
            path.unlink(missing_ok=True)


# -- the node ----------------------------------------------------------------------------------


class Probe(Strategy):  # type: ignore[type-arg]
    """One order at a time: submit far from the market on a quote, cancel once accepted.

    ``received`` is the stamp of the WebSocket frame being dispatched. The order's price is
    90 % of the bid, computed on the raw integer (a probe measures the framework, not Decimal
    arithmetic); its quantity is made once.
    """

    def __init__(self, orders: int, book: bool = False) -> None:
        super().__init__(strategy_id="Probe-001", order_id_tag="001")
        self.orders = orders
        self.book = book
        self.armed = False
        self.received = 0
        self.received_socket = 0  # when the frame's bytes were read off the socket
        #: The node's involuntary switches and minor page faults just before that read.
        self.received_counts = (0, 0)
        self.socket_counts: dict[ClientOrderId, tuple[int, int]] = {}
        self.socket_read: dict[ClientOrderId, int] = {}
        self.working: ClientOrderId | None = None
        self.quote_stamp: dict[ClientOrderId, int] = {}
        self.on_quote_stamp: dict[ClientOrderId, int] = {}
        self.submitted: dict[ClientOrderId, int] = {}
        self.accepted: dict[ClientOrderId, int] = {}
        self.cancel_sent: dict[ClientOrderId, int] = {}
        self.ack_ns: list[int] = []
        self.cancel_ns: list[int] = []
        self.trades = 0
        self.on_finished: Callable[[], None] = lambda: None
        self._quantity: Any = None
        self._tick = 1

    def on_start(self) -> None:
        instrument = self.cache.instrument(BTCUSDT)
        assert instrument is not None
        self._quantity = instrument.make_qty(Decimal("0.001"))
        self.subscribe_quotes(BTCUSDT)
        if self.book:
            self.subscribe_book_deltas(BTCUSDT)
            self.subscribe_trades(BTCUSDT)

    def on_trade(self, trade: TradeTick) -> None:
        self.trades += 1

    def on_quote(self, quote: QuoteTick) -> None:
        entered = perf()
        if not self.armed or self.working is not None or len(self.submitted) >= self.orders:
            return
        bid = quote.bid_price
        price = Price.from_raw(bid.raw * 9 // 10, bid.precision)
        order = self.order_factory.limit(BTCUSDT, OrderSide.BUY, self._quantity, price)
        coid = order.client_order_id
        self.working = coid
        self.quote_stamp[coid] = self.received
        self.socket_read[coid] = self.received_socket
        self.socket_counts[coid] = self.received_counts
        self.on_quote_stamp[coid] = entered
        self.submitted[coid] = perf()
        self.submit_order(order)

    def on_order_accepted(self, event: OrderAccepted) -> None:
        now = perf()
        self.accepted[event.client_order_id] = now
        self.ack_ns.append(now - self.submitted[event.client_order_id])
        order = self.cache.order(event.client_order_id)
        assert order is not None
        self.cancel_sent[event.client_order_id] = perf()
        self.cancel_order(order)

    def on_order_canceled(self, event: OrderCanceled) -> None:
        self.cancel_ns.append(perf() - self.cancel_sent[event.client_order_id])
        self.working = None
        if len(self.cancel_ns) >= self.orders:
            self.on_finished()


#: The node's ``busy_poll`` and the venue's (``--busy-poll``, ``--venue-busy-poll``).
BUSY_POLL = {"on": False, "venue": False}
#: The node's ``cpu_affinity`` and the venue process's (``--node-cpus``, ``--venue-cpus``).
AFFINITY: dict[str, list[int] | None] = {"node": None, "venue": None}


def node_config(
    venue: Venue, journal: str | None = None, journal_dir: str | None = None
) -> TradingNodeConfig:
    """The node's config; with ``journal`` (its ``synchronous``), a journal in ``journal_dir``."""
    synchronous: Any = journal or "FULL"
    path = str(Path(journal_dir) / "node.journal") if journal and journal_dir else None
    return TradingNodeConfig(
        venues=[
            LiveVenueConfig(
                venue="remote", rest_url=venue.url, ws_url=venue.ws_url, symbols=["BTCUSDT"]
            )
        ],
        heartbeat_interval_s=1.0,
        stop_timeout_s=5.0,
        journal=path,
        journal_synchronous=synchronous,
        busy_poll=BUSY_POLL["on"],
        cpu_affinity=AFFINITY["node"],
    )


class Stamps:
    """The node's timing points of each probe order (perf_counter_ns), by client order id."""

    def __init__(self) -> None:
        self.at_client: dict[ClientOrderId, int] = {}
        self.at_rest: dict[ClientOrderId, int] = {}
        self.written: dict[ClientOrderId, int] = {}
        #: The node's involuntary switches and minor faults when each order's request was
        #: about to be written.
        self.written_counts: dict[ClientOrderId, tuple[int, int]] = {}
        self.answer_read: dict[ClientOrderId, int] = {}
        self.rest: list[int] = []
        self.gc_pauses: list[int] = []
        self.gc_starts: list[int] = []  # when each of gc_pauses began
        self.undo: list[Callable[[], None]] = []
        #: The node's and the venue's CPU time over the armed run, in % of its wall time.
        self.cpu_percent: dict[str, float] = {"node": 0.0, "venue": 0.0}
        #: The node process's counters over the armed run (see _counters), per order.
        self.per_order: dict[str, float] = {}

    def restore(self) -> None:
        for undo in reversed(self.undo):
            undo()


class _Writes:
    """A REST connection's socket transport, its writes handed to ``on_write(connection,
    data)`` first (a stamp) and then written, or not written at all (``nowhere``); the rest
    handed on. The writer of a new order writes on the socket transport itself (compiled),
    so that is where a request's writing is seen."""

    def __init__(
        self,
        transport: Any,
        connection: Any,
        on_write: Callable[[Any, bytes], None],
        nowhere: bool,
    ) -> None:
        self.wrapped = transport
        self.connection = connection
        self.on_write = on_write
        self.nowhere = nowhere
        # Asked before each write: the transport's own method, no Python frame added.
        self.is_closing = transport.is_closing

    def write(self, data: bytes) -> None:
        self.on_write(self.connection, data)
        if not self.nowhere:
            self.wrapped.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def _wrap_writes(
    http: Any, on_write: Callable[[Any, bytes], None], nowhere: bool = False
) -> Callable[[], None]:
    """Wrap the socket transports of the REST client's connections, open and to come, in
    :class:`_Writes`; return the undo."""
    connection_class = http_transport._Connection
    made = connection_class.connection_made
    wrapped: list[Any] = []

    def wrap(connection: Any) -> None:
        if connection.transport is not None and not isinstance(connection.transport, _Writes):
            connection.transport = _Writes(connection.transport, connection, on_write, nowhere)
            wrapped.append(connection)

    def wrapped_made(self: Any, transport: Any) -> None:
        made(self, transport)
        wrap(self)

    transport = http._transport
    if transport is not None:
        for connection in [*transport._idle, *transport._busy]:
            wrap(connection)
    connection_class.connection_made = wrapped_made  # type: ignore[method-assign]

    def undo() -> None:
        connection_class.connection_made = made  # type: ignore[method-assign]
        for connection in wrapped:
            if isinstance(connection.transport, _Writes):
                connection.transport = connection.transport.wrapped

    return undo


class _TimedWriter:
    """The execution client's order writer, its ``send_new_order``'s start stamped as the
    order's REST call."""

    def __init__(self, writer: Any, stamps: Stamps) -> None:
        self.writer = writer
        self.stamps = stamps

    def send_new_order(self, http: Any, *args: Any) -> Any:
        start = perf()
        sent = self.writer.send_new_order(http, *args)
        self.stamps.at_rest[ClientOrderId(args[6])] = start  # after: not timed
        return sent


def instrument_node(node: TradingNode, probe: Probe) -> Stamps:
    """Wrap the node's adapter and clients with timing points (undone by ``restore``)."""
    stamps = Stamps()
    websocket = node.data_client().market.websocket
    clock_ns = websocket._clock_ns

    def stamped() -> int:
        probe.received = perf()
        probe.received_socket = _last_socket_read[0]
        probe.received_counts = _last_socket_counts[0]
        return clock_ns()

    websocket._clock_ns = stamped
    execution = node.execution_client()
    http = execution.http
    new_order, send_new_order, answer = http.new_order, http.send_new_order, http.answer
    submit_order = execution.submit_order

    def timed_submit_order(command: Any) -> None:
        stamps.at_client[command.client_order_id] = perf()
        submit_order(command)

    # The REST call starts in submit_order (send_new_order writes the request at once) or,
    # when it cannot go at once, in the submit's task (new_order).
    def timed_send_new_order(*args: Any, **kwargs: Any) -> Any:
        start = perf()
        sent = send_new_order(*args, **kwargs)
        stamps.at_rest[ClientOrderId(kwargs["client_order_id"])] = start  # after: not timed
        return sent

    async def timed_answer(sent: Any, *args: Any) -> Any:
        try:
            return await answer(sent, *args)
        finally:
            coid = sent.call.params.get("newClientOrderId")
            if coid is not None:
                stamps.rest.append(perf() - stamps.at_rest[ClientOrderId(coid)])

    async def timed_new_order(*args: Any, **kwargs: Any) -> Any:
        start = perf()
        stamps.at_rest[ClientOrderId(kwargs["client_order_id"])] = start
        try:
            return await new_order(*args, **kwargs)
        finally:
            stamps.rest.append(perf() - start)

    http.new_order = timed_new_order  # type: ignore[method-assign]
    http.send_new_order = timed_send_new_order  # type: ignore[method-assign]
    # submit_order calls the REST client's compiled writer (send_new_order without its
    # Python frame); the REST call starts there. Its fallback to http.send_new_order is
    # stamped there first, then here with this earlier start.
    writer = execution._order_writer
    if writer is not None:
        execution._order_writer = _TimedWriter(writer, stamps)  # type: ignore[assignment]
    http.answer = timed_answer  # type: ignore[method-assign]
    execution.submit_order = timed_submit_order  # type: ignore[method-assign]

    # The bytes on the socket: a new order's request written (stamped as the socket transport
    # is handed it), the first bytes of its answer parsed (the transport calls _parse from
    # data_received; uvloop binds data_received when a connection opens, so wrapping it
    # would miss connections opened at start-up).
    connection = http_transport._Connection
    parse = connection._parse
    reading: dict[int, ClientOrderId] = {}  # by connection: the order its answer is for

    def stamp_write(connection: Any, request: bytes) -> None:
        now = perf()  # before the stamp's own work (the regex, the id)
        found = _CLIENT_ORDER_ID.search(request) if request[:5] == b"POST " else None
        reading.pop(id(connection), None)
        if found:
            coid = ClientOrderId(found.group(1).decode())
            stamps.written[coid] = now
            # Before the write (after the stamp): the venue the write wakes may preempt the
            # node at once, which is not the order's.
            stamps.written_counts[coid] = _thread_counts()
            reading[id(connection)] = coid

    def timed_parse(self: Any) -> None:
        coid = reading.pop(id(self), None)
        if coid is not None:
            stamps.answer_read[coid] = perf()
        parse(self)

    stamps.undo.append(_wrap_writes(http, stamp_write))
    connection._parse = timed_parse  # type: ignore[method-assign]

    def restore_connection() -> None:
        connection._parse = parse  # type: ignore[method-assign]

    stamps.undo.append(restore_connection)

    started = [0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = perf()
        else:
            stamps.gc_starts.append(started[0])
            stamps.gc_pauses.append(perf() - started[0])

    gc.callbacks.append(on_gc)
    stamps.undo.append(lambda: gc.callbacks.remove(on_gc))
    return stamps


def quantile(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def legs(
    probe: Probe, stamps: Stamps, venue_stamps: dict[str, dict[str, int]]
) -> dict[str, list[int]]:
    """Each leg's samples (ns) over the orders stamped at every point."""
    out: dict[str, list[int]] = {}

    def add(name: str, value: int) -> None:
        out.setdefault(name, []).append(value)

    for coid, frame in probe.quote_stamp.items():
        socket_read = probe.socket_read.get(coid)
        if coid not in stamps.written or coid not in stamps.at_rest or not socket_read:
            continue
        on_quote, client = probe.on_quote_stamp[coid], stamps.at_client[coid]
        rest, written = stamps.at_rest[coid], stamps.written[coid]
        add("tick_to_order", written - socket_read)
        add("  socket read->frame stamped", frame - socket_read)
        add("  frame->on_quote", on_quote - frame)
        add("  on_quote->client", client - on_quote)
        add("  client->REST call", rest - client)
        add("  REST call->written", written - rest)
        add("tick_to_order_from_frame_stamp", written - frame)
        add("tick_to_REST_call_from_frame_stamp", rest - frame)  # what this script measured first
    for coid, submitted in probe.submitted.items():
        venue = venue_stamps.get(str(coid))
        if not venue or not (coid in probe.accepted and coid in stamps.answer_read):
            continue
        accepted, read = probe.accepted[coid], stamps.answer_read[coid]
        written = stamps.written[coid]
        add("submit_to_ack", accepted - submitted)
        add("  submit->written", written - submitted)
        add("  written->venue read", venue["read"] - written)
        add("  venue read->handler", venue["handler"] - venue["read"])
        add("  venue handler", venue["handled"] - venue["handler"])
        add("  venue handler->written", venue["written"] - venue["handled"])
        add("  venue written->node read", read - venue["written"])
        add("  node read->on_order_accepted", accepted - read)
    return out


#: When the last bytes arrived on any of the node's WebSocket connections, and the node's
#: counts just before (_thread_counts).
_last_socket_read = [0]
_last_socket_counts = [(0, 0)]


def _thread_counts() -> tuple[int, int]:
    """The involuntary context switches and minor page faults of the node's main thread
    (the loop's) so far."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_nivcsw, usage.ru_minflt


def _counters() -> dict[str, float]:
    """The node process's page faults and context switches (getrusage), and how often the
    machine's CPUs entered each idle state (``/sys/.../cpuidle``, all CPUs summed)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counters = {
        "minor faults": float(usage.ru_minflt),
        "major faults": float(usage.ru_majflt),
        "voluntary switches": float(usage.ru_nvcsw),
        "involuntary switches": float(usage.ru_nivcsw),
    }
    for state in sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpuidle/state*")):
        try:
            name = (state / "name").read_text().strip()
            entries = int((state / "usage").read_text())
        except OSError:
            continue
        key = f"idle entries {name} (all CPUs)"
        counters[key] = counters.get(key, 0.0) + entries
    return counters


def _cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _before_socket_reads(hook: Callable[[Any, bytes], None]) -> Callable[[], None]:
    """Call ``hook(connection, data)`` before each WebSocket connection's read is handled;
    return the undo. Set before the node connects: uvloop binds ``data_received`` when a
    connection opens."""
    from zq.adapters.binance.ws_connection import WebSocketConnection

    data_received = WebSocketConnection.data_received
    offer_reads = WebSocketConnection.offer_reads

    def hooked(self: Any, data: bytes) -> None:
        hook(self, data)
        data_received(self, data)

    # A read the market's compiled route takes comes to the FrameReader set as the
    # transport's protocol (no Python frame of the connection's): hooked in what it is
    # offered to. A read it leaves is the connection's data_received (hooked again, later).
    def hooked_offer(self: Any, take: Callable[[bytes], bool] | None) -> None:
        if take is None:
            offer_reads(self, None)
            return
        inner = take

        def hooked_take(data: bytes) -> bool:
            hook(self, data)
            return inner(data)

        offer_reads(self, hooked_take)

    WebSocketConnection.data_received = hooked  # type: ignore[method-assign]
    WebSocketConnection.offer_reads = hooked_offer  # type: ignore[method-assign]

    def undo() -> None:
        WebSocketConnection.data_received = data_received  # type: ignore[method-assign]
        WebSocketConnection.offer_reads = offer_reads  # type: ignore[method-assign]

    return undo


def _stamp_socket_reads() -> Callable[[], None]:
    """Stamp the WebSocket connections' reads; return the undo."""

    def stamp(connection: Any, data: bytes) -> None:
        _last_socket_counts[0] = _thread_counts()  # outside the timed window
        _last_socket_read[0] = perf()

    return _before_socket_reads(stamp)


async def latency_run(
    venue: Venue, orders: int, flood: bool, freeze: bool = False, journal: str | None = None
) -> tuple[Probe, Stamps, float]:
    with tempfile.TemporaryDirectory(prefix="zq-bench-journal-") as journal_dir:
        return await _latency_run(venue, orders, flood, freeze, journal, journal_dir)


async def _latency_run(
    venue: Venue, orders: int, flood: bool, freeze: bool, journal: str | None, journal_dir: str
) -> tuple[Probe, Stamps, float]:
    undo_socket_reads = _stamp_socket_reads()
    node = TradingNode(
        node_config(venue, journal, journal_dir),
        credentials={"BINANCE": BinanceCredentials(API_KEY, SECRET)},
        install_signal_handlers=False,
    )
    probe = Probe(orders, book=flood)
    finished = asyncio.Event()
    probe.on_finished = finished.set
    node.add_strategy(probe)
    await node.start()
    if freeze:
        gc.collect()
        gc.freeze()
    stamps = instrument_node(node, probe)
    stamps.undo.append(undo_socket_reads)
    try:
        await asyncio.sleep(0.3)
        messages = node.data_client().market.websocket.stats.messages
        started = time.perf_counter()
        counted = _counters()
        cpu = time.process_time(), _cpu_seconds(venue.process.pid)
        probe.armed = True
        await asyncio.wait_for(finished.wait(), timeout=120)
        elapsed = time.perf_counter() - started
        node_cpu = time.process_time() - cpu[0]
        venue_cpu = _cpu_seconds(venue.process.pid) - cpu[1]
        counted = {key: value - counted.get(key, 0.0) for key, value in _counters().items()}
        stamps.per_order = {key: value / max(1, orders) for key, value in counted.items()}
        stamps.cpu_percent = {"node": 100 * node_cpu / elapsed, "venue": 100 * venue_cpu / elapsed}
        messages = node.data_client().market.websocket.stats.messages - messages
    finally:
        stamps.restore()
        await node.shutdown()
        if freeze:
            gc.unfreeze()
    return probe, stamps, messages / elapsed


def summary(
    probe: Probe, stamps: Stamps, rate: float, venue_stamps: dict[str, dict[str, int]]
) -> dict[str, float]:
    """One run's figures in µs: each leg's p50 and p99, the ack and cancel, the GC."""
    result: dict[str, float] = {}
    for name, values in legs(probe, stamps, venue_stamps).items():
        result[f"{name} p50"] = quantile(values, 0.5) / 1e3
        result[f"{name} p99"] = quantile(values, 0.99) / 1e3
    result["REST new_order p50"] = quantile(stamps.rest, 0.5) / 1e3
    result["REST new_order p99"] = quantile(stamps.rest, 0.99) / 1e3
    result["cancel p50"] = quantile(probe.cancel_ns, 0.5) / 1e3
    result["cancel max"] = max(probe.cancel_ns, default=0) / 1e3
    result["cancels"] = float(len(probe.cancel_ns))
    result["node GC collections"] = float(len(stamps.gc_pauses))
    result["node GC pause max"] = max(stamps.gc_pauses, default=0) / 1e3
    # Collections that ran inside an order's tick-to-order (socket read -> written).
    windows = [
        (probe.socket_read[coid], stamps.written[coid])
        for coid in probe.quote_stamp
        if coid in stamps.written and probe.socket_read.get(coid)
    ]
    result["node GC in tick-to-order"] = float(
        sum(any(a <= start <= b for a, b in windows) for start in stamps.gc_starts)
    )
    result.update(_tail(probe, stamps))
    result["messages_per_s"] = rate
    result["node CPU %"] = stamps.cpu_percent["node"]
    result["venue CPU %"] = stamps.cpu_percent["venue"]
    for key, value in stamps.per_order.items():
        result[f"per order: {key}"] = value
    return result


def _tail(probe: Probe, stamps: Stamps) -> dict[str, float]:
    """What the slowest 1 % of tick-to-order are: how many of them and of all orders had the
    node's thread switched out involuntarily (preempted), or a minor page fault, between the
    socket read and the write, and by how much (µs) each leg of the slow ones exceeded that
    leg's p50 (the median over the slow orders); the run's first order's legs (µs)."""
    rows = []
    for coid, frame in probe.quote_stamp.items():
        read = probe.socket_read.get(coid)
        if not read or coid not in stamps.written or coid not in stamps.written_counts:
            continue
        points = (
            read, frame, probe.on_quote_stamp[coid], stamps.at_client[coid],
            stamps.at_rest[coid], stamps.written[coid],
        )  # fmt: skip
        (switches, faults), (switches_before, faults_before) = (
            stamps.written_counts[coid],
            probe.socket_counts[coid],
        )
        rows.append(
            (
                points[-1] - points[0],
                switches - switches_before,
                faults - faults_before,
                [b - a for a, b in pairwise(points)],
            )
        )
    if len(rows) < 100:
        return {}
    first = rows[0]  # the run's first order (its first calls of the order path)
    rows.sort(key=lambda row: row[0])
    slow = rows[len(rows) - len(rows) // 100 :]
    medians = [quantile([row[3][i] for row in rows], 0.5) for i in range(5)]
    out = {
        "tail: orders >= p99 of tick-to-order": float(len(slow)),
        "tail: % of them preempted in it": 100 * sum(r[1] > 0 for r in slow) / len(slow),
        "all: % of orders preempted in it": 100 * sum(r[1] > 0 for r in rows) / len(rows),
        "tail: % of them with a page fault in it": 100 * sum(r[2] > 0 for r in slow) / len(slow),
        "all: % of orders with a page fault in it": 100 * sum(r[2] > 0 for r in rows) / len(rows),
    }
    names = ("read->frame", "frame->on_quote", "on_quote->client", "client->REST", "REST->written")
    for index, name in enumerate(names):
        excess = statistics.median(row[3][index] - medians[index] for row in slow)
        out[f"tail: {name} over its p50 (us)"] = excess / 1e3
    out["first order: tick-to-order (us)"] = first[0] / 1e3
    for index, name in enumerate(names):
        out[f"first order: {name} (us)"] = first[3][index] / 1e3
    return out


async def latency_case(
    args: argparse.Namespace, orders: int, flood: bool, journal: str | None = None
) -> list[dict[str, float]]:
    """Run the latency runs on one venue process; join the venue's stamps at its end."""
    venue = Venue(interval=0.0 if flood else 0.01, freeze=args.gc_freeze)
    runs: list[tuple[Probe, Stamps, float]] = []
    try:
        for _ in range(args.runs):
            runs.append(await latency_run(venue, orders, flood, args.gc_freeze, journal))
    finally:
        venue_stamps = venue.close()
    return [summary(probe, stamps, rate, venue_stamps) for probe, stamps, rate in runs]


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


def load() -> str:
    return "load averages " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def show(title: str, runs: list[dict[str, float]], load_before: str) -> None:
    print(f"\n{title} (median of {len(runs)} runs; {load_before} before, {load()} after)")
    for key, value in medians(runs).items():
        spread = ", ".join(f"{run[key]:.0f}" for run in runs)
        print(f"  {key:<34} {value:12,.1f}   [{spread}]")


# -- in-process loops of two legs ----------------------------------------------------------

#: bookTicker prices the loop's frames cycle through (a quiet market's moves: a few ticks).
_LOOP_PRICES = 16


def _quote_frames(count: int) -> list[bytes]:
    """Combined-stream bookTicker frames as the venue sends them (eight-decimal texts)."""
    from zq.adapters.binance.ws_connection import Opcode, encode_frame

    frames = []
    for index in range(count):
        bid = 60_000 + (index * 7919) % _LOOP_PRICES / 10
        payload = (
            f'{{"stream":"btcusdt@bookTicker","data":{{"u":{1000 + index},"s":"BTCUSDT",'
            f'"b":"{bid:.8f}","B":"{0.5 + index % 5:.8f}","a":"{bid + 0.1:.8f}",'
            f'"A":"{1.25 + index % 3:.8f}"}}}}'
        ).encode()
        frames.append(encode_frame(Opcode.TEXT, payload))
    return frames


async def loop_legs(args: argparse.Namespace) -> None:
    """Time two legs in a loop, in this process (or, with ``--leg venue``, the venue's side of
    a new order: :func:`_venue_leg`): frame -> ``on_quote`` (a bookTicker frame's
    bytes handed to the WebSocket connection's ``data_received``, through the adapter,
    the DataEngine and the bus to the probe's ``on_quote``) and REST call -> written
    (``send_new_order`` up to the request's bytes handed to the connection's ``send``,
    which here writes nothing and answers at once).

    Each timed call goes through ``operator.call``, so that callgrind can count the
    instructions of the timed calls alone: ``valgrind --tool=callgrind
    --toggle-collect=_operator_call python benchmarks/bench_live.py --only loop --leg quote``
    (instructions per call: the total over ``--iterations``).
    """
    import operator

    from zq.adapters.binance.transport import HttpAnswer
    from zq.sandbox import AccountConfig, MarketConfig, SandboxVenue, VenueConfig

    config = VenueConfig(
        accounts=(
            AccountConfig(API_KEY, SECRET, {"USDT": Decimal("1000000"), "BTC": Decimal("10")}),
        ),
        market=MarketConfig(kind="manual"),
        orders_per_10s=10_000_000,
        orders_per_day=100_000_000,
        weight_limit=1_000_000_000,
    )
    iterations = args.iterations
    async with SandboxVenue(config) as venue:
        venue.set_levels(
            "BTCUSDT", [(Decimal("60000.00"), Decimal("1"))], [(Decimal("60000.10"), Decimal("1"))]
        )
        node = TradingNode(
            node_config(venue),  # type: ignore[arg-type]
            credentials={"BINANCE": BinanceCredentials(API_KEY, SECRET)},
            install_signal_handlers=False,
        )
        probe = Probe(0)
        node.add_strategy(probe)
        reports: list[tuple[Any, bytes]] = []  # --leg ack: the stream's first NEW report
        undo_capture = None
        if args.leg in ("ack", "answer", "tick"):
            if args.leg == "ack":
                undo_capture = _capture_new_report(reports)
            # The orders are only accepted here (the probe's own callbacks cancel them).
            probe.on_order_accepted = lambda event: None  # type: ignore[method-assign]
            probe.on_order_canceled = lambda event: None  # type: ignore[method-assign]
        await node.start()
        try:
            websocket = node.data_client().market.websocket
            await websocket.wait_connected(10)
            await asyncio.sleep(0.2)
            quotes = node.data_client().quotes
            frames = _quote_frames(256)
            connection = websocket._ws
            assert connection is not None
            # The connection's reads come to its transport's protocol (a FrameReader, its
            # data_received compiled, once the market's routes offer it the reads).
            received = connection.transport.get_protocol().data_received
            call = operator.call
            times: dict[str, list[int]] = {}
            # --cold: the caches emptied before each call (a buffer larger than the last
            # level cache rewritten), as when other processes ran between two quotes.
            trash = bytearray(args.cold_mb * 1024 * 1024) if args.cold_mb else None

            def evict() -> None:
                if trash is not None:
                    trash[:] = bytes(len(trash))

            if args.leg in ("quote", "both"):
                samples = times.setdefault("frame->on_quote (data_received)", [])
                for index in range(iterations):
                    frame = frames[index & 255]
                    evict()
                    start = perf()
                    call(received, frame)
                    samples.append(perf() - start)
                assert node.data_client().quotes - quotes >= iterations, "quotes were lost"
            if args.leg in ("request", "both"):
                samples = times.setdefault("REST call->written (send_new_order)", [])
                http = node.execution_client().http
                await http.server_time()  # a fresh idle connection (the quotes took a while)
                transport = http._transport
                assert transport is not None
                instrument = probe.cache.instrument(BTCUSDT)
                assert instrument is not None
                quantity = instrument.make_qty(Decimal("0.001"))
                price = instrument.make_price(Decimal("54000.10"))
                written: list[bytes] = []
                # Written nowhere, answered at once (below, untimed).
                undo_writes = _wrap_writes(
                    http, lambda connection, data: written.append(data), nowhere=True
                )
                try:
                    send_new_order = http.send_new_order
                    for index in range(iterations):
                        coid = f"O-20260101-000000-001-001-{index + 1}"
                        evict()
                        start = perf()
                        sent = call(
                            send_new_order,
                            "BTCUSDT",
                            side="BUY",
                            order_type="LIMIT",
                            quantity=quantity,
                            price=price,
                            time_in_force="GTC",
                            client_order_id=coid,
                            response_type="FULL",
                        )
                        samples.append(perf() - start)
                        assert sent is not None, "the request did not go at once"
                        sent.exchange.answer.set_result(HttpAnswer(200, {}, b"{}"))
                        await transport.receive(sent.exchange)
                finally:
                    undo_writes()
                assert len(written) == iterations
                print(f"  a request: {written[-1][:160]!r}...")
            if args.leg == "venue":
                _venue_leg(venue, iterations, evict, times)
            if args.leg == "ack":
                assert undo_capture is not None
                undo_capture()  # the timed reads without the capture's look at each
                undo_capture = None
                await _ack_leg(node, probe, reports, iterations, evict, times)
            if args.leg == "answer":
                await _answer_leg(probe, node.execution_client().http, iterations, evict, times)
            if args.leg == "tick":
                await _tick_leg(
                    probe,
                    node.execution_client().http,
                    connection,
                    frames,
                    iterations,
                    evict,
                    times,
                )
        finally:
            if undo_capture is not None:
                undo_capture()
            await node.shutdown()
    cold = f"caches emptied before each call ({args.cold_mb} MB)" if args.cold_mb else "warm"
    print(f"(loop) {iterations} calls per leg, in-process, {cold}; {load()}")
    for name, values in times.items():
        print(
            f"  {name:<40} p50 {quantile(values, 0.5) / 1e3:7.2f} us   "
            f"p99 {quantile(values, 0.99) / 1e3:7.2f} us   "
            f"mean {statistics.mean(values) / 1e3:7.2f} us"
        )


def _capture_new_report(reports: list[tuple[Any, bytes]]) -> Callable[[], None]:
    """Keep the first read holding an ``executionReport`` of a new order, with its
    connection; return the undo."""

    def capture(connection: Any, data: bytes) -> None:
        if not reports and data.find(b'"executionReport"') >= 0 and data.find(b'"x":"NEW"') >= 0:
            reports.append((connection, bytes(data)))

    return _before_socket_reads(capture)


async def _ack_leg(
    node: TradingNode,
    probe: Probe,
    reports: list[tuple[Any, bytes]],
    iterations: int,
    evict: Callable[[], None],
    times: dict[str, list[int]],
) -> None:
    """The user stream's ``executionReport`` of a new order (how the node learns the
    order was accepted, ahead of the REST answer) to ``on_order_accepted``: a report as
    the venue wrote it, for an order submitted with its REST request written nowhere (so
    it stays SUBMITTED), handed to the stream connection's own ``data_received``."""
    import operator

    from zq.adapters.binance.ws_connection import Opcode, WebSocketConnection, encode_frame
    from zq.model.enums import OrderStatus

    instrument = probe.cache.instrument(BTCUSDT)
    assert instrument is not None
    quantity = instrument.make_qty(Decimal("0.001"))
    price = instrument.make_price(Decimal("50000.00"))
    first = probe.order_factory.limit(BTCUSDT, OrderSide.BUY, quantity, price)
    probe.submit_order(first)
    for _ in range(500):
        if reports and first.status is OrderStatus.ACCEPTED:
            break
        await asyncio.sleep(0.01)
    assert reports, "no executionReport came"
    connection, data = reports[0]
    start = data.index(b'{"e":"executionReport"')
    report = data[start : data.index(b"}", start) + 1]
    old_id = str(first.client_order_id).encode()
    # Written nowhere, never answered.
    undo_writes = _wrap_writes(node.execution_client().http, lambda *_: None, nowhere=True)
    orders, frames = [], []
    try:
        for index in range(iterations):
            order = probe.order_factory.limit(BTCUSDT, OrderSide.BUY, quantity, price)
            probe.submit_order(order)
            orders.append(order)
            payload = report.replace(old_id, str(order.client_order_id).encode())
            payload = re.sub(rb'"i":\d+', b'"i":%d' % (900_000 + index), payload)
            frames.append(encode_frame(Opcode.TEXT, payload))
    finally:
        undo_writes()
    received = WebSocketConnection.data_received.__get__(connection)  # the undecorated one
    call = operator.call
    samples = times.setdefault("executionReport NEW -> on_order_accepted", [])
    for frame in frames:
        evict()
        start_ns = perf()
        call(received, frame)
        samples.append(perf() - start_ns)
    accepted = sum(order.status is OrderStatus.ACCEPTED for order in orders)
    assert accepted == iterations, f"{accepted} of {iterations} orders accepted"
    # The submits' tasks wait for answers that never come: each asks the venue after the
    # REST timeout (a warning), and the node's stop cancels the orders.


async def _new_order_answer(probe: Probe) -> tuple[bytes, bytes, bytes, Any, Any]:
    """Submit one limit order for real and keep the venue's answer to it, as read: return
    the answer's head and body, the order's id in them (to replace), and the quantity and
    price it was made with."""
    from zq.model.enums import OrderStatus

    instrument = probe.cache.instrument(BTCUSDT)
    assert instrument is not None
    quantity = instrument.make_qty(Decimal("0.001"))
    price = instrument.make_price(Decimal("50000.00"))
    connection_class = http_transport._Connection
    real_parse = connection_class._parse
    answers: list[bytes] = []

    def capture(self: Any) -> None:  # the first whole answer to a new order, as read
        data = bytes(self._buffer)
        if not answers and b'"status":"NEW"' in data and data.endswith(b"}"):
            answers.append(data)
        real_parse(self)

    connection_class._parse = capture  # type: ignore[method-assign]
    try:
        first = probe.order_factory.limit(BTCUSDT, OrderSide.BUY, quantity, price)
        probe.submit_order(first)
        for _ in range(500):
            if answers and first.status is OrderStatus.ACCEPTED:
                break
            await asyncio.sleep(0.01)
    finally:
        connection_class._parse = real_parse  # type: ignore[method-assign]
    assert answers, "no answer to a new order came"
    head, _, body = answers[0].partition(b"\r\n\r\n")
    old_id = str(first.client_order_id).encode()
    return head, body, old_id, quantity, price


async def _answer_leg(
    probe: Probe,
    http: Any,
    iterations: int,
    evict: Callable[[], None],
    times: dict[str, list[int]],
) -> None:
    """A new order's REST answer (``FULL``, as the venue wrote it) to ``on_order_accepted``:
    the answer's bytes handed to the REST connection's ``data_received`` for an order whose
    request was written nowhere (so it stays SUBMITTED until then); the acceptance is
    applied in that read (the submit's task resumes after the timed call, untimed)."""
    import operator

    from zq.model.enums import OrderStatus

    head, body, old_id, quantity, price = await _new_order_answer(probe)
    connections: list[Any] = []  # the connection each request was written (nowhere) on

    call = operator.call
    samples = times.setdefault("REST answer (FULL) -> on_order_accepted", [])
    accepted = 0
    for index in range(iterations):
        undo_writes = _wrap_writes(  # written nowhere: answered below
            http, lambda connection, data: connections.append(connection), nowhere=True
        )
        try:
            order = probe.order_factory.limit(BTCUSDT, OrderSide.BUY, quantity, price)
            probe.submit_order(order)
        finally:
            undo_writes()
        assert len(connections) == index + 1, f"submit {index} was not written at once"
        payload = body.replace(old_id, str(order.client_order_id).encode())
        payload = re.sub(rb'"orderId":\d+', b'"orderId":%d' % (900_000 + index), payload)
        answer = re.sub(rb"(?i)content-length: \d+", b"Content-Length: %d" % len(payload), head)
        data = answer + b"\r\n\r\n" + payload
        received = connections[-1].data_received
        evict()
        start_ns = perf()
        call(received, data)
        samples.append(perf() - start_ns)
        accepted += order.status is OrderStatus.ACCEPTED
        await asyncio.sleep(0)  # the submit's task ends: the connection is idle again
        await asyncio.sleep(0)
    assert accepted == iterations, f"{accepted} of {iterations} orders accepted in the read"


async def _tick_leg(
    probe: Probe,
    http: Any,
    connection: Any,
    frames: list[bytes],
    iterations: int,
    evict: Callable[[], None],
    times: dict[str, list[int]],
) -> None:
    """The whole of tick-to-order: a bookTicker frame handed to the WebSocket connection's
    ``data_received`` with the probe armed, through ``on_quote``, the order's making, the
    engines and the execution client, to the order's request handed to the REST connection's
    transport (which writes it nowhere). Untimed, the venue's answer (``FULL``, as it wrote
    one) is then handed to that connection, so that the order is accepted and the connection
    idle again before the next frame."""
    import operator

    head, body, old_id, _, _ = await _new_order_answer(probe)
    connections: list[Any] = []  # the connection each request was written (nowhere) on

    received = connection.transport.get_protocol().data_received  # see above: a FrameReader's
    call = operator.call
    samples = times.setdefault("frame -> request written (tick-to-order)", [])
    probe.orders = iterations + len(probe.submitted)
    probe.armed = True
    undo_writes = _wrap_writes(  # written nowhere: answered below
        http, lambda connection, data: connections.append(connection), nowhere=True
    )
    try:
        for index in range(iterations):
            frame = frames[index & 255]
            evict()
            start_ns = perf()
            call(received, frame)
            samples.append(perf() - start_ns)
            assert len(connections) == index + 1, f"frame {index}: no request written at once"
            coid = probe.working
            assert coid is not None
            payload = body.replace(old_id, str(coid).encode())
            payload = re.sub(rb'"orderId":\d+', b'"orderId":%d' % (900_000 + index), payload)
            answer = re.sub(rb"(?i)content-length: \d+", b"Content-Length: %d" % len(payload), head)
            connections[-1].data_received(answer + b"\r\n\r\n" + payload)
            await asyncio.sleep(0)  # the submit's task ends: the connection is idle again
            await asyncio.sleep(0)
            probe.working = None
    finally:
        undo_writes()
        probe.armed = False


class _Written:
    """A transport that keeps what the venue's REST protocol writes (for the venue leg)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50_000) if name == "peername" else default

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _venue_leg(
    venue: Any, iterations: int, evict: Callable[[], None], times: dict[str, list[int]]
) -> None:
    """The venue's side of a new order: a signed ``POST /api/v3/order`` (as the node writes
    it, 90 % of the bid, ``FULL``) handed to the venue's REST protocol's ``data_received``,
    through the parse, the handler (faults, limits, signature, checks, matching, the user
    events made) to the answer written; each order then cancelled (not timed). A user data
    stream listens, as in a live run: its events are made (and queued here, not sent)."""
    import hashlib
    import hmac
    import operator

    from zq.sandbox.protocol import RestProtocol
    from zq.sandbox.streams import Connection

    listener = Connection(ws=None, combined=False)  # type: ignore[arg-type]
    venue.hub.subscribe(listener, venue.hub.create_listen_key(API_KEY))
    protocol = RestProtocol(venue.api, lambda: asyncio.Protocol(), set())
    transport = _Written()
    protocol.connection_made(transport)  # type: ignore[arg-type]

    def request(method: str, params: str) -> bytes:
        query = f"{params}&recvWindow=5000&timestamp={time.time_ns() // 1_000_000}"
        signature = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
        return (
            f"{method} /api/v3/order?{query}&signature={signature} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAccept: application/json\r\nUser-Agent: zq\r\n"
            f"X-MBX-APIKEY: {API_KEY}\r\nContent-Length: 0\r\n\r\n"
        ).encode("latin-1")

    samples = times.setdefault("venue: new order read -> answer written", [])
    call = operator.call
    for index in range(iterations):
        coid = f"O-20260101-000000-001-001-{index + 1}"
        new = request(
            "POST",
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00100"
            f"&price=54000.00&newClientOrderId={coid}&newOrderRespType=FULL",
        )
        cancel = request("DELETE", f"symbol=BTCUSDT&origClientOrderId={coid}")
        evict()
        start = perf()
        call(protocol.data_received, new)
        samples.append(perf() - start)
        assert transport.written[-1].startswith(b"HTTP/1.1 200 "), transport.written[-1]
        protocol.data_received(cancel)
        assert transport.written[-1].startswith(b"HTTP/1.1 200 "), transport.written[-1]
        venue.hub.flush_user_events()
        listener.queue = asyncio.Queue()
    print(f"  an answer: {transport.written[-2][:120]!r}...")


async def main(args: argparse.Namespace) -> None:
    policy = "SCHED_FIFO" if args.fifo else "normal"
    BUSY_POLL["on"], BUSY_POLL["venue"] = args.busy_poll, args.venue_busy_poll
    AFFINITY["node"], AFFINITY["venue"] = args.node_cpus, args.venue_cpus
    print(
        f"{os.cpu_count()} CPUs; gc.freeze after start-up: {args.gc_freeze}; scheduling "
        f"{policy}; busy-polling: node {args.busy_poll}, venue {args.venue_busy_poll}; "
        f"node CPUs {args.node_cpus or 'any'}, "
        f"venue CPUs {args.venue_cpus or 'any'}"
    )
    only = args.only
    if only == "loop":
        await loop_legs(args)
        return
    if only in (None, "latency"):
        before = load()
        runs = await latency_case(args, args.orders, flood=False)
        show(f"(a)+(b) tick-to-order and submit->ack, {args.orders} orders per run", runs, before)
    if only in (None, "throughput"):
        flood = Venue(interval=0.0, freeze=args.gc_freeze)  # as fast as the venue can step
        try:
            before = load()
            runs = [await throughput_run(flood, args.seconds) for _ in range(args.runs)]
            show(f"(c) market-data throughput over {args.seconds} s", runs, before)
        finally:
            flood.close()
    if only in (None, "flood"):
        before = load()
        runs = await latency_case(args, args.cancels, flood=True)
        show(f"(d) cancels under the flood, {args.cancels} per run", runs, before)
    if only in (None, "journal"):
        for synchronous in ("FULL", "NORMAL"):
            before = load()
            runs = await latency_case(args, args.orders, flood=False, journal=synchronous)
            show(f"(e) (a)+(b) with the journal, synchronous={synchronous}", runs, before)


def _cpus(text: str) -> list[int]:
    return [int(cpu) for cpu in text.split(",")]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=float, default=0.01, help=argparse.SUPPRESS)
    parser.add_argument("--stamps", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--orders", type=int, default=300, help="orders per latency run")
    parser.add_argument("--cancels", type=int, default=50, help="cancels per flood run")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of a throughput run")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() after start-up in both processes"
    )
    parser.add_argument(
        "--fifo", action="store_true", help="both processes under SCHED_FIFO (a diagnosis)"
    )
    parser.add_argument(
        "--busy-poll", action="store_true", help="the node's loop polls without sleeping"
    )
    parser.add_argument(
        "--venue-busy-poll",
        action="store_true",
        help="the venue's loop polls without sleeping (zq venue --busy-poll)",
    )
    parser.add_argument(
        "--only", choices=("latency", "throughput", "flood", "journal", "loop"), default=None
    )
    parser.add_argument(
        "--leg",
        choices=("quote", "request", "both", "venue", "ack", "answer", "tick"),
        default="both",
        help="--only loop's legs (venue: the venue's side of a new order; ack: the user "
        "stream's report of a new order to on_order_accepted; answer: a new order's REST "
        "answer to on_order_accepted, applied in the read; tick: a frame to its order's request "
        "written, the whole of tick-to-order)",
    )
    parser.add_argument("--iterations", type=int, default=20_000, help="--only loop's calls")
    parser.add_argument(
        "--node-cpus", type=_cpus, default=None, help="the node's cpu_affinity, e.g. 0 or 0,1"
    )
    parser.add_argument(
        "--venue-cpus", type=_cpus, default=None, help="the venue process's CPUs, e.g. 1"
    )
    parser.add_argument(
        "--cold-mb", type=int, default=0, help="--only loop: rewrite this many MB before each call"
    )
    arguments = parser.parse_args()
    if arguments.fifo:
        fifo()  # the venue process inherits it
    if arguments.serve:
        serve(
            arguments.interval,
            arguments.stamps,
            arguments.gc_freeze,
            arguments.venue_cpus,
            arguments.venue_busy_poll,
        )
    else:
        import uvloop

        uvloop.run(main(arguments))
