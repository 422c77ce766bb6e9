"""The live clock, on uvloop and on the standard asyncio loop.

Most tests are coroutines run by the ``run`` fixture on both loops (one suite, two loops, the
way uvloop tests itself). No test asserts a duration: they wait for events with a generous
timeout and check order, counts and the scheduled times, which are exact.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import uvloop

from zq.common.clock import LiveClock, TimeEvent

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, T]], T]

MS = 1_000_000
GENEROUS_S = 10.0  # a wait that only a broken clock exhausts
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

LOOP_FACTORIES: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}


@pytest.fixture(params=sorted(LOOP_FACTORIES))
def run(request: pytest.FixtureRequest) -> Runner[Any]:
    factory = LOOP_FACTORIES[request.param]

    def run_on_loop(coroutine: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coroutine)

    return run_on_loop


class Collector:
    """A callback that records events and wakes a waiter once it has enough of them."""

    def __init__(self, wanted: int = 1) -> None:
        self.events: list[TimeEvent] = []
        self.wanted = wanted
        self.enough = asyncio.Event()

    def __call__(self, event: TimeEvent) -> None:
        self.events.append(event)
        if len(self.events) >= self.wanted:
            self.enough.set()

    async def wait(self) -> list[TimeEvent]:
        await asyncio.wait_for(self.enough.wait(), GENEROUS_S)
        return self.events


# -- time ------------------------------------------------------------------------------------


def test_timestamp_is_the_wall_time_in_nanoseconds() -> None:
    clock = LiveClock()
    before = time.time_ns()
    now = clock.timestamp_ns()
    after = time.time_ns()
    assert before <= now <= after


def test_utc_now_is_an_aware_utc_datetime_of_the_wall_time() -> None:
    clock = LiveClock()
    before = time.time_ns() // 1_000
    now = clock.utc_now()
    after = time.time_ns() // 1_000
    assert now.tzinfo is UTC
    assert before <= (now - EPOCH) // timedelta(microseconds=1) <= after


def test_setting_a_timer_without_a_loop_says_a_loop_is_needed() -> None:
    clock = LiveClock()
    with pytest.raises(RuntimeError, match=r"LiveClock needs an asyncio event loop .* pass loop="):
        clock.set_time_alert("alert", clock.timestamp_ns(), lambda event: None)
    assert clock.timer_count == 0


# -- alerts and timers -----------------------------------------------------------------------


def test_alert_at_now_fires_once_and_is_removed(run: Runner[None]) -> None:
    async def scenario() -> None:
        clock = LiveClock()
        collector = Collector()
        alert_ns = clock.timestamp_ns()
        clock.set_time_alert("alert", alert_ns, collector)
        assert clock.timer_names == ["alert"]

        [event] = await collector.wait()

        assert event.name == "alert"
        assert event.ts_event == alert_ns
        assert event.ts_init >= event.ts_event
        assert clock.timer_names == []

    run(scenario())


def test_alert_in_the_past_is_late_not_an_error(run: Runner[None]) -> None:
    async def scenario() -> None:
        clock = LiveClock()
        collector = Collector()
        past_ns = clock.timestamp_ns() - 1_000 * MS
        clock.set_time_alert("late", past_ns, collector)
        [event] = await collector.wait()
        assert event.ts_event == past_ns

    run(scenario())


def test_alerts_fire_in_time_order(run: Runner[None]) -> None:
    async def scenario() -> None:
        clock = LiveClock()
        collector = Collector(wanted=3)
        now = clock.timestamp_ns()
        clock.set_time_alert("third", now + 30 * MS, collector)
        clock.set_time_alert("first", now + 10 * MS, collector)
        clock.set_time_alert("second", now + 20 * MS, collector)
        events = await collector.wait()
        assert [event.name for event in events] == ["first", "second", "third"]
        assert [event.event_id for event in events] == [1, 2, 3]

    run(scenario())


def test_timer_fires_on_its_planned_schedule(run: Runner[None]) -> None:
    async def scenario() -> None:
        clock = LiveClock()
        collector = Collector(wanted=3)
        start = clock.timestamp_ns()
        clock.set_timer("tick", 5 * MS, collector, start_ns=start)

        events = await collector.wait()
        clock.cancel_timer("tick")

        # Scheduled times sit on the grid start + n * interval, whatever the loop's jitter.
        for event in events:
            assert (event.ts_event - start) % (5 * MS) == 0
            assert event.ts_event > start
            assert event.ts_init >= event.ts_event  # never early
        assert [e.ts_event for e in events] == sorted({e.ts_event for e in events})

    run(scenario())


def test_timer_with_fire_immediately_fires_at_its_start(run: Runner[None]) -> None:
    async def scenario() -> None:
        clock = LiveClock()
        collector = Collector()
        start = clock.timestamp_ns()
        clock.set_timer("tick", 60_000 * MS, collector, start_ns=start, fire_immediately=True)
        [event] = await collector.wait()
        assert event.ts_event == start
        assert clock.next_time_ns("tick") == start + 60_000 * MS
        clock.cancel_timer("tick")

    run(scenario())


def test_timer_with_stop_fires_its_last_time_at_stop_and_is_removed(run: Runner[None]) -> None:
    async def scenario() -> None:
        clock = LiveClock()
        collector = Collector()
        start = clock.timestamp_ns()
        clock.set_timer("tick", 2 * MS, collector, start_ns=start, stop_ns=start + 6 * MS)
        while clock.timer_count:
            await asyncio.wait_for(asyncio.sleep(0.005), GENEROUS_S)
        # Late fires are coalesced, so a slow machine may see fewer events; the last is at stop.
        assert collector.events[-1].ts_event == start + 6 * MS
        assert 1 <= len(collector.events) <= 3

    run(scenario())


def test_cancelled_timer_fires_no_more(run: Runner[None]) -> None:
    async def scenario() -> None:
        clock = LiveClock()
        collector = Collector(wanted=2)
        clock.set_timer("tick", 2 * MS, collector)
        await collector.wait()
        clock.cancel_timer("tick")
        fired = len(collector.events)
        await asyncio.sleep(0.02)
        assert len(collector.events) == fired
        assert clock.timer_count == 0

    run(scenario())


def test_a_callback_cancelling_its_own_timer_stops_it(run: Runner[None]) -> None:
    async def scenario() -> None:
        clock = LiveClock()
        collector = Collector()

        def once(event: TimeEvent) -> None:
            collector(event)
            clock.cancel_timer("tick")

        clock.set_timer("tick", 1 * MS, once)
        await collector.wait()
        await asyncio.sleep(0.01)
        assert len(collector.events) == 1

    run(scenario())


def test_cancel_timers_cancels_every_pending_handle(run: Runner[None]) -> None:
    async def scenario() -> None:
        clock = LiveClock()
        collector = Collector()
        now = clock.timestamp_ns()
        clock.set_timer("a", 1 * MS, collector)
        clock.set_time_alert("b", now, collector)
        clock.cancel_timers()
        await asyncio.sleep(0.01)
        assert collector.events == []

    run(scenario())


def test_late_fires_are_coalesced_onto_the_latest_missed_time(run: Runner[None]) -> None:
    async def scenario() -> None:
        clock = LiveClock()
        interval = 2 * MS
        collector = Collector(wanted=2)

        def block_the_loop_once(event: TimeEvent) -> None:
            collector(event)
            if len(collector.events) == 1:
                time.sleep(0.03)  # the loop misses at least 15 intervals

        start = clock.timestamp_ns()
        clock.set_timer("tick", interval, block_the_loop_once, start_ns=start)
        first, second = (await collector.wait())[:2]
        clock.cancel_timer("tick")

        assert (second.ts_event - start) % interval == 0
        assert second.ts_event - first.ts_event >= 15 * interval  # the missed ones were skipped
        assert 0 <= second.ts_init - second.ts_event < interval  # the latest passed grid time

    run(scenario())


def test_a_raising_callback_is_reported_to_the_loop_and_the_timer_stays_armed(
    run: Runner[None],
) -> None:
    async def scenario() -> None:
        reported: list[BaseException | None] = []
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, context: reported.append(context.get("exception")))
        clock = LiveClock()
        collector = Collector(wanted=2)

        def fails_first(event: TimeEvent) -> None:
            collector(event)
            if len(collector.events) == 1:
                raise ValueError("first fire fails")

        clock.set_timer("tick", 1 * MS, fails_first)
        await collector.wait()
        clock.cancel_timer("tick")
        assert len(reported) == 1
        assert isinstance(reported[0], ValueError)

    run(scenario())


def test_timer_set_before_the_loop_runs_fires_on_the_loop_it_was_given() -> None:
    loop = uvloop.new_event_loop()
    try:
        clock = LiveClock(loop=loop)
        events: list[TimeEvent] = []
        done = loop.create_future()

        def record(event: TimeEvent) -> None:
            events.append(event)
            done.set_result(None)

        clock.set_time_alert("alert", clock.timestamp_ns(), record)
        loop.run_until_complete(asyncio.wait_for(done, GENEROUS_S))
        assert [event.name for event in events] == ["alert"]
    finally:
        loop.close()


# -- through pytest-asyncio ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_alert_fires_under_pytest_asyncio() -> None:
    clock = LiveClock()
    collector = Collector()
    clock.set_time_alert("alert", clock.timestamp_ns(), collector)
    [event] = await collector.wait()
    assert event.name == "alert"


@pytest.mark.asyncio
async def test_timer_fires_at_least_three_times_under_pytest_asyncio() -> None:
    clock = LiveClock()
    collector = Collector(wanted=3)
    clock.set_timer("tick", 1 * MS, collector)
    events = await collector.wait()
    clock.cancel_timer("tick")
    assert len(events) >= 3
    assert [event.event_id for event in events] == list(range(1, len(events) + 1))
