"""Compiled order books: ``L1Book`` (top of book), ``L2Book`` (price levels), ``L3Book``.

Every book holds raw fixed-point prices and sizes (int64 at the instrument's precisions)
and applies deltas three ways: ``apply_delta`` with raw ints (the fastest call from
Python), ``apply`` with an ``OrderBookDelta``, and ``apply_batch`` with a ``DELTA_DTYPE``
array (no Python object per row). The queries they share are documented on
``OrderBook`` (``zq_core.book_base``); the market-by-order ``L3Book`` lives in
``zq_core.book_l3`` and is re-exported here.

Actions and sides are the integer values of ``BookAction`` (ADD 1, UPDATE 2, DELETE 3,
CLEAR 4, FILL 5) and ``OrderSide`` (1 BUY = the bids, 2 SELL = the asks).
"""

cimport cython
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
    DeltaRow,
    Ladder,
    ladder_clear,
    ladder_insert,
    refuse_action,
    refuse_side,
    refuse_size,
    side_key,
)

from zq_core import book_base as _book_base
from zq_core.book_base import DELTA_ROW_DTYPE, BookIntegrityError
from zq_core.book_l3 import L3Book

# Re-exported for Python; the name is taken by the cimported type (book.pxd), so it is
# set in the module's namespace directly.
globals()["OrderBook"] = _book_base.OrderBook
del _book_base

__all__ = ["DELTA_ROW_DTYPE", "BookIntegrityError", "L1Book", "L2Book", "L3Book", "OrderBook"]


@cython.final
cdef class L2Book(OrderBook):
    """An aggregated (market-by-price) order book.

    Deltas set price levels: ADD and UPDATE set the level's total size (a size of 0
    removes the level), DELETE removes the level, FILL reduces it by ``size`` (removing it
    at 0), CLEAR empties one side (1 or 2) or both (side 0). A DELETE or FILL of a price
    without a level changes nothing. Sizes are never negative, and the side must be 1 or
    2 except for CLEAR; otherwise ``BookIntegrityError``.

    Parameters
    ----------
    instrument_id : str
        The instrument, named in errors.
    price_precision, size_precision : int
        Decimal places (0..9) of the raw prices and sizes.
    """

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
        apply_l2(self, action, side, price, size, order_id, sequence, ts_event)

    cdef int _apply(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id,
        uint64_t sequence, int64_t ts_event,
    ) except -1:
        return apply_l2(self, action, side, price, size, order_id, sequence, ts_event)

    cdef Py_ssize_t _apply_rows(
        self, const char* rows, Py_ssize_t count, Py_ssize_t stride, Py_ssize_t* done
    ) except -1:
        # The base loop, with the L2 rules inlined into it.
        cdef const DeltaRow* row
        cdef Py_ssize_t i
        for i in range(count):
            done[0] = i
            row = <const DeltaRow*>(rows + i * stride)
            apply_l2(
                self, row.action, row.side, row.price, row.size, row.order_id, row.sequence,
                row.ts_event,
            )
        done[0] = count
        return count


@cython.final
cdef class L1Book(OrderBook):
    """A top-of-book (best bid and ask) book.

    ``apply_quote`` replaces both sides' best level. ``apply_delta`` applies L2 semantics
    to the top only: an ADD or UPDATE at a better price than the best makes a new best,
    one at the best price sets its size (0 empties the side), a DELETE of the best price
    empties the side, a FILL at the best reduces it; a delta deeper than the best changes
    nothing, since the levels below the top are not kept.

    Parameters
    ----------
    instrument_id : str
        The instrument, named in errors.
    price_precision, size_precision : int
        Decimal places (0..9) of the raw prices and sizes.
    """

    cpdef apply_delta(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id=0,
        uint64_t sequence=0, int64_t ts_event=0,
    ):
        """Apply one delta given as raw ints to the top of book.

        Raises
        ------
        BookIntegrityError
            If the delta cannot apply; the book is left unchanged.
        """
        self._apply(action, side, price, size, order_id, sequence, ts_event)

    cpdef apply_quote(
        self, int64_t bid, int64_t bid_size, int64_t ask, int64_t ask_size, int64_t ts_event=0
    ):
        """Set the best bid and ask (raw ints); a size of 0 empties that side.

        Counts as one update; ``sequence`` is left as it was.
        """
        if bid_size < 0 or ask_size < 0:
            raise ValueError(f"quote sizes must be >= 0, got bid {bid_size} and ask {ask_size}")
        _set_top(&self._bids, side_key(SIDE_BID, bid), bid_size)
        _set_top(&self._asks, side_key(SIDE_ASK, ask), ask_size)
        self.ts_last = ts_event
        self.update_count += 1

    cdef int _apply(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id,
        uint64_t sequence, int64_t ts_event,
    ) except -1:
        cdef Ladder* ladder
        cdef int64_t key = side_key(side, price)
        cdef bint at_top
        if side == SIDE_BID:
            ladder = &self._bids
        elif side == SIDE_ASK:
            ladder = &self._asks
        elif action == ACTION_CLEAR and side == SIDE_NONE:
            ladder = NULL
        else:
            return refuse_side(self, action, side, price, order_id, sequence)
        if size < 0:
            return refuse_size(self, action, side, price, size, order_id, sequence)
        # An L1 side holds at most one level: ladder.top is its position.
        at_top = ladder is not NULL and ladder.count and ladder.levels[ladder.top].key == key
        if action == ACTION_ADD or action == ACTION_UPDATE:
            if at_top or (size and (not ladder.count or key > ladder.levels[ladder.top].key)):
                _set_top(ladder, key, size)
        elif action == ACTION_DELETE:
            if at_top:
                ladder_clear(ladder)
        elif action == ACTION_FILL:
            if at_top:
                _set_top(ladder, key, max(ladder.levels[ladder.top].size - size, 0))
        elif action == ACTION_CLEAR:
            self._clear_side(side)
        else:
            return refuse_action(self, action, side, price, order_id, sequence)
        self.sequence = sequence
        self.ts_last = ts_event
        self.update_count += 1
        return 1


cdef inline int _set_top(Ladder* ladder, int64_t key, int64_t size) except -1:
    # The one level of an L1 side; a size of 0 empties the side. (Inline: twice per quote,
    # and per trade on a book built from trades.)
    if not size:
        ladder_clear(ladder)
    elif ladder.count:
        ladder.levels[ladder.top].key = key
        ladder.levels[ladder.top].size = size
        ladder.first[0] = key
    else:
        ladder_insert(ladder, 0, key, size)  # into an empty ladder: any insertion point
    return 0
