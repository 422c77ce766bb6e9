# cython: language_level=3
"""Streaming indicators in C: one ``update`` per value, O(1) each.

They are plain objects a strategy owns and feeds (``ema.update(price)``); nothing registers
them anywhere, so a backtest and a live node treat them alike.
"""

cimport cython
from cpython.object cimport PyTypeObject
from cpython.ref cimport PyObject
from libc.math cimport sqrt

from zq_core.members cimport PyMemberDef, zq_expose_member


@cython.final
cdef class ExponentialMovingAverage:
    """Exponential moving average with ``alpha = 2 / (period + 1)``, seeded by its first value.

    Parameters
    ----------
    period : int
        The span, at least 1. ``initialized`` turns true after ``period`` values.
    """

    def __init__(self, int period):
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self.period = period
        self.alpha = 2.0 / (period + 1)
        self.reset()

    # One positional argument (METH_O): the call from Python passes it without parsing.
    # Cannot raise (arithmetic on doubles; final: no Python override).
    @cython.always_allow_keywords(False)
    cpdef double update(self, double value) noexcept:
        """Add a value; return the new average."""
        if self.count == 0:
            self.value = value
        else:
            self.value += self.alpha * (value - self.value)
        self.count += 1
        if self.count == self.period:
            self.initialized = True
        return self.value

    # ``initialized`` (whether ``period`` values have been seen) is a member: see the end.

    def reset(self):
        """Forget every value."""
        self.value = 0.0
        self.count = 0
        self.initialized = False

    def __repr__(self):
        return (
            f"ExponentialMovingAverage(period={self.period}, value={self.value}, "
            f"count={self.count})"
        )


@cython.final
cdef class SimpleMovingAverage:
    """Mean and standard deviation of the last ``period`` values (a ring buffer).

    Parameters
    ----------
    period : int
        The window, at least 1. ``initialized`` turns true when the window is full.
    """

    def __init__(self, int period):
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self.period = period
        self._window = [0.0] * period
        self.reset()

    @cython.always_allow_keywords(False)
    cpdef double update(self, double value):
        """Add a value (dropping the oldest of a full window); return the new mean."""
        cdef double old
        if self.count >= self.period:
            old = self._window[self._next]
            self._sum -= old
            self._sum_sq -= old * old
        else:
            self.count += 1
            if self.count == self.period:
                self.initialized = True
        self._window[self._next] = value
        self._next = (self._next + 1) % self.period
        self._sum += value
        self._sum_sq += value * value
        self.value = self._sum / self.count
        return self.value

    # ``initialized`` (whether the window is full) is a member: see the end.

    @property
    def std(self):
        """The population standard deviation of the window (0.0 when empty)."""
        if self.count == 0:
            return 0.0
        cdef double mean = self._sum / self.count
        cdef double variance = self._sum_sq / self.count - mean * mean
        return sqrt(variance) if variance > 0.0 else 0.0

    def reset(self):
        """Forget every value."""
        cdef Py_ssize_t i
        for i in range(self.period):
            self._window[i] = 0.0
        self._next = 0
        self._sum = 0.0
        self._sum_sq = 0.0
        self.value = 0.0
        self.count = 0
        self.initialized = False

    def __repr__(self):
        return (
            f"SimpleMovingAverage(period={self.period}, value={self.value}, count={self.count})"
        )


# ``initialized`` of each class: a read-only member of its object field, read by the
# interpreter without a call (a strategy asks it per value: ``if not ema.initialized``).
cdef PyMemberDef _EMA_INITIALIZED
cdef PyMemberDef _SMA_INITIALIZED


cdef int _expose_initialized() except -1:
    cdef ExponentialMovingAverage ema = ExponentialMovingAverage.__new__(ExponentialMovingAverage)
    cdef SimpleMovingAverage sma = SimpleMovingAverage.__new__(SimpleMovingAverage)
    marker = object()
    ema.initialized = marker
    sma.initialized = marker
    zq_expose_member(
        <PyTypeObject*>ExponentialMovingAverage, &_EMA_INITIALIZED, "initialized",
        <PyObject*>ema, <PyObject*>marker, "Whether ``period`` values have been seen.",
    )
    zq_expose_member(
        <PyTypeObject*>SimpleMovingAverage, &_SMA_INITIALIZED, "initialized",
        <PyObject*>sma, <PyObject*>marker, "Whether the window is full.",
    )
    return 0


_expose_initialized()
