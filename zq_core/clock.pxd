# The contract of zq_core.clock: the time cell of the backtest clock.

from libc.stdint cimport int64_t


cdef class TimeCell:
    # The clock's time in UNIX nanoseconds. The replay loop sets it in C before each call
    # into Python; zq.common.clock.TestClock reads and sets it.
    cdef public int64_t ns
