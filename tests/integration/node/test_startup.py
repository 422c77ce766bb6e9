"""Start-up against a venue that is late or failing: retries with back-off, then a reason.

Real sockets on loopback: the sandbox venue is started late on a port chosen beforehand,
or made to drop every answer for a while (``drop_before``: nothing reaches the venue).
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from tests.integration.node.conftest import CREDENTIALS, closed_port, node_config, sandbox_config
from zq.backtest.config import ConfigError
from zq.live.config import LiveVenueConfig, TradingNodeConfig, parse_live_config
from zq.live.node import NodeHealth, NodeStartError, TradingNode
from zq.sandbox import SandboxVenue


@pytest.mark.asyncio
async def test_a_node_waits_for_a_venue_that_comes_up_during_its_startup_attempts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    config = TradingNodeConfig(
        venues=[LiveVenueConfig(venue="remote", rest_url=url, ws_url=f"ws://127.0.0.1:{port}")],
        startup_attempts=20,
        startup_backoff_s=0.1,
        startup_backoff_max_s=0.2,
        run_seconds=0.2,
    )
    node = TradingNode(config, credentials=CREDENTIALS, install_signal_handlers=False)
    with caplog.at_level(logging.WARNING, logger="zq.live"):
        running = asyncio.ensure_future(node.run())
        await asyncio.sleep(0.6)  # a few attempts fail: nothing listens yet
        assert not running.done()
        async with SandboxVenue(sandbox_config(port=port)):
            await asyncio.wait_for(running, 20)
    assert node.health is NodeHealth.STOPPED  # it started, ran and stopped
    retried = [r.message for r in caplog.records if "attempt" in r.message]
    assert (
        retried
        and "is unreachable or refused the start-up requests (attempt 1 of 20" in (retried[0])
    )


@pytest.mark.asyncio
async def test_a_node_rides_out_a_venue_that_answers_nothing_for_a_while() -> None:
    async with SandboxVenue(sandbox_config()) as venue:
        venue.faults.update(drop_before=1.0)
        node = TradingNode(
            node_config(
                venue, startup_attempts=10, startup_backoff_s=0.1, startup_backoff_max_s=0.2
            ),
            credentials=CREDENTIALS,
            install_signal_handlers=False,
        )
        loop = asyncio.get_running_loop()
        loop.call_later(0.8, lambda: venue.faults.update(drop_before=0.0))
        started = time.monotonic()
        await node.start()
        try:
            # It waited the outage out (the loop's timers may fire up to a clock tick early).
            assert time.monotonic() - started >= 0.75
            assert venue.faults.counts["dropped_before"] > 0
            assert node.health is NodeHealth.RUNNING
        finally:
            await node.shutdown()


@pytest.mark.asyncio
async def test_a_node_whose_venue_never_answers_gives_up_after_its_attempts_and_says_why() -> None:
    async with SandboxVenue(sandbox_config()) as venue:
        venue.faults.update(drop_before=1.0)
        node = TradingNode(
            node_config(venue, startup_attempts=2, startup_backoff_s=0.05),
            credentials=CREDENTIALS,
            install_signal_handlers=False,
        )
        with pytest.raises(NodeStartError) as raised:
            await node.start()
    message = str(raised.value)
    assert f"venue BINANCE at {venue.url} is unreachable" in message
    assert "(2 attempt(s), the last error: BinanceUnknownStatusError" in message
    assert node.health is NodeHealth.FAILED


def test_startup_attempts_and_backoff_are_checked() -> None:
    with pytest.raises(ConfigError, match="startup_attempts = 0: at least 1"):
        parse_live_config({"startup_attempts": 0}, "live.toml")
    with pytest.raises(ConfigError, match=r"startup_backoff_s = 5\.0, startup_backoff_max_s = 1\.0"):
        parse_live_config({"startup_backoff_s": 5.0, "startup_backoff_max_s": 1.0}, "live.toml")
