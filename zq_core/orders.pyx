"""The compiled ``Order``: an order moved only by its events, through a state table in C.

An order holds its status as a C int next to the ``OrderStatus`` member it hands out, and
its quantities as ``Quantity`` objects whose raw integers the fill arithmetic reads
directly. ``zq.model.orders`` defines the public API around it (the state table
``ORDER_STATE_TABLE``, the status sets, the exceptions, one subclass per order type) and
registers it here at import through `_register`; zq_core never imports zq. The state table
is copied into a C array (event kind x status -> target), the status sets into bit masks.
"""

from types import MemberDescriptorType

cimport cython
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF, PyObject
from libc.stdint cimport int64_t

from zq_core.fixed cimport PRECISION_MAX_C, Money, Quantity, compare_raw_c, quantity_from_raw_c
from zq_core.order_ids cimport OrderIdGenerator
from zq_core.time_source cimport TimeSource

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    void Py_SET_SIZE(object obj, Py_ssize_t size)  # public since 3.9

cdef extern from "structmember.h":
    enum:
        T_OBJECT_EX

cdef extern from *:
    """
    /* A new instance of `type` made by its tp_new, as base.__new__(type) does once it has
       checked that `type` is a subtype of `base` (checked here too), without looking the
       __new__ method up and calling it by name. */
    static PyObject *zq_orders_new(PyObject *type, PyObject *base, PyObject *no_args) {
        if (!PyType_Check(type) || !PyType_IsSubtype((PyTypeObject *)type, (PyTypeObject *)base)) {
            PyErr_Format(PyExc_TypeError, "%R is not a subtype of %R", type, base);
            return NULL;
        }
        return ((PyTypeObject *)type)->tp_new((PyTypeObject *)type, no_args, NULL);
    }
    """
    object zq_orders_new(object type, object base, tuple no_args)

cdef tuple _NO_ARGS = ()

cdef enum:
    _EVENTS_ROOM = 4  # the events an order's list has room for when made (see _events_of)

__all__ = ["Order", "OrderBuilder"]


# --- What zq.model.orders registers ------------------------------------------------------

# Targets of the table that depend on the order, not on the table alone.
cdef enum:
    _NO_TARGET = -1
    _TARGET_FILL = 100      # PARTIALLY_FILLED or FILLED by quantity (late fills keep theirs)
    _TARGET_PREVIOUS = 101  # back to the state before the pending update / cancel
    _TARGET_SAME = 102      # state unchanged (the event changes fields only)
    _KIND_MAX = 16          # event kinds the table can hold

# Per event kind, the order fields it sets (fills set theirs in _apply_fill), as bits.
cdef enum:
    _SETS_ACCOUNT_ID = 1
    _SETS_VENUE_ORDER_ID = 2
    _SETS_TRIGGERED = 4
    _SETS_QUANTITY_AND_PRICES = 8
    _SETS_MORE = _SETS_TRIGGERED | _SETS_QUANTITY_AND_PRICES

# The event fields apply reads, numbered: per event kind, each one's offset in the struct
# (msgspec keeps a struct's fields as slots, read here without an attribute look-up; -1:
# the kind has no such slot, read by name).
cdef enum:
    _F_CLIENT_ORDER_ID
    _F_TS_EVENT
    _F_ACCOUNT_ID
    _F_VENUE_ORDER_ID
    _F_TRADE_ID
    _F_LAST_QTY
    _F_COMMISSION
    _F_POSITION_ID
    _F_LIQUIDITY_SIDE
    _F_QUANTITY
    _F_PRICE
    _F_TRIGGER_PRICE
    _F_COUNT
cdef tuple _FIELD_NAMES = (
    "client_order_id", "ts_event", "account_id", "venue_order_id", "trade_id", "last_qty",
    "commission", "position_id", "liquidity_side", "quantity", "price", "trigger_price",
)
cdef Py_ssize_t _offsets[_KIND_MAX][_F_COUNT]
cdef Py_ssize_t _NO_EVENT_OFFSETS[_F_COUNT]  # all -1: read by name

# The fields of OrderInitialized an order copies, numbered, and their offsets.
cdef enum:
    _I_TRADER_ID
    _I_STRATEGY_ID
    _I_INSTRUMENT_ID
    _I_CLIENT_ORDER_ID
    _I_TS_EVENT
    _I_TS_INIT
    _I_SIDE
    _I_ORDER_TYPE
    _I_QUANTITY
    _I_TIME_IN_FORCE
    _I_PRICE
    _I_TRIGGER_PRICE
    _I_TRIGGER_TYPE
    _I_EXPIRE_TIME_NS
    _I_POST_ONLY
    _I_REDUCE_ONLY
    _I_DISPLAY_QUANTITY
    _I_ORDER_LIST_ID
    _I_POSITION_ID
    _I_TAGS
    _I_COUNT
cdef tuple _INIT_NAMES = (
    "trader_id", "strategy_id", "instrument_id", "client_order_id", "ts_event", "ts_init",
    "side", "order_type", "quantity", "time_in_force", "price", "trigger_price",
    "trigger_type", "expire_time_ns", "post_only", "reduce_only", "display_quantity",
    "order_list_id", "position_id", "tags",
)
cdef Py_ssize_t _init_offsets[_I_COUNT]
cdef Py_ssize_t _NO_OFFSETS[_I_COUNT]  # all -1: read by name

# A filled quantity of zero per precision (a Quantity is immutable: shared).
cdef list _ZEROS = [quantity_from_raw_c(0, p) for p in range(PRECISION_MAX_C + 1)]

cdef bint _registered = False
cdef tuple _STATUSES = ()           # OrderStatus members by value (None where no member)
cdef tuple _KIND_TYPES = ()         # the event types of the table, by kind index
cdef PyObject* _kinds[_KIND_MAX]    # the same, borrowed (kept alive by _KIND_TYPES)
cdef Py_ssize_t _kind_count = 0
cdef int _table[_KIND_MAX][STATUS_COUNT]  # kind x status -> status code or _TARGET_*
cdef int _fields[_KIND_MAX]         # kind -> _SETS_* bits
cdef int _fill_kind = -1            # the kind index of OrderFilled
cdef unsigned int _open = 0, _inflight = 0, _closed = 0, _pending = 0
cdef int _INITIALIZED = 0, _FILLED = 0, _PARTIALLY_FILLED = 0, _CANCELED = 0, _EXPIRED = 0
cdef object _INIT_TYPE = None        # OrderInitialized
cdef dict _ORDER_CLASSES = {}       # OrderType -> the Order subclass
cdef object _InvalidOrder = None
cdef object _InvalidStateTransition = None
cdef object _OverfillError = None
cdef object _DuplicateFillError = None
# Enum members the specification checks and the queries compare with.
cdef object _NO_ORDER_SIDE = None, _BUY = None, _SELL = None, _GTD = None
cdef object _MARKET = None, _NO_LIQUIDITY_SIDE = None, _GTC = None, _DEFAULT_TRIGGER = None
cdef object _LIMIT = None
cdef unsigned int _limit_types = 0, _trigger_types = 0  # OrderType codes, as bits
cdef frozenset _NOT_POST_ONLY = frozenset()
cdef object _DECIMAL_ZERO = None


def _register(
    *,
    tuple statuses not None,
    dict table not None,
    tuple targets not None,
    dict status_sets not None,
    tuple errors not None,
    dict order_classes not None,
    object initialized,
    object filled,
    object triggered,
    object updated,
    dict members not None,
    object decimal_zero,
):
    """Register the Python side of the orders (called once by ``zq.model.orders``).

    Parameters
    ----------
    statuses : tuple
        The ``OrderStatus`` members by value (None where no member has the value).
    table : dict
        ``ORDER_STATE_TABLE``: ``(status, event type) -> status or target name``.
    targets : tuple
        The target names ``(FILL, PREVIOUS, SAME)`` the table uses.
    status_sets : dict
        ``open``, ``inflight``, ``closed``, ``pending``: frozensets of statuses.
    errors : tuple
        ``(InvalidOrder, InvalidStateTransition, OverfillError, DuplicateFillError)``.
    order_classes : dict
        ``OrderType -> Order subclass``.
    initialized, filled, triggered, updated : type
        ``OrderInitialized``, ``OrderFilled``, ``OrderTriggered``, ``OrderUpdated``.
    members : dict
        Enum members by name: ``NO_ORDER_SIDE``, ``BUY``, ``SELL``, ``GTD``, ``GTC``,
        ``MARKET``, ``LIMIT``, ``DEFAULT_TRIGGER``, ``NO_LIQUIDITY_SIDE``, and the sets
        ``LIMIT_TYPES``, ``TRIGGER_TYPES``, ``NOT_POST_ONLY``.
    decimal_zero : Decimal
    """
    global _registered, _STATUSES, _KIND_TYPES, _kind_count, _fill_kind
    global _open, _inflight, _closed, _pending
    global _INITIALIZED, _FILLED, _PARTIALLY_FILLED, _CANCELED, _EXPIRED
    global _INIT_TYPE, _ORDER_CLASSES
    global _InvalidOrder, _InvalidStateTransition, _OverfillError, _DuplicateFillError
    global _NO_ORDER_SIDE, _BUY, _SELL, _GTD, _MARKET, _NO_LIQUIDITY_SIDE, _GTC
    global _DEFAULT_TRIGGER, _LIMIT
    global _limit_types, _trigger_types, _NOT_POST_ONLY, _DECIMAL_ZERO
    cdef Py_ssize_t k, s
    cdef int code
    if len(statuses) > STATUS_COUNT:
        raise ValueError(f"at most {STATUS_COUNT} order statuses fit, got {len(statuses)}")
    for value, member in enumerate(statuses):
        if member is not None and member != value:
            raise ValueError(f"order status {member!r} is not at index {value} (its value)")
    kinds = []
    for _status, kind in table:
        if kind not in kinds:
            kinds.append(kind)
    if len(kinds) > _KIND_MAX:
        raise ValueError(f"at most {_KIND_MAX} event types fit in the table, got {len(kinds)}")
    fill_name, previous_name, same_name = targets
    for k in range(_KIND_MAX):
        _fields[k] = 0
        for s in range(STATUS_COUNT):
            _table[k][s] = _NO_TARGET
    for (status, kind), target in table.items():
        k = kinds.index(kind)
        if target == fill_name:
            code = _TARGET_FILL
        elif target == previous_name:
            code = _TARGET_PREVIOUS
        elif target == same_name:
            code = _TARGET_SAME
        else:
            code = int(target)
        _table[k][int(status)] = code
    _KIND_TYPES = tuple(kinds)
    _kind_count = len(kinds)
    for k in range(_kind_count):
        kind = kinds[k]
        _kinds[k] = <PyObject*>kind
        fields = kind.__struct_fields__
        _fields[k] = (
            (_SETS_ACCOUNT_ID if "account_id" in fields else 0)
            | (_SETS_VENUE_ORDER_ID if "venue_order_id" in fields else 0)
            | (_SETS_TRIGGERED if kind is triggered else 0)
            | (_SETS_QUANTITY_AND_PRICES if kind is updated else 0)
        )
    _fill_kind = kinds.index(filled) if filled in kinds else -1
    cdef Py_ssize_t f
    for k in range(_kind_count):
        for f in range(_F_COUNT):
            _offsets[k][f] = _slot_offset(kinds[k], _FIELD_NAMES[f])
    for f in range(_F_COUNT):
        _NO_EVENT_OFFSETS[f] = -1
    for f in range(_I_COUNT):
        _init_offsets[f] = _slot_offset(initialized, _INIT_NAMES[f])
        _NO_OFFSETS[f] = -1
    _STATUSES = statuses
    _open = _mask(status_sets["open"])
    _inflight = _mask(status_sets["inflight"])
    _closed = _mask(status_sets["closed"])
    _pending = _mask(status_sets["pending"])
    by_name = {member.name: int(member) for member in statuses if member is not None}
    _INITIALIZED = by_name["INITIALIZED"]
    _FILLED = by_name["FILLED"]
    _PARTIALLY_FILLED = by_name["PARTIALLY_FILLED"]
    _CANCELED = by_name["CANCELED"]
    _EXPIRED = by_name["EXPIRED"]
    _INIT_TYPE = initialized
    _ORDER_CLASSES = order_classes
    _InvalidOrder, _InvalidStateTransition, _OverfillError, _DuplicateFillError = errors
    _NO_ORDER_SIDE = members["NO_ORDER_SIDE"]
    _BUY = members["BUY"]
    _SELL = members["SELL"]
    _GTD = members["GTD"]
    _MARKET = members["MARKET"]
    _NO_LIQUIDITY_SIDE = members["NO_LIQUIDITY_SIDE"]
    _GTC = members["GTC"]
    _DEFAULT_TRIGGER = members["DEFAULT_TRIGGER"]
    _LIMIT = members["LIMIT"]
    _limit_types = _mask(members["LIMIT_TYPES"])
    _trigger_types = _mask(members["TRIGGER_TYPES"])
    _NOT_POST_ONLY = members["NOT_POST_ONLY"]
    _DECIMAL_ZERO = decimal_zero
    _registered = True


cdef unsigned int _mask(statuses) except? 0:
    cdef unsigned int mask = 0
    cdef int code
    for status in statuses:
        code = int(status)
        if not 0 <= code < 32:
            raise ValueError(f"{status!r}: only values 0..31 fit in a bit mask")
        mask |= 1u << code
    return mask


cdef Py_ssize_t _slot_offset(object kind, str name) except -2:
    """Return the offset of the object slot ``name`` in instances of ``kind``, or -1."""
    descriptor = getattr(kind, name, None)
    if type(descriptor) is not MemberDescriptorType:
        return -1
    cdef PyMemberDef* member = (<PyMemberDescrObject*>descriptor).d_member
    if member.type != T_OBJECT_EX or member.offset <= 0:
        return -1
    return member.offset


cdef inline object _slot(object obj, Py_ssize_t offset, str name):
    """Read the field ``name`` of ``obj`` from its slot at ``offset`` (-1: by name).

    The caller guarantees ``offset`` was found for ``type(obj)`` (or a base of it: a
    subclass keeps its bases' slots where they are).
    """
    cdef PyObject* value
    if offset > 0:
        value = (<PyObject**>((<char*><PyObject*>obj) + offset))[0]
        if value is not NULL:
            return <object>value
    return getattr(obj, name)


cdef unsigned int open_mask() noexcept:
    return _open


cdef unsigned int inflight_mask() noexcept:
    return _inflight


cdef unsigned int closed_mask() noexcept:
    return _closed


cdef inline int _kind_of(object kind) noexcept:
    """Return the kind index of the event type ``kind`` (-1: not in the table)."""
    cdef Py_ssize_t k
    cdef PyObject* pointer = <PyObject*>kind
    for k in range(_kind_count):
        if _kinds[k] == pointer:
            return <int>k
    return -1


cdef str _specification_error(Order order, object order_type):
    """Return why the specification ``order`` was built from cannot be traded, or None."""
    if order.side is _NO_ORDER_SIDE:
        return "side must be BUY or SELL"
    cdef Quantity quantity = order.quantity
    if quantity.raw <= 0:
        return f"quantity must be positive, got {quantity}"
    cdef int code = order_type
    cdef bint needs_price = 0 <= code < 32 and (_limit_types >> code) & 1
    cdef bint needs_trigger = 0 <= code < 32 and (_trigger_types >> code) & 1
    price = order.price
    if needs_price:
        if price is None:
            return "price is required"
    elif price is not None:
        return f"price {price} is not allowed"
    trigger_price = order.trigger_price
    if needs_trigger:
        if trigger_price is None:
            return "trigger_price is required"
    elif trigger_price is not None:
        return f"trigger_price {trigger_price} is not allowed"
    time_in_force = order.time_in_force
    expire_time_ns = order.expire_time_ns
    if time_in_force is _GTD:
        if expire_time_ns is None:
            return "time in force GTD needs expire_time_ns"
    elif expire_time_ns is not None:
        return f"expire_time_ns is only for GTD, time in force is {time_in_force.name}"
    if expire_time_ns is not None and expire_time_ns <= order.ts_init:
        return f"expire_time_ns {expire_time_ns} is not after ts_init {order.ts_init}"
    if order.post_only:
        if not needs_price:
            return "post_only applies to orders with a limit price"
        if time_in_force in _NOT_POST_ONLY:
            return f"post_only contradicts time in force {time_in_force.name}"
    display_quantity = order.display_quantity
    if display_quantity is not None and display_quantity > quantity:
        return f"display_quantity {display_quantity} exceeds quantity {quantity}"
    if order_type is _MARKET and time_in_force is _GTD:
        return "time in force GTD is not allowed"
    return None


# --- The order ---------------------------------------------------------------------------

@cython.no_gc  # ids, enum members, quantities, events and containers of them: no cycles
cdef class Order:
    """An order, moved only by events. Build one with :meth:`create` (or an order factory).

    Quantities are exact (``Quantity``); ``avg_px`` is an exact ``Decimal`` of the fills.
    """

    def __init__(self, init):
        if not _registered:
            raise RuntimeError(
                "zq_core.orders.Order is used before zq.model.orders registered its types "
                "(import zq.model.orders first)"
            )
        # An OrderInitialized (or a subclass: the base slots stay where they are) is read
        # from its slots; anything else by name.
        cdef bint slots = isinstance(init, _INIT_TYPE)
        cls = type(self)
        order_type = _slot(init, _init_offsets[_I_ORDER_TYPE] if slots else -1, "order_type")
        if cls is Order or order_type is not getattr(cls, "order_type", None):
            raise TypeError(
                f"use Order.create for a {order_type.name} order (got {cls.__name__})"
            )
        _init_order(self, init, order_type, &_init_offsets[0] if slots else &_NO_OFFSETS[0])

    # -- construction ----------------------------------------------------------------------

    @staticmethod
    def create(init):
        """Build the order of the type ``init.order_type``, validating its specification."""
        return _ORDER_CLASSES[init.order_type](init)

    @staticmethod
    def from_events(events):
        """Rebuild an order by replaying its events (the first must be ``OrderInitialized``)."""
        iterator = iter(events)
        first = next(iterator, None)
        if not isinstance(first, _INIT_TYPE):
            raise ValueError(f"an order's first event must be OrderInitialized, got {first!r}")
        cdef Order order = Order.create(first)
        for event in iterator:
            order._apply(event)
        return order

    # -- state machine ---------------------------------------------------------------------

    def apply(self, event):
        """Apply ``event``: validate the transition, update state and fields, record it.

        Raises
        ------
        InvalidStateTransition
            If the event is not valid in the current state (the order is unchanged).
        OverfillError, DuplicateFillError
            If a fill exceeds the leaves quantity or repeats a trade id (order unchanged).
        """
        self._apply(event)

    cdef int _apply(self, object event) except -1:
        kind = type(event)
        cdef int k = _kind_of(kind)
        # A kind of the table is read from its slots (k < 0 reads by name; refused below).
        cdef Py_ssize_t* at = _NO_EVENT_OFFSETS
        if k >= 0:
            at = &_offsets[k][0]
        client_order_id = _slot(event, at[_F_CLIENT_ORDER_ID], "client_order_id")
        if client_order_id is not self.client_order_id and (
            client_order_id != self.client_order_id
        ):
            raise ValueError(
                f"event {type(event).__name__} for order {client_order_id} "
                f"applied to order {self.client_order_id}"
            )
        cdef int status = self._status
        cdef int target = _NO_TARGET if k < 0 else _table[k][status]
        cdef int new_status
        cdef int fields
        if target == _NO_TARGET:
            raise _InvalidStateTransition(
                f"order {self.client_order_id} in state {self.status.name} cannot apply "
                f"{kind.__name__}"
            )
        if k == _fill_kind:
            self._apply_fill(event, at)
            if self.leaves_qty.raw == 0:
                new_status = _FILLED
            elif status == _CANCELED or status == _EXPIRED:
                new_status = status
            else:
                new_status = _PARTIALLY_FILLED
        else:
            fields = _fields[k]
            if fields:
                self._apply_fields(event, fields, at)
            if target == _TARGET_SAME:
                new_status = status
            elif target == _TARGET_PREVIOUS:
                new_status = self._previous_status
            else:
                new_status = target
        if (_pending >> new_status) & 1 and not (_pending >> status) & 1:
            self._previous_status = status
        if new_status != status:
            self._set_status(new_status)
        self.ts_last = _slot(event, at[_F_TS_EVENT], "ts_event")
        self.events.append(event)
        return 0

    cdef int _set_status(self, int status) except -1:
        self._status = status
        self.status = _STATUSES[status]
        return 0

    cdef int _apply_fields(self, object event, int fields, Py_ssize_t* at) except -1:
        # ``fields``: the _SETS_* bits of the event's kind. Checks come before any change.
        cdef Quantity quantity
        if fields & _SETS_QUANTITY_AND_PRICES:
            quantity = _slot(event, at[_F_QUANTITY], "quantity")
            if compare_raw_c(
                quantity.raw, quantity.precision, self.filled_qty.raw, self.filled_qty.precision
            ) < 0:
                raise _InvalidStateTransition(
                    f"order {self.client_order_id}: update to quantity {quantity} "
                    f"is below the filled quantity {self.filled_qty}"
                )
        if fields & _SETS_ACCOUNT_ID:
            account_id = _slot(event, at[_F_ACCOUNT_ID], "account_id")
            if account_id is not None:
                self.account_id = account_id
        if fields & _SETS_VENUE_ORDER_ID:
            venue_order_id = _slot(event, at[_F_VENUE_ORDER_ID], "venue_order_id")
            if venue_order_id is not None:
                self.venue_order_id = venue_order_id
        if fields & _SETS_TRIGGERED:
            self.is_triggered = True
        elif fields & _SETS_QUANTITY_AND_PRICES:
            self.quantity = quantity
            self.leaves_qty = quantity - self.filled_qty
            price = _slot(event, at[_F_PRICE], "price")
            if price is not None:
                self.price = price
            trigger_price = _slot(event, at[_F_TRIGGER_PRICE], "trigger_price")
            if trigger_price is not None:
                self.trigger_price = trigger_price
        return 0

    cdef int _apply_fill(self, object fill, Py_ssize_t* at) except -1:
        trade_id = _slot(fill, at[_F_TRADE_ID], "trade_id")
        if has_trade(self, trade_id):
            raise _DuplicateFillError(
                f"order {self.client_order_id}: trade {trade_id} was already applied"
            )
        cdef Quantity last_qty = _slot(fill, at[_F_LAST_QTY], "last_qty")
        cdef Quantity leaves = self.leaves_qty
        cdef Quantity filled = self.filled_qty
        cdef Quantity quantity = self.quantity
        cdef int64_t filled_raw
        if last_qty.raw <= 0:
            raise _InvalidStateTransition(
                f"order {self.client_order_id}: fill {trade_id} has non-positive "
                f"quantity {last_qty}"
            )
        if compare_raw_c(last_qty.raw, last_qty.precision, leaves.raw, leaves.precision) > 0:
            raise _OverfillError(
                f"order {self.client_order_id}: fill {trade_id} of {last_qty} exceeds "
                f"leaves quantity {leaves} (quantity {quantity}, filled {filled})"
            )
        cdef Money commission = _slot(fill, at[_F_COMMISSION], "commission")
        if last_qty.precision == filled.precision == quantity.precision:
            # One precision: filled + last <= quantity (the fill fits the leaves), no overflow.
            # Quantities are immutable: a complete fill shares the order's quantity and the
            # zero of its precision, a first partial fill its last_qty.
            filled_raw = filled.raw + last_qty.raw
            if filled_raw == quantity.raw and type(quantity) is Quantity:
                self.filled_qty = quantity
                self.leaves_qty = <Quantity>_ZEROS[quantity.precision]
            else:
                self.filled_qty = (
                    last_qty if filled.raw == 0 and type(last_qty) is Quantity
                    else quantity_from_raw_c(filled_raw, quantity.precision)
                )
                self.leaves_qty = quantity_from_raw_c(
                    quantity.raw - filled_raw, quantity.precision
                )
        else:  # the exact arithmetic at the larger precision
            self.filled_qty = filled = filled + last_qty
            self.leaves_qty = quantity - filled
        # The trade ids as a set once asked for, or from the second fill on (until then the
        # one fill's is last_trade_id: see has_trade).
        if self._trade_ids is not None:
            self._trade_ids.add(trade_id)
        elif self.last_trade_id is not None:
            self._trade_ids = {self.last_trade_id, trade_id}
        self.last_trade_id = trade_id
        self.venue_order_id = _slot(fill, at[_F_VENUE_ORDER_ID], "venue_order_id")
        self.account_id = _slot(fill, at[_F_ACCOUNT_ID], "account_id")
        position_id = _slot(fill, at[_F_POSITION_ID], "position_id")
        if position_id is not None:
            self.position_id = position_id
        self.liquidity_side = _slot(fill, at[_F_LIQUIDITY_SIDE], "liquidity_side")
        if self._commissions is not None:  # else summed from the fills when first read
            _add_commission(self._commissions, commission)
        return 0

    # -- queries ---------------------------------------------------------------------------

    @property
    def avg_px(self):
        """Average fill price (exact quotient of the fills' value by the filled quantity).

        Summed from the applied fills when asked (in the order applied, as Decimal sums them
        per fill), not per fill: it is read once per order, if at all.
        """
        if self.filled_qty.raw == 0:
            return None
        fill_type = _KIND_TYPES[_fill_kind]
        value = _DECIMAL_ZERO
        for event in self.events:
            if type(event) is fill_type:
                value += event.last_qty.as_decimal() * event.last_px.as_decimal()
        return value / self.filled_qty.as_decimal()

    @property
    def trade_ids(self):
        """The trade ids of the fills applied (a set, kept up to date once read)."""
        cdef set trade_ids = self._trade_ids
        if trade_ids is None:
            trade_ids = set() if self.last_trade_id is None else {self.last_trade_id}
            self._trade_ids = trade_ids
        return trade_ids

    @property
    def commissions(self):
        """The fills' commissions summed per currency code (a dict, kept up to date once
        read)."""
        cdef dict commissions = self._commissions
        if commissions is None:
            # Summed in the order the fills were applied, as each fill adds its own.
            commissions = {}
            if _fill_kind >= 0:
                for event in self.events:
                    if _kind_of(type(event)) == _fill_kind:
                        _add_commission(
                            commissions,
                            _slot(event, _offsets[_fill_kind][_F_COMMISSION], "commission"),
                        )
            self._commissions = commissions
        return commissions

    @property
    def last_event(self):
        return self.events[-1]

    @property
    def is_open(self):
        """Working at the venue (see :data:`OPEN_STATUSES`)."""
        return (_open >> self._status) & 1 == 1

    @property
    def is_inflight(self):
        """Sent and waiting for the venue's answer (see :data:`INFLIGHT_STATUSES`)."""
        return (_inflight >> self._status) & 1 == 1

    @property
    def is_closed(self):
        """Done (see :data:`CLOSED_STATUSES`)."""
        return (_closed >> self._status) & 1 == 1

    @property
    def is_buy(self):
        return self.side is _BUY

    @property
    def is_sell(self):
        return self.side is _SELL

    @property
    def is_passive(self):
        """Whether the order rests on the book (anything but a market order)."""
        return type(self).order_type is not _MARKET

    def __repr__(self):
        price = f" @ {self.price}" if self.price is not None else ""
        trigger = f" trigger {self.trigger_price}" if self.trigger_price is not None else ""
        return (
            f"{type(self).__name__}({self.client_order_id} {self.side.name} {self.quantity} "
            f"{self.instrument_id}{price}{trigger} {self.time_in_force.name} "
            f"status={self.status.name} filled={self.filled_qty})"
        )

    def __eq__(self, other):
        return isinstance(other, Order) and (<Order>other).client_order_id == self.client_order_id

    def __hash__(self):
        return hash(self.client_order_id)

    def __copy__(self):
        raise TypeError("orders are not copied: rebuild one with Order.from_events(order.events)")


cdef list _events_of(object init):
    # [init], with room for _EVENTS_ROOM events: a market order's four (initialized,
    # submitted, accepted, filled) fit without growing the list ([init] grows to room for
    # eight at its first append). The slots past its length are never read.
    cdef list events = PyList_New(_EVENTS_ROOM)
    Py_INCREF(init)
    PyList_SET_ITEM(events, 0, init)
    Py_SET_SIZE(events, 1)
    return events


cdef int _init_order(Order self, object init, object order_type, Py_ssize_t* at) except -1:
    """Give the new order ``self`` the specification of ``init`` (its fields at the offsets
    ``at``) and check it (a module function, not a method: the vtable in orders.pxd, which
    other modules compile against, stays as it is)."""
    cdef Quantity quantity = _slot(init, at[_I_QUANTITY], "quantity")
    self.init = init
    self.trader_id = _slot(init, at[_I_TRADER_ID], "trader_id")
    self.strategy_id = _slot(init, at[_I_STRATEGY_ID], "strategy_id")
    self.instrument_id = _slot(init, at[_I_INSTRUMENT_ID], "instrument_id")
    self.client_order_id = _slot(init, at[_I_CLIENT_ORDER_ID], "client_order_id")
    self.venue_order_id = None
    self.account_id = None
    self.position_id = _slot(init, at[_I_POSITION_ID], "position_id")
    self.order_list_id = _slot(init, at[_I_ORDER_LIST_ID], "order_list_id")
    self.side = _slot(init, at[_I_SIDE], "side")
    self.quantity = quantity
    self.price = _slot(init, at[_I_PRICE], "price")
    self.trigger_price = _slot(init, at[_I_TRIGGER_PRICE], "trigger_price")
    self.trigger_type = _slot(init, at[_I_TRIGGER_TYPE], "trigger_type")
    self.time_in_force = _slot(init, at[_I_TIME_IN_FORCE], "time_in_force")
    self.expire_time_ns = _slot(init, at[_I_EXPIRE_TIME_NS], "expire_time_ns")
    self.post_only = _slot(init, at[_I_POST_ONLY], "post_only")
    self.reduce_only = _slot(init, at[_I_REDUCE_ONLY], "reduce_only")
    self.display_quantity = _slot(init, at[_I_DISPLAY_QUANTITY], "display_quantity")
    self.tags = _slot(init, at[_I_TAGS], "tags")
    self._status = self._previous_status = _INITIALIZED
    self.status = _STATUSES[_INITIALIZED]
    self.filled_qty = _ZEROS[quantity.precision]
    self.leaves_qty = quantity
    self.liquidity_side = _NO_LIQUIDITY_SIDE
    self.is_triggered = False
    self.last_trade_id = None  # _trade_ids and _commissions: None until asked for
    self.events = _events_of(init)
    self.ts_init = _slot(init, at[_I_TS_INIT], "ts_init")
    self.ts_last = _slot(init, at[_I_TS_EVENT], "ts_event")
    # Checked once read (a refused order is never handed out).
    reason = _specification_error(self, order_type)
    if reason is not None:
        raise _InvalidOrder(f"order {self.client_order_id} ({order_type.name}): {reason}")
    return 0


# --- The order factory's compiled part ---------------------------------------------------

cdef class OrderBuilder:
    """Build one strategy's orders in C: the ``OrderInitialized`` and the order.

    The base of ``zq.strategy.OrderFactory`` (which names the other order types); internal.

    Parameters
    ----------
    trader_id, strategy_id : str
        The ``TraderId`` and ``StrategyId`` the orders carry.
    clock : Clock
        Read once per order: the order's timestamps and its id's date and time.
    ids : OrderIdGenerator
        Numbers the orders.
    """

    cdef object _trader_id
    cdef object _strategy_id
    cdef TimeSource _time           # the clock (its time cell read in C when it has one)
    cdef OrderIdGenerator _ids

    def __init__(self, trader_id, strategy_id, clock, OrderIdGenerator ids not None):
        if not _registered:
            raise RuntimeError(
                "zq_core.orders.OrderBuilder is used before zq.model.orders registered its "
                "types (import zq.model.orders first)"
            )
        self._trader_id = trader_id
        self._strategy_id = strategy_id
        self._time = TimeSource(clock)
        self._ids = ids

    def market(
        self, instrument_id, side, quantity, *, time_in_force=None, reduce_only=False, tags=()
    ):
        """Return a market order (``time_in_force`` None: GTC).

        Raises
        ------
        InvalidOrder
            If the specification cannot be traded (for example time in force GTD).
        """
        return self._build(
            _MARKET, instrument_id, side, quantity, None, None, _DEFAULT_TRIGGER,
            _GTC if time_in_force is None else time_in_force, None, False, reduce_only, None,
            tags,
        )

    def limit(
        self, instrument_id, side, quantity, price, *, time_in_force=None,
        expire_time_ns=None, post_only=False, reduce_only=False, display_quantity=None,
        tags=(),
    ):
        """Return a limit order (``expire_time_ns`` with time in force GTD; None: GTC)."""
        return self._build(
            _LIMIT, instrument_id, side, quantity, price, None, _DEFAULT_TRIGGER,
            _GTC if time_in_force is None else time_in_force, expire_time_ns, post_only,
            reduce_only, display_quantity, tags,
        )

    def build(
        self, order_type, instrument_id, side, quantity, price, trigger_price, trigger_type,
        time_in_force, expire_time_ns, post_only, reduce_only, display_quantity, tags,
    ):
        """Return an order of ``order_type`` with every field given (positional)."""
        return self._build(
            order_type, instrument_id, side, quantity, price, trigger_price, trigger_type,
            time_in_force, expire_time_ns, post_only, reduce_only, display_quantity, tags,
        )

    cdef Order _build(
        self, object order_type, object instrument_id, object side, object quantity,
        object price, object trigger_price, object trigger_type, object time_in_force,
        object expire_time_ns, object post_only, object reduce_only, object display_quantity,
        object tags,
    ):
        now = self._time.now_c()
        init = _INIT_TYPE(  # positional: the field order of OrderInitialized
            self._trader_id,
            self._strategy_id,
            instrument_id,
            self._ids.next_id(now),
            now,  # ts_event
            now,  # ts_init
            side,
            order_type,
            quantity,
            time_in_force,
            price,
            trigger_price,
            trigger_type,
            expire_time_ns,
            post_only,
            reduce_only,
            display_quantity,
            None,  # order_list_id
            None,  # position_id
            tags,
        )
        cdef Order order = <Order>zq_orders_new(_ORDER_CLASSES[order_type], Order, _NO_ARGS)
        _init_order(order, init, order_type, &_init_offsets[0])
        return order


cdef inline int _add_commission(dict commissions, Money commission) except -1:
    code = commission._code  # its currency's code
    previous = commissions.get(code)
    commissions[code] = commission if previous is None else previous + commission
    return 0


cdef bint has_trade(Order order, object trade_id) except -1:
    if order._trade_ids is not None:
        return trade_id in order._trade_ids
    # At most one fill so far: its trade id is the last (a set's test: identity, or equal).
    last = order.last_trade_id
    return last is not None and (trade_id is last or trade_id == last)


cdef object filled_type():
    return _KIND_TYPES[_fill_kind] if _fill_kind >= 0 else None


cdef tuple apply_errors():
    return (_InvalidStateTransition, _OverfillError, _DuplicateFillError)


cdef object event_client_order_id(object event):
    cdef int k = _kind_of(type(event))
    return _slot(
        event, _offsets[k][_F_CLIENT_ORDER_ID] if k >= 0 else -1, "client_order_id"
    )
