"""Type stubs for zq_core/clock.pyx."""

from typing import final

__all__ = ["TimeCell"]

@final
class TimeCell:
    """A UNIX-nanosecond time, held as an int64 (the backtest clock's time)."""

    ns: int
    def __init__(self, ns: int = 0) -> None: ...
