"""The message bus: publish/subscribe on dotted topics, request/response and commands.

Every zq component talks through one ``MessageBus``. Three modes share it:

- publish / subscribe: ``publish(topic, msg)`` delivers ``msg`` to every handler whose pattern
  matches the topic (``*`` any run of characters, dots included; ``?`` one character; matched over
  the whole topic), highest priority first, then in subscription order;
- request / response: ``request(endpoint, payload, callback)`` asks the one handler registered
  for the endpoint and gets exactly one ``Response``; ``await request_async(...)`` awaits it;
- command: ``send(endpoint, command)`` is fire-and-forget to the endpoint's handler.

See docs/concepts/bus.md for the semantics (re-entrancy, error policy, late responses).
"""

import asyncio
import logging
import sys

cimport cython
from cpython.dict cimport PyDict_GetItemWithError
from cpython.ref cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_FromObject

__all__ = [
    "Gate",
    "MessageBus",
    "Request",
    "Response",
    "Subscription",
    "UnknownEndpointError",
    "matches",
]


class UnknownEndpointError(LookupError):
    """No handler is registered for the endpoint of a ``send`` or ``request``."""


# Module-level bindings for names used per event or per request.
cdef object _logger = logging.getLogger("zq.bus")
cdef object _get_running_loop = asyncio.get_running_loop
cdef object _wait_for = asyncio.wait_for
cdef object _exc_info = sys.exc_info

# Request states.
cdef enum:
    _PENDING = 0
    _ANSWERED = 1
    _FAILED = 2     # the endpoint's handler raised
    _EXPIRED = 3    # request_async timed out or was cancelled


cdef inline str _made_by_the_bus(str name):
    return f"{name} objects are created by MessageBus, not directly"


# --- matching ---------------------------------------------------------------------------------

cpdef bint matches(str pattern, str topic) except -1:
    """
    Return whether ``pattern`` matches the whole of ``topic``.

    ``*`` matches any run of characters (empty, and dots included) and ``?`` exactly one
    character; every other character matches itself. There is no implicit prefix match:
    ``data.*`` matches ``data.trades.BTC`` but ``data`` does not.

    Parameters
    ----------
    pattern : str
        The subscription pattern.
    topic : str
        The concrete topic.

    Returns
    -------
    bool
    """
    if pattern is None or topic is None:
        raise TypeError("pattern and topic must be str, not None")
    # Greedy glob with backtracking to the last '*': O(len(pattern) * len(topic)) at worst,
    # linear in practice. It runs only when a topic is resolved, never per publish.
    cdef Py_ssize_t m = len(pattern)
    cdef Py_ssize_t n = len(topic)
    cdef Py_ssize_t p = 0
    cdef Py_ssize_t t = 0
    cdef Py_ssize_t star = -1
    cdef Py_ssize_t resume = 0
    cdef Py_UCS4 c
    while t < n:
        if p < m:
            c = pattern[p]
            if c == u"*":
                star = p
                p += 1
                resume = t
                continue
            if c == u"?" or c == topic[t]:
                p += 1
                t += 1
                continue
        if star < 0:
            return False
        # Let the last '*' absorb one more character and retry from there.
        p = star + 1
        resume += 1
        t = resume
    while p < m and pattern[p] == u"*":
        p += 1
    return p == m


cdef inline bint _is_wildcard(str pattern):
    return u"*" in pattern or u"?" in pattern


cdef str _exact_str(object name, str what):
    # Keys are exact str: a str subclass may hash differently (an Enum member hashes its name),
    # and would then miss the topic strings it equals.
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}: {name!r}")
    if not name:
        raise ValueError(f"{what} must be a non-empty str")
    return name if type(name) is str else PyUnicode_FromObject(name)


cdef int _check_topic(object topic) except -1:
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a str, got {type(topic).__name__}: {topic!r}")
    if not topic:
        raise ValueError("topic must be a non-empty str")
    if _is_wildcard(topic):
        raise ValueError(
            f"topic {topic!r} contains a wildcard ('*' or '?'); "
            "wildcards belong in subscription patterns, not in published topics"
        )
    return 0


cdef int _check_callable(object handler, str what) except -1:
    if not callable(handler):
        raise TypeError(f"{what} must be callable, got {type(handler).__name__}: {handler!r}")
    return 0


# --- dispatch order ---------------------------------------------------------------------------

def _dispatch_order(Subscription subscription):
    return (-subscription.priority, subscription.sequence)


def _by_sequence(Subscription subscription):
    return subscription.sequence


cdef tuple _inserted(tuple subscriptions, Subscription new):
    # ``new`` has the highest sequence so far: it goes after every subscription of higher or
    # equal priority, which keeps the tuple in dispatch order without a sort.
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t n = len(subscriptions)
    cdef Subscription other
    while i < n:
        other = <Subscription>subscriptions[i]
        if other.priority < new.priority:
            break
        i += 1
    return subscriptions[:i] + (new,) + subscriptions[i:]


cdef tuple _removed(tuple subscriptions, Subscription old):
    return tuple([other for other in subscriptions if other is not old])


# --- internal value classes -------------------------------------------------------------------

@cython.final
cdef class Subscription:
    """
    One handler subscribed to one pattern.

    Internal: created by ``MessageBus.subscribe`` and returned by ``subscriptions()`` for
    inspection. ``active`` turns false when the subscription is removed.
    """

    def __init__(self, *args, **kwargs):
        raise TypeError(_made_by_the_bus("Subscription"))

    def __repr__(self):
        return (
            f"Subscription(pattern={self.pattern!r}, handler={self.handler!r}, "
            f"priority={self.priority}, sequence={self.sequence}, active={self.active})"
        )


@cython.final
cdef class Gate:
    """
    A handler that passes each message on to ``target`` while it is ``open``.

    An actor subscribes a gate instead of a Python method that checks its own state and then
    calls the user's callback: the bus reads the flag and calls ``target`` itself, which saves
    a Python call per message. The owner opens and closes the gate as its state changes.
    Gates compare equal by identity; keep one per target.

    Parameters
    ----------
    target : callable
        Called with each message while the gate is open.
    open : bool, default False
        Whether messages pass.
    """

    def __init__(self, target, bint open=False):
        if not callable(target):
            raise TypeError(f"Gate target must be callable, got {target!r}")
        self.target = target
        self.open = open

    def __call__(self, msg):
        self.deliver(msg)

    cdef int deliver(self, object msg) except -1:
        if self.open:
            self.target(msg)
        return 0

    def __repr__(self):
        return f"Gate({self.target!r}, open={self.open})"


cdef inline int _deliver(object handler, object msg) except -1:
    # A gate's check is made here, in C; any other handler is called.
    if type(handler) is Gate:
        return (<Gate>handler).deliver(msg)
    handler(msg)
    return 0


@cython.final
@cython.freelist(32)
cdef class Response:
    """
    The one response to a request, passed to the request's callback.

    Internal: created by the bus.
    """

    def __init__(self, *args, **kwargs):
        raise TypeError(_made_by_the_bus("Response"))

    def __repr__(self):
        return (
            f"Response(correlation_id={self.correlation_id}, endpoint={self.endpoint!r}, "
            f"payload={self.payload!r})"
        )


@cython.final
@cython.freelist(32)
cdef class Request:
    """
    A request in flight, passed to the endpoint's handler.

    Internal: created by ``MessageBus.request`` and ``MessageBus.request_async``. The handler
    answers by returning a value other than None, or later by calling ``respond``.
    """

    def __init__(self, *args, **kwargs):
        raise TypeError(_made_by_the_bus("Request"))

    def respond(self, value):
        """
        Answer the request; deliver ``value`` to the requester.

        Parameters
        ----------
        value : object
            The response payload (None is a valid payload here).

        Returns
        -------
        bool
            True if delivered; False if the request had already timed out or been cancelled,
            or its handler had raised: such a late response is dropped.

        Raises
        ------
        RuntimeError
            If the request has already been answered (exactly one response per request).
        """
        if self._bus is None:                # made through Request.__new__, not by a bus
            raise TypeError(_made_by_the_bus("Request"))
        return self._bus._respond(self, value)

    @property
    def is_pending(self):
        """Whether the request still waits for its response."""
        return self._state == _PENDING

    def __repr__(self):
        states = ("pending", "answered", "failed", "expired")
        return (
            f"Request(correlation_id={self.correlation_id}, endpoint={self.endpoint!r}, "
            f"payload={self.payload!r}, state={states[self._state]!r})"
        )


# --- the bus ----------------------------------------------------------------------------------

@cython.final
cdef class MessageBus:
    """
    Route messages between components: publish/subscribe, request/response and commands.

    Parameters
    ----------
    name : str, default "MessageBus"
        A name for logs and error notes (e.g. the trader id).
    raise_errors : bool, default True
        The handler error policy. True (backtest): an exception from a handler propagates
        out of ``publish`` / ``send`` / ``request`` unchanged, with a note naming the topic or
        endpoint and the handler. False (live): the bus counts it in ``errors``, passes it to
        ``on_error`` and goes on with the remaining subscribers.
    on_error : callable, optional
        ``on_error(exc, topic_or_endpoint, handler, msg)``, called for handler exceptions when
        ``raise_errors`` is False; ``msg`` is what the handler was called with (the message,
        the command, the ``Request``, or the ``Response`` for a callback). Default: log the
        exception with its traceback to the ``"zq.bus"`` logger. Only ``Exception`` is caught,
        never ``KeyboardInterrupt`` or ``SystemExit``.
    """

    def __init__(self, *, str name="MessageBus", bint raise_errors=True, on_error=None):
        if not name:
            raise ValueError("name must be a non-empty str")
        if on_error is not None:
            if raise_errors:
                raise ValueError(
                    "on_error is called only when raise_errors=False; "
                    "with raise_errors=True handler exceptions propagate"
                )
            _check_callable(on_error, "on_error")
        self.name = name
        self.raise_errors = raise_errors
        self._on_error = on_error
        self._cache = {}
        self._by_pattern = {}
        self._wildcards = []
        self._endpoints = {}

    def __repr__(self):
        return (
            f"MessageBus(name={self.name!r}, raise_errors={self.raise_errors}, "
            f"subscriptions={len(self.subscriptions())}, endpoints={len(self._endpoints)}, "
            f"cached_topics={len(self._cache)})"
        )

    # --- publish / subscribe ----------------------------------------------------------------

    def subscribe(self, pattern, handler, priority=0):
        """
        Subscribe ``handler`` to every topic ``pattern`` matches.

        Parameters
        ----------
        pattern : str
            A topic, or a pattern with ``*`` (any run of characters, dots included) and ``?``
            (one character), matched over the whole topic.
        handler : callable
            Called as ``handler(msg)`` for each matching publish.
        priority : int, default 0
            Higher priorities receive a message first; equal priorities go in subscription
            order.

        Raises
        ------
        ValueError
            If ``handler`` is already subscribed to ``pattern`` (unsubscribe it first to
            change its priority).

        Notes
        -----
        Subscribing from inside a handler is safe: the new subscriber first receives the
        next publish, not the rest of the current dispatch.
        """
        pattern = _exact_str(pattern, "pattern")
        _check_callable(handler, "handler")
        if not isinstance(priority, int):
            raise TypeError(
                f"priority must be an int, got {type(priority).__name__}: {priority!r}"
            )
        cdef list same_pattern = self._by_pattern.get(pattern)
        cdef Subscription existing
        if same_pattern is not None:
            for existing in same_pattern:
                if existing.handler is handler or existing.handler == handler:
                    raise ValueError(
                        f"handler {handler!r} is already subscribed to pattern {pattern!r} "
                        f"(priority {existing.priority})"
                    )
        self._sequence += 1
        self.version += 1
        cdef Subscription subscription = Subscription.__new__(Subscription)
        subscription.pattern = pattern
        subscription.handler = handler
        subscription.priority = priority
        subscription.sequence = self._sequence
        subscription.is_wildcard = _is_wildcard(pattern)
        subscription.active = True
        if same_pattern is None:
            self._by_pattern[pattern] = [subscription]
        else:
            same_pattern.append(subscription)

        # Update the cache in place of dropping it: an exact pattern touches only its own
        # topic; a wildcard is matched against the cached topics.
        cdef tuple cached
        cdef list updates
        if subscription.is_wildcard:
            self._wildcards.append(subscription)
            updates = [
                (topic, _inserted(<tuple>cached, subscription))
                for topic, cached in self._cache.items()
                if matches(pattern, topic)
            ]
            for topic, cached in updates:
                self._cache[topic] = cached
        else:
            cached = self._cache.get(pattern)
            if cached is not None:
                self._cache[pattern] = _inserted(cached, subscription)

    def unsubscribe(self, pattern, handler):
        """
        Remove the subscription of ``handler`` to ``pattern``.

        Raises
        ------
        ValueError
            If ``handler`` is not subscribed to ``pattern``.

        Notes
        -----
        Unsubscribing from inside a handler is safe, and immediate: the removed handler
        receives nothing more, not even the rest of the current dispatch.
        """
        pattern = _exact_str(pattern, "pattern")
        cdef list same_pattern = self._by_pattern.get(pattern)
        cdef Subscription subscription = None
        cdef Subscription candidate
        cdef Py_ssize_t i
        if same_pattern is not None:
            for i in range(len(same_pattern)):
                candidate = <Subscription>same_pattern[i]
                if candidate.handler is handler or candidate.handler == handler:
                    subscription = candidate
                    del same_pattern[i]
                    break
        if subscription is None:
            raise ValueError(f"handler {handler!r} is not subscribed to pattern {pattern!r}")
        if not same_pattern:
            del self._by_pattern[pattern]
        subscription.active = False
        self.version += 1

        cdef tuple cached
        cdef list updates
        if subscription.is_wildcard:
            self._wildcards.remove(subscription)
            updates = [
                (topic, _removed(<tuple>cached, subscription))
                for topic, cached in self._cache.items()
                if subscription in <tuple>cached
            ]
            for topic, cached in updates:
                self._cache[topic] = cached
        else:
            cached = self._cache.get(pattern)
            if cached is not None:
                self._cache[pattern] = _removed(cached, subscription)

    def is_subscribed(self, pattern, handler):
        """Return whether ``handler`` is subscribed to exactly ``pattern``."""
        pattern = _exact_str(pattern, "pattern")
        cdef list same_pattern = self._by_pattern.get(pattern)
        cdef Subscription subscription
        if same_pattern is not None:
            for subscription in same_pattern:
                if subscription.handler is handler or subscription.handler == handler:
                    return True
        return False

    def bump_version(self):
        """
        Bump ``version`` without a subscription change.

        A component whose answers depend on more than the bus's subscriptions (the data
        engine's stream subscriptions) calls it when those change, so that a reader keyed
        on ``version`` (the backtest replay loop) asks again.
        """
        self.version += 1

    def subscriptions(self, pattern=None):
        """
        Return the subscriptions, in subscription order.

        Parameters
        ----------
        pattern : str, optional
            Only the subscriptions made with exactly this pattern (not every pattern that
            would match it). Default: all of them.

        Returns
        -------
        tuple[Subscription, ...]
        """
        if pattern is not None:
            pattern = _exact_str(pattern, "pattern")
            return tuple(self._by_pattern.get(pattern, ()))
        everything = [s for same_pattern in self._by_pattern.values() for s in same_pattern]
        everything.sort(key=_by_sequence)
        return tuple(everything)

    def subscribers(self, str topic):
        """
        Return the subscriptions that receive ``topic``, in dispatch order.

        This resolves the topic (and caches it) exactly like ``publish`` does.
        """
        return self._lookup(topic)

    def has_subscribers(self, str topic):
        """
        Return whether a publish on ``topic`` would reach any handler.

        This resolves the topic (and caches it) exactly like ``publish`` does.
        """
        return len(self._lookup(topic)) > 0

    def topics(self):
        """Return the topics whose subscribers are cached, sorted."""
        return tuple(sorted(self._cache))

    def clear_cache(self):
        """Drop every cached topic resolution (subscriptions are kept)."""
        self._cache.clear()

    cdef tuple _lookup(self, str topic):
        cdef PyObject* cached = PyDict_GetItemWithError(self._cache, topic)
        if cached is NULL:
            return self._resolve(topic)
        return <tuple>cached

    cdef tuple _resolve(self, str topic):
        _check_topic(topic)
        cdef list matched
        cdef list exact = self._by_pattern.get(topic)
        matched = [] if exact is None else list(exact)
        cdef Subscription subscription
        for subscription in self._wildcards:
            if matches(subscription.pattern, topic):
                matched.append(subscription)
        if len(matched) > 1:
            matched.sort(key=_dispatch_order)
        cdef tuple resolved = tuple(matched)
        self._cache[topic] = resolved
        self.resolutions += 1
        return resolved

    cpdef publish(self, str topic, object msg):
        """
        Publish ``msg`` on ``topic`` to every matching subscriber.

        Parameters
        ----------
        topic : str
            A concrete dotted topic (no wildcards), e.g. ``"data.trades.BINANCE.BTCUSDT"``.
        msg : object
            Passed as is to each handler.

        Notes
        -----
        Handlers run synchronously, in dispatch order, before ``publish`` returns. A handler
        may publish (nested publish), subscribe or unsubscribe.
        """
        # Hot path: one dict lookup (borrowed reference, no exception on a miss), then a walk
        # over the cached tuple.
        cdef PyObject* cached = PyDict_GetItemWithError(self._cache, topic)
        cdef tuple subscriptions
        if cached is NULL:
            subscriptions = self._resolve(topic)
        else:
            subscriptions = <tuple>cached
        self.published += 1
        if PyTuple_GET_SIZE(subscriptions):
            self._dispatch(subscriptions, topic, msg)

    cdef int _dispatch(self, tuple subscriptions, str topic, object msg) except -1:
        if not self.raise_errors:
            return self._dispatch_isolated(subscriptions, topic, msg)
        cdef Py_ssize_t i = 0
        cdef Py_ssize_t n = PyTuple_GET_SIZE(subscriptions)
        cdef Subscription subscription = None
        # try/finally rather than try/except: Cython's finally costs nothing until an exception
        # passes through it, while try/except saves the exception state on every entry.
        try:
            while i < n:
                # The tuple holds Subscription objects only (the bus builds it) and 0 <= i < n:
                # the unchecked cast and item access are safe.
                subscription = <Subscription>PyTuple_GET_ITEM(subscriptions, i)
                i += 1
                if subscription.active:
                    _deliver(subscription.handler, msg)
            subscription = None
        finally:
            if subscription is not None:
                # A handler raised: its exception is the one being handled here. Name the
                # handler and the topic on it; the exception itself propagates unchanged.
                exc = _exc_info()[1]
                if exc is not None:
                    exc.add_note(
                        f"zq.bus {self.name!r}: raised by handler {subscription.handler!r} "
                        f"for topic {topic!r}"
                    )
        return 0

    cdef int _dispatch_isolated(self, tuple subscriptions, str topic, object msg) except -1:
        # Live policy. One try block around the whole walk, not one per handler: after a
        # caught exception the outer loop re-enters the try at the next subscriber.
        cdef Py_ssize_t i = 0
        cdef Py_ssize_t n = PyTuple_GET_SIZE(subscriptions)
        cdef Subscription subscription = None
        while i < n:
            try:
                while i < n:
                    subscription = <Subscription>PyTuple_GET_ITEM(subscriptions, i)
                    i += 1
                    if subscription.active:
                        _deliver(subscription.handler, msg)
                return 0
            except Exception as exc:
                self._report(exc, topic, subscription.handler, msg)
        return 0

    cdef int _report(self, BaseException exc, str where, object handler, object msg) except -1:
        self.errors += 1
        if self._on_error is not None:
            self._on_error(exc, where, handler, msg)
        else:
            _logger.error(
                "bus %r: handler %r raised %s for %r (message of type %s)",
                self.name,
                handler,
                type(exc).__name__,
                where,
                type(msg).__name__,
                exc_info=exc,
            )
        return 0

    # --- endpoints, commands, requests ------------------------------------------------------

    def register(self, endpoint, handler):
        """
        Register ``handler`` as the one handler of ``endpoint``.

        The handler receives the commands sent to the endpoint, ``handler(command)``, and the
        requests made to it, ``handler(request)``.

        Raises
        ------
        ValueError
            If the endpoint already has a handler.
        """
        endpoint = _exact_str(endpoint, "endpoint")
        _check_callable(handler, "handler")
        existing = self._endpoints.get(endpoint)
        if existing is not None:
            raise ValueError(
                f"endpoint {endpoint!r} is already registered (to {existing!r}); "
                "deregister it first"
            )
        self._endpoints[endpoint] = handler

    def deregister(self, endpoint):
        """
        Remove the handler of ``endpoint``.

        Requests already in flight to it can still be answered.

        Raises
        ------
        UnknownEndpointError
            If no handler is registered for ``endpoint``.
        """
        endpoint = _exact_str(endpoint, "endpoint")
        if endpoint not in self._endpoints:
            raise self._unknown_endpoint(endpoint)
        del self._endpoints[endpoint]

    def is_registered(self, endpoint):
        """Return whether a handler is registered for ``endpoint``."""
        endpoint = _exact_str(endpoint, "endpoint")
        return endpoint in self._endpoints

    def endpoints(self):
        """Return the registered endpoints, sorted."""
        return tuple(sorted(self._endpoints))

    @property
    def pending_requests(self):
        """The number of requests waiting for their response."""
        return self._pending

    cdef object _unknown_endpoint(self, object endpoint):
        endpoint = _exact_str(endpoint, "endpoint")
        import difflib

        registered = sorted(self._endpoints)
        close = difflib.get_close_matches(endpoint, registered, n=3)
        if close:
            hint = "did you mean " + " or ".join(repr(name) for name in close) + "?"
        elif registered:
            hint = "registered endpoints: " + ", ".join(repr(name) for name in registered)
        else:
            hint = "no endpoints are registered"
        return UnknownEndpointError(f"no handler is registered for endpoint {endpoint!r}; {hint}")

    cpdef send(self, str endpoint, object command):
        """
        Send ``command`` to the handler of ``endpoint`` (fire-and-forget).

        Raises
        ------
        UnknownEndpointError
            If no handler is registered for ``endpoint``.
        """
        cdef PyObject* registered = PyDict_GetItemWithError(self._endpoints, endpoint)
        if registered is NULL:
            raise self._unknown_endpoint(endpoint)
        cdef object handler = <object>registered
        self.sent += 1
        try:
            handler(command)
        except Exception as exc:
            if self.raise_errors:
                exc.add_note(
                    f"zq.bus {self.name!r}: raised by handler {handler!r} "
                    f"for endpoint {endpoint!r}"
                )
                raise
            self._report(exc, endpoint, handler, command)

    cpdef request(self, str endpoint, object payload, object callback):
        """
        Send a request to the handler of ``endpoint``; deliver its response to ``callback``.

        The handler is called as ``handler(request)``. It answers at once by returning a value
        other than None, or later by calling ``request.respond(value)``. ``callback(response)``
        receives exactly one ``Response``.

        Parameters
        ----------
        endpoint : str
            A registered endpoint.
        payload : object
            Carried by the request as ``request.payload``.
        callback : callable
            Called once with the ``Response``.

        Returns
        -------
        int
            The request's correlation id (1, 2, 3... per bus).

        Raises
        ------
        UnknownEndpointError
            If no handler is registered for ``endpoint``.
        """
        cdef PyObject* registered = PyDict_GetItemWithError(self._endpoints, endpoint)
        if registered is NULL:
            raise self._unknown_endpoint(endpoint)
        _check_callable(callback, "callback")
        cdef Request request = self._new_request(endpoint, payload, callback, None)
        self._call_endpoint(<object>registered, request)
        return request.correlation_id

    async def request_async(self, str endpoint, object payload, timeout=None):
        """
        Send a request to the handler of ``endpoint`` and await its response payload.

        Parameters
        ----------
        endpoint : str
            A registered endpoint.
        payload : object
            Carried by the request as ``request.payload``.
        timeout : float, optional
            Seconds to wait for the response. Default: wait without limit.

        Returns
        -------
        object
            The response payload.

        Raises
        ------
        UnknownEndpointError
            If no handler is registered for ``endpoint``.
        TimeoutError
            If no response arrives within ``timeout``. The request then expires: a later
            ``request.respond(...)`` is dropped and returns False.

        Notes
        -----
        The response is a future on the running loop, resolved at once when the handler
        answers at once. An exception from the handler is raised here, whatever the error
        policy (with ``raise_errors=False`` it is also counted and passed to ``on_error``).
        """
        handler = self._endpoints.get(endpoint)
        if handler is None:
            raise self._unknown_endpoint(endpoint)
        future = _get_running_loop().create_future()
        request = self._new_request(endpoint, payload, None, future)
        self._call_endpoint(handler, request)
        if future.done():
            return future.result()
        try:
            if timeout is None:
                return await future
            return await _wait_for(future, timeout)
        finally:
            self._expire(request)

    cdef Request _new_request(self, str endpoint, object payload, object callback, object future):
        self._correlation_id += 1
        cdef Request request = Request.__new__(Request)
        request.correlation_id = self._correlation_id
        request.endpoint = endpoint
        request.payload = payload
        request._bus = self
        request._callback = callback
        request._future = future
        request._state = _PENDING
        self._pending += 1
        self.requests += 1
        return request

    cdef int _call_endpoint(self, object handler, Request request) except -1:
        cdef object result
        try:
            result = handler(request)
            if result is not None and request._state == _ANSWERED:
                raise RuntimeError(
                    f"request {request.correlation_id} to endpoint {request.endpoint!r} was "
                    "answered twice: by request.respond() and by the handler's return value"
                )
        except Exception as exc:
            if request._state == _PENDING:
                request._state = _FAILED
                self._pending -= 1
            if self.raise_errors:
                exc.add_note(
                    f"zq.bus {self.name!r}: raised by handler {handler!r} "
                    f"for endpoint {request.endpoint!r} (request {request.correlation_id})"
                )
                raise
            self._report(exc, request.endpoint, handler, request)
            # An awaiting requester would otherwise wait forever: it receives the exception.
            if request._future is not None and not request._future.done():
                request._future.set_exception(exc)
            return 0
        if result is not None:
            self._respond(request, result)
        return 0

    cdef bint _respond(self, Request request, object value) except -1:
        if request._state == _ANSWERED:
            raise RuntimeError(
                f"request {request.correlation_id} to endpoint {request.endpoint!r} has "
                "already been answered; a request gets exactly one response"
            )
        if request._state != _PENDING:
            return False                    # failed or expired: the late response is dropped
        future = request._future
        if future is not None and future.done():
            # Timed out or cancelled, and request_async has not cleaned up yet.
            self._expire(request)
            return False
        request._state = _ANSWERED
        self._pending -= 1
        self.responses += 1
        if future is not None:
            request._future = None
            future.set_result(value)
            return True
        callback = request._callback
        request._callback = None
        cdef Response response = Response.__new__(Response)
        response.correlation_id = request.correlation_id
        response.endpoint = request.endpoint
        response.payload = value
        try:
            callback(response)
        except Exception as exc:
            if self.raise_errors:
                exc.add_note(
                    f"zq.bus {self.name!r}: raised by response callback {callback!r} "
                    f"for endpoint {request.endpoint!r} (request {request.correlation_id})"
                )
                raise
            self._report(exc, request.endpoint, callback, response)
        return True

    cdef int _expire(self, Request request) except -1:
        if request._state == _PENDING:
            request._state = _EXPIRED
            self._pending -= 1
        request._future = None
        return 0
