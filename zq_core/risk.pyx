"""The RiskEngine's order checks on raw integers: the common case shown to pass at C speed.

``zq.risk.RiskEngine`` keeps the checks in Python, where they decide every denial and word
its reason. :class:`RiskCore` answers one question first, per command: does it pass every
check (the throttle aside)? It reads an instrument's grid and bounds, and the per-instrument
limits of the :class:`~zq.risk.RiskLimits` in force, once, into C fields; a command is then
checked against them with integer compares. ``False`` means "not shown here" (a check fails,
or the case is one only the Python checks handle: a reduce-only order, a state other than
ACTIVE, a position limit, a price band, a notional that needs Decimal arithmetic), and the
engine runs its Python checks, which then decide.

The core is also the engine's ``ENDPOINT_RISK`` handler (:meth:`RiskCore.execute`): a submit
or a modify it shows to pass, and a cancel, go on to ``ENDPOINT_EXECUTION`` from here; every other
command goes to the engine's Python dispatch.
"""

cimport cython
from libc.stdint cimport INT64_MAX, int64_t, uint8_t

from zq_core.bus cimport MessageBus
from zq_core.cache cimport CacheCore, latest_order
from zq_core.fixed cimport Price, Quantity, compare_raw_c
from zq_core.orders cimport Order
from zq_core.slots cimport read_field, slot_offset

from decimal import ROUND_FLOOR, Decimal


cdef extern from *:
    """
    #include <stdint.h>
    /* quantity x price as a raw integer at `precision` decimals, rounded half-even (the
       rounding of Instrument.notional_value). Return 1 when the result does not fit in
       int64 (or is negative: the exact path handles it), 0 with *out set otherwise. */
    static int zq_risk_notional_raw(int64_t quantity, int quantity_precision,
                                    int64_t price, int price_precision,
                                    int precision, int64_t *out) {
        __int128 product = (__int128)quantity * (__int128)price;
        int shift = quantity_precision + price_precision - precision;
        __int128 unit = 1, raw, remainder;
        int i;
        if (product < 0) return 1;
        if (shift <= 0) {
            for (i = 0; i < -shift; i++) {
                product *= 10;
                if (product > INT64_MAX) return 1;
            }
            if (product > INT64_MAX) return 1;
            *out = (int64_t)product;
            return 0;
        }
        for (i = 0; i < shift; i++) unit *= 10;
        raw = product / unit;
        remainder = product - raw * unit;
        if (2 * remainder > unit || (2 * remainder == unit && (raw & 1))) raw += 1;
        if (raw > INT64_MAX) return 1;
        *out = (int64_t)raw;
        return 0;
    }
    """
    int zq_risk_notional_raw(
        int64_t quantity, int quantity_precision, int64_t price, int price_precision,
        int precision, int64_t *out
    ) noexcept


# What an instrument's notional asks of a command (_Rules.notional).
cdef enum:
    _NOTIONAL_NONE = 0       # no bound and no limit: nothing to value
    _NOTIONAL_RAW = 1        # bounds and limit checked on the raw notional at a precision
    _NOTIONAL_EXACT = 2      # only the Python checks (Decimal, Money) can tell

# The trading states (zq.risk.TradingState values).
cdef enum:
    _ACTIVE = 1
    _REDUCING = 2
    _HALTED = 3

cdef int64_t _POW10[19]
_POW10[0] = 1
for _i in range(1, 19):
    _POW10[_i] = _POW10[_i - 1] * 10


cdef bint _rescale(int64_t raw, uint8_t precision, uint8_t to_precision, int64_t *out):
    """``raw`` at ``to_precision`` (>= ``precision``) in ``*out``; False when it leaves int64."""
    cdef int64_t factor = _POW10[to_precision - precision]
    if raw > INT64_MAX // factor or raw < -(INT64_MAX // factor):
        return False
    out[0] = raw * factor
    return True


cdef int64_t _floor_raw(object limit, int precision) except? -1:
    """The largest raw at ``precision`` not above ``limit`` (a Decimal or an int; clamped to
    int64): a raw above it is a value above the limit."""
    cdef object scaled = Decimal(limit).scaleb(precision).to_integral_value(ROUND_FLOOR)
    if scaled >= INT64_MAX:
        return INT64_MAX
    return <int64_t>int(scaled)


@cython.final
cdef class _Rules:
    """One instrument's grid, bounds and limits as C fields (internal)."""

    @staticmethod
    cdef _Rules read(object instrument, object limits):
        cdef _Rules rules = _Rules.__new__(_Rules)
        cdef Quantity size = instrument.size_increment
        cdef Price tick = instrument.price_increment
        cdef Quantity quantity
        cdef Price price
        key = instrument.id
        rules.instrument = instrument
        rules.size_raw = size.raw
        rules.size_precision = size.precision
        if instrument.min_quantity is not None:
            quantity = instrument.min_quantity
            rules.has_min_quantity = True
            rules.min_quantity_raw = quantity.raw
            rules.min_quantity_precision = quantity.precision
        if instrument.max_quantity is not None:
            quantity = instrument.max_quantity
            rules.has_max_quantity = True
            rules.max_quantity_raw = quantity.raw
            rules.max_quantity_precision = quantity.precision
        rules.tick_raw = tick.raw
        rules.tick_precision = tick.precision
        if instrument.min_price is not None:
            price = instrument.min_price
            rules.has_min_price = True
            rules.min_price_raw = price.raw
            rules.min_price_precision = price.precision
        if instrument.max_price is not None:
            price = instrument.max_price
            rules.has_max_price = True
            rules.max_price_raw = price.raw
            rules.max_price_precision = price.precision
        limit = limits.max_order_quantity.get(key)
        if limit is not None:
            rules.has_order_limit = True
            rules.order_limit_raw = _floor_raw(limit, rules.size_precision)
        rules.has_position_limit = limits.max_position.get(key) is not None
        rules._read_notional(instrument, limits.max_notional_per_order.get(key))
        return rules

    cdef int _read_notional(self, object instrument, object limit) except -1:
        low, high = instrument.min_notional, instrument.max_notional
        if low is None and high is None and limit is None:
            self.notional = _NOTIONAL_NONE
            return 0
        # The raw check holds where the notional is exactly quantity x price at the
        # settlement currency's precision (RiskEngine._integer_notional_precision).
        multiplier = instrument.multiplier
        settlement = instrument.settlement_currency
        self.notional = _NOTIONAL_EXACT
        if instrument.is_inverse or multiplier.raw != _POW10[multiplier.precision]:
            return 0
        for bound in (low, high):
            if bound is not None and (
                bound.currency.code != settlement.code or bound.precision != settlement.precision
            ):
                return 0
        self.notional = _NOTIONAL_RAW
        self.notional_precision = settlement.precision
        if low is not None:
            self.has_min_notional = True
            self.min_notional_raw = low.raw
        if high is not None:
            self.has_max_notional = True
            self.max_notional_raw = high.raw
        if limit is not None:
            self.has_notional_limit = True
            self.notional_limit_raw = _floor_raw(limit, self.notional_precision)
        return 0

    cdef bint quantity_passes(self, Quantity quantity):
        """On the size grid, within min/max quantity and max_order_quantity."""
        cdef int64_t raw = 0
        if quantity.precision > self.size_precision:
            return False
        if not _rescale(quantity.raw, quantity.precision, self.size_precision, &raw):
            return False
        if raw % self.size_raw != 0:
            return False
        if self.has_min_quantity and compare_raw_c(
            quantity.raw, quantity.precision, self.min_quantity_raw, self.min_quantity_precision
        ) < 0:
            return False
        if self.has_max_quantity and compare_raw_c(
            quantity.raw, quantity.precision, self.max_quantity_raw, self.max_quantity_precision
        ) > 0:
            return False
        return not (self.has_order_limit and raw > self.order_limit_raw)

    cdef bint price_passes(self, Price price):
        """On the tick grid, within min/max price."""
        cdef int64_t raw = 0
        if price.precision > self.tick_precision:
            return False
        if not _rescale(price.raw, price.precision, self.tick_precision, &raw):
            return False
        if raw % self.tick_raw != 0:
            return False
        if self.has_min_price and compare_raw_c(
            price.raw, price.precision, self.min_price_raw, self.min_price_precision
        ) < 0:
            return False
        return not (self.has_max_price and compare_raw_c(
            price.raw, price.precision, self.max_price_raw, self.max_price_precision
        ) > 0)

    cdef bint notional_passes(self, Quantity quantity, Price price):
        """The raw notional within the instrument's bounds and max_notional_per_order."""
        cdef int64_t raw = 0
        if zq_risk_notional_raw(
            quantity.raw, quantity.precision, price.raw, price.precision,
            self.notional_precision, &raw
        ):
            return False
        if self.has_min_notional and raw < self.min_notional_raw:
            return False
        if self.has_max_notional and raw > self.max_notional_raw:
            return False
        return not (self.has_notional_limit and raw > self.notional_limit_raw)


@cython.final
cdef class RiskCore:
    """Show that a command passes the RiskEngine's checks, on raw integers.

    Parameters
    ----------
    cache : object
        The node's cache (``order`` by client order id; ``instrument``, ``quote`` and
        ``trade`` by instrument id).
    buy : object
        ``OrderSide.BUY`` (a market buy is valued at the ask, a sell at the bid).
    trigger_valued : tuple
        The order types valued at their trigger price (stop-market, market-if-touched).
    bus : MessageBus
        Where passed commands are sent.
    endpoint : str
        The endpoint they are sent to (``ENDPOINT_EXECUTION``).
    submit_type, modify_type, cancel_type : type
        ``SubmitOrder``, ``ModifyOrder`` and ``CancelOrder``: the commands :meth:`execute`
        passes itself.
    fallback : callable
        The engine's Python dispatch: every other command, and every submit the core does
        not show to pass (it decides: passes, denies or raises).
    """

    def __init__(
        self,
        cache,
        buy,
        tuple trigger_valued not None,
        MessageBus bus not None,
        str endpoint not None,
        object submit_type,
        object modify_type,
        object cancel_type,
        fallback,
    ):
        self._bus = bus
        self._endpoint = endpoint
        self._submit_type = submit_type
        self._modify_type = modify_type
        self._cancel_type = cancel_type
        self._fallback = fallback
        # The commands' fields read at their slot offsets (the order's specification's type
        # is learnt from the first submit).
        self._submit_order_at = slot_offset(submit_type, "order")
        self._modify_id_at = slot_offset(modify_type, "client_order_id")
        self._init_type = None
        self._init_id_at = -1
        self._order = cache.order
        self._instrument = cache.instrument
        # The cache's dictionaries read directly when its look-ups are CacheCore's own.
        compiled = isinstance(cache, CacheCore)
        self._orders = (
            (<CacheCore>cache)._orders
            if compiled and type(cache).order is CacheCore.order else None
        )
        self._cache = <CacheCore>cache if self._orders is not None else None
        self._instruments = (
            (<CacheCore>cache)._instruments
            if compiled and type(cache).instrument is CacheCore.instrument else None
        )
        self._quote = cache.quote
        self._trade = cache.trade
        self._buy = buy
        self._trigger_valued = trigger_valued
        self._rules = {}
        self._state = _ACTIVE

    def set_limits(self, limits):
        """Check against ``limits`` (a RiskLimits) from the next command on."""
        self._limits = limits
        self._bypass = limits.bypass
        self._has_band = limits.max_price_deviation is not None
        self._throttled = not limits.bypass and limits.max_orders_per_interval is not None
        self._rules.clear()
        self._last_rules = None

    def set_trading_state(self, int state):
        """Take the trading state's value (1 ACTIVE, 2 REDUCING, 3 HALTED)."""
        if state < _ACTIVE or state > _HALTED:
            raise ValueError(f"unknown trading state {state}")
        self._state = state

    @cython.always_allow_keywords(False)  # METH_O: the bus calls it without parsing
    def execute(self, command):
        """Pass a submit shown to pass, or a cancel, to the endpoint; hand any other command
        to the fallback (the ``ENDPOINT_RISK`` handler)."""
        kind = type(command)
        if kind is self._submit_type:
            if not self._throttled:  # a throttled submit is recorded by the engine
                init = read_field(command, self._submit_type, self._submit_order_at, "order")
                if type(init) is not self._init_type:
                    self._init_id_at = slot_offset(type(init), "client_order_id")
                    self._init_type = type(init)
                client_order_id = read_field(
                    init, self._init_type, self._init_id_at, "client_order_id"
                )
                order = self._order_of(client_order_id)
                if isinstance(order, Order) and self.submit_passes(order):
                    self.passed_count += 1
                    self._bus.send(self._endpoint, command)
                    return
        elif kind is self._cancel_type:  # cancels always pass
            self._bus.send(self._endpoint, command)
            return
        elif kind is self._modify_type:
            client_order_id = read_field(
                command, self._modify_type, self._modify_id_at, "client_order_id"
            )
            order = self._order_of(client_order_id)
            if order is not None and self.modify_passes(
                order, command.quantity, command.price, command.trigger_price
            ):
                self._bus.send(self._endpoint, command)
                return
        self._fallback(command)

    cdef object _order_of(self, object client_order_id):
        # The cache's order: the one it added last (the usual submit: the strategy has just
        # added it), else looked up.
        if self._orders is None:
            return self._order(client_order_id)
        order = latest_order(self._cache, client_order_id)
        return order if order is not None else self._orders.get(client_order_id)

    cdef _Rules _rules_of(self, object instrument_id):
        """The instrument's rules, read again when the cache holds another instrument;
        None when the instrument is not in the cache."""
        instrument = (
            self._instruments.get(instrument_id) if self._instruments is not None
            else self._instrument(instrument_id)
        )
        if instrument is None:
            return None
        cdef _Rules rules = self._last_rules
        if rules is not None and rules.instrument is instrument:
            return rules  # read from this very instrument under the limits in force
        rules = self._rules.get(instrument_id)
        if rules is None or rules.instrument is not instrument:
            rules = _Rules.read(instrument, self._limits)
            self._rules[instrument_id] = rules
        self._last_rules = rules
        return rules

    cpdef bint submit_passes(self, Order order) except -1:
        """Whether ``order`` passes every submit check but the throttle (False: not shown
        here; the Python checks decide)."""
        if order is None:
            raise TypeError("submit_passes needs an Order, not None")
        if self._state != _ACTIVE or order.reduce_only:
            return False
        cdef _Rules rules = self._rules_of(order.instrument_id)
        if rules is None:
            return False
        if self._bypass:
            return True
        if rules.has_position_limit:
            return False
        cdef Quantity quantity = order.quantity
        if not rules.quantity_passes(quantity):
            return False
        price = order.price
        trigger_price = order.trigger_price
        if price is not None or trigger_price is not None:
            if self._has_band:
                return False
            if price is not None and not rules.price_passes(price):
                return False
            if trigger_price is not None and not rules.price_passes(trigger_price):
                return False
        if rules.notional == _NOTIONAL_NONE:
            return True
        if rules.notional == _NOTIONAL_EXACT:
            return False
        value = self._valuation_price(order, price, trigger_price)
        return value is not None and rules.notional_passes(quantity, value)

    cdef object _valuation_price(self, object order, object price, object trigger_price):
        # As RiskEngine._valuation_price.
        if price is not None:
            return price
        if order.order_type in self._trigger_valued:
            return trigger_price
        instrument_id = order.instrument_id
        quote = self._quote(instrument_id)
        if quote is not None:
            return quote.ask_price if order.side is self._buy else quote.bid_price
        trade = self._trade(instrument_id)
        return None if trade is None else trade.price

    cpdef bint modify_passes(
        self, object order, object quantity, object price, object trigger_price
    ) except -1:
        """Whether a modify of ``order`` to ``quantity`` / ``price`` / ``trigger_price``
        (each None when kept) passes every check (False: not shown here)."""
        if self._state == _HALTED:
            return False
        cdef _Rules rules = self._rules_of(order.instrument_id)
        if rules is None:
            return False
        if self._bypass:
            return True
        if quantity is not None:
            if rules.has_position_limit or not rules.quantity_passes(quantity):
                return False
        if price is not None or trigger_price is not None:
            if self._has_band:
                return False
            if price is not None and not rules.price_passes(price):
                return False
            if trigger_price is not None and not rules.price_passes(trigger_price):
                return False
        return True
