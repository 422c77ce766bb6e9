# The contract of zq_core.book_l3: the market-by-order book (L3Book).
#
# Orders live in a pool (a growable array; an order keeps its index while on the book) and
# are found by id through an open-addressing hash table (linear probing, backward-shift
# deletion, load <= 1/2). Each price level of the ladders (book_base.pxd) heads an
# intrusive doubly linked FIFO of its orders in time priority, and keeps their total size
# and count, so the aggregated L2 view is always current.

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t

from zq_core.book_base cimport Ladder, Level, OrderBook, Queue


cdef struct Order:
    uint64_t id
    int64_t price
    int64_t size      # > 0 while on the book
    int32_t prev      # the order ahead at the level, -1 at the head
    int32_t next      # the order behind, -1 at the tail; the free list's link in a free slot
    uint8_t side      # SIDE_BID or SIDE_ASK; 0 in a free slot


cdef struct Slot:
    uint64_t key      # order id
    int32_t value     # pool index of the order, -1 for an empty slot


cdef struct OrderIndex:
    Slot* slots
    Py_ssize_t capacity   # a power of two, >= 2 * count + 2
    uint64_t mask         # capacity - 1
    int shift             # 64 - log2(capacity): the hash keeps the top bits
    Py_ssize_t count


cdef class L3Book(OrderBook):
    cdef readonly str modify_rule
    cdef readonly bint strict
    # Deltas ignored by a non-strict book: unknown order ids, or a side that disagrees.
    cdef readonly uint64_t faults
    cdef bint _keep_on_decrease
    # The pool: slots [0, _pool_top) have been used; freed slots chain from _free.
    cdef Order* _orders
    cdef int32_t _pool_capacity
    cdef int32_t _pool_top
    cdef int32_t _free
    cdef OrderIndex _index

    # Apply one delta with market-by-order semantics (see book_l3.pyx); the per-call path.
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
    cdef int _clear_side(self, int side) except -1
    cdef int _check_orders(self) except -1
    cdef Py_ssize_t _check_queue(
        self, int side, const Level* level, const Queue* queue
    ) except -1

    # --- One action each; they check everything before changing anything.
    cdef int _add(
        self, int side, int64_t price, int64_t size, uint64_t order_id, uint64_t sequence
    ) except -1
    cdef int _modify(
        self, int side, int64_t price, int64_t size, uint64_t order_id, uint64_t sequence
    ) except -1
    # DELETE (``keep_place`` 0) and FILL (1): reduce an order by ``size``.
    cdef int _reduce(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id,
        uint64_t sequence,
    ) except -1
    # A delta naming an unknown order (or the wrong side): raise if strict, else count it.
    cdef int _fault(
        self, int action, int side, int64_t price, uint64_t order_id, uint64_t sequence,
        str problem,
    ) except -1

    # --- Pool, index and queues
    cdef int _reserve(self) except -1
    cdef int32_t _take_slot(self) noexcept
    cdef Py_ssize_t _locate(self, const Order* order, Ladder* ladder) except -1
    cdef void _append(self, Level* level, Queue* queue, int32_t index) noexcept
    cdef void _unlink(self, Level* level, Queue* queue, int32_t index) noexcept
    cdef int _remove(self, int32_t index) except -1
    cdef int32_t _find(self, uint64_t order_id) noexcept
    cdef object _level_fault(self, int side, const Level* level, str problem)
