"""Busy-polling the event loop: it keeps turning while it polls, serves timers, sockets and
signals meanwhile, and sleeps again once stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import pytest

from zq.live.busy_poll import BusyPoll


class TurnCounter:
    """A reference: counts the loop's turns with a callback of its own, one per turn."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.turns = 0
        self.handle = loop.call_soon(self.turn)

    def turn(self) -> None:
        self.turns += 1
        self.handle = self.loop.call_soon(self.turn)

    def stop(self) -> None:
        self.handle.cancel()


@pytest.mark.asyncio
async def test_a_polling_loop_keeps_turning_while_a_coroutine_sleeps_and_stops_when_told() -> None:
    polling = BusyPoll(asyncio.get_running_loop())
    assert not polling.running
    polling.start()
    assert polling.running
    await asyncio.sleep(0.05)  # a sleeping loop would make one or two turns here
    turned = polling.turns
    polling.stop()
    assert not polling.running
    await asyncio.sleep(0.02)

    assert turned > 100, turned
    assert polling.turns == turned  # its next turn's callback was cancelled


@pytest.mark.asyncio
async def test_starting_twice_keeps_one_turn_per_loop_turn_and_a_restart_too() -> None:
    loop = asyncio.get_running_loop()
    polling = BusyPoll(loop)
    polling.start()
    polling.start()  # already running: no second callback
    reference = TurnCounter(loop)
    await asyncio.sleep(0.02)
    polling.stop()
    polling.start()  # stopped and started within one turn: still one callback
    start_turns, start_reference = polling.turns, reference.turns
    await asyncio.sleep(0.02)
    polling.stop()
    reference.stop()

    # Both callbacks run once per turn of the loop (give or take the turn they started on).
    made, expected = polling.turns - start_turns, reference.turns - start_reference
    assert expected > 50, expected
    assert abs(made - expected) <= 2, (made, expected)


@pytest.mark.asyncio
async def test_timers_sockets_and_signals_are_served_while_the_loop_polls() -> None:
    loop = asyncio.get_running_loop()
    polling = BusyPoll(loop)
    polling.start()
    fired = loop.create_future()
    loop.call_later(0.01, fired.set_result, "timer")
    got_signal = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, got_signal.set_result, "signal")
    left, right = socket.socketpair()
    try:
        reader, writer = await asyncio.open_connection(sock=left)
        right.sendall(b"a message\n")
        line = await asyncio.wait_for(reader.readline(), 5)
        os.kill(os.getpid(), signal.SIGUSR1)
        results = await asyncio.wait_for(asyncio.gather(fired, got_signal), 5)
        writer.close()
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
        right.close()
        polling.stop()

    assert line == b"a message\n"
    assert results == ["timer", "signal"]
    assert polling.turns > 0
