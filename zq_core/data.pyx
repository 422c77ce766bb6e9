"""The compiled ``TradeTick``: one trade printed by a venue, one allocation.

A trade holds raw integers (fixed-point price and size, the aggressor side's value, the
venue's numeric trade id when it came from an array row) and its ``Price``; it makes
``size``, ``aggressor_side`` and ``trade_id`` on first access, keeping them. The replay loop
builds trades with the C entry point ``trade_from_raw`` (declared in data.pxd), so a
subscriber that reads only the price costs one allocation plus one ``Price``. ``price`` is a
member (the ``Price`` made with the trade): the interpreter reads it from the instance,
without the generic attribute look-up and call of a property (what nearly every subscriber
reads first, once per trade).

``zq.model.data`` registers the Python types handed out (the ``AggressorSide`` members and
``TradeId``) at import through `_register_types`; zq_core never imports zq.
"""

cimport cython
from cpython.object cimport Py_EQ, Py_NE, PyTypeObject
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport memcpy

from zq_core.fixed cimport (
    PRECISION_MAX_C,
    Price,
    Quantity,
    compare_raw_c,
    quantity_from_raw_c,
)

from zq_core.members cimport PyMemberDef, zq_expose_member

cdef extern from "Python.h":
    PyObject* PyTuple_GET_ITEM(object, Py_ssize_t)
    void PyTuple_SET_ITEM(object, Py_ssize_t, PyObject*)
    Py_ssize_t _refcount "Py_REFCNT"(PyObject*)
    object PyUnicode_New(Py_ssize_t, Py_UCS4)
    void* PyUnicode_DATA(object)

__all__ = ["TradeTick"]

# The registered Python types: AggressorSide members by value, and the TradeId class.
cdef tuple _AGGRESSORS = ()
cdef type _TRADE_ID = None


def _register_types(tuple aggressor_sides not None, type trade_id not None):
    """Register the ``AggressorSide`` members (by value) and the ``TradeId`` str subclass."""
    global _AGGRESSORS, _TRADE_ID
    if len(aggressor_sides) > 256:
        raise ValueError(f"at most 256 aggressor sides fit in a trade, got {len(aggressor_sides)}")
    for value, member in enumerate(aggressor_sides):
        if member != value:
            raise ValueError(f"aggressor side {member!r} is not at index {value} (its value)")
    if not issubclass(trade_id, str):
        raise TypeError(f"the trade id type must subclass str, got {trade_id.__name__}")
    _AGGRESSORS = aggressor_sides
    _TRADE_ID = trade_id


cdef Py_ssize_t aggressor_count() noexcept:
    return len(_AGGRESSORS)


cdef inline int _check_registered() except -1:
    if _TRADE_ID is None:
        raise RuntimeError(
            "zq_core.data.TradeTick is used before zq.model.data registered its types "
            "(import zq.model.data first)"
        )
    return 0


@cython.final
@cython.no_gc  # holds a str, two fixed-point values and a str subclass: no cycles possible
@cython.freelist(64)
cdef class TradeTick:
    """One trade printed by the venue; ``aggressor_side`` says who crossed the spread.

    Immutable; equal to another trade when every field is equal (prices and sizes by value,
    as ``Price`` compares); hashable consistently with that.

    Parameters
    ----------
    instrument_id : InstrumentId
        The instrument traded.
    price : Price
        The trade price.
    size : Quantity
        The size traded.
    aggressor_side : AggressorSide
        Who crossed the spread (``NO_AGGRESSOR`` when the venue does not say).
    trade_id : TradeId
        The venue's trade id (a plain ``str`` is validated into a ``TradeId``).
    ts_event : int
        When the trade happened at the venue, UNIX nanoseconds.
    ts_init : int
        When zq created the object, UNIX nanoseconds.
    """

    def __init__(
        self,
        instrument_id,
        Price price not None,
        Quantity size not None,
        aggressor_side,
        trade_id,
        ts_event,
        ts_init,
    ):
        _check_registered()
        if not isinstance(instrument_id, str):
            raise TypeError(
                f"TradeTick instrument_id must be an InstrumentId, got "
                f"{type(instrument_id).__name__}: {instrument_id!r}"
            )
        if (
            not isinstance(aggressor_side, int)
            or not 0 <= aggressor_side < len(_AGGRESSORS)
        ):
            raise ValueError(
                f"TradeTick aggressor_side must be an AggressorSide, got {aggressor_side!r}"
            )
        if type(trade_id) is not _TRADE_ID:
            trade_id = _TRADE_ID(trade_id)  # validates (TypeError / ValueError naming it)
        self.instrument_id = instrument_id
        self._price = price
        self._price_raw = price.raw
        self._price_precision = price.precision
        self._size = size
        self._size_raw = size.raw
        self._size_precision = size.precision
        self._aggressor = <uint8_t>aggressor_side
        self._trade_id = trade_id
        self._id_from_raw = False
        self._id_raw = 0
        self.ts_event = _timestamp(ts_event, "ts_event")
        self.ts_init = _timestamp(ts_init, "ts_init")

    @staticmethod
    def from_raw(
        instrument_id,
        int64_t price,
        int price_precision,
        int64_t size,
        int size_precision,
        int aggressor_side,
        uint64_t trade_id,
        int64_t ts_event,
        int64_t ts_init,
    ):
        """Return a trade of raw fields, as the backtest replay loop makes one from a row.

        ``price`` and ``size`` are fixed-point raws at their precisions (0..9; the size not
        negative), ``aggressor_side`` an ``AggressorSide`` value and ``trade_id`` the venue's
        numeric id (the trade's ``trade_id`` is its decimal digits).
        """
        _check_registered()
        if not isinstance(instrument_id, str):
            raise TypeError(
                f"TradeTick instrument_id must be an InstrumentId, got "
                f"{type(instrument_id).__name__}: {instrument_id!r}"
            )
        if not 0 <= price_precision <= PRECISION_MAX_C:
            raise ValueError(
                f"TradeTick price precision must be 0..{PRECISION_MAX_C}, got {price_precision}"
            )
        if not 0 <= size_precision <= PRECISION_MAX_C:
            raise ValueError(
                f"TradeTick size precision must be 0..{PRECISION_MAX_C}, got {size_precision}"
            )
        if size < 0:
            raise ValueError(f"TradeTick size must not be negative, got raw {size}")
        if not 0 <= aggressor_side < len(_AGGRESSORS):
            raise ValueError(
                f"TradeTick aggressor_side must be an AggressorSide value, got {aggressor_side}"
            )
        return trade_from_raw(
            instrument_id, price, <uint8_t>price_precision, size, <uint8_t>size_precision,
            <uint8_t>aggressor_side, trade_id, ts_event, ts_init,
        )

    # --- Fields made on access (``price``, the trade price, is a member: see the end)

    @property
    def size(self):
        """The size traded (``Quantity``)."""
        if self._size is None:
            self._size = quantity_from_raw_c(self._size_raw, self._size_precision)
        return self._size

    @property
    def aggressor_side(self):
        """Who crossed the spread (``AggressorSide``)."""
        return <object>PyTuple_GET_ITEM(_AGGRESSORS, self._aggressor)

    @property
    def trade_id(self):
        """The venue's trade id (``TradeId``)."""
        if self._trade_id is None:
            self._trade_id = _id_from_digits(self._id_raw)
        return self._trade_id

    # --- Value semantics

    def __richcmp__(self, other, int op):
        if op != Py_EQ and op != Py_NE:
            return NotImplemented
        if type(other) is not TradeTick:
            return NotImplemented
        equal = _equal(self, <TradeTick>other)
        return equal if op == Py_EQ else not equal

    def __hash__(self):
        return hash(self._fields())

    def __repr__(self):
        return (
            f"TradeTick(instrument_id={self.instrument_id!r}, price={self.price!r}, "
            f"size={self.size!r}, aggressor_side={self.aggressor_side!r}, "
            f"trade_id={self.trade_id!r}, ts_event={self.ts_event}, ts_init={self.ts_init})"
        )

    def __reduce__(self):
        return (TradeTick, self._fields())

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    cdef tuple _fields(self):
        return (
            self.instrument_id,
            self.price,
            self.size,
            self.aggressor_side,
            self.trade_id,
            self.ts_event,
            self.ts_init,
        )


cdef int64_t _timestamp(object value, str name) except? -1:
    # The int64 conversion, its errors naming the field.
    try:
        return value
    except OverflowError:
        raise OverflowError(f"TradeTick {name} {value!r} does not fit in int64") from None
    except TypeError:
        raise TypeError(
            f"TradeTick {name} must be an int of UNIX nanoseconds, got {value!r}"
        ) from None


cdef bint _equal(TradeTick a, TradeTick b) except -1:
    if (
        a.ts_event != b.ts_event
        or a.ts_init != b.ts_init
        or a._aggressor != b._aggressor
        or compare_raw_c(a._price_raw, a._price_precision, b._price_raw, b._price_precision)
        or compare_raw_c(a._size_raw, a._size_precision, b._size_raw, b._size_precision)
    ):
        return False
    if a._id_from_raw and b._id_from_raw:
        if a._id_raw != b._id_raw:
            return False
    elif a.trade_id != b.trade_id:
        return False
    return a.instrument_id == b.instrument_id


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
):
    cdef TradeTick trade = TradeTick.__new__(TradeTick)
    trade_reset(
        trade, instrument_id, price, price_precision, size, size_precision, aggressor,
        trade_id, ts_event, ts_init,
    )
    return trade


# The one-item argument tuple of _id_from_digits, reused while nothing else holds it.
cdef tuple _id_args = tuple([None])


cdef object _id_from_digits(uint64_t value):
    # TradeId(str(value)) for the registered str subclass: the digits written here and str's
    # tp_new called in C (digits need no validation; a Python-level call costs several times
    # the allocations, and a fresh argument tuple per trade feeds the garbage collector).
    global _id_args
    cdef char digits[24]
    cdef int at = 24
    cdef uint64_t rest = value
    cdef PyObject* old
    _check_registered()
    while True:
        at -= 1
        digits[at] = 48 + <char>(rest % 10)
        rest //= 10
        if rest == 0:
            break
    text = PyUnicode_New(24 - at, 127)
    memcpy(PyUnicode_DATA(text), digits + at, 24 - at)
    if _refcount(<PyObject*>_id_args) != 1:
        _id_args = tuple([None])
    old = PyTuple_GET_ITEM(_id_args, 0)
    Py_INCREF(text)
    PyTuple_SET_ITEM(_id_args, 0, <PyObject*>text)
    Py_DECREF(<object>old)
    return (<PyTypeObject*>str).tp_new(_TRADE_ID, <PyObject*>_id_args, NULL)


# ``price``: a read-only member of the trade's ``_price`` (see the module's docstring).
cdef PyMemberDef _PRICE_MEMBER


cdef int _expose_price() except -1:
    cdef TradeTick probe = TradeTick.__new__(TradeTick)
    marker = object()
    probe._price = marker
    zq_expose_member(
        <PyTypeObject*>TradeTick, &_PRICE_MEMBER, "price", <PyObject*>probe, <PyObject*>marker,
        "The trade price (``Price``).",
    )
    probe._price = None
    return 0


_expose_price()
