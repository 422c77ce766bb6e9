# The contract of zq_core.portfolio: the per-fill state of accounts and of the portfolio.
#
# zq.portfolio.account.Account subclasses AccountCore and zq.portfolio.Portfolio subclasses
# PortfolioCore; the Python classes set these fields in their __init__.

from zq_core.cache cimport CacheCore


cdef class AccountCore:
    # --- every account ----------------------------------------------------------------------
    cdef public object id                  # AccountId
    cdef public object base_currency       # Currency or None
    cdef public list events                # AccountState, one per change
    cdef public dict _totals               # currency code -> Money
    cdef public dict _currencies           # currency code -> Currency
    cdef public dict _zeros                # currency code -> Money zero, made once
    # --- margin accounts (a MarginAccount sets them; its properties leverage and
    # leverages read the first two) --------------------------------------------------------
    cdef public object _leverage           # Decimal, the default leverage
    cdef public dict _leverages            # InstrumentId -> Decimal
    cdef public dict _margin               # InstrumentId -> MarginBalance
    # (instrument id, notional units, scale) -> (instrument, leverage, own leverage, margin)
    cdef public dict _margin_memo

    cdef int _fill_margin(self, fill, instrument, object units, int scale,
                          object realized_pnl) except -1
    cdef object _margin_units(self, instrument, object units, int scale)
    cdef object _margin_miss(self, instrument, instrument_id, object units, int scale,
                             own_leverage)
    cdef int _emit_margin(self, trade_id, ts_event) except -1


cdef class PortfolioCore:
    cdef public object _cache               # zq.cache.Cache
    cdef public CacheCore _cache_core       # the same cache, typed (None: not a CacheCore)
    # (instrument id, strategy id) -> netting position id, or None at a hedging venue
    cdef public dict _netting_ids
    cdef public object _nets                # the cache's net positions (a live mapping)
    # The latest netting fill's instrument and strategy ids (compared by identity), their
    # pair and its netting position id: the next fill of the pair skips the look-up.
    cdef object _last_instrument_id
    cdef object _last_strategy_id
    cdef tuple _last_pair
    cdef object _last_netting_id

    # process_fill (the def), for a caller that checked it is not overridden
    cdef list _process(self, fill, instrument)
