"""Busy-polling an event loop: it never sleeps in its poller while a :class:`BusyPoll` runs.

A callback that schedules itself again with ``call_soon`` keeps one callback always ready, so
uvloop (libuv) and asyncio poll their sockets with a zero timeout on every turn instead of
blocking until a socket is readable or a timer is due: a message is read the moment it
lands, without the process being woken up by the scheduler. Timers, signals and every other
callback keep running on the same turns. The price is one CPU core kept at 100 %, so it pays
only where the process has a core to itself. Used by ``TradingNode`` (``busy_poll``) and
``zq venue --busy-poll``; see ``docs/live/binance-adapter.md#latency`` for what it was
measured to change.
"""

from __future__ import annotations

import asyncio

__all__ = ["BusyPoll"]


class BusyPoll:
    """Keep ``loop`` turning without sleeping between :meth:`start` and :meth:`stop`.

    ``turns`` counts the loop's turns made while it ran.
    """

    __slots__ = ("_handle", "_loop", "turns")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handle: asyncio.Handle | None = None  # the next turn's callback while running
        #: Turns of the loop made while polling (the callback's runs).
        self.turns = 0

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._handle is not None

    def start(self) -> None:
        """Start polling (nothing if it already runs)."""
        if self._handle is None:
            self._handle = self._loop.call_soon(self._turn)

    def stop(self) -> None:
        """Stop polling: the loop sleeps in its poller again from its next turn."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _turn(self) -> None:
        # Always one callback ready: the loop's next poll does not block.
        self.turns += 1
        self._handle = self._loop.call_soon(self._turn)
