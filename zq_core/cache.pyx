"""The compiled core of the Cache: hot lookups by identifier at C call speed.

A Python-level method call costs about as much as the whole lookup budget (100 ns), so the
lookups strategies and engines make per event live here; ``zq.cache.Cache`` subclasses
this class and maintains the indices in Python.
"""


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
