"""Read-ahead: the next chunks of several series read by one background thread.

A replay spends its thread on the strategy and the matching; the catalog's decoding
(Parquet pages, zstd, the copy into row arrays) can run on another core meanwhile, since
pyarrow and numpy release the GIL while they work. ``ReadAhead.stream(chunks)`` wraps one
series' chunk iterator. Its first chunk is read in the consumer's thread, which has to
wait for it anyway (handing it to another thread only adds the hand-over); from then on up
to ``depth`` chunks are asked of the iterator ahead of the consumer, on the shared worker
thread, one step at a time and in order. When the consumer needs a step the worker has not
started (it is reading another stream's, or has not been given a core on a loaded machine),
the consumer takes that step back and reads it itself rather than wait idle. Each series
yields exactly the chunks its iterator yields, in the same order, whatever the timing
(the iterator is only ever advanced by one thread at a time).

The worker needs the interpreter's lock after each wait and each decode, and a consumer
running compiled code (the replay loop) only yields it when asked, after the interpreter's
switch interval (5 ms by default): a few such waits per chunk left the worker behind the
replay, which then waited for it. While a worker runs the switch interval is lowered to
``SWITCH_INTERVAL`` (1 ms) and restored when the last worker stops, unless someone else
changed it meanwhile.

An error of the iterator (a corrupt row group) is raised by the stream when its consumer
reaches the chunk that failed, not earlier: the chunks before it are yielded first. The
worker starts when a stream has yielded its first chunk and is stopped and joined when the
last started stream ends (exhausted, failed, or closed by its consumer); a stream dropped
unfinished is closed by the garbage collector like any generator.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar, cast

__all__ = ["SWITCH_INTERVAL", "ReadAhead"]

T = TypeVar("T")

_END = object()  # what ``next`` gives for an exhausted iterator

#: The interpreter's switch interval (seconds) while a read-ahead worker runs, at most.
SWITCH_INTERVAL = 0.001

_switch_lock = threading.Lock()
_switch_users = 0  # workers running
_switch_saved = 0.0  # the interval before the first of them started


def _lower_switch_interval() -> None:
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            if _switch_saved > SWITCH_INTERVAL:
                sys.setswitchinterval(SWITCH_INTERVAL)
        _switch_users += 1


def _restore_switch_interval() -> None:
    global _switch_users
    with _switch_lock:
        _switch_users -= 1
        if (
            _switch_users == 0
            and _switch_saved > SWITCH_INTERVAL
            and sys.getswitchinterval() == SWITCH_INTERVAL
        ):
            sys.setswitchinterval(_switch_saved)


def _take_back(pending: deque[Future[object]]) -> bool:
    """Cancel the steps of ``pending`` the worker has not started; return whether that
    was all of them (``pending`` is then empty; else it keeps the started step and those
    before it).

    The worker runs steps in the order they were asked and one at a time, so only the
    first of a stream's steps can have started: they are cancelled from the last, so the
    worker, going on meanwhile, never skips a cancelled step to start a later one.
    """
    while pending and pending[-1].cancel():
        pending.pop()
    return not pending


class ReadAhead:
    """One background thread reading ahead of several streams of chunks.

    Parameters
    ----------
    depth
        Chunks asked ahead per stream (at least 1). A stream holds at most ``depth`` chunks
        read or being read, plus the one its consumer has.
    name
        The worker thread's name (shown by debuggers and profilers).
    """

    def __init__(self, depth: int = 2, name: str = "zq-read-ahead") -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._depth = depth
        self._name = name
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._worker: int | None = None  # the worker thread's ident
        self._users = 0

    @property
    def depth(self) -> int:
        """Chunks asked ahead per stream."""
        return self._depth

    @property
    def running(self) -> bool:
        """Whether the worker thread exists (some stream is being read)."""
        return self._pool is not None

    def stream(self, chunks: Iterator[T]) -> Iterator[T]:
        """Yield the items of ``chunks``, the first read in the consumer's thread (it waits
        for it anyway), the next ones read ahead on the worker thread (or in the consumer's
        thread when it needs one the worker has not started).

        ``chunks`` must not be advanced by anyone else; the stream closes it when it ends.
        """
        pending: deque[Future[object]] = deque()
        entered = False
        try:
            item = next(chunks, _END)
            if item is _END:
                return
            pool = self._enter()
            entered = True
            while True:
                while len(pending) < self._depth:
                    pending.append(pool.submit(next, chunks, _END))
                yield cast(T, item)
                if not pending[0].done() and _take_back(pending):
                    # The worker had not started the step (it reads another stream's):
                    # waiting for it would leave this thread idle; read it here instead.
                    item = next(chunks, _END)  # the step's error is raised here
                else:
                    item = pending.popleft().result()  # the step's error is raised here
                if item is _END:
                    return
        finally:
            for future in pending:
                future.cancel()
            if threading.get_ident() != self._worker:
                # A step already running finishes before ``chunks`` is closed. (Only a
                # garbage collection the worker triggered runs this on the worker: then
                # ``chunks`` may be the very iterator it is advancing, left to the
                # collector.)
                wait(pending)
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            if entered:
                self._leave()

    def _enter(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=self._name, initializer=self._started
                )
                _lower_switch_interval()
            self._users += 1
            return self._pool

    def _started(self) -> None:
        self._worker = threading.get_ident()

    def _leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users or self._pool is None:
                return
            pool, self._pool = self._pool, None
            _restore_switch_interval()
        # The worker cannot join itself: a stream finalised by a garbage collection that
        # the worker happened to trigger only asks it to stop.
        pool.shutdown(wait=threading.get_ident() != self._worker, cancel_futures=True)
