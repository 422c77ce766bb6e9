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

from zq_core.book_base cimport (
    ACTION_ADD,
    ACTION_CLEAR,
    ACTION_DELETE,
    ACTION_FILL,
    ACTION_UPDATE,
    SIDE_ASK,
    SIDE_BID,
    SIDE_NONE,
    Ladder,
    OrderBook,
    ladder_find,
    ladder_insert,
    ladder_remove,
    refuse_action,
    refuse_side,
    refuse_size,
    side_key,
)


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


# The L2 rules (see L2Book.apply_delta); inline here so that the batch loop and the matching
# core's per-delta entry compile it in (no virtual call per delta).
cdef inline int apply_l2(
    L2Book book, int action, int side, int64_t price, int64_t size, uint64_t order_id,
    uint64_t sequence, int64_t ts_event,
) except -1:
    cdef Ladder* ladder
    cdef Py_ssize_t i
    cdef bint found = False
    cdef int64_t key = side_key(side, price)
    if side == SIDE_BID:
        ladder = &book._bids
    elif side == SIDE_ASK:
        ladder = &book._asks
    elif action == ACTION_CLEAR and side == SIDE_NONE:
        ladder = NULL
    else:
        return refuse_side(book, action, side, price, order_id, sequence)
    if size < 0:
        return refuse_size(book, action, side, price, size, order_id, sequence)
    if action == ACTION_ADD or action == ACTION_UPDATE:
        i = ladder_find(ladder, key, &found)
        if found:
            if size:
                ladder.levels[i].size = size
            else:
                ladder_remove(ladder, i)
        elif size:
            ladder_insert(ladder, i, key, size)  # i: the insertion point
    elif action == ACTION_DELETE:
        i = ladder_find(ladder, key, &found)
        if found:
            ladder_remove(ladder, i)
    elif action == ACTION_FILL:
        i = ladder_find(ladder, key, &found)
        if found:
            if ladder.levels[i].size > size:
                ladder.levels[i].size -= size
            else:
                ladder_remove(ladder, i)
    elif action == ACTION_CLEAR:
        book._clear_side(side)
    else:
        return refuse_action(book, action, side, price, order_id, sequence)
    book.sequence = sequence
    book.ts_last = ts_event
    book.update_count += 1
    return 1


# L1Book.apply_quote, its usual case inline here so that the matching core's per-trade entry
# compiles it in (a book built from trades takes each trade as a quote at its price): both
# sizes positive and both sides holding their level, whose key and size are replaced. Any
# other quote goes to the method, which stays the reference of this one.
cdef inline int l1_quote(
    L1Book book, int64_t bid, int64_t bid_size, int64_t ask, int64_t ask_size,
    int64_t ts_event,
) except -1:
    cdef Ladder* bids = &book._bids
    cdef Ladder* asks = &book._asks
    if bid_size <= 0 or ask_size <= 0 or not bids.count or not asks.count:
        book.apply_quote(bid, bid_size, ask, ask_size, ts_event)
        return 0
    bids.levels[bids.top].key = bid  # side_key(SIDE_BID, bid)
    bids.levels[bids.top].size = bid_size
    bids.first[0] = bid
    asks.levels[asks.top].key = ~ask  # side_key(SIDE_ASK, ask)
    asks.levels[asks.top].size = ask_size
    asks.first[0] = ~ask
    book.ts_last = ts_event
    book.update_count += 1
    return 0
