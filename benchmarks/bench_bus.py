"""Throughput of the compiled MessageBus, driven from a Python loop.

Each case runs ``for _ in range(n): publish(topic, msg)`` (or ``send`` / ``request``) with the bus
method bound to a local, repeats it, and prints the median over the repeats in messages per second
and nanoseconds per operation. The handler is a bound method of a small Python class that counts
the messages it receives (``self.count += 1``), the shape of a component's ``on_*`` handler; the
"direct call" line is the same loop calling that handler without the bus, for reference.

Run: ``python benchmarks/bench_bus.py [--repeats 7] [--n 1000000]``
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zq_core.bus import MessageBus, Request, Response

TOPIC = "data.trades.BINANCE.BTCUSDT"
ENDPOINT = "exec.submit"


class Counter:
    """A trivial handler: counts what it receives."""

    def __init__(self) -> None:
        self.count = 0

    def on_message(self, msg: object) -> None:
        self.count += 1

    def on_request(self, request: Request) -> object:
        self.count += 1
        return request.payload  # answer at once

    def on_response(self, response: Response) -> None:
        self.count += 1


def measure(run: Callable[[int], None], n: int, repeats: int) -> tuple[float, float]:
    """Return the median and the minimum seconds of ``run(n)`` over ``repeats`` runs."""
    run(min(n, 10_000))  # warm up: resolve the topic, specialize the bytecode
    timings = []
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            run(n)
            timings.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(timings), min(timings)


def report(label: str, timings: tuple[float, float], n: int) -> None:
    median, best = timings
    print(
        f"{label:<40} {n / median:>12,.0f} msg/s {median / n * 1e9:>8.1f} ns/op"
        f"   (best {best / n * 1e9:.1f} ns/op)"
    )


def direct_call(n: int) -> None:
    handler = Counter().on_message
    msg = object()
    for _ in range(n):
        handler(msg)


def publish_case(subscribe: Callable[[MessageBus], None]) -> Callable[[int], None]:
    bus = MessageBus()
    subscribe(bus)
    publish = bus.publish
    msg = object()

    def run(n: int) -> None:
        for _ in range(n):
            publish(TOPIC, msg)

    return run


def no_subscribers(bus: MessageBus) -> None:
    bus.subscribe("data.quotes.*", Counter().on_message)  # present, but not matching


def one_exact(bus: MessageBus) -> None:
    bus.subscribe(TOPIC, Counter().on_message)


def one_wildcard(bus: MessageBus) -> None:
    bus.subscribe("data.trades.*", Counter().on_message)


def ten_wildcards(bus: MessageBus) -> None:
    for i in range(10):
        bus.subscribe("data.*.BINANCE.*" if i % 2 else "data.trades.*", Counter().on_message)


def send_case() -> Callable[[int], None]:
    bus = MessageBus()
    bus.register(ENDPOINT, Counter().on_message)
    send = bus.send
    command = object()

    def run(n: int) -> None:
        for _ in range(n):
            send(ENDPOINT, command)

    return run


def request_case() -> Callable[[int], None]:
    bus = MessageBus()
    counter = Counter()
    bus.register(ENDPOINT, counter.on_request)
    request = bus.request
    callback = counter.on_response
    payload = object()

    def run(n: int) -> None:
        for _ in range(n):
            request(ENDPOINT, payload, callback)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="repeats per case (median)")
    parser.add_argument("--n", type=int, default=1_000_000, help="operations per repeat")
    args = parser.parse_args()
    n, repeats = args.n, max(args.repeats, 5)

    print(f"MessageBus throughput: median of {repeats} repeats x {n:,} operations")
    print("handler: bound method Counter.on_message (self.count += 1)\n")
    cases: list[tuple[str, Callable[[int], None]]] = [
        ("direct call of the handler (no bus)", direct_call),
        ("publish, 0 subscribers", publish_case(no_subscribers)),
        ("publish, 1 subscriber (exact topic)", publish_case(one_exact)),
        ("publish, 1 wildcard subscriber", publish_case(one_wildcard)),
        ("publish, 10 wildcard subscribers", publish_case(ten_wildcards)),
        ("send (1 endpoint handler)", send_case()),
        ("request/response (immediate answer)", request_case()),
    ]
    for label, run in cases:
        report(label, measure(run, n, repeats), n)


if __name__ == "__main__":
    main()
