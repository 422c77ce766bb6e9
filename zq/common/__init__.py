"""Common services every part shares: clocks and timers, and the component lifecycle."""

from __future__ import annotations

from zq.common.clock import (
    Clock,
    LiveClock,
    TestClock,
    TimeEvent,
    TimeEventCallback,
    TimerNotFoundError,
)
from zq.common.component import (
    TRANSITIONS,
    Component,
    ComponentState,
    ComponentTrigger,
    InvalidStateTrigger,
    StateListener,
)

__all__ = [
    "TRANSITIONS",
    "Clock",
    "Component",
    "ComponentState",
    "ComponentTrigger",
    "InvalidStateTrigger",
    "LiveClock",
    "StateListener",
    "TestClock",
    "TimeEvent",
    "TimeEventCallback",
    "TimerNotFoundError",
]
