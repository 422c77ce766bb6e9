# Streaming indicators (zq_core.indicators): typed fields, C-callable updates.

cdef class ExponentialMovingAverage:
    cdef readonly int period
    cdef readonly double alpha
    cdef readonly double value
    cdef readonly long count
    # True once ``period`` values were seen; Python reads it as a member (indicators.pyx).
    cdef object initialized
    cpdef double update(self, double value) noexcept


cdef class SimpleMovingAverage:
    cdef readonly int period
    cdef readonly double value
    cdef readonly long count
    # True once the window is full; Python reads it as a member (indicators.pyx).
    cdef object initialized
    cdef list _window
    cdef Py_ssize_t _next
    cdef double _sum
    cdef double _sum_sq
    cpdef double update(self, double value)
