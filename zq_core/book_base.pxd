# The contract shared by zq's compiled order books (zq_core.book, zq_core.book_l3).
#
# A side of a book is a *ladder*: a contiguous array of price levels sorted by ``key`` in
# ascending order with the best level LAST, so the changes that cluster near the touch
# move few levels (memmove of the tail only). The key is the price on the bid side and
# ``~price`` (= -price - 1, an order-reversing bijection of int64 that cannot overflow) on
# the ask side, so both sides share one search and one insertion routine.
#
# The hot helpers are ``inline`` here so that every book module compiles them into its
# own apply loop; a call across modules would otherwise go through a function pointer.

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memmove


cdef extern from *:
    """
    #include <stdint.h>
    /* Checked int64 addition: return 1 (and leave *out unspecified) on overflow. */
    static inline int zq_book_add_overflow(int64_t a, int64_t b, int64_t *out) {
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_add_overflow(a, b, out);
    #else
        if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return 1;
        *out = a + b;
        return 0;
    #endif
    }
    """
    bint add_overflow "zq_book_add_overflow" (int64_t a, int64_t b, int64_t* out) nogil


# --- Constants (the integer values of zq.model.enums) ------------------------------------

cdef enum:
    # BookAction
    ACTION_ADD = 1
    ACTION_UPDATE = 2
    ACTION_DELETE = 3
    ACTION_CLEAR = 4
    ACTION_FILL = 5
    # OrderSide, read as the side of the book: BUY = bids, SELL = asks
    SIDE_NONE = 0
    SIDE_BID = 1
    SIDE_ASK = 2
    # Levels scanned linearly from the touch before ladder_find falls back to bisection.
    LINEAR_SCAN = 8


# --- One row of a DELTA_DTYPE array (zq.data.arrays) --------------------------------------
# 56 bytes, little-endian, packed: apply_batch reads rows in place without a Python object.

cdef packed struct DeltaRow:
    int64_t ts_event
    int64_t ts_init
    int64_t price
    int64_t size
    uint64_t order_id
    uint64_t sequence
    uint8_t action
    uint8_t side
    uint8_t flags
    uint8_t _pad[5]


# --- Price levels ---------------------------------------------------------------------------

cdef struct Level:
    int64_t key        # price on the bid side, ~price on the ask side
    int64_t size       # total size at the level, > 0 while the level exists


# The orders at one level of an L3 book, in time priority. Kept in an array parallel to the
# levels (L1 and L2 books have none), so that the levels an insertion or removal moves are
# 16 bytes each.
cdef struct Queue:
    int32_t head       # first order in time priority (pool index), -1 when none
    int32_t tail       # last order, -1 when none
    int32_t count      # orders at the level
    int32_t _pad


cdef struct Ladder:
    Level* levels      # levels[0 .. count-1], keys strictly ascending, best last
    Queue* queues      # L3 books: queues[i] holds the orders of levels[i]; else NULL
    bint queued        # whether the ladder keeps queues (set once, before the first level)
    Py_ssize_t count
    Py_ssize_t capacity


# --- The base of every book -----------------------------------------------------------------

cdef class OrderBook:
    cdef readonly object instrument_id   # a str (an InstrumentId is kept as given)
    cdef readonly int price_precision
    cdef readonly int size_precision
    # Of the last applied delta; update_count counts applied deltas.
    cdef readonly uint64_t sequence
    cdef readonly int64_t ts_last
    cdef readonly uint64_t update_count
    cdef Ladder _bids
    cdef Ladder _asks

    # A Price or Quantity's raw value at the book's precision (exact, or BookIntegrityError).
    cdef object _raw_at(self, object value, int precision, str what)
    # Apply one delta; return 1 if applied, 0 if ignored (a non-strict L3 book's fault).
    # Raise BookIntegrityError (the book unchanged) for a delta that cannot apply.
    cdef int _apply(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id,
        uint64_t sequence, int64_t ts_event,
    ) except -1
    # Apply ``count`` rows ``stride`` bytes apart; return how many applied. On an error,
    # ``done[0]`` holds the index of the failing row.
    cdef Py_ssize_t _apply_rows(
        self, const char* rows, Py_ssize_t count, Py_ssize_t stride, Py_ssize_t* done
    ) except -1
    # Raise BookIntegrityError if the orders disagree with the levels (check_integrity
    # checks the ladders themselves first).
    cdef int _check_orders(self) except -1

    # Empty one side (SIDE_BID or SIDE_ASK), or both (SIDE_NONE).
    cdef int _clear_side(self, int side) except -1
    # The ladder of ``side`` (1 or 2); ValueError naming the side otherwise.
    cdef Ladder* _ladder(self, int side) except NULL

    # Query helpers (book_base.pyx).
    cdef object _inconsistent(self, str problem)
    cdef str _describe_best(self, int side)
    cdef object _best_price(self, int side)
    cdef object _best_size(self, int side)
    cdef list _levels(self, int side, Py_ssize_t depth)
    # A Price (any precision) or raw int as a raw int at the book's precision; rounding
    # 0 exact (None when not representable), 1 up, -1 down.
    cdef object _raw_price(self, price, int rounding)
    # A Quantity (representable at the book's precision) or raw int as a raw int.
    cdef object _raw_size(self, quantity)
    cdef dict _side_arrays(self, int side, str name, depth)


# --- Errors -----------------------------------------------------------------------------------

# Raise BookIntegrityError naming the book's instrument, the action, side, price (formatted
# at the book's precision), order id and sequence, and the problem. Always returns -1.
cdef int raise_integrity_error(
    OrderBook book, int action, int side, int64_t price, uint64_t order_id, uint64_t sequence,
    str problem,
) except -1

# The common refusals: a side other than 1 or 2 (0 is allowed with CLEAR only), a negative
# size, an action outside 1..5.
cdef int refuse_side(
    OrderBook book, int action, int side, int64_t price, uint64_t order_id, uint64_t sequence
) except -1
cdef int refuse_size(
    OrderBook book, int action, int side, int64_t price, int64_t size, uint64_t order_id,
    uint64_t sequence,
) except -1
cdef int refuse_action(
    OrderBook book, int action, int side, int64_t price, uint64_t order_id, uint64_t sequence
) except -1

# Grow a ladder's arrays (amortized doubling; the queues too when ``queued``); MemoryError
# leaves its contents and capacity unchanged.
cdef int ladder_grow(Ladder* ladder) except -1


# --- Ladder helpers, inlined into each book's apply loop --------------------------------------

cdef inline int64_t side_key(int side, int64_t price) noexcept nogil:
    """The ladder key of ``price``: itself on the bid side, ``~price`` on the ask side."""
    return ~price if side == SIDE_ASK else price


cdef inline Py_ssize_t ladder_find(const Ladder* ladder, int64_t key, bint* found) noexcept nogil:
    """Return the index of ``key`` (``found[0]`` = 1) or where to insert it (``found[0]`` = 0).

    Changes cluster at the touch (the end of the array), so the top ``LINEAR_SCAN`` levels
    are scanned first, then the search gallops away from the touch in doubling steps and
    bisects the last step: O(log distance from the touch), not O(log depth).
    """
    cdef const Level* levels = ladder.levels
    cdef Py_ssize_t i = ladder.count - 1
    cdef Py_ssize_t high = ladder.count - LINEAR_SCAN
    cdef Py_ssize_t low = 0
    cdef Py_ssize_t step = LINEAR_SCAN
    cdef Py_ssize_t middle
    cdef int64_t level_key
    if high < 0:
        high = 0
    while i >= high:
        level_key = levels[i].key
        if level_key <= key:
            found[0] = level_key == key
            return i if level_key == key else i + 1
        i -= 1
    # Invariant: every key in levels[high:] is above ``key``.
    while high > 0:
        middle = high - step
        if middle <= 0:
            break
        if levels[middle].key <= key:
            low = middle
            break
        high = middle
        step <<= 1
    # The lower bound of ``key`` is in [low, high]: bisect without branches (the compiler
    # turns the conditional expression into a conditional move).
    step = high - low
    if step:
        while step > 1:
            middle = step >> 1
            low = low + middle if levels[low + middle].key < key else low
            step -= middle
        low += levels[low].key < key
    found[0] = low < ladder.count and levels[low].key == key
    return low


cdef inline int ladder_insert(Ladder* ladder, Py_ssize_t at, int64_t key, int64_t size) except -1:
    """Insert an empty-queue level at index ``at`` (from ladder_find). MemoryError: unchanged."""
    cdef Queue* queue
    if ladder.count == ladder.capacity:
        ladder_grow(ladder)
    if at < ladder.count:
        memmove(&ladder.levels[at + 1], &ladder.levels[at], (ladder.count - at) * sizeof(Level))
    ladder.levels[at].key = key
    ladder.levels[at].size = size
    if ladder.queues is not NULL:
        if at < ladder.count:
            memmove(
                &ladder.queues[at + 1], &ladder.queues[at], (ladder.count - at) * sizeof(Queue)
            )
        queue = &ladder.queues[at]
        queue.head = -1
        queue.tail = -1
        queue.count = 0
    ladder.count += 1
    return 0


cdef inline void ladder_remove(Ladder* ladder, Py_ssize_t at) noexcept nogil:
    """Remove the level at index ``at`` (0 <= at < count)."""
    ladder.count -= 1
    if at < ladder.count:
        memmove(&ladder.levels[at], &ladder.levels[at + 1], (ladder.count - at) * sizeof(Level))
        if ladder.queues is not NULL:
            memmove(
                &ladder.queues[at], &ladder.queues[at + 1], (ladder.count - at) * sizeof(Queue)
            )
