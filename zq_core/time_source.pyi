"""Type stubs for zq_core.time_source: a clock's time read in C from its time cell."""

from collections.abc import Callable
from typing import Any, final

from zq_core.clock import TimeCell

__all__ = ["TimeSource", "register_cell_clock"]

def register_cell_clock(clock_type: type[Any]) -> None: ...
@final
class TimeSource:
    """The time of ``clock``: its time cell when it keeps one, else ``clock.timestamp_ns()``."""

    @property
    def cell(self) -> TimeCell | None: ...
    @property
    def timestamp_ns(self) -> Callable[[], int]: ...
    def __init__(self, clock: Any) -> None: ...
    def now(self) -> int: ...
