# cython: language_level=3
"""The timer queue of the backtest clock, and its fire loop, in C.

``zq.common.clock.TestClock`` keeps its pending timers and alerts here: a binary heap of
entries ordered by (time due, name, push sequence), the order ``TestClock`` documents (by
time, then by name; the sequence only orders a cancelled entry against its replacement of
the same name). A cancelled timer's entry stays until it reaches the head or the heap is
compacted (lazy deletion); an entry is live while the clock's ``_timers`` maps its name to
its timer. The replay loop reads the head's time in C and fires the due timers without a
Python frame per fire.
"""

cimport cython
from cpython.dict cimport PyDict_GetItemWithError
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_Compare
from libc.stdint cimport INT64_MAX, int64_t

from zq_core.clock cimport TimeCell

__all__ = ["TimerQueue"]

# Compact the heap once cancelled entries outnumber live ones past this floor.
cdef Py_ssize_t STALE_ENTRIES_FLOOR = 64


@cython.final
@cython.freelist(8)
cdef class _Entry:
    """A timer's entry in a TimerQueue (internal)."""

    def __init__(self):
        raise TypeError("_Entry is internal: TimerQueue.push creates it")


cdef inline bint _before(_Entry a, _Entry b) except -1:
    # The heap order: time due, then name (str order), then push sequence.
    cdef int order
    if a.due != b.due:
        return a.due < b.due
    if a.name is not b.name:
        order = PyUnicode_Compare(a.name, b.name)
        if order != 0:
            return order < 0
    return a.sequence < b.sequence


@cython.final
cdef class TimerQueue:
    """The pending timers and alerts of a backtest clock (internal to ``TestClock``).

    Parameters
    ----------
    timers : dict
        The clock's timers by name (the entry of a timer absent from it is stale).
    now : TimeCell
        The clock's time, set to each event's time before its callback runs.
    event_type : type
        Called as ``event_type(name, event_id, ts_event, ts_init)`` for each fire
        (``TimeEvent``).
    """

    def __init__(self, dict timers not None, TimeCell now not None, event_type):
        self.heap = []
        self.timers = timers
        self.now = now
        self.event_type = event_type
        self.sequence = 0
        self.stale = 0
        self.event_count = 0
        self.advancing = False

    def __len__(self):
        return len(self.heap)

    def push(self, timer):
        """Add ``timer`` (a clock ``_Timer``), due at its ``next_ns``."""
        cdef _Entry entry = _Entry.__new__(_Entry)
        entry.due = timer.next_ns
        entry.interval = timer.interval_ns
        stop = timer.stop_ns
        entry.has_stop = stop is not None
        entry.stop = stop if stop is not None else 0
        entry.name = timer.name
        entry.timer = timer
        entry.callback = timer.callback
        self.sequence += 1
        entry.sequence = self.sequence
        self.heap.append(entry)
        self._sift_up(len(self.heap) - 1)

    def unschedule(self):
        """Note that a timer was cancelled: its entry is stale from now on."""
        cdef _Entry entry
        self.stale += 1
        if self.stale > STALE_ENTRIES_FLOOR and self.stale * 2 > len(self.heap):
            # In place, as a fire loop in progress reads self.heap again after each fire.
            self.heap[:] = [
                entry for entry in self.heap if self._live(entry)
            ]
            for i in reversed(range(len(self.heap) // 2)):
                self._sift_down(i)
            self.stale = 0

    def head(self):
        """Return ``(due, name)`` of the next live entry (stale ones dropped), or None."""
        cdef _Entry entry
        while self.heap:
            entry = <_Entry>self.heap[0]
            if self._live(entry):
                return entry.due, entry.name
            self._pop()
            self.stale -= 1
        return None

    def fire_due(self, int64_t to_ns, list events=None):
        """Fire what is due by ``to_ns`` (see ``TestClock._fire_due``)."""
        self.fire_due_c(to_ns, events)

    cdef int fire_due_c(self, int64_t to_ns, list events) except -1:
        # Fire the timers and alerts due by ``to_ns`` in heap order; before each callback the
        # clock reads the event's time, after the last one ``to_ns``. A recurring timer is
        # re-armed (its entry moved to its next time) before its callback runs; an alert or
        # a finished timer is removed from the clock's timers. Appends each event to
        # ``events`` unless None. If a callback raises, the clock stays at that event's time.
        cdef _Entry entry
        cdef list heap = self.heap
        cdef int64_t due
        cdef int64_t following
        self.advancing = True
        try:
            while heap and (<_Entry>heap[0]).due <= to_ns:
                entry = <_Entry>heap[0]
                if not self._live(entry):
                    self._pop()
                    self.stale -= 1  # cancelled, and maybe replaced under the same name
                    continue
                due = entry.due
                self.now.ns = due
                self.event_count += 1
                event = self.event_type(entry.name, self.event_count, due, due)
                # A time past int64 can never be reached: such a timer is finished.
                if entry.interval and entry.interval <= INT64_MAX - due and (
                    not entry.has_stop or due + entry.interval <= entry.stop
                ):
                    following = due + entry.interval
                    entry.timer.next_ns = following
                    self.sequence += 1
                    entry.due = following
                    entry.sequence = self.sequence
                    self._sift_down(0)
                else:
                    self._pop()
                    del self.timers[entry.name]
                if events is not None:
                    events.append(event)
                entry.callback(event)
            self.now.ns = to_ns
        finally:
            self.advancing = False
        return 0

    cdef bint _live(self, _Entry entry) except -1:
        # Whether the clock still holds the entry's timer under its name.
        cdef PyObject* held = PyDict_GetItemWithError(self.timers, entry.name)
        return held == <PyObject*>entry.timer

    cdef int _pop(self) except -1:
        # Remove the head.
        cdef list heap = self.heap
        last = heap.pop()
        if heap:
            heap[0] = last
            self._sift_down(0)
        return 0

    cdef int _sift_up(self, Py_ssize_t at) except -1:
        cdef list heap = self.heap
        cdef _Entry entry = <_Entry>heap[at]
        cdef _Entry parent
        cdef Py_ssize_t up
        while at > 0:
            up = (at - 1) >> 1
            parent = <_Entry>heap[up]
            if not _before(entry, parent):
                break
            heap[at] = parent
            at = up
        heap[at] = entry
        return 0

    cdef int _sift_down(self, Py_ssize_t at) except -1:
        cdef list heap = self.heap
        cdef Py_ssize_t count = len(heap)
        cdef _Entry entry = <_Entry>heap[at]
        cdef Py_ssize_t child
        while True:
            child = 2 * at + 1
            if child >= count:
                break
            if child + 1 < count and _before(<_Entry>heap[child + 1], <_Entry>heap[child]):
                child += 1
            if not _before(<_Entry>heap[child], entry):
                break
            heap[at] = heap[child]
            at = child
        heap[at] = entry
        return 0
