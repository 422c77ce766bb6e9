# The contract of zq_core.fixed: fixed-point Price, Quantity and Money.
#
# A value is held as ``raw = value * 10**precision`` in an int64, with ``precision`` in
# 0..FIXED_PRECISION_MAX (9). No floats inside; arithmetic that leaves int64 raises
# OverflowError rather than wrapping. Other Cython modules (books, matching, portfolio)
# cimport the classes to read ``raw`` and ``precision`` directly, and build results with
# the ``*_from_raw_c`` constructors below, which skip validation.

from libc.stdint cimport int64_t, uint8_t


cdef enum:
    # The largest precision (decimal places) a fixed-point value can carry. Python code
    # reads the same number as ``zq_core.fixed.FIXED_PRECISION_MAX``.
    PRECISION_MAX_C = 9


# --- Value types --------------------------------------------------------------------------

cdef class Price:
    # value * 10**precision; may be negative (spreads, PnL, some futures).
    cdef readonly int64_t raw
    # decimal places, 0..9
    cdef readonly uint8_t precision


cdef class Quantity:
    # value * 10**precision; never negative.
    cdef readonly int64_t raw
    # decimal places, 0..9
    cdef readonly uint8_t precision


cdef class Money:
    # value * 10**precision, where precision is the currency's; may be negative.
    cdef readonly int64_t raw
    # decimal places, equal to ``currency.precision``
    cdef readonly uint8_t precision
    # any object with ``.code: str`` and ``.precision: int`` (zq.model.currency.Currency)
    cdef readonly object currency
    # ``currency.code``, cached for the same-currency checks of arithmetic and comparison
    cdef str _code


# --- Fast constructors for Cython callers -------------------------------------------------
# They trust their arguments: the caller guarantees 0 <= precision <= 9 (and raw >= 0 for a
# Quantity). Python callers go through the validating constructors and ``from_raw``.

cdef Price price_from_raw_c(int64_t raw, uint8_t precision)
cdef Quantity quantity_from_raw_c(int64_t raw, uint8_t precision)
# Reads ``currency.code`` and ``currency.precision``.
cdef Money money_from_raw_c(int64_t raw, object currency)


# Money of ``raw`` in the currency of ``template`` (no attribute look-ups; inline in each
# module that cimports it).
cdef inline Money money_like_c(Money template, int64_t raw):
    cdef Money money = Money.__new__(Money)
    money.raw = raw
    money.precision = template.precision
    money.currency = template.currency
    money._code = template._code
    return money


# --- Raw arithmetic for Cython callers ----------------------------------------------------

# Return ``raw`` re-expressed at ``to_precision`` (>= ``from_precision``); OverflowError if
# the result leaves int64.
cdef int64_t rescale_raw_c(int64_t raw, uint8_t from_precision, uint8_t to_precision) except? -1
# Compare two fixed-point values exactly across precisions: -1, 0 or 1. Cannot fail.
cdef int compare_raw_c(
    int64_t left, uint8_t left_precision, int64_t right, uint8_t right_precision
) noexcept
