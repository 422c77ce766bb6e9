"""A strategy's order and position events delivered to its callbacks, in C.

``zq.strategy.Strategy`` subscribes one :class:`EventCallbacks` per topic (its order events,
its position events) instead of a Python method: the bus calls it, and it calls the
strategy's specific callback (``on_order_filled``...) and then its general one
(``on_order_event``), each only where the strategy overrides it (by its class, as found when
it was registered, or by assignment on the instance). ``Strategy._handle_order_event`` and
``_handle_position_event`` are the Python reference of the same rules.
"""

cimport cython
from cpython.dict cimport PyDict_Contains
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
    by_name : bool
        Whether ``names`` is keyed by the event class's ``__name__`` (position events, whose
        classes the strategy module does not import) instead of the class.
    """

    cdef object _owner
    cdef dict _names
    cdef str _general
    cdef frozenset _overridden
    cdef bint _general_overridden
    cdef bint _by_name
    # The owner's instance __dict__: a callback assigned on the instance counts too (read
    # per event, as the Python reference does).
    cdef dict _instance

    def __init__(
        self, owner, dict names not None, str general not None, frozenset overridden not None,
        bint by_name,
    ):
        self._owner = owner
        self._names = names
        self._general = general
        self._overridden = overridden
        self._general_overridden = general in overridden
        self._by_name = by_name
        self._instance = owner.__dict__

    def __call__(self, event):
        cdef object kind = type(event)
        cdef PyObject* name
        if self._by_name:
            kind = kind.__name__
        name = PyDict_GetItemWithError(self._names, kind)
        if name is not NULL and (
            <object>name in self._overridden or PyDict_Contains(self._instance, <object>name)
        ):
            getattr(self._owner, <object>name)(event)
        if self._general_overridden or PyDict_Contains(self._instance, self._general):
            getattr(self._owner, self._general)(event)

    def __repr__(self):
        return f"EventCallbacks({self._owner!r}, {self._general})"
