"""The tasks a live client starts: named after their command, errors counted and logged, a
loop's own task factory still used when one is set."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from zq.live.tasks import ClientTasks


async def _finish() -> None:
    await asyncio.sleep(0)


async def _fail() -> None:
    raise RuntimeError("the venue is away")


@pytest.mark.asyncio
async def test_a_spawned_task_is_named_after_its_owner_and_command() -> None:
    tasks = ClientTasks("BINANCE")
    task = tasks.spawn("submit O-1", _finish())
    assert task.get_name() == "BINANCE: submit O-1"
    assert tasks.pending == 1
    assert await tasks.wait(1.0)
    assert tasks.pending == 0 and tasks.errors == 0


@pytest.mark.asyncio
async def test_a_failed_task_is_counted_and_logged_with_its_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = ClientTasks("BINANCE")
    with caplog.at_level(logging.ERROR, logger="zq.live"):
        tasks.spawn("cancel O-2", _fail())
        assert await tasks.wait(1.0)
    assert tasks.errors == 1
    assert "BINANCE: cancel O-2 failed" in caplog.text


@pytest.mark.asyncio
async def test_a_loop_task_factory_makes_the_spawned_tasks() -> None:
    loop = asyncio.get_running_loop()
    made: list[asyncio.Task[Any]] = []

    def factory(loop: asyncio.AbstractEventLoop, coroutine: Any, **kwargs: Any) -> Any:
        task = asyncio.Task(coroutine, loop=loop, **kwargs)
        made.append(task)
        return task

    loop.set_task_factory(factory)
    try:
        tasks = ClientTasks("BINANCE")
        task = tasks.spawn("submit O-3", _finish())
        assert made == [task]
        assert task.get_name() == "BINANCE: submit O-3"
        assert await tasks.wait(1.0)
    finally:
        loop.set_task_factory(None)
