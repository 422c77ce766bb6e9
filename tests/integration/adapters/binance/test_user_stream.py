"""The user data stream from the sandbox venue: listenKey lifecycle, keep-alives, renewal
after expiry, and executionReport / outboundAccountPosition events of real orders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zq.adapters.binance import BinanceCredentials, BinanceHttpClient
from zq.adapters.binance.user_stream import (
    AccountPosition,
    BinanceUserStream,
    ExecutionReport,
    ListenKeyExpired,
)
from zq.sandbox import SandboxVenue

from .conftest import API_KEY, SECRET, SYMBOL, manual_config
from .helpers import wait_for

D = Decimal


def _reports(events):
    return [e for e, _ in events if isinstance(e, ExecutionReport)]


@pytest.mark.asyncio
async def test_order_events_arrive_and_keepalives_extend_the_key(venue, http):
    events = []
    stream = BinanceUserStream(http, venue.ws_url, lambda e, ts: events.append((e, ts)), keepalive_interval_s=0.1)
    await stream.start()
    try:
        await stream.wait_connected(5)
        key = stream.listen_key
        assert venue.hub.listen_key_account(key) == API_KEY
        venue.set_levels(SYMBOL, bids=[(D("100.00"), D("1"))], asks=[(D("101.00"), D("1"))])
        await http.new_order(SYMBOL, "BUY", "LIMIT", quantity="0.1", price="100.50", time_in_force="GTC", client_order_id="zq-u1")
        await wait_for(lambda: _reports(events), what="the NEW report")
        (new,) = _reports(events)
        assert new.client_order_id == "zq-u1" and new.execution_type == "NEW"
        assert new.order_status == "NEW" and D(new.quantity) == D("0.1")

        # An ask at the order's price: the venue fills it and reports the trade.
        venue.set_levels(SYMBOL, asks=[(D("100.50"), D("0.1"))])
        await wait_for(lambda: any(r.is_fill for r in _reports(events)), what="the fill")
        fill = next(r for r in _reports(events) if r.is_fill)
        assert fill.order_status == "FILLED"
        assert D(fill.last_qty) == D("0.1") and D(fill.last_price) == D("100.5")
        assert fill.trade_id >= 0
        await wait_for(lambda: any(isinstance(e, AccountPosition) for e, _ in events), what="balances")
        position = next(e for e, _ in events if isinstance(e, AccountPosition))
        assert {b.asset for b in position.balances} >= {"USDT"}

        await wait_for(lambda: stream.keepalives >= 2, what="keep-alives")
        assert stream.keepalive_failures == 0
    finally:
        await stream.stop()
    assert venue.hub.listen_key_account(key) is None  # closed on stop


@pytest.mark.asyncio
async def test_an_expired_listen_key_is_renewed_and_events_continue():
    async with SandboxVenue(manual_config(listen_key_ttl=0.5)) as venue, BinanceHttpClient(
        venue.url, BinanceCredentials(API_KEY, SECRET)
    ) as http:
        await http.sync_time()
        events = []
        reconnects = []
        stream = BinanceUserStream(
            http, venue.ws_url, lambda e, ts: events.append((e, ts)),
            on_reconnect=lambda: reconnects.append(1), keepalive_interval_s=3600, backoff_initial_s=0.02,
        )
        await stream.start()
        try:
            first_key = stream.listen_key
            await wait_for(lambda: any(isinstance(e, ListenKeyExpired) for e, _ in events), what="expiry")
            await wait_for(lambda: stream.renewals == 1 and reconnects, what="renewal and reconnect")
            assert stream.listen_key != first_key
            await stream.wait_connected(5)
            venue.set_levels(SYMBOL, bids=[(D("100.00"), D("1"))], asks=[(D("101.00"), D("1"))])
            await http.new_order(SYMBOL, "SELL", "LIMIT", quantity="0.1", price="105", time_in_force="GTC", client_order_id="zq-u2")
            await wait_for(lambda: any(r.client_order_id == "zq-u2" for r in _reports(events)), what="an event on the new key")
        finally:
            await stream.stop()


@pytest.mark.asyncio
async def test_a_keepalive_on_a_vanished_key_renews_it(venue, http):
    events = []
    stream = BinanceUserStream(http, venue.ws_url, lambda e, ts: events.append((e, ts)), keepalive_interval_s=0.1, backoff_initial_s=0.02)
    await stream.start()
    try:
        await stream.wait_connected(5)
        old = stream.listen_key
        await http.close_listen_key(old)  # as if it had expired unseen
        await wait_for(lambda: stream.renewals == 1, what="renewal after -1125")
        assert stream.keepalive_failures >= 1 and stream.listen_key != old
        await wait_for(lambda: stream.websocket.is_connected and venue.hub.listen_key_account(stream.listen_key), what="the new stream")
    finally:
        await stream.stop()
