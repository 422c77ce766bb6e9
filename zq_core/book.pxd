# The contract of zq_core.book: the price-level books (L1Book, L2Book), built on
# zq_core.book_base.OrderBook. zq_core.book also re-exports L3Book (zq_core.book_l3) and
# BookIntegrityError, so users import every book from here.
#
#     from zq_core.book cimport L2Book
#     cdef L2Book book = ...
#     book.apply_delta(ACTION_ADD, SIDE_BID, price, size)    # C call, no argument tuple
#
# The classes are final in book.pyx, not here: Cython refuses a subclass declared final in a
# .pxd to override its base's cdef methods.

from libc.stdint cimport int64_t, uint64_t

from zq_core.book_base cimport OrderBook


cdef class L2Book(OrderBook):
    # Apply one delta with market-by-price semantics (see book.pyx); the per-call path.
    cpdef apply_delta(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id=*,
        uint64_t sequence=*, int64_t ts_event=*,
    )
    cdef int _apply(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id,
        uint64_t sequence, int64_t ts_event,
    ) except -1
    cdef Py_ssize_t _apply_rows(
        self, const char* rows, Py_ssize_t count, Py_ssize_t stride, Py_ssize_t* done
    ) except -1


cdef class L1Book(OrderBook):
    # Apply one delta to the top of book only (see book.pyx).
    cpdef apply_delta(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id=*,
        uint64_t sequence=*, int64_t ts_event=*,
    )
    # Replace both sides' best level (a size of 0 empties that side).
    cpdef apply_quote(
        self, int64_t bid, int64_t bid_size, int64_t ask, int64_t ask_size, int64_t ts_event=*
    )
    cdef int _apply(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id,
        uint64_t sequence, int64_t ts_event,
    ) except -1
