"""Async request/response on the compiled MessageBus, on uvloop (the loop factory is set for
every asyncio test by the ``pytest_asyncio_loop_factories`` hook in tests/conftest.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvloop

from zq_core.bus import MessageBus, Request, Response, UnknownEndpointError

pytestmark = pytest.mark.asyncio


class Venue:
    """An endpoint that answers later, from a callback on the running loop."""

    def __init__(self) -> None:
        self.held: list[Request] = []

    def handle(self, request: Request) -> None:
        self.held.append(request)
        asyncio.get_running_loop().call_soon(request.respond, f"status of {request.payload}")


class Boom(Exception):
    pass


def boom(request: Request) -> None:
    raise Boom(f"endpoint failed on {request.payload!r}")


async def test_async_tests_run_on_uvloop() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


async def test_request_async_returns_an_immediate_answer() -> None:
    bus = MessageBus()
    bus.register("echo", lambda request: ("echo", request.payload))

    assert await bus.request_async("echo", 1) == ("echo", 1)
    assert (bus.requests, bus.responses, bus.pending_requests) == (1, 1, 0)


async def test_request_async_awaits_an_answer_given_later_on_the_loop() -> None:
    bus = MessageBus()
    venue = Venue()
    bus.register("venue.status", venue.handle)

    answer = await bus.request_async("venue.status", "order-1")

    assert answer == "status of order-1"
    assert [r.correlation_id for r in venue.held] == [1]
    assert bus.pending_requests == 0


async def test_a_request_with_a_callback_is_answered_later_on_the_loop_exactly_once() -> None:
    bus = MessageBus()
    venue = Venue()
    bus.register("venue.status", venue.handle)
    responses: list[Response] = []
    done = asyncio.Event()

    def on_response(response: Response) -> None:
        responses.append(response)
        done.set()

    correlation_id = bus.request("venue.status", "order-2", on_response)
    assert responses == [] and bus.pending_requests == 1

    await asyncio.wait_for(done.wait(), 1)
    await asyncio.sleep(0)  # give any (wrong) second delivery a chance

    assert [(r.correlation_id, r.endpoint, r.payload) for r in responses] == [
        (correlation_id, "venue.status", "status of order-2")
    ]
    with pytest.raises(RuntimeError, match=f"request {correlation_id} .* already been answered"):
        venue.held[0].respond("again")


async def test_concurrent_requests_each_get_their_own_response() -> None:
    bus = MessageBus()
    held: list[Request] = []
    bus.register("venue.status", held.append)

    tasks = [asyncio.ensure_future(bus.request_async("venue.status", i)) for i in range(3)]
    await asyncio.sleep(0)
    assert bus.pending_requests == 3
    for request in reversed(held):  # answered out of order
        request.respond(request.payload * 10)

    assert await asyncio.gather(*tasks) == [0, 10, 20]
    assert bus.pending_requests == 0


async def test_request_async_times_out_and_a_late_response_is_dropped() -> None:
    bus = MessageBus()
    held: list[Request] = []
    bus.register("venue.status", held.append)

    with pytest.raises(TimeoutError):
        await bus.request_async("venue.status", "order-3", timeout=0.01)

    assert bus.pending_requests == 0
    assert held[0].is_pending is False
    assert held[0].respond("too late") is False  # dropped, by definition
    assert held[0].respond("still too late") is False
    assert bus.responses == 0


async def test_request_async_timeout_error_is_the_asyncio_one() -> None:
    bus = MessageBus()
    bus.register("never", lambda request: None)

    with pytest.raises(asyncio.TimeoutError):
        await bus.request_async("never", None, timeout=0)


async def test_a_cancelled_request_async_expires_its_request() -> None:
    bus = MessageBus()
    held: list[Request] = []
    bus.register("venue.status", held.append)

    task = asyncio.ensure_future(bus.request_async("venue.status", "order-4"))
    await asyncio.sleep(0)
    assert bus.pending_requests == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert bus.pending_requests == 0
    assert held[0].respond("after cancel") is False


async def test_a_response_racing_the_timeout_is_either_delivered_or_dropped_never_both() -> None:
    bus = MessageBus()
    held: list[Request] = []
    bus.register("venue.status", held.append)
    loop = asyncio.get_running_loop()

    async def ask() -> Any:
        return await bus.request_async("venue.status", None, timeout=0.005)

    task = asyncio.ensure_future(ask())
    await asyncio.sleep(0)
    delivered: list[bool] = []
    loop.call_later(0.005, lambda: delivered.append(held[0].respond("answer")))
    try:
        result = await task
    except TimeoutError:
        result = None
    await asyncio.sleep(0.01)

    assert delivered == [result == "answer"]
    assert bus.responses == (1 if result == "answer" else 0)
    assert bus.pending_requests == 0


@pytest.mark.parametrize("raise_errors", [True, False])
async def test_request_async_raises_the_handler_exception_under_either_policy(
    raise_errors: bool,
) -> None:
    reported: list[tuple[Any, ...]] = []
    bus = MessageBus(
        raise_errors=raise_errors,
        on_error=None if raise_errors else (lambda *args: reported.append(args)),
    )
    bus.register("venue.status", boom)

    with pytest.raises(Boom, match="endpoint failed on 'x'"):
        await bus.request_async("venue.status", "x")

    assert bus.pending_requests == 0
    assert bus.errors == (0 if raise_errors else 1)
    assert len(reported) == (0 if raise_errors else 1)


async def test_request_async_to_an_unknown_endpoint_names_it() -> None:
    bus = MessageBus()
    bus.register("venue.status", boom)

    with pytest.raises(UnknownEndpointError, match=r"'venue\.statos'.*'venue\.status'"):
        await bus.request_async("venue.statos", None)
    assert bus.requests == 0


async def test_async_and_callback_requests_share_one_correlation_counter() -> None:
    bus = MessageBus()
    seen: list[int] = []

    def echo(request: Request) -> object:
        seen.append(request.correlation_id)
        return request.payload

    bus.register("echo", echo)

    bus.request("echo", 1, lambda response: None)
    await bus.request_async("echo", 2)
    bus.request("echo", 3, lambda response: None)

    assert seen == [1, 2, 3]


async def test_send_from_a_loop_callback_reaches_the_endpoint() -> None:
    bus = MessageBus()
    commands: list[object] = []
    bus.register("exec.submit", commands.append)

    asyncio.get_running_loop().call_soon(bus.send, "exec.submit", "order")
    await asyncio.sleep(0)

    assert commands == ["order"]
