# The contract of zq_core.position: the state of a position in C fields, and the fill path.
#
# zq.model.position.Position subclasses PositionCore; the Portfolio (zq_core.portfolio)
# reads the integer state and applies fills through the cdef/cpdef methods below.

from cpython.object cimport PyObject
from libc.stdint cimport int64_t

from zq_core.fixed cimport Money, Price, Quantity


cdef extern from "zq_int128.h":
    # __int128 where the compiler has it (see the header); declared as long long for
    # Cython, which only copies, compares and assigns zero to it: the arithmetic and the
    # conversions go through the helpers below.
    ctypedef long long zq_i128
    bint zq_as_int128(object v, zq_i128 *out)
    object zq_int128_to_long(zq_i128 v)
    bint zq_add128(zq_i128 a, zq_i128 b, zq_i128 *out)
    bint zq_sub128(zq_i128 a, zq_i128 b, zq_i128 *out)
    bint zq_mul128(zq_i128 a, zq_i128 b, zq_i128 *out)
    bint zq_add64(int64_t a, int64_t b, int64_t *out)
    bint zq_sub64(int64_t a, int64_t b, int64_t *out)


# The fields of an OrderFilled read on the fill path, by number (see fill_field).
cdef enum:
    F_TRADER_ID
    F_STRATEGY_ID
    F_INSTRUMENT_ID
    F_CLIENT_ORDER_ID
    F_TS_EVENT
    F_TS_INIT
    F_ACCOUNT_ID
    F_TRADE_ID
    F_ORDER_SIDE
    F_LAST_QTY
    F_LAST_PX
    F_COMMISSION
    F_POSITION_ID
    F_COUNT

cdef extern from *:
    """
    /* fill.<field> at its offset (borrowed; NULL: fill is not of type `kind`, or the
       field is unset): fill_field's read, inline where a module reads many fields. */
    static CYTHON_INLINE PyObject *zq_fill_slot(PyObject *fill, PyObject *kind,
                                                const Py_ssize_t *offsets, int field) {
        return (PyObject *)Py_TYPE(fill) == kind
            ? *(PyObject **)((char *)fill + offsets[field]) : NULL;
    }
    """
    PyObject *zq_fill_slot(object fill, PyObject *kind, const Py_ssize_t *offsets, int field)


# fill.<field>: read at its offset for an OrderFilled (bind_fill), else by getattr.
cdef object fill_field(object fill, int field)
# What fill_field reads at: the address of the bound OrderFilled type (NULL: none, or not
# plain fields) and the fields' offsets, for a module reading them with zq_fill_slot.
cdef PyObject **fill_kind()
cdef Py_ssize_t *fill_offsets()
# The fill with ``position_id`` set: an OrderFilled copied by msgspec's __copy__ with the
# field written at its offset, else msgspec.structs.replace(fill, position_id=...).
cdef object fill_with_position_id(object fill, object position_id)

# left + right (left - right when subtract) as Money's operators give it: in C for the very
# same currency object and a result within int64, else through the operator.
cdef object money_sum(Money left, Money right, bint subtract)


cdef class PositionCore:
    # --- identity (public: the Python API's attributes) -----------------------------------
    cdef public object id                  # PositionId
    cdef public object trader_id
    cdef public object strategy_id
    cdef public object instrument_id
    cdef public object account_id
    cdef public object currency            # the instrument's settlement currency
    cdef public object multiplier          # Decimal
    cdef public bint is_inverse
    # decimal places of the raw quantities (the instrument's, or a finer fill's)
    cdef public int size_precision

    # --- the current round trip and the latest fill ---------------------------------------
    cdef public object signed_qty          # Decimal, exponent -_places
    cdef public Quantity peak_qty
    cdef public object entry               # OrderSide of the opening fill
    cdef public object opening_order_id
    cdef public object closing_order_id    # None while open
    cdef public object ts_opened
    cdef public object ts_last
    cdef public object ts_closed           # None while open
    cdef public object ts_init
    cdef public object last_trade_id
    cdef public Quantity last_qty
    cdef public Price last_px
    cdef public list last_events

    # --- the exact state ------------------------------------------------------------------
    # signed quantity in units of 10**-size_precision; its Decimal has `_places` decimals
    cdef readonly int64_t _raw
    cdef readonly int _places
    # The entry value of the open quantity and the exit value of the round trip (units of
    # 10**-30), the realized PnL and its value when the round trip opened (units of
    # 10**-_pnl_scale). They pass 64 bits: held in 128-bit C integers while the four fit
    # (_wide false), else as Python ints (_wide true; the C fields are then unused). The
    # properties _open_value, _closed_value, _realized, _round_trip_start read either.
    cdef bint _wide
    cdef zq_i128 _open_n
    cdef zq_i128 _closed_n
    cdef zq_i128 _realized_n
    cdef zq_i128 _start_n
    cdef object _open_w
    cdef object _closed_w
    cdef object _realized_w
    cdef object _start_w
    # quantity closed in the round trip, units of 10**-size_precision
    cdef readonly int64_t _closed_raw
    cdef readonly int64_t _multiplier_raw
    cdef readonly int _pnl_scale           # 30 + the multiplier's precision
    cdef readonly object _money_unit       # PnL units per raw unit of the currency
    cdef readonly int _money_digits        # its exponent: _money_unit == 10**_money_digits
    cdef readonly Money _zero_money
    cdef readonly Money _unit_money
    cdef readonly Quantity _unit_qty
    cdef readonly Quantity _zero_qty
    cdef readonly object _flat_avg_px_open  # avg_px_open of the last round trip, when flat
    cdef readonly object _avg_px_open       # of the open quantity, made once (None: not yet)
    # the Decimal of the last price _price_of made (None: none yet), and that price
    cdef object _px_decimal
    cdef int64_t _px_raw
    cdef int _px_precision
    # currency code -> Money (the property _commissions: after _settle_fees). The latest
    # fee's total moves in C while the fees come in its currency object: _fee_total is
    # the Money the dict holds for it (None: none moving), _fee_raw its raw by now.
    cdef dict _fee_totals
    cdef Money _fee_total
    cdef int64_t _fee_raw
    cdef readonly dict _trade_ids           # TradeId -> None, in order

    # --- the values as Python ints, and switching representation ----------------------------
    cdef object _open_units(self)
    cdef object _closed_units(self)
    cdef object _realized_units(self)
    cdef object _start_units(self)
    cdef int _widen(self) except -1
    cdef int _narrow(self) except -1
    cdef dict _settle_fees(self)

    # --- PnL ------------------------------------------------------------------------------
    cdef Money _to_money(self, object units)
    cdef Money _money_n(self, zq_i128 units)
    cdef Money _realized_money(self)
    # The PnL this fill realized, as Money (None when it realized nothing), given the
    # realized PnL before it: _wide then, and _realized_n or _realized_w.
    cdef object _realized_since(self, bint was_wide, zq_i128 before_n, object before_w)
    cdef Money _unrealized_money(self, int64_t px_raw, int px_precision)
    cdef bint _unrealized_n(self, int64_t px_raw, int px_precision, zq_i128 *out) except -1
    cdef object _unrealized(self, int64_t px_raw, int px_precision)
    cdef object _avg_open(self)
    cdef object _avg_close(self)

    # --- fills ----------------------------------------------------------------------------
    cpdef check(self, fill)
    cdef list _apply_fill(self, fill)
    cdef list _close(self, fill, bint buying, int64_t qty, int qty_precision, int64_t px_raw,
                     int px_precision)
    cdef object _price_of(self, int64_t raw, int precision)
    cdef int _raise_size_precision(self, int precision) except -1
    cdef Quantity _part(self, int64_t raw, int precision, int places)
    cdef int _set_qty(self, int64_t raw, int places) except -1
    cdef object _value(self, int64_t qty, int qty_precision, int64_t px_raw, int px_precision)
    cdef bint _value_n(self, int64_t qty, int qty_precision, int64_t px_raw, int px_precision,
                       zq_i128 *out)
    cdef int _open(self, fill, int64_t signed, int places, int64_t px_raw,
                   int px_precision) except -1
    cdef int _increase(self, int64_t signed, int places, int64_t px_raw,
                       int px_precision) except -1
    cdef int _reduce(self, int64_t qty, int places, int64_t px_raw,
                     int px_precision) except -1
    cdef object _event(self, kind, fill, Quantity last_qty, Money realized, Money unrealized)
