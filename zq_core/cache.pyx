"""The compiled core of the Cache: hot lookups by identifier at C call speed.

A Python-level method call costs about as much as the whole lookup budget (100 ns), so the
lookups strategies and engines make per event live here, with the order indices the engines
update after every order event (``add_order``, ``update_order``, typed against the compiled
``Order``); ``zq.cache.Cache`` subclasses this class and keeps the rest in Python.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING
from cpython.dict cimport PyDict_SetDefault

from zq_core.orders cimport Order

_EMPTY = {}

# The status indices as bits of a move (see CacheCore._moves); at most 2**3 categories.
cdef enum:
    _OPEN = 1
    _CLOSED = 2
    _INFLIGHT = 4
    _CATEGORIES = 8


cdef class CacheCore:
    """Dictionaries of instruments, orders, positions, accounts and latest market data."""

    def __cinit__(self):
        self._instruments = {}
        self._orders = {}
        self._positions = {}
        self._accounts = {}
        self._quotes = {}
        self._trades = {}
        self._bars = {}
        self._venue_order_ids = {}
        self._client_order_ids = {}
        self._stale_quotes = {}
        self._stale_trades = {}
        self._stale_bars = {}

    def __dealloc__(self):
        _forget_latest(self)  # a cache made later at the same address is another cache

    def order(self, client_order_id):
        """Return the order with ``client_order_id``, or None."""
        return self._orders.get(client_order_id)

    def instrument(self, instrument_id):
        """Return the instrument with ``instrument_id``, or None."""
        return self._instruments.get(instrument_id)

    def position(self, position_id):
        """Return the position with ``position_id``, or None."""
        return self._positions.get(position_id)

    def account(self, account_id):
        """Return the account with ``account_id``, or None."""
        return self._accounts.get(account_id)

    def quote(self, instrument_id):
        """Return the latest quote of ``instrument_id``, or None."""
        if self._stale_quotes:
            stale = self._stale_quotes.pop(instrument_id, None)
            if stale is not None:
                self._quotes[instrument_id] = stale.latest()
        return self._quotes.get(instrument_id)

    def trade(self, instrument_id):
        """Return the latest trade of ``instrument_id``, or None."""
        if self._stale_trades:
            stale = self._stale_trades.pop(instrument_id, None)
            if stale is not None:
                self._trades[instrument_id] = stale.latest()
        return self._trades.get(instrument_id)

    def bar(self, bar_type):
        """Return the latest bar of ``bar_type``, or None."""
        if self._stale_bars:
            stale = self._stale_bars.pop(bar_type, None)
            if stale is not None:
                self._bars[bar_type] = stale.latest()
        return self._bars.get(bar_type)

    def venue_order_id(self, client_order_id):
        """Return the venue's id of the order ``client_order_id``, or None."""
        return self._venue_order_ids.get(client_order_id)

    def client_order_id(self, venue_order_id):
        """Return the client order id of the venue's order ``venue_order_id``, or None."""
        return self._client_order_ids.get(venue_order_id)

    def order_exists(self, client_order_id):
        """Return whether an order with ``client_order_id`` was ever added."""
        return client_order_id in self._orders

    # -- orders ----------------------------------------------------------------------------

    def _init_order_indices(self, open_statuses, closed_statuses, inflight_statuses):
        """Start the order indices empty; each argument is a set of ``OrderStatus``."""
        cdef int status, number
        self._index_all = OrderIndex()
        self._index_open = OrderIndex()
        self._index_closed = OrderIndex()
        self._index_inflight = OrderIndex()
        # Each status's category (the status indices it belongs to, numbered) and per order
        # the category it is indexed in: update_order touches an index only when the
        # order's category changes. Codes with no status belong to no index.
        categories = []
        for status in range(STATUS_COUNT):
            indices = tuple(
                index
                for index, statuses in (
                    (self._index_open, open_statuses),
                    (self._index_closed, closed_statuses),
                    (self._index_inflight, inflight_statuses),
                )
                if status in statuses
            )
            if indices not in categories:
                categories.append(indices)
            number = categories.index(indices)
            self._category[status] = number
        bits = {self._index_open: _OPEN, self._index_closed: _CLOSED,
                self._index_inflight: _INFLIGHT}
        moves = bytearray(2 * _CATEGORIES * _CATEGORIES)
        for before_number, before in enumerate(categories):
            for after_number, after in enumerate(categories):
                at = 2 * (_CATEGORIES * before_number + after_number)
                moves[at] = sum(bits[i] for i in before if i not in after)
                moves[at + 1] = sum(bits[i] for i in after if i not in before)
        self._moves = bytes(moves)
        self._initial_category = -1  # the category of INITIALIZED, set by the caller
        self._indexed = {}
        _forget_latest(self)

    def _set_initial_status(self, int status):
        """Record the status new orders start in (``OrderStatus.INITIALIZED``)."""
        self._initial_category = self._category[status]

    cpdef add_order(self, Order order):
        """Add a new order and index it.

        Raises
        ------
        CacheError
            If an order with the same client order id was ever added (ids are never reused).
        """
        if order is None:
            raise TypeError("add_order needs an Order, got None")
        client_order_id = order.client_order_id
        cdef dict orders = self._orders
        cdef Py_ssize_t count = len(orders)
        PyDict_SetDefault(orders, client_order_id, order)  # one look-up: added if new
        if len(orders) == count:
            raise self._cache_error(
                f"order {client_order_id} is already in the cache; client order ids are unique"
            )
        cdef _OrderEntry entry = _OrderEntry.__new__(_OrderEntry)
        entry.order = order
        entry.category = self._initial_category
        entry.venue_order_id = None
        self._indexed[client_order_id] = entry
        _set_latest(self, entry)
        self._index_all.add(client_order_id, order)
        if (
            self._category[order._status] != self._initial_category
            or order.venue_order_id is not None
        ):
            self.update_order(order)  # an order added past INITIALIZED (a rebuilt one)

    cpdef update_order(self, Order order):
        """Re-index ``order`` after an event was applied to it.

        Raises
        ------
        CacheError
            If the order was never added.
        """
        if order is None:
            raise TypeError("update_order needs an Order, got None")
        client_order_id = order.client_order_id
        cdef _OrderEntry entry = _latest
        if entry is None or entry.order is not order or entry.cache is not <void *>self:
            # Not the latest order added or updated (by this cache): looked up.
            entry_object = self._indexed.get(client_order_id)
            if entry_object is None or (<_OrderEntry>entry_object).order is not order:
                raise self._cache_error(
                    f"order {client_order_id} is not in the cache; add_order it first"
                )
            entry = <_OrderEntry>entry_object
            _set_latest(self, entry)
        cdef int category = self._category[order._status]
        cdef const unsigned char *move
        if category != entry.category:
            move = <const unsigned char *>PyBytes_AS_STRING(self._moves) + 2 * (
                _CATEGORIES * entry.category + category
            )
            if move[0] & _OPEN:
                self._index_open.remove(client_order_id, order)
            if move[0] & _CLOSED:
                self._index_closed.remove(client_order_id, order)
            if move[0] & _INFLIGHT:
                self._index_inflight.remove(client_order_id, order)
            if move[1] & _OPEN:
                self._index_open.add(client_order_id, order)
            if move[1] & _CLOSED:
                self._index_closed.add(client_order_id, order)
            if move[1] & _INFLIGHT:
                self._index_inflight.add(client_order_id, order)
            entry.category = category
        venue_order_id = order.venue_order_id
        if venue_order_id is not None and venue_order_id is not entry.venue_order_id:
            previous = entry.venue_order_id  # the venue order id the maps hold for the order
            if previous is None or previous != venue_order_id:
                if previous is not None:
                    self._client_order_ids.pop(previous, None)
                self._venue_order_ids[client_order_id] = venue_order_id
                self._client_order_ids[venue_order_id] = client_order_id
            entry.venue_order_id = venue_order_id


@cython.final
@cython.freelist(64)
@cython.no_gc  # an order and its venue order id: an order never refers to its cache entry
cdef class _OrderEntry:
    """Per indexed order: the order, its category, the venue order id the id maps hold."""

    cdef Order order
    cdef int category
    cdef object venue_order_id
    cdef void *cache  # the CacheCore whose _indexed holds it (compared, never followed)


# The entry of the order a cache added or updated last, any cache's: the engines update an
# order several times in a row (submitted, accepted, filled), each found here without the
# look-up in _indexed. Entries are never removed from _indexed but all at once, by
# _init_order_indices, which forgets its cache's latest entry.
cdef _OrderEntry _latest = None


cdef inline void _set_latest(CacheCore cache, _OrderEntry entry) noexcept:
    global _latest
    entry.cache = <void *>cache
    _latest = entry


cdef inline void _forget_latest(CacheCore cache) noexcept:
    global _latest
    if _latest is not None and _latest.cache is <void *>cache:
        _latest = None


cdef Order latest_order(CacheCore cache, object client_order_id):
    # _orders holds every order _indexed does (add_order puts it in both; reset empties
    # both and forgets the latest entry).
    cdef _OrderEntry entry = _latest
    if (
        entry is not None
        and entry.cache is <void *>cache
        and entry.order.client_order_id is client_order_id
    ):
        return entry.order
    return None


@cython.final
cdef class OrderIndex:
    """The client order ids of one status category, also keyed by strategy, instrument, venue.

    Each dict is an insertion-ordered set: ids come out in the order they entered it. The
    keyed dicts are built by the first query that filters (from the ids, in their order)
    and kept from then on, so a run that never filters a category pays one dict insert
    and one delete per order entering and leaving it.
    """

    def __cinit__(self):
        self.ids = {}
        self.keyed = False
        self.by_strategy = {}
        self.by_instrument = {}
        self.by_venue = {}

    cdef int add(self, object client_order_id, Order order) except -1:
        self.ids[client_order_id] = None
        if self.keyed:
            self._add_keys(client_order_id, order)
        return 0

    cdef int _add_keys(self, object client_order_id, Order order) except -1:
        instrument_id = order.instrument_id
        strategy_id = order.strategy_id
        by_key = self.by_strategy.get(strategy_id)
        if by_key is None:
            by_key = self.by_strategy[strategy_id] = {}
        by_key[client_order_id] = None
        by_key = self.by_instrument.get(instrument_id)
        if by_key is None:
            by_key = self.by_instrument[instrument_id] = {}
        by_key[client_order_id] = None
        venue = instrument_id.venue
        by_key = self.by_venue.get(venue)
        if by_key is None:
            by_key = self.by_venue[venue] = {}
        by_key[client_order_id] = None
        return 0

    cdef int remove(self, object client_order_id, Order order) except -1:
        del self.ids[client_order_id]
        if self.keyed:
            instrument_id = order.instrument_id
            del self.by_strategy[order.strategy_id][client_order_id]
            del self.by_instrument[instrument_id][client_order_id]
            del self.by_venue[instrument_id.venue][client_order_id]
        return 0

    def build_keys(self, dict orders not None):
        """Key the ids (once; later adds and removes keep the keyed dicts)."""
        if not self.keyed:
            for client_order_id in self.ids:
                self._add_keys(client_order_id, orders[client_order_id])
            self.keyed = True

    def select(self, venue, instrument_id, strategy_id, dict orders not None):
        """Return the ids matching every given filter, smallest candidate set first."""
        if venue is None and instrument_id is None and strategy_id is None:
            return self.ids
        self.build_keys(orders)
        candidates = []
        if instrument_id is not None:
            candidates.append(self.by_instrument.get(instrument_id, _EMPTY))
        if strategy_id is not None:
            candidates.append(self.by_strategy.get(strategy_id, _EMPTY))
        if venue is not None:
            candidates.append(self.by_venue.get(venue, _EMPTY))
        if len(candidates) == 1:
            return candidates[0]
        candidates.sort(key=len)
        smallest, others = candidates[0], candidates[1:]
        if len(others) == 1:
            other = others[0]
            return [c for c in smallest if c in other]
        return [c for c in smallest if all(c in index for index in others)]
