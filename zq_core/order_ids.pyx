"""Client order ids in C: ``O-{yyyymmdd}-{HHMMSS}-{trader tag}-{strategy tag}-{count}``.

``zq.strategy.OrderFactory`` numbers every order it makes with one :class:`OrderIdGenerator`.
The head of an id (everything up to the count) changes once per second of clock time; it is
kept as ASCII bytes (its six time digits rewritten in place when the second changes), and an
id is that head and the count's digits written into one buffer.
"""

cimport cython
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.stdint cimport INT64_MAX, int64_t
from libc.string cimport memcpy

import time


cdef extern from *:
    """
    /* str.__new__(type, text) for a str subclass `type`, without looking the method up:
       the identifier's own __new__ (its validation) is skipped, as the factory always did
       for the ids it knows to be valid. */
    static inline PyObject *zq_order_ids_subtype_str(PyObject *type, PyObject *text) {
        PyObject *args = PyTuple_Pack(1, text);
        PyObject *result;
        if (args == NULL) return NULL;
        result = PyUnicode_Type.tp_new((PyTypeObject *)type, args, NULL);
        Py_DECREF(args);
        return result;
    }

    /* The same str subclass instance made from `length` ASCII bytes at `chars`, in one step:
       what str.__new__ makes of an ASCII str for a subclass (CPython 3.11's
       unicode_subtype_new: the object from the type's tp_alloc, its characters in a buffer
       of their own, shared as its UTF-8; the hash computed when first asked), without the
       exact str and the argument tuple it starts from. Other CPython versions lay strings
       out otherwise: they take the path above. */
    static PyObject *zq_order_ids_subtype_ascii(PyObject *type, const char *chars,
                                                Py_ssize_t length) {
    #if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
        PyTypeObject *tp = (PyTypeObject *)type;
        PyObject *self;
        char *data;
        if (tp->tp_alloc == NULL || tp->tp_itemsize != 0) {
            PyErr_SetString(PyExc_TypeError, "unexpected str subclass layout");
            return NULL;
        }
        self = tp->tp_alloc(tp, 0);
        if (self == NULL) return NULL;
        data = (char *)PyObject_Malloc((size_t)length + 1);
        if (data == NULL) {
            Py_DECREF(self);
            return PyErr_NoMemory();
        }
        memcpy(data, chars, (size_t)length);
        data[length] = 0;
        {
            PyASCIIObject *ascii = (PyASCIIObject *)self;
            PyCompactUnicodeObject *compact = (PyCompactUnicodeObject *)self;
            ascii->length = length;
            ascii->hash = -1;
            ascii->state.interned = 0;
            ascii->state.kind = PyUnicode_1BYTE_KIND;
            ascii->state.compact = 0;
            ascii->state.ascii = 1;
            ascii->state.ready = 1;
            ascii->wstr = NULL;
            compact->wstr_length = 0;
            compact->utf8 = data;
            compact->utf8_length = length;
            ((PyUnicodeObject *)self)->data.any = data;
        }
        return self;
    #else
        PyObject *text = PyUnicode_DecodeASCII(chars, length, NULL);
        PyObject *result;
        if (text == NULL) return NULL;
        result = zq_order_ids_subtype_str(type, text);
        Py_DECREF(text);
        return result;
    #endif
    }
    """
    object zq_order_ids_subtype_str(object type, object text)
    object zq_order_ids_subtype_ascii(object type, const char* chars, Py_ssize_t length)

cdef enum:
    # Longer ids go through the identifier type's own validation (it checks the length).
    _FAST_LENGTH = 64


@cython.final
cdef class OrderIdGenerator:
    """Make a strategy's client order ids from the clock's time and a growing count.

    Parameters
    ----------
    tags : str
        ``"{trader tag}-{strategy tag}"`` (ASCII: the tags of checked identifiers).
    id_type : type
        The ``str`` subclass of the ids (``ClientOrderId``); an id longer than 64
        characters is made by calling it, so that it validates the length.
    count : int, default 0
        The count the ids continue from.
    """

    def __init__(self, str tags not None, type id_type not None, int64_t count=0):
        if not issubclass(id_type, str):
            raise TypeError(f"id_type must be a str subclass, got {id_type!r}")
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        self._tags = tags.encode("ascii")
        self._id_type = id_type
        self.count = count
        self._stamp_second = -1
        self._stamp_day = -1
        self._head = bytearray()
        self._time_at = 0

    def set_count(self, int64_t count):
        """Continue numbering from ``count``.

        Raises
        ------
        ValueError
            If ``count`` is below the current count (ids would be reused).
        """
        if count < self.count:
            raise ValueError(
                f"order factory count can only grow ({self.count} -> {count} would reuse ids)"
            )
        self.count = count

    cpdef object next_id(self, int64_t now):
        """Return the next id, dated by ``now`` (UNIX nanoseconds)."""
        cdef char buffer[_FAST_LENGTH + 24]
        cdef int64_t second = now // 1_000_000_000
        cdef Py_ssize_t head_length, digits = 0, i
        cdef int64_t rest
        cdef char swap
        if self.count == INT64_MAX:
            raise OverflowError("order factory count reached the int64 maximum")
        self.count += 1
        if second != self._stamp_second:
            self._restamp(second)
        head_length = PyByteArray_GET_SIZE(self._head)
        if head_length > _FAST_LENGTH:
            return self._id_type(self._head.decode("ascii") + str(self.count))
        memcpy(buffer, PyByteArray_AS_STRING(self._head), head_length)
        # The count's decimal digits (count >= 1), least significant first, then reversed.
        rest = self.count
        while rest:
            buffer[head_length + digits] = c'0' + <char>(rest % 10)
            rest //= 10
            digits += 1
        for i in range(digits // 2):
            swap = buffer[head_length + i]
            buffer[head_length + i] = buffer[head_length + digits - 1 - i]
            buffer[head_length + digits - 1 - i] = swap
        if head_length + digits > _FAST_LENGTH:
            return self._id_type(PyUnicode_DecodeASCII(buffer, head_length + digits, NULL))
        # Valid by construction: ASCII digits and the tags of checked identifiers.
        return zq_order_ids_subtype_ascii(self._id_type, buffer, head_length + digits)

    cdef int _restamp(self, int64_t second) except -1:
        """Set the head for ``second``: the whole head built once per UTC day (the date
        formatted by ``time.strftime``), then only its six time digits written in place."""
        cdef int64_t day = second // 86_400
        cdef int64_t second_of_day = second - day * 86_400
        cdef int hours = <int>(second_of_day // 3_600)
        cdef int minutes = <int>(second_of_day % 3_600 // 60)
        cdef int seconds = <int>(second_of_day % 60)
        cdef char* at
        self._stamp_second = second
        if day != self._stamp_day:
            self._stamp_day = day
            date = time.strftime("%Y%m%d", time.gmtime(day * 86_400)).encode("ascii")
            self._head = bytearray(b"O-" + date + b"-000000-" + self._tags + b"-")
            self._time_at = 3 + len(date)
        at = PyByteArray_AS_STRING(self._head) + self._time_at
        at[0] = c'0' + <char>(hours // 10)
        at[1] = c'0' + <char>(hours % 10)
        at[2] = c'0' + <char>(minutes // 10)
        at[3] = c'0' + <char>(minutes % 10)
        at[4] = c'0' + <char>(seconds // 10)
        at[5] = c'0' + <char>(seconds % 10)
        return 0
