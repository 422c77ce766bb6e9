"""A live data client's quotes handed to the DataEngine's quote path in compiled code.

:class:`QuoteFeed` does what ``DataEngine.process_quote`` does for a quote whose instrument
feeds no bar aggregator: the cache's latest quote of the instrument replaced (a stale one
dropped, as ``Cache.add_quote`` does) and the quote published on its topic, through the
bus's C entry point: no interpreter frame between the adapter's decoder and the bus. Until
the engine binds it (:meth:`bind`, from ``DataEngine.bind_quote_feed``), and for a quote of
an instrument whose topic it does not hold (bars aggregated from its quotes, or not seen
yet), it calls ``fallback`` (the engine's ``process_quote``), which does the whole work and
records the topic of an instrument without aggregators in the dictionary shared with the
feed. It counts the quotes it is handed.

zq_core never imports zq: the engine checks that its cache's ``add_quote`` and its own
``process_quote`` are the ones this mirrors before handing over the dictionaries.
"""

from zq_core.bus cimport MessageBus


cdef class QuoteFeed:
    """Hand quotes to the DataEngine's quote path (see the module's documentation).

    Parameters
    ----------
    fallback : callable
        Called with each quote the feed does not process itself.
    """

    def __init__(self, object fallback):
        if not callable(fallback):
            raise TypeError(f"QuoteFeed fallback must be callable, got {fallback!r}")
        self.fallback = fallback
        self.count = 0
        self._bus = None
        self._quotes = None
        self._stale_quotes = None
        self._topics = None

    def bind(
        self,
        object fallback,
        MessageBus bus=None,
        dict quotes=None,
        dict stale_quotes=None,
        dict topics=None,
    ):
        """Process quotes in C from now on: ``quotes`` and ``stale_quotes`` are the cache's
        latest and stale quotes by instrument, ``topics`` the engine's topics of instruments
        whose quotes feed no aggregator (shared, kept up to date by the engine), ``bus`` the
        engine's bus; ``fallback`` takes every other quote. Without ``bus`` (or any of the
        dictionaries), every quote goes to ``fallback``.
        """
        if not callable(fallback):
            raise TypeError(f"QuoteFeed fallback must be callable, got {fallback!r}")
        self.fallback = fallback
        if bus is None or quotes is None or stale_quotes is None or topics is None:
            self._bus = None
            self._quotes = self._stale_quotes = self._topics = None
            return
        self._bus = bus
        self._quotes = quotes
        self._stale_quotes = stale_quotes
        self._topics = topics

    @property
    def bound(self):
        """Whether quotes are processed here (else each goes to ``fallback``)."""
        return self._bus is not None

    def __call__(self, quote):
        self.take(quote.instrument_id, quote)

    cdef int take(self, object instrument_id, object quote) except -1:
        cdef object topic
        self.count += 1
        if self._topics is None:
            self.fallback(quote)
            return 0
        topic = self._topics.get(instrument_id)
        if topic is None:
            self.fallback(quote)
            return 0
        self._quotes[instrument_id] = quote
        if self._stale_quotes:
            self._stale_quotes.pop(instrument_id, None)
        self._bus.publish(<str>topic, quote)
        return 0
