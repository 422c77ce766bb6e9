# The contract of zq_core.portfolio: the per-fill state of accounts and of the portfolio.
#
# zq.portfolio.account.Account subclasses AccountCore and zq.portfolio.Portfolio subclasses
# PortfolioCore; the Python classes set these fields in their __init__.

from libc.stdint cimport int64_t, uintptr_t

from zq_core.cache cimport CacheCore
from zq_core.position cimport zq_i128


cdef class AccountCore:
    # --- every account ----------------------------------------------------------------------
    cdef public object id                  # AccountId
    cdef public object base_currency       # Currency or None
    # AccountState, one per change (the property `events`: _states after _flush). A fill's
    # state is noted in _pending, four items per fill (None: nothing noted; the first
    # _noted items are noted, the rest room to grow), and made when `events` is read.
    cdef list _states
    cdef list _pending
    cdef Py_ssize_t _noted
    cdef public dict _totals               # currency code -> Money
    cdef public dict _currencies           # currency code -> Currency
    cdef public dict _zeros                # currency code -> Money zero, made once
    # The code of a currency found in _totals (the dict then): a balance, once held, is
    # never dropped, so the margin's update asks once.
    cdef object _held_totals
    cdef object _held_code
    # --- margin accounts (a MarginAccount sets them; its properties leverage and
    # leverages read the first two) --------------------------------------------------------
    cdef public object _leverage           # Decimal, the default leverage
    cdef public dict _leverages            # InstrumentId -> Decimal
    cdef public dict _margin               # InstrumentId -> MarginBalance
    # (instrument id, notional units, scale) -> (instrument, leverage, own leverage, margin)
    cdef public dict _margin_memo

    # The fill path's margins by their raw amounts (see _margin_units_n): a direct-mapped
    # table of 256 MarginBalance (None until used), with each slot's initial and
    # maintenance raws and the addresses of its instrument id and currency (held by the
    # slot's margin).
    cdef list _margin_slots
    cdef int64_t[256] _slot_initial
    cdef int64_t[256] _slot_maintenance
    cdef uintptr_t[256] _slot_instrument
    cdef uintptr_t[256] _slot_currency

    cdef int _fill_margin(self, fill, instrument, instrument_id, object units, zq_i128 units_n,
                          int scale, object realized_pnl) except -1
    cdef object _margin_units(self, instrument, object units, int scale)
    cdef object _margin_units_n(self, instrument, instrument_id, zq_i128 units, int scale)
    cdef object _margin_miss(self, instrument, instrument_id, object units, int scale,
                             own_leverage)
    cdef int _emit_margin(self, trade_id, ts_event) except -1
    cdef object _fill_state(self, list pending, Py_ssize_t at)
    cdef list _flush(self)
    # len(events) without making the noted states (the def _state_count's)
    cdef Py_ssize_t _count(self) except -1


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
    cdef Py_hash_t _last_pair_hash          # hash(_last_pair), made once
    cdef object _last_netting_id
    # The keyed dicts of the Cache's open position index (_ids_index) the fill path read
    # last: the ids of _last_pair and those of the instrument id _ids_instrument (None:
    # not read). A _PositionIndex keeps a key's dict for its life (see zq.cache).
    cdef object _ids_index
    cdef dict _pair_ids
    cdef object _ids_instrument
    cdef dict _instrument_ids

    # process_fill (the def), for a caller that checked it is not overridden
    cdef list _process(self, fill, instrument)
