"""A strategy's commands built and sent in C, and its registered parts read without a frame.

``zq.strategy.Strategy`` hands each ``submit_order`` / ``modify_order`` / ``cancel_order``
to its :class:`OrderSender`, made when it is registered: the command is built from the
order and the clock's time (read from the backtest clock's time cell, see
``zq_core.time_source``) and sent to the RiskEngine's endpoint, with the same checks, in the
same order, as the Python it replaces; read on a registered strategy, each of the three is
that sender's own method (:class:`SentCommand`). :class:`Required` is the read-only attribute an
actor's ``clock``, ``portfolio``, ``order_factory``... are: it reads the attribute the
registration set, in C, and raises the actor's "not registered" error while it is None
(a Python ``property`` would run an interpreter frame per read).
"""

cimport cython

from zq_core.bus cimport MessageBus
from zq_core.cache cimport CacheCore
from zq_core.orders cimport Order
from zq_core.time_source cimport TimeSource

__all__ = ["OrderSender", "Required", "SentCommand"]

#: OrderSender's commands, in the order of its ``_bound`` methods.
_SENT = ("submit_order", "modify_order", "cancel_order")


@cython.final
cdef class OrderSender:
    """Build one strategy's commands and send them to ``endpoint``.

    Parameters
    ----------
    trader_id, strategy_id : str
        The ``TraderId`` and ``StrategyId`` the commands carry.
    cache : Cache
        Takes each submitted order (``add_order``).
    bus : MessageBus
    clock : Clock
        The commands' ``ts_init``.
    endpoint : str
        Where the commands go (``ENDPOINT_RISK``).
    types : tuple
        ``(SubmitOrder, ModifyOrder, CancelOrder)`` (zq_core does not import zq).
    """

    cdef object _trader_id
    cdef object _strategy_id
    cdef object _cache
    cdef CacheCore _cache_core          # the cache when it is one (add_order called in C)
    cdef MessageBus _bus
    cdef TimeSource _time
    cdef str _endpoint
    cdef object _submit_type
    cdef object _modify_type
    cdef object _cancel_type
    cdef tuple _bound                   # its submit_order, modify_order, cancel_order, bound

    def __init__(
        self, trader_id, strategy_id, cache, MessageBus bus not None, clock,
        str endpoint not None, tuple types not None,
    ):
        self._trader_id = trader_id
        self._strategy_id = strategy_id
        self._cache = cache
        self._cache_core = cache if isinstance(cache, CacheCore) else None
        self._bus = bus
        self._time = TimeSource(clock)
        self._endpoint = endpoint
        self._submit_type, self._modify_type, self._cancel_type = types
        # Made once: what SentCommand hands out per command (no bound method made per read).
        self._bound = (self.submit_order, self.modify_order, self.cancel_order)

    def submit_order(self, order, position_id=None):
        """Cache ``order`` and send its ``SubmitOrder`` (as ``Strategy.submit_order``).

        Raises
        ------
        ValueError
            If the order belongs to another strategy.
        """
        strategy_id = self._strategy_id
        cdef Order known = None
        if isinstance(order, Order):  # its fields read in C
            known = <Order>order
            owner, instrument_id, init = known.strategy_id, known.instrument_id, known.init
        else:  # read by name (the cache refuses it below)
            owner, instrument_id, init = order.strategy_id, None, None
        if owner is not strategy_id and owner != strategy_id:  # the factory's: the same id
            raise ValueError(
                f"{strategy_id} cannot submit {order.client_order_id} of {order.strategy_id}"
            )
        if known is not None and self._cache_core is not None:
            self._cache_core.add_order(known)  # CacheCore's, or a subclass's override
        else:
            self._cache.add_order(order)
        if init is None:
            instrument_id, init = order.instrument_id, order.init
        self._bus.send(
            self._endpoint,
            self._submit_type(  # positional: trader, strategy, instrument, ts_init, order, position
                self._trader_id,
                strategy_id,
                instrument_id,
                self._time.now_c(),
                init,
                position_id,
            ),
        )

    def modify_order(self, order, quantity=None, price=None, trigger_price=None):
        """Send a ``ModifyOrder`` of ``order`` (as ``Strategy.modify_order``)."""
        self._bus.send(
            self._endpoint,
            self._modify_type(  # positional: the field order of ModifyOrder
                self._trader_id,
                self._strategy_id,
                order.instrument_id,
                self._time.now_c(),  # ts_init
                order.client_order_id,
                order.venue_order_id,
                quantity,
                price,
                trigger_price,
            ),
        )

    def cancel_order(self, order):
        """Send a ``CancelOrder`` of ``order`` (as ``Strategy.cancel_order``)."""
        self._bus.send(
            self._endpoint,
            self._cancel_type(  # positional: the field order of CancelOrder
                self._trader_id,
                self._strategy_id,
                order.instrument_id,
                self._time.now_c(),  # ts_init
                order.client_order_id,
                order.venue_order_id,
            ),
        )


@cython.final
cdef class SentCommand:
    """A strategy's command method: its OrderSender's own once the strategy is registered.

    Read on an instance whose ``_sender`` is set, it is that sender's method of the same name
    (no interpreter frame between the caller and the command); read on the class, or on an
    instance not registered yet, it is ``function``, the Python reference (which raises the
    "not registered" error). An attribute of the instance's own, and a subclass's method,
    are found before it, as before any method.

    Parameters
    ----------
    function : function
        The reference method; its ``__name__`` names the sender's method.
    """

    cdef readonly object function
    cdef str _name
    cdef Py_ssize_t _index              # in OrderSender._bound; -1: read by name

    def __init__(self, function):
        if not callable(function):
            raise TypeError(f"SentCommand needs a function, got {function!r}")
        self.function = function
        self._name = function.__name__
        self._index = _SENT.index(self._name) if self._name in _SENT else -1

    def __get__(self, obj, owner):
        if obj is None:
            return self.function
        sender = getattr(obj, "_sender", None)
        if sender is None:
            return self.function.__get__(obj, owner)
        if self._index >= 0 and type(sender) is OrderSender:
            return (<OrderSender>sender)._bound[self._index]
        return getattr(sender, self._name)

    def __repr__(self):
        return f"SentCommand({self._name!r})"


@cython.final
cdef class Required:
    """A read-only attribute of an actor: the value of another attribute, ``slot``.

    Reading it while ``slot`` is None raises ``owner._unregistered(what)`` (the actor's "is
    not registered" error); with ``what`` None, None is returned as any value. Setting or
    deleting it raises ``AttributeError``, as for a property without a setter.

    Parameters
    ----------
    slot : str
        The attribute read (``"_clock"``).
    what : str or None
        What the error says the actor has no value of (``"clock"``).
    doc : str, default ""
        The attribute's documentation.
    """

    cdef str _slot
    cdef object _what
    cdef str _name
    cdef readonly str doc

    def __init__(self, str slot not None, what, str doc not None=""):
        self._slot = slot
        self._what = what
        self._name = slot.lstrip("_")
        self.doc = doc

    def __set_name__(self, owner, name):
        self._name = name

    def __get__(self, obj, owner):
        if obj is None:
            return self
        value = getattr(obj, self._slot)
        if value is None and self._what is not None:
            raise obj._unregistered(self._what)
        return value

    def __set__(self, obj, value):
        raise AttributeError(
            f"property {self._name!r} of {type(obj).__name__!r} object has no setter"
        )

    def __delete__(self, obj):
        raise AttributeError(
            f"property {self._name!r} of {type(obj).__name__!r} object has no deleter"
        )

    def __repr__(self):
        return f"Required({self._slot!r}, {self._what!r})"
