# The contract of zq_core.matching: the simulated venue's matching core, one per instrument.
#
# A MatchingCore holds a view of the market (an L1Book, L2Book or L3Book from zq_core.book)
# and the trader's simulated orders. Every price and size is a raw int64 at the instrument's
# precision. The core never builds zq objects: it appends *reports* (Report structs, see
# REPORT_* in matching.pyx) that zq_core.exchange turns into order events; ``drain()`` hands
# them to Python as tuples.

from libc.stdint cimport int64_t, uint64_t

from zq_core.book cimport L1Book, L2Book, apply_l2, l1_quote
from zq_core.book_base cimport ACTION_CLEAR, SIDE_ASK, SIDE_BID, Ladder, OrderBook


# Report kinds: the REPORT_* constants of matching.pyx, for C readers of the reports.
cdef enum:
    K_ACCEPTED = 1
    K_REJECTED = 2
    K_FILLED = 3
    K_CANCELED = 4
    K_EXPIRED = 5
    K_TRIGGERED = 6
    K_UPDATED = 7
    K_MODIFY_REJECTED = 8
    K_CANCEL_REJECTED = 9


# MatchingCore.book_type of an L2 core (BOOK_L2 in matching.pyx).
cdef enum:
    CORE_L2 = 2


# One report of the core. ``reason`` indexes MatchingCore._reasons (-1: no reason).
cdef struct Report:
    int kind                           # REPORT_* (matching.pyx)
    bint maker                         # FILLED: a maker fill
    uint64_t order_id
    int64_t ts
    int64_t quantity                   # FILLED: the fill's; UPDATED: the order's
    int64_t price                      # FILLED: the fill's; UPDATED: the limit, or -1
    Py_ssize_t reason


cdef class SimOrder:
    # --- The order as submitted (or last modified)
    cdef readonly uint64_t order_id
    cdef readonly int side             # 1 BUY, 2 SELL
    cdef readonly int order_type       # zq.model.enums.OrderType values
    cdef readonly int time_in_force    # zq.model.enums.TimeInForce values
    cdef readonly int64_t quantity
    cdef readonly int64_t filled
    cdef readonly int64_t price        # the limit price, when has_price
    cdef readonly bint has_price
    cdef readonly int64_t trigger      # the trigger price, when has_trigger
    cdef readonly bint has_trigger
    cdef readonly int trigger_type     # zq.model.enums.TriggerType values
    cdef readonly int64_t expire_ts    # 0: never (GTD and DAY set it)
    cdef readonly bint post_only
    cdef readonly bint reduce_only
    # --- State in the core
    cdef readonly bint triggered       # stops and if-touched: the trigger has fired
    cdef readonly bint is_open
    # Queue: market volume ahead of us at our price, and the displayed size at our level
    # when we last looked (to attribute its decreases to trades or cancels).
    cdef readonly int64_t ahead
    cdef int64_t _level_seen
    cdef int64_t _traded_seen          # trade volume at our price not yet seen in the book
    cdef tuple _ahead_ids              # L3: the market orders ahead of us when we joined


cdef class MatchingCore:
    cdef readonly int book_type        # 1 L1_MBP, 2 L2_MBP, 3 L3_MBO
    cdef readonly int price_precision
    cdef readonly int size_precision
    cdef readonly int64_t tick         # the price increment, raw
    cdef readonly int queue_model      # QUEUE_CONSERVATIVE or QUEUE_PROBABILISTIC
    cdef readonly str bar_sweep        # "ohlc", "olhc" or "nearest"
    cdef readonly int64_t ts_now
    cdef readonly OrderBook book
    # A callable (order_id, side) -> the largest raw quantity a reduce-only order may still
    # fill, or None (reduce-only then behaves as a plain order).
    cdef public object reduce_only_limit
    cdef bint _from_trades             # no quotes or deltas seen: the book is built from trades
    cdef bint _has_last
    cdef int64_t _last_trade
    cdef object _rng
    cdef int64_t _next_expiry          # no open order expires before this
    cdef dict _consumed                # (price * 4 + book side) -> raw size our fills took
    cdef list _orders                  # open orders in time priority
    cdef dict _by_id
    # A summary of _orders, so that a market update that cannot concern any order skips the
    # walk over them: whether some order waits for its trigger, and the lowest and highest
    # limit price of the triggered priced orders of each side (_has_buy/_has_sell: any).
    # _bounds_stale says it must be taken again (set whenever an order joins or leaves
    # _orders, or is triggered; a price changes only through _unlist and _place).
    cdef bint _bounds_stale
    cdef bint _untriggered
    cdef bint _has_buy
    cdef bint _has_sell
    cdef int64_t _buy_low
    cdef int64_t _buy_high
    cdef int64_t _sell_low
    cdef int64_t _sell_high
    # The reports not yet taken: _reports of them in _report_buf (a count, so that a caller
    # tests ``if core._reports`` for pending reports), their reasons in _reasons.
    cdef Report* _report_buf
    cdef Py_ssize_t _report_capacity
    cdef Py_ssize_t _reports
    cdef list _reasons

    # --- Orders, C entry points of submit/modify/cancel/cancel_all (the exchange calls
    # these); a price, quantity or trigger is used only when its ``has_*`` flag is set.
    cdef int submit_c(
        self, uint64_t order_id, int side, int order_type, int time_in_force,
        int64_t quantity, bint has_price, int64_t price, bint has_trigger, int64_t trigger,
        int trigger_type, int64_t expire_ts, bint post_only, bint reduce_only, int64_t ts,
    ) except -1
    cdef int modify_c(
        self, uint64_t order_id, bint has_quantity, int64_t quantity, bint has_price,
        int64_t price, bint has_trigger, int64_t trigger, int64_t ts,
    ) except -1
    cdef int cancel_c(self, uint64_t order_id, int64_t ts) except -1
    cdef int cancel_all_c(self, int side, int64_t ts) except -1
    # --- Reports
    cdef int _report(
        self, int kind, uint64_t order_id, int64_t ts, int64_t quantity, int64_t price,
        bint maker, str reason,
    ) except -1

    # --- Market data, C entry points of the apply_* methods (the replay loop calls these)
    cdef int apply_quote_c(
        self, int64_t bid, int64_t bid_size, int64_t ask, int64_t ask_size, int64_t ts
    ) except -1
    cdef int apply_delta_c(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id, int64_t ts,
        uint64_t sequence, int64_t ts_event,
    ) except -1
    cdef int apply_trade_c(self, int64_t price, int64_t size, int aggressor, int64_t ts) except -1
    cdef int _refresh_level(
        self, int action, int side, int64_t price, int64_t size, uint64_t order_id, int64_t ts,
    ) except -1
    cdef int apply_bar_c(
        self, int64_t open, int64_t high, int64_t low, int64_t close, int64_t volume,
        int64_t ts,
    ) except -1
    # --- Market view
    cdef int64_t _level_size(self, int book_side, int64_t price) except -1
    cdef int64_t _available(self, int book_side, int64_t price) except -1
    cdef int _market_touched(self, int64_t ts) except -1
    cdef int _bound(self) except -1
    cdef bint _best_c(self, int book_side, int64_t* price) noexcept
    cdef bint _would_take(self, SimOrder order) noexcept
    # --- Matching
    cdef int64_t _cap(self, SimOrder order) except -1
    cdef int64_t _fillable(self, SimOrder order, bint limited, int64_t limit) except -1
    cdef int64_t _take(
        self, SimOrder order, bint limited, int64_t limit, bint maker, int64_t ts
    ) except -1
    cdef int _execute(self, SimOrder order, int64_t ts) except -1
    cdef int _rest(self, SimOrder order) except -1
    cdef int _fill(
        self, SimOrder order, int64_t qty, int64_t price, bint maker, int64_t ts
    ) except -1
    cdef int _close(self, SimOrder order, int kind, int64_t ts, str reason) except -1
    cdef bint _should_trigger(self, SimOrder order) noexcept
    cdef int _fire(self, SimOrder order, int64_t ts) except -1
    cdef int _place(self, SimOrder order) except -1
    cdef int _match_resting(self, int64_t ts) except -1
    cdef int _expire(self, int64_t ts) except -1
    # --- Queue
    cdef int _join_queue(self, SimOrder order) except -1
    cdef int _refresh_queue(self, SimOrder order, uint64_t filled_id, int64_t filled_size,
                            int64_t ts, int64_t level) except -1
    cdef int _trade(self, int64_t price, int64_t size, int aggressor, int64_t ts) except -1
    cdef int _unlist(self, SimOrder order) except -1


# --- The per-delta entry compiled into its callers ----------------------------------------

cdef inline bint _ladder_best(const Ladder* ladder, bint ask, int64_t* price) noexcept:
    # MatchingCore._best_c on a ladder already chosen, inlined into the per-delta walk.
    cdef int64_t key
    if ladder.count == 0:
        return 0
    key = ladder.levels[ladder.top].key
    price[0] = ~key if ask else key
    return 1


cdef inline bint _may_act(MatchingCore core) except -1:
    # Whether _match_resting may find an order with something to do: always when an order
    # waits for its trigger (_match_resting then asks each), else when the opposite best
    # reached the highest buy or the lowest sell (never on a book built from trades).
    if not core._orders:
        return 0
    if core._bounds_stale:
        core._bound()
    return _may_act_bound(core)


cdef inline bint _may_act_bound(MatchingCore core) noexcept:
    # _may_act once the core has orders and its bounds are current (the per-delta walk
    # tested both already: about 45 instructions a delta saved).
    cdef int64_t best
    if core._untriggered:
        return 1
    if core._from_trades:
        return 0
    return (
        core._has_buy and _ladder_best(&core.book._asks, True, &best) and core._buy_high >= best
    ) or (
        core._has_sell and _ladder_best(&core.book._bids, False, &best)
        and core._sell_low <= best
    )


cdef inline int orders_after_delta(
    MatchingCore core, int action, int side, int64_t price, int64_t size, uint64_t order_id,
    int64_t ts,
) except -1:
    # Once a delta is in the book: the queue refresh of the orders at its level (the bounds
    # of its side hold the price; all orders on a CLEAR: most deltas are at other levels),
    # then the matching of the resting orders, only when one may have something to do.
    if not core._orders:
        return 0
    if core._bounds_stale:
        core._bound()
    if action == ACTION_CLEAR or (
        core._has_buy and side == SIDE_BID and core._buy_low <= price <= core._buy_high
    ) or (
        core._has_sell and side == SIDE_ASK and core._sell_low <= price <= core._sell_high
    ):
        core._refresh_level(action, side, price, size, order_id, ts)
        if _may_act(core):  # a refresh can close orders (L3), which makes the bounds stale
            core._match_resting(ts)
    elif _may_act_bound(core):
        core._match_resting(ts)
    return 0


cdef inline int apply_delta_inline(
    MatchingCore core, object book, int action, int side, int64_t price, int64_t size,
    uint64_t order_id, int64_t ts, uint64_t sequence, int64_t ts_event,
) except -1:
    # MatchingCore.apply_delta_c, its usual case compiled into the caller (the replay loop's
    # row of deltas): an L2 core, no order that may expire by ``ts``, no level whose size
    # our fills consumed, not a CLEAR. Any other delta goes to apply_delta_c, which does the
    # same steps with those cases (and stays the reference of this one). ``book``: the
    # core's book, which the caller holds (``core.book`` passed here would be reference
    # counted at each delta).
    if (
        core.book_type != CORE_L2 or ts >= core._next_expiry or action == ACTION_CLEAR
        or core._consumed
    ):
        return core.apply_delta_c(action, side, price, size, order_id, ts, sequence, ts_event)
    if ts > core.ts_now:
        core.ts_now = ts
    apply_l2(<L2Book>book, action, side, price, size, order_id, sequence, ts_event)
    return orders_after_delta(core, action, side, price, size, order_id, ts)


cdef inline int apply_trade_inline(
    MatchingCore core, int64_t price, int64_t size, int aggressor, int64_t ts
) except -1:
    # MatchingCore.apply_trade_c, its usual case compiled into the caller (the replay loop's
    # row of trades): a book built from trades, no open order (nothing to fill, trigger or
    # expire), no size our fills consumed; the trade is then the book's quote at its price.
    # Any other trade goes to apply_trade_c, which does the same steps with those cases (and
    # stays the reference of this one).
    if not core._from_trades or core._orders or core._consumed or ts >= core._next_expiry:
        return core.apply_trade_c(price, size, aggressor, ts)
    if ts > core.ts_now:
        core.ts_now = ts
    core._has_last = True
    core._last_trade = price
    return l1_quote(<L1Book>core.book, price, size, price, size, ts)
