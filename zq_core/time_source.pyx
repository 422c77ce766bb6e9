"""A clock's time read in C when the clock keeps it in a :class:`~zq_core.clock.TimeCell`.

The order builder, the strategy's command sender and the execution engine's command path
read the clock once per order or command. The backtest clock (``zq.common.clock.TestClock``)
keeps its time in a ``TimeCell``, and its ``timestamp_ns`` only reads it: a
:class:`TimeSource` made for such a clock reads the cell's int64 instead of calling that
Python method. Any other clock (the live clock, a subclass of the backtest clock, a clock
of a test) is asked through its ``timestamp_ns``. zq_core does not import zq: the clock type
whose cell is read is registered by ``zq.model.orders`` (:func:`register_cell_clock`).
"""

cimport cython

from zq_core.clock cimport TimeCell

__all__ = ["TimeSource", "register_cell_clock"]


# The clock type whose timestamp_ns returns its TimeCell ``_now`` (TestClock), exactly: a
# subclass may read its time otherwise.
cdef object _cell_clock = None


def register_cell_clock(clock_type):
    """Read the time of clocks of exactly ``clock_type`` from their ``_now`` time cell.

    ``clock_type.timestamp_ns`` must return ``_now.ns`` and nothing else.
    """
    global _cell_clock
    if not isinstance(clock_type, type):
        raise TypeError(f"clock_type must be a type, got {clock_type!r}")
    _cell_clock = clock_type


@cython.final
cdef class TimeSource:
    """The time of ``clock``: its time cell when it keeps one, else ``clock.timestamp_ns()``.

    Parameters
    ----------
    clock : Clock
        The clock read.
    """

    def __init__(self, clock):
        self.timestamp_ns = clock.timestamp_ns
        self.cell = None
        if _cell_clock is not None and type(clock) is _cell_clock:
            cell = getattr(clock, "_now", None)
            if type(cell) is TimeCell:
                self.cell = cell

    def now(self):
        """Return the clock's time in UNIX nanoseconds."""
        return self.now_c()

    def __repr__(self):
        return f"TimeSource(cell={self.cell is not None})"
