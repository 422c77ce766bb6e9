# The contract of zq_core.order_ids: a strategy's client order ids, made in C.

cimport cython
from libc.stdint cimport int64_t


@cython.final
cdef class OrderIdGenerator:
    # How many ids were made (the last id's count).
    cdef readonly int64_t count
    cdef bytes _tags                    # b"{trader tag}-{strategy tag}"
    cdef type _id_type                  # ClientOrderId (a str subclass)
    # The head of the ids, b"O-{yyyymmdd}-{HHMMSS}-{tags}-", for the clock second
    # _stamp_second; built for the UTC day _stamp_day, its HHMMSS (at _time_at) rewritten
    # in place for each new second.
    cdef int64_t _stamp_second
    cdef int64_t _stamp_day
    cdef bytearray _head
    cdef Py_ssize_t _time_at

    cpdef object next_id(self, int64_t now)
    cdef int _restamp(self, int64_t second) except -1
