# The contract of zq_core.commands: the ExecutionEngine's submit path, compiled.

cimport cython


@cython.final
cdef class SubmitPath:
    cdef object _submit_type
    cdef object _submitted_type
    cdef object _fallback
    cdef object _order                  # the cache's order by client order id (bound)
    cdef object _now                    # the clock's timestamp_ns (bound)
    cdef dict _routes                   # InstrumentId -> ExecutionClient | None
    cdef dict _position_ids             # ClientOrderId -> PositionId
    cdef object _apply_local            # the engine's (a subclass's hook included)
    cdef object _submit_failed
