"""Every fault switch of the sandbox venue, observed from a client, and the real rate limits."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.integration.sandbox.conftest import (
    API_KEY,
    SECRET,
    SYMBOL,
    Client,
    manual_config,
    seed_book,
)
from zq.sandbox import FaultConfig, SandboxVenue

pytestmark = pytest.mark.asyncio

LIMIT_BUY = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01", "price": "59000"}


async def test_drop_before_closes_the_connection_and_places_nothing(venue: SandboxVenue, client: Client):
    seed_book(venue)
    venue.faults.update(drop_before=1.0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.order(**LIMIT_BUY, newClientOrderId="lost-1")
    venue.faults.update(drop_before=0.0)
    reply = await client.request("GET", "/api/v3/order", {"symbol": SYMBOL, "origClientOrderId": "lost-1"},
                                 signed=True)
    assert reply.body["code"] == -2013
    assert venue.faults.counts["dropped_before"] == 1


async def test_drop_after_loses_the_answer_but_the_order_exists(venue: SandboxVenue, client: Client):
    seed_book(venue)
    venue.faults.update(drop_after=1.0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.order(**LIMIT_BUY, newClientOrderId="placed-1")
    venue.faults.update(drop_after=0.0)
    reply = await client.request("GET", "/api/v3/order", {"symbol": SYMBOL, "origClientOrderId": "placed-1"},
                                 signed=True)
    assert reply.body["status"] == "NEW"
    assert venue.faults.counts["dropped_after"] == 1


async def test_delay_holds_the_response(venue: SandboxVenue, session: aiohttp.ClientSession):
    venue.faults.update(delay=1.0, delay_seconds=3.0)
    client = Client(session, venue.url, API_KEY, SECRET)
    client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2))
    try:
        with pytest.raises(asyncio.TimeoutError):
            await client.request("GET", "/api/v3/ping")
    finally:
        await client.session.close()
    assert venue.faults.counts["delayed"] == 1


async def test_rate_limit_fault_answers_429_with_retry_after(venue: SandboxVenue, client: Client):
    venue.faults.update(rate_limit=1.0)
    reply = await client.request("GET", "/api/v3/ping")
    assert (reply.status, reply.body["code"], reply.headers["Retry-After"]) == (429, -1003, "1")
    assert venue.faults.counts["rate_limited"] == 1


async def test_share_of_faults_is_seeded_and_about_right(session: aiohttp.ClientSession):
    # 200 pings at a 30 % rate-limit share: the same seed strikes the same requests.
    outcomes = []
    for _ in range(2):
        config = manual_config(faults=FaultConfig(rate_limit=0.3, seed=42))
        async with SandboxVenue(config) as venue:
            client = Client(session, venue.url, API_KEY, SECRET)
            statuses = [(await client.request("GET", "/api/v3/ping")).status for _ in range(200)]
        outcomes.append(statuses)
    assert outcomes[0] == outcomes[1]
    assert 30 <= outcomes[0].count(429) <= 90


async def test_disconnect_every_closes_websockets(venue: SandboxVenue, session: aiohttp.ClientSession):
    async with session.ws_connect(f"{venue.ws_url}/ws/btcusdt@trade") as ws:
        venue.faults.update(disconnect_every=0.2)
        message = await ws.receive(timeout=5)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert venue.faults.counts["disconnects"] >= 1


async def user_events(venue: SandboxVenue, session, client: Client, count: int) -> list[dict]:
    key = (await client.request("POST", "/api/v3/userDataStream", key=True)).body["listenKey"]
    async with session.ws_connect(f"{venue.ws_url}/ws/{key}") as ws:
        await asyncio.sleep(0.05)
        await client.order(**LIMIT_BUY, newClientOrderId="e-1")
        await client.request("DELETE", "/api/v3/order", {"symbol": SYMBOL, "origClientOrderId": "e-1"},
                             signed=True)
        events = []
        for _ in range(count):
            message = await ws.receive(timeout=5)
            events.append(json.loads(message.data))
        return events


def labels(events: list[dict]) -> list[str]:
    return [event.get("x", event["e"]) for event in events]


async def test_user_events_in_order_without_faults(venue, session, client):
    seed_book(venue)
    events = await user_events(venue, session, client, 4)
    assert labels(events) == ["NEW", "outboundAccountPosition", "CANCELED", "outboundAccountPosition"]


async def test_duplicate_sends_every_user_event_twice(venue, session, client):
    seed_book(venue)
    venue.faults.update(duplicate=1.0)
    events = await user_events(venue, session, client, 8)
    assert labels(events) == [
        "NEW", "NEW", "outboundAccountPosition", "outboundAccountPosition",
        "CANCELED", "CANCELED", "outboundAccountPosition", "outboundAccountPosition",
    ]
    assert events[0] == events[1]
    assert venue.faults.counts["duplicated"] == 4


async def test_reorder_swaps_user_events(venue, session, client):
    seed_book(venue)
    venue.faults.update(reorder=1.0)
    events = await user_events(venue, session, client, 4)
    # Each event is held back and sent after the next one.
    assert labels(events) == ["outboundAccountPosition", "NEW", "outboundAccountPosition", "CANCELED"]
    assert venue.faults.counts["reordered"] == 2


async def test_admin_endpoint_reads_and_changes_switches(venue: SandboxVenue, session: aiohttp.ClientSession):
    async with session.post(f"{venue.url}/sandbox/faults", json={"drop_after": 0.25, "seed": 9}) as response:
        body = await response.json()
    assert response.status == 200
    assert (body["config"]["drop_after"], body["config"]["seed"]) == (0.25, 9)
    assert venue.faults.config.drop_after == 0.25
    async with session.post(f"{venue.url}/sandbox/faults", json={"drop_everything": 1}) as response:
        assert response.status == 400
        assert "drop_everything" in (await response.json())["error"]
    async with session.post(f"{venue.url}/sandbox/faults", json={"delay": 2}) as response:
        assert response.status == 400
    async with session.get(f"{venue.url}/sandbox/faults") as response:
        assert (await response.json())["counts"]["dropped_after"] == 0


async def test_weight_limit_answers_429_then_bans_with_418(session: aiohttp.ClientSession):
    config = manual_config(weight_limit=3, ban_after=2, ban_seconds=60)
    async with SandboxVenue(config) as venue:
        client = Client(session, venue.url, API_KEY, SECRET)
        statuses = [(await client.request("GET", "/api/v3/ping")).status for _ in range(3)]
        assert statuses == [200, 200, 200]
        over = await client.request("GET", "/api/v3/ping")
        assert (over.status, over.body["code"]) == (429, -1003)
        assert int(over.headers["Retry-After"]) >= 1
        second = await client.request("GET", "/api/v3/ping")
        assert second.status == 429
        banned = await client.request("GET", "/api/v3/ping")
        assert (banned.status, banned.body["code"]) == (418, -1003)
        assert "banned" in banned.body["msg"]


async def test_order_count_limit_answers_1015(session: aiohttp.ClientSession):
    async with SandboxVenue(manual_config(orders_per_10s=2)) as venue:
        seed_book(venue)
        client = Client(session, venue.url, API_KEY, SECRET)
        first = await client.order(**LIMIT_BUY)
        second = await client.order(**LIMIT_BUY)
        assert [first.headers["X-MBX-ORDER-COUNT-10S"], second.headers["X-MBX-ORDER-COUNT-10S"]] == ["1", "2"]
        third = await client.order(**LIMIT_BUY)
        assert (third.status, third.body["code"]) == (429, -1015)
