"""The base of zq's compiled order books: price ladders, queries, batch apply, export.

``L1Book``, ``L2Book`` (``zq_core.book``) and ``L3Book`` (``zq_core.book_l3``) share this
class; each implements how a delta changes it. Import them from ``zq_core.book``.
"""

cimport numpy as cnp
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy

from zq_core.fixed cimport Price, Quantity, price_from_raw_c, quantity_from_raw_c

from decimal import ROUND_HALF_EVEN, Context, Decimal
from math import gcd
from operator import index as _index

import numpy as np

cnp.import_array()

__all__ = ["DELTA_ROW_DTYPE", "BookIntegrityError", "OrderBook"]

#: The row layout ``apply_batch`` reads: equal to ``zq.data.arrays.DELTA_DTYPE``.
DELTA_ROW_DTYPE = np.dtype(
    [
        ("ts_event", "<i8"),
        ("ts_init", "<i8"),
        ("price", "<i8"),
        ("size", "<i8"),
        ("order_id", "<u8"),
        ("sequence", "<u8"),
        ("action", "u1"),
        ("side", "u1"),
        ("flags", "u1"),
        ("_pad", "V5"),
    ]
)
if sizeof(DeltaRow) != DELTA_ROW_DTYPE.itemsize:
    raise ImportError(f"DeltaRow is {sizeof(DeltaRow)} bytes, DELTA_ROW_DTYPE is 56")

# The fields apply_batch reads: (name, byte offset, dtype); other fields are free.
_ROW_FIELDS = tuple(
    (name, DELTA_ROW_DTYPE.fields[name][1], DELTA_ROW_DTYPE.fields[name][0])
    for name in ("ts_event", "price", "size", "order_id", "sequence", "action", "side")
)
# The last dtype found to match, so most batches skip the field-by-field check.
cdef object _verified_dtype = None

_ACTION_NAMES = {1: "ADD", 2: "UPDATE", 3: "DELETE", 4: "CLEAR", 5: "FILL"}
_SIDE_NAMES = {0: "no side", 1: "bid", 2: "ask"}

# Decimal contexts of the exact queries: wide enough that a terminating result is exact;
# a non-terminating average is rounded half-even to 34 significant digits.
_EXACT = Context(prec=200)
_ROUNDED = Context(prec=34, rounding=ROUND_HALF_EVEN)

cdef enum:
    # The first capacity of a ladder, in blocks.
    _LADDER_FIRST_BLOCKS = 2


# --- Errors -----------------------------------------------------------------------------------

class BookIntegrityError(ValueError):
    """A delta that cannot apply to a book, or a book found inconsistent.

    The message names the book's instrument, the action, the side, the order id or price,
    and the sequence. The same facts are attributes (None where they do not apply); a
    delta that raised left the book unchanged.
    """

    def __init__(
        self,
        problem,
        *,
        instrument_id=None,
        action=None,
        side=None,
        price=None,
        order_id=None,
        sequence=None,
        price_precision=0,
    ):
        self.problem = problem
        self.instrument_id = instrument_id
        self.action = action
        self.side = side
        self.price = price
        self.order_id = order_id
        self.sequence = sequence
        if instrument_id is None:
            message = problem
        elif action is None:
            message = f"{instrument_id}: {problem}"
        else:
            what = [
                _ACTION_NAMES.get(action, f"action {action}"),
                _SIDE_NAMES.get(side, f"side {side}"),
            ]
            if order_id:
                what.append(f"order {order_id}")
            if action != ACTION_CLEAR and price is not None:
                what.append(f"at {format_raw(price, price_precision)}")
            message = f"{instrument_id}: {' '.join(what)} (sequence {sequence}): {problem}"
        super().__init__(message)


cdef int raise_integrity_error(
    OrderBook book, int action, int side, int64_t price, uint64_t order_id, uint64_t sequence,
    str problem,
) except -1:
    raise BookIntegrityError(
        problem,
        instrument_id=book.instrument_id,
        action=action,
        side=side,
        price=price,
        order_id=order_id,
        sequence=sequence,
        price_precision=book.price_precision,
    )


cdef int refuse_side(
    OrderBook book, int action, int side, int64_t price, uint64_t order_id, uint64_t sequence
) except -1:
    return raise_integrity_error(
        book, action, side, price, order_id, sequence,
        f"side must be 1 (bid) or 2 (ask), got {side}",
    )


cdef int refuse_size(
    OrderBook book, int action, int side, int64_t price, int64_t size, uint64_t order_id,
    uint64_t sequence,
) except -1:
    return raise_integrity_error(
        book, action, side, price, order_id, sequence, f"size must be >= 0, got {size}"
    )


cdef int refuse_action(
    OrderBook book, int action, int side, int64_t price, uint64_t order_id, uint64_t sequence
) except -1:
    return raise_integrity_error(
        book, action, side, price, order_id, sequence,
        f"unknown action {action}: expected 1 ADD, 2 UPDATE, 3 DELETE, 4 CLEAR or 5 FILL",
    )


def format_raw(raw, precision):
    """Return ``raw / 10**precision`` written with exactly ``precision`` decimals."""
    if not precision:
        return str(raw)
    sign = "-" if raw < 0 else ""
    whole, fraction = divmod(abs(raw), 10**precision)
    return f"{sign}{whole}.{fraction:0{precision}d}"


# --- Ladders ----------------------------------------------------------------------------------

cdef int ladder_grow(Ladder* ladder) except -1:
    cdef Py_ssize_t capacity = ladder.capacity * 2 if ladder.capacity else _LADDER_FIRST_BLOCKS
    cdef Py_ssize_t block
    # Each array is replaced as soon as it has grown (realloc keeps the contents); the
    # capacity says how much is in use until every one has.
    ladder.levels = <Level*>_grown(ladder.levels, capacity * BLOCK * sizeof(Level), capacity)
    if ladder.queued:
        ladder.queues = <Queue*>_grown(ladder.queues, capacity * BLOCK * sizeof(Queue), capacity)
    ladder.first = <int64_t*>_grown(ladder.first, capacity * sizeof(int64_t), capacity)
    ladder.order = <int32_t*>_grown(ladder.order, capacity * sizeof(int32_t), capacity)
    ladder.rank = <int32_t*>_grown(ladder.rank, capacity * sizeof(int32_t), capacity)
    ladder.fill = <int32_t*>_grown(ladder.fill, capacity * sizeof(int32_t), capacity)
    ladder.spare = <int32_t*>_grown(ladder.spare, capacity * sizeof(int32_t), capacity)
    # The new blocks are spare, the lowest taken first.
    for block in range(capacity - 1, ladder.capacity - 1, -1):
        ladder.fill[block] = 0
        ladder.spare[ladder.spares] = block
        ladder.spares += 1
    ladder.capacity = capacity
    return 0


cdef void* _grown(void* memory, size_t size, Py_ssize_t blocks) except NULL:
    cdef void* grown = realloc(memory, size)
    if grown is NULL:
        raise MemoryError(f"cannot grow a book side to {blocks * BLOCK} levels")
    return grown


cdef int ladder_reserve(Ladder* ladder) except -1:
    if not ladder.spares:
        ladder_grow(ladder)
    return 0


cdef void ladder_clear(Ladder* ladder) noexcept nogil:
    cdef Py_ssize_t block
    ladder.spares = 0
    for block in range(ladder.capacity - 1, -1, -1):
        ladder.fill[block] = 0
        ladder.spare[ladder.spares] = block
        ladder.spares += 1
    ladder.blocks = 0
    ladder.count = 0
    ladder.top = -1
    ladder.hint = 0


cdef void ladder_free(Ladder* ladder) noexcept nogil:
    free(ladder.levels)
    free(ladder.queues)
    free(ladder.first)
    free(ladder.order)
    free(ladder.rank)
    free(ladder.fill)
    free(ladder.spare)
    ladder.levels = NULL
    ladder.queues = NULL
    ladder.first = NULL
    ladder.order = NULL
    ladder.rank = NULL
    ladder.fill = NULL
    ladder.spare = NULL
    ladder.capacity = ladder.spares = ladder.blocks = ladder.count = 0
    ladder.top = -1


cdef inline Py_ssize_t _take_block(Ladder* ladder) except -1:
    ladder_reserve(ladder)
    ladder.spares -= 1
    return ladder.spare[ladder.spares]


cdef int ladder_start(Ladder* ladder) except -1:
    cdef Py_ssize_t block = _take_block(ladder)
    ladder.order[0] = block
    ladder.rank[block] = 0
    ladder.fill[block] = 0
    ladder.blocks = 1
    ladder.hint = 0
    return 0


cdef Py_ssize_t ladder_split(Ladder* ladder, Py_ssize_t block, Py_ssize_t offset) except -1:
    # The upper half of the block moves to a fresh block ranked just above it.
    cdef Py_ssize_t fresh = _take_block(ladder)  # first: MemoryError changes nothing
    cdef Py_ssize_t half = BLOCK // 2
    cdef Py_ssize_t rank = ladder.rank[block] + 1
    memcpy(
        &ladder.levels[fresh << BLOCK_SHIFT], &ladder.levels[(block << BLOCK_SHIFT) + half],
        (BLOCK - half) * sizeof(Level),
    )
    if ladder.queues is not NULL:
        memcpy(
            &ladder.queues[fresh << BLOCK_SHIFT], &ladder.queues[(block << BLOCK_SHIFT) + half],
            (BLOCK - half) * sizeof(Queue),
        )
    ladder.fill[block] = half
    ladder.fill[fresh] = BLOCK - half
    _insert_rank(ladder, rank, fresh)
    ladder_set_top(ladder)
    if offset > half:
        return (fresh << POINT_SHIFT) | (offset - half)
    return (block << POINT_SHIFT) | offset


cdef void _insert_rank(Ladder* ladder, Py_ssize_t rank, Py_ssize_t block) noexcept nogil:
    # Give ``block`` (holding levels) the rank ``rank``, moving the ranks above up one.
    cdef Py_ssize_t r
    cdef Py_ssize_t moved = ladder.blocks - rank
    if moved > 0:
        memmove(&ladder.order[rank + 1], &ladder.order[rank], moved * sizeof(int32_t))
        memmove(&ladder.first[rank + 1], &ladder.first[rank], moved * sizeof(int64_t))
    ladder.order[rank] = block
    ladder.first[rank] = ladder.levels[block << BLOCK_SHIFT].key
    ladder.blocks += 1
    for r in range(rank, ladder.blocks):
        ladder.rank[ladder.order[r]] = r


cdef void _drop_rank(Ladder* ladder, Py_ssize_t rank) noexcept nogil:
    # Take the block of rank ``rank`` out of use, moving the ranks above down one.
    cdef Py_ssize_t block = ladder.order[rank]
    cdef Py_ssize_t r
    cdef Py_ssize_t moved = ladder.blocks - rank - 1
    if moved > 0:
        memmove(&ladder.order[rank], &ladder.order[rank + 1], moved * sizeof(int32_t))
        memmove(&ladder.first[rank], &ladder.first[rank + 1], moved * sizeof(int64_t))
    ladder.blocks -= 1
    for r in range(rank, ladder.blocks):
        ladder.rank[ladder.order[r]] = r
    ladder.fill[block] = 0
    ladder.spare[ladder.spares] = block
    ladder.spares += 1


cdef void _append_block(Ladder* ladder, Py_ssize_t into, Py_ssize_t block) noexcept nogil:
    # Move the levels of ``block`` to the end of ``into`` (the block ranked just below it).
    cdef Py_ssize_t to = (into << BLOCK_SHIFT) + ladder.fill[into]
    cdef Py_ssize_t filled = ladder.fill[block]
    memcpy(&ladder.levels[to], &ladder.levels[block << BLOCK_SHIFT], filled * sizeof(Level))
    if ladder.queues is not NULL:
        memcpy(&ladder.queues[to], &ladder.queues[block << BLOCK_SHIFT], filled * sizeof(Queue))
    ladder.fill[into] += filled
    _drop_rank(ladder, ladder.rank[block])


cdef void ladder_shrink(Ladder* ladder, Py_ssize_t block) noexcept nogil:
    cdef Py_ssize_t rank = ladder.rank[block]
    cdef Py_ssize_t filled = ladder.fill[block]
    cdef Py_ssize_t neighbour
    if not filled:
        _drop_rank(ladder, rank)
    else:
        ladder.first[rank] = ladder.levels[block << BLOCK_SHIFT].key
        if rank > 0 and ladder.fill[ladder.order[rank - 1]] + filled <= MERGE_UPTO:
            _append_block(ladder, ladder.order[rank - 1], block)
        elif rank + 1 < ladder.blocks:
            neighbour = ladder.order[rank + 1]
            if ladder.fill[neighbour] + filled <= MERGE_UPTO:
                _append_block(ladder, block, neighbour)
    ladder_set_top(ladder)


cdef Py_ssize_t ladder_at_depth(const Ladder* ladder, Py_ssize_t depth) noexcept nogil:
    cdef Py_ssize_t rank, block
    if depth < 0:
        return -1
    for rank in range(ladder.blocks - 1, -1, -1):
        block = ladder.order[rank]
        if depth < ladder.fill[block]:
            return (block << BLOCK_SHIFT) + ladder.fill[block] - 1 - depth
        depth -= ladder.fill[block]
    return -1


cdef inline int64_t _top_price(const Ladder* ladder, int side) noexcept:
    # Caller guarantees ladder.count > 0.
    return side_key(side, ladder.levels[ladder.top].key)


cdef int64_t _sum_sizes(int64_t total, int64_t size) except? -1:
    cdef int64_t result
    if add_overflow(total, size, &result):
        raise OverflowError("the total size exceeds the int64 range of a Quantity")
    return result


cdef object _decimal_ratio(numerator, denominator, exponent):
    # ``numerator / denominator * 10**exponent`` (positive denominator) as a Decimal: exact
    # when it has a finite decimal expansion, else rounded half-even to 34 digits.
    divisor = gcd(numerator, denominator)
    numerator //= divisor
    denominator //= divisor
    twos = (denominator & -denominator).bit_length() - 1
    rest = denominator >> twos
    fives = 0
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest == 1:
        digits = max(twos, fives)
        return Decimal(numerator * (10**digits // denominator)).scaleb(
            exponent - digits, context=_EXACT
        )
    return _ROUNDED.divide(Decimal(numerator), Decimal(denominator)).scaleb(
        exponent, context=_ROUNDED
    )


# --- The base of every book -------------------------------------------------------------------

cdef class OrderBook:
    """The queries and exports common to ``L1Book``, ``L2Book`` and ``L3Book``.

    Prices and sizes are raw fixed-point integers at the book's precisions; queries return
    ``Price`` and ``Quantity`` values (or raw ints where the name says so). A side is an
    ``OrderSide`` value: 1 (BUY) for the bids, 2 (SELL) for the asks.
    """

    def __init__(self, instrument_id, price_precision, size_precision):
        if type(self) is OrderBook:
            raise TypeError("OrderBook is abstract: construct an L1Book, L2Book or L3Book")
        if not isinstance(instrument_id, str):
            raise TypeError(
                f"instrument_id must be a str, got {type(instrument_id).__name__}: "
                f"{instrument_id!r}"
            )
        self.instrument_id = instrument_id
        self.price_precision = _precision(price_precision, "price_precision")
        self.size_precision = _precision(size_precision, "size_precision")

    def __dealloc__(self):
        ladder_free(&self._bids)
        ladder_free(&self._asks)

    def __repr__(self):
        return (
            f"{type(self).__name__}({self.instrument_id!r}, "
            f"bid={self._describe_best(SIDE_BID)}, ask={self._describe_best(SIDE_ASK)}, "
            f"levels={self._bids.count}/{self._asks.count}, updates={self.update_count})"
        )

    cdef str _describe_best(self, int side):
        cdef Ladder* ladder = self._ladder(side)
        if not ladder.count:
            return "None"
        return (
            f"{format_raw(_top_price(ladder, side), self.price_precision)} x "
            f"{format_raw(ladder.levels[ladder.top].size, self.size_precision)}"
        )

    # --- Applying deltas

    cdef int _apply(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id,
        uint64_t sequence, int64_t ts_event,
    ) except -1:
        raise NotImplementedError

    cdef Py_ssize_t _apply_rows(
        self, const char* rows, Py_ssize_t count, Py_ssize_t stride, Py_ssize_t* done
    ) except -1:
        cdef Py_ssize_t applied = 0
        cdef const DeltaRow* row
        cdef Py_ssize_t i
        for i in range(count):
            done[0] = i
            row = <const DeltaRow*>(rows + i * stride)
            applied += self._apply(
                row.action, row.side, row.price, row.size, row.order_id, row.sequence,
                row.ts_event,
            )
        done[0] = count
        return applied

    cdef int _clear_side(self, int side) except -1:
        if side == SIDE_NONE or side == SIDE_BID:
            ladder_clear(&self._bids)
        if side == SIDE_NONE or side == SIDE_ASK:
            ladder_clear(&self._asks)
        return 0

    cdef int _check_orders(self) except -1:
        # A book without orders keeps no queues: nothing to check.
        return 0

    cdef Ladder* _ladder(self, int side) except NULL:
        if side == SIDE_BID:
            return &self._bids
        if side == SIDE_ASK:
            return &self._asks
        raise ValueError(f"side must be 1 (BUY, the bids) or 2 (SELL, the asks), got {side}")

    cdef object _inconsistent(self, str problem):
        return BookIntegrityError(
            f"book inconsistent after sequence {self.sequence}: {problem}",
            instrument_id=self.instrument_id,
        )

    def apply(self, delta):
        """Apply one ``OrderBookDelta`` (or any object with its attributes).

        Reads ``action``, ``side``, ``price``, ``size``, ``order_id``, ``sequence`` and
        ``ts_event``; a price or size written with another precision is rescaled exactly to
        the book's.

        Raises
        ------
        BookIntegrityError
            If the delta cannot apply, or its price or size has more decimals than the
            book's precision allows; the book is left unchanged.
        """
        self._apply(
            delta.action, delta.side,
            self._raw_at(delta.price, self.price_precision, "price"),
            self._raw_at(delta.size, self.size_precision, "size"),
            delta.order_id, delta.sequence, delta.ts_event,
        )

    cdef object _raw_at(self, object value, int precision, str what):
        # The per-object path: exactness matters more than speed here (batches carry raws).
        cdef int given = value.precision
        raw = value.raw
        if given == precision:
            return raw
        if given < precision:
            return raw * 10 ** (precision - given)
        factor = 10 ** (given - precision)
        if raw % factor:
            raise BookIntegrityError(
                f"book {self.instrument_id}: {what} {value} has more than {precision} decimals"
            )
        return raw // factor

    def apply_batch(self, cnp.ndarray deltas not None):
        """Apply every row of a ``DELTA_DTYPE`` array, in order, without a Python object per row.

        Any one-dimensional numpy array with the layout of ``zq.data.arrays.DELTA_DTYPE``
        (``DELTA_ROW_DTYPE``) is accepted, read-only and strided ones included.

        Returns
        -------
        int
            The number of rows applied (a non-strict ``L3Book`` ignores faulty rows).

        Raises
        ------
        BookIntegrityError
            At the first row that cannot apply; the rows before it stay applied, and the
            exception's note names the row.
        """
        cdef Py_ssize_t done = 0
        _check_row_layout(deltas)
        if deltas.ndim != 1:
            raise ValueError(
                f"apply_batch needs a one-dimensional array, got {deltas.ndim} dimensions"
            )
        try:
            return self._apply_rows(
                <const char*>cnp.PyArray_DATA(deltas),
                cnp.PyArray_DIM(deltas, 0),
                cnp.PyArray_STRIDE(deltas, 0),
                &done,
            )
        except BookIntegrityError as error:
            error.add_note(f"at row {done} of the batch; the {done} rows before it were processed")
            raise

    def clear(self, int side=SIDE_NONE):
        """Empty one side (1 bids, 2 asks), or both (0, the default)."""
        if side != SIDE_NONE:
            self._ladder(side)
        self._clear_side(side)

    # --- Top of book

    def best_bid_price(self):
        """Return the best (highest) bid price, or None if there are no bids."""
        return self._best_price(SIDE_BID)

    def best_ask_price(self):
        """Return the best (lowest) ask price, or None if there are no asks."""
        return self._best_price(SIDE_ASK)

    def best_bid_size(self):
        """Return the total size at the best bid, or None if there are no bids."""
        return self._best_size(SIDE_BID)

    def best_ask_size(self):
        """Return the total size at the best ask, or None if there are no asks."""
        return self._best_size(SIDE_ASK)

    def best_bid_raw(self):
        """Return the best bid price as a raw int, or None if there are no bids."""
        if not self._bids.count:
            return None
        return _top_price(&self._bids, SIDE_BID)

    def best_ask_raw(self):
        """Return the best ask price as a raw int, or None if there are no asks."""
        if not self._asks.count:
            return None
        return _top_price(&self._asks, SIDE_ASK)

    cdef object _best_price(self, int side):
        cdef Ladder* ladder = &self._bids if side == SIDE_BID else &self._asks
        if not ladder.count:
            return None
        return price_from_raw_c(_top_price(ladder, side), self.price_precision)

    cdef object _best_size(self, int side):
        cdef Ladder* ladder = &self._bids if side == SIDE_BID else &self._asks
        if not ladder.count:
            return None
        return quantity_from_raw_c(ladder.levels[ladder.top].size, self.size_precision)

    def spread(self):
        """Return best ask - best bid (negative when crossed), or None if a side is empty."""
        if not self._bids.count or not self._asks.count:
            return None
        spread = <object>_top_price(&self._asks, SIDE_ASK) - _top_price(&self._bids, SIDE_BID)
        if not INT64_MIN <= spread <= INT64_MAX:
            raise OverflowError(f"the spread {spread} leaves the int64 range of a Price")
        return price_from_raw_c(spread, self.price_precision)

    def mid(self):
        """Return the exact mid price as a Decimal, or None if a side is empty."""
        if not self._bids.count or not self._asks.count:
            return None
        total = _top_price(&self._bids, SIDE_BID) + <object>_top_price(&self._asks, SIDE_ASK)
        if total & 1:
            return Decimal(total * 5).scaleb(-self.price_precision - 1, context=_EXACT)
        return Decimal(total >> 1).scaleb(-self.price_precision, context=_EXACT)

    def is_crossed(self):
        """Return whether the best bid is above the best ask."""
        return (
            self._bids.count > 0 and self._asks.count > 0
            and _top_price(&self._bids, SIDE_BID) > _top_price(&self._asks, SIDE_ASK)
        )

    def is_locked(self):
        """Return whether the best bid equals the best ask."""
        return (
            self._bids.count > 0 and self._asks.count > 0
            and _top_price(&self._bids, SIDE_BID) == _top_price(&self._asks, SIDE_ASK)
        )

    # --- Depth

    def bids(self, depth=10):
        """Return up to ``depth`` bid levels as ``(Price, Quantity)``, best first."""
        return self._levels(SIDE_BID, _depth(depth, self._bids.count))

    def asks(self, depth=10):
        """Return up to ``depth`` ask levels as ``(Price, Quantity)``, best first."""
        return self._levels(SIDE_ASK, _depth(depth, self._asks.count))

    cdef list _levels(self, int side, Py_ssize_t depth):
        cdef Ladder* ladder = &self._bids if side == SIDE_BID else &self._asks
        cdef Level* level
        cdef list levels = []
        cdef Py_ssize_t at = ladder.top
        cdef Py_ssize_t _k
        for _k in range(depth):
            level = &ladder.levels[at]
            at = ladder_worse(ladder, at)
            levels.append((
                price_from_raw_c(side_key(side, level.key), self.price_precision),
                quantity_from_raw_c(level.size, self.size_precision),
            ))
        return levels

    def size_at(self, int side, price):
        """Return the total size at ``price`` (a Price, or a raw int) on ``side``; 0 if none."""
        cdef Ladder* ladder = self._ladder(side)
        cdef bint found = False
        cdef Py_ssize_t i
        raw = self._raw_price(price, 0)
        if raw is not None and INT64_MIN <= raw <= INT64_MAX:
            i = ladder_find(ladder, side_key(side, raw), &found)
            if found:
                return quantity_from_raw_c(ladder.levels[i].size, self.size_precision)
        return quantity_from_raw_c(0, self.size_precision)

    def volume_within(self, int side, low, high):
        """Return the total size of the levels on ``side`` with ``low <= price <= high``.

        ``low`` and ``high`` are Prices (of any precision) or raw ints.
        """
        cdef Ladder* ladder = self._ladder(side)
        cdef int64_t total = 0
        cdef int64_t price, low_raw, high_raw
        cdef Py_ssize_t at
        low_python = self._raw_price(low, 1)
        high_python = self._raw_price(high, -1)
        if low_python > INT64_MAX or high_python < INT64_MIN:
            return quantity_from_raw_c(0, self.size_precision)
        low_raw = max(low_python, INT64_MIN)
        high_raw = min(high_python, INT64_MAX)
        at = ladder_worst(ladder)
        while at >= 0:
            price = side_key(side, ladder.levels[at].key)
            if low_raw <= price <= high_raw:
                total = _sum_sizes(total, ladder.levels[at].size)
            at = ladder_better(ladder, at)
        return quantity_from_raw_c(total, self.size_precision)

    def avg_fill_price(self, int side, quantity):
        """Return the average price a taker order of ``quantity`` would get, walking the book.

        ``side`` is the taker's: 1 (BUY) walks the asks, 2 (SELL) the bids. ``quantity`` is
        a Quantity or a raw int at the book's size precision. The result is exact whenever
        it has a finite decimal expansion, otherwise rounded half-even to 34 significant
        digits. None if the book is too thin to fill ``quantity``.
        """
        cdef int book_side = SIDE_ASK if side == SIDE_BID else SIDE_BID
        cdef Ladder* ladder
        cdef Level* level
        cdef Py_ssize_t at
        if side != SIDE_BID and side != SIDE_ASK:
            self._ladder(side)
        ladder = self._ladder(book_side)
        wanted = self._raw_size(quantity)
        if wanted <= 0:
            raise ValueError(f"quantity must be positive, got {quantity!r}")
        remaining = wanted
        notional = 0
        at = ladder.top if ladder.count else -1
        while at >= 0:
            level = &ladder.levels[at]
            at = ladder_worse(ladder, at)
            take = min(remaining, level.size)
            notional += take * side_key(book_side, level.key)
            remaining -= take
            if not remaining:
                return _decimal_ratio(notional, wanted, -self.price_precision)
        return None

    cdef object _raw_price(self, price, int rounding):
        # ``price`` as a raw int at the book's precision. Rounding: 0 exact (None if not
        # representable), 1 up, -1 down.
        if isinstance(price, Price):
            shift = self.price_precision - (<Price>price).precision
            raw = (<Price>price).raw
            if shift >= 0:
                return raw * 10**shift
            whole, rest = divmod(raw, 10**-shift)
            if rest and rounding == 0:
                return None
            return whole + 1 if rest and rounding > 0 else whole
        if isinstance(price, bool) or isinstance(price, Quantity):
            raise TypeError(f"expected a Price or a raw int, got {price!r}")
        return _index(price)

    cdef object _raw_size(self, quantity):
        if isinstance(quantity, Quantity):
            shift = self.size_precision - (<Quantity>quantity).precision
            raw = (<Quantity>quantity).raw
            if shift >= 0:
                return raw * 10**shift
            whole, rest = divmod(raw, 10**-shift)
            if rest:
                raise ValueError(
                    f"quantity {quantity} has more decimals than the book's size precision "
                    f"{self.size_precision}"
                )
            return whole
        if isinstance(quantity, bool) or isinstance(quantity, Price):
            raise TypeError(f"expected a Quantity or a raw int, got {quantity!r}")
        return _index(quantity)

    # --- Integrity

    def check_integrity(self):
        """Raise BookIntegrityError if the book is inconsistent.

        Checks that each side's levels are strictly ordered with positive sizes and, in an
        ``L3Book``, that every level's size is the sum of its orders and that the order
        index agrees with the queues. A crossed book is not an integrity fault (venues
        cross in auctions); ask ``is_crossed()``.
        """
        cdef Ladder* ladder
        cdef int side
        cdef Py_ssize_t at, previous
        for side in (SIDE_BID, SIDE_ASK):
            ladder = self._ladder(side)
            self._check_blocks(side, ladder)
            previous = -1
            at = ladder_worst(ladder)
            while at >= 0:
                if ladder.levels[at].size <= 0:
                    price = format_raw(side_key(side, ladder.levels[at].key), self.price_precision)
                    raise self._inconsistent(
                        f"{_SIDE_NAMES[side]} level at {price} has size {ladder.levels[at].size}"
                    )
                if previous >= 0 and ladder.levels[previous].key >= ladder.levels[at].key:
                    price = format_raw(side_key(side, ladder.levels[at].key), self.price_precision)
                    raise self._inconsistent(f"{_SIDE_NAMES[side]} levels out of order at {price}")
                previous = at
                at = ladder_better(ladder, at)
        self._check_orders()

    cdef int _check_blocks(self, int side, const Ladder* ladder) except -1:
        # The block directory agrees with itself: ranks and blocks a bijection, every block in
        # use holding 1..BLOCK levels that add up to the count, first keys and top current.
        cdef Py_ssize_t rank, block, levels = 0
        cdef str name = _SIDE_NAMES[side]
        if ladder.blocks + ladder.spares != ladder.capacity:
            raise self._inconsistent(
                f"the {name} side has {ladder.blocks} blocks in use and {ladder.spares} spare "
                f"of {ladder.capacity}"
            )
        for rank in range(ladder.blocks):
            block = ladder.order[rank]
            if not 0 <= block < ladder.capacity or ladder.rank[block] != rank:
                raise self._inconsistent(f"the {name} side's block directory is corrupt")
            if not 0 < ladder.fill[block] <= BLOCK:
                raise self._inconsistent(
                    f"a {name} block holds {ladder.fill[block]} levels (1..{BLOCK} expected)"
                )
            if ladder.first[rank] != ladder.levels[block << BLOCK_SHIFT].key:
                raise self._inconsistent(f"the {name} side's block directory is out of date")
            levels += ladder.fill[block]
        if levels != ladder.count:
            raise self._inconsistent(
                f"the {name} side counts {ladder.count} levels, its blocks hold {levels}"
            )
        if ladder.count and ladder.top != ladder_at_depth(ladder, 0):
            raise self._inconsistent(f"the {name} side's best level is out of date")
        return 0

    def _blocks(self, int side):
        """Testing hook: the number of levels in each block of ``side``, worst block first.

        It exists so that the tests can see blocks split, merge and disappear.
        """
        cdef Ladder* ladder = self._ladder(side)
        return [ladder.fill[ladder.order[rank]] for rank in range(ladder.blocks)]

    def _overwrite_level(self, int side, Py_ssize_t depth, int64_t price, int64_t size):
        """Testing hook: overwrite the level ``depth`` from the best, bypassing every rule.

        It exists so that the tests can show ``check_integrity`` catching a corrupt book.
        """
        cdef Ladder* ladder = self._ladder(side)
        cdef Py_ssize_t at
        if not 0 <= depth < ladder.count:
            raise IndexError(f"no level at depth {depth}")
        at = ladder_at_depth(ladder, depth)
        ladder.levels[at].key = side_key(side, price)
        ladder.levels[at].size = size
        if not at & BLOCK_MASK:  # the directory follows, so the check reports the level
            ladder.first[ladder.rank[at >> BLOCK_SHIFT]] = ladder.levels[at].key

    # --- Export

    def to_arrays(self, depth=None):
        """Return the top ``depth`` levels (all if None) of each side as int64 arrays.

        Keys: ``bid_price``, ``bid_size``, ``bid_count``, ``ask_price``, ``ask_size``,
        ``ask_count``, best level first; prices and sizes raw. ``*_count`` is the number of
        orders at each level in an ``L3Book`` and 0 in ``L1Book`` and ``L2Book``.
        """
        arrays = {}
        arrays.update(self._side_arrays(SIDE_BID, "bid", depth))
        arrays.update(self._side_arrays(SIDE_ASK, "ask", depth))
        return arrays

    cdef dict _side_arrays(self, int side, str name, depth):
        cdef Ladder* ladder = self._ladder(side)
        cdef Py_ssize_t n = ladder.count if depth is None else _depth(depth, ladder.count)
        cdef Py_ssize_t i
        cdef Py_ssize_t at = ladder.top
        cdef Level* level
        prices = np.empty(n, dtype=np.int64)
        sizes = np.empty(n, dtype=np.int64)
        counts = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] price_view = prices
        cdef int64_t[::1] size_view = sizes
        cdef int64_t[::1] count_view = counts
        for i in range(n):
            level = &ladder.levels[at]
            price_view[i] = side_key(side, level.key)
            size_view[i] = level.size
            count_view[i] = ladder.queues[at].count if ladder.queues is not NULL else 0
            at = ladder_worse(ladder, at)
        return {f"{name}_price": prices, f"{name}_size": sizes, f"{name}_count": counts}

    def to_pandas(self, depth=None):
        """Return the top ``depth`` levels (all if None) as a pandas DataFrame.

        One row per level, bids then asks, best first on each side. Columns: ``side``
        ("bid" or "ask"), ``level`` (0 = best), ``price`` and ``size`` (floats, for display
        and analysis; ``to_arrays`` has the exact raws), ``count`` (orders at the level in
        an ``L3Book``, else 0).
        """
        import pandas

        arrays = self.to_arrays(depth)
        price_scale = 10.0**self.price_precision
        size_scale = 10.0**self.size_precision
        bids = len(arrays["bid_price"])
        asks = len(arrays["ask_price"])
        return pandas.DataFrame(
            {
                "side": pandas.Categorical(["bid"] * bids + ["ask"] * asks, ["bid", "ask"]),
                "level": np.concatenate([np.arange(bids), np.arange(asks)]).astype(np.int64),
                "price": np.concatenate([arrays["bid_price"], arrays["ask_price"]]) / price_scale,
                "size": np.concatenate([arrays["bid_size"], arrays["ask_size"]]) / size_scale,
                "count": np.concatenate([arrays["bid_count"], arrays["ask_count"]]),
            }
        )


cdef int _precision(value, str name) except -1:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    try:
        value = _index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}") from None
    if not 0 <= value <= 9:
        raise ValueError(f"{name} must be 0..9, got {value}")
    return value


cdef Py_ssize_t _depth(depth, Py_ssize_t available) except -1:
    if isinstance(depth, bool):
        raise TypeError(f"depth must be an int, got {depth!r}")
    depth = _index(depth)
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    return min(depth, available)


cdef int _check_row_layout(cnp.ndarray deltas) except -1:
    global _verified_dtype
    dtype = deltas.dtype
    if dtype is _verified_dtype:
        return 0
    expected = "the DELTA_DTYPE layout of zq.data.arrays"
    if dtype.fields is None or dtype.itemsize != sizeof(DeltaRow):
        raise TypeError(
            f"apply_batch needs rows in {expected} (56-byte records), got dtype {dtype}"
        )
    for name, offset, kind in _ROW_FIELDS:
        field = dtype.fields.get(name)
        if field is None:
            raise TypeError(f"apply_batch needs rows in {expected}: field {name!r} is missing")
        if field[0] != kind or field[1] != offset:
            raise TypeError(
                f"apply_batch needs rows in {expected}: field {name!r} is {field[0]} at "
                f"offset {field[1]}, expected {kind} at offset {offset}"
            )
    _verified_dtype = dtype
    return 0
