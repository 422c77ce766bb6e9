"""A clock's time read in C when the clock keeps it in a :class:`~zq_core.clock.TimeCell`.

The order builder, the strategy's command sender and the execution engine's command path
read the clock once per order or command. The backtest clock (``zq.common.clock.TestClock``)
keeps its time in a ``TimeCell``, and its ``timestamp_ns`` only reads it: a
:class:`TimeSource` made for such a clock reads the cell's int64 instead of calling that
Python method. Any other clock (the live clock, a subclass of the backtest clock, a clock
of a test) is asked through its ``timestamp_ns``, except the live clock
(``zq.common.clock.LiveClock``), whose ``timestamp_ns`` returns ``time.time_ns()``: that
clock's time is read from the system's wall clock in C, as ``time.time_ns`` reads it. zq_core
does not import zq: the clock types are registered by ``zq.model.orders``
(:func:`register_cell_clock`, :func:`register_wall_clock`).
"""

cimport cython
from libc.stdint cimport int64_t

from zq_core.clock cimport TimeCell

import time

__all__ = ["TimeSource", "register_cell_clock", "register_wall_clock"]


cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    cdef struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clock_id, timespec* tp)
    int CLOCK_REALTIME


# The clock type whose timestamp_ns returns its TimeCell ``_now`` (TestClock), exactly: a
# subclass may read its time otherwise.
cdef object _cell_clock = None
# The clock type whose timestamp_ns returns ``time.time_ns()`` (LiveClock), exactly.
cdef object _wall_clock = None
# time.time_ns as imported: while the time module still holds it, the wall clock is read in
# C (CPython's time.time_ns is clock_gettime(CLOCK_REALTIME) in nanoseconds).
cdef object _time_module = time
cdef object _time_ns = time.time_ns


def register_wall_clock(clock_type):
    """Read the time of clocks of exactly ``clock_type`` from the system's wall clock in C.

    ``clock_type.timestamp_ns`` must return ``time.time_ns()`` and nothing else.
    """
    global _wall_clock
    if not isinstance(clock_type, type):
        raise TypeError(f"clock_type must be a type, got {clock_type!r}")
    _wall_clock = clock_type


def register_cell_clock(clock_type):
    """Read the time of clocks of exactly ``clock_type`` from their ``_now`` time cell.

    ``clock_type.timestamp_ns`` must return ``_now.ns`` and nothing else.
    """
    global _cell_clock
    if not isinstance(clock_type, type):
        raise TypeError(f"clock_type must be a type, got {clock_type!r}")
    _cell_clock = clock_type


# The last int cell_int made (ints are immutable: any reader may share it). Every clock's
# cell goes through it; the value alone decides.
cdef int64_t _last_ns = 0
cdef object _last_int = 0


cdef object cell_int(int64_t ns):
    global _last_ns, _last_int
    if ns == _last_ns:
        return _last_int
    cdef object value = ns  # the int handed out (object: one int, not one per use)
    _last_int = value
    _last_ns = ns
    return value


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
        self.wall = False
        if _cell_clock is not None and type(clock) is _cell_clock:
            cell = getattr(clock, "_now", None)
            if type(cell) is TimeCell:
                self.cell = cell
        elif _wall_clock is not None and type(clock) is _wall_clock:
            # The instance's own timestamp_ns (one set on it) is asked, as before.
            self.wall = getattr(self.timestamp_ns, "__func__", None) is getattr(
                _wall_clock, "timestamp_ns", None
            )

    cdef object _wall_ns(self):
        cdef timespec now
        if _time_module.time_ns is not _time_ns or clock_gettime(CLOCK_REALTIME, &now) != 0:
            return self.timestamp_ns()
        return <int64_t>now.tv_sec * 1_000_000_000 + now.tv_nsec

    def now(self):
        """Return the clock's time in UNIX nanoseconds."""
        return self.now_c()

    def __repr__(self):
        return f"TimeSource(cell={self.cell is not None}, wall={self.wall})"
