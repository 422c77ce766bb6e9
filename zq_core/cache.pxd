# The compiled core of zq's Cache: the dictionaries looked up per event, and the lookups.
# The Python class zq.cache.Cache subclasses it; the order indices are kept here too.

from zq_core.orders cimport STATUS_COUNT, Order

cdef class OrderIndex

cdef class CacheCore:
    # Keyed by identifiers (str subclasses) or by bar type.
    cdef readonly dict _instruments      # InstrumentId -> Instrument
    cdef readonly dict _orders           # ClientOrderId -> Order
    cdef readonly dict _positions        # PositionId -> Position
    cdef readonly dict _accounts         # AccountId -> Account
    cdef readonly dict _quotes           # InstrumentId -> latest QuoteTick
    cdef readonly dict _trades           # InstrumentId -> latest TradeTick
    cdef readonly dict _bars             # BarType -> latest Bar
    cdef readonly dict _venue_order_ids  # ClientOrderId -> VenueOrderId
    cdef readonly dict _client_order_ids  # VenueOrderId -> ClientOrderId
    # Latest data not made into objects yet (a backtest replay skips the objects nobody
    # listens to): key -> an object whose latest() makes the datum, on first read.
    cdef readonly dict _stale_quotes
    cdef readonly dict _stale_trades
    cdef readonly dict _stale_bars

    # -- order indices (see OrderIndex) ----------------------------------------------------
    cdef readonly OrderIndex _index_all
    cdef readonly OrderIndex _index_open
    cdef readonly OrderIndex _index_closed
    cdef readonly OrderIndex _index_inflight
    # client order id -> _OrderEntry: the order, its category, the venue id the maps hold
    cdef dict _indexed
    # Per status code, the category (the set of status indices the order is in, at most
    # 2**3), numbered; per pair of categories (from, to), two bytes: the indices left and
    # the indices entered, as bits (1 open, 2 closed, 4 inflight), at 2 * (8 * from + to).
    cdef int _category[STATUS_COUNT]
    cdef int _initial_category
    cdef bytes _moves

    cpdef add_order(self, Order order)
    cpdef update_order(self, Order order)


# The order with ``client_order_id`` if it is the one ``cache`` added or updated last and
# carries that very id object (else None: look it up in ``cache._orders``).
cdef Order latest_order(CacheCore cache, object client_order_id)


cdef class OrderIndex:
    # The client order ids of one status category (insertion-ordered sets: dict -> None),
    # also keyed by strategy, instrument and venue once a query filtered (``keyed``).
    cdef readonly dict ids
    cdef readonly bint keyed
    cdef readonly dict by_strategy
    cdef readonly dict by_instrument
    cdef readonly dict by_venue

    cdef int add(self, object client_order_id, Order order) except -1
    cdef int remove(self, object client_order_id, Order order) except -1
    cdef int _add_keys(self, object client_order_id, Order order) except -1
