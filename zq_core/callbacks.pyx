"""A strategy's order and position events delivered to its callbacks, in C.

``zq.strategy.Strategy`` subscribes one :class:`EventCallbacks` per topic (its order events,
its position events) instead of a Python method: the bus calls it, and it calls the
strategy's specific callback (``on_order_filled``...) and then its general one
(``on_order_event``), each only where the strategy overrides it (by its class, as found when
it was registered, or by assignment on the instance). ``Strategy._handle_order_event`` and
``_handle_position_event`` are the Python reference of the same rules.

A callback nobody overrides costs nothing per event. ``Strategy``'s own callbacks are
:class:`CallbackSlot` descriptors: an assignment on an instance of a class that does not
override the callback goes through the slot, which keeps the value with the instance and
tells every :class:`EventCallbacks` to look again; an assignment on a class changes the
class's version tag (CPython's, which its method cache reads), which :class:`EventCallbacks`
compares per event. While neither changed, the callbacks found inactive (the slot's own
function, nothing assigned) are skipped without a look-up.
"""

cimport cython
from cpython.method cimport PyMethod_Check, PyMethod_GET_FUNCTION, PyMethod_GET_SELF
from cpython.ref cimport PyObject


cdef extern from "Python.h":
    object PyMethod_New(object function, object instance)

__all__ = ["ASSIGNED", "CallbackSlot", "EventCallbacks"]


cdef extern from "Python.h":
    PyObject* PyDict_GetItemWithError(object mapping, object key) except? NULL


cdef extern from *:
    """
    /* The attribute `name` of `obj` as a call finds it (a new reference; NULL with an
       exception set), without making a bound method: *unbound is 1 when it is a function
       of the type that the instance does not shadow (to be called with `obj` first), 0 for
       any other attribute. The instance's own attributes are looked up where CPython keeps
       them, never through its __dict__ (reading __dict__ would make CPython keep the
       strategy's attributes in a real dict, slowing every read of them). CPython before
       3.13 exports _PyObject_GetMethod, which does this (a method call `obj.name(...)`
       runs it); later versions get the attribute itself. */
    static PyObject *zq_callbacks_find(PyObject *obj, PyObject *name, int *unbound) {
    #if PY_VERSION_HEX < 0x030D0000
        PyObject *found = NULL;
        *unbound = _PyObject_GetMethod(obj, name, &found);
        return found;
    #else
        *unbound = 0;
        return PyObject_GetAttr(obj, name);
    #endif
    }
    """
    object zq_callbacks_find(object obj, object name, int* unbound)


cdef extern from *:
    """
    /* The version tag of `type`'s attributes, 0 while it has none: CPython sets it to 0 when
       an attribute of the type or of one of its bases is set or deleted, and gives it a new,
       never reused, value on the next look-up through the type. */
    static unsigned int zq_callbacks_type_tag(PyObject *type) {
    #ifdef Py_TPFLAGS_VALID_VERSION_TAG
        if (!PyType_HasFeature((PyTypeObject *)type, Py_TPFLAGS_VALID_VERSION_TAG)) return 0;
    #endif
        return ((PyTypeObject *)type)->tp_version_tag;
    }
    """
    unsigned int zq_callbacks_type_tag(object type)


#: The attribute of an instance holding the callbacks assigned on it through a slot
#: (callback name -> value).
ASSIGNED = "_assigned_callbacks"

# Bumped by every assignment or deletion through a slot: each EventCallbacks looks again.
cdef unsigned long long _epoch = 0

cdef object _MISSING = object()


@cython.final
cdef class CallbackSlot:
    """A callback of the base class that an instance can replace by assignment.

    Read from the class, it is ``function``; read from an instance, the value assigned on
    the instance, else ``function`` bound to it (as a method). Assigning on an instance
    keeps the value in the instance's ``_assigned_callbacks`` (deleting removes it), and
    has every :class:`EventCallbacks` look its callbacks up again.

    Parameters
    ----------
    name : str
        The callback's name (``"on_order_filled"``).
    function : callable
        The base class's own callback (a no-op).
    """

    cdef readonly str name
    cdef readonly object function

    def __init__(self, str name not None, function):
        if not callable(function):
            raise TypeError(f"CallbackSlot needs a function, got {function!r}")
        self.name = name
        self.function = function

    def __get__(self, obj, owner):
        if obj is None:
            return self.function
        assigned = getattr(obj, ASSIGNED, None)
        if assigned:
            found = (<dict?>assigned).get(self.name, _MISSING)
            if found is not _MISSING:
                return found
        return PyMethod_New(self.function, obj)

    def __set__(self, obj, value):
        global _epoch
        assigned = getattr(obj, ASSIGNED, None)
        if assigned is None:
            assigned = {}
            setattr(obj, ASSIGNED, assigned)
        (<dict?>assigned)[self.name] = value
        _epoch += 1

    def __delete__(self, obj):
        global _epoch
        assigned = getattr(obj, ASSIGNED, None)
        if not assigned or self.name not in <dict?>assigned:
            raise AttributeError(f"{type(obj).__name__!r} object has no attribute {self.name!r}")
        del (<dict>assigned)[self.name]
        _epoch += 1

    def __repr__(self):
        return f"CallbackSlot({self.name!r}, {self.function!r})"


cdef object _class_attribute(object kind, str name):
    """The attribute ``name`` as the class ``kind`` defines or inherits it (no descriptor
    called), or _MISSING."""
    for klass in kind.__mro__:
        found = klass.__dict__.get(name, _MISSING)
        if found is not _MISSING:
            return found
    return _MISSING


cdef enum:
    _SEEN_MAX = 16      # event types found by pointer (an order's events: 13 types)


@cython.final
cdef class EventCallbacks:
    """Call ``owner``'s callbacks for each event it is given.

    Parameters
    ----------
    owner : object
        The strategy.
    names : dict
        The specific callback's name per event type (``by_name``: per event class name).
    general : str
        The callback every event goes to after its specific one (``"on_order_event"``).
    overridden : frozenset
        The callback names the owner's class overrides (shown by the repr; each callback is
        found per event as a call finds it, so one assigned later is found too).
    defaults : dict
        Per callback name, the base class's function (a no-op): a callback that is still
        that function is not called.
    by_name : bool
        Whether ``names`` is keyed by the event class's ``__name__`` (position events, whose
        classes the strategy module does not import) instead of the class.
    """

    cdef object _owner
    cdef dict _names
    cdef str _general
    cdef frozenset _overridden
    cdef dict _defaults
    cdef bint _by_name
    cdef object _general_default
    # Per event type seen: (its specific callback's name, that callback's default), or None
    # when the type has no specific callback. The first _SEEN_MAX types are also found by
    # pointer in _kinds (their entries borrowed from _resolved, which keeps them alive).
    cdef dict _resolved
    cdef PyObject* _kinds[_SEEN_MAX]
    cdef PyObject* _specifics[_SEEN_MAX]
    cdef int _seen
    # What the callbacks were found to be, and when: the owner's type, its version tag and
    # the slot epoch then (any of them changed: look again). Inactive callbacks (the slot's
    # function, nothing assigned) are never called.
    cdef object _type
    cdef unsigned int _tag
    cdef unsigned long long _epoch
    cdef frozenset _active              # the callback names called
    cdef bint _general_active
    cdef bint _quiet                    # no callback active: events are dropped

    def __init__(
        self, owner, dict names not None, str general not None, frozenset overridden not None,
        dict defaults not None, bint by_name,
    ):
        self._owner = owner
        self._names = names
        self._general = general
        self._overridden = overridden
        self._defaults = defaults
        self._by_name = by_name
        self._general_default = defaults.get(general)
        self._resolved = {}
        self._seen = 0
        self._type = None
        self._tag = 0
        self._epoch = 0
        self._active = frozenset()
        self._general_active = True
        self._quiet = False

    def __call__(self, event):
        self._deliver(event)

    @cython.always_allow_keywords(False)  # METH_O: one positional argument, no parsing
    def deliver(self, event):
        """Deliver ``event`` (as calling the instance does; the bound method is what the
        strategy subscribes: the bus calls it without making an argument tuple)."""
        self._deliver(event)

    cdef int _deliver(self, object event) except -1:
        cdef object kind = type(event)
        cdef PyObject* found = NULL
        cdef object specific
        cdef int i
        owner_type = type(self._owner)
        if (
            owner_type is not self._type
            or zq_callbacks_type_tag(owner_type) != self._tag
            or self._tag == 0
            or _epoch != self._epoch
        ):
            self._refresh()
        if self._quiet:
            return 0
        for i in range(self._seen):
            if self._kinds[i] is <PyObject*>kind:
                found = self._specifics[i]
                break
        else:
            found = PyDict_GetItemWithError(self._resolved, kind)
        if found is NULL:
            specific = self._resolve(kind)
        else:
            specific = <object>found
        if specific is not None:
            self._call((<tuple>specific)[0], (<tuple>specific)[1], event)
        if self._general_active:
            self._call(self._general, self._general_default, event)
        return 0

    cdef int _refresh(self) except -1:
        """Find which callbacks are active for the owner's type and assignments now."""
        kind = type(self._owner)
        assigned = getattr(self._owner, ASSIGNED, None)
        active = set()
        for name in (*self._names.values(), self._general):
            getattr(kind, name, None)  # a look-up through the type: CPython tags it again
            slot = _class_attribute(kind, name)
            if not (
                type(slot) is CallbackSlot
                and (<CallbackSlot>slot).function is self._defaults.get(name)
                and not (isinstance(assigned, dict) and name in assigned)
            ):
                active.add(name)
        self._seen = 0  # before _resolved, whose entries _kinds borrows, is replaced
        self._resolved = {}
        self._active = frozenset(active)
        self._general_active = self._general in self._active
        self._quiet = not self._active
        self._type = kind
        self._epoch = _epoch
        self._tag = zq_callbacks_type_tag(kind)
        return 0

    cdef object _resolve(self, object kind):
        name = self._names.get(kind.__name__ if self._by_name else kind)
        specific = (
            None if name is None or name not in self._active
            else (name, self._defaults.get(name))
        )
        self._resolved[kind] = specific  # keeps kind and specific alive for _kinds
        if self._seen < _SEEN_MAX:
            self._kinds[self._seen] = <PyObject*>kind
            self._specifics[self._seen] = <PyObject*>specific
            self._seen += 1
        return specific

    cdef int _call(self, object name, object default, object event) except -1:
        # The callback a call finds (the class's, or one assigned on the instance), unless it
        # is the base class's own no-op.
        cdef int unbound = 0
        callback = zq_callbacks_find(self._owner, name, &unbound)
        if unbound:
            if callback is not default:
                callback(self._owner, event)
            return 0
        if (
            PyMethod_Check(callback)
            and PyMethod_GET_SELF(callback) is <PyObject*>self._owner
            and PyMethod_GET_FUNCTION(callback) is <PyObject*>default
        ):
            return 0
        callback(event)
        return 0

    def __repr__(self):
        return f"EventCallbacks({self._owner!r}, {self._general})"
