"""Clocks: the one source of time for every component, and the timers that run on it.

All times are integer nanoseconds since the UNIX epoch, UTC. A backtest runs on a
:class:`TestClock`, whose time is moved forward by the data; a live node runs on a
:class:`LiveClock`, which reads the wall clock and schedules its timers on the asyncio
(uvloop) event loop. Both have the same API, so a strategy never knows which one it has.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import msgspec

from zq_core.clock import TimeCell
from zq_core.timers import TimerQueue

__all__ = [
    "Clock",
    "LiveClock",
    "TestClock",
    "TimeEvent",
    "TimeEventCallback",
    "TimerNotFoundError",
]

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimeEvent(msgspec.Struct, frozen=True, gc=False):
    """A timer or time alert firing.

    Parameters
    ----------
    name : str
        The name of the timer or alert that fired.
    event_id : int
        The clock's sequence number for this event: 1 for its first event, then 2, 3, ...
        It is deterministic (the same backtest numbers its events the same way every run)
        and unique per clock, not across clocks.
    ts_event : int
        The time the event was scheduled for, in UNIX nanoseconds.
    ts_init : int
        The clock's time when the event was created, in UNIX nanoseconds. On a
        :class:`TestClock` it equals ``ts_event``; on a :class:`LiveClock` it is the wall
        time of the firing, never before ``ts_event``.
    """

    name: str
    event_id: int
    ts_event: int
    ts_init: int


#: The signature of a timer callback: it receives the event; what it returns is ignored.
TimeEventCallback = Callable[[TimeEvent], object]


class TimerNotFoundError(KeyError):
    """Raised when a clock has no timer or alert with the requested name."""

    def __init__(self, name: str, names: list[str]) -> None:
        super().__init__(name)
        self.name = name
        known = ", ".join(repr(n) for n in names) if names else "none"
        self.message = f"no timer or alert named {name!r} (set: {known})"

    def __str__(self) -> str:
        return self.message


class _Timer:
    """A scheduled timer or one-shot alert (``interval_ns == 0``) and its next fire time."""

    __slots__ = ("callback", "handle", "interval_ns", "name", "next_ns", "stop_ns")

    def __init__(
        self,
        name: str,
        callback: TimeEventCallback,
        interval_ns: int,
        next_ns: int,
        stop_ns: int | None,
    ) -> None:
        self.name = name
        self.callback = callback
        self.interval_ns = interval_ns
        self.next_ns = next_ns
        self.stop_ns = stop_ns
        # The live clock's pending loop handle; unused by the test clock.
        self.handle: asyncio.Handle | None = None

    def rearm(self) -> bool:
        """Move ``next_ns`` one interval on; return False when the timer is finished."""
        if self.interval_ns == 0:
            return False
        following = self.next_ns + self.interval_ns
        if self.stop_ns is not None and following > self.stop_ns:
            return False
        self.next_ns = following
        return True


def _check_time(what: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int of nanoseconds, got {type(value).__name__}")
    return value


class Clock(ABC):
    """The API shared by :class:`TestClock` and :class:`LiveClock`.

    A clock tells the time and runs named timers (recurring, optionally bounded by a stop
    time) and time alerts (one-shot). Each name is in use by at most one timer or alert at a
    time; a finished alert or timer frees its name before its last callback runs, so the
    callback may reuse it. Callbacks receive a :class:`TimeEvent`.
    """

    #: Whether a start or alert time earlier than the clock's time is refused.
    _refuses_past: ClassVar[bool] = True

    def __init__(self) -> None:
        self._timers: dict[str, _Timer] = {}
        self._event_count = 0

    # -- time ----------------------------------------------------------------------------

    @abstractmethod
    def timestamp_ns(self) -> int:
        """Return the clock's time in UNIX nanoseconds."""

    def utc_now(self) -> datetime:
        """Return the clock's time as a timezone-aware UTC ``datetime`` (microseconds)."""
        return _UNIX_EPOCH + timedelta(microseconds=self.timestamp_ns() // 1_000)

    # -- timers --------------------------------------------------------------------------

    @property
    def timer_names(self) -> list[str]:
        """The names of the timers and alerts set on this clock, sorted."""
        return sorted(self._timers)

    @property
    def timer_count(self) -> int:
        """The number of timers and alerts set on this clock."""
        return len(self._timers)

    def set_timer(
        self,
        name: str,
        interval_ns: int,
        callback: TimeEventCallback,
        start_ns: int | None = None,
        stop_ns: int | None = None,
        fire_immediately: bool = False,
    ) -> None:
        """Set a recurring timer.

        The timer fires at ``start_ns + interval_ns``, ``start_ns + 2 * interval_ns``, ...
        (or from ``start_ns`` itself with ``fire_immediately``), up to and including
        ``stop_ns`` when given; after its last fire it is removed.

        Parameters
        ----------
        name : str
            The timer's name, unique on this clock.
        interval_ns : int
            The time between fires, in nanoseconds; positive.
        callback : TimeEventCallback
            Called with a :class:`TimeEvent` at each fire.
        start_ns : int, optional
            The time the schedule counts from; default the clock's time.
        stop_ns : int, optional
            The last time the timer may fire; default never stop.
        fire_immediately : bool, default False
            Fire at ``start_ns`` too, instead of first at ``start_ns + interval_ns``.

        Raises
        ------
        ValueError
            If the name is in use, the interval is not positive, ``start_ns`` is before the
            clock's time (test clock only), ``stop_ns`` is before ``start_ns``, or the timer
            would stop before it first fires.
        TypeError
            If a time is not an int or the callback is not callable.
        """
        self._check_new_name(name, callback)
        _check_time("interval_ns", interval_ns)
        if interval_ns <= 0:
            raise ValueError(f"timer {name!r}: interval_ns must be positive, got {interval_ns}")
        now = self.timestamp_ns()
        start = now if start_ns is None else _check_time("start_ns", start_ns)
        self._check_not_past(name, "start_ns", start, now)
        first = start if fire_immediately else start + interval_ns
        if stop_ns is not None:
            _check_time("stop_ns", stop_ns)
            if stop_ns < start:
                raise ValueError(f"timer {name!r}: stop_ns {stop_ns} is before start_ns {start}")
            if stop_ns < first:
                raise ValueError(
                    f"timer {name!r} would never fire: its first fire at {first} is after "
                    f"stop_ns {stop_ns}"
                )
        timer = _Timer(name, callback, interval_ns, first, stop_ns)
        self._schedule(timer)  # first: it may refuse (no loop), leaving the name free
        self._timers[name] = timer

    def set_time_alert(self, name: str, alert_ns: int, callback: TimeEventCallback) -> None:
        """Set a one-shot alert that fires once at ``alert_ns`` and is then removed.

        An alert at exactly the clock's time is allowed: a test clock fires it on the next
        :meth:`TestClock.advance_time`, a live clock on the next loop iteration.

        Parameters
        ----------
        name : str
            The alert's name, unique on this clock (timers and alerts share names).
        alert_ns : int
            The time to fire at, in UNIX nanoseconds.
        callback : TimeEventCallback
            Called with the :class:`TimeEvent`.

        Raises
        ------
        ValueError
            If the name is in use, or ``alert_ns`` is before the clock's time (test clock
            only).
        TypeError
            If ``alert_ns`` is not an int or the callback is not callable.
        """
        self._check_new_name(name, callback)
        _check_time("alert_ns", alert_ns)
        self._check_not_past(name, "alert_ns", alert_ns, self.timestamp_ns())
        timer = _Timer(name, callback, 0, alert_ns, alert_ns)
        self._schedule(timer)  # first: it may refuse (no loop), leaving the name free
        self._timers[name] = timer

    def cancel_timer(self, name: str) -> None:
        """Cancel the timer or alert ``name``; it will not fire again.

        Raises
        ------
        TimerNotFoundError
            If no timer or alert has that name (a ``KeyError``).
        """
        timer = self._timers.pop(name, None)
        if timer is None:
            raise TimerNotFoundError(name, self.timer_names)
        self._unschedule(timer)

    def cancel_timers(self) -> None:
        """Cancel every timer and alert on this clock."""
        for name in self.timer_names:
            self.cancel_timer(name)

    def next_time_ns(self, name: str) -> int:
        """Return the time the timer or alert ``name`` fires next, in UNIX nanoseconds.

        Raises
        ------
        TimerNotFoundError
            If no timer or alert has that name (a ``KeyError``).
        """
        timer = self._timers.get(name)
        if timer is None:
            raise TimerNotFoundError(name, self.timer_names)
        return timer.next_ns

    # -- for subclasses ------------------------------------------------------------------

    @abstractmethod
    def _schedule(self, timer: _Timer) -> None:
        """Arrange for ``timer`` to fire at ``timer.next_ns``."""

    @abstractmethod
    def _unschedule(self, timer: _Timer) -> None:
        """Forget ``timer``, already removed from ``_timers``."""

    def _make_event(self, timer: _Timer, ts_init: int) -> TimeEvent:
        self._event_count += 1
        return TimeEvent(timer.name, self._event_count, timer.next_ns, ts_init)

    def _check_new_name(self, name: str, callback: TimeEventCallback) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a timer name must be a non-empty str, got {name!r}")
        if name in self._timers:
            raise ValueError(f"a timer or alert named {name!r} is already set on this clock")
        if not callable(callback):
            raise TypeError(f"timer {name!r}: callback must be callable, got {callback!r}")

    def _check_not_past(self, name: str, what: str, when_ns: int, now_ns: int) -> None:
        if self._refuses_past and when_ns < now_ns:
            raise ValueError(
                f"timer {name!r}: {what} {when_ns} is before the clock's time {now_ns}"
            )


class TestClock(Clock):
    """A clock whose time is set by the data: the backtest clock.

    Time only moves when :meth:`set_time` or :meth:`advance_time` is called, so a run is
    deterministic. :meth:`advance_time` fires the due timers and alerts in a defined order:
    by scheduled time, then, for events due at the same instant, by name (lexicographic
    ``str`` order). A timer or alert that a callback sets (or re-arms) and that is also due
    by the target time fires in the same call, in its place in that order among the events
    still pending.

    Parameters
    ----------
    time_ns : int, default 0
        The clock's initial time in UNIX nanoseconds.
    """

    # Tell pytest this is not a test class, though its name starts with "Test".
    __test__ = False

    def __init__(self, time_ns: int = 0) -> None:
        super().__init__()
        _check_time("time_ns", time_ns)
        if time_ns < 0:
            raise ValueError(f"time_ns must not be negative, got {time_ns}")
        self._now = TimeCell(time_ns)  # set in C by the backtest replay loop
        # The pending timers in C, ordered by (time due, name, push sequence): the sequence
        # only orders a cancelled timer's stale entry against its replacement of the same
        # name. The replay loop reads its head and fires it in C.
        self._queue = TimerQueue(self._timers, self._now, TimeEvent)

    def timestamp_ns(self) -> int:
        """Return the clock's time in UNIX nanoseconds."""
        return self._now.ns

    def set_time(self, time_ns: int) -> None:
        """Set the clock's time without firing anything.

        Use it to position the clock (at the start of the data, or back to an earlier time
        between runs); use :meth:`advance_time` to move through time with timers.

        Raises
        ------
        ValueError
            If timers are set and ``time_ns`` is before the clock's time, or is after the
            next pending fire (it would be skipped).
        RuntimeError
            If called from a callback during :meth:`advance_time`.
        """
        _check_time("time_ns", time_ns)
        if self._queue.advancing:
            raise RuntimeError("cannot set the time of a TestClock from a timer callback")
        if time_ns < 0:
            raise ValueError(f"time_ns must not be negative, got {time_ns}")
        if self._timers:
            if time_ns < self._now.ns:
                raise ValueError(
                    f"cannot set the time back from {self._now.ns} to {time_ns} while timers "
                    f"are set: {', '.join(self.timer_names)}"
                )
            head = self._queue.head()
            assert head is not None  # a timer is set: its entry is live
            due_ns, name = head
            if time_ns > due_ns:
                raise ValueError(
                    f"cannot set the time to {time_ns}: timer {name!r} is due at {due_ns}; "
                    "use advance_time to fire it"
                )
        self._now.ns = time_ns

    def advance_time(self, to_ns: int) -> list[TimeEvent]:
        """Move the clock to ``to_ns``, firing every timer and alert due at or before it.

        Events fire in order of scheduled time, then name. Before each callback the clock's
        time is set to the event's ``ts_event``, so the callback sees the right time;
        afterwards the clock's time is ``to_ns``. Recurring timers are re-armed before their
        callback runs; timers and alerts created by callbacks fire in this call too when due
        by ``to_ns``. A cancelled timer does not fire.

        If a callback raises, the exception propagates: the clock stays at that event's time
        and the events still due fire on the next call.

        Parameters
        ----------
        to_ns : int
            The time to move to, in UNIX nanoseconds; not before the clock's time.

        Returns
        -------
        list[TimeEvent]
            The events fired, in the order their callbacks ran.

        Raises
        ------
        ValueError
            If ``to_ns`` is before the clock's time.
        RuntimeError
            If called from a callback during another ``advance_time``.
        """
        _check_time("to_ns", to_ns)
        if to_ns < self._now.ns:
            raise ValueError(f"cannot advance the clock backwards from {self._now.ns} to {to_ns}")
        if self._queue.advancing:
            raise RuntimeError("cannot advance a TestClock from one of its timer callbacks")
        events: list[TimeEvent] = []
        self._fire_due(to_ns, events)
        return events

    def _fire_due(self, to_ns: int, events: list[TimeEvent] | None) -> None:
        # advance_time without its checks (the backtest replay loop does this in C with its
        # row's time, never behind the clock): fire what is due by ``to_ns``, appending the
        # events to ``events`` unless None (zq_core.timers.TimerQueue.fire_due_c).
        self._queue.fire_due(to_ns, events)

    def _schedule(self, timer: _Timer) -> None:
        self._queue.push(timer)

    def _unschedule(self, timer: _Timer) -> None:
        # Lazy deletion: the entry stays until it reaches the head or the heap is compacted.
        self._queue.unschedule()


class LiveClock(Clock):
    """A clock on the wall time, running its timers on an asyncio (uvloop) event loop.

    Timers are scheduled with the loop's ``call_later`` and their callbacks run on the loop
    thread; set and cancel timers from that thread only. The nth fire of a timer is planned
    at ``first + n * interval_ns`` from the start, so delays in running callbacks do not
    accumulate as drift.

    Timing rules:

    - A callback never runs before its scheduled wall time (an early wake-up of the loop,
      which rounds to milliseconds, is re-armed for the remainder).
    - Late fires are coalesced: when the loop fell behind by one interval or more, the timer
      fires once, with ``ts_event`` the latest scheduled time that has passed (never after
      ``stop_ns``); the missed intervals are skipped, and ``ts_init`` is the actual time.
    - A start or alert time that has already passed is not an error (the wall clock moves
      while the caller computes it): it is late, and the rule above applies.
    - If a callback raises, the loop's exception handler reports it; the timer stays armed.

    Parameters
    ----------
    loop : asyncio.AbstractEventLoop, optional
        The loop to schedule timers on; default the loop running when a timer is set.
    """

    _refuses_past: ClassVar[bool] = False

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__()
        self._loop = loop

    def timestamp_ns(self) -> int:
        """Return the wall time in UNIX nanoseconds."""
        return time.time_ns()

    def _schedule(self, timer: _Timer) -> None:
        loop = self._loop
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError(
                    f"LiveClock needs an asyncio event loop to schedule timer {timer.name!r}: "
                    "set it from code running on the loop, or pass loop= to LiveClock"
                ) from None
        delay_s = max(0, timer.next_ns - time.time_ns()) / 1e9
        timer.handle = loop.call_later(delay_s, self._fire, timer, loop)

    def _unschedule(self, timer: _Timer) -> None:
        if timer.handle is not None:
            timer.handle.cancel()
            timer.handle = None

    def _fire(self, timer: _Timer, loop: asyncio.AbstractEventLoop) -> None:
        if self._timers.get(timer.name) is not timer:
            return  # cancelled after the loop had already dequeued the handle
        now = time.time_ns()
        if now < timer.next_ns:
            timer.handle = loop.call_later((timer.next_ns - now) / 1e9, self._fire, timer, loop)
            return
        interval = timer.interval_ns
        if interval and now - timer.next_ns >= interval:
            latest = now if timer.stop_ns is None else min(now, timer.stop_ns)
            timer.next_ns += (latest - timer.next_ns) // interval * interval
        event = self._make_event(timer, now)
        if timer.rearm():
            delay_s = max(0, timer.next_ns - time.time_ns()) / 1e9
            timer.handle = loop.call_later(delay_s, self._fire, timer, loop)
        else:
            del self._timers[timer.name]
            timer.handle = None
        timer.callback(event)
