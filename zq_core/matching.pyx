"""The matching core of the simulated exchange: one instrument's market view and orders.

Prices and sizes are raw int64 at the instrument's precision. Each operation appends
*reports* (C structs, which zq_core.exchange reads in place); ``drain()`` returns them as
tuples and clears them. A report is ``(kind, order_id, ts, quantity, price, maker, reason)``
with ``kind`` one of ``REPORT_*``:

- ACCEPTED, REJECTED (reason), CANCELED (reason), EXPIRED, TRIGGERED;
- FILLED: ``quantity`` and ``price`` of the fill, ``maker`` True for a maker fill;
- UPDATED: ``quantity``, ``price`` (limit, or -1) after a modify;
- MODIFY_REJECTED, CANCEL_REJECTED (reason).

Rules (docs/concepts/simulated-exchange.md tells them in full):

- Liquidity consumption: our taker fills take from the displayed size of the level they hit;
  what they took stays taken until the next market update *of that level* (a delta at that
  side and price, any quote for an L1 book), which replaces the displayed size.
- Queue: on L1/L2 a resting order has ``ahead`` = the displayed size at its price when it
  joined. Trades at its price reduce ``ahead`` first and fill it past that. The conservative
  model otherwise only caps ``ahead`` at the displayed size; the probabilistic model also
  takes a decrease not explained by trades (a cancel) as ahead of us with probability
  ahead / displayed (seeded RNG). On L3 the orders ahead are the ones queued when we joined:
  ``ahead`` is their remaining size, and a FILL of an order behind us fills us first.
- A resting limit also fills (maker, at its price) when the opposite best reaches its price.
- Trades only (an L1 book built from trades; also bars): a market order fills at the last
  trade price for up to that trade's size and the rest one tick worse.
"""

import random

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.stdint cimport INT64_MAX, int32_t, int64_t, uint64_t

from zq_core.book_base cimport (
    ACTION_ADD, ACTION_DELETE, ACTION_FILL, ACTION_UPDATE, ladder_find, ladder_worse, side_key,
)
from zq_core.book cimport L1Book
from zq_core.book_l3 cimport L3Book

from zq_core.book_l3 import L3Book as _L3Book

from zq_core.book import L1Book as _L1Book

__all__ = [
    "QUEUE_CONSERVATIVE",
    "QUEUE_PROBABILISTIC",
    "REPORT_ACCEPTED",
    "REPORT_CANCELED",
    "REPORT_CANCEL_REJECTED",
    "REPORT_EXPIRED",
    "REPORT_FILLED",
    "REPORT_MODIFY_REJECTED",
    "REPORT_REJECTED",
    "REPORT_TRIGGERED",
    "REPORT_UPDATED",
    "MatchingCore",
    "SimOrder",
]

QUEUE_CONSERVATIVE = 1
QUEUE_PROBABILISTIC = 2

REPORT_ACCEPTED = K_ACCEPTED
REPORT_REJECTED = K_REJECTED
REPORT_FILLED = K_FILLED
REPORT_CANCELED = K_CANCELED
REPORT_EXPIRED = K_EXPIRED
REPORT_TRIGGERED = K_TRIGGERED
REPORT_UPDATED = K_UPDATED
REPORT_MODIFY_REJECTED = K_MODIFY_REJECTED
REPORT_CANCEL_REJECTED = K_CANCEL_REJECTED

# zq.model.enums values, read per event.
cdef enum:
    BUY = 1
    SELL = 2
    MARKET = 1
    LIMIT = 2
    STOP_MARKET = 3
    STOP_LIMIT = 4
    MARKET_IF_TOUCHED = 5
    LIMIT_IF_TOUCHED = 6
    GTC = 1
    IOC = 2
    FOK = 3
    GTD = 4
    DAY = 5
    TRIGGER_LAST = 1
    TRIGGER_MID = 3
    BOOK_L1 = 1
    BOOK_L2 = 2
    BOOK_L3 = 3
    Q_CONSERVATIVE = 1
    Q_PROBABILISTIC = 2

cdef int64_t NS_PER_DAY = 86_400_000_000_000
cdef tuple SWEEPS = ("ohlc", "olhc", "nearest")


cdef inline int opposite(int side) noexcept:
    return SELL if side == BUY else BUY


cdef inline object level_key(int book_side, int64_t price):
    return price * 4 + book_side


@cython.no_gc  # ints and a tuple of ints (L3 ids): no cycles possible
cdef class SimOrder:
    """A simulated order inside a MatchingCore (read-only from Python)."""

    def __init__(self):
        raise TypeError("SimOrder is internal: MatchingCore.submit creates it")

    @property
    def leaves(self):
        """The raw quantity still open."""
        return self.quantity - self.filled

    def __repr__(self):
        return (
            f"SimOrder(id={self.order_id}, side={self.side}, type={self.order_type}, "
            f"qty={self.quantity}, filled={self.filled}, price={self.price}, "
            f"ahead={self.ahead}, open={self.is_open})"
        )


cdef inline int _expire_due(MatchingCore core, int64_t ts) except -1:
    # MatchingCore._expire's early exit, inlined for the per-row entry points (deltas and
    # trades): most rows expire nothing.
    if ts > core.ts_now:
        core.ts_now = ts
    if ts < core._next_expiry:
        return 0
    return core._expire(ts)


# _ladder_best and _may_act: inline in matching.pxd (the per-delta entry compiles them in).


cdef class MatchingCore:
    """The matching core of one instrument.

    Parameters
    ----------
    instrument_id : str
        The instrument (a str; an InstrumentId is one).
    book_type : int
        1 (L1: quotes, or trades and bars only), 2 (L2 deltas) or 3 (L3 deltas).
    price_precision, size_precision : int
        The instrument's precisions; every raw value is at them.
    tick : int
        The price increment, raw.
    queue_model : int
        QUEUE_CONSERVATIVE (1) or QUEUE_PROBABILISTIC (2); L3 books are always exact.
    seed : int
        The seed of the probabilistic queue model's RNG.
    bar_sweep : str
        "ohlc", "olhc" or "nearest" (the extreme nearer the open first; high on a tie).
    """

    def __init__(
        self, instrument_id, int book_type, int price_precision, int size_precision,
        int64_t tick, int queue_model=Q_CONSERVATIVE, seed=0, str bar_sweep="ohlc",
    ):
        if book_type == BOOK_L1:
            self.book = _L1Book(instrument_id, price_precision, size_precision)
        elif book_type == BOOK_L2:
            self.book = L2Book(instrument_id, price_precision, size_precision)
        elif book_type == BOOK_L3:
            self.book = _L3Book(instrument_id, price_precision, size_precision)
        else:
            raise ValueError(f"book_type must be 1 (L1), 2 (L2) or 3 (L3), got {book_type}")
        if tick <= 0:
            raise ValueError(f"tick must be positive, got {tick}")
        if queue_model not in (Q_CONSERVATIVE, Q_PROBABILISTIC):
            raise ValueError(f"queue_model must be 1 or 2, got {queue_model}")
        if bar_sweep not in SWEEPS:
            raise ValueError(f"bar_sweep must be one of {SWEEPS}, got {bar_sweep!r}")
        self.book_type = book_type
        self.price_precision = price_precision
        self.size_precision = size_precision
        self.tick = tick
        self.queue_model = queue_model
        self.bar_sweep = bar_sweep
        self.reduce_only_limit = None
        self._from_trades = book_type == BOOK_L1
        self._rng = random.Random(seed)
        self._next_expiry = INT64_MAX
        self._consumed = {}
        self._orders = []
        self._by_id = {}
        self._bounds_stale = True
        self._reports = 0
        self._reasons = []

    def __dealloc__(self):
        PyMem_Free(self._report_buf)

    # --- Python API --------------------------------------------------------------------------

    def drain(self):
        """Return the reports appended since the last call, and forget them.

        Each is a tuple ``(kind, order_id, ts, quantity, price, maker, reason)``.
        """
        cdef Py_ssize_t i
        cdef Report* report
        cdef list reasons = self._reasons
        cdef list reports = []
        for i in range(self._reports):
            report = &self._report_buf[i]
            reports.append((
                report.kind, report.order_id, report.ts, report.quantity, report.price,
                report.maker, None if report.reason < 0 else reasons[report.reason],
            ))
        self._reports = 0
        if reasons:
            self._reasons = []
        return reports

    def order(self, uint64_t order_id):
        """Return the SimOrder with ``order_id`` (open or closed), or None."""
        return self._by_id.get(order_id)

    def open_orders(self):
        """Return the open orders in time priority."""
        return list(self._orders)

    def available(self, int book_side, int64_t price):
        """Return the displayed size at a level less what our fills took from it."""
        return self._available(book_side, price)

    @property
    def last_trade(self):
        """The last trade price (raw), or None."""
        return self._last_trade if self._has_last else None

    def advance_time(self, int64_t ts):
        """Expire GTD and DAY orders whose time has come by ``ts``."""
        self._expire(ts)

    def apply_quote(
        self, int64_t bid, int64_t bid_size, int64_t ask, int64_t ask_size, int64_t ts
    ):
        """Replace the top of an L1 book with a quote, then match."""
        self.apply_quote_c(bid, bid_size, ask, ask_size, ts)

    cdef int apply_quote_c(
        self, int64_t bid, int64_t bid_size, int64_t ask, int64_t ask_size, int64_t ts
    ) except -1:
        cdef SimOrder order
        if self.book_type != BOOK_L1:
            raise ValueError("quotes feed an L1 matching core only")
        self._expire(ts)
        self._from_trades = False
        (<L1Book>self.book).apply_quote(bid, bid_size, ask, ask_size, ts)
        if self._consumed:
            self._consumed.clear()
        if not self._orders:
            return 0
        for order in self._orders:
            if order.triggered and order.has_price:
                self._refresh_queue(order, 0, 0, ts, -1)
        self._market_touched(ts)
        return 0

    def apply_delta(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id=0,
        int64_t ts=0, uint64_t sequence=0,
    ):
        """Apply one book delta (L2 or L3 core) at ``ts``, then match.

        The book records ``sequence`` and ``ts`` as its last sequence and event time.
        """
        self.apply_delta_c(action, side, price, size, order_id, ts, sequence, ts)

    cdef int apply_delta_c(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id, int64_t ts,
        uint64_t sequence, int64_t ts_event,
    ) except -1:
        # No Python object is held here (the walks are in _refresh_level and _match_resting):
        # a delta that concerns no order costs no reference counting.
        if self.book_type == BOOK_L1:
            raise ValueError("deltas feed an L2 or L3 matching core; quote an L1 core")
        _expire_due(self, ts)
        if self.book_type == BOOK_L2:  # an L2Book (final): its rules inlined
            apply_l2(<L2Book>self.book, action, side, price, size, order_id, sequence, ts_event)
        else:
            self.book._apply(action, side, price, size, order_id, sequence, ts_event)
        if action == ACTION_CLEAR:
            self._consumed.clear()
        elif self._consumed:
            self._consumed.pop(level_key(side, price), None)
        return orders_after_delta(self, action, side, price, size, order_id, ts)

    cdef int _refresh_level(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id, int64_t ts,
    ) except -1:
        # The queue refresh of the orders at a delta's level (all of them on a CLEAR).
        cdef SimOrder order
        cdef Py_ssize_t i
        # The level's size once an L2 delta is in the book, when the delta says it (it
        # sets the level's size, or deletes it): no look-up of the level per order.
        cdef int64_t level = -1
        if self.book_type == BOOK_L2:
            if action == ACTION_ADD or action == ACTION_UPDATE:
                level = size
            elif action == ACTION_DELETE:
                level = 0
        # On L3 a queue refresh can fill (and close) an order: walk a copy there. The list is
        # typed and holds SimOrders only: indexing it with a cast skips the generic iteration
        # and the type test of each item.
        cdef list orders = list(self._orders) if self.book_type == BOOK_L3 else self._orders
        for i in range(len(orders)):
            order = <SimOrder>orders[i]
            if (
                order.is_open and order.triggered and order.has_price
                and (action == ACTION_CLEAR or (order.side == side and order.price == price))
            ):
                self._refresh_queue(
                    order, order_id if action == ACTION_FILL else 0, size, ts, level
                )
        return 0

    def apply_deltas(self, deltas):
        """Apply a DELTA_DTYPE array row by row (each row matches, at its ``ts_init``).

        Return the number of rows applied.
        """
        cdef Py_ssize_t i
        cdef Py_ssize_t n = len(deltas)
        cdef list actions = deltas["action"].tolist()
        cdef list sides = deltas["side"].tolist()
        cdef list prices = deltas["price"].tolist()
        cdef list sizes = deltas["size"].tolist()
        cdef list ids = deltas["order_id"].tolist()
        cdef list stamps = deltas["ts_init"].tolist()
        for i in range(n):
            self.apply_delta(actions[i], sides[i], prices[i], sizes[i], ids[i], stamps[i])
        return n

    def apply_trade(self, int64_t price, int64_t size, int aggressor=0, int64_t ts=0):
        """Record a trade (aggressor 1 buyer, 2 seller, 0 unknown), then match."""
        self.apply_trade_c(price, size, aggressor, ts)

    cdef int apply_trade_c(self, int64_t price, int64_t size, int aggressor, int64_t ts) except -1:
        _expire_due(self, ts)
        return self._trade(price, size, aggressor, ts)

    def apply_bar(
        self, int64_t open, int64_t high, int64_t low, int64_t close, int64_t volume,
        int64_t ts,
    ):
        """Sweep a bar as four trades stamped ``ts`` (the close), each a quarter of the volume.

        The remainder of ``volume // 4`` goes to the close.
        """
        self.apply_bar_c(open, high, low, close, volume, ts)

    cdef int apply_bar_c(
        self, int64_t open, int64_t high, int64_t low, int64_t close, int64_t volume,
        int64_t ts,
    ) except -1:
        cdef int64_t quarter = volume // 4
        if self.book_type != BOOK_L1:
            raise ValueError("bars feed an L1 matching core only")
        if self.bar_sweep == "ohlc" or (
            self.bar_sweep == "nearest" and high - open <= open - low
        ):
            points = (open, high, low, close)
        else:
            points = (open, low, high, close)
        self._expire(ts)
        self._trade(points[0], quarter, 0, ts)
        self._trade(points[1], quarter, 0, ts)
        self._trade(points[2], quarter, 0, ts)
        self._trade(points[3], volume - 3 * quarter, 0, ts)
        return 0

    def submit(
        self, uint64_t order_id, int side, int order_type, int time_in_force,
        int64_t quantity, price=None, trigger=None, int trigger_type=0, int64_t expire_ts=0,
        bint post_only=False, bint reduce_only=False, int64_t ts=0,
    ):
        """Receive an order at ``ts`` (its arrival at the venue): accept or reject, then match.

        ``price`` and ``trigger`` are raw ints or None.
        """
        self.submit_c(
            order_id, side, order_type, time_in_force, quantity,
            price is not None, 0 if price is None else price,
            trigger is not None, 0 if trigger is None else trigger,
            trigger_type, expire_ts, post_only, reduce_only, ts,
        )

    cdef int submit_c(
        self, uint64_t order_id, int side, int order_type, int time_in_force,
        int64_t quantity, bint has_price, int64_t price, bint has_trigger, int64_t trigger,
        int trigger_type, int64_t expire_ts, bint post_only, bint reduce_only, int64_t ts,
    ) except -1:
        cdef SimOrder order = SimOrder.__new__(SimOrder)
        cdef str reason = None
        self._expire(ts)
        order.order_id = order_id
        order.side = side
        order.order_type = order_type
        order.time_in_force = time_in_force
        order.quantity = quantity
        order.has_price = has_price
        order.price = price
        order.has_trigger = has_trigger
        order.trigger = trigger
        order.trigger_type = trigger_type
        order.post_only = post_only
        order.reduce_only = reduce_only
        order.triggered = order_type == MARKET or order_type == LIMIT
        if time_in_force == DAY:
            # DAY orders expire at the next UTC midnight after their arrival.
            expire_ts = (ts // NS_PER_DAY + 1) * NS_PER_DAY
        order.expire_ts = expire_ts if time_in_force in (GTD, DAY) else 0
        if order_id in self._by_id:
            reason = f"duplicate order id {order_id}"
        elif side != BUY and side != SELL:
            reason = f"side must be BUY (1) or SELL (2), got {side}"
        elif order_type < MARKET or order_type > LIMIT_IF_TOUCHED:
            reason = f"unknown order type {order_type}"
        elif quantity <= 0:
            reason = f"quantity must be positive, got raw {quantity}"
        elif order_type in (LIMIT, STOP_LIMIT, LIMIT_IF_TOUCHED) and not order.has_price:
            reason = "a limit order needs a price"
        elif order_type >= STOP_MARKET and not order.has_trigger:
            reason = "a stop or if-touched order needs a trigger price"
        elif time_in_force == GTD and expire_ts <= ts:
            reason = "GTD expire time is not after the arrival time"
        elif post_only and order_type not in (LIMIT, STOP_LIMIT, LIMIT_IF_TOUCHED):
            reason = "post-only applies to limit orders"
        elif post_only and order.triggered and self._would_take(order):
            reason = "post-only order would take liquidity"
        elif time_in_force in (IOC, FOK) and order_type == LIMIT and post_only:
            reason = "post-only order cannot be IOC or FOK"
        if reason is not None:
            self._report(K_REJECTED, order_id, ts, 0, 0, 0, reason)
            return 0
        order.is_open = True
        if order.expire_ts and order.expire_ts < self._next_expiry:
            self._next_expiry = order.expire_ts
        self._by_id[order_id] = order
        self._place(order)
        self._report(K_ACCEPTED, order_id, ts, 0, 0, 0, None)
        if order.triggered:
            self._execute(order, ts)
        elif self._should_trigger(order):
            self._fire(order, ts)
        return 0

    def modify(self, uint64_t order_id, quantity=None, price=None, trigger=None, int64_t ts=0):
        """Modify an open order's quantity, price or trigger (raw ints or None)."""
        self.modify_c(
            order_id,
            quantity is not None, 0 if quantity is None else quantity,
            price is not None, 0 if price is None else price,
            trigger is not None, 0 if trigger is None else trigger,
            ts,
        )

    cdef int modify_c(
        self, uint64_t order_id, bint has_quantity, int64_t quantity, bint has_price,
        int64_t price, bint has_trigger, int64_t trigger, int64_t ts,
    ) except -1:
        cdef SimOrder order = self._by_id.get(order_id)
        cdef str reason = None
        cdef bint lose_place
        cdef int64_t old
        self._expire(ts)
        if order is None or not order.is_open:
            reason = f"order {order_id} is not open"
        elif has_quantity and quantity <= order.filled:
            reason = f"quantity raw {quantity} is not above the filled raw {order.filled}"
        elif has_price and not order.has_price:
            reason = "the order has no limit price"
        elif has_trigger and (not order.has_trigger or order.triggered):
            reason = "the order has no pending trigger"
        if reason is None and order.post_only and has_price and order.triggered:
            old = order.price
            order.price = price
            if self._would_take(order):
                reason = "post-only order would take liquidity"
            order.price = old
        if reason is not None:
            self._report(K_MODIFY_REJECTED, order_id, ts, 0, 0, 0, reason)
            return 0
        lose_place = (has_price and price != order.price) or (
            has_quantity and quantity > order.quantity
        )
        if has_quantity:
            order.quantity = quantity
        if has_price:
            order.price = price
        if has_trigger:
            order.trigger = trigger
        self._report(
            K_UPDATED, order_id, ts, order.quantity, order.price if order.has_price else -1,
            0, None,
        )
        if lose_place:
            self._unlist(order)
            self._place(order)
        if not order.triggered:
            if self._should_trigger(order):
                self._fire(order, ts)
        elif lose_place:
            self._execute(order, ts)
        # Otherwise a smaller order keeps its place: ahead is unchanged.
        return 0

    def cancel(self, uint64_t order_id, int64_t ts=0):
        """Cancel an open order."""
        self.cancel_c(order_id, ts)

    cdef int cancel_c(self, uint64_t order_id, int64_t ts) except -1:
        cdef SimOrder order = self._by_id.get(order_id)
        self._expire(ts)
        if order is None or not order.is_open:
            self._report(K_CANCEL_REJECTED, order_id, ts, 0, 0, 0, f"order {order_id} is not open")
            return 0
        self._close(order, K_CANCELED, ts, None)
        return 0

    def cancel_all(self, int side=0, int64_t ts=0):
        """Cancel every open order (of ``side`` only, if 1 or 2)."""
        self.cancel_all_c(side, ts)

    cdef int cancel_all_c(self, int side, int64_t ts) except -1:
        cdef SimOrder order
        self._expire(ts)
        for order in list(self._orders):
            if order.is_open and (side == 0 or order.side == side):
                self._close(order, K_CANCELED, ts, None)
        return 0

    # --- Reports -------------------------------------------------------------------------------

    cdef int _report(
        self, int kind, uint64_t order_id, int64_t ts, int64_t quantity, int64_t price,
        bint maker, str reason,
    ) except -1:
        cdef Report* report
        cdef Py_ssize_t capacity
        if self._reports == self._report_capacity:
            capacity = 2 * self._report_capacity if self._report_capacity else 16
            report = <Report*>PyMem_Realloc(self._report_buf, capacity * sizeof(Report))
            if report == NULL:
                raise MemoryError()
            self._report_buf = report
            self._report_capacity = capacity
        report = &self._report_buf[self._reports]
        report.kind = kind
        report.maker = maker
        report.order_id = order_id
        report.ts = ts
        report.quantity = quantity
        report.price = price
        if reason is None:
            report.reason = -1
        else:
            report.reason = len(self._reasons)
            self._reasons.append(reason)
        self._reports += 1
        return 0

    # --- Market view ---------------------------------------------------------------------------

    cdef int64_t _level_size(self, int book_side, int64_t price) except -1:
        cdef Ladder* ladder = self.book._ladder(book_side)
        cdef bint found = 0
        cdef Py_ssize_t at = ladder_find(ladder, side_key(book_side, price), &found)
        return ladder.levels[at].size if found else 0

    cdef int64_t _available(self, int book_side, int64_t price) except -1:
        cdef int64_t size = self._level_size(book_side, price)
        if self._consumed:  # usually empty: a market update of the level clears its entry
            size -= self._consumed.get(level_key(book_side, price), 0)
        return size if size > 0 else 0

    def _best(self, int book_side):
        cdef int64_t price
        return price if self._best_c(book_side, &price) else None

    cdef bint _best_c(self, int book_side, int64_t* price) noexcept:
        # The best price of a side (SIDE_BID or SIDE_ASK) in ``price[0]``; 0 if empty.
        cdef Ladder* ladder = &self.book._asks if book_side == SIDE_ASK else &self.book._bids
        cdef int64_t key
        if ladder.count == 0:
            return 0
        key = ladder.levels[ladder.top].key
        price[0] = ~key if book_side == SIDE_ASK else key
        return 1

    cdef bint _would_take(self, SimOrder order) noexcept:
        cdef int64_t best
        if order.side == BUY:
            return self._best_c(SIDE_ASK, &best) and order.price >= best
        return self._best_c(SIDE_BID, &best) and order.price <= best

    cdef int _market_touched(self, int64_t ts) except -1:
        self._match_resting(ts)
        return 0

    cdef int _bound(self) except -1:
        # Take the summary of _orders again (see matching.pxd).
        cdef SimOrder order
        cdef list orders = self._orders
        cdef Py_ssize_t i
        self._untriggered = self._has_buy = self._has_sell = False
        for i in range(len(orders)):
            order = <SimOrder>orders[i]
            if not order.triggered:
                self._untriggered = True
            elif not order.has_price:
                continue
            elif order.side == BUY:
                if not self._has_buy or order.price < self._buy_low:
                    self._buy_low = order.price
                if not self._has_buy or order.price > self._buy_high:
                    self._buy_high = order.price
                self._has_buy = True
            else:
                if not self._has_sell or order.price < self._sell_low:
                    self._sell_low = order.price
                if not self._has_sell or order.price > self._sell_high:
                    self._sell_high = order.price
                self._has_sell = True
        self._bounds_stale = False
        return 0

    # --- Matching ------------------------------------------------------------------------------

    cdef int64_t _cap(self, SimOrder order) except -1:
        # What the order may still fill: its leaves, capped for reduce-only by the caller.
        cdef int64_t leaves = order.quantity - order.filled
        cdef int64_t limit
        if order.reduce_only and self.reduce_only_limit is not None:
            limit = self.reduce_only_limit(order.order_id, order.side)
            if limit < leaves:
                return limit if limit > 0 else 0
        return leaves

    cdef int64_t _fillable(self, SimOrder order, bint limited, int64_t limit) except -1:
        # The size the opposite side offers within ``limit`` (for FOK), after our own takes.
        cdef int book_side = SIDE_ASK if order.side == BUY else SIDE_BID
        cdef Ladder* ladder = self.book._ladder(book_side)
        cdef Py_ssize_t i = ladder.top if ladder.count else -1  # a position (book_base.pxd)
        cdef int64_t total = 0
        cdef int64_t price
        while i >= 0:
            price = ~ladder.levels[i].key if book_side == SIDE_ASK else ladder.levels[i].key
            if limited and (price > limit if order.side == BUY else price < limit):
                break
            total += self._available(book_side, price)
            i = ladder_worse(ladder, i)
        if self._from_trades and ladder.count and not limited:
            # Trades only: whatever the trade did not cover fills one tick worse.
            return order.quantity
        if self._from_trades and ladder.count and limited:
            self._best_c(book_side, &price)
            price += self.tick if order.side == BUY else -self.tick
            if price <= limit if order.side == BUY else price >= limit:
                return order.quantity
        return total

    cdef int64_t _take(
        self, SimOrder order, bint limited, int64_t limit, bint maker, int64_t ts
    ) except -1:
        # Walk the opposite side from its best level while it crosses ``limit``; a maker
        # fill is at the order's own price. Return the quantity filled.
        cdef int book_side = SIDE_ASK if order.side == BUY else SIDE_BID
        cdef Ladder* ladder = self.book._ladder(book_side)
        cdef Py_ssize_t i = ladder.top if ladder.count else -1  # a position (book_base.pxd)
        cdef int64_t price, available, quantity, wanted
        cdef int64_t taken = 0
        cdef int64_t last_price = 0
        cdef bint any_level = ladder.count > 0
        while i >= 0:
            wanted = self._cap(order)
            if wanted <= 0:
                break
            price = ~ladder.levels[i].key if book_side == SIDE_ASK else ladder.levels[i].key
            if limited and (price > limit if order.side == BUY else price < limit):
                break
            last_price = price
            available = self._available(book_side, price)
            if available > 0:
                quantity = available if available < wanted else wanted
                key = level_key(book_side, price)
                self._consumed[key] = self._consumed.get(key, 0) + quantity
                self._fill(order, quantity, order.price if maker else price, maker, ts)
                taken += quantity
            i = ladder_worse(ladder, i)
        if self._from_trades and any_level and not maker:
            # Trades only: the rest fills one tick worse than the last trade (NautilusTrader).
            if i < 0 or last_price == 0:
                self._best_c(book_side, &last_price)
            price = last_price + (self.tick if order.side == BUY else -self.tick)
            wanted = self._cap(order)
            if wanted > 0 and (
                not limited or (price <= limit if order.side == BUY else price >= limit)
            ):
                self._fill(order, wanted, price, False, ts)
                taken += wanted
        return taken

    cdef int _execute(self, SimOrder order, int64_t ts) except -1:
        # A (triggered) order meets the market: take what crosses, then rest or cancel.
        cdef bint limited = order.has_price
        if order.time_in_force == FOK and self._fillable(order, limited, order.price) < (
            order.quantity - order.filled
        ):
            self._close(order, K_CANCELED, ts, "FOK order cannot be filled in full")
            return 0
        if order.reduce_only and self._cap(order) <= 0:
            self._close(order, K_CANCELED, ts, "reduce-only order would increase the position")
            return 0
        self._take(order, limited, order.price, False, ts)
        if not order.is_open:
            return 0
        if not limited or order.time_in_force in (IOC, FOK):
            reason = "no liquidity left for the rest" if not limited else "IOC remainder"
            self._close(order, K_CANCELED, ts, reason)
            return 0
        self._rest(order)
        return 0

    cdef int _rest(self, SimOrder order) except -1:
        self._join_queue(order)
        return 0

    cdef int _fill(
        self, SimOrder order, int64_t qty, int64_t price, bint maker, int64_t ts
    ) except -1:
        order.filled += qty
        self._report(K_FILLED, order.order_id, ts, qty, price, maker, None)
        if order.filled >= order.quantity:
            order.is_open = False
            self._unlist(order)
        return 0

    cdef int _close(self, SimOrder order, int kind, int64_t ts, str reason) except -1:
        order.is_open = False
        self._unlist(order)
        self._report(kind, order.order_id, ts, 0, 0, 0, reason)
        return 0

    cdef bint _should_trigger(self, SimOrder order) noexcept:
        # Compare the reference price with the trigger (both doubled, for the mid).
        cdef int64_t bid, ask
        cdef int64_t reference
        cdef bint has_bid, has_ask, stop
        if order.trigger_type == TRIGGER_LAST:
            if not self._has_last:
                return 0
            reference = 2 * self._last_trade
        else:
            has_bid = self._best_c(SIDE_BID, &bid)
            has_ask = self._best_c(SIDE_ASK, &ask)
            if order.trigger_type == TRIGGER_MID:
                if not (has_bid and has_ask):
                    return 0
                reference = bid + ask
            elif order.side == BUY and has_ask:
                reference = 2 * ask
            elif order.side == SELL and has_bid:
                reference = 2 * bid
            elif self._has_last:
                reference = 2 * self._last_trade
            else:
                return 0
        stop = order.order_type == STOP_MARKET or order.order_type == STOP_LIMIT
        if (order.side == BUY) == stop:
            return reference >= 2 * order.trigger
        return reference <= 2 * order.trigger

    cdef int _fire(self, SimOrder order, int64_t ts) except -1:
        order.triggered = True
        self._bounds_stale = True
        if order.order_type in (STOP_LIMIT, LIMIT_IF_TOUCHED):
            self._report(K_TRIGGERED, order.order_id, ts, 0, 0, 0, None)
        if order.post_only and self._would_take(order):
            self._close(order, K_CANCELED, ts, "post-only order would take liquidity")
            return 0
        self._execute(order, ts)
        return 0

    cdef int _unlist(self, SimOrder order) except -1:
        # Take an order out of the open orders (list.remove, by identity as SimOrder has no
        # __eq__, without the method call).
        cdef list orders = self._orders
        cdef Py_ssize_t i
        self._bounds_stale = True
        for i in range(len(orders)):
            if orders[i] is order:
                del orders[i]
                return 0
        raise ValueError(f"order {order.order_id} is not in the open orders")

    cdef int _place(self, SimOrder order) except -1:
        # Keep the orders in matching priority: on each side, better prices first, then in
        # time order (a trade print or a crossing book fills them in this order).
        cdef Py_ssize_t i
        cdef SimOrder other
        self._bounds_stale = True
        if order.has_price:
            for i in range(len(self._orders)):
                other = <SimOrder>self._orders[i]
                if other.side == order.side and other.has_price and (
                    other.price < order.price if order.side == BUY else other.price > order.price
                ):
                    self._orders.insert(i, order)
                    return 0
        self._orders.append(order)
        return 0

    cdef int _match_resting(self, int64_t ts) except -1:
        cdef SimOrder order
        cdef bint act = 0
        cdef list orders = self._orders
        cdef Py_ssize_t i
        cdef int64_t best_bid = 0
        cdef int64_t best_ask = 0
        # The bests, as _would_take reads them (nothing changes them in the first pass).
        cdef bint has_bid = _ladder_best(&self.book._bids, False, &best_bid)
        cdef bint has_ask = _ladder_best(&self.book._asks, True, &best_ask)
        # Whether any order has something to do (most updates leave every order as it was);
        # only then walk a copy, since fills close orders. Without orders waiting for their
        # trigger, the bounds tell it: a resting buy takes when the best ask reaches its
        # price, so the highest buy decides (the lowest sell on the other side). Otherwise
        # a first pass in C: _would_take inlined over a typed list.
        if self._bounds_stale:
            self._bound()
        if not self._untriggered:
            if self._from_trades or not (
                (self._has_buy and has_ask and self._buy_high >= best_ask)
                or (self._has_sell and has_bid and self._sell_low <= best_bid)
            ):
                return 0
        else:
            for i in range(len(orders)):
                order = <SimOrder>orders[i]
                if not order.triggered:
                    act = self._should_trigger(order)
                elif self._from_trades or not order.has_price:
                    act = 0
                elif order.side == BUY:
                    act = has_ask and order.price >= best_ask
                else:
                    act = has_bid and order.price <= best_bid
                if act:
                    break
            if not act:
                return 0
        for order in list(self._orders):
            if not order.is_open:
                continue
            if not order.triggered:
                if self._should_trigger(order):
                    self._fire(order, ts)
            elif not self._from_trades and order.has_price and self._would_take(order):
                # The opposite best reached our price: fill as maker at our price.
                self._take(order, True, order.price, True, ts)
        return 0

    cdef int _expire(self, int64_t ts) except -1:
        cdef SimOrder order
        cdef int64_t next_expiry = INT64_MAX
        if ts > self.ts_now:
            self.ts_now = ts
        if ts < self._next_expiry:
            return 0
        for order in list(self._orders):
            if order.is_open and order.expire_ts:
                if order.expire_ts <= ts:
                    self._close(order, K_EXPIRED, order.expire_ts, None)
                elif order.expire_ts < next_expiry:
                    next_expiry = order.expire_ts
        self._next_expiry = next_expiry
        return 0

    # --- Queue ---------------------------------------------------------------------------------

    cdef int _join_queue(self, SimOrder order) except -1:
        cdef L3Book book
        order._traded_seen = 0
        if self._from_trades:
            order.ahead = 0
            order._level_seen = 0
            return 0
        order._level_seen = self._level_size(order.side, order.price)
        # What our own fills already took from this level is not ahead of us.
        order.ahead = self._available(order.side, order.price)
        if self.book_type == BOOK_L3:
            book = <L3Book>self.book
            order._ahead_ids = tuple(
                order_id for order_id, _ in book.queue(order.side, order.price)
            )
        return 0

    cdef int _refresh_queue(
        self, SimOrder order, uint64_t filled_id, int64_t filled_size, int64_t ts,
        int64_t level,
    ) except -1:
        # The level at our price changed: update the volume ahead of us. ``level``: its
        # size now, or -1 to look it up in the book.
        cdef L3Book book
        cdef int32_t index
        cdef int64_t new_size, decrease, explained, ahead, behind, quantity
        if self._from_trades:
            return 0
        new_size = level if level >= 0 else self._level_size(order.side, order.price)
        if self.book_type == BOOK_L3:
            book = <L3Book>self.book
            ahead = 0
            for order_id in order._ahead_ids:
                index = book._find(order_id)
                if index >= 0 and book._orders[index].price == order.price:
                    ahead += book._orders[index].size
            order.ahead = ahead
            if filled_id and ahead == 0 and filled_id not in order._ahead_ids:
                # An order behind us traded: the aggressor would have met us first.
                quantity = self._cap(order)
                if filled_size < quantity:
                    quantity = filled_size
                if quantity > 0:
                    self._fill(order, quantity, order.price, True, ts)
            order._level_seen = new_size
            return 0
        decrease = order._level_seen - new_size
        if decrease > 0:
            explained = decrease if decrease < order._traded_seen else order._traded_seen
            order._traded_seen -= explained
            decrease -= explained
            if decrease > 0 and self.queue_model == Q_PROBABILISTIC and order.ahead > 0:
                # A cancel is ahead of us with probability ahead / displayed.
                behind = order._level_seen - order.ahead
                if behind < 0:
                    behind = 0
                if self._rng.random() * (order.ahead + behind) < order.ahead:
                    order.ahead = order.ahead - decrease if order.ahead > decrease else 0
        if order.ahead > new_size:
            order.ahead = new_size
        order._level_seen = new_size
        return 0

    cdef int _trade(self, int64_t price, int64_t size, int aggressor, int64_t ts) except -1:
        cdef SimOrder order
        cdef int64_t left = size
        cdef int64_t quantity, past
        self._has_last = True
        self._last_trade = price
        if self._from_trades:
            l1_quote(<L1Book>self.book, price, size, price, size, ts)
            if self._consumed:
                self._consumed.clear()
        if not self._orders:
            return 0
        if self._bounds_stale:
            self._bound()
        # Walk the orders only when the trade reaches the price of one that it may fill (a
        # buy at or above the trade's price, not hit by a buyer; a sell at or below it).
        if not (
            (self._has_buy and aggressor != BUY and price <= self._buy_high)
            or (self._has_sell and aggressor != SELL and price >= self._sell_low)
        ):
            if _may_act(self):  # _market_touched, only when an order may act
                self._match_resting(ts)
            return 0
        for order in list(self._orders):
            if not order.is_open or not (order.triggered and order.has_price) or left <= 0:
                continue
            if aggressor == order.side:
                continue
            through = price < order.price if order.side == BUY else price > order.price
            if through:
                past = left
            elif price == order.price and self.book_type != BOOK_L3:
                # The trade takes the volume ahead of us first.
                order._traded_seen += size
                if order.ahead >= left:
                    order.ahead -= left
                    continue
                past = left - order.ahead
                order.ahead = 0
            else:
                continue
            quantity = self._cap(order)
            if past < quantity:
                quantity = past
            if quantity > 0:
                self._fill(order, quantity, order.price, True, ts)
                left -= quantity
        self._market_touched(ts)
        return 0
