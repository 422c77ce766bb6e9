"""The tasks a live client starts from the engine's synchronous hooks.

A command or a subscription arrives synchronously; the client starts a task for it on the
running loop. :class:`ClientTasks` keeps them, logs the errors instead of losing them, and
lets the client wait for them or cancel them when it disconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["ClientTasks"]

_log = logging.getLogger("zq.live")


class ClientTasks:
    """The tasks a client started from a synchronous hook; errors are logged, not lost."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: set[asyncio.Task[None]] = set()
        self.errors = 0

    def spawn(self, what: str, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        loop = asyncio.get_running_loop()
        name = f"{self._owner}: {what}"
        if loop.get_task_factory() is None:
            # Made with its name: a loop's create_task (uvloop's, too) makes the task unnamed,
            # which formats a "Task-<n>" name (printf's code, cold between two orders), and
            # then renames it.
            task: asyncio.Task[None] = asyncio.Task(coroutine, loop=loop, name=name)
        else:
            task = loop.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.errors += 1
            _log.error("%s failed: %r", task.get_name(), error, exc_info=error)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running tasks (and those they start); True if none is left."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    async def cancel(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
