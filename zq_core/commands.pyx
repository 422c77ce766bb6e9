"""The ExecutionEngine's submit path in C: the order put in flight, then handed to its client.

``zq.execution.ExecutionEngine`` registers :meth:`SubmitPath.execute` as its
``ENDPOINT_EXECUTION`` handler (unless a subclass overrides ``execute`` or ``_submit``). A
``SubmitOrder`` for a cached order whose instrument has a client is carried out here, as
``ExecutionEngine._submit`` does it: the position id remembered, ``OrderSubmitted`` applied
through the engine's ``_apply_local`` (the order is in flight in the cache, and the event
published, before the client is called), then the client's ``submit_order``; a client that
raises is handed to the engine's ``_submit_failed``. Every other command, and a submit this
path cannot carry out (an order not cached, an instrument without a client yet routed or
without one at all), goes to the engine's Python ``execute``.
"""

cimport cython


@cython.final
cdef class SubmitPath:
    """Carry out the usual ``SubmitOrder`` in C; hand the rest to ``fallback``.

    Parameters
    ----------
    engine : ExecutionEngine
        Read once: its cache's ``order``, its ``clock``, its instrument routes and position
        ids (the dictionaries themselves, which the engine keeps), its ``_apply_local`` and
        ``_submit_failed``.
    submit_type, submitted_type : type
        ``SubmitOrder`` and ``OrderSubmitted`` (zq_core does not import zq).
    fallback : callable
        The engine's Python ``execute``.
    """

    def __init__(self, engine, submit_type, submitted_type, fallback):
        self._submit_type = submit_type
        self._submitted_type = submitted_type
        self._fallback = fallback
        self._order = engine.cache.order
        self._now = engine.clock.timestamp_ns
        self._routes = engine._instrument_routes
        self._position_ids = engine._position_ids
        self._apply_local = engine._apply_local
        self._submit_failed = engine._submit_failed

    def execute(self, command):
        """Carry out ``command`` (the ``ENDPOINT_EXECUTION`` handler)."""
        if type(command) is not self._submit_type:
            self._fallback(command)
            return
        order = self._order(command.order.client_order_id)
        if order is None:
            self._fallback(command)
            return
        instrument_id = order.instrument_id
        client = self._routes.get(instrument_id)
        if client is None:  # not routed yet, or no client: the engine routes or denies
            self._fallback(command)
            return
        client_order_id = order.client_order_id
        position_id = command.position_id
        if position_id is None:
            position_id = order.position_id
        if position_id is not None:
            self._position_ids[client_order_id] = position_id
        now = self._now()
        # Pre-submission tracking: in flight in the cache before the client sees it.
        if not self._apply_local(
            order,
            self._submitted_type(  # positional: the field order of OrderSubmitted
                order.trader_id,
                order.strategy_id,
                instrument_id,
                client_order_id,
                now,  # ts_event
                now,  # ts_init
                client.account_id,
            ),
        ):
            return
        try:
            client.submit_order(command)
        except Exception as exc:
            self._submit_failed(client, order, exc)
