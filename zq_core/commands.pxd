# The contract of zq_core.commands: the ExecutionEngine's command path, compiled.

cimport cython

from zq_core.cache cimport CacheCore
from zq_core.execution cimport ExecutionCore
from zq_core.time_source cimport TimeSource


@cython.final
cdef class CommandPath:
    # SubmitOrder, OrderSubmitted, ModifyOrder, OrderPendingUpdate, CancelOrder,
    # OrderPendingCancel
    cdef object _submit_type
    cdef object _submitted_type
    cdef object _modify_type
    cdef object _pending_update_type
    cdef object _cancel_type
    cdef object _pending_cancel_type
    cdef dict _state_table              # ORDER_STATE_TABLE
    # Slot offsets of the fields read: SubmitOrder.order and .position_id, ModifyOrder's and
    # CancelOrder's client_order_id, and the order specification's (OrderInitialized, its
    # type learnt from the first submit).
    cdef Py_ssize_t _submit_order_at
    cdef Py_ssize_t _submit_position_at
    cdef Py_ssize_t _modify_id_at
    cdef Py_ssize_t _cancel_id_at
    cdef object _init_type
    cdef Py_ssize_t _init_id_at
    cdef object _fallback
    cdef object _order                  # the cache's order by client order id (bound)
    cdef dict _orders                   # the cache's orders, when its order() only reads them
    cdef CacheCore _cache               # the cache then (its latest order is read first)
    cdef TimeSource _time               # the engine's clock
    cdef dict _routes                   # InstrumentId -> ExecutionClient | None
    cdef dict _position_ids             # ClientOrderId -> PositionId
    cdef object _apply_local            # the engine's (a subclass's hook included)
    cdef ExecutionCore _engine          # the engine, if an ExecutionCore: _apply_local in C
    cdef object _submit_failed
    cdef object _pending_failed

    cdef object _cached_order(self, object client_order_id)
    cdef int _submit(self, object command) except -1
    # kind: OrderPendingUpdate (modify) or OrderPendingCancel
    cdef int _pending(self, object command, object kind, bint modify) except -1
