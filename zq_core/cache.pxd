# The compiled core of zq's Cache: the dictionaries looked up per event, and the lookups.
# The Python class zq.cache.Cache subclasses it and keeps the indices.

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
