# The contract of zq_core.replay: the compiled backtest replay loop (see replay.pyx).

cimport cython
from libc.stdint cimport int64_t, uint8_t, uint64_t

from zq_core.book_base cimport OrderBook
from zq_core.bus cimport MessageBus
from zq_core.clock cimport TimeCell
from zq_core.matching cimport MatchingCore
from zq_core.timers cimport TimerQueue


# Rows of zq.data.arrays, read in place (little-endian, packed).
cdef packed struct TradeRow:
    int64_t ts_event
    int64_t ts_init
    int64_t price
    int64_t size
    uint64_t trade_id
    uint8_t aggressor_side
    uint8_t[7] _pad

cdef packed struct QuoteRow:
    int64_t ts_event
    int64_t ts_init
    int64_t bid_price
    int64_t ask_price
    int64_t bid_size
    int64_t ask_size

cdef packed struct BarRow:
    int64_t ts_event
    int64_t ts_init
    int64_t open
    int64_t high
    int64_t low
    int64_t close
    int64_t volume


cdef class ReplayLoop


cdef class Route:
    cdef readonly object series
    cdef readonly int kind
    cdef object dtype               # the numpy dtype of its rows
    cdef Py_ssize_t itemsize        # ... and their size in bytes (at most 64)
    cdef object key                 # InstrumentId, or BarType for bars
    cdef uint8_t price_precision
    cdef uint8_t size_precision
    # --- The venue
    cdef object exchange            # the SimulatedExchange, or None
    cdef bint direct                # ... an ExchangeCore advanced in C (see _advance_venue)
    cdef MatchingCore core          # the instrument's matching core, or None
    cdef list venue_cores           # every core of the venue (expiries)
    cdef bint sole_core             # ... which are just ``core``
    cdef list inbound               # the exchange's in-flight commands (a heap)
    cdef list outbound              # the exchange's undelivered events (a heap)
    # The earliest time the venue's Python side may have work (the heads of inbound and
    # outbound, the cores' next expiry), read at the loop's epoch venue_epoch: only Python
    # code lowers it, and the loop bumps its epoch whenever Python may have run.
    cdef int64_t venue_next
    cdef uint64_t venue_epoch
    # The exchange's command and event count (an ExchangeCore's _sequence) and the loop's
    # venue_advances when venue_next was read: venue_next holds after Python ran while
    # both are unchanged (_venue_held).
    cdef uint64_t venue_sequence
    cdef uint64_t venue_advances
    # A quiet route at epoch quiet_epoch: its rows before quiet_until (the next timer, the
    # venue's next work) only go to its matching core; the loop takes them without _row.
    cdef uint64_t quiet_epoch
    cdef int64_t quiet_until
    # --- The data side
    cdef OrderBook book             # the data engine's book (deltas applied in C), or None
    cdef object handler             # callable(datum) doing all the data-side work, or None
    cdef str topic                  # the topic published on, or None
    cdef tuple subscribers          # the topic's subscribers (the bus's snapshot), or None
    cdef dict stale                 # the cache's map of latest data held here, or None
    cdef object on_last             # with book: callable(ts_event, ts_init) at LAST deltas
    cdef bint wanted                # an object is made for each row
    # --- The latest row, or the object made of it, held for the cache (Route.latest)
    cdef ReplayLoop loop
    cdef bint pending
    cdef char[64] last
    cdef object last_object

    cdef int set_data_side(self, tuple answer) except -1
    cdef int _drop_pending(self) except -1


cdef class _Cursor:
    cdef object source
    cdef object rows
    cdef list objects               # the run when it is a list of datum objects
    cdef const char* base
    cdef Py_ssize_t itemsize
    cdef Py_ssize_t at
    cdef Py_ssize_t count
    cdef Route route
    cdef int64_t ts
    cdef int rank
    cdef int index
    cdef bint done


@cython.final  # _rest is inlined into _row and _quiet_rows
cdef class ReplayLoop:
    cdef object clock
    cdef TimerQueue timers              # the clock's timers (fired in C)
    cdef TimeCell now                   # the clock's time, set before Python runs
    cdef MessageBus bus
    cdef object resolver
    cdef object progress
    cdef Py_ssize_t progress_every
    cdef dict routes
    cdef list cursors
    cdef int64_t synced
    # Bumped whenever Python code may have run (timers, the venue's Python side, listeners,
    # sources): what Python can change (the timers' heap, the venues' queues) is read again.
    cdef uint64_t epoch
    cdef uint64_t timer_epoch           # the epoch next_timer was read at
    cdef int64_t next_timer             # the timers' heap head (INT64_MAX: empty)
    cdef uint64_t bus_version
    cdef bint dirty
    cdef uint64_t venue_advances        # how many times the loop advanced a venue
    cdef object make_quote
    cdef object make_bar
    cdef object delta_type
    cdef tuple actions
    cdef tuple sides
    cdef Py_ssize_t aggressors          # AggressorSide values (0: not read yet)
    cdef bint swapped                   # _quiet_rows went on with the other cursor's rows
    cdef readonly Py_ssize_t count
    cdef readonly int64_t ts_last

    cdef Route _route(self, series)
    cdef int _next_run(self, _Cursor cursor) except -1
    cdef int _sync(self, int64_t ts) except -1
    cdef int _refresh(self) except -1
    cdef int _resolve_data(self, Route route) except -1
    cdef int _row(self, Route route, const char* row, object datum, int64_t ts) except -1
    cdef int _quiet_rows(
        self, _Cursor cursor, _Cursor other, bint bounded, int64_t stop_ts, int stop_rank,
        int stop_index,
    ) except -1
    cdef inline int _rest(
        self, Route route, MatchingCore core, const char* row, object datum, int64_t ts
    ) except -1
    cdef bint _venue_due(self, Route route, int64_t ts) except -1
    cdef inline int64_t _venue_next(self, Route route) except? -1
    cdef object _make(self, Route route, const char* row)
