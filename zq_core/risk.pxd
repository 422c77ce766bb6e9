# The contract of zq_core.risk: the RiskEngine's submit and modify checks on raw integers.
#
# ``RiskCore.submit_passes`` / ``modify_passes`` return True when a command passes every
# check (the throttle aside) and False when it is "not shown here": zq.risk.RiskEngine then
# runs its Python checks, which decide and word the denial.

cimport cython
from libc.stdint cimport int64_t, uint8_t

from zq_core.bus cimport MessageBus
from zq_core.cache cimport CacheCore
from zq_core.fixed cimport Price, Quantity
from zq_core.orders cimport Order


@cython.final
cdef class _Rules:
    # The instrument these were read from: a replaced instrument is read again.
    cdef object instrument
    cdef int64_t size_raw
    cdef uint8_t size_precision
    cdef bint has_min_quantity, has_max_quantity
    cdef int64_t min_quantity_raw, max_quantity_raw
    cdef uint8_t min_quantity_precision, max_quantity_precision
    cdef int64_t tick_raw
    cdef uint8_t tick_precision
    cdef bint has_min_price, has_max_price
    cdef int64_t min_price_raw, max_price_raw
    cdef uint8_t min_price_precision, max_price_precision
    # RiskLimits.max_order_quantity, as the largest raw at size_precision.
    cdef bint has_order_limit
    cdef int64_t order_limit_raw
    # RiskLimits.max_position is set for the instrument: the Python checks project it.
    cdef bint has_position_limit
    # The notional: _NOTIONAL_* and, for _NOTIONAL_RAW, its precision, the instrument's
    # bounds and RiskLimits.max_notional_per_order, raw at that precision.
    cdef int notional
    cdef int notional_precision
    cdef bint has_min_notional, has_max_notional, has_notional_limit
    cdef int64_t min_notional_raw, max_notional_raw, notional_limit_raw

    @staticmethod
    cdef _Rules read(object instrument, object limits)
    cdef int _read_notional(self, object instrument, object limit) except -1
    cdef bint quantity_passes(self, Quantity quantity)
    cdef bint price_passes(self, Price price)
    cdef bint notional_passes(self, Quantity quantity, Price price)


@cython.final
cdef class RiskCore:
    # Submits passed (here and by the engine's Python checks); the engine reads and resets it.
    cdef public unsigned long long passed_count
    cdef MessageBus _bus
    cdef str _endpoint                  # ENDPOINT_EXECUTION
    cdef object _submit_type            # SubmitOrder
    cdef object _modify_type            # ModifyOrder
    cdef object _cancel_type            # CancelOrder
    cdef object _fallback               # RiskEngine._execute
    # Slot offsets: SubmitOrder.order, ModifyOrder.client_order_id, and the client order id
    # of the order specification's type (OrderInitialized, learnt from the first submit).
    cdef Py_ssize_t _submit_order_at
    cdef Py_ssize_t _modify_id_at
    cdef object _init_type
    cdef Py_ssize_t _init_id_at
    cdef object _order                  # the cache's order by client order id (bound)
    # The cache's orders and instruments, when its order() / instrument() only read them.
    cdef dict _orders
    cdef CacheCore _cache               # the cache when _orders is set (its latest order)
    cdef dict _instruments
    # The cache's lookups by instrument id (bound once).
    cdef object _instrument
    cdef object _quote
    cdef object _trade
    cdef object _buy
    cdef tuple _trigger_valued
    cdef object _limits
    cdef bint _bypass
    cdef bint _has_band
    cdef bint _throttled                # the limits' throttle applies (not bypassed)
    cdef int _state
    cdef dict _rules            # InstrumentId -> _Rules
    cdef _Rules _last_rules     # the last rules found (None after set_limits)

    cdef _Rules _rules_of(self, object instrument_id)
    cdef object _order_of(self, object client_order_id)
    cdef object _valuation_price(self, object order, object price, object trigger_price)
    cpdef bint submit_passes(self, Order order) except -1
    cpdef bint modify_passes(
        self, object order, object quantity, object price, object trigger_price
    ) except -1
