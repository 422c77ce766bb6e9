# cython: language_level=3
"""The time cell of the backtest clock.

``zq.common.clock.TestClock`` keeps its time in a :class:`TimeCell`, an int64 the compiled
replay loop sets before each call into Python without making an int object or going through
Python attribute assignment (the loop moves the clock once per row something listens to).
"""

cimport cython

__all__ = ["TimeCell"]


@cython.final
cdef class TimeCell:
    """A UNIX-nanosecond time, held as an int64.

    Parameters
    ----------
    ns : int, default 0
        The time.
    """

    def __init__(self, int64_t ns=0):
        self.ns = ns

    def __repr__(self):
        return f"TimeCell({self.ns})"
