# The contract of zq_core.time_source: a clock's time, read in C from its time cell.

cimport cython

from zq_core.clock cimport TimeCell


@cython.final
cdef class TimeSource:
    cdef readonly TimeCell cell         # None: the clock keeps its time otherwise
    cdef readonly object timestamp_ns   # the clock's (bound): called when there is no cell

    # The clock's time (an int), without a Python call when the clock has a cell.
    cdef inline object now_c(self):
        if self.cell is not None:
            return self.cell.ns
        return self.timestamp_ns()
