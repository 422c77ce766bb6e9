# Streaming indicators (zq_core.indicators): typed fields, C-callable updates.

cdef class ExponentialMovingAverage:
    cdef readonly int period
    cdef readonly double alpha
    cdef readonly double value
    cdef readonly long count
    cpdef double update(self, double value)


cdef class SimpleMovingAverage:
    cdef readonly int period
    cdef readonly double value
    cdef readonly long count
    cdef list _window
    cdef Py_ssize_t _next
    cdef double _sum
    cdef double _sum_sq
    cpdef double update(self, double value)
