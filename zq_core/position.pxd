# The contract of zq_core.position: the state of a position in C fields, and the fill path.
#
# zq.model.position.Position subclasses PositionCore; the Portfolio (zq_core.portfolio)
# reads the integer state and applies fills through the cdef/cpdef methods below.

from libc.stdint cimport int64_t

from zq_core.fixed cimport Money, Price, Quantity


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
    F_COUNT

# fill.<field>: read at its offset for an OrderFilled (bind_fill), else by getattr.
cdef object fill_field(object fill, int field)


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
    # Python ints in units of 10**-30 (values) and 10**-_pnl_scale (PnL): past 64 bits
    cdef readonly object _open_value
    cdef readonly object _closed_value
    cdef readonly object _realized
    cdef readonly object _round_trip_start
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
    cdef readonly dict _commissions         # currency code -> Money
    cdef readonly dict _trade_ids           # TradeId -> None, in order

    # --- PnL ------------------------------------------------------------------------------
    cdef Money _to_money(self, object units)
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
    cdef int _open(self, fill, int64_t signed, int places, int64_t px_raw,
                   int px_precision) except -1
    cdef int _increase(self, int64_t signed, int places, int64_t px_raw,
                       int px_precision) except -1
    cdef int _reduce(self, int64_t qty, int places, int64_t px_raw,
                     int px_precision) except -1
    cdef object _event(self, kind, fill, Quantity last_qty, Money realized, Money unrealized)
