# The MessageBus contract: typed fields and the C-level entry points other zq_core modules
# (data engine, matching) cimport and call without going through Python attribute lookup.
#
#     from zq_core.bus cimport MessageBus
#     cdef MessageBus bus = ...
#     bus.publish(topic, trade)       # C call: no method lookup, no argument tuple

cimport cython
from libc.stdint cimport uint64_t

cdef class MessageBus


# --- publish / subscribe ----------------------------------------------------------------------

@cython.final
cdef class Subscription:
    """One handler subscribed to one pattern. Internal: made by ``MessageBus.subscribe``."""
    cdef readonly str pattern
    cdef readonly object handler
    cdef readonly long priority
    # Per-bus subscription order, the tie break between equal priorities.
    cdef readonly uint64_t sequence
    cdef readonly bint is_wildcard
    # Cleared by unsubscribe. Dispatch skips an inactive subscription even inside the
    # snapshot it is already iterating, so a removed handler receives nothing more.
    cdef readonly bint active


@cython.final
cdef class Gate:
    """A handler that passes each message to ``target`` while it is ``open``."""
    cdef readonly object target
    cdef public bint open

    cdef int deliver(self, object msg) except -1


# --- request / response -----------------------------------------------------------------------

@cython.final
cdef class Response:
    """The one answer to a request. Internal: made by the bus, passed to the callback."""
    cdef readonly uint64_t correlation_id
    cdef readonly str endpoint
    cdef readonly object payload


@cython.final
cdef class Request:
    """A request in flight. Internal: made by ``MessageBus.request`` / ``request_async``."""
    cdef readonly uint64_t correlation_id
    cdef readonly str endpoint
    cdef readonly object payload
    cdef MessageBus _bus
    # Exactly one of the two is set: a callback (``request``) or a future (``request_async``).
    cdef object _callback
    cdef object _future
    cdef int _state                     # _PENDING, _ANSWERED, _FAILED or _EXPIRED (bus.pyx)


# --- the bus ----------------------------------------------------------------------------------

@cython.final
cdef class MessageBus:
    cdef readonly str name
    cdef readonly bint raise_errors
    cdef object _on_error               # None: log to the "zq.bus" logger

    # Subscriptions. The cache maps a concrete topic to its subscribers in dispatch order
    # (priority descending, then sequence) as an immutable tuple, empty tuples included.
    # Entries are replaced, never mutated, so a dispatch iterates a snapshot.
    cdef dict _cache                    # topic -> tuple[Subscription, ...]
    cdef dict _by_pattern               # pattern -> list[Subscription], subscription order
    cdef list _wildcards                # subscriptions whose pattern has '*' or '?'
    cdef uint64_t _sequence

    # Endpoints and requests.
    cdef dict _endpoints                # endpoint -> handler
    # Requests neither answered, failed nor expired. A counter, not a registry: the bus keeps
    # no reference to a request, so one its handler drops is not kept alive here.
    cdef Py_ssize_t _pending
    cdef uint64_t _correlation_id       # last id handed out; ids start at 1

    # Counters (read-only from Python).
    cdef readonly uint64_t published
    cdef readonly uint64_t sent
    cdef readonly uint64_t requests
    cdef readonly uint64_t responses
    cdef readonly uint64_t errors
    cdef readonly uint64_t resolutions  # full topic resolutions (cache misses)
    # Bumped by every subscribe and unsubscribe (and bump_version): a reader that cached
    # routes re-resolves.
    cdef readonly uint64_t version

    # Hot paths, callable from Python and at C speed from cimporting modules.
    cpdef publish(self, str topic, object msg)
    cpdef send(self, str endpoint, object command)
    cpdef request(self, str endpoint, object payload, object callback)

    # Internals.
    cdef tuple _lookup(self, str topic)
    cdef tuple _resolve(self, str topic)
    cdef int _dispatch(self, tuple subscriptions, str topic, object msg) except -1
    cdef int _dispatch_isolated(self, tuple subscriptions, str topic, object msg) except -1
    cdef Request _new_request(self, str endpoint, object payload, object callback, object future)
    cdef int _call_endpoint(self, object handler, Request request) except -1
    cdef bint _respond(self, Request request, object value) except -1
    cdef int _expire(self, Request request) except -1
    cdef int _report(self, BaseException exc, str where, object handler, object msg) except -1
    cdef object _unknown_endpoint(self, object endpoint)


cpdef bint matches(str pattern, str topic) except -1
