# The contract of zq_core.orders: the compiled Order and its state machine.
#
# zq.model.orders registers the Python types an order hands out and takes in (OrderStatus
# members, the event classes, the state table, the exceptions) at import; zq_core never
# imports zq. The engines and the cache cimport Order to read the status code and the raw
# quantities directly and to apply events without a Python call.

from zq_core.fixed cimport Quantity


# The order status codes are the OrderStatus values (1..12); ``Order._status`` holds one.
cdef enum:
    STATUS_COUNT = 16       # room for every OrderStatus value (0 is unused)


cdef class Order:
    # -- the specification (from OrderInitialized, never changed) ---------------------------
    cdef readonly object init              # OrderInitialized
    cdef readonly object trader_id
    cdef readonly object strategy_id
    cdef readonly object instrument_id
    cdef readonly object client_order_id
    cdef readonly object order_list_id     # OrderListId | None
    cdef readonly object side              # OrderSide
    cdef readonly object trigger_type      # TriggerType
    cdef readonly object time_in_force     # TimeInForce
    cdef readonly object expire_time_ns    # int | None
    cdef readonly bint post_only
    cdef readonly bint reduce_only
    cdef readonly object display_quantity  # Quantity | None
    cdef readonly tuple tags
    cdef readonly object ts_init           # int

    # -- the state, changed only by apply ----------------------------------------------------
    cdef readonly object status            # the OrderStatus member of _status
    cdef int _status                       # OrderStatus value
    cdef int _previous_status              # the status before a pending update / cancel
    cdef readonly object venue_order_id    # VenueOrderId | None
    cdef readonly object account_id        # AccountId | None
    cdef readonly object position_id       # PositionId | None
    cdef readonly Quantity quantity
    cdef readonly Quantity filled_qty
    cdef readonly Quantity leaves_qty
    cdef readonly object price             # Price | None
    cdef readonly object trigger_price     # Price | None
    cdef readonly object liquidity_side    # LiquiditySide
    cdef readonly bint is_triggered
    # The fills' trade ids and commissions per currency code are made when first read (the
    # ``trade_ids`` and ``commissions`` properties) and kept up to date from then on; until
    # then a fill changes neither (most orders fill once and are never asked). _trade_ids
    # is also made at a second fill (the duplicate check: see has_trade).
    cdef set _trade_ids                    # TradeId, or None
    cdef readonly object last_trade_id     # TradeId | None
    cdef dict _commissions                 # currency code -> Money, or None
    cdef readonly list events              # OrderEvent, the first is ``init``
    cdef readonly object ts_last           # int: ts_event of the last event applied

    # Apply one event (Order.apply without the Python call): raises as apply does, the
    # order unchanged.
    cdef int _apply(self, object event) except -1
    # ``at``: the slot offsets of the event's kind (see orders.pyx).
    cdef int _apply_fill(self, object fill, Py_ssize_t* at) except -1
    cdef int _apply_fields(self, object event, int fields, Py_ssize_t* at) except -1
    cdef int _set_status(self, int status) except -1


# The status sets of zq.model.orders as bit masks over the status codes (bit = 1 << code).
cdef unsigned int open_mask() noexcept
cdef unsigned int inflight_mask() noexcept
cdef unsigned int closed_mask() noexcept

# What zq.model.orders registered, for the engines: the OrderFilled type and the exceptions
# apply raises ``(InvalidStateTransition, OverfillError, DuplicateFillError)``.
cdef object filled_type()
cdef tuple apply_errors()
# Whether a fill of ``trade_id`` was applied to ``order`` (``trade_id in order.trade_ids``
# without making the set).
cdef bint has_trade(Order order, object trade_id) except -1
# event.client_order_id, read at its slot for an order event type of the table (by name for
# anything else).
cdef object event_client_order_id(object event)
