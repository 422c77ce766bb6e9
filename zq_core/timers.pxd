# The contract of zq_core.timers: the backtest clock's timer queue (see timers.pyx).

cimport cython
from libc.stdint cimport INT64_MAX, int64_t, uint64_t

from zq_core.clock cimport TimeCell


@cython.final
cdef class _Entry:
    # A timer's place in the heap: when it is due, and what its fire needs (copied from the
    # timer when it is pushed: a timer's name, interval, stop and callback never change).
    cdef int64_t due
    cdef uint64_t sequence
    cdef int64_t interval               # 0: an alert
    cdef int64_t stop
    cdef bint has_stop
    cdef object name
    cdef object timer
    cdef object callback


@cython.final
cdef class TimerQueue:
    # _Entry objects in heap order; heap[0] is the next due (maybe stale).
    cdef readonly list heap
    cdef dict timers                    # the clock's timers by name
    cdef TimeCell now                   # the clock's time
    cdef object event_type              # TimeEvent
    cdef uint64_t sequence              # pushes so far
    cdef Py_ssize_t stale               # entries of cancelled timers still in the heap
    cdef readonly uint64_t event_count  # events fired (the last event's id)
    cdef readonly bint advancing        # in fire_due: a callback is running

    cdef int fire_due_c(self, int64_t to_ns, list events) except -1
    cdef bint _live(self, _Entry entry) except -1
    cdef int _pop(self) except -1
    cdef int _sift_up(self, Py_ssize_t at) except -1
    cdef int _sift_down(self, Py_ssize_t at) except -1


cdef inline int64_t head_due(TimerQueue queue) noexcept:
    # The time the head of ``queue`` is due (INT64_MAX: empty); the head may be stale.
    if not queue.heap:
        return INT64_MAX
    return (<_Entry>queue.heap[0]).due
