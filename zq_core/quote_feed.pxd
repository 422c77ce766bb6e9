# The contract of zq_core.quote_feed: quotes handed to the DataEngine's quote path in C.
#
# ``take`` does what DataEngine.process_quote does for a quote whose instrument's topic the
# feed holds (no bar aggregator reads its quotes): the cache's latest quote replaced, the
# quote published on the bus; any other quote goes to ``fallback``. ``take`` counts them all.

from libc.stdint cimport uint64_t

from zq_core.bus cimport MessageBus


cdef class QuoteFeed:
    # Called with each quote not processed here (the engine's process_quote once bound).
    cdef public object fallback
    # Quotes handed to the feed (the data client's count).
    cdef readonly uint64_t count
    # None until bound (then every quote goes to fallback).
    cdef MessageBus _bus
    cdef dict _quotes        # the cache's: InstrumentId -> latest QuoteTick
    cdef dict _stale_quotes  # the cache's: InstrumentId -> a stale latest quote's maker
    cdef dict _topics        # the engine's: InstrumentId -> quote topic, no aggregators

    cdef int take(self, object instrument_id, object quote) except -1
