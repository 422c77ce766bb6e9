"""The market-by-order book (``L3Book``); import it from ``zq_core.book``.

Every order is kept with its id, side, price and size, in time priority at its price
level; the aggregated levels (the L2 view every query reads) are kept alongside, so the
queries of ``OrderBook`` cost the same as on an ``L2Book``.
"""

cimport cython
from libc.stdint cimport INT32_MAX, int32_t, int64_t, uint64_t
from libc.stdlib cimport free, malloc, realloc

from zq_core.book_base cimport (
    ACTION_ADD,
    ACTION_CLEAR,
    ACTION_DELETE,
    ACTION_FILL,
    ACTION_UPDATE,
    SIDE_ASK,
    SIDE_BID,
    SIDE_NONE,
    DeltaRow,
    Ladder,
    Level,
    OrderBook,
    Queue,
    add_overflow,
    ladder_better,
    ladder_clear,
    ladder_find,
    ladder_insert,
    ladder_remove,
    ladder_reserve,
    ladder_worst,
    raise_integrity_error,
    refuse_action,
    refuse_side,
    refuse_size,
    side_key,
)
from zq_core.fixed cimport price_from_raw_c, quantity_from_raw_c

from zq_core.book_base import format_raw

__all__ = ["MODIFY_RULES", "L3Book"]

#: How a modify (UPDATE) treats the order's queue priority.
#: ``keep_on_decrease``: it keeps its place if its price is unchanged and its size does not
#: increase (CME, most venues); ``always_lose``: every modify sends it to the back.
MODIFY_RULES = ("keep_on_decrease", "always_lose")


cdef extern from *:
    """
    #include <stdint.h>
    /* Fibonacci hashing: multiply by 2**64 / golden ratio, keep the top bits. */
    static inline uint64_t zq_order_hash(uint64_t key, int shift) {
        return (key * 0x9E3779B97F4A7C15ULL) >> shift;
    }
    """
    uint64_t order_hash "zq_order_hash" (uint64_t key, int shift) noexcept nogil


cdef enum:
    # First sizes of the pool (orders) and of the index (slots, a power of two).
    _POOL_FIRST_CAPACITY = 1024
    _INDEX_FIRST_CAPACITY = 2048
    _INDEX_FIRST_SHIFT = 53   # 64 - log2(2048)


# --- The order index: order id -> pool index ----------------------------------------------

cdef inline int32_t _index_get(const OrderIndex* index, uint64_t key) noexcept nogil:
    # Terminates: the load stays <= 1/2, so an empty slot is always reached.
    cdef uint64_t i = order_hash(key, index.shift)
    cdef const Slot* slot
    while True:
        slot = &index.slots[i]
        if slot.value < 0:
            return -1
        if slot.key == key:
            return slot.value
        i = (i + 1) & index.mask


cdef inline void _index_put(OrderIndex* index, uint64_t key, int32_t value) noexcept nogil:
    # ``key`` is absent and there is room (see L3Book._reserve).
    cdef uint64_t i = order_hash(key, index.shift)
    while index.slots[i].value >= 0:
        i = (i + 1) & index.mask
    index.slots[i].key = key
    index.slots[i].value = value
    index.count += 1


cdef inline void _index_delete(OrderIndex* index, uint64_t key) noexcept nogil:
    # Backward-shift deletion: pull later entries of the probe run into the hole unless
    # their home lies cyclically in (hole, entry], so no tombstones are needed.
    cdef uint64_t hole = order_hash(key, index.shift)
    cdef uint64_t j
    cdef uint64_t home
    while index.slots[hole].key != key or index.slots[hole].value < 0:
        if index.slots[hole].value < 0:
            return  # absent; the callers only delete ids they found
        hole = (hole + 1) & index.mask
    j = hole
    while True:
        j = (j + 1) & index.mask
        if index.slots[j].value < 0:
            break
        home = order_hash(index.slots[j].key, index.shift)
        if (home <= hole or home > j) if j > hole else (home <= hole and home > j):
            index.slots[hole] = index.slots[j]
            hole = j
    index.slots[hole].value = -1
    index.count -= 1


cdef int _index_init(OrderIndex* index, Py_ssize_t capacity, int shift) except -1:
    cdef Slot* slots = <Slot*>malloc(capacity * sizeof(Slot))
    cdef Py_ssize_t i
    if slots is NULL:
        raise MemoryError(f"cannot allocate an order index of {capacity} slots")
    for i in range(capacity):
        slots[i].value = -1
    free(index.slots)
    index.slots = slots
    index.capacity = capacity
    index.mask = capacity - 1
    index.shift = shift
    index.count = 0
    return 0


cdef int _index_grow(OrderIndex* index) except -1:
    cdef OrderIndex grown
    cdef Py_ssize_t i
    grown.slots = NULL
    _index_init(&grown, index.capacity * 2, index.shift - 1)
    for i in range(index.capacity):
        if index.slots[i].value >= 0:
            _index_put(&grown, index.slots[i].key, index.slots[i].value)
    free(index.slots)
    index[0] = grown
    return 0


# --- The book -------------------------------------------------------------------------------

@cython.final
cdef class L3Book(OrderBook):
    """A market-by-order book: every order, in time priority at its price level.

    - ADD puts ``order_id`` at the back of its price level (its size must be positive; an
      id already on the book is refused).
    - UPDATE (modify) sets the order's price and size. Under ``"keep_on_decrease"`` it keeps
      its place only if its price is unchanged and its size does not increase, otherwise it
      goes to the back of its (new) level; under ``"always_lose"`` it always goes to the
      back. A size of 0 removes the order.
    - DELETE (cancel) takes ``size`` off the order; a size of 0, or at least the order's
      remaining size, removes it.
    - FILL takes ``size`` off the order, which keeps its place; it is removed at 0.
    - CLEAR removes every order of one side (1 or 2), or of both (side 0).

    The delta's side must be the order's. A delta naming an order that is not on the book
    (or with the wrong side) raises ``BookIntegrityError`` when ``strict``; otherwise it is
    ignored and counted in ``faults``. DELETE and FILL use the order's own price, not the
    delta's.

    Parameters
    ----------
    instrument_id : str
        The instrument, named in errors.
    price_precision, size_precision : int
        Decimal places (0..9) of the raw prices and sizes.
    modify_rule : str
        ``"keep_on_decrease"`` (default) or ``"always_lose"``; see ``MODIFY_RULES``.
    strict : bool
        Refuse (default) or count and ignore deltas naming unknown orders.
    """

    def __cinit__(self, *args, **kwargs):
        self._free = -1
        self._orders = <Order*>malloc(_POOL_FIRST_CAPACITY * sizeof(Order))
        if self._orders is NULL:
            raise MemoryError("cannot allocate the order pool")
        self._pool_capacity = _POOL_FIRST_CAPACITY
        _index_init(&self._index, _INDEX_FIRST_CAPACITY, _INDEX_FIRST_SHIFT)
        self._bids.queued = True
        self._asks.queued = True

    def __init__(
        self, instrument_id, price_precision, size_precision, modify_rule="keep_on_decrease",
        strict=True,
    ):
        OrderBook.__init__(self, instrument_id, price_precision, size_precision)
        if modify_rule not in MODIFY_RULES:
            raise ValueError(
                f"modify_rule must be one of {', '.join(MODIFY_RULES)}, got {modify_rule!r}"
            )
        self.modify_rule = modify_rule
        self._keep_on_decrease = modify_rule == "keep_on_decrease"
        self.strict = bool(strict)

    def __dealloc__(self):
        free(self._orders)
        free(self._index.slots)

    # --- Applying deltas

    cpdef apply_delta(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id=0,
        uint64_t sequence=0, int64_t ts_event=0,
    ):
        """Apply one delta given as raw ints (the fastest call from Python).

        Raises
        ------
        BookIntegrityError
            If the delta cannot apply; the book is left unchanged.
        """
        self._apply(action, side, price, size, order_id, sequence, ts_event)

    cdef int _apply(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id,
        uint64_t sequence, int64_t ts_event,
    ) except -1:
        cdef int applied
        if side != SIDE_BID and side != SIDE_ASK and not (
            action == ACTION_CLEAR and side == SIDE_NONE
        ):
            return refuse_side(self, action, side, price, order_id, sequence)
        if size < 0:
            return refuse_size(self, action, side, price, size, order_id, sequence)
        if action == ACTION_ADD:
            applied = self._add(side, price, size, order_id, sequence)
        elif action == ACTION_DELETE or action == ACTION_FILL:
            applied = self._reduce(action, side, price, size, order_id, sequence)
        elif action == ACTION_UPDATE:
            applied = self._modify(side, price, size, order_id, sequence)
        elif action == ACTION_CLEAR:
            applied = self._clear_side(side) + 1
        else:
            return refuse_action(self, action, side, price, order_id, sequence)
        if applied:
            self.sequence = sequence
            self.ts_last = ts_event
            self.update_count += 1
        return applied

    cdef Py_ssize_t _apply_rows(
        self, const char* rows, Py_ssize_t count, Py_ssize_t stride, Py_ssize_t* done
    ) except -1:
        # The base loop, repeated so that the final class's _apply is inlined into it.
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

    cdef int _add(
        self, int side, int64_t price, int64_t size, uint64_t order_id, uint64_t sequence
    ) except -1:
        cdef Ladder* ladder = &self._bids if side == SIDE_BID else &self._asks
        cdef int64_t key = side_key(side, price)
        cdef bint found = False
        cdef Py_ssize_t at
        cdef int32_t index
        cdef Order* order
        cdef int64_t total
        if size == 0:
            return raise_integrity_error(
                self, ACTION_ADD, side, price, order_id, sequence,
                "an added order needs a positive size",
            )
        if self._find(order_id) >= 0:
            return raise_integrity_error(
                self, ACTION_ADD, side, price, order_id, sequence, "order id already on the book"
            )
        at = ladder_find(ladder, key, &found)
        if found and add_overflow(ladder.levels[at].size, size, &total):
            return _refuse_overflow(self, ACTION_ADD, side, price, order_id, sequence)
        self._reserve()
        if not found:
            at = ladder_insert(ladder, at, key, 0)
        index = self._take_slot()
        order = &self._orders[index]
        order.id = order_id
        order.price = price
        order.size = size
        order.side = side
        self._append(&ladder.levels[at], &ladder.queues[at], index)
        _index_put(&self._index, order_id, index)
        return 1

    cdef int _modify(
        self, int side, int64_t price, int64_t size, uint64_t order_id, uint64_t sequence
    ) except -1:
        cdef int32_t index = self._find(order_id)
        cdef Order* order
        cdef Ladder* ladder
        cdef Level* level
        cdef Queue* queue
        cdef Py_ssize_t at, to
        cdef bint found = False
        cdef int64_t key, total
        if index < 0:
            return self._fault(ACTION_UPDATE, side, price, order_id, sequence, "unknown order id")
        order = &self._orders[index]
        if order.side != side:
            return self._fault(
                ACTION_UPDATE, side, price, order_id, sequence,
                f"the order is on the {'bid' if order.side == SIDE_BID else 'ask'} side",
            )
        if size == 0:
            return self._remove(index) + 1
        ladder = &self._bids if side == SIDE_BID else &self._asks
        at = self._locate(order, ladder)
        level = &ladder.levels[at]
        queue = &ladder.queues[at]
        if price == order.price:
            if size <= order.size and self._keep_on_decrease:
                level.size -= order.size - size
                order.size = size
                return 1
            if add_overflow(level.size - order.size, size, &total):
                return _refuse_overflow(self, ACTION_UPDATE, side, price, order_id, sequence)
            self._unlink(level, queue, index)
            order.size = size
            self._append(level, queue, index)
            return 1
        key = side_key(side, price)
        to = ladder_find(ladder, key, &found)
        if found and add_overflow(ladder.levels[to].size, size, &total):
            return _refuse_overflow(self, ACTION_UPDATE, side, price, order_id, sequence)
        if not found:
            ladder_reserve(ladder)  # now, so nothing can fail once the order has moved
            level = &ladder.levels[at]
            queue = &ladder.queues[at]
        self._unlink(level, queue, index)
        if not queue.count:
            # Removing a level may move others (and merge blocks): find the new price again.
            ladder_remove(ladder, at)
            to = ladder_find(ladder, key, &found)
        if not found:
            to = ladder_insert(ladder, to, key, 0)
        order.price = price
        order.size = size
        self._append(&ladder.levels[to], &ladder.queues[to], index)
        return 1

    cdef int _reduce(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id,
        uint64_t sequence,
    ) except -1:
        cdef int32_t index = self._find(order_id)
        cdef Order* order
        cdef Ladder* ladder
        if index < 0:
            return self._fault(action, side, price, order_id, sequence, "unknown order id")
        order = &self._orders[index]
        if order.side != side:
            return self._fault(
                action, side, price, order_id, sequence,
                f"the order is on the {'bid' if order.side == SIDE_BID else 'ask'} side",
            )
        if size >= order.size or (size == 0 and action == ACTION_DELETE):
            return self._remove(index) + 1
        ladder = &self._bids if side == SIDE_BID else &self._asks
        ladder.levels[self._locate(order, ladder)].size -= size
        order.size -= size
        return 1

    cdef int _fault(
        self, int action, int side, int64_t price, uint64_t order_id, uint64_t sequence,
        str problem,
    ) except -1:
        if self.strict:
            return raise_integrity_error(self, action, side, price, order_id, sequence, problem)
        self.faults += 1
        return 0

    cdef int _clear_side(self, int side) except -1:
        cdef Ladder* ladder
        cdef int32_t index, following
        cdef Py_ssize_t i, at
        if side == SIDE_NONE:
            ladder_clear(&self._bids)
            ladder_clear(&self._asks)
            for i in range(self._index.capacity):
                self._index.slots[i].value = -1
            self._index.count = 0
            self._pool_top = 0
            self._free = -1
            return 0
        ladder = &self._bids if side == SIDE_BID else &self._asks
        at = ladder_worst(ladder)
        while at >= 0:
            index = ladder.queues[at].head
            while index >= 0:
                following = self._orders[index].next
                _index_delete(&self._index, self._orders[index].id)
                self._orders[index].side = 0
                self._orders[index].next = self._free
                self._free = index
                index = following
            at = ladder_better(ladder, at)
        ladder_clear(ladder)
        return 0

    # --- Pool, index and queues

    cdef int32_t _find(self, uint64_t order_id) noexcept:
        return _index_get(&self._index, order_id)

    cdef int _reserve(self) except -1:
        # Room for one more order in the pool and the index, made before any change.
        cdef Order* orders
        cdef Py_ssize_t capacity
        if self._free < 0 and self._pool_top == self._pool_capacity:
            if self._pool_capacity > INT32_MAX // 2:
                raise MemoryError(f"an L3Book holds at most {INT32_MAX // 2} orders")
            capacity = self._pool_capacity * 2
            orders = <Order*>realloc(self._orders, capacity * sizeof(Order))
            if orders is NULL:
                raise MemoryError(f"cannot grow the order pool to {capacity} orders")
            self._orders = orders
            self._pool_capacity = capacity
        if 2 * (self._index.count + 1) >= self._index.capacity:
            _index_grow(&self._index)
        return 0

    cdef int32_t _take_slot(self) noexcept:
        # A free slot exists (see _reserve).
        cdef int32_t index = self._free
        if index >= 0:
            self._free = self._orders[index].next
        else:
            index = self._pool_top
            self._pool_top += 1
        return index

    cdef Py_ssize_t _locate(self, const Order* order, Ladder* ladder) except -1:
        # The index of the order's level in its ladder.
        cdef bint found = False
        cdef Py_ssize_t at = ladder_find(ladder, side_key(order.side, order.price), &found)
        if not found:
            raise self._inconsistent(
                f"order {order.id} at {format_raw(order.price, self.price_precision)} has no "
                f"price level"
            )
        return at

    cdef void _append(self, Level* level, Queue* queue, int32_t index) noexcept:
        cdef Order* order = &self._orders[index]
        order.prev = queue.tail
        order.next = -1
        if queue.tail >= 0:
            self._orders[queue.tail].next = index
        else:
            queue.head = index
        queue.tail = index
        queue.count += 1
        level.size += order.size

    cdef void _unlink(self, Level* level, Queue* queue, int32_t index) noexcept:
        cdef Order* order = &self._orders[index]
        if order.prev >= 0:
            self._orders[order.prev].next = order.next
        else:
            queue.head = order.next
        if order.next >= 0:
            self._orders[order.next].prev = order.prev
        else:
            queue.tail = order.prev
        queue.count -= 1
        level.size -= order.size

    cdef int _remove(self, int32_t index) except -1:
        # Take an order off the book (and its level, if it was the last there).
        cdef Order* order = &self._orders[index]
        cdef Ladder* ladder = &self._bids if order.side == SIDE_BID else &self._asks
        cdef Py_ssize_t at = self._locate(order, ladder)
        self._unlink(&ladder.levels[at], &ladder.queues[at], index)
        if not ladder.queues[at].count:
            ladder_remove(ladder, at)
        _index_delete(&self._index, order.id)
        order.side = 0
        order.next = self._free
        self._free = index
        return 0

    # --- Queries of orders

    @property
    def order_count(self):
        """The number of orders on the book."""
        return self._index.count

    def order(self, uint64_t order_id):
        """Return ``(side, price, size)`` of the order ``order_id``, or None if not on the book."""
        cdef int32_t index = self._find(order_id)
        cdef Order* order
        if index < 0:
            return None
        order = &self._orders[index]
        return (
            order.side,
            price_from_raw_c(order.price, self.price_precision),
            quantity_from_raw_c(order.size, self.size_precision),
        )

    def queue(self, int side, price):
        """Return the orders at ``price`` (a Price or raw int) on ``side`` as ``(order_id, size)``.

        Time priority: the first order is the next to fill. Empty if there is no level.
        """
        cdef Ladder* ladder = self._ladder(side)
        cdef bint found = False
        cdef Py_ssize_t at
        cdef int32_t index
        cdef list queue = []
        raw = self._raw_price(price, 0)
        if raw is None or not -2**63 <= raw < 2**63:
            return queue
        at = ladder_find(ladder, side_key(side, raw), &found)
        if found:
            index = ladder.queues[at].head
            while index >= 0:
                queue.append((
                    self._orders[index].id,
                    quantity_from_raw_c(self._orders[index].size, self.size_precision),
                ))
                index = self._orders[index].next
        return queue

    def queue_position(self, uint64_t order_id):
        """Return ``(orders ahead, size ahead)`` of the order ``order_id`` at its price level.

        Raises
        ------
        KeyError
            If the order is not on the book.
        """
        cdef int32_t index = self._find(order_id)
        cdef Order* order
        cdef Ladder* ladder
        cdef int32_t ahead
        cdef Py_ssize_t count = 0
        cdef int64_t size = 0
        if index < 0:
            raise KeyError(f"order {order_id} is not on the {self.instrument_id} book")
        order = &self._orders[index]
        ladder = &self._bids if order.side == SIDE_BID else &self._asks
        ahead = ladder.queues[self._locate(order, ladder)].head
        while ahead != index:
            count += 1
            size += self._orders[ahead].size  # cannot overflow: a part of the level's size
            ahead = self._orders[ahead].next
        return count, quantity_from_raw_c(size, self.size_precision)

    def _overwrite_order(self, uint64_t order_id, int64_t price, int64_t size):
        """Testing hook: overwrite an order's price and size, bypassing every rule.

        It exists so that the tests can show ``check_integrity`` catching a corrupt book.
        """
        cdef int32_t index = self._find(order_id)
        if index < 0:
            raise KeyError(order_id)
        self._orders[index].price = price
        self._orders[index].size = size

    # --- Integrity

    cdef object _level_fault(self, int side, const Level* level, str problem):
        return self._inconsistent(
            f"the {'bid' if side == SIDE_BID else 'ask'} level at "
            f"{format_raw(side_key(side, level.key), self.price_precision)} {problem}"
        )

    cdef int _check_orders(self) except -1:
        cdef Ladder* ladder
        cdef int side
        cdef Py_ssize_t at, orders_seen = 0, free_slots = 0
        cdef int32_t index
        for side in (SIDE_BID, SIDE_ASK):
            ladder = self._ladder(side)
            at = ladder_worst(ladder)
            while at >= 0:
                orders_seen += self._check_queue(side, &ladder.levels[at], &ladder.queues[at])
                at = ladder_better(ladder, at)
        if orders_seen != self._index.count:
            raise self._inconsistent(
                f"the order index holds {self._index.count} orders, the levels {orders_seen}"
            )
        index = self._free
        while index >= 0:
            free_slots += 1
            if free_slots > self._pool_top or self._orders[index].side:
                raise self._inconsistent("the free list of the order pool is corrupt")
            index = self._orders[index].next
        if orders_seen + free_slots != self._pool_top:
            raise self._inconsistent(
                f"the order pool has {self._pool_top} used slots, {orders_seen} orders and "
                f"{free_slots} free"
            )
        return 0

    cdef Py_ssize_t _check_queue(
        self, int side, const Level* level, const Queue* queue
    ) except -1:
        # Walk one level's queue; return its number of orders.
        cdef const Order* order
        cdef int32_t index = queue.head
        cdef int32_t previous = -1
        cdef Py_ssize_t count = 0
        cdef int64_t total = 0
        if queue.count <= 0:
            raise self._level_fault(side, level, "has no orders")
        while index >= 0:
            if index >= self._pool_top:
                raise self._level_fault(side, level, "links to a slot outside the pool")
            order = &self._orders[index]
            if order.side != side or side_key(side, order.price) != level.key:
                raise self._level_fault(
                    side, level,
                    f"holds order {order.id} of side {order.side} at "
                    f"{format_raw(order.price, self.price_precision)}",
                )
            if order.size <= 0:
                raise self._inconsistent(f"order {order.id} has size {order.size}")
            if order.prev != previous:
                raise self._level_fault(side, level, f"has a broken link at order {order.id}")
            if self._find(order.id) != index:
                raise self._inconsistent(f"the order index does not point to order {order.id}")
            if add_overflow(total, order.size, &total):
                raise self._level_fault(side, level, "holds orders whose sizes overflow int64")
            count += 1
            if count > queue.count:
                raise self._level_fault(side, level, "links more orders than it counts")
            previous = index
            index = order.next
        if queue.tail != previous or count != queue.count:
            raise self._level_fault(side, level, f"counts {queue.count} orders but links {count}")
        if total != level.size:
            raise self._level_fault(
                side, level, f"has size {level.size} but its orders sum to {total}"
            )
        return count


cdef int _refuse_overflow(
    L3Book book, int action, int side, int64_t price, uint64_t order_id, uint64_t sequence
) except -1:
    return raise_integrity_error(
        book, action, side, price, order_id, sequence,
        "the level's total size would exceed the int64 range",
    )
