"""A strategy's order and position events delivered to its callbacks, in C.

``zq.strategy.Strategy`` subscribes one :class:`EventCallbacks` per topic (its order events,
its position events) instead of a Python method: the bus calls it, and it calls the
strategy's specific callback (``on_order_filled``...) and then its general one
(``on_order_event``), each only where the strategy overrides it (by its class, as found when
it was registered, or by assignment on the instance). ``Strategy._handle_order_event`` and
``_handle_position_event`` are the Python reference of the same rules.
"""

cimport cython
from cpython.method cimport PyMethod_Check, PyMethod_GET_FUNCTION, PyMethod_GET_SELF
from cpython.ref cimport PyObject

__all__ = ["EventCallbacks"]


cdef extern from "Python.h":
    PyObject* PyDict_GetItemWithError(object mapping, object key) except? NULL


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
        The callback names the owner's class overrides.
    defaults : dict
        Per callback name, the base class's function (a no-op): a callback that is not
        overridden runs only when the instance has another one assigned.
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

    def __call__(self, event):
        cdef object kind = type(event)
        cdef PyObject* name
        if self._by_name:
            kind = kind.__name__
        name = PyDict_GetItemWithError(self._names, kind)
        if name is not NULL:
            self._call(<object>name, event)
        self._call(self._general, event)

    cdef int _call(self, object name, object event) except -1:
        if name in self._overridden:
            getattr(self._owner, name)(event)
            return 0
        # Not overridden by the class: call it only if the instance assigned it. The
        # attribute is looked up, not the instance __dict__: reading ``__dict__`` would make
        # CPython (3.11+) keep the attributes in a real dict, slowing every attribute read
        # of the strategy (its on_trade included) by some hundred instructions.
        callback = getattr(self._owner, name)
        default = self._defaults.get(name)
        if (
            PyMethod_Check(callback)
            and PyMethod_GET_SELF(callback) is <PyObject*>self._owner
            and PyMethod_GET_FUNCTION(callback) is <PyObject*>default
        ):
            return 0  # the base class's own no-op
        callback(event)
        return 0

    def __repr__(self):
        return f"EventCallbacks({self._owner!r}, {self._general})"
