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
from libc.stdint cimport INT64_MAX, int64_t

from zq_core.fixed cimport Money, Price, Quantity, quantity_from_raw_c


cdef extern from *:
    """
    #include <string.h>
    /* 128-bit fast paths of the Python-int arithmetic below (GCC and Clang have __int128).
       Each returns 1 when it computed the result, 0 when the operands do not fit (the
       caller then takes the Python-int path): the results are the same either way. */
    #if defined(__SIZEOF_INT128__)
    #define ZQ_HAVE_INT128 1
    static __int128 zq_pow10_128[38];
    static int zq_pow10_ready = 0;

    static void zq_init_pow10(void) {
        __int128 p = 1;
        for (int k = 0; k < 38; k++) { zq_pow10_128[k] = p; p *= 10; }
        zq_pow10_ready = 1;
    }

    /* CPython 3.11's int: |ob_size| digits of PyLong_SHIFT bits, least significant first,
       the sign in ob_size. Read and made directly (a tenth of the byte-array route) while
       the number has at most four 30-bit digits (< 2**120); the byte-array route else. */
    #if PY_VERSION_HEX < 0x030C0000 && PyLong_SHIFT == 30
    #define ZQ_LONG_DIGITS 1
    #else
    #define ZQ_LONG_DIGITS 0
    #endif

    /* int(v) as __int128; 0 (no exception set) when v is not an int or needs more bits. */
    static int zq_as_int128(PyObject *v, __int128 *out) {
        unsigned char bytes[16];
        if (!PyLong_CheckExact(v)) return 0;
    #if ZQ_LONG_DIGITS
        {
            Py_ssize_t size = Py_SIZE(v);
            Py_ssize_t count = size < 0 ? -size : size;
            if (count <= 4) {
                const digit *digits = ((PyLongObject *)v)->ob_digit;
                unsigned __int128 magnitude = 0;
                for (Py_ssize_t i = count - 1; i >= 0; i--)
                    magnitude = (magnitude << PyLong_SHIFT) | digits[i];
                *out = size < 0 ? -(__int128)magnitude : (__int128)magnitude;
                return 1;
            }
        }
    #endif
        if (_PyLong_AsByteArray((PyLongObject *)v, bytes, 16, PY_LITTLE_ENDIAN, 1) < 0) {
            PyErr_Clear();
            return 0;
        }
        memcpy(out, bytes, 16);
        return 1;
    }

    /* round_half_even(units / 10**k) as int64 (Python floor division, then the tie). */
    static int zq_round_units(PyObject *units, int k, int64_t *out) {
        __int128 u, unit, q, r, twice;
        if (k < 0 || k > 37 || !zq_pow10_ready || !zq_as_int128(units, &u)) return 0;
        unit = zq_pow10_128[k];
        q = u / unit;
        r = u % unit;
        if (r < 0) { q -= 1; r += unit; }
        twice = r + r;
        if (twice > unit || (twice == unit && (q & 1))) q += 1;
        if (q > INT64_MAX || q < INT64_MIN) return 0;
        *out = (int64_t)q;
        return 1;
    }

    /* qty * px * 10**k as a new Python int; None when it passes 127 bits. */
    static PyObject *zq_linear_value(int64_t qty, int64_t px, int k) {
        __int128 product, result;
        unsigned char bytes[16];
        if (k < 0 || k > 37 || !zq_pow10_ready) Py_RETURN_NONE;
        product = (__int128)qty * (__int128)px;  /* exact: |product| < 2**126 */
        if (__builtin_mul_overflow(product, zq_pow10_128[k], &result)) Py_RETURN_NONE;
    #if ZQ_LONG_DIGITS
        {
            unsigned __int128 magnitude = result < 0 ? -(unsigned __int128)result
                                                     : (unsigned __int128)result;
            if (magnitude < ((unsigned __int128)1 << 120)) {
                Py_ssize_t count = 0;
                PyLongObject *made;
                if (result >= -(__int128)INT64_MAX && result <= (__int128)INT64_MAX)
                    return PyLong_FromLongLong((long long)result);
                for (unsigned __int128 rest = magnitude; rest != 0; rest >>= PyLong_SHIFT)
                    count++;
                made = _PyLong_New(count);
                if (made == NULL) return NULL;
                for (Py_ssize_t i = 0; i < count; i++) {
                    made->ob_digit[i] = (digit)(magnitude & PyLong_MASK);
                    magnitude >>= PyLong_SHIFT;
                }
                if (result < 0) Py_SET_SIZE(made, -count);
                return (PyObject *)made;
            }
        }
    #endif
        memcpy(bytes, &result, 16);
        return _PyLong_FromByteArray(bytes, 16, PY_LITTLE_ENDIAN, 1);
    }
    #else
    #define ZQ_HAVE_INT128 0
    static void zq_init_pow10(void) {}
    static int zq_round_units(PyObject *units, int k, int64_t *out) { return 0; }
    static PyObject *zq_linear_value(int64_t qty, int64_t px, int k) { Py_RETURN_NONE; }
    #endif
    """
    void zq_init_pow10()
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
    """
    Py_ssize_t zq_member_offset(object descr)
    PyObject *zq_slot(object obj, Py_ssize_t offset)


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
)
cdef Py_ssize_t[12] _FILL_OFFSETS
cdef object _FILL_TYPE = None  # OrderFilled, once its offsets are known


def bind_fill(filled):
    """Hand over ``OrderFilled``: its fields are then read at their offsets."""
    global _FILL_TYPE
    cdef int field
    cdef Py_ssize_t offset
    for field in range(F_COUNT):
        offset = zq_member_offset(getattr(filled, _FILL_NAMES[field], None))
        if offset < 0:  # not a plain field: getattr it is
            _FILL_TYPE = None
            return
        _FILL_OFFSETS[field] = offset
    _FILL_TYPE = filled


cdef object fill_field(object fill, int field):
    cdef PyObject *value
    if type(fill) is _FILL_TYPE:
        value = zq_slot(fill, _FILL_OFFSETS[field])
        if value is not NULL:
            return <object>value
    return getattr(fill, _FILL_NAMES[field])


from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

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


cdef object _memo_decimal(int64_t units, int scale):
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
    value = _Decimal(units).scaleb(-scale, _CONTEXT)
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
    value = _Decimal(raw).scaleb(-precision, _CONTEXT).normalize(_CONTEXT)
    PyDict_SetItem(memo, raw, value)
    return value


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


cdef inline Money _money_like(Money unit, object raw):
    # Money of `raw` units in unit's currency (as unit * raw: OverflowError past int64).
    cdef Money money = Money.__new__(Money)
    money.raw = raw
    money.precision = unit.precision
    money.currency = unit.currency
    money._code = unit._code
    return money


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
        self._open_value = 0
        self._closed_raw = 0
        self._closed_value = 0
        self._flat_avg_px_open = _ZERO
        self._avg_px_open = None
        self._realized = 0
        self._round_trip_start = 0
        self._commissions = {}
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
                average = _quotient(held * _pow10(_SCALE), self._open_value,
                                    self.size_precision)
            else:
                average = _quotient(self._open_value, held, _SCALE - self.size_precision)
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
            return _quotient(closed * _pow10(_SCALE), self._closed_value, self.size_precision)
        return _quotient(self._closed_value, closed, _SCALE - self.size_precision)

    @property
    def entry_value(self):
        """The open quantity's value at entry, in the settlement currency, exact.

        Linear: ``|qty| × avg_px_open × multiplier``; inverse: ``|qty| × multiplier /
        avg_px_open``. Margin is computed from it.
        """
        return _decimal(self._open_value * self._multiplier_raw, self._pnl_scale)

    # -- PnL -------------------------------------------------------------------------------

    @property
    def realized_pnl_decimal(self):
        """The gross realized PnL over the position's life, unrounded."""
        return _decimal(self._realized, self._pnl_scale)

    @property
    def realized_pnl(self):
        """The gross realized PnL over the position's life, in the settlement currency."""
        return self._to_money(self._realized)

    @property
    def commissions(self):
        """The commissions paid, per currency code (negative for rebates)."""
        return dict(self._commissions)

    def commission(self, currency):
        """Return the commissions paid in ``currency`` (zero if none)."""
        return self._commissions.get(currency.code, Money.from_raw(0, currency))

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
        if raw == 0:
            return 0
        exit_value = self._value(raw if raw > 0 else -raw, self.size_precision,
                                 px_raw, px_precision)
        if self.is_inverse:
            gain = self._open_value - exit_value
        else:
            gain = exit_value - self._open_value
        return gain * self._multiplier_raw if raw > 0 else -gain * self._multiplier_raw

    def unrealized_pnl(self, Price price not None):
        """Return the unrealized PnL at ``price`` in the settlement currency.

        Linear: ``(price − avg_px_open) × signed_qty × multiplier``; inverse:
        ``signed_qty × multiplier × (1 / avg_px_open − 1 / price)`` in the base currency.
        """
        return self._to_money(self._unrealized(price.raw, price.precision))

    def total_pnl(self, Price price not None):
        """Return realized plus unrealized PnL at ``price`` (gross of commissions)."""
        return self._to_money(self._realized + self._unrealized(price.raw, price.precision))

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
            return _money_like(self._unit_money, rounded)
        unit = self._money_unit
        raw, remainder = divmod(units, unit)
        twice = remainder + remainder
        if twice > unit or (twice == unit and raw & 1):
            raw += 1
        return _money_like(self._unit_money, raw)

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
        cdef bint buying = fill_field(fill, F_ORDER_SIDE) is _BUY
        cdef Quantity last_qty = <Quantity?>fill_field(fill, F_LAST_QTY)
        cdef Price last_px = <Price?>fill_field(fill, F_LAST_PX)
        cdef Money commission = <Money?>fill_field(fill, F_COMMISSION)
        cdef int qty_precision, precision, places, px_precision
        cdef int64_t qty, held, px_raw
        cdef list events
        trade_id = fill_field(fill, F_TRADE_ID)
        self._trade_ids[trade_id] = None
        code = commission._code
        previous = self._commissions.get(code)
        self._commissions[code] = commission if previous is None else previous + commission
        self.last_trade_id = trade_id
        self.last_qty = last_qty
        self.last_px = last_px
        self.ts_last = fill_field(fill, F_TS_EVENT)
        self.ts_init = fill_field(fill, F_TS_INIT)
        self.account_id = fill_field(fill, F_ACCOUNT_ID)

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
            realized = self._to_money(self._realized)
            events = [self._event(_PositionOpened, fill, last_qty, realized, self._zero_money)]
        elif (held > 0) == buying:
            self._increase(qty if buying else -qty, max(places, qty_precision), px_raw,
                           px_precision)
            realized = self._to_money(self._realized)
            unrealized = self._to_money(self._unrealized(px_raw, px_precision))
            events = [self._event(_PositionChanged, fill, last_qty, realized, unrealized)]
        elif qty < (held if held > 0 else -held):
            # Reduce by qty (Decimal's min(qty, |held|) keeps the fill's quantity on a tie,
            # and with it the exponent of the result: see _close).
            self._reduce(qty, max(places, qty_precision), px_raw, px_precision)
            realized = self._to_money(self._realized)
            unrealized = self._to_money(self._unrealized(px_raw, px_precision))
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
        # The entry value goes entirely; realized PnL is the exit value minus it.
        self._flat_avg_px_open = self._avg_open()
        removed = self._open_value
        exit_value = self._value(whole, precision, px_raw, px_precision)
        gain = removed - exit_value if self.is_inverse else exit_value - removed
        gain = gain * self._multiplier_raw
        realized_units = self._realized = self._realized + (gain if held > 0 else -gain)
        self._open_value = 0
        # min(qty, |held|) keeps the fill's quantity on a tie (and its exponent).
        self._set_qty(0, max(places, qty_precision) if qty == whole else places)
        # A linear round trip closed by this one reduction closes at the fill's price.
        single_exit = self._closed_raw == 0 and not self.is_inverse
        self._closed_raw = _checked_add(self._closed_raw, whole)
        self._closed_value = self._closed_value + exit_value
        ts_event = fill_field(fill, F_TS_EVENT)
        ts_init = fill_field(fill, F_TS_INIT)
        trade_id = fill_field(fill, F_TRADE_ID)
        client_order_id = fill_field(fill, F_CLIENT_ORDER_ID)
        last_px = fill_field(fill, F_LAST_PX)
        self.closing_order_id = client_order_id
        self.ts_closed = ts_event
        # The realized PnL (the same in both events of a flip) and the round trip's, rounded
        # half-even to the currency as _money rounds them.
        realized = self._to_money(realized_units)
        if qty == whole:
            part = fill_field(fill, F_LAST_QTY)
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
            self._to_money(realized_units - self._round_trip_start),  # round_trip_pnl
            ts_event,  # ts_closed
            ts_event - self.ts_opened,  # duration_ns
        )
        if qty == whole:
            return [closed]
        # Through zero: the rest opens the other side at the fill's price (_open, then
        # _event's PositionOpened, inline: its unrealized PnL is zero, nothing closed yet).
        remainder = qty - whole
        self._set_qty(remainder if buying else -remainder, max(qty_precision, places))
        self._open_value = self._value(remainder, precision, px_raw, px_precision)
        entry = self.entry = fill_field(fill, F_ORDER_SIDE)
        self.opening_order_id = client_order_id
        self.closing_order_id = None
        self.ts_opened = ts_event
        self.ts_closed = None
        self._closed_raw = 0
        self._closed_value = 0
        self._round_trip_start = realized_units
        quantity = self.peak_qty = quantity_from_raw_c(remainder, precision)
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
            self._px_decimal = _price(raw, precision)
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

    cdef int _open(self, fill, int64_t signed, int places, int64_t px_raw,
                   int px_precision) except -1:
        cdef int64_t held = signed if signed >= 0 else -signed
        self._set_qty(signed, places)
        self._open_value = self._value(held, self.size_precision, px_raw, px_precision)
        self.entry = fill_field(fill, F_ORDER_SIDE)
        self.opening_order_id = fill_field(fill, F_CLIENT_ORDER_ID)
        self.closing_order_id = None
        self.ts_opened = fill_field(fill, F_TS_EVENT)
        self.ts_closed = None
        self._closed_raw = 0
        self._closed_value = 0
        self._round_trip_start = self._realized
        self.peak_qty = quantity_from_raw_c(held, self.size_precision)
        return 0

    cdef int _increase(self, int64_t signed, int places, int64_t px_raw,
                       int px_precision) except -1:
        cdef int precision = self.size_precision
        cdef int64_t held
        cdef Quantity peak = self.peak_qty
        self._set_qty(_checked_add(self._raw, signed), places)
        self._open_value = self._open_value + self._value(
            signed if signed >= 0 else -signed, precision, px_raw, px_precision
        )
        held = self._raw if self._raw >= 0 else -self._raw
        if held > _scaled(peak.raw, precision - peak.precision):
            self.peak_qty = quantity_from_raw_c(held, precision)
        return 0

    cdef int _reduce(self, int64_t qty, int places, int64_t px_raw,
                     int px_precision) except -1:
        cdef int64_t held = self._raw
        cdef int64_t whole = held if held >= 0 else -held
        # The removed share of the entry value; whatever it rounds to stays in the books
        # (realized now, or left in the open value), so realized + unrealized stays exact.
        if qty == whole:
            self._flat_avg_px_open = self._avg_open()
            removed = self._open_value
        else:
            removed = _share(self._open_value, qty, whole)
        exit_value = self._value(qty, self.size_precision, px_raw, px_precision)
        gain = removed - exit_value if self.is_inverse else exit_value - removed
        gain = gain * self._multiplier_raw
        self._realized = self._realized + (gain if held > 0 else -gain)
        self._open_value = self._open_value - removed
        self._set_qty(held - qty if held > 0 else held + qty, places)
        self._closed_raw = _checked_add(self._closed_raw, qty)
        self._closed_value = self._closed_value + exit_value
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
            fill_field(fill, F_TRADE_ID),  # last_trade_id
            last_qty,
            fill_field(fill, F_LAST_PX),
            self.currency,
            self._avg_open(),
            self._avg_close(),
            realized,  # realized_pnl
            unrealized,  # unrealized_pnl
            self.ts_opened,
            fill_field(fill, F_TS_EVENT),
            fill_field(fill, F_TS_INIT),
        )
