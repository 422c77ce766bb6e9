"""The compiled part of the simulated exchange: commands in flight, order records, events.

``zq.backtest.exchange.SimulatedExchange`` subclasses :class:`ExchangeCore`: it validates
its arguments, builds one MatchingCore per instrument and the models, and hands this class
the zq types it builds events of (``zq_core`` never imports ``zq``). ExchangeCore then does
the per-order work: it queues commands by latency, makes an OrderRecord per order, calls the
matching cores through their C entry points, reads their reports in place, and turns them
into order events (the maker/taker commission on raw ints), delivered after the
acknowledgement latency.

Time: a command that arrives at the same nanosecond as a market update is processed before
it; events and commands due at the same nanosecond go in the order they were sent or made.
"""

from types import MemberDescriptorType

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject
from libc.stdint cimport INT64_MIN, int64_t, uint64_t
from libc.string cimport memcpy

from zq_core.fixed cimport (
    Price,
    Quantity,
    money_from_raw_c,
    price_from_raw_c,
    quantity_from_raw_c,
)
from zq_core.matching cimport (
    K_ACCEPTED,
    K_CANCEL_REJECTED,
    K_CANCELED,
    K_EXPIRED,
    K_FILLED,
    K_MODIFY_REJECTED,
    K_REJECTED,
    K_TRIGGERED,
    K_UPDATED,
    MatchingCore,
    Report,
    SimOrder,
)

__all__ = ["ZQ_TYPES", "ExchangeCore", "Listing", "OrderRecord"]

# The names of the zq types ExchangeCore reads commands of and builds events of (its
# ``types`` argument).
ZQ_TYPES = (
    "SubmitOrder",
    "OrderInitialized",
    "ModifyOrder",
    "CancelOrder",
    "OrderAccepted",
    "OrderRejected",
    "OrderFilled",
    "OrderCanceled",
    "OrderExpired",
    "OrderTriggered",
    "OrderUpdated",
    "OrderModifyRejected",
    "OrderCancelRejected",
    "TraderId",
    "StrategyId",
    "VenueOrderId",
    "TradeId",
    "MAKER",
    "TAKER",
)

cdef enum:
    # Kinds of in-flight commands.
    SUBMIT = 0
    MODIFY = 1
    CANCEL = 2
    CANCEL_ALL = 3
    # Reports copied to the stack per collect (more go to the heap).
    LOCAL_REPORTS = 8

cdef int64_t[19] POW10 = [
    1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000,
    1_000_000_000, 10_000_000_000, 100_000_000_000, 1_000_000_000_000,
    10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000,
    10_000_000_000_000_000, 100_000_000_000_000_000, 1_000_000_000_000_000_000,
]

# The fields of a SubmitOrder and an OrderInitialized that a submit reads, of a ModifyOrder
# and a CancelOrder that a modify and a cancel read, in the order of their slots in
# ExchangeCore._submit_slots, ._order_slots, ._modify_slots and ._cancel_slots.
cdef tuple SUBMIT_FIELDS = ("ts_init", "order")
cdef tuple MODIFY_FIELDS = (
    "ts_init", "instrument_id", "client_order_id", "quantity", "price", "trigger_price"
)
cdef tuple CANCEL_FIELDS = MODIFY_FIELDS[:3]
cdef tuple ORDER_FIELDS = (
    "instrument_id", "client_order_id", "trader_id", "strategy_id", "side", "order_type",
    "quantity", "time_in_force", "price", "trigger_price", "trigger_type", "expire_time_ns",
    "post_only", "reduce_only",
)
cdef enum:
    # Indices in SUBMIT_FIELDS,
    S_TS_INIT = 0
    S_ORDER = 1
    # ... and in ORDER_FIELDS.
    O_INSTRUMENT_ID = 0
    O_CLIENT_ORDER_ID = 1
    O_TRADER_ID = 2
    O_STRATEGY_ID = 3
    O_SIDE = 4
    O_ORDER_TYPE = 5
    O_QUANTITY = 6
    O_TIME_IN_FORCE = 7
    O_PRICE = 8
    O_TRIGGER_PRICE = 9
    O_TRIGGER_TYPE = 10
    O_EXPIRE_TIME_NS = 11
    O_POST_ONLY = 12
    O_REDUCE_ONLY = 13
    # ... and in MODIFY_FIELDS (CANCEL_FIELDS: the first three).
    C_TS_INIT = 0
    C_INSTRUMENT_ID = 1
    C_CLIENT_ORDER_ID = 2
    C_QUANTITY = 3
    C_PRICE = 4
    C_TRIGGER_PRICE = 5

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    int T_OBJECT_EX

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


cdef bint slot_offsets(object cls, tuple names, Py_ssize_t* offsets) except -1:
    # Where instances of ``cls`` hold the fields ``names`` (msgspec Structs keep them in
    # slots); false, with the offsets unset, when one is not a plain object slot.
    cdef Py_ssize_t i
    cdef PyMemberDef* member
    for i in range(len(names)):
        descriptor = getattr(cls, names[i], None)
        if type(descriptor) is not MemberDescriptorType:
            return 0
        member = (<PyMemberDescrObject*><PyObject*>descriptor).d_member
        if member.type != T_OBJECT_EX:
            return 0
        offsets[i] = member.offset
    return 1


cdef inline object field(object obj, bint in_slots, Py_ssize_t offset, str name):
    # A field read from its slot when ``in_slots`` (obj's type is the one the offsets were
    # taken from), else by name; an unset slot raises AttributeError through getattr.
    cdef PyObject* value
    if in_slots:
        value = (<PyObject**>((<char*><PyObject*>obj) + offset))[0]
        if value != NULL:
            return <object>value
    return getattr(obj, name)

cdef extern from *:
    """
    /* str.__new__(cls, *args) without the wrapper's checks and argument slicing: cls is
       an identifier type, a str subclass whose instances are plain str data. */
    static PyObject* zq_str_subtype(PyObject* cls, PyObject* args) {
        return PyUnicode_Type.tp_new((PyTypeObject*)cls, args, NULL);
    }

    /* cls(f"{prefix}{n}") for an ASCII prefix: the digits written straight into the str
       (no int object, no str of it, no concatenation); NULL with an error set on failure.
       On CPython 3.11 the instance is built as str.__new__(cls, value) builds it for an
       ASCII value (unicode_subtype_new): from cls's allocator, its characters in a block of
       their own that is also its UTF-8, hash not computed; without the plain str, the
       argument tuple and str.__new__'s argument parsing in between. */
    static PyObject* zq_numbered_id(PyObject* cls, PyObject* prefix, unsigned long long n) {
        char digits[20];
        Py_ssize_t count = 0, length;
        PyObject *plain, *args, *id;
        do {
            digits[sizeof(digits) - 1 - count++] = (char)('0' + n % 10);
            n /= 10;
        } while (n);
        length = PyUnicode_GET_LENGTH(prefix);
    #if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
        if (cls != (PyObject*)&PyUnicode_Type
                && PyType_FastSubclass((PyTypeObject*)cls, Py_TPFLAGS_UNICODE_SUBCLASS)) {
            Py_ssize_t total = length + count;
            Py_UCS1* data = (Py_UCS1*)PyObject_Malloc(total + 1);
            PyUnicodeObject* self;
            if (data == NULL) return PyErr_NoMemory();
            self = (PyUnicodeObject*)((PyTypeObject*)cls)->tp_alloc((PyTypeObject*)cls, 0);
            if (self == NULL) {
                PyObject_Free(data);
                return NULL;
            }
            memcpy(data, PyUnicode_1BYTE_DATA(prefix), length);
            memcpy(data + length, digits + sizeof(digits) - count, count);
            data[total] = 0;
            self->_base._base.length = total;
            self->_base._base.hash = -1;
            self->_base._base.state.interned = 0;
            self->_base._base.state.kind = PyUnicode_1BYTE_KIND;
            self->_base._base.state.compact = 0;
            self->_base._base.state.ascii = 1;
            self->_base._base.state.ready = 1;
            self->_base._base.wstr = NULL;
            self->_base.utf8_length = total;
            self->_base.utf8 = (char*)data;
            self->_base.wstr_length = 0;
            self->data.any = data;
            return (PyObject*)self;
        }
    #endif
        plain = PyUnicode_New(length + count, 127);
        if (plain == NULL) return NULL;
        memcpy(PyUnicode_1BYTE_DATA(plain), PyUnicode_1BYTE_DATA(prefix), length);
        memcpy(PyUnicode_1BYTE_DATA(plain) + length, digits + sizeof(digits) - count, count);
        args = PyTuple_Pack(1, plain);
        Py_DECREF(plain);
        if (args == NULL) return NULL;
        id = PyUnicode_Type.tp_new((PyTypeObject*)cls, args, NULL);
        Py_DECREF(args);
        return id;
    }
    """
    object str_subtype "zq_str_subtype" (object cls, tuple args)
    object numbered_id "zq_numbered_id" (object cls, str prefix, unsigned long long n)

cdef extern from *:
    # GCC/Clang: the product in ``result``, true when it overflowed.
    bint mul_overflow "__builtin_mul_overflow" (int64_t a, int64_t b, int64_t* result) noexcept
    # ... and the sum.
    bint add_overflow "__builtin_add_overflow" (int64_t a, int64_t b, int64_t* result) noexcept


# The queues of commands in flight and of undelivered events: binary heaps (the algorithm of
# heapq) of tuples (time, sequence, ...), ordered as heapq orders them: the sequences are
# unique, so two tuples never tie on both. The times and sequences are read in C.

cdef inline bint _earlier(tuple a, tuple b) except -1:
    cdef int64_t at = a[0]
    cdef int64_t bt = b[0]
    if at != bt:
        return at < bt
    return <uint64_t>a[1] < <uint64_t>b[1]


cdef int _heap_push(list heap, tuple item) except -1:
    # heapq.heappush(heap, item).
    cdef Py_ssize_t at = len(heap)
    cdef Py_ssize_t up
    cdef tuple parent
    heap.append(item)
    while at > 0:
        up = (at - 1) >> 1
        parent = <tuple>heap[up]
        if not _earlier(item, parent):
            break
        heap[at] = parent
        at = up
    heap[at] = item
    return 0


cdef tuple _heap_pop(list heap):
    # heapq.heappop(heap) of a non-empty heap: the last item moved to the top and sifted down.
    cdef tuple last = <tuple>heap.pop()
    cdef tuple top
    cdef Py_ssize_t count = len(heap)
    cdef Py_ssize_t at = 0
    cdef Py_ssize_t child
    if count == 0:
        return last
    top = <tuple>heap[0]
    while True:
        child = 2 * at + 1
        if child >= count:
            break
        if child + 1 < count and _earlier(<tuple>heap[child + 1], <tuple>heap[child]):
            child += 1
        if not _earlier(<tuple>heap[child], last):
            break
        heap[at] = heap[child]
        at = child
    heap[at] = last
    return top


cdef bint linear_fee(
    int64_t quantity, int64_t price, int64_t multiplier, int64_t coefficient, int shift,
    int64_t* raw,
) noexcept:
    # quantity * price * multiplier * coefficient / 10**shift, rounded half-even on the
    # magnitude (as Decimal.quantize), in ``raw[0]``; false when a step leaves int64 (the
    # caller then asks the fee model, which decides in Decimal).
    cdef int64_t product, unit, quotient, remainder
    cdef bint negative
    if (
        mul_overflow(quantity, price, &product)
        or mul_overflow(product, multiplier, &product)
        or mul_overflow(product, coefficient, &product)
        or product == INT64_MIN
    ):
        return 0
    negative = product < 0
    if negative:
        product = -product
    if shift <= 0:
        if -shift > 18 or mul_overflow(product, POW10[-shift], &quotient):
            return 0
    else:
        if shift > 18:
            return 0
        unit = POW10[shift]
        quotient = product // unit  # both non-negative: C and Python division agree
        remainder = product - quotient * unit
        if 2 * remainder > unit or (2 * remainder == unit and quotient & 1):
            quotient += 1
    raw[0] = -quotient if negative else quotient
    return 1


cdef class Listing:
    """One instrument of an ExchangeCore: its matching core and its fee terms (internal)."""

    def __init__(self):
        raise TypeError("Listing is internal: ExchangeCore._add_listing creates it")


@cython.no_gc  # the order, ids and enum members: no cycles possible
cdef class OrderRecord:
    """What the exchange keeps of one order (internal; read-only from Python)."""

    def __init__(self):
        raise TypeError("OrderRecord is internal: the exchange creates it per order")


cdef class ExchangeCore:
    """The per-order work of a simulated venue (see zq.backtest.exchange.SimulatedExchange).

    Parameters
    ----------
    venue : Venue
        The venue simulated.
    account_id : AccountId
        Stamped on the events.
    on_event : callable
        Receives every order event, in order, at its delivery time.
    types : dict
        The zq types of EVENT_TYPES by name (MAKER and TAKER: the LiquiditySide members).
    """

    def __init__(self, venue, account_id, on_event, dict types not None):
        missing = [name for name in ZQ_TYPES if name not in types]
        if missing:
            raise ValueError(f"types lacks {', '.join(missing)}")
        self.venue = venue
        self.account_id = account_id
        self._on_event = on_event
        self._id_prefix = f"{venue}-"
        self._ascii_prefix = self._id_prefix.isascii()
        self.ts_now = 0
        self._inbound = []
        self._outbound = []
        self._records = {}
        self._by_core_id = [None]
        self._listings = {}
        self._listing_list = []
        self._fixed_latency = True
        # Commands and orders of exactly these types are read from their slots.
        submit_type = types["SubmitOrder"]
        order_type = types["OrderInitialized"]
        self._submit_type = (
            submit_type if slot_offsets(submit_type, SUBMIT_FIELDS, self._submit_slots) else None
        )
        self._order_type = (
            order_type if slot_offsets(order_type, ORDER_FIELDS, self._order_slots) else None
        )
        modify_type = types["ModifyOrder"]
        cancel_type = types["CancelOrder"]
        self._modify_type = (
            modify_type if slot_offsets(modify_type, MODIFY_FIELDS, self._modify_slots) else None
        )
        self._cancel_type = (
            cancel_type if slot_offsets(cancel_type, CANCEL_FIELDS, self._cancel_slots) else None
        )
        self._accepted = types["OrderAccepted"]
        self._rejected = types["OrderRejected"]
        self._filled = types["OrderFilled"]
        self._canceled = types["OrderCanceled"]
        self._expired = types["OrderExpired"]
        self._triggered = types["OrderTriggered"]
        self._updated = types["OrderUpdated"]
        self._modify_rejected = types["OrderModifyRejected"]
        self._cancel_rejected = types["OrderCancelRejected"]
        self._trader_id_type = types["TraderId"]
        self._strategy_id_type = types["StrategyId"]
        self._venue_order_id_type = types["VenueOrderId"]
        self._trade_id_type = types["TradeId"]
        self._maker = types["MAKER"]
        self._taker = types["TAKER"]

    # --- Setup (the Python layer) ----------------------------------------------------------------

    def _use_latency_model(
        self, model, bint fixed, int64_t entry_ns=0, int64_t cancel_ns=0, int64_t ack_ns=0
    ):
        # ``fixed``: a constant latency, read from the ns arguments; otherwise the model's
        # entry(), cancel() and ack() are called per command and event.
        self._latency = model
        self._fixed_latency = fixed
        self._entry_ns = entry_ns
        self._cancel_ns = cancel_ns
        self._ack_ns = ack_ns

    def _use_fee_model(self, model):
        self._fees = model

    def _add_listing(self, instrument_id, instrument, MatchingCore core not None):
        cdef Listing listing = Listing.__new__(Listing)
        listing.instrument_id = instrument_id
        listing.instrument = instrument
        listing.core = core
        listing.size_precision = core.size_precision
        listing.price_precision = core.price_precision
        self._listings[instrument_id] = listing
        self._listing_list.append(listing)
        self._last_key = None  # the listing of an id may have changed
        self._last_listing = None

    def _set_fee_terms(self, instrument_id, terms):
        # ``terms``: (multiplier raw, maker coefficient, maker shift, taker coefficient,
        # taker shift, currency) for the raw-int commission, or None (the fee model is asked).
        cdef Listing listing = self._listings[instrument_id]
        listing.raw_fees = terms is not None
        if terms is not None:
            (
                listing.multiplier, listing.maker_coefficient, listing.maker_shift,
                listing.taker_coefficient, listing.taker_shift, listing.currency,
            ) = terms

    def set_event_handler(self, on_event):
        """Send the events to ``on_event`` from now on."""
        self._on_event = on_event

    def core(self, instrument_id):
        """Return the matching core of an instrument."""
        return (<Listing>self._listings[instrument_id]).core

    def cores(self):
        """Return the matching cores, one per instrument, in the order they were added."""
        cdef Listing listing
        return [listing.core for listing in self._listing_list]

    # --- Market data ---------------------------------------------------------------------------

    def process_quote(self, quote):
        """Advance to the quote's ``ts_init`` and apply it (an L1 venue)."""
        cdef int64_t ts = quote.ts_init
        self._advance(ts)
        cdef Listing listing = self._listings[quote.instrument_id]
        listing.core.apply_quote_c(
            quote.bid_price.raw, quote.bid_size.raw, quote.ask_price.raw, quote.ask_size.raw, ts
        )
        self._collect(listing)

    def process_trade(self, trade):
        """Advance to the trade's ``ts_init`` and apply it."""
        cdef int64_t ts = trade.ts_init
        self._advance(ts)
        cdef Listing listing = self._listings[trade.instrument_id]
        listing.core.apply_trade_c(trade.price.raw, trade.size.raw, trade.aggressor_side, ts)
        self._collect(listing)

    def process_delta(self, delta):
        """Advance to the delta's ``ts_init`` and apply it (an L2 or L3 venue)."""
        cdef int64_t ts = delta.ts_init
        self._advance(ts)
        cdef Listing listing = self._listings[delta.instrument_id]
        listing.core.apply_delta_c(
            delta.action, delta.side, delta.price.raw, delta.size.raw, delta.order_id, ts, 0, ts
        )
        self._collect(listing)

    def process_deltas(self, deltas):
        """Apply deltas one by one."""
        for delta in deltas:
            self.process_delta(delta)

    def process_delta_array(self, instrument_id, rows):
        """Apply a DELTA_DTYPE array (sorted by ``ts_init``) of one instrument's deltas.

        Rows go to the matching core in runs between the arrivals of in-flight commands, so
        a command lands between the same two rows as on the per-object path. Events the
        core produces within a run are delivered when the run ends (in the same order).
        """
        cdef Listing listing = self._listings[instrument_id]
        cdef Py_ssize_t start = 0
        cdef Py_ssize_t count = len(rows)
        cdef Py_ssize_t end
        cdef int64_t last
        stamps = rows["ts_init"]
        while start < count:
            self._advance(stamps[start])
            due = self._next_due()
            end = count if due is None else stamps.searchsorted(due, side="left")
            if end < start + 1:
                end = start + 1
            listing.core.apply_deltas(rows[start:end])
            last = stamps[end - 1]
            if last > self.ts_now:
                self.ts_now = last
            self._collect(listing)
            start = end

    def process_bar(self, bar):
        """Advance to the bar's ``ts_init`` and sweep it (an L1 venue), stamped at the close."""
        cdef int64_t ts = bar.ts_init
        self._advance(ts)
        cdef Listing listing = self._listings[bar.bar_type.instrument_id]
        listing.core.apply_bar_c(
            bar.open.raw, bar.high.raw, bar.low.raw, bar.close.raw, bar.volume.raw, ts
        )
        self._collect(listing)

    # --- Commands ------------------------------------------------------------------------------

    def submit(self, command, ts_init=None):
        """Send an order; it reaches the matching core after the entry latency."""
        cdef int64_t ts = (
            field(command, type(command) is self._submit_type, self._submit_slots[S_TS_INIT],
                  "ts_init")
            if ts_init is None else ts_init
        )
        cdef int64_t entry = (
            self._entry_ns if self._fixed_latency else <int64_t>self._latency.entry()
        )
        self._send(ts + entry, SUBMIT, command, ts)

    def modify(self, command):
        """Send a modify; it reaches the matching core after the entry latency."""
        cdef int64_t ts = field(
            command, type(command) is self._modify_type, self._modify_slots[C_TS_INIT], "ts_init"
        )
        cdef int64_t entry = (
            self._entry_ns if self._fixed_latency else <int64_t>self._latency.entry()
        )
        self._send(ts + entry, MODIFY, command, ts)

    def cancel(self, command):
        """Send a cancel; it reaches the matching core after the cancel latency."""
        cdef int64_t ts = field(
            command, type(command) is self._cancel_type, self._cancel_slots[C_TS_INIT], "ts_init"
        )
        cdef int64_t latency = (
            self._cancel_ns if self._fixed_latency else <int64_t>self._latency.cancel()
        )
        self._send(ts + latency, CANCEL, command, ts)

    def cancel_all(self, command):
        """Send a cancel of every open order of an instrument (of one side, if given)."""
        cdef int64_t ts = command.ts_init
        cdef int64_t latency = (
            self._cancel_ns if self._fixed_latency else <int64_t>self._latency.cancel()
        )
        self._send(ts + latency, CANCEL_ALL, command, ts)

    def advance_time(self, int64_t ts):
        """Process the commands that arrive and deliver the events that are due by ``ts``.

        A command that arrives at the same nanosecond as a market update is processed
        before it.
        """
        self._advance(ts)

    def _next_due(self):
        # The time of the next in-flight command or undelivered event, if any.
        times = [queue[0][0] for queue in (self._inbound, self._outbound) if queue]
        return min(times) if times else None

    # --- Internals -----------------------------------------------------------------------------

    cdef int _send(self, int64_t arrival, int kind, object command, int64_t ts) except -1:
        cdef int64_t now = self.ts_now if self.ts_now > ts else ts
        self._sequence += 1
        if arrival <= now and not self._inbound and not self._outbound:
            # Nothing queued ahead of it: it arrives now, as _advance would pop it first.
            if arrival > self.ts_now:
                self.ts_now = arrival
            self._arrive(arrival, kind, command)
            if not self._inbound and not self._outbound:
                # Still nothing queued: _advance(now) would only move the clock and the
                # cores (the usual case, done here without its queue checks).
                if now > self.ts_now:
                    self.ts_now = now
                self._advance_cores(now)
                return 0
        else:
            _heap_push(self._inbound, (arrival, self._sequence, kind, command))
        self._advance(now)
        return 0

    cdef int _advance(self, int64_t ts) except -1:
        cdef list inbound = self._inbound
        cdef list outbound = self._outbound
        cdef tuple head
        cdef int64_t in_at = 0
        cdef int64_t out_at = 0
        cdef uint64_t in_sequence = 0
        cdef uint64_t out_sequence = 0
        while True:
            if inbound:
                head = <tuple>inbound[0]
                in_at = head[0]
                in_sequence = head[1]
            if outbound:
                head = <tuple>outbound[0]
                out_at = head[0]
                out_sequence = head[1]
            if inbound and in_at <= ts and (
                not outbound or in_at < out_at or (in_at == out_at and in_sequence < out_sequence)
            ):
                head = _heap_pop(inbound)
                if in_at > self.ts_now:
                    self.ts_now = in_at
                self._arrive(in_at, head[2], head[3])
            elif outbound and out_at <= ts:
                head = _heap_pop(outbound)
                self._on_event(head[2])
            else:
                break
        if ts > self.ts_now:
            self.ts_now = ts
        self._advance_cores(ts)
        return 0

    cdef int _advance_cores(self, int64_t ts) except -1:
        # Expire the cores' GTD and DAY orders due by ``ts``.
        cdef Listing listing
        for listing in self._listing_list:
            listing.core._expire(ts)
            self._collect(listing)
        return 0

    cdef int _arrive(self, int64_t ts, int kind, object command) except -1:
        cdef Listing listing
        cdef OrderRecord record
        cdef bint slots
        cdef Py_ssize_t* at
        if kind == SUBMIT:
            return self._arrive_submit(ts, command)
        if kind == CANCEL_ALL:
            listing = self._listings.get(command.instrument_id)
            if listing is not None:
                listing.core.cancel_all_c(command.order_side, ts)
                self._collect(listing)
            return 0
        if kind == MODIFY:
            slots = type(command) is self._modify_type
            at = self._modify_slots
        else:
            slots = type(command) is self._cancel_type
            at = self._cancel_slots
        listing = self._listing_of(field(command, slots, at[C_INSTRUMENT_ID], "instrument_id"))
        record = self._records.get(
            field(command, slots, at[C_CLIENT_ORDER_ID], "client_order_id")
        )
        if record is None or listing is None:
            refusal = self._modify_rejected if kind == MODIFY else self._cancel_rejected
            self._emit(ts, refusal(
                self._trader_id_type(command.trader_id),
                self._strategy_id_type(command.strategy_id),
                command.instrument_id,
                command.client_order_id,
                ts,  # ts_event
                ts,  # ts_init
                f"unknown order {command.client_order_id}",
            ))
            return 0
        if kind == MODIFY:
            quantity = field(command, slots, at[C_QUANTITY], "quantity")
            price = field(command, slots, at[C_PRICE], "price")
            trigger = field(command, slots, at[C_TRIGGER_PRICE], "trigger_price")
            listing.core.modify_c(
                record.core_id,
                quantity is not None, 0 if quantity is None else (<Quantity?>quantity).raw,
                price is not None, 0 if price is None else (<Price?>price).raw,
                trigger is not None, 0 if trigger is None else (<Price?>trigger).raw,
                ts,
            )
        else:
            listing.core.cancel_c(record.core_id, ts)
        self._collect(listing)
        return 0

    cdef int _arrive_submit(self, int64_t ts, object command) except -1:
        cdef OrderRecord record
        cdef Py_ssize_t* at = self._order_slots
        order = field(
            command, type(command) is self._submit_type, self._submit_slots[S_ORDER], "order"
        )
        cdef bint slots = type(order) is self._order_type
        instrument_id = field(order, slots, at[O_INSTRUMENT_ID], "instrument_id")
        client_order_id = field(order, slots, at[O_CLIENT_ORDER_ID], "client_order_id")
        cdef Listing listing = self._listing_of(instrument_id)
        if listing is None or client_order_id in self._records:
            self._emit(ts, self._rejected(
                self._trader_id_type(order.trader_id),
                self._strategy_id_type(order.strategy_id),
                instrument_id,
                client_order_id,
                ts,  # ts_event
                ts,  # ts_init
                self.account_id,
                (
                    f"instrument {instrument_id} is not traded on {self.venue}"
                    if listing is None
                    else f"duplicate client order id {client_order_id}"
                ),
            ))
            return 0
        self._order_count += 1
        record = OrderRecord.__new__(OrderRecord)
        record.order = order
        record.core_id = self._order_count
        # The ids as their own types (a decoded event may hold plain strings), checked once;
        # the venue order id in its checked form (SimulatedExchange checks the longest).
        record.venue_order_id = self._numbered(self._venue_order_id_type, self._order_count)
        trader_id = field(order, slots, at[O_TRADER_ID], "trader_id")
        record.trader_id = (
            trader_id if type(trader_id) is self._trader_id_type
            else self._trader_id_type(trader_id)
        )
        strategy_id = field(order, slots, at[O_STRATEGY_ID], "strategy_id")
        record.strategy_id = (
            strategy_id if type(strategy_id) is self._strategy_id_type
            else self._strategy_id_type(strategy_id)
        )
        record.instrument_id = instrument_id
        record.client_order_id = client_order_id
        record.side = field(order, slots, at[O_SIDE], "side")
        record.order_type = field(order, slots, at[O_ORDER_TYPE], "order_type")
        self._records[client_order_id] = record
        self._by_core_id.append(record)  # at index core_id
        price = field(order, slots, at[O_PRICE], "price")
        trigger = field(order, slots, at[O_TRIGGER_PRICE], "trigger_price")
        expire = field(order, slots, at[O_EXPIRE_TIME_NS], "expire_time_ns")
        listing.core.submit_c(  # the enums pass as the core's C ints
            record.core_id,
            record.side,
            record.order_type,
            field(order, slots, at[O_TIME_IN_FORCE], "time_in_force"),
            (<Quantity?>field(order, slots, at[O_QUANTITY], "quantity")).raw,
            price is not None,
            0 if price is None else (<Price?>price).raw,
            trigger is not None,
            0 if trigger is None else (<Price?>trigger).raw,
            field(order, slots, at[O_TRIGGER_TYPE], "trigger_type"),
            0 if expire is None else expire,
            field(order, slots, at[O_POST_ONLY], "post_only"),
            field(order, slots, at[O_REDUCE_ONLY], "reduce_only"),
            ts,
        )
        self._collect(listing)
        return 0

    cdef int _collect(self, Listing listing) except -1:
        # Turn the core's reports into events, delivered after the acknowledgement latency.
        # The reports are taken first: an event handler may send a command that makes more.
        cdef MatchingCore core = listing.core
        cdef Py_ssize_t count = core._reports
        cdef Report local[LOCAL_REPORTS]
        cdef Report* reports = local
        cdef Report* report
        cdef OrderRecord record
        cdef list reasons
        cdef Py_ssize_t i
        if count == 0:
            return 0
        if count > LOCAL_REPORTS:
            reports = <Report*>PyMem_Malloc(count * sizeof(Report))
            if reports == NULL:
                raise MemoryError()
        memcpy(reports, core._report_buf, count * sizeof(Report))
        core._reports = 0
        reasons = core._reasons
        if reasons:
            core._reasons = []
        try:
            for i in range(count):
                report = &reports[i]
                if report.kind == K_ACCEPTED:  # the most frequent, built here
                    record = self._record(report.order_id)
                    ts = report.ts
                    event = self._accepted(
                        record.trader_id,
                        record.strategy_id,
                        record.instrument_id,
                        record.client_order_id,
                        ts,  # ts_event
                        ts,  # ts_init
                        record.venue_order_id,
                        self.account_id,
                    )
                elif report.kind == K_FILLED:
                    event = self._fill(listing, self._record(report.order_id), report)
                else:
                    event = self._event(listing, report, reasons)
                self._emit(report.ts, event)
        finally:
            if reports != local:
                PyMem_Free(reports)
        return 0

    cdef Listing _listing_of(self, object instrument_id):
        # The listing of an instrument id, or None; the last one found is kept with the
        # very id object it was found by (orders and commands of one strategy share it).
        if instrument_id is self._last_key and instrument_id is not None:
            return self._last_listing
        cdef Listing listing = self._listings.get(instrument_id)
        if listing is not None:
            self._last_key = instrument_id
            self._last_listing = listing
        return listing

    cdef object _numbered(self, object cls, uint64_t n):
        # cls(f"{venue}-{n}"): a venue order id or trade id.
        if self._ascii_prefix:
            return numbered_id(cls, self._id_prefix, n)
        return str_subtype(cls, (f"{self._id_prefix}{n}",))

    cdef OrderRecord _record(self, uint64_t core_id):
        # The record of a core's order id (KeyError: not an order of this exchange).
        if core_id == 0 or core_id > self._order_count:
            raise KeyError(core_id)
        return <OrderRecord>self._by_core_id[core_id]

    cdef object _fill(self, Listing listing, OrderRecord record, Report* report):
        cdef Quantity last_qty = quantity_from_raw_c(report.quantity, listing.size_precision)
        cdef Price last_px = price_from_raw_c(report.price, listing.price_precision)
        liquidity = self._maker if report.maker else self._taker
        self._trade_count += 1
        trade_id = self._numbered(self._trade_id_type, self._trade_count)
        ts = report.ts
        return self._filled(  # positional: the field order of OrderFilled
            record.trader_id,
            record.strategy_id,
            record.instrument_id,
            record.client_order_id,
            ts,  # ts_event
            ts,  # ts_init
            record.venue_order_id,
            self.account_id,
            trade_id,
            record.side,
            record.order_type,
            last_qty,
            last_px,
            self._commission(listing, last_qty, last_px, report.maker, liquidity),
            liquidity,
        )

    cdef object _commission(
        self, Listing listing, Quantity quantity, Price price, bint maker, object liquidity
    ):
        cdef int64_t raw
        if listing.raw_fees and linear_fee(
            quantity.raw,
            price.raw,
            listing.multiplier,
            listing.maker_coefficient if maker else listing.taker_coefficient,
            listing.maker_shift if maker else listing.taker_shift,
            &raw,
        ):
            return money_from_raw_c(raw, listing.currency)
        return self._fees.commission(listing.instrument, quantity, price, liquidity)

    cdef object _event(self, Listing listing, Report* report, list reasons):
        # The events of the other reports (acceptances and fills: see _collect).
        cdef OrderRecord record = self._record(report.order_id)
        cdef SimOrder sim
        cdef int kind = report.kind
        ts = report.ts  # one int object for ts_event and ts_init
        if kind == K_CANCELED or kind == K_EXPIRED or kind == K_TRIGGERED:
            plain = (
                self._canceled if kind == K_CANCELED
                else self._expired if kind == K_EXPIRED
                else self._triggered
            )
            return plain(
                record.trader_id,
                record.strategy_id,
                record.instrument_id,
                record.client_order_id,
                ts,  # ts_event
                ts,  # ts_init
                record.venue_order_id,
                self.account_id,
            )
        if kind == K_UPDATED:
            sim = listing.core._by_id[report.order_id]  # the core keeps closed orders too
            return self._updated(
                record.trader_id,
                record.strategy_id,
                record.instrument_id,
                record.client_order_id,
                ts,  # ts_event
                ts,  # ts_init
                quantity_from_raw_c(report.quantity, listing.size_precision),
                None if report.price < 0 else price_from_raw_c(
                    report.price, listing.price_precision
                ),
                price_from_raw_c(sim.trigger, listing.price_precision) if sim.has_trigger else None,
                record.venue_order_id,
                self.account_id,
            )
        reason = reasons[report.reason] if report.reason >= 0 else ""
        if kind == K_REJECTED:
            return self._rejected(
                record.trader_id,
                record.strategy_id,
                record.instrument_id,
                record.client_order_id,
                ts,  # ts_event
                ts,  # ts_init
                self.account_id,
                reason,
            )
        if kind == K_MODIFY_REJECTED or kind == K_CANCEL_REJECTED:
            refusal = self._modify_rejected if kind == K_MODIFY_REJECTED else self._cancel_rejected
            return refusal(
                record.trader_id,
                record.strategy_id,
                record.instrument_id,
                record.client_order_id,
                ts,  # ts_event
                ts,  # ts_init
                reason,
                record.venue_order_id,
                self.account_id,
            )
        raise ValueError(f"unknown matching report kind {kind}")

    cdef int _emit(self, int64_t ts, object event) except -1:
        cdef int64_t ack = self._ack_ns if self._fixed_latency else <int64_t>self._latency.ack()
        cdef int64_t deliver
        if add_overflow(ts, ack, &deliver):
            # What the sum in Python raised when converted back.
            raise OverflowError("Python int too large to convert to C long")
        self._sequence += 1
        if deliver <= self.ts_now and not self._outbound:
            self._on_event(event)  # due now and nothing ahead of it: deliver at once
            return 0
        # Behind the events ahead of it; one already due goes out now with them, in order.
        _heap_push(self._outbound, (deliver, self._sequence, event))
        if deliver <= self.ts_now:
            self._flush(self.ts_now)
        return 0

    cdef int _flush(self, int64_t ts) except -1:
        cdef list outbound = self._outbound
        while outbound and <int64_t>(<tuple>outbound[0])[0] <= ts:
            self._on_event(_heap_pop(outbound)[2])
        return 0
