"""``zq venue`` as a process: it prints where it listens, serves, and stops on SIGINT."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import aiohttp
import pytest

pytestmark = pytest.mark.asyncio


async def test_zq_venue_serves_a_generated_market_until_sigint(session: aiohttp.ClientSession):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zq", "venue", "--port", "0", "--generated", "--faults", "duplicate=0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        base = match.group(1)
        async with session.get(f"{base}/api/v3/ping") as response:
            assert (response.status, await response.json()) == (200, {})
        ws_url = base.replace("http", "ws") + "/ws/btcusdt@bookTicker"
        async with session.ws_connect(ws_url) as ws:
            first = (await ws.receive_json(timeout=10))["u"]
            second = (await ws.receive_json(timeout=10))["u"]
        assert second > first  # the generated market moves
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0
    rest = (await process.stdout.read()).decode()
    assert "stopped" in rest


async def test_zq_venue_refuses_an_unknown_fault_switch():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zq", "venue", "--faults", "explode=1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"explode" in stderr


async def test_zq_venue_refuses_a_negative_idle_timeout_by_name():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zq", "venue", "--idle-timeout", "-2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"idle_timeout must be 0 (never) or positive, not -2.0" in stderr


async def test_zq_venue_stops_with_the_capture_error_of_a_bad_replay(tmp_path):
    capture = tmp_path / "bad.txt"
    capture.write_text(
        '1723075200000000000 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT",'
        '"t":1,"p":"6x000.00","q":"0.1","T":1,"m":true,"M":true}}\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zq", "venue", "--replay", str(capture),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    message = stderr.decode()
    assert "zq venue: the market stopped" in message
    assert "bad.txt, line 1, field 'data.p'" in message and "6x000.00" in message
