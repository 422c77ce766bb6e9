"""The shared clock API and the backtest clock, ``TestClock``."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zq.common.clock import TestClock, TimeEvent, TimerNotFoundError

SECOND = 1_000_000_000


class Recorder:
    """A callback that records each event and the clock's time when it ran."""

    def __init__(self, clock: TestClock) -> None:
        self.clock = clock
        self.calls: list[tuple[str, int, int]] = []  # (name, ts_event, clock time)

    def __call__(self, event: TimeEvent) -> None:
        self.calls.append((event.name, event.ts_event, self.clock.timestamp_ns()))

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


def names_and_times(events: list[TimeEvent]) -> list[tuple[str, int]]:
    return [(event.name, event.ts_event) for event in events]


# -- time ------------------------------------------------------------------------------------


def test_new_clock_starts_at_zero_by_default() -> None:
    assert TestClock().timestamp_ns() == 0


def test_new_clock_starts_at_the_given_time() -> None:
    assert TestClock(5 * SECOND).timestamp_ns() == 5 * SECOND


def test_new_clock_with_negative_time_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        TestClock(-1)


def test_new_clock_with_float_time_is_refused() -> None:
    with pytest.raises(TypeError, match="time_ns must be an int"):
        TestClock(1.5)  # type: ignore[arg-type]


def test_utc_now_is_the_clock_time_as_an_aware_utc_datetime() -> None:
    clock = TestClock(1_700_000_000_123_456_789)
    now = clock.utc_now()
    assert now == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert now.tzinfo is UTC


def test_set_time_moves_the_clock_without_firing_anything() -> None:
    clock = TestClock()
    clock.set_time(10)
    assert clock.timestamp_ns() == 10


def test_set_time_back_without_timers_rewinds_the_clock() -> None:
    clock = TestClock(100)
    clock.set_time(0)
    assert clock.timestamp_ns() == 0


def test_set_time_back_while_timers_are_set_is_refused() -> None:
    clock = TestClock(100)
    clock.set_time_alert("alert", 200, Recorder(clock))
    with pytest.raises(ValueError, match=r"back from 100 to 50 while timers are set: alert"):
        clock.set_time(50)


def test_set_time_past_a_pending_timer_is_refused_naming_the_timer() -> None:
    clock = TestClock()
    clock.set_time_alert("alert", 100, Recorder(clock))
    clock.set_time(100)  # up to the due time is fine
    with pytest.raises(ValueError, match=r"timer 'alert' is due at 100; use advance_time"):
        clock.set_time(101)
    assert clock.timestamp_ns() == 100


def test_set_time_ignores_cancelled_timers() -> None:
    clock = TestClock()
    clock.set_time_alert("early", 10, Recorder(clock))
    clock.set_time_alert("late", 100, Recorder(clock))
    clock.cancel_timer("early")
    clock.set_time(50)
    assert clock.timestamp_ns() == 50


def test_advance_time_backwards_is_refused_naming_both_times() -> None:
    clock = TestClock(100)
    with pytest.raises(ValueError, match="backwards from 100 to 99"):
        clock.advance_time(99)
    assert clock.timestamp_ns() == 100


def test_advance_time_without_timers_moves_the_clock_and_returns_nothing() -> None:
    clock = TestClock()
    assert clock.advance_time(SECOND) == []
    assert clock.timestamp_ns() == SECOND


def test_advance_time_to_the_current_time_is_allowed() -> None:
    clock = TestClock(100)
    assert clock.advance_time(100) == []
    assert clock.timestamp_ns() == 100


# -- alerts ----------------------------------------------------------------------------------


def test_alert_fires_once_at_its_time_and_is_removed() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    clock.set_time_alert("alert", 50, recorder)

    events = clock.advance_time(100)

    assert names_and_times(events) == [("alert", 50)]
    assert recorder.calls == [("alert", 50, 50)]
    assert clock.timer_names == []
    assert clock.advance_time(200) == []
    assert clock.timestamp_ns() == 200


def test_alert_is_not_fired_before_its_time() -> None:
    clock = TestClock()
    clock.set_time_alert("alert", 50, Recorder(clock))
    assert clock.advance_time(49) == []
    assert names_and_times(clock.advance_time(50)) == [("alert", 50)]


def test_alert_at_exactly_now_fires_on_the_next_advance() -> None:
    clock = TestClock(100)
    recorder = Recorder(clock)
    clock.set_time_alert("now", 100, recorder)
    assert recorder.calls == []

    assert names_and_times(clock.advance_time(100)) == [("now", 100)]
    assert recorder.calls == [("now", 100, 100)]


def test_alert_in_the_past_is_refused() -> None:
    clock = TestClock(100)
    with pytest.raises(
        ValueError, match="timer 'late': alert_ns 99 is before the clock's time 100"
    ):
        clock.set_time_alert("late", 99, Recorder(clock))
    assert clock.timer_count == 0


def test_alert_name_is_free_again_inside_its_own_callback() -> None:
    clock = TestClock()
    fired: list[int] = []

    def again(event: TimeEvent) -> None:
        fired.append(event.ts_event)
        if len(fired) < 3:
            clock.set_time_alert("alert", event.ts_event + 10, again)

    clock.set_time_alert("alert", 10, again)
    clock.advance_time(100)
    assert fired == [10, 20, 30]


# -- timers ----------------------------------------------------------------------------------


def test_timer_fires_every_interval_from_the_start() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    clock.set_timer("tick", SECOND, recorder)

    events = clock.advance_time(3 * SECOND + 1)

    assert names_and_times(events) == [("tick", SECOND), ("tick", 2 * SECOND), ("tick", 3 * SECOND)]
    assert [clock_time for _, _, clock_time in recorder.calls] == [SECOND, 2 * SECOND, 3 * SECOND]
    assert clock.timestamp_ns() == 3 * SECOND + 1
    assert clock.next_time_ns("tick") == 4 * SECOND


def test_timer_events_carry_ts_init_equal_to_ts_event() -> None:
    clock = TestClock()
    clock.set_timer("tick", 10, Recorder(clock))
    for event in clock.advance_time(50):
        assert event.ts_init == event.ts_event


def test_timer_counts_its_schedule_from_start_ns() -> None:
    clock = TestClock(0)
    clock.set_timer("tick", 10, Recorder(clock), start_ns=105)
    assert clock.next_time_ns("tick") == 115
    assert names_and_times(clock.advance_time(140)) == [("tick", 115), ("tick", 125), ("tick", 135)]


def test_timer_with_fire_immediately_fires_at_its_start() -> None:
    clock = TestClock(100)
    clock.set_timer("tick", 10, Recorder(clock), fire_immediately=True)
    assert clock.next_time_ns("tick") == 100
    assert names_and_times(clock.advance_time(120)) == [("tick", 100), ("tick", 110), ("tick", 120)]


def test_timer_fires_up_to_and_including_stop_then_is_removed() -> None:
    clock = TestClock()
    clock.set_timer("tick", 10, Recorder(clock), stop_ns=30)
    assert names_and_times(clock.advance_time(100)) == [("tick", 10), ("tick", 20), ("tick", 30)]
    assert clock.timer_names == []


def test_timer_with_stop_between_fires_stops_at_the_last_fire_before_it() -> None:
    clock = TestClock()
    clock.set_timer("tick", 10, Recorder(clock), stop_ns=25)
    assert names_and_times(clock.advance_time(100)) == [("tick", 10), ("tick", 20)]
    assert clock.timer_count == 0


def test_timer_with_stop_at_start_and_fire_immediately_fires_once() -> None:
    clock = TestClock()
    clock.set_timer("once", 10, Recorder(clock), start_ns=5, stop_ns=5, fire_immediately=True)
    assert names_and_times(clock.advance_time(100)) == [("once", 5)]


def test_timer_is_re_armed_before_its_callback_runs() -> None:
    clock = TestClock()
    seen: list[int] = []
    clock.set_timer("tick", 10, lambda event: seen.append(clock.next_time_ns("tick")))
    clock.advance_time(20)
    assert seen == [20, 30]


def test_timer_name_is_free_inside_its_last_callback() -> None:
    clock = TestClock()
    names: list[list[str]] = []
    clock.set_timer("tick", 10, lambda event: names.append(clock.timer_names), stop_ns=20)
    clock.advance_time(20)
    assert names == [["tick"], []]


@pytest.mark.parametrize("interval", [0, -1])
def test_timer_with_non_positive_interval_is_refused(interval: int) -> None:
    clock = TestClock()
    with pytest.raises(
        ValueError, match=f"timer 'tick': interval_ns must be positive, got {interval}"
    ):
        clock.set_timer("tick", interval, Recorder(clock))


def test_timer_with_float_interval_is_refused() -> None:
    clock = TestClock()
    with pytest.raises(TypeError, match="interval_ns must be an int"):
        clock.set_timer("tick", 1.0, Recorder(clock))  # type: ignore[arg-type]


def test_timer_starting_in_the_past_is_refused() -> None:
    clock = TestClock(100)
    with pytest.raises(ValueError, match="start_ns 50 is before the clock's time 100"):
        clock.set_timer("tick", 10, Recorder(clock), start_ns=50)


def test_timer_stopping_before_it_starts_is_refused() -> None:
    clock = TestClock()
    with pytest.raises(ValueError, match="stop_ns 40 is before start_ns 50"):
        clock.set_timer("tick", 10, Recorder(clock), start_ns=50, stop_ns=40)


def test_timer_stopping_before_its_first_fire_is_refused() -> None:
    clock = TestClock()
    with pytest.raises(
        ValueError, match="would never fire: its first fire at 10 is after stop_ns 5"
    ):
        clock.set_timer("tick", 10, Recorder(clock), stop_ns=5)
    assert clock.timer_count == 0


def test_timer_with_a_callback_that_is_not_callable_is_refused() -> None:
    clock = TestClock()
    with pytest.raises(TypeError, match="callback must be callable"):
        clock.set_timer("tick", 10, "not a function")  # type: ignore[arg-type]


def test_timer_with_an_empty_name_is_refused() -> None:
    clock = TestClock()
    with pytest.raises(ValueError, match="non-empty str"):
        clock.set_timer("", 10, Recorder(clock))


def test_timer_with_a_name_in_use_is_refused_naming_it() -> None:
    clock = TestClock()
    clock.set_timer("tick", 10, Recorder(clock))
    with pytest.raises(ValueError, match="'tick' is already set"):
        clock.set_timer("tick", 20, Recorder(clock))
    assert clock.next_time_ns("tick") == 10


def test_timers_and_alerts_share_one_namespace() -> None:
    clock = TestClock()
    clock.set_timer("x", 10, Recorder(clock))
    with pytest.raises(ValueError, match="'x' is already set"):
        clock.set_time_alert("x", 20, Recorder(clock))


# -- ordering --------------------------------------------------------------------------------


def test_events_fire_in_time_order_across_timers_and_alerts() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    clock.set_timer("a-timer", 30, recorder)
    clock.set_time_alert("b-alert", 45, recorder)
    clock.set_time_alert("c-alert", 5, recorder)

    events = clock.advance_time(60)

    assert names_and_times(events) == [
        ("c-alert", 5),
        ("a-timer", 30),
        ("b-alert", 45),
        ("a-timer", 60),
    ]
    assert [clock_time for _, _, clock_time in recorder.calls] == [5, 30, 45, 60]


def test_events_due_at_the_same_instant_fire_in_name_order() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    for name in ["delta", "alpha", "charlie", "bravo"]:
        clock.set_time_alert(name, 10, recorder)
    clock.set_timer("Zulu", 10, recorder)  # upper case sorts before lower case

    clock.advance_time(10)

    assert recorder.names == ["Zulu", "alpha", "bravo", "charlie", "delta"]


def test_an_earlier_event_fires_before_a_smaller_name() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    clock.set_time_alert("a", 20, recorder)
    clock.set_time_alert("b", 10, recorder)
    clock.advance_time(20)
    assert recorder.names == ["b", "a"]


def test_timer_set_in_a_callback_for_the_same_instant_fires_in_name_order_among_pending() -> None:
    clock = TestClock()
    recorder = Recorder(clock)

    def bravo(event: TimeEvent) -> None:
        recorder(event)
        clock.set_time_alert("alpha", clock.timestamp_ns(), recorder)  # sorts first: fires next
        clock.set_time_alert("delta", clock.timestamp_ns(), recorder)  # after charlie

    clock.set_time_alert("bravo", 10, bravo)
    clock.set_time_alert("charlie", 10, recorder)

    events = clock.advance_time(10)

    assert recorder.names == ["bravo", "alpha", "charlie", "delta"]
    assert names_and_times(events) == [("bravo", 10), ("alpha", 10), ("charlie", 10), ("delta", 10)]
    assert all(clock_time == 10 for _, _, clock_time in recorder.calls)


def test_timer_set_in_a_callback_fires_in_the_same_advance_when_due() -> None:
    clock = TestClock()
    recorder = Recorder(clock)

    def start_timer(event: TimeEvent) -> None:
        clock.set_timer("inner", 10, recorder, fire_immediately=True)

    clock.set_time_alert("outer", 5, start_timer)

    events = clock.advance_time(30)

    assert names_and_times(events) == [("outer", 5), ("inner", 5), ("inner", 15), ("inner", 25)]
    assert clock.timestamp_ns() == 30


def test_timer_set_in_a_callback_beyond_the_target_waits_for_the_next_advance() -> None:
    clock = TestClock()
    clock.set_time_alert(
        "outer", 5, lambda event: clock.set_time_alert("later", 50, Recorder(clock))
    )
    assert names_and_times(clock.advance_time(40)) == [("outer", 5)]
    assert names_and_times(clock.advance_time(50)) == [("later", 50)]


def test_recurring_timer_interleaves_with_alerts_at_the_same_instant_by_name() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    clock.set_timer("m", 10, recorder)
    clock.set_time_alert("a", 20, recorder)
    clock.set_time_alert("z", 20, recorder)
    clock.advance_time(20)
    assert recorder.names == ["m", "a", "m", "z"]


# -- cancelling ------------------------------------------------------------------------------


def test_cancelled_timer_does_not_fire() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    clock.set_timer("tick", 10, recorder)
    clock.set_time_alert("alert", 10, recorder)
    clock.cancel_timer("tick")
    clock.cancel_timer("alert")
    assert clock.advance_time(100) == []
    assert clock.timer_names == []


def test_cancelling_an_unknown_timer_raises_a_key_error_naming_it() -> None:
    clock = TestClock()
    clock.set_timer("tick", 10, Recorder(clock))
    with pytest.raises(KeyError) as info:
        clock.cancel_timer("tock")
    assert isinstance(info.value, TimerNotFoundError)
    assert str(info.value) == "no timer or alert named 'tock' (set: 'tick')"


def test_next_time_of_an_unknown_timer_raises_a_key_error_naming_it() -> None:
    clock = TestClock()
    with pytest.raises(TimerNotFoundError, match="no timer or alert named 'tick' \\(set: none\\)"):
        clock.next_time_ns("tick")


def test_cancel_timers_cancels_every_timer_and_alert() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    clock.set_timer("a", 10, recorder)
    clock.set_time_alert("b", 10, recorder)
    clock.cancel_timers()
    assert clock.timer_count == 0
    assert clock.advance_time(100) == []


def test_a_callback_cancelling_a_timer_due_at_the_same_instant_stops_it_firing() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    clock.set_time_alert("a", 10, lambda event: clock.cancel_timer("b"))
    clock.set_time_alert("b", 10, recorder)
    assert names_and_times(clock.advance_time(10)) == [("a", 10)]
    assert recorder.calls == []


def test_a_callback_cancelling_its_own_timer_stops_the_re_arm() -> None:
    clock = TestClock()
    fired: list[int] = []

    def twice(event: TimeEvent) -> None:
        fired.append(event.ts_event)
        if len(fired) == 2:
            clock.cancel_timer("tick")

    clock.set_timer("tick", 10, twice)
    clock.advance_time(100)
    assert fired == [10, 20]
    assert clock.timer_count == 0


def test_a_timer_cancelled_and_set_again_fires_only_on_its_new_schedule() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    clock.set_timer("tick", 10, recorder)
    clock.cancel_timer("tick")
    clock.set_timer("tick", 15, recorder)
    assert names_and_times(clock.advance_time(30)) == [("tick", 15), ("tick", 30)]


def test_many_cancelled_alerts_do_not_accumulate_in_the_clock() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    clock.set_time_alert("keep", 5_000, recorder)
    for i in range(1_000):
        clock.set_time_alert("churn", 10_000 + i, recorder)
        clock.cancel_timer("churn")
    assert len(clock._queue) < 200  # compacted; lazily deleted entries are bounded
    assert names_and_times(clock.advance_time(20_000)) == [("keep", 5_000)]


def test_compaction_inside_a_callback_keeps_the_advance_going() -> None:
    clock = TestClock()
    recorder = Recorder(clock)
    names = [f"n{i:03}" for i in range(300)]
    for name in names:
        clock.set_time_alert(name, 50, recorder)
    clock.set_time_alert("last", 60, recorder)

    def cancel_all(event: TimeEvent) -> None:
        for name in names:
            clock.cancel_timer(name)

    clock.set_time_alert("a", 10, cancel_all)
    assert names_and_times(clock.advance_time(100)) == [("a", 10), ("last", 60)]


# -- introspection and events ----------------------------------------------------------------


def test_timer_names_are_sorted_and_counted() -> None:
    clock = TestClock()
    for name in ["c", "a", "b"]:
        clock.set_time_alert(name, 10, Recorder(clock))
    assert clock.timer_names == ["a", "b", "c"]
    assert clock.timer_count == 3


def test_next_time_of_an_alert_is_its_time() -> None:
    clock = TestClock()
    clock.set_time_alert("alert", 77, Recorder(clock))
    assert clock.next_time_ns("alert") == 77


def test_event_ids_count_up_per_clock() -> None:
    clock = TestClock()
    clock.set_timer("tick", 10, Recorder(clock))
    clock.set_time_alert("alert", 15, Recorder(clock))
    assert [event.event_id for event in clock.advance_time(30)] == [1, 2, 3, 4]
    assert [event.event_id for event in clock.advance_time(40)] == [5]


def test_two_identical_runs_produce_identical_events() -> None:
    def run() -> list[TimeEvent]:
        clock = TestClock()
        clock.set_timer("b", 7, Recorder(clock))
        clock.set_timer("a", 3, Recorder(clock), stop_ns=30)
        clock.set_time_alert("c", 21, Recorder(clock))
        events: list[TimeEvent] = []
        for to_ns in range(0, 100, 11):
            events += clock.advance_time(to_ns)
        return events

    assert msgspec.json.encode(run()) == msgspec.json.encode(run())


def test_time_event_is_a_frozen_struct_that_round_trips() -> None:
    event = TimeEvent("tick", 1, 10, 10)
    with pytest.raises(AttributeError):
        event.name = "tock"  # type: ignore[misc]
    assert msgspec.json.decode(msgspec.json.encode(event), type=TimeEvent) == event


# -- callbacks that misbehave ----------------------------------------------------------------


def test_advance_time_from_a_callback_is_refused() -> None:
    clock = TestClock()

    def nested(event: TimeEvent) -> None:
        clock.advance_time(20)

    clock.set_time_alert("alert", 10, nested)
    with pytest.raises(RuntimeError, match="cannot advance a TestClock from one of its timer"):
        clock.advance_time(10)


def test_set_time_from_a_callback_is_refused() -> None:
    clock = TestClock()
    clock.set_time_alert("alert", 10, lambda event: clock.set_time(20))
    with pytest.raises(RuntimeError, match="cannot set the time of a TestClock from a timer"):
        clock.advance_time(10)


def test_a_raising_callback_leaves_the_clock_at_its_event_and_the_rest_due() -> None:
    clock = TestClock()
    recorder = Recorder(clock)

    def boom(event: TimeEvent) -> None:
        raise RuntimeError("boom")

    clock.set_time_alert("a", 10, boom)
    clock.set_time_alert("b", 20, recorder)
    with pytest.raises(RuntimeError, match="boom"):
        clock.advance_time(30)
    assert clock.timestamp_ns() == 10
    assert clock.timer_names == ["b"]

    assert names_and_times(clock.advance_time(30)) == [("b", 20)]
    assert clock.timestamp_ns() == 30


# -- against a reference ---------------------------------------------------------------------


def oracle_fires(
    timers: list[tuple[str, int, int, int | None, bool]], alerts: list[tuple[str, int]], until: int
) -> list[tuple[int, str]]:
    """Every (time, name) due by ``until``, listed by brute force and sorted."""
    fires: list[tuple[int, str]] = [(at, name) for name, at in alerts if at <= until]
    for name, interval, start, stop, immediately in timers:
        at = start if immediately else start + interval
        while at <= until and (stop is None or at <= stop):
            fires.append((at, name))
            at += interval
    return sorted(fires)


@settings(max_examples=200, deadline=None)
@given(
    timer_specs=st.lists(
        st.tuples(
            st.integers(1, 40),
            st.integers(0, 50),
            st.none() | st.integers(0, 200),
            st.booleans(),
        ),
        max_size=5,
    ),
    alert_times=st.lists(st.integers(0, 200), max_size=6),
    steps=st.lists(st.integers(0, 60), min_size=1, max_size=8),
)
def test_advance_time_fires_what_a_brute_force_schedule_lists(
    timer_specs: list[tuple[int, int, int | None, bool]],
    alert_times: list[int],
    steps: list[int],
) -> None:
    clock = TestClock()
    timers: list[tuple[str, int, int, int | None, bool]] = []
    for i, (interval, start, stop_offset, immediately) in enumerate(timer_specs):
        first = start if immediately else start + interval
        stop = None if stop_offset is None else first + stop_offset
        name = f"t{i}"
        clock.set_timer(name, interval, Recorder(clock), start, stop, immediately)
        timers.append((name, interval, start, stop, immediately))
    alerts = [(f"a{i}", at) for i, at in enumerate(alert_times)]
    for name, at in alerts:
        clock.set_time_alert(name, at, Recorder(clock))

    fired: list[tuple[int, str]] = []
    to_ns = 0
    for step in steps:
        to_ns += step
        fired += [(event.ts_event, event.name) for event in clock.advance_time(to_ns)]

    assert fired == oracle_fires(timers, alerts, to_ns)


@given(
    timer_specs=st.lists(
        st.tuples(st.integers(1, 40), st.integers(0, 50), st.none() | st.integers(0, 200)),
        max_size=5,
    ),
    alert_times=st.lists(st.integers(0, 200), max_size=6),
    steps=st.lists(st.integers(0, 60), min_size=1, max_size=8),
)
def test_the_replay_entry_fires_the_callbacks_a_brute_force_schedule_lists(
    timer_specs: list[tuple[int, int, int | None]],
    alert_times: list[int],
    steps: list[int],
) -> None:
    # _fire_due is what the backtest replay loop calls (no checks, no list of events): the
    # callbacks must see the same events, at the same clock times, as through advance_time.
    clock = TestClock()
    recorder = Recorder(clock)
    timers: list[tuple[str, int, int, int | None, bool]] = []
    for i, (interval, start, stop_offset) in enumerate(timer_specs):
        stop = None if stop_offset is None else start + interval + stop_offset
        clock.set_timer(f"t{i}", interval, recorder, start, stop)
        timers.append((f"t{i}", interval, start, stop, False))
    alerts = [(f"a{i}", at) for i, at in enumerate(alert_times)]
    for name, at in alerts:
        clock.set_time_alert(name, at, recorder)
    to_ns = 0
    for step in steps:
        to_ns += step
        clock._fire_due(to_ns, None)
        assert clock.timestamp_ns() == to_ns
    expected = oracle_fires(timers, alerts, to_ns)
    assert [(ts, name) for name, ts, _ in recorder.calls] == expected
    assert all(ts == now for _, ts, now in recorder.calls)  # the clock reads the event's time


@settings(max_examples=60, deadline=None)
@given(
    operations=st.lists(
        st.tuples(st.sampled_from(["set", "cancel", "advance"]), st.integers(0, 4),
                  st.integers(0, 30)),
        min_size=1,
        max_size=400,
    ),
)
def test_alerts_set_cancelled_and_set_again_fire_as_a_brute_force_model_says(
    operations: list[tuple[str, int, int]],
) -> None:
    # Five names reused over and over: a cancelled alert's stale entry must neither fire
    # nor hide its replacement of the same name, with or without heap compaction (which
    # starts past 64 stale entries). The model keeps only the pending alerts by name and
    # fires the earliest (time, then name) due, one at a time.
    clock = TestClock()
    recorder = Recorder(clock)
    pending: dict[str, int] = {}
    expected: list[tuple[str, int, int]] = []
    now = 0
    for action, which, amount in operations:
        name = f"n{which}"
        if action == "set" and name not in pending:
            clock.set_time_alert(name, now + amount, recorder)
            pending[name] = now + amount
        elif action == "cancel" and name in pending:
            clock.cancel_timer(name)
            del pending[name]
        elif action == "advance":
            now += amount
            while due := [(at, n) for n, at in pending.items() if at <= now]:
                at, first = min(due)
                del pending[first]
                expected.append((first, at, at))
            clock.advance_time(now)
        assert clock.timer_names == sorted(pending)
    assert recorder.calls == expected
    assert len(clock._queue) <= len(pending) + 65  # stale entries are bounded
