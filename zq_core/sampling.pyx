"""The per-fill record of ``zq.backtest.sampler.ResultSampler``, compiled.

:class:`SampleColumns` is what the sampler notes during a run: the time of each sample, how
many position events had been published by then, each instrument's mark price as a raw
integer and its precision, and how many account states each account had published. It is
the sampler's subscriber to the position events (one sample per fill: the events of a fill
through zero share it) and takes the timer's samples. The columns are the sampler's own
arrays and lists, appended to in place; the sampler computes the records from them after
the run.
"""

cimport cython
from cpython cimport array
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.stdint cimport int64_t

import array

from zq_core.book_base cimport SIDE_ASK, SIDE_BID, Ladder, OrderBook, side_key
from zq_core.fixed cimport PRECISION_MAX_C, Money, Price, Quantity
from zq_core.portfolio cimport AccountCore

__all__ = ["SampleColumns", "identities", "read_columns", "replay_linear", "take"]

# The precision recorded for an instrument without a mark at a sample.
cdef signed char _NO_MARK = -1
# A bid and an ask below this (2**58) in magnitude: (bid + ask) * 5 stays within int64.
cdef int64_t _SMALL_BOUND = (<int64_t>1) << 58


cdef extern from *:
    """
    #include <structmember.h>
    /* The offset of an object field behind a member descriptor (msgspec structs keep their
       fields so), or -1. */
    static Py_ssize_t zq_sampling_offset(PyObject *descr) {
        PyMemberDef *member;
        if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type) return -1;
        member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX && member->type != T_OBJECT) return -1;
        return member->offset;
    }
    /* The field at `offset` (borrowed; NULL when unset). */
    static inline PyObject *zq_sampling_slot(PyObject *obj, Py_ssize_t offset) {
        return *(PyObject **)((char *)obj + offset);
    }
    """
    Py_ssize_t zq_sampling_offset(PyObject *descr)
    PyObject *zq_sampling_slot(object obj, Py_ssize_t offset)


cdef extern from "Python.h":
    # Borrowed (no reference counting); the index is in range by the caller's loop.
    PyObject *zq_sampling_list_item "PyList_GET_ITEM" (object values, Py_ssize_t index)


# The fields a position event is sampled by, and how many event types keep their offsets.
cdef tuple _EVENT_FIELDS = ("ts_event", "position_id", "last_trade_id")
cdef enum:
    _KNOWN_TYPES = 4


cdef inline bint _small(object value, int64_t *out) except -1:
    # Whether the int `value` is within ±2**58 (then set in *out).
    cdef int overflow = 0
    cdef long long raw = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow != 0 or not -_SMALL_BOUND < raw < _SMALL_BOUND:
        return False
    out[0] = raw
    return True


cdef inline int _append_q(array.array column, int64_t value) except -1:
    # column.append(value) of an array('q').
    cdef Py_ssize_t size = len(column)
    array.resize_smart(column, size + 1)
    column.data.as_longlongs[size] = value
    return 0


cdef inline int _append_b(array.array column, signed char value) except -1:
    # column.append(value) of an array('b').
    cdef Py_ssize_t size = len(column)
    array.resize_smart(column, size + 1)
    column.data.as_schars[size] = value
    return 0


cdef class SampleColumns:
    """The sampler's columns and the two ways a sample is taken.

    Parameters
    ----------
    ts, position_counts : array('q')
        One entry per sample: its time, and how many position events were published then.
    position_events : list
        The position events, in publication order.
    marks : list of tuple
        Per instrument: its book's bound ``best_bid_raw`` and ``best_ask_raw``, its matching
        core (for ``last_trade``), its price precision, and its mark columns (raw as
        ``array('q')``, precision as ``array('b')``); optionally, seventh, the book itself
        when it is an ``OrderBook`` whose class keeps the base's ``best_bid_raw`` and
        ``best_ask_raw`` (its best prices are then read from its ladders, without the calls),
        else None.
    account_counts : list of tuple
        Per account: the account (a compiled ``AccountCore``, its states counted without
        making the noted ones) or its list of account states, and its ``array('q')`` column
        of their count at each sample.
    """

    cdef readonly array.array ts
    cdef readonly array.array position_counts
    cdef readonly list position_events
    cdef readonly list marks
    cdef readonly list account_counts
    # The fill of the latest sample: its time, position id and trade id.
    cdef object _last_ts
    cdef object _last_position
    cdef object _last_trade
    # Up to _KNOWN_TYPES event types (a flip publishes PositionClosed, PositionOpened) and
    # the offsets of their _EVENT_FIELDS: a msgspec struct keeps its fields at fixed
    # offsets behind member descriptors, read there instead of by getattr.
    cdef PyObject *_types[_KNOWN_TYPES]
    cdef Py_ssize_t _offsets[_KNOWN_TYPES][3]
    cdef int _type_count
    cdef list _type_refs  # keeps the types in _types alive

    def __init__(self, array.array ts not None, array.array position_counts not None,
                 list position_events not None, list marks not None,
                 list account_counts not None):
        if ts.typecode != "q" or position_counts.typecode != "q":
            raise TypeError("ts and position_counts must be array('q') columns")
        # The columns are written through their buffers: check their item types once.
        for mark in marks:
            if (<array.array?>mark[4]).typecode != "q" or (<array.array?>mark[5]).typecode != "b":
                raise TypeError("a mark's columns must be array('q') and array('b')")
        for account in account_counts:
            if (<array.array?>account[1]).typecode != "q":
                raise TypeError("an account's column must be an array('q')")
        self.ts = ts
        self.position_counts = position_counts
        self.position_events = position_events
        self.marks = marks
        self.account_counts = account_counts
        self._last_ts = -1
        self._last_position = None
        self._last_trade = None
        self._type_count = 0
        self._type_refs = []

    cdef int _known(self, object kind):
        # The index of `kind` in _types (added on first sight), or -1 when its fields are
        # not plain slots (or the table is full): the fields are then read by getattr.
        cdef int i, field
        cdef Py_ssize_t offset
        for i in range(self._type_count):
            if self._types[i] == <PyObject *>kind:
                return i if self._offsets[i][0] >= 0 else -1
        if self._type_count == _KNOWN_TYPES or not isinstance(kind, type):
            return -1
        i = self._type_count
        for field in range(3):
            descriptor = getattr(kind, _EVENT_FIELDS[field], None)
            offset = zq_sampling_offset(<PyObject *>descriptor)
            self._offsets[i][field] = offset
            if offset < 0:
                self._offsets[i][0] = -1  # remembered: read by getattr
                break
        self._type_refs.append(kind)
        self._types[i] = <PyObject *>kind
        self._type_count = i + 1
        return i if self._offsets[i][0] >= 0 else -1

    @cython.always_allow_keywords(False)  # METH_O: the bus calls it without parsing
    def on_position_event(self, event):
        """Keep a position event and sample at its time, once per fill."""
        cdef list events = self.position_events
        cdef array.array counts
        cdef int known
        cdef PyObject *ts_slot = NULL
        cdef PyObject *position_slot = NULL
        cdef PyObject *trade_slot = NULL
        events.append(event)
        # A fill through zero publishes two events (closed, then opened) after the
        # portfolio applied the whole fill: one sample per fill, covering both events.
        known = self._known(type(event))
        if known >= 0:
            ts_slot = zq_sampling_slot(event, self._offsets[known][0])
            position_slot = zq_sampling_slot(event, self._offsets[known][1])
            trade_slot = zq_sampling_slot(event, self._offsets[known][2])
        if known >= 0 and ts_slot != NULL and position_slot != NULL and trade_slot != NULL:
            ts = <object>ts_slot
            position_id = <object>position_slot
            trade_id = <object>trade_slot
        else:
            ts = event.ts_event
            position_id = event.position_id
            trade_id = event.last_trade_id
        if (
            (ts is self._last_ts or ts == self._last_ts)
            and (position_id is self._last_position or position_id == self._last_position)
            and (trade_id is self._last_trade or trade_id == self._last_trade)
        ):
            counts = self.position_counts
            counts.data.as_longlongs[len(counts) - 1] = len(events)
            return
        self._last_ts = ts
        self._last_position = position_id
        self._last_trade = trade_id
        self.sample(ts)

    cpdef sample(self, object ts):
        """Note the time, the position events' count, the marks and the account states'
        counts (see ``ResultSampler.sample``)."""
        cdef int precision
        cdef tuple mark, account
        _append_q(self.ts, ts)
        _append_q(self.position_counts, len(self.position_events))
        # mark_price, in raw integers: the book's mid when both sides are quoted (exact one
        # decimal finer, or rounded down at the largest precision), else the last trade.
        cdef int64_t bid_raw, ask_raw
        cdef const Ladder *bids
        cdef const Ladder *asks
        for item in self.marks:
            mark = <tuple?>item
            precision = mark[3]
            book = mark[6] if len(mark) > 6 else None
            if book is None:
                bid = mark[0]()
                ask = mark[1]()
            else:
                # What best_bid_raw() and best_ask_raw() return, read from the ladders.
                bids = &(<OrderBook?>book)._bids
                asks = &(<OrderBook>book)._asks
                if bids.count and asks.count:
                    bid_raw = side_key(SIDE_BID, bids.levels[bids.top].key)
                    ask_raw = side_key(SIDE_ASK, asks.levels[asks.top].key)
                    if (
                        -_SMALL_BOUND < bid_raw < _SMALL_BOUND
                        and -_SMALL_BOUND < ask_raw < _SMALL_BOUND
                    ):
                        if precision < PRECISION_MAX_C:
                            _append_q(<array.array?>mark[4], (bid_raw + ask_raw) * 5)
                            _append_b(<array.array?>mark[5], <signed char>(precision + 1))
                        else:  # // floors, as Python's (cdivision is off)
                            _append_q(<array.array?>mark[4], (bid_raw + ask_raw) // 2)
                            _append_b(<array.array?>mark[5], <signed char>precision)
                        continue
                    bid = bid_raw  # large: the Python ints' formula below
                    ask = ask_raw
                else:  # one side empty or both: the last trade, below
                    bid = ask = None
            if bid is not None and ask is not None:
                # In C while both are below 2**58 (the sum times 5 stays in int64), else
                # with Python ints (an int64 column refuses what does not fit either way).
                if (
                    type(bid) is int and type(ask) is int
                    and _small(bid, &bid_raw) and _small(ask, &ask_raw)
                ):
                    if precision < PRECISION_MAX_C:
                        _append_q(<array.array?>mark[4], (bid_raw + ask_raw) * 5)
                        _append_b(<array.array?>mark[5], <signed char>(precision + 1))
                    else:  # // floors, as Python's (cdivision is off)
                        _append_q(<array.array?>mark[4], (bid_raw + ask_raw) // 2)
                        _append_b(<array.array?>mark[5], <signed char>precision)
                elif precision < PRECISION_MAX_C:
                    _append_q(<array.array?>mark[4], (bid + ask) * 5)
                    _append_b(<array.array?>mark[5], <signed char>(precision + 1))
                else:
                    _append_q(<array.array?>mark[4], (bid + ask) // 2)
                    _append_b(<array.array?>mark[5], <signed char>precision)
            else:
                last = mark[2].last_trade
                if last is None:
                    _append_q(<array.array?>mark[4], 0)
                    _append_b(<array.array?>mark[5], _NO_MARK)
                else:
                    _append_q(<array.array?>mark[4], last)
                    _append_b(<array.array?>mark[5], <signed char>precision)
        for item in self.account_counts:
            account = <tuple?>item
            states = account[0]
            if isinstance(states, AccountCore):  # its count, without making noted states
                _append_q(<array.array?>account[1], (<AccountCore>states)._count())
            else:
                _append_q(<array.array?>account[1], len(<list?>states))


# Indices below stay inside their sequences by construction (rows of a tuple copy of the
# objects, slots and columns of lists made here with those lengths): bounds checks off
# (test_read_columns_* cover every kind of field; negative indices keep their meaning).
@cython.boundscheck(False)
def read_columns(list objects not None, tuple numbers not None, tuple names=(), kinds=None):
    """Read columns of ``objects`` in one pass: integers, attributes and type codes.

    Parameters
    ----------
    objects : list
        The rows.
    numbers : tuple of str
        Integer fields: ``"name"`` (an int attribute), ``"name.raw"`` or
        ``"name.precision"`` (of a ``Price``, ``Quantity`` or ``Money`` attribute; of None,
        raw 0 and precision -1). A name may be a path, as below.
    names : tuple of str
        Attributes; a dotted path for an attribute of an attribute (``"currency.code"``),
        with digits for an item (``"balances.0.total"``).
    kinds : mapping, optional
        A code (-128..127) per type of object, looked up by ``kinds[type(object)]`` (a dict
        subclass may compute a missing one).

    Returns
    -------
    tuple
        ``array('q')`` of ``len(objects) * len(numbers)`` integers, row by row; a list per
        name of the attribute of each object; ``array('b')`` of the type codes (empty
        without ``kinds``).

    Raises
    ------
    TypeError
        If a ``.raw`` or ``.precision`` field is not a fixed-point value, or a plain field
        not an int.
    OverflowError
        If a plain field does not fit int64.

    It is what the result's columns read of each event: each object is reached once for
    all its columns (a long run's events no longer fit the CPU's caches; every pass over
    them reads them from memory again).
    """
    cdef tuple rows = tuple(objects)  # a property cannot shorten it under the loop
    cdef Py_ssize_t count = len(rows), width = len(numbers), row, column, slot
    cdef long long part
    cdef list paths = []  # the distinct paths of `numbers` (without .raw/.precision), in order
    cdef list slot_list = []
    cdef list part_list = []
    for text in numbers:
        steps = (<str?>text).split(".")
        part = 0
        if len(steps) > 1 and steps[-1] in ("raw", "precision"):
            part = 1 if steps[-1] == "raw" else 2
            steps = steps[:-1]
        path = _path(steps, text)
        if path not in paths:
            paths.append(path)
        slot_list.append(paths.index(path))
        part_list.append(part)
    cdef Py_ssize_t distinct = len(paths)
    cdef array.array slot_column = array.array("q", slot_list)
    cdef array.array part_column = array.array("q", part_list)
    cdef long long *slot_of = slot_column.data.as_longlongs
    cdef long long *parts = part_column.data.as_longlongs
    cdef array.array out = array.array("q")
    array.resize(out, count * width)
    cdef long long *data = out.data.as_longlongs
    cdef list values = [None] * distinct
    # names: the path of each, and a list per name
    cdef list chains = [_path((<str?>text).split("."), text) for text in names]
    cdef Py_ssize_t name_count = len(chains), index
    cdef list columns = [[None] * count for _ in range(name_count)]
    cdef list target
    cdef array.array codes = array.array("b")
    cdef bint with_kinds = kinds is not None
    if with_kinds:
        array.resize(codes, count)
    # The first step of each path read at its field's offset (no getattr) where it can be.
    cdef _Fields fields = _Fields(paths + chains)
    cdef array.array path_firsts = array.array("q", [fields.index(p) for p in paths])
    cdef array.array chain_firsts = array.array("q", [fields.index(p) for p in chains])
    cdef int known
    for row in range(count):
        item = rows[row]
        known = fields.known(type(item))
        if with_kinds:
            codes.data.as_schars[row] = <signed char>kinds[type(item)]
        for slot in range(distinct):
            values[slot] = fields.follow(
                item, known, <int>path_firsts.data.as_longlongs[slot], <tuple>paths[slot]
            )
        for column in range(width):
            value = values[slot_of[column]]
            part = parts[column]
            if part == 0:
                data[row * width + column] = _as_int64(value)
            elif type(value) is Quantity:
                data[row * width + column] = (
                    (<Quantity>value).raw if part == 1 else (<Quantity>value).precision
                )
            elif type(value) is Price:
                data[row * width + column] = (
                    (<Price>value).raw if part == 1 else (<Price>value).precision
                )
            elif type(value) is Money:
                data[row * width + column] = (
                    (<Money>value).raw if part == 1 else (<Money>value).precision
                )
            elif value is None:  # no value: raw 0, precision -1
                data[row * width + column] = 0 if part == 1 else -1
            else:
                raise TypeError(
                    f"field {numbers[column]!r}: {type(value).__name__} is not a fixed-point "
                    "value"
                )
        for index in range(name_count):
            target = <list>columns[index]
            target[row] = fields.follow(
                item, known, <int>chain_firsts.data.as_longlongs[index], <tuple>chains[index]
            )
    return out, columns, codes


cdef enum:
    _FIELD_TYPES = 4     # types whose field offsets _Fields keeps
    _FIELD_NAMES = 16    # first steps it reads at their offsets


cdef class _Fields:
    # The first step of read_columns' paths, read at the field's offset in the object where
    # the type keeps it behind a member descriptor (a msgspec struct, a slotted or cdef
    # class), else (another type, a step past _FIELD_NAMES, an unset field) by getattr:
    # half the time of a column read by getattr. The offsets of up to _FIELD_TYPES types
    # are kept.
    cdef list names  # the distinct first steps (attribute names) of the paths
    cdef PyObject *_types[_FIELD_TYPES]
    cdef Py_ssize_t _offsets[_FIELD_TYPES][_FIELD_NAMES]
    cdef int _type_count
    cdef list _type_refs  # keeps the types in _types alive

    def __cinit__(self, list paths):
        self.names = []
        for path in paths:
            step = (<tuple>path)[0]
            if type(step) is str and step not in self.names:
                self.names.append(step)
        del self.names[_FIELD_NAMES:]
        self._type_count = 0
        self._type_refs = []

    cdef int index(self, tuple path):
        # The index of the path's first step among the names read at offsets, or -1.
        step = path[0]
        return self.names.index(step) if step in self.names else -1

    cdef int known(self, object kind) except -2:
        # The index of `kind`'s offsets (found on first sight), or -1 past the table.
        cdef int i, k
        for i in range(self._type_count):
            if self._types[i] == <PyObject *>kind:
                return i
        if self._type_count == _FIELD_TYPES:
            return -1
        i = self._type_count
        for k in range(len(self.names)):
            descriptor = getattr(kind, <str>self.names[k], None)
            self._offsets[i][k] = zq_sampling_offset(<PyObject *>descriptor)
        self._type_refs.append(kind)
        self._types[i] = <PyObject *>kind
        self._type_count = i + 1
        return i

    cdef inline object follow(self, object item, int known, int index, tuple path):
        # _follow(item, path), its first step at the field's offset where known.
        cdef PyObject *slot = NULL
        cdef Py_ssize_t offset, k
        if known >= 0 and index >= 0:
            offset = self._offsets[known][index]
            if offset >= 0:
                slot = zq_sampling_slot(item, offset)
        if slot == NULL:
            return _follow(item, path)
        value = <object>slot
        for k in range(1, len(path)):
            step = path[k]
            if type(step) is int:
                value = value[step]
            else:
                value = getattr(value, <str>step)
        return value


cdef tuple _path(list steps, object text):
    # The steps of a field: attribute names, and item indices where a step is digits.
    if not all(steps):
        raise ValueError(f"empty step in field {text!r}")
    return tuple(int(step) if step.isdigit() else step for step in steps)


cdef inline object _follow(object value, tuple path):
    for step in path:
        if type(step) is int:
            value = value[step]
        else:
            value = getattr(value, <str>step)
    return value


cdef inline int64_t _as_int64(object value) except? -1:
    if type(value) is not int:
        raise TypeError(f"{type(value).__name__} is not an int")
    return <int64_t>value


cdef extern from *:
    """
    /* a * b, a + b and a - b of int64, each with whether it overflowed. */
    static inline int zq_sampling_mul(long long a, long long b, long long *out) {
        return __builtin_mul_overflow(a, b, out);
    }
    static inline int zq_sampling_add(long long a, long long b, long long *out) {
        return __builtin_add_overflow(a, b, out);
    }
    static inline int zq_sampling_sub(long long a, long long b, long long *out) {
        return __builtin_sub_overflow(a, b, out);
    }
    """
    bint zq_sampling_mul(long long a, long long b, long long *out) nogil
    bint zq_sampling_add(long long a, long long b, long long *out) nogil
    bint zq_sampling_sub(long long a, long long b, long long *out) nogil


# The kinds of position event replay_linear applies (any other code is skipped).
cdef enum:
    _REPLAY_OPENED = 0
    _REPLAY_CHANGED = 1
    _REPLAY_CLOSED = 2


cdef inline int _sign(long long value) noexcept nogil:
    return (value > 0) - (value < 0)


cdef inline long long _long_at(array.array column, Py_ssize_t index) except? -1:
    # column[index] of an array('q'), bounds checked.
    if not 0 <= index < len(column):
        raise IndexError("replay_linear: index out of its column")
    return column.data.as_longlongs[index]


def identities(list values not None):
    """Return ``id(value)`` of each of ``values`` as an ``array('q')``.

    It is how the result's columns tell objects apart by identity (enum members, the id
    objects an order and its fills share) with no int object made per value: a long run's
    columns have hundreds of thousands of values.
    """
    cdef Py_ssize_t count = len(values), row
    cdef array.array out = array.array("q")
    array.resize(out, count)
    cdef long long *data = out.data.as_longlongs
    cdef PyObject *item
    for row in range(count):
        # Borrowed: nothing runs that could change the list. id() is the address, an
        # unsigned value: a user-space address is below 2**63, so the same as a signed one.
        item = zq_sampling_list_item(values, row)
        data[row] = <long long><Py_ssize_t>item
    return out


def take(list values not None, const int64_t[::1] rows not None):
    """Return ``[values[row] for row in rows]``, ``rows`` an int64 buffer (a NumPy array).

    Raises
    ------
    IndexError
        If a row is not within ``values`` (no negative rows).

    The result's columns pick their rows of long lists so (no int object made per row, no
    Python call per value).
    """
    cdef Py_ssize_t count = rows.shape[0], size = len(values), row
    cdef int64_t at
    cdef list out = PyList_New(count)
    cdef object item
    for row in range(count):
        at = rows[row]
        if at < 0 or at >= size:
            raise IndexError(f"row {at} is not within the {size} values")
        item = <object>zq_sampling_list_item(values, at)
        Py_INCREF(item)  # the list's reference (SET_ITEM takes it)
        PyList_SET_ITEM(out, row, item)
    return out


def replay_linear(array.array counts not None, array.array kinds not None,
                  array.array positions not None, array.array qty not None,
                  array.array px not None, array.array signed not None,
                  array.array position_column not None, array.array position_pair not None,
                  array.array multipliers not None, Py_ssize_t pair_count):
    """Replay linear positions' events in int64, recording the sums of each sample.

    The compiled loop of ``zq.backtest.sampler._LinearReplay`` (see there): per event its
    kind (0 opened, 1 changed, 2 closed; any other code is skipped), position, fill
    quantity and price (raw), and the position's signed quantity after it (raw); per
    position its column (account, currency, instrument) and (instrument, strategy) pair;
    per column the multiplier (raw). ``counts`` holds the events applied by each sample.
    All are ``array('q')`` but ``kinds`` (``array('b')``).

    Returns
    -------
    tuple or None
        ``(a, c, open, nets, first_held, order)``: the columns' A, C and open positions and
        the pairs' net quantities at each sample (``array('q')``, a row per sample), the
        sample each pair was first held at (-1: never) and the pairs in the order first
        held; None when a sum leaves int64 or a reduction's share of the entry value is not
        exact (the Decimal path values the samples then).
    """
    if kinds.typecode != "b":
        raise TypeError("kinds must be an array('b')")
    for column in (counts, positions, qty, px, signed, position_column, position_pair,
                   multipliers):
        if (<array.array>column).typecode != "q":
            raise TypeError("replay_linear's columns must be array('q') but kinds")
    cdef Py_ssize_t samples = len(counts), events = len(kinds)
    cdef Py_ssize_t columns = len(multipliers), position_count = len(position_column)
    if len(positions) != events or len(qty) != events or len(px) != events or (
        len(signed) != events
    ) or len(position_pair) != position_count:
        raise ValueError("replay_linear: columns of different lengths")
    cdef array.array a_at = array.array("q"), c_at = array.array("q")
    cdef array.array open_at = array.array("q"), net_at = array.array("q")
    cdef array.array first_held = array.array("q", [-1]) * pair_count
    cdef array.array a = array.array("q", [0]) * columns, c = array.array("q", [0]) * columns
    cdef array.array open_count = array.array("q", [0]) * columns
    cdef array.array net = array.array("q", [0]) * pair_count
    cdef array.array held_qty = array.array("q", [0]) * position_count
    cdef array.array held_value = array.array("q", [0]) * position_count
    cdef list order = []
    array.resize(a_at, samples * columns)
    array.resize(c_at, samples * columns)
    array.resize(open_at, samples * columns)
    array.resize(net_at, samples * pair_count)
    cdef Py_ssize_t sample, applied = 0, target, k, position, column_index, pair
    cdef long long before, after, held, value, entry, product, change, multiplier
    cdef long long term
    cdef signed char kind
    for sample in range(samples):
        target = _long_at(counts, sample)
        if target > events:
            raise ValueError("replay_linear: a count past the events")
        while applied < target:
            kind = kinds.data.as_schars[applied]
            if kind < _REPLAY_OPENED or kind > _REPLAY_CLOSED:
                applied += 1
                continue
            position = _long_at(positions, applied)
            column_index = _long_at(position_column, position)
            pair = _long_at(position_pair, position)
            if not 0 <= column_index < columns or not 0 <= pair < pair_count:
                raise IndexError("replay_linear: a column or pair out of range")
            before = held_qty.data.as_longlongs[position]
            value = held_value.data.as_longlongs[position]
            after = signed.data.as_longlongs[applied]
            held = before if before >= 0 else -before
            if zq_sampling_mul(qty.data.as_longlongs[applied], px.data.as_longlongs[applied],
                               &product):
                return None
            if kind == _REPLAY_OPENED or held == 0:
                entry = product
            elif kind == _REPLAY_CLOSED:
                entry = 0
            elif (after if after >= 0 else -after) > held:
                if zq_sampling_add(value, product, &entry):
                    return None
            else:
                # The reduction's share of the entry value, exact or not here.
                if zq_sampling_mul(value, qty.data.as_longlongs[applied], &product):
                    return None
                if product % held != 0:
                    return None
                entry = value - product // held
            multiplier = multipliers.data.as_longlongs[column_index]
            # A += (after - before) × k; C += (sign(after) × entry - sign(before) × value) × k
            if zq_sampling_sub(after, before, &change) or zq_sampling_mul(change, multiplier,
                                                                          &term):
                return None
            if zq_sampling_add(a.data.as_longlongs[column_index], term,
                               &a.data.as_longlongs[column_index]):
                return None
            if zq_sampling_sub(_sign(after) * entry, _sign(before) * value, &term) or (
                zq_sampling_mul(term, multiplier, &term)
            ) or zq_sampling_add(c.data.as_longlongs[column_index], term,
                                 &c.data.as_longlongs[column_index]):
                return None
            open_count.data.as_longlongs[column_index] += (after != 0) - (before != 0)
            held_qty.data.as_longlongs[position] = after
            held_value.data.as_longlongs[position] = entry
            if first_held.data.as_longlongs[pair] < 0 and after != 0:
                first_held.data.as_longlongs[pair] = sample
                order.append(pair)
            if first_held.data.as_longlongs[pair] >= 0 and zq_sampling_add(
                net.data.as_longlongs[pair], change, &net.data.as_longlongs[pair]
            ):
                return None
            applied += 1
        for k in range(columns):
            a_at.data.as_longlongs[sample * columns + k] = a.data.as_longlongs[k]
            c_at.data.as_longlongs[sample * columns + k] = c.data.as_longlongs[k]
            open_at.data.as_longlongs[sample * columns + k] = open_count.data.as_longlongs[k]
        for k in range(pair_count):
            net_at.data.as_longlongs[sample * pair_count + k] = net.data.as_longlongs[k]
    return a_at, c_at, open_at, net_at, first_held, order
