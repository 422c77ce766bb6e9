"""The compiled core of a position: its state in C fields, and a fill applied at C speed.

``zq.model.position.Position`` subclasses :class:`PositionCore`; the module's docstring
there says what a position is and how its integers stay exact. Here the quantities are
int64 (raw units of the size precision, checked against overflow) and the values and PnL
Python ints (units of 1e-30: they pass 64 bits). The event types, the enums the API
returns and the error class live in ``zq`` (this package never imports it): ``zq`` hands
them over once with :func:`bind`.
"""

from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdint cimport INT64_MAX, int64_t, uint64_t

from zq_core.fixed cimport Money, Price, Quantity, money_like_c, quantity_from_raw_c


cdef extern from *:
    """
    /* 128-bit fast paths of the Python-int arithmetic below (zq_i128: see zq_int128.h).
       Each returns 1 when it computed the result, 0 when the operands do not fit (the
       caller then takes the Python-int path): the results are the same either way. */
    #if ZQ_HAVE_INT128
    static zq_i128 zq_pow10_128[38];
    static int zq_pow10_ready = 0;

    static void zq_init_pow10(void) {
        zq_i128 p = 1;
        for (int k = 0; k < 38; k++) { zq_pow10_128[k] = p; p *= 10; }
        zq_pow10_ready = 1;
    }

    /* num / den rounded half-even to an integer (0 < den < 2**126): Python's floor
       division, then the tie (as _div_half_even). */
    static inline zq_i128 zq_half_even128(zq_i128 num, zq_i128 den) {
        zq_i128 q = num / den, r = num % den, twice;
        if (r < 0) { q -= 1; r += den; }
        twice = r + r;
        if (twice > den || (twice == den && (q & 1))) q += 1;
        return q;
    }

    /* round_half_even(u / 10**k) as int64. */
    static int zq_round_i128(zq_i128 u, int k, int64_t *out) {
        zq_i128 q;
        if (k < 0 || k > 37 || !zq_pow10_ready) return 0;
        q = zq_half_even128(u, zq_pow10_128[k]);
        if (q > INT64_MAX || q < INT64_MIN) return 0;
        *out = (int64_t)q;
        return 1;
    }

    /* qty * px * 10**k (a linear value). */
    static int zq_linear128(int64_t qty, int64_t px, int k, zq_i128 *out) {
        if (k < 0 || k > 37 || !zq_pow10_ready) return 0;
        /* exact: |qty * px| < 2**126 */
        return zq_mul128((zq_i128)qty * (zq_i128)px, zq_pow10_128[k], out);
    }

    /* qty * 10**k / px rounded half-even (an inverse value, as _ratio: within 127 bits
       its one rounding is Decimal's double rounding, see there). */
    static int zq_inverse128(int64_t qty, int64_t px, int k, zq_i128 *out) {
        zq_i128 num;
        if (px <= 0 || k < 0 || k > 37 || !zq_pow10_ready) return 0;
        if (!zq_mul128((zq_i128)qty, zq_pow10_128[k], &num)) return 0;
        *out = zq_half_even128(num, (zq_i128)px);
        return 1;
    }

    /* units * part / whole rounded half-even (as _share: 0 < whole < 2**63; within 127
       bits the one rounding is Decimal's). */
    static int zq_share128(zq_i128 units, int64_t part, int64_t whole, zq_i128 *out) {
        zq_i128 num;
        if (whole <= 0 || !zq_mul128(units, (zq_i128)part, &num)) return 0;
        *out = zq_half_even128(num, (zq_i128)whole);
        return 1;
    }
    #else
    static void zq_init_pow10(void) {}
    static int zq_round_i128(zq_i128 u, int k, int64_t *out) { return 0; }
    static int zq_linear128(int64_t qty, int64_t px, int k, zq_i128 *out) { return 0; }
    static int zq_inverse128(int64_t qty, int64_t px, int k, zq_i128 *out) { return 0; }
    static int zq_share128(zq_i128 units, int64_t part, int64_t whole, zq_i128 *out) {
        return 0;
    }
    #endif

    /* round_half_even(units / 10**k) as int64, units a Python int. */
    static int zq_round_units(PyObject *units, int k, int64_t *out) {
        zq_i128 u;
        return zq_as_int128(units, &u) && zq_round_i128(u, k, out);
    }

    /* qty * px * 10**k as a new Python int; None when it passes 127 bits. */
    static PyObject *zq_linear_value(int64_t qty, int64_t px, int k) {
        zq_i128 value;
        if (!zq_linear128(qty, px, k, &value)) Py_RETURN_NONE;
        return zq_int128_to_long(value);
    }
    """
    void zq_init_pow10()
    bint zq_round_i128(zq_i128 u, int k, int64_t *out)
    bint zq_linear128(int64_t qty, int64_t px, int k, zq_i128 *out)
    bint zq_inverse128(int64_t qty, int64_t px, int k, zq_i128 *out)
    bint zq_share128(zq_i128 units, int64_t part, int64_t whole, zq_i128 *out)
    bint zq_round_units(object units, int k, int64_t *out)
    object zq_linear_value(int64_t qty, int64_t px, int k)


zq_init_pow10()


cdef extern from *:
    """
    #include <structmember.h>
    /* The offset of an object field behind a member descriptor (msgspec structs keep their
       fields so), or -1. */
    static Py_ssize_t zq_member_offset(PyObject *descr) {
        PyMemberDef *member;
        if (Py_TYPE(descr) != &PyMemberDescr_Type) return -1;
        member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX && member->type != T_OBJECT) return -1;
        return member->offset;
    }
    /* The field at `offset` (borrowed; NULL when unset). */
    static inline PyObject *zq_slot(PyObject *obj, Py_ssize_t offset) {
        return *(PyObject **)((char *)obj + offset);
    }
    /* Set the field at `offset` of an object no one else holds yet (a new reference to
       `value`; the one it replaces is released). */
    static inline void zq_set_slot(PyObject *obj, Py_ssize_t offset, PyObject *value) {
        PyObject **slot = (PyObject **)((char *)obj + offset);
        PyObject *old = *slot;
        Py_INCREF(value);
        *slot = value;
        Py_XDECREF(old);
    }
    /* The C function of a method descriptor taking no arguments (msgspec's
       Struct.__copy__), or NULL for anything else. */
    typedef PyObject *(*zq_noargs)(PyObject *, PyObject *);
    static zq_noargs zq_noargs_method(PyObject *descr) {
        PyMethodDef *method;
        if (descr == NULL || Py_TYPE(descr) != &PyMethodDescr_Type) return NULL;
        method = ((PyMethodDescrObject *)descr)->d_method;
        if (method->ml_flags != METH_NOARGS) return NULL;
        return (zq_noargs)method->ml_meth;
    }
    static inline PyObject *zq_call_noargs(zq_noargs function, PyObject *self) {
        return function(self, NULL);
    }
    /* Whether instances of the type `kind` are tracked by the garbage collector. */
    static int zq_type_is_gc(PyObject *kind) {
        return PyType_Check(kind) && PyType_IS_GC((PyTypeObject *)kind);
    }
    """
    ctypedef object (*zq_noargs)(object, PyObject *)
    Py_ssize_t zq_member_offset(object descr)
    PyObject *zq_slot(object obj, Py_ssize_t offset)
    void zq_set_slot(object obj, Py_ssize_t offset, object value)
    zq_noargs zq_noargs_method(object descr)
    object zq_call_noargs(zq_noargs function, object self)
    bint zq_type_is_gc(object kind)


# -- fill fields -------------------------------------------------------------------------
# A fill's fields are read two dozen times per fill; through getattr each read costs a
# type look-up (~150 instructions). msgspec keeps a struct's fields at fixed offsets behind
# member descriptors: bind_fill() finds them for OrderFilled, and fill_field reads an
# OrderFilled's field there (getattr for anything else, or an unset field).
cdef tuple _FILL_NAMES = (
    "trader_id",
    "strategy_id",
    "instrument_id",
    "client_order_id",
    "ts_event",
    "ts_init",
    "account_id",
    "trade_id",
    "order_side",
    "last_qty",
    "last_px",
    "commission",
    "position_id",
)
cdef Py_ssize_t[13] _FILL_OFFSETS
cdef object _FILL_TYPE = None  # OrderFilled, once its offsets are known
cdef PyObject *_FILL_KIND = NULL  # the same (borrowed: _FILL_TYPE holds it), for C readers
# msgspec's __copy__ of OrderFilled (a copy of every field, made in C), if it has it and is
# not tracked by the garbage collector (gc=False: nothing to track after writing a field).
cdef zq_noargs _FILL_COPY = NULL


def bind_fill(filled):
    """Hand over ``OrderFilled``: its fields are then read at their offsets."""
    global _FILL_TYPE, _FILL_COPY, _FILL_KIND
    cdef int field
    cdef Py_ssize_t offset
    _FILL_COPY = NULL
    _FILL_KIND = NULL
    for field in range(F_COUNT):
        offset = zq_member_offset(getattr(filled, _FILL_NAMES[field], None))
        if offset < 0:  # not a plain field: getattr it is
            _FILL_TYPE = None
            return
        _FILL_OFFSETS[field] = offset
    _FILL_TYPE = filled
    _FILL_KIND = <PyObject *>filled
    if not zq_type_is_gc(filled):
        _FILL_COPY = zq_noargs_method(getattr(filled, "__copy__", None))


cdef PyObject **fill_kind():
    return &_FILL_KIND


cdef Py_ssize_t *fill_offsets():
    return _FILL_OFFSETS


cdef object fill_field(object fill, int field):
    cdef PyObject *value = zq_fill_slot(fill, _FILL_KIND, _FILL_OFFSETS, field)
    if value is not NULL:
        return <object>value
    return getattr(fill, _FILL_NAMES[field])


cdef inline object _field(object fill, int field):
    # fill_field, its read at the offset inline (a fill's path reads two dozen fields).
    cdef PyObject *value = zq_fill_slot(fill, _FILL_KIND, _FILL_OFFSETS, field)
    if value is NULL:
        return fill_field(fill, field)
    return <object>value


cdef object fill_with_position_id(object fill, object position_id):
    # What replace(fill, position_id=position_id) makes, without its keyword call: the
    # copy is new, so writing its field is unseen (the struct is frozen to everyone else).
    if type(fill) is _FILL_TYPE and _FILL_COPY is not NULL:
        copy = zq_call_noargs(_FILL_COPY, fill)
        if type(copy) is _FILL_TYPE:
            zq_set_slot(copy, _FILL_OFFSETS[F_POSITION_ID], position_id)
            return copy
    return _replace(fill, position_id=position_id)


from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

from msgspec.structs import replace as _replace

__all__ = ["EXACT_CONTEXT", "PositionCore", "bind", "bind_fill"]

#: The decimal context of position arithmetic: wide enough that sums and products of
#: prices and quantities are exact; only the divisions of an average or of an inverse
#: value round, at the 60th significant digit.
EXACT_CONTEXT = Context(
    prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
cdef object _CONTEXT = EXACT_CONTEXT
cdef object _Decimal = Decimal
cdef object _ZERO = Decimal(0)
cdef object _ONE = Decimal(1)

# Values are integers in units of 10**-_SCALE (see zq.model.position).
cdef int _SCALE = 30
cdef int _POW10_COUNT = 2 * 30 + 20
cdef tuple _POW10 = tuple([10**k for k in range(2 * 30 + 20)])
cdef object _TEN = 10
# int64 powers of ten, for quantities.
cdef int64_t[19] _POW10_64
cdef int _k
_POW10_64[0] = 1
for _k in range(1, 19):
    _POW10_64[_k] = _POW10_64[_k - 1] * 10
# See _ratio and _share.
cdef object _INT64_LOW = -INT64_MAX
cdef object _INT64_HIGH = INT64_MAX
cdef object _ONE_ROUNDING_BOUND = 10**59
cdef object _EXACT_PRODUCT_BOUND = 10**60
cdef object _MINUS_EXACT_PRODUCT_BOUND = -(10**60)

# What zq hands over (bind): the event types, the enums and the error class.
cdef object _PositionOpened = None
cdef object _PositionChanged = None
cdef object _PositionClosed = None
cdef object _PositionError = ValueError
cdef object _LONG = None
cdef object _SHORT = None
cdef object _FLAT = None
cdef object _BUY = None
cdef object _SELL = None


def bind(opened, changed, closed, error, long_side, short_side, flat_side, buy, sell):
    """Hand over the event types, the PositionSide and OrderSide members and the error class.

    ``zq.model.position`` calls this once, at import, before any position exists.
    """
    global _PositionOpened, _PositionChanged, _PositionClosed, _PositionError
    global _LONG, _SHORT, _FLAT, _BUY, _SELL
    _PositionOpened, _PositionChanged, _PositionClosed = opened, changed, closed
    _PositionError = error
    _LONG, _SHORT, _FLAT = long_side, short_side, flat_side
    _BUY, _SELL = buy, sell


# -- integer helpers (Python ints: values pass 64 bits) ------------------------------------

cdef inline object _pow10(int exponent):
    # 10**exponent (exponent >= 0) as a Python int: from the table, else by Python's power
    # (a C power would be a double).
    if 0 <= exponent < _POW10_COUNT:
        return <object>(<PyObject*>_POW10[exponent])
    return _TEN ** exponent


cpdef object _div_half_even(object num, object den):
    """Return ``num / den`` rounded half-even to an integer (``den > 0``)."""
    quotient, remainder = divmod(num, den)  # floor division: 0 <= remainder < den
    twice = remainder + remainder
    if twice > den or (twice == den and quotient & 1):
        return quotient + 1
    return quotient


cpdef object _ratio(object num, object den):
    """Return ``num / den`` rounded half-even to an integer, as Decimal rounds it.

    Decimal divides at 60 significant digits, then quantizes: a double rounding. Within
    the bound one rounding equals it (and costs a tenth); outside, Decimal does both.
    """
    if den > 0:
        quotient = _div_half_even(num, den)
        if den * (abs(quotient) + 1) < _ONE_ROUNDING_BOUND:
            return quotient
    divided = _CONTEXT.divide(_Decimal(num), _Decimal(den))
    return int(divided.quantize(_ONE, context=_CONTEXT))


cpdef object _share(object units, object part, object whole):
    """Return ``units × part / whole`` rounded half-even to an integer, as Decimal rounds it."""
    num = units * part
    if _MINUS_EXACT_PRODUCT_BOUND < num < _EXACT_PRODUCT_BOUND:
        return _ratio(num, whole)
    product = _CONTEXT.multiply(_Decimal(units), _Decimal(part))  # rounds at 60 digits
    divided = _CONTEXT.divide(product, _Decimal(whole))
    return int(divided.quantize(_ONE, context=_CONTEXT))


# Decimal(coefficient).scaleb(exponent, _CONTEXT) for an int64 coefficient: exact (at most
# 19 digits), so it is the product of the coefficient and the unit 1E<exponent> in _CONTEXT,
# which costs half (no keyword parsing, no second Decimal). Units for the exponents of
# quantities and prices: _UNIT_LOW .. _UNIT_LOW + len(_UNITS) - 1.
cdef int _UNIT_LOW = -_POW10_COUNT
cdef tuple _UNITS = tuple([_ONE.scaleb(k, _CONTEXT) for k in range(-_POW10_COUNT, 20)])
cdef object _MULTIPLY = _CONTEXT.multiply


cdef object _scaled_decimal(int64_t coefficient, int exponent):
    cdef Py_ssize_t at = exponent - _UNIT_LOW
    if 0 <= at < len(_UNITS):
        return _MULTIPLY(_UNITS[at], coefficient)
    return _Decimal(coefficient).scaleb(exponent, _CONTEXT)


cpdef object _decimal(object units, int scale):
    """Return ``units × 10**-scale`` as a Decimal of exponent ``-scale``."""
    return _Decimal(units).scaleb(-scale, _CONTEXT)


# Decimals made from integers, memoized per scale by integer: a position comes back to the
# same quantities and prices again and again, and a dict look-up costs a tenth of making a
# Decimal. Decimals are immutable, so they are shared; a memo is emptied when full.
cdef enum:
    _MEMO_SIZE = 4096
    _MEMO_SCALES = 64
cdef list _QUANTITIES = [{} for _k in range(_MEMO_SCALES)]
cdef list _NORMALIZED = [{} for _k in range(_MEMO_SCALES)]


# In front of those memos, for the quantities and prices a fill asks for by raw integers: a
# direct-mapped table of _TABLE_SIZE slots, (units, scale) -> the Decimal the memo gives
# (each slot holds a reference), found without making an int to hash.
cdef enum:
    _TABLE_BITS = 9
    _TABLE_SIZE = 512
cdef PyObject *_quantity_objects[_TABLE_SIZE]
cdef int64_t _quantity_units[_TABLE_SIZE]
cdef int _quantity_scales[_TABLE_SIZE]
cdef PyObject *_price_objects[_TABLE_SIZE]
cdef int64_t _price_units[_TABLE_SIZE]
cdef int _price_scales[_TABLE_SIZE]


cdef inline Py_ssize_t _table_slot(int64_t units, int scale) noexcept:
    cdef uint64_t mixed = (
        (<uint64_t>units + <uint64_t>scale * <uint64_t>0x9E3779B97F4A7C15u)
        * <uint64_t>0xBF58476D1CE4E5B9u
    )
    return <Py_ssize_t>(mixed >> (64 - _TABLE_BITS))


cdef object _memo_decimal(int64_t units, int scale):
    """:func:`_decimal`, memoized (the table, then the memo)."""
    cdef Py_ssize_t slot = _table_slot(units, scale)
    cdef PyObject *known = _quantity_objects[slot]
    if known is not NULL and _quantity_units[slot] == units and _quantity_scales[slot] == scale:
        return <object>known
    value = _memo_decimal_dict(units, scale)
    Py_INCREF(value)
    _quantity_objects[slot] = <PyObject *>value
    _quantity_units[slot] = units
    _quantity_scales[slot] = scale
    Py_XDECREF(known)
    return value


cdef object _price_c(int64_t raw, int precision):
    """:func:`_price` of an int64 raw (the table, then the memo)."""
    cdef Py_ssize_t slot = _table_slot(raw, precision)
    cdef PyObject *known = _price_objects[slot]
    if known is not NULL and _price_units[slot] == raw and _price_scales[slot] == precision:
        return <object>known
    value = _price(raw, precision)
    Py_INCREF(value)
    _price_objects[slot] = <PyObject *>value
    _price_units[slot] = raw
    _price_scales[slot] = precision
    Py_XDECREF(known)
    return value


cdef object _memo_decimal_dict(int64_t units, int scale):
    """:func:`_decimal`, memoized."""
    cdef dict memo
    cdef PyObject *found
    if not 0 <= scale < _MEMO_SCALES:
        return _Decimal(units).scaleb(-scale, _CONTEXT)
    memo = <dict>_QUANTITIES[scale]
    key = units
    found = PyDict_GetItem(memo, key)
    if found is not NULL:
        return <object>found
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    value = _scaled_decimal(units, -scale)
    PyDict_SetItem(memo, key, value)
    return value


cpdef object _price(object raw, int precision):
    """Return the price ``raw × 10**-precision`` as :func:`_quotient` gives an average
    of fills all at that price (normalized), memoized."""
    cdef dict memo
    cdef PyObject *found
    if not 0 <= precision < _MEMO_SCALES:
        return _Decimal(raw).scaleb(-precision, _CONTEXT).normalize(_CONTEXT)
    memo = <dict>_NORMALIZED[precision]
    found = PyDict_GetItem(memo, raw)
    if found is not NULL:
        return <object>found
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    value = _normalized(raw, precision)
    PyDict_SetItem(memo, raw, value)
    return value


cdef object _normalized(object raw, int precision):
    # Decimal(raw).scaleb(-precision).normalize() in _CONTEXT. A non-zero int64 sheds its
    # trailing zeros here, and scaleb alone (exact: at most 19 digits) gives the same
    # coefficient and exponent as normalize.
    cdef int64_t coefficient
    cdef int zeros = 0
    if raw and _INT64_LOW <= raw <= _INT64_HIGH:
        coefficient = raw
        while coefficient % 10 == 0:
            coefficient //= 10
            zeros += 1
        return _scaled_decimal(coefficient, zeros - precision)
    return _Decimal(raw).scaleb(-precision, _CONTEXT).normalize(_CONTEXT)


cpdef object _quotient(object num, object den, int scale):
    """Return ``num / den × 10**-scale`` rounded at 60 significant digits, normalized."""
    if den > 0:
        quotient, remainder = divmod(num, den)
        if remainder == 0:
            return _price(quotient, scale)
    divided = _CONTEXT.divide(_Decimal(num), _Decimal(den))
    return divided.scaleb(-scale, _CONTEXT).normalize(_CONTEXT)


cdef inline int64_t _scaled(int64_t raw, int shift) except? -1:
    # raw × 10**shift (shift >= 0), OverflowError past int64.
    cdef int64_t factor
    if shift == 0:
        return raw
    if shift > 18:
        raise OverflowError(f"quantity {raw} × 10**{shift} passes int64")
    factor = _POW10_64[shift]
    if raw > INT64_MAX // factor or raw < -(INT64_MAX // factor):
        raise OverflowError(f"quantity {raw} × 10**{shift} passes int64")
    return raw * factor


cdef inline int64_t _checked_add(int64_t left, int64_t right) except? -1:
    if (right > 0 and left > INT64_MAX - right) or (right < 0 and left < -INT64_MAX - right):
        raise OverflowError(f"quantity {left} + {right} passes int64")
    return left + right


cdef object money_sum(Money left, Money right, bint subtract):
    cdef int64_t raw
    if left.currency is right.currency and (
        zq_sub64(left.raw, right.raw, &raw) if subtract else zq_add64(left.raw, right.raw, &raw)
    ):
        return money_like_c(left, raw)
    return left - right if subtract else left + right


cdef class PositionCore:
    """The state and the fill arithmetic of ``zq.model.position.Position``."""

    def __init__(self, instrument, fill, position_id=None):
        pid = position_id if position_id is not None else fill.position_id
        if pid is None:
            raise _PositionError(
                f"fill {fill.trade_id} has no position_id; pass position_id to Position()"
            )
        if fill.instrument_id != instrument.id:
            raise _PositionError(
                f"fill {fill.trade_id} is for {fill.instrument_id}, not {instrument.id}"
            )
        cdef Quantity last_qty = <Quantity?>fill.last_qty
        self.id = pid
        self.trader_id = fill.trader_id
        self.strategy_id = fill.strategy_id
        self.instrument_id = fill.instrument_id
        self.account_id = fill.account_id
        self.currency = instrument.settlement_currency
        multiplier = instrument.multiplier
        self.multiplier = multiplier.as_decimal()
        self._multiplier_raw = multiplier.raw
        self._pnl_scale = _SCALE + int(multiplier.precision)
        # PnL units per raw unit of the currency (the scale is above any currency's).
        self._money_digits = self._pnl_scale - self.currency.precision
        self._money_unit = _pow10(self._money_digits)
        self._zero_money = Money.from_raw(0, self.currency)
        self._unit_money = Money.from_raw(1, self.currency)
        self.is_inverse = instrument.is_inverse
        self.size_precision = max(int(instrument.size_precision), <int>last_qty.precision)
        self._unit_qty = quantity_from_raw_c(1, self.size_precision)
        self._zero_qty = quantity_from_raw_c(0, self.size_precision)
        self._raw = 0
        self._places = 0
        self.signed_qty = _ZERO
        self.peak_qty = self._zero_qty
        self.entry = fill.order_side
        self.opening_order_id = fill.client_order_id
        self.closing_order_id = None
        self.ts_opened = fill.ts_event
        self.ts_last = fill.ts_event
        self.ts_closed = None
        self.ts_init = fill.ts_init
        self.last_trade_id = fill.trade_id
        self.last_qty = last_qty
        self.last_px = fill.last_px
        self._closed_raw = 0
        self._flat_avg_px_open = _ZERO
        self._avg_px_open = None
        # The values start at zero, in C (as Python ints when there is no __int128)
        self._wide = True
        self._open_w = self._closed_w = self._realized_w = self._start_w = 0
        self._narrow()
        self._fee_totals = {}
        self._trade_ids = {}
        self.last_events = []
        self.apply(fill)

    def __repr__(self):
        return (
            f"Position({self.id}, {self.side.name} {self.quantity} {self.instrument_id}, "
            f"avg_px_open={self.avg_px_open}, realized_pnl={self.realized_pnl})"
        )

    # -- state -----------------------------------------------------------------------------

    @property
    def side(self):
        """LONG, SHORT or FLAT, from the sign of the quantity."""
        return _LONG if self._raw > 0 else _SHORT if self._raw < 0 else _FLAT

    @property
    def quantity(self):
        """The open quantity, without sign."""
        return quantity_from_raw_c(self._raw if self._raw >= 0 else -self._raw,
                                   self.size_precision)

    @property
    def is_open(self):
        """Whether the position holds quantity."""
        return self._raw != 0

    @property
    def is_closed(self):
        """Whether the position is flat."""
        return self._raw == 0

    @property
    def is_long(self):
        """Whether the position is long."""
        return self._raw > 0

    @property
    def is_short(self):
        """Whether the position is short."""
        return self._raw < 0

    @property
    def duration_ns(self):
        """Nanoseconds from opening to closing of the last round trip (0 while open)."""
        return 0 if self.ts_closed is None else self.ts_closed - self.ts_opened

    @property
    def trade_ids(self):
        """The ids of every fill applied, in order."""
        return list(self._trade_ids)

    def has_trade(self, trade_id):
        """Return whether a fill with this trade id was applied."""
        return trade_id in self._trade_ids

    @property
    def avg_px_open(self):
        """The average entry price of the open quantity (when flat: that of the last round trip).

        Weighted by quantity for linear contracts; the harmonic mean for inverse ones.
        Exact when the quotient terminates, else rounded at 60 significant digits.
        """
        return self._avg_open()

    cdef object _avg_open(self):
        cdef int64_t held = self._raw if self._raw >= 0 else -self._raw
        if held == 0:
            return self._flat_avg_px_open
        average = self._avg_px_open
        if average is None:
            # value / qty = (_open_value × 10**-_SCALE) / (held × 10**-size_precision)
            if self.is_inverse:
                average = _quotient(held * _pow10(_SCALE), self._open_units(),
                                    self.size_precision)
            else:
                average = _quotient(self._open_units(), held, _SCALE - self.size_precision)
            self._avg_px_open = average
        return average

    @property
    def avg_px_close(self):
        """The average exit price of the current round trip, or None before any reduction."""
        return self._avg_close()

    cdef object _avg_close(self):
        cdef int64_t closed = self._closed_raw
        if closed == 0:
            return None
        if self.is_inverse:
            return _quotient(closed * _pow10(_SCALE), self._closed_units(), self.size_precision)
        return _quotient(self._closed_units(), closed, _SCALE - self.size_precision)

    @property
    def entry_value(self):
        """The open quantity's value at entry, in the settlement currency, exact.

        Linear: ``|qty| × avg_px_open × multiplier``; inverse: ``|qty| × multiplier /
        avg_px_open``. Margin is computed from it.
        """
        return _decimal(self._open_units() * self._multiplier_raw, self._pnl_scale)

    # -- PnL -------------------------------------------------------------------------------

    @property
    def realized_pnl_decimal(self):
        """The gross realized PnL over the position's life, unrounded."""
        return _decimal(self._realized_units(), self._pnl_scale)

    @property
    def realized_pnl(self):
        """The gross realized PnL over the position's life, in the settlement currency."""
        return self._realized_money()

    @property
    def commissions(self):
        """The commissions paid, per currency code (negative for rebates)."""
        return dict(self._settle_fees())

    def commission(self, currency):
        """Return the commissions paid in ``currency`` (zero if none)."""
        return self._settle_fees().get(currency.code, Money.from_raw(0, currency))

    @property
    def _commissions(self):
        """The commissions paid, per currency code (the position's own dict)."""
        return self._settle_fees()

    cdef dict _settle_fees(self):
        # The fee totals, the one moving in C written (as a new Money) if it moved.
        cdef Money total = self._fee_total
        if total is not None and total.raw != self._fee_raw:
            total = self._fee_total = money_like_c(total, self._fee_raw)
            self._fee_totals[total._code] = total
        return self._fee_totals

    @property
    def net_realized_pnl(self):
        """Realized PnL minus the commissions paid in the settlement currency.

        Commissions in other currencies (fees paid in BNB, say) are not converted: read
        them from :attr:`commissions`.
        """
        return self.realized_pnl - self.commission(self.currency)

    def unrealized_pnl_decimal(self, Price price not None):
        """Return the unrealized PnL of the open quantity at ``price``, unrounded."""
        if self._raw == 0:
            return _ZERO
        return _decimal(self._unrealized(price.raw, price.precision), self._pnl_scale)

    cdef object _unrealized(self, int64_t px_raw, int px_precision):
        # In units of 10**-_pnl_scale.
        cdef int64_t raw = self._raw
        cdef zq_i128 units
        if raw == 0:
            return 0
        if self._unrealized_n(px_raw, px_precision, &units):
            return zq_int128_to_long(units)
        exit_value = self._value(raw if raw > 0 else -raw, self.size_precision,
                                 px_raw, px_precision)
        open_value = self._open_units()
        if self.is_inverse:
            gain = open_value - exit_value
        else:
            gain = exit_value - open_value
        return gain * self._multiplier_raw if raw > 0 else -gain * self._multiplier_raw

    cdef bint _unrealized_n(self, int64_t px_raw, int px_precision, zq_i128 *out) except -1:
        # _unrealized in 128 bits; False when the values are wide or it does not fit.
        cdef int64_t raw = self._raw
        cdef zq_i128 exit_value, gain
        if self._wide:
            return False
        if raw == 0:
            out[0] = 0
            return True
        if not self._value_n(raw if raw > 0 else -raw, self.size_precision, px_raw,
                             px_precision, &exit_value):
            return False
        if self.is_inverse:
            if not zq_sub128(self._open_n, exit_value, &gain):
                return False
        elif not zq_sub128(exit_value, self._open_n, &gain):
            return False
        if raw < 0 and not zq_sub128(0, gain, &gain):
            return False
        return zq_mul128(gain, self._multiplier_raw, out)

    cdef Money _unrealized_money(self, int64_t px_raw, int px_precision):
        # _to_money(_unrealized(px_raw, px_precision)).
        cdef zq_i128 units
        if self._unrealized_n(px_raw, px_precision, &units):
            return self._money_n(units)
        return self._to_money(self._unrealized(px_raw, px_precision))

    def unrealized_pnl(self, Price price not None):
        """Return the unrealized PnL at ``price`` in the settlement currency.

        Linear: ``(price − avg_px_open) × signed_qty × multiplier``; inverse:
        ``signed_qty × multiplier × (1 / avg_px_open − 1 / price)`` in the base currency.
        """
        return self._unrealized_money(price.raw, price.precision)

    def total_pnl(self, Price price not None):
        """Return realized plus unrealized PnL at ``price`` (gross of commissions)."""
        return self._to_money(
            self._realized_units() + self._unrealized(price.raw, price.precision)
        )

    def notional_value(self, Price price not None):
        """Return the signed value of the open quantity at ``price`` (negative when short)."""
        ctx = _CONTEXT
        px = price.as_decimal()
        signed = ctx.multiply(self.signed_qty, self.multiplier)
        value = ctx.divide(signed, px) if self.is_inverse else ctx.multiply(signed, px)
        scaled = value.scaleb(self.currency.precision, ctx)
        return Money.from_raw(int(scaled.to_integral_value(ROUND_HALF_EVEN, ctx)), self.currency)

    def _money(self, units):
        """Return PnL ``units`` rounded half-even to the currency's precision, as Money."""
        return self._to_money(units)

    cdef Money _to_money(self, object units):
        # _money, a cdef method: a cpdef one asks the Python subclass for an override first.
        cdef int64_t rounded
        if zq_round_units(units, self._money_digits, &rounded):
            return money_like_c(self._unit_money, rounded)
        unit = self._money_unit
        raw, remainder = divmod(units, unit)
        twice = remainder + remainder
        if twice > unit or (twice == unit and raw & 1):
            raw += 1
        return money_like_c(self._unit_money, raw)

    cdef Money _money_n(self, zq_i128 units):
        # _to_money of units held in C.
        cdef int64_t rounded
        if zq_round_i128(units, self._money_digits, &rounded):
            return money_like_c(self._unit_money, rounded)
        return self._to_money(zq_int128_to_long(units))

    cdef Money _realized_money(self):
        # The realized PnL, as Money.
        if self._wide:
            return self._to_money(self._realized_w)
        return self._money_n(self._realized_n)

    cdef object _realized_since(self, bint was_wide, zq_i128 before_n, object before_w):
        cdef zq_i128 delta
        if not was_wide and not self._wide:
            if self._realized_n == before_n:
                return None
            if zq_sub128(self._realized_n, before_n, &delta):
                return self._money_n(delta)
        if was_wide:
            before = before_w
        else:
            before = zq_int128_to_long(before_n)
        after = self._realized_units()
        if after == before:
            return None
        return self._to_money(after - before)

    # -- the values as Python ints, and switching representation ---------------------------

    @property
    def _open_value(self):
        """The entry value of the open quantity, in units of 10**-30 (an int)."""
        return self._open_units()

    @property
    def _closed_value(self):
        """The exit value of the round trip's reductions, in units of 10**-30 (an int)."""
        return self._closed_units()

    @property
    def _realized(self):
        """The realized PnL, in units of 10**-_pnl_scale (an int)."""
        return self._realized_units()

    @property
    def _round_trip_start(self):
        """The realized PnL when the round trip opened, in units of 10**-_pnl_scale."""
        return self._start_units()

    @property
    def _is_wide(self):
        """Whether the values are held as Python ints (they do not fit 128 bits)."""
        return self._wide

    cdef object _open_units(self):
        return self._open_w if self._wide else zq_int128_to_long(self._open_n)

    cdef object _closed_units(self):
        return self._closed_w if self._wide else zq_int128_to_long(self._closed_n)

    cdef object _realized_units(self):
        return self._realized_w if self._wide else zq_int128_to_long(self._realized_n)

    cdef object _start_units(self):
        return self._start_w if self._wide else zq_int128_to_long(self._start_n)

    cdef int _widen(self) except -1:
        # Move the values into Python ints (the Python-int route of the fill methods).
        if not self._wide:
            self._open_w = zq_int128_to_long(self._open_n)
            self._closed_w = zq_int128_to_long(self._closed_n)
            self._realized_w = zq_int128_to_long(self._realized_n)
            self._start_w = zq_int128_to_long(self._start_n)
            self._wide = True
        return 0

    cdef int _narrow(self) except -1:
        # Move the values back into C when the four fit.
        cdef zq_i128 open_n, closed_n, realized_n, start_n
        if (
            self._wide
            and zq_as_int128(self._open_w, &open_n)
            and zq_as_int128(self._closed_w, &closed_n)
            and zq_as_int128(self._realized_w, &realized_n)
            and zq_as_int128(self._start_w, &start_n)
        ):
            self._open_n = open_n
            self._closed_n = closed_n
            self._realized_n = realized_n
            self._start_n = start_n
            self._open_w = self._closed_w = self._realized_w = self._start_w = None
            self._wide = False
        return 0

    # -- fills -----------------------------------------------------------------------------

    cpdef check(self, fill):
        """Raise :class:`PositionError` if :meth:`apply` would refuse ``fill``."""
        if fill.trade_id in self._trade_ids:
            raise _PositionError(f"position {self.id} already applied trade {fill.trade_id}")
        if fill.instrument_id != self.instrument_id:
            raise _PositionError(
                f"fill {fill.trade_id} is for {fill.instrument_id}, position {self.id} "
                f"holds {self.instrument_id}"
            )
        if fill.strategy_id != self.strategy_id:
            raise _PositionError(
                f"fill {fill.trade_id} is from strategy {fill.strategy_id}, position "
                f"{self.id} belongs to {self.strategy_id}"
            )
        side = fill.order_side
        if side is not _BUY and side is not _SELL:
            raise _PositionError(f"a fill needs a BUY or SELL side, got {side!r}")

    def apply(self, fill):
        """Apply a fill and return the events it caused (see the module's docstring).

        Raises
        ------
        PositionError
            If the fill's trade id was already applied, or it is for another instrument or
            strategy; the position is unchanged.
        """
        self.check(fill)
        return self._apply_fill(fill)

    def _apply_checked(self, fill):
        """Apply a fill :meth:`check` accepted (the Portfolio checks before the account moves)."""
        return self._apply_fill(fill)

    cdef list _apply_fill(self, fill):
        # _apply_checked, a cdef method (see _to_money).
        cdef bint buying = _field(fill, F_ORDER_SIDE) is _BUY
        cdef Quantity last_qty = <Quantity?>_field(fill, F_LAST_QTY)
        cdef Price last_px = <Price?>_field(fill, F_LAST_PX)
        cdef Money commission = <Money?>_field(fill, F_COMMISSION)
        cdef Money total = self._fee_total
        cdef int qty_precision, precision, places, px_precision
        cdef int64_t qty, held, px_raw, fee_raw
        cdef list events
        trade_id = _field(fill, F_TRADE_ID)
        self._trade_ids[trade_id] = None
        # The fee adds to its currency's total: in C while it is the total moving (the same
        # currency object, within int64: what money_sum gives), else in the dict.
        if not (
            total is not None
            and commission.currency is total.currency
            and zq_add64(self._fee_raw, commission.raw, &fee_raw)
        ):
            fees = self._settle_fees()
            code = commission._code
            previous = fees.get(code)
            total = commission if previous is None else <Money?>money_sum(
                <Money?>previous, commission, False
            )
            fees[code] = total
            self._fee_total = total
            fee_raw = total.raw
        self._fee_raw = fee_raw
        self.last_trade_id = trade_id
        self.last_qty = last_qty
        self.last_px = last_px
        self.ts_last = _field(fill, F_TS_EVENT)
        self.ts_init = _field(fill, F_TS_INIT)
        self.account_id = _field(fill, F_ACCOUNT_ID)

        qty_precision = last_qty.precision
        precision = self.size_precision
        if qty_precision > precision:
            self._raise_size_precision(qty_precision)
            precision = qty_precision
        qty = _scaled(last_qty.raw, precision - qty_precision)  # in units of the position
        px_raw, px_precision = last_px.raw, last_px.precision
        held = self._raw
        places = self._places
        # Opened at the fill's price, a position's unrealized PnL at that price is zero: its
        # entry value is the value of its quantity at that price, computed the same way.
        if held == 0:
            self._open(fill, qty if buying else -qty, qty_precision, px_raw, px_precision)
            realized = self._realized_money()
            events = [self._event(_PositionOpened, fill, last_qty, realized, self._zero_money)]
        elif (held > 0) == buying:
            self._increase(qty if buying else -qty, max(places, qty_precision), px_raw,
                           px_precision)
            realized = self._realized_money()
            unrealized = self._unrealized_money(px_raw, px_precision)
            events = [self._event(_PositionChanged, fill, last_qty, realized, unrealized)]
        elif qty < (held if held > 0 else -held):
            # Reduce by qty (Decimal's min(qty, |held|) keeps the fill's quantity on a tie,
            # and with it the exponent of the result: see _close).
            self._reduce(qty, max(places, qty_precision), px_raw, px_precision)
            realized = self._realized_money()
            unrealized = self._unrealized_money(px_raw, px_precision)
            events = [self._event(_PositionChanged, fill, last_qty, realized, unrealized)]
        else:
            events = self._close(fill, buying, qty, qty_precision, px_raw, px_precision)
        self.last_events = events
        return events

    cdef list _close(self, fill, bint buying, int64_t qty, int qty_precision, int64_t px_raw,
                     int px_precision):
        # A fill of at least the held quantity against it: _reduce to flat and, through zero,
        # _open the rest; in one method (a flip is the fill the EMA cross makes).
        cdef int64_t held = self._raw
        cdef int64_t whole = held if held > 0 else -held
        cdef int64_t remainder
        cdef int places = self._places
        cdef int precision = self.size_precision
        cdef bint single_exit
        cdef bint narrow = False
        cdef zq_i128 exit_n = 0, gain_n = 0, realized_n = 0, closed_n = 0, trip_n = 0
        cdef zq_i128 reopened_n = 0
        # The entry value goes entirely; realized PnL is the exit value minus it.
        self._flat_avg_px_open = self._avg_open()
        # In 128 bits when every value fits (computed first: nothing changes until then),
        # else with the Python ints.
        if not self._wide and self._value_n(whole, precision, px_raw, px_precision, &exit_n):
            narrow = (
                (zq_sub128(self._open_n, exit_n, &gain_n) if self.is_inverse
                 else zq_sub128(exit_n, self._open_n, &gain_n))
                and zq_mul128(gain_n, self._multiplier_raw, &gain_n)
                and (zq_add128(self._realized_n, gain_n, &realized_n) if held > 0
                     else zq_sub128(self._realized_n, gain_n, &realized_n))
                and zq_add128(self._closed_n, exit_n, &closed_n)
                and zq_sub128(realized_n, self._start_n, &trip_n)
                and (qty == whole or self._value_n(qty - whole, precision, px_raw,
                                                   px_precision, &reopened_n))
            )
        if narrow:
            self._realized_n = realized_n
            self._open_n = 0
        else:
            self._widen()
            removed = self._open_w
            exit_value = self._value(whole, precision, px_raw, px_precision)
            gain = removed - exit_value if self.is_inverse else exit_value - removed
            gain = gain * self._multiplier_raw
            realized_units = self._realized_w = self._realized_w + (gain if held > 0 else -gain)
            self._open_w = 0
        # min(qty, |held|) keeps the fill's quantity on a tie (and its exponent).
        self._set_qty(0, max(places, qty_precision) if qty == whole else places)
        # A linear round trip closed by this one reduction closes at the fill's price.
        single_exit = self._closed_raw == 0 and not self.is_inverse
        self._closed_raw = _checked_add(self._closed_raw, whole)
        if narrow:
            self._closed_n = closed_n
        else:
            self._closed_w = self._closed_w + exit_value
        ts_event = _field(fill, F_TS_EVENT)
        ts_init = _field(fill, F_TS_INIT)
        trade_id = _field(fill, F_TRADE_ID)
        client_order_id = _field(fill, F_CLIENT_ORDER_ID)
        last_px = _field(fill, F_LAST_PX)
        self.closing_order_id = client_order_id
        self.ts_closed = ts_event
        # The realized PnL (the same in both events of a flip) and the round trip's, rounded
        # half-even to the currency as _money rounds them.
        if narrow:
            realized = self._money_n(realized_n)
            round_trip = self._money_n(trip_n)
        else:
            realized = self._to_money(realized_units)
            round_trip = self._to_money(realized_units - self._start_w)
        if qty == whole:
            part = _field(fill, F_LAST_QTY)
        elif precision == qty_precision:
            part = quantity_from_raw_c(whole, precision)
        else:
            part = self._part(whole, qty_precision, places)  # |held|, with its decimals
        # Positional, in the order of PositionClosed's fields. The position is flat: no
        # open quantity, no unrealized PnL.
        closed = _PositionClosed(
            self.trader_id,
            self.strategy_id,
            self.instrument_id,
            self.id,  # position_id
            self.account_id,
            self.opening_order_id,
            self.entry,
            _FLAT,  # side
            self.signed_qty,
            self._zero_qty,  # quantity
            self.peak_qty,
            trade_id,  # last_trade_id
            part,  # last_qty
            last_px,
            self.currency,
            self._flat_avg_px_open,  # avg_px_open
            self._price_of(px_raw, px_precision) if single_exit else self._avg_close(),
            realized,  # realized_pnl
            self._zero_money,  # unrealized_pnl
            self.ts_opened,
            ts_event,
            ts_init,
            client_order_id,  # closing_order_id
            round_trip,  # round_trip_pnl
            ts_event,  # ts_closed
            ts_event - self.ts_opened,  # duration_ns
        )
        if qty == whole:
            if not narrow:
                self._narrow()
            return [closed]
        # Through zero: the rest opens the other side at the fill's price (_open, then
        # _event's PositionOpened, inline: its unrealized PnL is zero, nothing closed yet).
        remainder = qty - whole
        self._set_qty(remainder if buying else -remainder, max(qty_precision, places))
        if narrow:
            self._open_n = reopened_n
            self._closed_n = 0
            self._start_n = realized_n
        else:
            self._open_w = self._value(remainder, precision, px_raw, px_precision)
            self._closed_w = 0
            self._start_w = realized_units
        entry = self.entry = _field(fill, F_ORDER_SIDE)
        self.opening_order_id = client_order_id
        self.closing_order_id = None
        self.ts_opened = ts_event
        self.ts_closed = None
        self._closed_raw = 0
        if not narrow:
            self._narrow()
        if remainder == whole and precision == qty_precision:
            quantity = part  # a flip to the same size: the closed part's (immutable) Quantity
        else:
            quantity = quantity_from_raw_c(remainder, precision)
        self.peak_qty = quantity
        if precision == qty_precision:
            part = quantity
        else:  # qty − |held|, with the decimals of the two
            part = self._part(remainder, qty_precision, max(qty_precision, places))
        if self.is_inverse:
            average = self._avg_open()
        else:  # opened by one fill: at its price
            average = self._avg_px_open = self._price_of(px_raw, px_precision)
        # Positional, in the order of PositionEvent's fields.
        opened = _PositionOpened(
            self.trader_id,
            self.strategy_id,
            self.instrument_id,
            self.id,  # position_id
            self.account_id,
            client_order_id,  # opening_order_id
            entry,
            _LONG if buying else _SHORT,  # side
            self.signed_qty,
            quantity,
            quantity,  # peak_qty
            trade_id,  # last_trade_id
            part,  # last_qty
            last_px,
            self.currency,
            average,  # avg_px_open
            None,  # avg_px_close: nothing closed in this round trip yet
            realized,  # realized_pnl
            self._zero_money,  # unrealized_pnl
            ts_event,  # ts_opened
            ts_event,
            ts_init,
        )
        return [closed, opened]

    cdef object _price_of(self, int64_t raw, int precision):
        # _price(raw, precision), kept for the last price asked (a flip asks twice).
        if self._px_decimal is None or raw != self._px_raw or precision != self._px_precision:
            self._px_decimal = _price_c(raw, precision)
            self._px_raw = raw
            self._px_precision = precision
        return self._px_decimal

    cdef int _raise_size_precision(self, int precision) except -1:
        cdef int shift = precision - self.size_precision
        self._raw = _scaled(self._raw, shift)
        self._closed_raw = _scaled(self._closed_raw, shift)
        self.size_precision = precision
        self._unit_qty = quantity_from_raw_c(1, precision)
        self._zero_qty = quantity_from_raw_c(0, precision)
        self._avg_px_open = None
        return 0

    cdef Quantity _part(self, int64_t raw, int precision, int places):
        # A part of the fill's quantity (closed or reopened) at the fill's precision. It has
        # at most `places` decimals, the exponent Decimal arithmetic gives it: a part that
        # does not fit the fill's precision is refused naming that Decimal.
        cdef int size_precision = self.size_precision
        cdef int64_t factor = _POW10_64[size_precision - precision]
        if raw % factor == 0:
            return quantity_from_raw_c(raw // factor, precision)
        return Quantity(
            _decimal(raw // _POW10_64[size_precision - places], places), precision
        )

    cdef int _set_qty(self, int64_t raw, int places) except -1:
        self._raw = raw
        self._places = places
        self._avg_px_open = None  # the open quantity (and its value) changes with it
        # Exact: the quantity has at most `places` decimals.
        self.signed_qty = _memo_decimal(raw // _POW10_64[self.size_precision - places], places)
        return 0

    cdef object _value(self, int64_t qty, int qty_precision, int64_t px_raw,
                       int px_precision):
        # The value of `qty` at the price, in units of 10**-_SCALE: qty × px (linear), or
        # qty / px (inverse) rounded half-even.
        cdef object units
        if not self.is_inverse:
            value = zq_linear_value(qty, px_raw, _SCALE - qty_precision - px_precision)
            if value is not None:
                return value
        units = qty
        if self.is_inverse:
            return _ratio(units * _pow10(_SCALE - qty_precision + px_precision), px_raw)
        return units * px_raw * _pow10(_SCALE - qty_precision - px_precision)

    cdef bint _value_n(self, int64_t qty, int qty_precision, int64_t px_raw, int px_precision,
                       zq_i128 *out):
        # _value in 128 bits; False when it does not fit.
        if self.is_inverse:
            return zq_inverse128(qty, px_raw, _SCALE - qty_precision + px_precision, out)
        return zq_linear128(qty, px_raw, _SCALE - qty_precision - px_precision, out)

    cdef int _open(self, fill, int64_t signed, int places, int64_t px_raw,
                   int px_precision) except -1:
        cdef int64_t held = signed if signed >= 0 else -signed
        cdef zq_i128 value
        self._set_qty(signed, places)
        if not self._wide and self._value_n(held, self.size_precision, px_raw, px_precision,
                                            &value):
            self._open_n = value
            self._closed_n = 0
            self._start_n = self._realized_n
        else:
            self._widen()
            self._open_w = self._value(held, self.size_precision, px_raw, px_precision)
            self._closed_w = 0
            self._start_w = self._realized_w
            self._narrow()
        self.entry = _field(fill, F_ORDER_SIDE)
        self.opening_order_id = _field(fill, F_CLIENT_ORDER_ID)
        self.closing_order_id = None
        self.ts_opened = _field(fill, F_TS_EVENT)
        self.ts_closed = None
        self._closed_raw = 0
        self.peak_qty = quantity_from_raw_c(held, self.size_precision)
        return 0

    cdef int _increase(self, int64_t signed, int places, int64_t px_raw,
                       int px_precision) except -1:
        cdef int precision = self.size_precision
        cdef int64_t held
        cdef Quantity peak = self.peak_qty
        cdef zq_i128 value, total
        self._set_qty(_checked_add(self._raw, signed), places)
        if (
            not self._wide
            and self._value_n(signed if signed >= 0 else -signed, precision, px_raw,
                              px_precision, &value)
            and zq_add128(self._open_n, value, &total)
        ):
            self._open_n = total
        else:
            self._widen()
            self._open_w = self._open_w + self._value(
                signed if signed >= 0 else -signed, precision, px_raw, px_precision
            )
            self._narrow()
        held = self._raw if self._raw >= 0 else -self._raw
        if held > _scaled(peak.raw, precision - peak.precision):
            self.peak_qty = quantity_from_raw_c(held, precision)
        return 0

    cdef int _reduce(self, int64_t qty, int places, int64_t px_raw,
                     int px_precision) except -1:
        cdef int64_t held = self._raw
        cdef int64_t whole = held if held >= 0 else -held
        cdef bint narrow = False
        cdef zq_i128 removed_n = 0, exit_n = 0, gain_n = 0, realized_n = 0, open_n = 0
        cdef zq_i128 closed_n = 0
        # The removed share of the entry value; whatever it rounds to stays in the books
        # (realized now, or left in the open value), so realized + unrealized stays exact.
        if qty == whole:
            self._flat_avg_px_open = self._avg_open()
        # In 128 bits when every value fits (computed first), else with the Python ints.
        if not self._wide:
            if qty == whole:
                removed_n = self._open_n
                narrow = True
            else:
                narrow = zq_share128(self._open_n, qty, whole, &removed_n)
            narrow = (
                narrow
                and self._value_n(qty, self.size_precision, px_raw, px_precision, &exit_n)
                and (zq_sub128(removed_n, exit_n, &gain_n) if self.is_inverse
                     else zq_sub128(exit_n, removed_n, &gain_n))
                and zq_mul128(gain_n, self._multiplier_raw, &gain_n)
                and (zq_add128(self._realized_n, gain_n, &realized_n) if held > 0
                     else zq_sub128(self._realized_n, gain_n, &realized_n))
                and zq_sub128(self._open_n, removed_n, &open_n)
                and zq_add128(self._closed_n, exit_n, &closed_n)
            )
        if narrow:
            self._realized_n = realized_n
            self._open_n = open_n
        else:
            self._widen()
            if qty == whole:
                removed = self._open_w
            else:
                removed = _share(self._open_w, qty, whole)
            exit_value = self._value(qty, self.size_precision, px_raw, px_precision)
            gain = removed - exit_value if self.is_inverse else exit_value - removed
            gain = gain * self._multiplier_raw
            self._realized_w = self._realized_w + (gain if held > 0 else -gain)
            self._open_w = self._open_w - removed
        self._set_qty(held - qty if held > 0 else held + qty, places)
        self._closed_raw = _checked_add(self._closed_raw, qty)
        if narrow:
            self._closed_n = closed_n
        else:
            self._closed_w = self._closed_w + exit_value
            self._narrow()
        return 0

    cdef object _event(self, kind, fill, Quantity last_qty, Money realized, Money unrealized):
        cdef int64_t raw = self._raw
        # Positional, in the order of PositionEvent's fields (see its docstring).
        return kind(
            self.trader_id,
            self.strategy_id,
            self.instrument_id,
            self.id,  # position_id
            self.account_id,
            self.opening_order_id,
            self.entry,
            _LONG if raw > 0 else _SHORT if raw < 0 else _FLAT,  # side
            self.signed_qty,
            quantity_from_raw_c(raw if raw >= 0 else -raw, self.size_precision),  # quantity
            self.peak_qty,
            _field(fill, F_TRADE_ID),  # last_trade_id
            last_qty,
            _field(fill, F_LAST_PX),
            self.currency,
            self._avg_open(),
            self._avg_close(),
            realized,  # realized_pnl
            unrealized,  # unrealized_pnl
            self.ts_opened,
            _field(fill, F_TS_EVENT),
            _field(fill, F_TS_INIT),
        )
