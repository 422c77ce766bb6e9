# The contract of zq_core.data: the compiled TradeTick.
#
# A trade is one allocation holding raw integers: the price and size as fixed-point raws
# with their precisions, the aggressor side's value and, for trades made from array rows,
# the venue's numeric trade id; and its ``Price``. ``size``, ``aggressor_side`` and
# ``trade_id`` are made on first access and kept. The Python types it hands out (the
# AggressorSide members and the TradeId class) live in ``zq`` and are registered by
# ``zq.model.data`` at import (zq_core never imports zq).

from cpython.object cimport PyTypeObject
from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint8_t, uint64_t

from zq_core.fixed cimport Price, price_from_raw_c

cdef extern from "Python.h":
    Py_ssize_t _held_refcount "Py_REFCNT"(PyObject*)
    PyTypeObject* _held_type "Py_TYPE"(PyObject*)


cdef class TradeTick:
    cdef readonly object instrument_id  # InstrumentId (a str)
    cdef readonly int64_t ts_event
    cdef readonly int64_t ts_init
    # Fixed-point raws and precisions of the price and size.
    cdef int64_t _price_raw
    cdef int64_t _size_raw
    cdef uint8_t _price_precision
    cdef uint8_t _size_precision
    # AggressorSide value: an index into the registered members.
    cdef uint8_t _aggressor
    # The trade id is the decimal digits of _id_raw (made on access) when _id_from_raw.
    cdef bint _id_from_raw
    cdef uint64_t _id_raw
    # The price, made with the trade (Python reads it as the member ``price``, data.pyx).
    cdef object _price
    # The Python objects, None until first asked for (or given to the constructor).
    cdef object _size
    cdef object _trade_id

    # (instrument_id, price, size, aggressor_side, trade_id, ts_event, ts_init)
    cdef tuple _fields(self)


# How many aggressor sides are registered: a raw value is valid below it.
cdef Py_ssize_t aggressor_count() noexcept


# Build a trade from raw fields without validation (the replay loop's entry point): the
# caller guarantees precisions in 0..9, size >= 0 and ``aggressor`` a registered value.
# ``instrument_id`` must be a str (an InstrumentId); the trade id is ``str(trade_id)``.
cdef TradeTick trade_from_raw(
    object instrument_id,
    int64_t price,
    uint8_t price_precision,
    int64_t size,
    uint8_t size_precision,
    uint8_t aggressor,
    uint64_t trade_id,
    int64_t ts_event,
    int64_t ts_init,
)


# Give ``trade`` the fields of trade_from_raw(...) in place: for the replay loop, when it
# holds the only reference to the previous trade it made (every listener let it go), which
# then serves as the next one instead of a new allocation. Nothing else can see the change.
# Inline: compiled into the loop (a call of ten arguments per trade saved).
cdef inline int trade_reset(
    TradeTick trade,
    object instrument_id,
    int64_t price,
    uint8_t price_precision,
    int64_t size,
    uint8_t size_precision,
    uint8_t aggressor,
    uint64_t trade_id,
    int64_t ts_event,
    int64_t ts_init,
) except -1:
    cdef PyObject* held
    if trade.instrument_id is not instrument_id:
        trade.instrument_id = instrument_id
    trade._price_raw = price
    trade._price_precision = price_precision
    trade._size_raw = size
    trade._size_precision = size_precision
    trade._aggressor = aggressor
    trade._id_from_raw = True
    trade._id_raw = trade_id
    trade.ts_event = ts_event
    trade.ts_init = ts_init
    # Its Price likewise, when the trade holds the only reference (nobody kept the price).
    held = <PyObject*>trade._price
    if _held_refcount(held) == 1 and _held_type(held) == <PyTypeObject*>Price:
        (<Price>trade._price).raw = price
        (<Price>trade._price).precision = price_precision
    else:
        trade._price = price_from_raw_c(price, price_precision)
    if trade._size is not None:
        trade._size = None
    if trade._trade_id is not None:
        trade._trade_id = None
    return 0
