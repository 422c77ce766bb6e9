# The contract of zq_core.exchange: the compiled part of the simulated exchange.
#
# zq.backtest.exchange.SimulatedExchange subclasses ExchangeCore. The core holds the commands
# in flight and the undelivered events (heaps of tuples, whose heads replay.pyx reads), one
# OrderRecord per order, and one Listing per instrument (its MatchingCore and its fee terms);
# it calls the matching cores through their C entry points, reads their Report structs in
# place and builds the order events from the zq types the Python layer hands it (zq_core
# never imports zq).

from libc.stdint cimport int64_t, uint8_t, uint64_t

from zq_core.fixed cimport Price, Quantity
from zq_core.matching cimport MatchingCore, Report


cdef class Listing:
    cdef readonly object instrument_id
    cdef readonly object instrument
    cdef readonly MatchingCore core
    cdef uint8_t size_precision
    cdef uint8_t price_precision
    # Linear maker/taker fees on raw ints (raw_fees set): commission raw at the currency's
    # precision = round_half_even(qty.raw * px.raw * multiplier * coefficient / 10**shift).
    cdef bint raw_fees
    cdef int64_t multiplier
    cdef int64_t maker_coefficient
    cdef int maker_shift
    cdef int64_t taker_coefficient
    cdef int taker_shift
    cdef object currency


cdef class OrderRecord:
    # What the exchange keeps of one order to build its events (made per order; no cycles
    # through it, so not tracked by the garbage collector).
    cdef readonly object order              # the OrderInitialized
    cdef readonly uint64_t core_id          # the order's id in its matching core
    cdef readonly object venue_order_id
    cdef readonly object trader_id
    cdef readonly object strategy_id
    cdef readonly object instrument_id
    cdef readonly object client_order_id
    cdef object side                         # the order's OrderSide and OrderType
    cdef object order_type


cdef class ExchangeCore:
    cdef readonly object venue
    cdef readonly object account_id
    cdef public int64_t ts_now
    # (arrival, sequence, kind, command) and (deliver, sequence, event): heaps, never
    # replaced (the replay loop holds them).
    cdef readonly list _inbound
    cdef readonly list _outbound
    cdef readonly dict _records             # ClientOrderId -> OrderRecord
    cdef list _by_core_id                   # core id -> OrderRecord (index 0 unused)
    cdef dict _listings                     # InstrumentId -> Listing
    cdef list _listing_list                 # ... in the order added
    cdef object _last_key                   # the id object the last listing was found by
    cdef Listing _last_listing              # ... and that listing (see _listing_of)
    cdef object _on_event
    cdef str _id_prefix                     # "{venue}-": venue order and trade ids
    cdef bint _ascii_prefix                 # ... in ASCII (the ids written in C)
    cdef uint64_t _sequence
    cdef uint64_t _order_count
    cdef uint64_t _trade_count
    # --- Models: a fixed latency is read from the C fields, any other model is called
    cdef object _latency
    cdef bint _fixed_latency
    cdef int64_t _entry_ns
    cdef int64_t _cancel_ns
    cdef int64_t _ack_ns
    cdef object _fees
    # --- The zq types the commands are read of (from their slots: the *_FIELDS in
    # exchange.pyx) and the events built of
    cdef object _submit_type                # None: read by name
    cdef Py_ssize_t[2] _submit_slots
    cdef object _order_type
    cdef Py_ssize_t[14] _order_slots
    cdef object _modify_type
    cdef Py_ssize_t[6] _modify_slots
    cdef object _cancel_type
    cdef Py_ssize_t[3] _cancel_slots
    cdef object _accepted
    cdef object _rejected
    cdef object _filled
    cdef object _canceled
    cdef object _expired
    cdef object _triggered
    cdef object _updated
    cdef object _modify_rejected
    cdef object _cancel_rejected
    cdef object _trader_id_type
    cdef object _strategy_id_type
    cdef object _venue_order_id_type
    cdef object _trade_id_type
    cdef object _maker
    cdef object _taker

    # --- Commands and time
    cdef int _send(self, int64_t arrival, int kind, object command, int64_t ts) except -1
    cdef int _advance(self, int64_t ts) except -1
    cdef int _advance_cores(self, int64_t ts) except -1
    cdef int _arrive(self, int64_t ts, int kind, object command) except -1
    cdef int _arrive_submit(self, int64_t ts, object command) except -1
    # --- Reports to events
    cdef int _collect(self, Listing listing) except -1
    cdef OrderRecord _record(self, uint64_t core_id)
    # The listing of an instrument id, or None.
    cdef Listing _listing_of(self, object instrument_id)
    # cls(f"{venue}-{n}") (a venue order id or trade id type).
    cdef object _numbered(self, object cls, uint64_t n)
    # A core's reports are of its listing's orders.
    cdef object _event(self, Listing listing, Report* report, list reasons)
    cdef object _fill(self, Listing listing, OrderRecord record, Report* report)
    cdef object _commission(
        self, Listing listing, Quantity quantity, Price price, bint maker, object liquidity
    )
    cdef int _emit(self, int64_t ts, object event) except -1
    cdef int _flush(self, int64_t ts) except -1
