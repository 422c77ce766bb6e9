# cython: language_level=3
"""The backtest replay loop: market data rows merged by time, dispatched in C.

Sources are iterators of ``(series, rows)`` runs in ``ts_init`` order (``rows`` a numpy
array in one of the layouts of ``zq.data.arrays``, or a list of data objects). The loop
merges the sources by ``(ts_init, kind rank, source index)`` and, for each row:

1. fires the clock's timers due by the row's ``ts_init`` (Python, only when one is due);
2. hands the row to the venue's matching core through its C entry point; the venue's
   Python side runs only when a command or event is due, an order may expire, or the core
   reported something;
3. applies a book delta to the data engine's book in C, when it keeps one;
4. makes a Python object of the row and publishes it (or hands it to the data engine) only
   when something listens.

What listens is resolved per series through a Python *resolver* and re-resolved when the
bus's subscriptions change; they can only change while Python code runs, so the loop checks
after each call into Python.
"""

from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.ref cimport PyObject
from libc.stdint cimport INT64_MAX, UINT64_MAX, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy

cimport numpy as cnp

from zq_core.book_base cimport DeltaRow, OrderBook
from zq_core.bus cimport MessageBus
from zq_core.data cimport TradeTick, aggressor_count, trade_from_raw, trade_reset
from zq_core.exchange cimport ExchangeCore
from zq_core.fixed cimport price_from_raw_c, quantity_from_raw_c
from zq_core.matching cimport MatchingCore, apply_delta_inline, apply_trade_inline
from zq_core.timers cimport head_due

cdef extern from "Python.h":
    PyObject* PyList_GET_ITEM(object, Py_ssize_t)
    Py_ssize_t _refcount "Py_REFCNT"(PyObject*)
    void* _type "Py_TYPE"(PyObject*)
    PyObject* PyTuple_GET_ITEM(object, Py_ssize_t)

cnp.import_array()

# Route.venue_sequence of a route whose venue_next must be read again (no exchange counts
# that far).
cdef uint64_t VENUE_UNREAD = UINT64_MAX

cdef enum:
    FLAG_LAST = 128     # BookFlags.LAST: the last delta of one venue event
    KIND_DELTAS = 0
    KIND_QUOTES = 1
    KIND_TRADES = 2
    KIND_BARS = 3


cdef inline int _hold(Route route, const char* row, object datum) except -1:
    # Keep the series' latest row (``row``) or object (``datum``, row NULL) for the cache,
    # which asks the route for it on its first read (Route.latest).
    if row != NULL:
        memcpy(route.last, row, route.itemsize)
        route.last_object = None
    else:
        route.last_object = datum
    if not route.pending:
        route.pending = True
        route.stale[route.key] = route
    return 0


# The ts_init of any row: every layout starts with ts_event, ts_init.
cdef inline int64_t row_ts(const char* row) noexcept nogil:
    return (<const int64_t*>row)[1]


cdef int _close_sources(list sources, object error) except -1:
    # Close each source that can be closed. While ``error`` propagates, a failure to close
    # is noted on it rather than raised in its place.
    for source in sources:
        close = getattr(source, "close", None)
        if close is None:
            continue
        if error is None:
            close()
            continue
        try:
            close()
        except Exception as failure:
            error.add_note(f"closing a data source then failed: {failure!r}")
    return 0


cdef class Route:
    """Where the rows of one series go. Made by the loop from its resolver's answers."""

    cdef int set_data_side(self, tuple answer) except -1:
        self.book, self.handler, self.topic, self.stale, self.on_last = answer
        self.wanted = self.handler is not None or self.topic is not None
        if self.pending and self.handler is not None:
            self._drop_pending()  # the handler's engine stores what it handles
        return 0

    cdef int _drop_pending(self) except -1:
        self.pending = False
        self.last_object = None
        if self.stale is not None:
            self.stale.pop(self.key, None)
        return 0

    def latest(self):
        """Return the latest row as a datum object (the cache calls this)."""
        self.pending = False
        if self.last_object is not None:
            datum = self.last_object
            self.last_object = None
            return datum
        return self.loop._make(self, self.last)


cdef class _Cursor:
    """One source: its current run and the position in it."""


cdef class ReplayLoop:
    """Replay sources of ``(series, rows)`` runs through a backtest kernel.

    Parameters
    ----------
    clock : TestClock
        The kernel's clock: a ``TestClock``, whose time cell ``_now`` is set in place and
        whose timer queue ``_queue`` is read and fired in C.
    bus : MessageBus
        The kernel's bus; its ``version`` says when to re-resolve the data side.
    resolver : object
        ``resolver.venue(series)`` returns ``(kind, key, price_precision, size_precision,
        exchange, core)`` (exchange and core None when no venue trades the series);
        ``resolver.data(series)`` returns ``(book, handler, topic, stale, on_last)``
        (see ``DataEngine.replay_route``);
        ``resolver.dtype(kind)`` the numpy dtype of a kind's rows;
        ``resolver.make(kind)`` returns the callable building a datum object of a kind
        from ``(key, raw fields...)`` (see ``_make``; trades are made by
        ``zq_core.data.trade_from_raw``), and ``resolver.delta_types()`` the
        ``(OrderBookDelta, actions by value, sides by value)`` of deltas;
        ``data`` answers hold until the bus's ``version`` changes.
    progress : callable, optional
        Called as ``progress(rows, ts_init)`` every ``progress_every`` rows.
    """

    def __init__(self, clock, MessageBus bus, resolver, progress=None,
                 Py_ssize_t progress_every=65_536):
        self.clock = clock
        self.timers = clock._queue
        self.now = clock._now
        self.bus = bus
        self.resolver = resolver
        self.progress = progress
        self.progress_every = progress_every if progress_every > 0 else 65_536
        self.routes = {}
        self.cursors = []
        self.synced = -1
        self.epoch = 1  # routes and the timer head start unread (epoch 0)
        self.timer_epoch = 0
        self.next_timer = INT64_MAX
        self.bus_version = bus.version
        self.dirty = False
        self.make_quote = resolver.make(KIND_QUOTES)
        self.make_bar = resolver.make(KIND_BARS)
        self.delta_type, self.actions, self.sides = resolver.delta_types()
        self.count = 0
        self.ts_last = 0

    # --- Sources ---------------------------------------------------------------------------

    cdef Route _route(self, series):
        cdef Route route = self.routes.get(series)
        cdef tuple venue
        if route is not None:
            return route
        route = Route.__new__(Route)
        venue = tuple(self.resolver.venue(series))
        route.loop = self
        route.venue_sequence = VENUE_UNREAD
        route.series = series
        route.kind = venue[0]
        route.key = venue[1]
        route.price_precision = venue[2]
        route.size_precision = venue[3]
        route.exchange = venue[4]
        route.core = venue[5]
        route.dtype = self.resolver.dtype(route.kind)
        route.itemsize = route.dtype.itemsize
        if route.itemsize > 64:
            raise ValueError(f"rows of {series} are {route.itemsize} bytes; at most 64 fit")
        if route.exchange is not None:
            # An exchange whose advance_time is ExchangeCore's is advanced in C.
            route.direct = isinstance(route.exchange, ExchangeCore) and (
                getattr(type(route.exchange), "advance_time", None) is _CORE_ADVANCE
            )
            route.venue_cores = list(route.exchange.cores())
            route.sole_core = (
                len(route.venue_cores) == 1 and route.venue_cores[0] is route.core
                and route.core is not None
            )
            route.inbound = route.exchange._inbound
            route.outbound = route.exchange._outbound
        self._resolve_data(route)
        self.routes[series] = route
        return route

    cdef int _resolve_data(self, Route route) except -1:
        # Ask who listens to the route's series; hold the topic's subscribers (the bus's
        # snapshot, valid until its version moves, when this is asked again).
        route.set_data_side(tuple(self.resolver.data(route.series)))
        route.subscribers = None if route.topic is None else self.bus._lookup(route.topic)
        return 0

    cdef int _next_run(self, _Cursor cursor) except -1:
        # Move the cursor to the first row of its next non-empty run, or mark it done.
        cdef object rows
        cdef cnp.ndarray array
        self.epoch += 1  # the source is Python code
        while True:
            item = next(cursor.source, None)
            if item is None:
                cursor.done = True
                cursor.rows = None
                return 0
            series, rows = item
            if not len(rows):
                continue
            cursor.count = len(rows)
            cursor.at = 0
            cursor.route = self._route(series)
            cursor.rank = cursor.route.kind
            if type(rows) is list:
                cursor.objects = rows
                cursor.rows = None
                cursor.base = NULL
                cursor.ts = rows[0].ts_init
                return 0
            if not isinstance(rows, cnp.ndarray):
                raise TypeError(f"rows of {series} are a {type(rows).__name__}: expected a numpy "
                                "array (zq.data.arrays) or a list of data objects")
            array = <cnp.ndarray>rows
            dtype = <object>cnp.PyArray_DESCR(array)
            if dtype is not cursor.route.dtype and dtype != cursor.route.dtype:
                raise TypeError(
                    f"rows of {series} have dtype {rows.dtype}, expected {cursor.route.dtype} "
                    "(zq.data.arrays)"
                )
            if cnp.PyArray_NDIM(array) != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(array):
                array = cnp.PyArray_GETCONTIGUOUS(array).reshape(-1)
            cursor.objects = None
            cursor.rows = array
            cursor.base = <const char*>cnp.PyArray_DATA(array)
            cursor.itemsize = cnp.PyArray_ITEMSIZE(array)
            cursor.ts = row_ts(cursor.base)
            return 0

    # --- Replay ----------------------------------------------------------------------------

    def open(self, sources):
        """Read the first run of each source; return the first ``ts_init``, or None.

        If a source fails, every source is closed (see ``close``) before the error is
        raised.
        """
        cdef _Cursor cursor
        cdef object first = None
        cdef list given = list(sources)
        self.cursors = []
        try:
            for i, source in enumerate(given):
                cursor = _Cursor.__new__(_Cursor)
                cursor.source = iter(source)
                cursor.index = i
                self._next_run(cursor)
                if not cursor.done:
                    self.cursors.append(cursor)
                    if first is None or cursor.ts < first:
                        first = cursor.ts
        except BaseException as exc:
            self.cursors = []
            _close_sources(given, exc)
            raise
        return first

    def close(self):
        """Close the sources not yet exhausted: a generator's ``close`` runs its cleanup
        (open files, a catalog's read-ahead thread). ``run`` does it when it fails."""
        cursors, self.cursors = self.cursors, []
        _close_sources([(<_Cursor>held).source for held in cursors], None)

    def run(self):
        """Replay the opened sources to their end; return the number of rows replayed.

        If it fails (a strategy, a source), the sources are closed before the error is
        raised.
        """
        cdef _Cursor cursor, best, other
        cdef Route route
        cdef Py_ssize_t i
        cdef Py_ssize_t n = len(self.cursors)
        cdef int64_t stop_ts = 0
        cdef int stop_rank = 0
        cdef int stop_index = 0
        cdef bint bounded
        try:
            self.dirty = True  # subscriptions made since open() (the strategies' on_start)
            self.epoch += 1  # ... and what else Python changed: no route is quiet yet
            while n:
                # The cursor with the smallest (ts, rank, index), and the runner-up's key: rows
                # of the best cursor are replayed until they pass it.
                best = None
                other = None
                for i in range(n):
                    cursor = <_Cursor>self.cursors[i]
                    if best is None or _before(cursor, best):
                        other = best
                        best = cursor
                    elif other is None or _before(cursor, other):
                        other = cursor
                bounded = other is not None
                if bounded:
                    stop_ts = other.ts
                    stop_rank = other.rank
                    stop_index = other.index
                while True:
                    if best.objects is None:
                        route = best.route
                        if (
                            route.quiet_epoch == self.epoch and best.ts < route.quiet_until
                            and best.ts >= self.ts_last
                        ):
                            if self._quiet_rows(
                                best, other if n == 2 else None, bounded, stop_ts, stop_rank,
                                stop_index,
                            ):  # it went on with the other cursor's rows: that one is best
                                best, other = other, best
                            if n == 2:  # the other's rows may have been taken: its key moved
                                stop_ts = other.ts
                                stop_rank = other.rank
                                stop_index = other.index
                        else:
                            self._row(route, best.base + best.at * best.itemsize, None, best.ts)
                            best.at += 1
                    else:
                        self._row(best.route, NULL, best.objects[best.at], best.ts)
                        best.at += 1
                    if best.at == best.count:
                        self._next_run(best)
                        if best.done:
                            self.cursors.remove(best)
                            n -= 1
                        break
                    if best.objects is None:
                        best.ts = row_ts(best.base + best.at * best.itemsize)
                    else:
                        best.ts = best.objects[best.at].ts_init
                    if bounded and (
                        best.ts > stop_ts or (
                            best.ts == stop_ts and (
                                best.rank > stop_rank
                                or (best.rank == stop_rank and best.index > stop_index)
                            )
                        )
                    ):
                        if n != 2:
                            break
                        # Two cursors (deltas and trades, the usual pair): the runner-up
                        # is next and this one its runner-up, as the search would find, so
                        # they swap without it (each trade ends a stretch of deltas).
                        best, other = other, best
                        stop_ts = other.ts
                        stop_rank = other.rank
                        stop_index = other.index
            return self.count
        except BaseException as exc:
            cursors, self.cursors = self.cursors, []
            _close_sources([(<_Cursor>held).source for held in cursors], exc)
            raise

    cdef int _sync(self, int64_t ts) except -1:
        # Before Python runs: the clock reads the row's time.
        if self.synced != ts:
            self.now.ns = ts
            self.synced = ts
        self.dirty = True
        self.epoch += 1
        return 0

    cdef int _refresh(self) except -1:
        # After Python ran: re-resolve the data side if subscriptions may have changed.
        cdef Route route
        self.dirty = False
        if self.bus.version == self.bus_version:
            return 0
        self.bus_version = self.bus.version
        for route in self.routes.values():
            self._resolve_data(route)
        return 0

    cdef int _row(self, Route route, const char* row, object datum, int64_t ts) except -1:
        # One row: ``row`` points at it in an array, or it is ``datum`` (row NULL).
        cdef MatchingCore core = route.core
        if ts < self.ts_last:
            raise ValueError(
                f"{route.series.kind} of {route.series.key}: ts_init {ts} is before the "
                f"previous row's {self.ts_last} (a source must be in ts_init order)"
            )
        if self.dirty:  # _refresh's test here (Python ran: after each trade a strategy hears)
            self.dirty = False
            if self.bus.version != self.bus_version:
                self._refresh()
        # 1. Timers due by now. The heap's head is read again only after Python ran.
        if self.timer_epoch != self.epoch:
            self.timer_epoch = self.epoch
            self.next_timer = head_due(self.timers)
        if ts >= self.next_timer:
            self.epoch += 1
            self.synced = -1
            if self.now.ns > ts:
                self.clock.advance_time(ts)  # refuses to go back, with its message
            self.timers.fire_due_c(ts, None)
            self.synced = ts
            self._refresh()
        # 2. The venue.
        if core is not None:
            if route.venue_epoch != self.epoch:
                route.venue_epoch = self.epoch
                if not _venue_held(self, route):
                    route.venue_next = self._venue_next(route)
            if ts >= route.venue_next and self._venue_due(route, ts):
                self._sync(ts)
                _advance_venue(self, route, ts)
                self._refresh()
            if row != NULL:
                _apply_row(core, route.kind, row, ts)
            else:
                _apply_object(core, route.kind, datum, ts)
        return self._rest(route, core, row, datum, ts)

    cdef inline int _rest(
        self, Route route, MatchingCore core, const char* row, object datum, int64_t ts
    ) except -1:
        # _row after the core took the row: its reports, steps 3 and 4, the bookkeeping
        # (_row's tail and _quiet_rows'; inline, as a call per row cost the signals-only
        # path about 50 instructions a row).
        if core is not None and core._reports:
            self._sync(ts)
            _advance_venue(self, route, ts)  # turns the reports into events
            self._refresh()
        # 3. The data engine's book, unless it is the venue's (applied in 2.).
        if route.book is not None:
            if row != NULL:
                if core is None or route.book is not core.book:
                    _apply_book_row(route.book, row, ts)
                if route.on_last is not None and (<const DeltaRow*>row).flags & FLAG_LAST:
                    self._sync(ts)
                    route.on_last((<const DeltaRow*>row).ts_event, ts)
            else:
                if core is None or route.book is not core.book:
                    route.book.apply(datum)
                if route.on_last is not None and datum.flags & FLAG_LAST:
                    self._sync(ts)
                    route.on_last(datum.ts_event, ts)
        # 4. Listeners, or the cache's latest datum made on demand.
        if route.wanted:
            if row != NULL:
                datum = self._make(route, row)
            self._sync(ts)
            if route.handler is not None:
                route.handler(datum)
            else:
                if route.stale is not None:
                    _hold(route, NULL, datum)
                self.bus.published += 1  # publish() without looking the topic up
                self.bus._dispatch(route.subscribers, route.topic, datum)
        else:
            if route.stale is not None:
                _hold(route, row, datum)
            # Whether the route's next rows are quiet (see _quiet_rows): nothing but its core
            # (and the cache's latest row) wants them, and the timers' and the venue's heads
            # were read in this epoch.
            if (
                core is not None and not self.dirty
                and self.timer_epoch == self.epoch and route.venue_epoch == self.epoch
                and (route.book is None or (route.book is core.book and route.on_last is None))
            ):
                route.quiet_epoch = self.epoch
                route.quiet_until = (
                    self.next_timer if self.next_timer < route.venue_next else route.venue_next
                )
        self.count += 1
        self.ts_last = ts
        if self.progress is not None and self.count % self.progress_every == 0:
            self.epoch += 1
            self.progress(self.count, ts)
        return 0

    cdef int _quiet_rows(
        self, _Cursor cursor, _Cursor other, bint bounded, int64_t stop_ts, int stop_rank,
        int stop_index,
    ) except -1:
        # _row for the array rows of a quiet route (quiet_epoch is the loop's epoch), from
        # the cursor's current row (the caller checked it is quiet) while they stay quiet:
        # before quiet_until, not before the previous row, not past the runner-up cursor's
        # key (when ``bounded``) nor the run's end. No timer or venue work is due and only
        # the venue's core (and its book, which the data side shares) takes the rows, so of
        # _row's steps only the core's remains. A row whose core reported goes on through
        # _rest (Python runs: the route is not quiet any more), and a progress report ends
        # the stretch too. Only the stretch's last row is held for the cache, before any
        # Python runs. Leaves cursor.at at the first row not taken.
        # ``other``: the runner-up when there are two cursors (deltas and trades), else
        # None. When a row passes its key and its route is quiet too, the stretch goes on
        # with its rows (each trade ended a stretch of deltas), the two swapping roles as
        # the rows interleave. Returns 1 when the stretch ends in ``other``'s rows (the
        # caller's best is then ``other``), else 0. (What only a hand-over reads is read
        # from the cursors then, not kept in the loop's registers.)
        cdef _Cursor leaving
        cdef Route route = cursor.route
        cdef MatchingCore core = route.core
        cdef object book = core.book  # held here: not reference counted per row
        cdef int kind = route.kind
        cdef bint holding = route.stale is not None
        # The rows walked by pointer, the cursor's position worked out when it stops.
        cdef Py_ssize_t itemsize = cursor.itemsize
        cdef const char* row = cursor.base + cursor.at * itemsize
        cdef const char* last = cursor.base + cursor.count * itemsize  # the run's end
        cdef int64_t ts = cursor.ts
        cdef const char* held = NULL
        self.swapped = False
        # The rows taken end before ``end``: quiet_until, or the runner-up's time when that
        # comes first (a row at exactly its time is taken when this cursor's rank and index
        # come before the runner-up's: the key is constant over the stretch).
        cdef int64_t end = route.quiet_until
        cdef bint at_stop = cursor.rank < stop_rank or (
            cursor.rank == stop_rank and cursor.index < stop_index
        )
        if bounded and stop_ts < end:
            end = stop_ts + 1 if at_stop else stop_ts
        # The count at which the next progress report is due (none without a progress).
        cdef Py_ssize_t report_at = (
            self.count + self.progress_every - self.count % self.progress_every
            if self.progress is not None else PY_SSIZE_T_MAX
        )
        while True:
            if kind == KIND_DELTAS:  # the usual quiet series, without _apply_row's dispatch
                _apply_delta_row(core, book, <const DeltaRow*>row, ts)
            else:
                _apply_row(core, kind, row, ts)
            if core._reports:
                cursor.at = (row - cursor.base) // itemsize + 1
                if holding and held != NULL:
                    _hold(route, held, None)
                self._rest(route, core, row, None, ts)
                return self.swapped
            held = row
            row += itemsize
            self.count += 1
            self.ts_last = ts
            if self.count == report_at:
                cursor.at = (row - cursor.base) // itemsize
                if holding:
                    _hold(route, held, None)
                self.epoch += 1
                self.progress(self.count, ts)
                return self.swapped
            if row == last:
                break
            ts = row_ts(row)
            if ts < end and ts >= self.ts_last:
                continue
            if ts < self.ts_last or other is None or not (
                (ts > other.ts or (ts == other.ts and _rank_before(other, cursor)))
                and other.objects is None and other.route.quiet_epoch == self.epoch
                and other.ts < other.route.quiet_until
            ):
                break
            # The row passes the other cursor's key, whose rows are quiet too: go on with
            # them (this cursor's next row is the runner-up's key now).
            cursor.at = (row - cursor.base) // itemsize
            cursor.ts = ts
            if holding:
                _hold(route, held, None)
            leaving = cursor
            cursor = other
            other = leaving
            self.swapped = not self.swapped
            route = cursor.route
            core = route.core
            book = core.book
            kind = route.kind
            holding = route.stale is not None
            itemsize = cursor.itemsize
            row = cursor.base + cursor.at * itemsize
            last = cursor.base + cursor.count * itemsize
            ts = cursor.ts
            held = NULL
            end = other.ts + 1 if _rank_before(cursor, other) else other.ts
            if route.quiet_until < end:
                end = route.quiet_until
        cursor.at = (row - cursor.base) // itemsize
        if holding:
            _hold(route, held, None)
        return self.swapped

    cdef bint _venue_due(self, Route route, int64_t ts) except -1:
        # Whether the venue's Python side must run before this row: a command arrives or
        # an event is delivered by ``ts``, or an order of one of its cores may expire.
        cdef MatchingCore core
        cdef list queue = route.inbound
        if queue and <int64_t><object>PyTuple_GET_ITEM(<object>PyList_GET_ITEM(queue, 0), 0) <= ts:
            return True
        queue = route.outbound
        if queue and <int64_t><object>PyTuple_GET_ITEM(<object>PyList_GET_ITEM(queue, 0), 0) <= ts:
            return True
        for core in route.venue_cores:
            if core._next_expiry <= ts:
                return True
        return False

    cdef inline int64_t _venue_next(self, Route route) except? -1:
        # The earliest ts at which _venue_due may hold: no row before it needs the venue's
        # Python side (until Python runs again: only it queues commands and events, and a
        # core lowers its next expiry only when Python adds an order). Inline: read after
        # each row that ran Python (each trade a strategy receives).
        cdef MatchingCore core
        cdef int64_t due = INT64_MAX
        cdef int64_t head
        cdef list queue = route.inbound
        if route.direct:  # what _venue_held compares with
            route.venue_sequence = (<ExchangeCore>route.exchange)._sequence
            route.venue_advances = self.venue_advances
        if queue:
            due = <int64_t><object>PyTuple_GET_ITEM(<object>PyList_GET_ITEM(queue, 0), 0)
        queue = route.outbound
        if queue:
            head = <int64_t><object>PyTuple_GET_ITEM(<object>PyList_GET_ITEM(queue, 0), 0)
            if head < due:
                due = head
        if route.sole_core:  # the usual venue: one instrument, no list walk
            return route.core._next_expiry if route.core._next_expiry < due else due
        for core in route.venue_cores:
            if core._next_expiry < due:
                due = core._next_expiry
        return due

    cdef object _make(self, Route route, const char* row):
        cdef const TradeRow* trade
        cdef const QuoteRow* quote
        cdef const BarRow* bar
        cdef const DeltaRow* delta
        cdef uint8_t pp = route.price_precision
        cdef uint8_t sp = route.size_precision
        cdef PyObject* held
        if route.kind == KIND_TRADES:
            # One allocation (and its Price): the trade makes its size and id when read.
            trade = <const TradeRow*>row
            # The count read again only when a side is past the one held (0 at first).
            if trade.aggressor_side >= self.aggressors and (
                trade.aggressor_side >= _read_count(self)
            ):
                raise ValueError(
                    f"trades of {route.series.key}: the row at ts_init {trade.ts_init} has "
                    f"aggressor side {trade.aggressor_side}, which is no AggressorSide"
                )
            # The route's previous trade, when it holds the only reference (every listener
            # let it go): renewed in place, as nobody can see it, rather than freed after the
            # next one is allocated.
            held = <PyObject*>route.last_object
            if _refcount(held) == 1 and _type(held) == <void*>TradeTick:
                trade_reset(
                    <TradeTick>held, route.key, trade.price, pp, trade.size, sp,
                    trade.aggressor_side, trade.trade_id, trade.ts_event, trade.ts_init,
                )
                return <object>held
            return trade_from_raw(
                route.key, trade.price, pp, trade.size, sp, trade.aggressor_side,
                trade.trade_id, trade.ts_event, trade.ts_init,
            )
        if route.kind == KIND_QUOTES:
            quote = <const QuoteRow*>row
            return self.make_quote(
                route.key,
                price_from_raw_c(quote.bid_price, pp),
                price_from_raw_c(quote.ask_price, pp),
                quantity_from_raw_c(quote.bid_size, sp),
                quantity_from_raw_c(quote.ask_size, sp),
                quote.ts_event,
                quote.ts_init,
            )
        if route.kind == KIND_BARS:
            bar = <const BarRow*>row
            return self.make_bar(
                route.key,
                price_from_raw_c(bar.open, pp),
                price_from_raw_c(bar.high, pp),
                price_from_raw_c(bar.low, pp),
                price_from_raw_c(bar.close, pp),
                quantity_from_raw_c(bar.volume, sp),
                bar.ts_event,
                bar.ts_init,
            )
        delta = <const DeltaRow*>row
        if delta.action >= len(self.actions) or self.actions[delta.action] is None:
            raise ValueError(
                f"deltas of {route.series.key}: the row at ts_init {delta.ts_init} has action "
                f"{delta.action}, which is no BookAction"
            )
        if delta.side >= len(self.sides):
            raise ValueError(
                f"deltas of {route.series.key}: the row at ts_init {delta.ts_init} has side "
                f"{delta.side}, which is no OrderSide"
            )
        return self.delta_type(
            route.key,
            self.actions[delta.action],
            self.sides[delta.side],
            price_from_raw_c(delta.price, pp),
            quantity_from_raw_c(delta.size, sp),
            delta.order_id,
            delta.flags,
            delta.sequence,
            delta.ts_event,
            delta.ts_init,
        )


cdef object _CORE_ADVANCE = ExchangeCore.advance_time


cdef Py_ssize_t _read_count(ReplayLoop loop) noexcept:
    # The number of AggressorSide values (zq_core.data), kept by the loop.
    loop.aggressors = aggressor_count()
    return loop.aggressors


cdef inline int _advance_venue(ReplayLoop loop, Route route, int64_t ts) except -1:
    # The venue's advance_time(ts): its C body for an ExchangeCore that does not override it.
    # What it takes from its queues moves venue_next later: every route reads it again
    # (the venue may be that of several routes: deltas and trades; see _venue_held).
    loop.venue_advances += 1
    if route.direct:
        return (<ExchangeCore>route.exchange)._advance(ts)
    route.exchange.advance_time(ts)
    return 0


cdef inline bint _venue_held(ReplayLoop loop, Route route) noexcept:
    # Whether route.venue_next, read at an earlier epoch, still holds after Python ran, so
    # that it need not be read again (what a listener's every row would cost): for an
    # ExchangeCore venue of one core, when the venue queued nothing since (each command
    # and event it queues counts in its _sequence), the loop did not advance a venue, and
    # the core's next expiry is not earlier. What Python can do otherwise only moves the
    # venue's work later (a command or event taken from the queues, an order closed):
    # venue_next is then early, which costs a _venue_due check, never a missed command.
    return (
        route.direct and route.sole_core
        and (<ExchangeCore>route.exchange)._sequence == route.venue_sequence
        and loop.venue_advances == route.venue_advances
        and route.core._next_expiry >= route.venue_next
    )


cdef inline int _apply_delta_row(
    MatchingCore core, object book, const DeltaRow* delta, int64_t ts
) except -1:
    # The core's usual delta compiled in here (matching.pxd), the others by its method.
    # Called from _quiet_rows' loop only, so that the C compiler inlines it there (a
    # function called once is inlined whatever its size; the call cost ~25 instructions
    # a row); _apply_row, for the rows that are not quiet, calls the core's method.
    return apply_delta_inline(
        core, book, delta.action, delta.side, delta.price, delta.size, delta.order_id, ts,
        delta.sequence, delta.ts_event,
    )


cdef inline int _apply_row(MatchingCore core, int kind, const char* row, int64_t ts) except -1:
    cdef const TradeRow* trade
    cdef const DeltaRow* delta
    cdef const QuoteRow* quote
    cdef const BarRow* bar
    if kind == KIND_TRADES:
        trade = <const TradeRow*>row
        return apply_trade_inline(core, trade.price, trade.size, trade.aggressor_side, ts)
    if kind == KIND_DELTAS:
        delta = <const DeltaRow*>row
        return core.apply_delta_c(
            delta.action, delta.side, delta.price, delta.size, delta.order_id, ts,
            delta.sequence, delta.ts_event,
        )
    if kind == KIND_QUOTES:
        quote = <const QuoteRow*>row
        return core.apply_quote_c(
            quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size, ts
        )
    bar = <const BarRow*>row
    return core.apply_bar_c(bar.open, bar.high, bar.low, bar.close, bar.volume, ts)


cdef int _apply_object(MatchingCore core, int kind, object d, int64_t ts) except -1:
    if kind == KIND_TRADES:
        return core.apply_trade_c(d.price.raw, d.size.raw, int(d.aggressor_side), ts)
    if kind == KIND_DELTAS:
        return core.apply_delta_c(
            int(d.action), int(d.side), d.price.raw, d.size.raw, d.order_id, ts, d.sequence,
            d.ts_event,
        )
    if kind == KIND_QUOTES:
        return core.apply_quote_c(
            d.bid_price.raw, d.bid_size.raw, d.ask_price.raw, d.ask_size.raw, ts
        )
    return core.apply_bar_c(
        d.open.raw, d.high.raw, d.low.raw, d.close.raw, d.volume.raw, ts
    )


cdef inline int _apply_book_row(OrderBook book, const char* row, int64_t ts) except -1:
    cdef const DeltaRow* delta = <const DeltaRow*>row
    book._apply(
        delta.action, delta.side, delta.price, delta.size, delta.order_id, delta.sequence,
        delta.ts_event,
    )
    return 0


cdef inline bint _before(_Cursor a, _Cursor b) noexcept:
    if a.ts != b.ts:
        return a.ts < b.ts
    return _rank_before(a, b)


cdef inline bint _rank_before(_Cursor a, _Cursor b) noexcept:
    # At equal times: by rank (the kind of rows), then by source.
    if a.rank != b.rank:
        return a.rank < b.rank
    return a.index < b.index


# --- Rows from columns (the catalog's reader) -------------------------------------------------

cdef enum:
    FILL_COLUMNS_MAX = 16   # fields of the widest zq.data.arrays layout, with room to spare


def fill_columns(cnp.ndarray out, Py_ssize_t offset, list columns):
    """Copy columns into the fields of the rows ``out[offset:]``; return the rows copied.

    ``out``: a 1-D C-contiguous structured array (a layout of ``zq.data.arrays``);
    ``columns``: ``(array, field_offset)`` pairs, each array 1-D, C-contiguous, of exactly
    the dtype of the field at byte ``field_offset`` of a row (the caller checks the dtypes),
    all of one length that fits in ``out`` from ``offset``. The copy, row by row, runs without
    the GIL: a reader thread holds it only to call this, not once per column.
    """
    cdef Py_ssize_t ncols = len(columns)
    cdef Py_ssize_t rows = 0
    cdef Py_ssize_t stride, c, i
    cdef const char* sources[FILL_COLUMNS_MAX]
    cdef Py_ssize_t places[FILL_COLUMNS_MAX]
    cdef Py_ssize_t sizes[FILL_COLUMNS_MAX]
    cdef char* target
    cdef cnp.ndarray column
    if cnp.PyArray_NDIM(out) != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(out):
        raise ValueError("fill_columns: out must be a 1-D C-contiguous array")
    if ncols > FILL_COLUMNS_MAX:
        raise ValueError(f"fill_columns: {ncols} columns, at most {FILL_COLUMNS_MAX}")
    stride = cnp.PyArray_ITEMSIZE(out)
    for c in range(ncols):
        column, place = columns[c]
        if cnp.PyArray_NDIM(column) != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(column):
            raise ValueError("fill_columns: each column must be a 1-D C-contiguous array")
        if c == 0:
            rows = cnp.PyArray_DIM(column, 0)
        elif cnp.PyArray_DIM(column, 0) != rows:
            raise ValueError(
                f"fill_columns: column {c} has {cnp.PyArray_DIM(column, 0)} rows, "
                f"column 0 has {rows}"
            )
        sizes[c] = cnp.PyArray_ITEMSIZE(column)
        places[c] = place
        if places[c] < 0 or places[c] + sizes[c] > stride:
            raise ValueError(f"fill_columns: column {c} does not fit a row of {stride} bytes")
        sources[c] = <const char*>cnp.PyArray_DATA(column)
    if offset < 0 or offset + rows > cnp.PyArray_DIM(out, 0):
        raise ValueError(
            f"fill_columns: {rows} rows from {offset} do not fit {cnp.PyArray_DIM(out, 0)}"
        )
    target = <char*>cnp.PyArray_DATA(out) + offset * stride
    with nogil:
        for i in range(rows):
            for c in range(ncols):
                if sizes[c] == 8:
                    memcpy(target + places[c], sources[c] + i * 8, 8)
                elif sizes[c] == 1:
                    target[places[c]] = sources[c][i]
                else:
                    memcpy(target + places[c], sources[c] + i * sizes[c], sizes[c])
            target += stride
    return rows
