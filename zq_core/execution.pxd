# The contract of zq_core.execution: the compiled event path of zq's ExecutionEngine.
#
# zq.execution.ExecutionEngine subclasses ExecutionCore (and Component). The core applies
# the venues' events to the orders, re-indexes them in the cache and publishes them; the
# Python class keeps the commands, the clients and the error reports (``_report``).

from libc.stdint cimport uint64_t

from zq_core.bus cimport MessageBus
from zq_core.cache cimport CacheCore
from zq_core.orders cimport Order


cdef class TopicRoute:
    # The latest topic published on, its subscribers as the bus resolved them and the bus's
    # version then: published again without the bus's look-up while the version (bumped by
    # every subscribe and unsubscribe) is the same.
    cdef str topic
    cdef tuple subscribers
    cdef uint64_t version

    cdef int publish(self, MessageBus bus, str topic, object event) except -1


cdef class ExecutionCore:
    # -- what the engine was built with -----------------------------------------------------
    cdef public CacheCore cache
    cdef public MessageBus bus
    cdef public object portfolio          # PortfolioLike: process_fill(fill, instrument)

    # -- refused events and commands, counted (see ExecutionEngine) -------------------------
    cdef public Py_ssize_t duplicate_fills
    cdef public Py_ssize_t overfills
    cdef public Py_ssize_t unknown_events
    cdef public Py_ssize_t invalid_events
    cdef public Py_ssize_t client_errors
    cdef public Py_ssize_t portfolio_errors

    # -- position ids -----------------------------------------------------------------------
    # (instrument id, strategy id) -> the netting PositionId, filled on first use
    cdef public dict _netting_ids
    # client order id -> the PositionId the order was submitted for (hedging)
    cdef public dict _position_ids
    # The latest netting fill's instrument and strategy ids (by identity) and its netting
    # PositionId: the next fill of the pair skips the look-up (forgotten with _netting_ids,
    # see _forget_position_ids)
    cdef object _last_instrument_id
    cdef object _last_strategy_id
    cdef object _last_position_id

    # strategy id -> its order / position events topic (the zq.common.topics strings)
    cdef dict _order_topics
    cdef dict _position_topics
    # the latest strategy id asked (by identity) and its topic, per kind
    cdef object _order_topic_id
    cdef str _last_order_topic
    cdef object _position_topic_id
    cdef str _last_position_topic
    # the latest portfolio class found not to override PortfolioCore.process_fill
    cdef object _plain_portfolio
    # Per kind, the subscribers the bus resolved last for the topic published on
    cdef TopicRoute _order_route
    cdef TopicRoute _position_route

    # The event path. ``_apply_venue`` is cpdef: a Python subclass that overrides it (the
    # journal does) is still called from here.
    cpdef process(self, object event)
    cpdef bint _apply_venue(self, Order order, object event) except -1
    cdef int _process_fill(self, Order order, object fill) except -1
    # An event the engine made itself (submitted, pending, denied, rejected): the base
    # _apply_venue, whatever a subclass made of _apply_venue (a subclass hooks both names).
    cpdef bint _apply_local(self, Order order, object event) except -1
    cdef str _order_topic_of(self, object strategy_id)
    cdef str _position_topic_of(self, object strategy_id)
    # bus.publish(topic, event) on an order / a position events topic
