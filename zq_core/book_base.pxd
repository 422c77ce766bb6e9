# The contract shared by zq's compiled order books (zq_core.book, zq_core.book_l3).
#
# A side of a book is a *ladder*: price levels sorted by ``key`` in ascending order with the
# best level LAST, kept in *blocks* of up to BLOCK (64) levels. A block is a fixed slot of a
# flat array, so a level's *position* (block * BLOCK + offset) indexes ``levels`` and, in an
# L3 book, the parallel ``queues`` directly. A small directory lists the blocks in key order
# (their *ranks*) with each block's lowest key, so a search picks the block first (the top
# block, else galloping from the rank of the previous search) and then the level inside
# it; an insertion or removal moves at most one block's levels. A full block splits in two,
# a block left nearly empty merges into a neighbour, an empty one is dropped.
#
# The key is the price on the bid side and ``~price`` (= -price - 1, an order-reversing
# bijection of int64 that cannot overflow) on the ask side, so both sides share one search
# and one insertion routine.
#
# The hot helpers are ``inline`` here so that every book module compiles them into its
# own apply loop; a call across modules would otherwise go through a function pointer. The
# rare structural changes (grow, split, merge) are plain functions of book_base.pyx.

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
    # The levels of a block: 64 x 16 bytes, 1 KB (and 1 KB of queues in an L3 book).
    BLOCK = 64
    BLOCK_SHIFT = 6
    BLOCK_MASK = 63
    # An insertion point is block << POINT_SHIFT | offset, offset 0..BLOCK.
    POINT_SHIFT = 7
    POINT_MASK = 127
    # A block left with at most MERGE_BELOW levels merges with a neighbour into at most
    # MERGE_UPTO (a merged block then takes MERGE_UPTO + 1 more levels before it splits).
    MERGE_BELOW = 16
    MERGE_UPTO = 48


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
    # Block b holds levels[b * BLOCK .. b * BLOCK + fill[b] - 1], keys strictly ascending
    # within a block and from each block to the next by rank.
    Level* levels
    Queue* queues      # L3 books: queues[p] holds the orders of levels[p]; else NULL
    int64_t* first     # first[r]: the lowest key of the block of rank r
    int32_t* order     # order[r]: the block of rank r (the best block has rank blocks - 1)
    int32_t* rank      # rank[b]: the rank of block b, while in use
    int32_t* fill      # fill[b]: the levels in block b, 1..BLOCK while in use
    int32_t* spare     # spare[0 .. spares - 1]: the blocks not in use
    Py_ssize_t spares
    Py_ssize_t blocks      # blocks in use (ranks 0 .. blocks - 1)
    Py_ssize_t capacity    # blocks allocated
    Py_ssize_t count       # levels
    Py_ssize_t top         # the position of the best level, while count > 0
    Py_ssize_t hint        # the rank the last search below the top block ended at (a guess)
    bint queued            # whether the ladder keeps queues (set once, before the first level)


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
    # Raise BookIntegrityError if the block directory of a side disagrees with itself.
    cdef int _check_blocks(self, int side, const Ladder* ladder) except -1

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

# --- Ladder structure (book_base.pyx): the rare changes, not inlined ---------------------------

# Double the blocks allocated (the queues too when ``queued``); MemoryError leaves the
# ladder's contents and capacity unchanged.
cdef int ladder_grow(Ladder* ladder) except -1
# Make sure a spare block exists, so that the next ladder_insert cannot fail.
cdef int ladder_reserve(Ladder* ladder) except -1
# Empty the ladder (its blocks stay allocated); ladder_free releases them.
cdef void ladder_clear(Ladder* ladder) noexcept nogil
cdef void ladder_free(Ladder* ladder) noexcept nogil
# Take the first block of an empty ladder (called by ladder_insert).
cdef int ladder_start(Ladder* ladder) except -1
# Split the full block ``block`` in two; return where the insertion point (block, offset)
# is now.
cdef Py_ssize_t ladder_split(Ladder* ladder, Py_ssize_t block, Py_ssize_t offset) except -1
# After a removal left ``block`` with at most MERGE_BELOW levels: drop it if empty, else
# merge it with a neighbour when the two fit in MERGE_UPTO levels.
cdef void ladder_shrink(Ladder* ladder, Py_ssize_t block) noexcept nogil
# The position ``depth`` levels from the best (0 = the best), or -1 past the worst.
cdef Py_ssize_t ladder_at_depth(const Ladder* ladder, Py_ssize_t depth) noexcept nogil


# --- Ladder helpers, inlined into each book's apply loop --------------------------------------

cdef inline int64_t side_key(int side, int64_t price) noexcept nogil:
    """The ladder key of ``price``: itself on the bid side, ``~price`` on the ask side."""
    return ~price if side == SIDE_ASK else price


cdef inline void ladder_set_top(Ladder* ladder) noexcept nogil:
    """Recompute ``top`` (the last level of the last block) after a change."""
    cdef Py_ssize_t block
    if ladder.blocks:
        block = ladder.order[ladder.blocks - 1]
        ladder.top = (block << BLOCK_SHIFT) + ladder.fill[block] - 1
    else:
        ladder.top = -1


cdef inline Py_ssize_t ladder_worse(const Ladder* ladder, Py_ssize_t at) noexcept nogil:
    """The position of the level after ``at`` going away from the touch, or -1 past the worst."""
    cdef Py_ssize_t rank, block
    if at & BLOCK_MASK:
        return at - 1
    rank = ladder.rank[at >> BLOCK_SHIFT]
    if rank == 0:
        return -1
    block = ladder.order[rank - 1]
    return (block << BLOCK_SHIFT) + ladder.fill[block] - 1


cdef inline Py_ssize_t ladder_better(const Ladder* ladder, Py_ssize_t at) noexcept nogil:
    """The position of the level after ``at`` going towards the touch, or -1 past the best."""
    cdef Py_ssize_t block = at >> BLOCK_SHIFT
    cdef Py_ssize_t rank
    if (at & BLOCK_MASK) + 1 < ladder.fill[block]:
        return at + 1
    rank = ladder.rank[block] + 1
    if rank == ladder.blocks:
        return -1
    return <Py_ssize_t>ladder.order[rank] << BLOCK_SHIFT


cdef inline Py_ssize_t ladder_worst(const Ladder* ladder) noexcept nogil:
    """The position of the worst level, or -1 if the ladder is empty."""
    return <Py_ssize_t>ladder.order[0] << BLOCK_SHIFT if ladder.count else -1


cdef inline Py_ssize_t ladder_rank(Ladder* ladder, int64_t key) noexcept nogil:
    """The rank of the block where ``key`` is or belongs: the last rank whose first key is at
    most ``key`` (0 if none). Only for a key below the top block's first key.

    Consecutive searches tend to land near each other, so the search gallops from the rank
    the previous one ended at (``hint``) and bisects the last step: O(log distance).
    """
    cdef const int64_t* first = ladder.first
    cdef Py_ssize_t high = ladder.blocks - 1  # first[high] > key throughout
    cdef Py_ssize_t low = ladder.hint
    cdef Py_ssize_t step = 1
    cdef Py_ssize_t middle
    if high == 0:
        return 0
    if low >= high:
        low = high - 1
    if first[low] <= key:
        while True:
            middle = low + step
            if middle >= high:
                break
            if first[middle] > key:
                high = middle
                break
            low = middle
            step <<= 1
    else:
        high = low
        while True:
            middle = high - step
            if middle <= 0:
                low = 0
                break
            if first[middle] <= key:
                low = middle
                break
            high = middle
            step <<= 1
        if first[low] > key:  # below the worst block's first key
            ladder.hint = 0
            return 0
    # first[low] <= key < first[high]
    while high - low > 1:
        middle = (low + high) >> 1
        if first[middle] <= key:
            low = middle
        else:
            high = middle
    ladder.hint = low
    return low


cdef inline Py_ssize_t ladder_find(Ladder* ladder, int64_t key, bint* found) noexcept nogil:
    """Find ``key``: its position (``found[0]`` = 1), or an insertion point for ladder_insert
    (``found[0]`` = 0; not a position: block << POINT_SHIFT | offset).

    Changes cluster at the touch, so the top block is tried first (found through ``top``,
    without reading the directory) and its top ``LINEAR_SCAN`` levels scanned; a key below
    it goes to ladder_rank for its block. Inside the block a branch-free bisection finds
    the lower bound.
    """
    cdef Py_ssize_t block, i, stop, low, step, middle, filled
    cdef const Level* levels
    if ladder.count == 0:
        found[0] = 0
        return 0
    # The top block's levels end at ``top``: no directory read on the way to the touch.
    levels = ladder.levels + (ladder.top & ~(<Py_ssize_t>BLOCK_MASK))
    if key >= levels[0].key:
        block = ladder.top >> BLOCK_SHIFT
        filled = (ladder.top & BLOCK_MASK) + 1
        i = filled - 1
        stop = filled - LINEAR_SCAN
        if stop < 0:
            stop = 0
        while i >= stop:
            if levels[i].key <= key:
                if levels[i].key == key:
                    found[0] = 1
                    return (block << BLOCK_SHIFT) + i
                found[0] = 0
                return (block << POINT_SHIFT) | (i + 1)
            i -= 1
    else:
        block = ladder.order[ladder_rank(ladder, key)]
        filled = ladder.fill[block]
        levels = ladder.levels + (block << BLOCK_SHIFT)
        stop = filled
    # The lower bound of ``key`` is in [0, stop]; every key in levels[stop:filled] is above
    # it. Bisect without branches (the conditional expression becomes a conditional move).
    low = 0
    step = stop
    if step:
        while step > 1:
            middle = step >> 1
            low = low + middle if levels[low + middle].key < key else low
            step -= middle
        low += levels[low].key < key
    if low < filled and levels[low].key == key:
        found[0] = 1
        return (block << BLOCK_SHIFT) + low
    found[0] = 0
    return (block << POINT_SHIFT) | low


cdef inline Py_ssize_t ladder_insert(
    Ladder* ladder, Py_ssize_t point, int64_t key, int64_t size
) except -1:
    """Insert an empty-queue level at the insertion point ``point`` (from ladder_find, no
    change to the ladder since) and return its position. MemoryError: the ladder unchanged.
    """
    cdef Py_ssize_t block, offset, at, filled
    cdef Queue* queue
    if ladder.count == 0:
        ladder_start(ladder)
        block = ladder.order[0]
        offset = 0
    else:
        block = point >> POINT_SHIFT
        offset = point & POINT_MASK
        if ladder.fill[block] == BLOCK:
            point = ladder_split(ladder, block, offset)
            block = point >> POINT_SHIFT
            offset = point & POINT_MASK
    filled = ladder.fill[block]
    at = (block << BLOCK_SHIFT) + offset
    if offset < filled:
        memmove(&ladder.levels[at + 1], &ladder.levels[at], (filled - offset) * sizeof(Level))
    ladder.levels[at].key = key
    ladder.levels[at].size = size
    if ladder.queues is not NULL:
        if offset < filled:
            memmove(
                &ladder.queues[at + 1], &ladder.queues[at], (filled - offset) * sizeof(Queue)
            )
        queue = &ladder.queues[at]
        queue.head = -1
        queue.tail = -1
        queue.count = 0
    ladder.fill[block] = filled + 1
    if offset == 0:
        ladder.first[ladder.rank[block]] = key
    ladder.count += 1
    if ladder.count == 1:
        ladder.top = at
    elif ladder.top >> BLOCK_SHIFT == block:  # the top block: its last level moved up one
        ladder.top += 1
    return at


cdef inline void ladder_remove(Ladder* ladder, Py_ssize_t at) noexcept nogil:
    """Remove the level at position ``at``."""
    cdef Py_ssize_t block = at >> BLOCK_SHIFT
    cdef Py_ssize_t offset = at & BLOCK_MASK
    cdef Py_ssize_t filled = ladder.fill[block] - 1
    if offset < filled:
        memmove(&ladder.levels[at], &ladder.levels[at + 1], (filled - offset) * sizeof(Level))
        if ladder.queues is not NULL:
            memmove(
                &ladder.queues[at], &ladder.queues[at + 1], (filled - offset) * sizeof(Queue)
            )
    ladder.fill[block] = filled
    ladder.count -= 1
    if filled <= MERGE_BELOW:
        ladder_shrink(ladder, block)
    else:
        if offset == 0:
            ladder.first[ladder.rank[block]] = ladder.levels[block << BLOCK_SHIFT].key
        if ladder.top >> BLOCK_SHIFT == block:
            ladder.top -= 1
