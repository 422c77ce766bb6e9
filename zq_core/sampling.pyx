"""The per-fill record of ``zq.backtest.sampler.ResultSampler``, compiled.

:class:`SampleColumns` is what the sampler notes during a run: the time of each sample, how
many position events had been published by then, each instrument's mark price as a raw
integer and its precision, and how many account states each account had published. It is
the sampler's subscriber to the position events (one sample per fill: the events of a fill
through zero share it) and takes the timer's samples. The columns are the sampler's own
arrays and lists, appended to in place; the sampler computes the records from them after
the run.
"""

from cpython cimport array
from libc.stdint cimport int64_t

from zq_core.fixed cimport PRECISION_MAX_C

__all__ = ["SampleColumns"]

# The precision recorded for an instrument without a mark at a sample.
cdef signed char _NO_MARK = -1


cdef inline int _append_q(array.array column, int64_t value) except -1:
    # column.append(value) of an array('q').
    cdef Py_ssize_t size = len(column)
    array.resize_smart(column, size + 1)
    column.data.as_longlongs[size] = value
    return 0


cdef inline int _append_b(array.array column, signed char value) except -1:
    # column.append(value) of an array('b').
    cdef Py_ssize_t size = len(column)
    array.resize_smart(column, size + 1)
    column.data.as_schars[size] = value
    return 0


cdef class SampleColumns:
    """The sampler's columns and the two ways a sample is taken.

    Parameters
    ----------
    ts, position_counts : array('q')
        One entry per sample: its time, and how many position events were published then.
    position_events : list
        The position events, in publication order.
    marks : list of tuple
        Per instrument: its book's bound ``best_bid_raw`` and ``best_ask_raw``, its matching
        core (for ``last_trade``), its price precision, and its mark columns (raw as
        ``array('q')``, precision as ``array('b')``).
    account_counts : list of tuple
        Per account: its list of account states and its ``array('q')`` column of their
        count at each sample.
    """

    cdef readonly array.array ts
    cdef readonly array.array position_counts
    cdef readonly list position_events
    cdef readonly list marks
    cdef readonly list account_counts
    # The fill of the latest sample: its time, position id and trade id.
    cdef object _last_ts
    cdef object _last_position
    cdef object _last_trade

    def __init__(self, array.array ts not None, array.array position_counts not None,
                 list position_events not None, list marks not None,
                 list account_counts not None):
        if ts.typecode != "q" or position_counts.typecode != "q":
            raise TypeError("ts and position_counts must be array('q') columns")
        # The columns are written through their buffers: check their item types once.
        for mark in marks:
            if (<array.array?>mark[4]).typecode != "q" or (<array.array?>mark[5]).typecode != "b":
                raise TypeError("a mark's columns must be array('q') and array('b')")
        for account in account_counts:
            if (<array.array?>account[1]).typecode != "q":
                raise TypeError("an account's column must be an array('q')")
        self.ts = ts
        self.position_counts = position_counts
        self.position_events = position_events
        self.marks = marks
        self.account_counts = account_counts
        self._last_ts = -1
        self._last_position = None
        self._last_trade = None

    def on_position_event(self, event):
        """Keep a position event and sample at its time, once per fill."""
        cdef list events = self.position_events
        cdef array.array counts
        events.append(event)
        # A fill through zero publishes two events (closed, then opened) after the
        # portfolio applied the whole fill: one sample per fill, covering both events.
        ts = event.ts_event
        position_id = event.position_id
        trade_id = event.last_trade_id
        if (
            ts == self._last_ts
            and position_id == self._last_position
            and trade_id == self._last_trade
        ):
            counts = self.position_counts
            counts.data.as_longlongs[len(counts) - 1] = len(events)
            return
        self._last_ts = ts
        self._last_position = position_id
        self._last_trade = trade_id
        self.sample(ts)

    cpdef sample(self, object ts):
        """Note the time, the position events' count, the marks and the account states'
        counts (see ``ResultSampler.sample``)."""
        cdef int precision
        cdef tuple mark, account
        _append_q(self.ts, ts)
        _append_q(self.position_counts, len(self.position_events))
        # mark_price, in raw integers: the book's mid when both sides are quoted (exact one
        # decimal finer, or rounded down at the largest precision), else the last trade.
        for item in self.marks:
            mark = <tuple?>item
            bid = mark[0]()
            ask = mark[1]()
            precision = mark[3]
            if bid is not None and ask is not None:
                if precision < PRECISION_MAX_C:
                    _append_q(<array.array?>mark[4], (bid + ask) * 5)
                    _append_b(<array.array?>mark[5], <signed char>(precision + 1))
                else:
                    _append_q(<array.array?>mark[4], (bid + ask) // 2)
                    _append_b(<array.array?>mark[5], <signed char>precision)
            else:
                last = mark[2].last_trade
                if last is None:
                    _append_q(<array.array?>mark[4], 0)
                    _append_b(<array.array?>mark[5], _NO_MARK)
                else:
                    _append_q(<array.array?>mark[4], last)
                    _append_b(<array.array?>mark[5], <signed char>precision)
        for item in self.account_counts:
            account = <tuple?>item
            _append_q(<array.array?>account[1], len(<list?>account[0]))
