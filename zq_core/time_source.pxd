# The contract of zq_core.time_source: a clock's time, read in C from its time cell, or from
# the system's wall clock for the live clock.

cimport cython
from libc.stdint cimport int64_t

from zq_core.clock cimport TimeCell


# ``ns`` as a Python int: the one made last is handed out again while the time is the same
# (an order's builder, command sender and command path read one time: one int, not three).
cdef object cell_int(int64_t ns)


@cython.final
cdef class TimeSource:
    cdef readonly TimeCell cell         # None: the clock keeps its time otherwise
    cdef readonly object timestamp_ns   # the clock's (bound): called when there is no cell
    cdef readonly bint wall             # the registered wall clock: clock_gettime in C

    # The wall clock's time, as ``time.time_ns()`` (which it calls when ``time.time_ns`` is
    # not the function it was at import: a test replaced it).
    cdef object _wall_ns(self)

    # The clock's time (an int), without a Python call when the clock has a cell or is the
    # wall clock.
    cdef inline object now_c(self):
        if self.cell is not None:
            return cell_int(self.cell.ns)
        if self.wall:
            return self._wall_ns()
        return self.timestamp_ns()
