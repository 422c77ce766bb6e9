"""The REST client against the sandbox venue over loopback: signed requests, the order
endpoints, time sync, rate-limit headers, 429/418 back-off and typed errors."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from zq.adapters.binance import (
    BinanceCredentials,
    BinanceError,
    BinanceHttpClient,
    BinanceIpBannedError,
    BinanceRateLimitError,
    BinanceUnknownStatusError,
    RateLimitKind,
)
from zq.adapters.binance.instruments import parse_exchange_info
from zq.adapters.binance.limits import wall_time_ms
from zq.adapters.binance.schemas import OrderResponse
from zq.sandbox import SandboxVenue

from .conftest import API_KEY, SECRET, SYMBOL, manual_config


@pytest.mark.asyncio
async def test_time_sync_on_loopback_gives_a_small_offset(http):
    # Same machine, same clock: the offset is the rounding of the midpoint estimate.
    assert abs(http.time_offset_ms) <= 50
    assert abs(await http.server_time() - wall_time_ms()) <= 50


@pytest.mark.asyncio
async def test_exchange_info_maps_onto_instruments(http):
    info = await http.exchange_info([SYMBOL])
    (pair,) = parse_exchange_info(info, "SANDBOX")
    assert str(pair.id) == "BTCUSDT.SANDBOX"
    # The sandbox's defaults (zq.sandbox.config.SymbolConfig): tick 0.01, step 0.00001.
    assert pair.price_precision == 2 and pair.size_precision == 5
    assert str(pair.min_notional) == "5.00000000 USDT"


@pytest.mark.asyncio
async def test_order_lifecycle_by_client_order_id(venue, http):
    venue.set_levels(SYMBOL, bids=[(Decimal("100.00"), Decimal("1"))], asks=[(Decimal("101.00"), Decimal("1"))])
    placed = await http.new_order(
        SYMBOL, "BUY", "LIMIT", quantity=Decimal("0.5"), price="99.50", time_in_force="GTC",
        client_order_id="zq-1",
    )
    assert placed.client_order_id == "zq-1" and placed.status == "NEW"
    assert http.limiter.used(RateLimitKind.ORDERS, 10_000) == 1

    queried = await http.query_order(SYMBOL, client_order_id="zq-1")
    assert queried.order_id == placed.order_id and queried.orig_qty is not None
    assert Decimal(queried.orig_qty) == Decimal("0.5")
    assert [o.client_order_id for o in await http.open_orders(SYMBOL)] == ["zq-1"]

    canceled = await http.cancel_order(SYMBOL, client_order_id="zq-1")
    assert canceled.status == "CANCELED"
    assert await http.open_orders(SYMBOL) == []

    with pytest.raises(BinanceError) as info:
        await http.query_order(SYMBOL, client_order_id="never-sent")
    assert info.value.code == -2013
    assert info.value.endpoint == "GET /api/v3/order"
    assert info.value.status == 400


@pytest.mark.asyncio
async def test_a_taker_order_fills_and_shows_in_my_trades_and_balances(venue, http):
    venue.set_levels(SYMBOL, asks=[(Decimal("100.00"), Decimal("2"))], bids=[(Decimal("99.00"), Decimal("1"))])
    placed = await http.new_order(SYMBOL, "BUY", "MARKET", quantity="0.1", client_order_id="zq-m", response_type="FULL")
    assert placed.status == "FILLED"
    assert sum(Decimal(f.qty) for f in placed.fills) == Decimal("0.1")
    trades = await http.my_trades(SYMBOL)
    assert [Decimal(t.qty) for t in trades] == [Decimal("0.1")]
    assert trades[0].order_id == placed.order_id and trades[0].is_buyer
    account = await http.account()
    btc = next(b for b in account.balances if b.asset == "BTC")
    # 1 BTC at the start, bought 0.1, less the 0.1% commission taken in BTC: 1.0999.
    assert Decimal(btc.free) + Decimal(btc.locked) == Decimal("1") + Decimal("0.1") - Decimal("0.1") * Decimal("0.001")


@pytest.mark.asyncio
async def test_weight_header_corrects_the_local_count(venue, http):
    await http.depth(SYMBOL, 5000)  # weight 250
    used = http.limiter.used(RateLimitKind.REQUEST_WEIGHT, 60_000)
    assert used >= 250
    assert used == venue.limiter.used_weight("127.0.0.1")


@pytest.mark.asyncio
async def test_a_wrong_secret_is_refused_with_binances_code(venue):
    async with BinanceHttpClient(venue.url, BinanceCredentials(API_KEY, "wrong-secret")) as client:
        with pytest.raises(BinanceError) as info:
            await client.account()
    assert info.value.code == -1022
    assert "wrong-secret" not in str(info.value)


@pytest.mark.asyncio
async def test_a_clock_far_off_is_resynced_on_1021_and_the_request_retried(http):
    http.time_offset_ms = -120_000  # as if the local clock ran two minutes fast
    syncs = http.time_syncs
    account = await http.account()
    assert account.balances
    assert http.time_syncs == syncs + 1
    assert abs(http.time_offset_ms) <= 50


@pytest.mark.asyncio
async def test_429_holds_requests_for_retry_after_then_succeeds(venue, http):
    venue.faults.update(rate_limit=1.0)
    before = wall_time_ms()

    http.max_retries = 2
    # The first request meets the 429 (Retry-After: 1); clear the fault while it waits.
    task = asyncio.create_task(http.server_time())
    await asyncio.sleep(0.2)
    venue.faults.update(rate_limit=0.0)
    assert await task > 0
    assert wall_time_ms() - before >= 1000  # it waited Retry-After before retrying
    assert http.limiter.stats.blocks >= 1
    assert venue.faults.counts["rate_limited"] >= 1


@pytest.mark.asyncio
async def test_429_beyond_the_retries_raises_a_rate_limit_error(venue, http):
    venue.faults.update(rate_limit=1.0)
    http.max_retries = 0
    with pytest.raises(BinanceRateLimitError) as info:
        await http.server_time()
    assert info.value.status == 429 and info.value.code == -1003
    assert info.value.retry_after == 1


@pytest.mark.asyncio
async def test_418_ban_raises_and_holds_every_request():
    config = manual_config(weight_limit=10, ban_after=2, ban_seconds=30)
    async with (
        SandboxVenue(config) as venue,
        BinanceHttpClient(venue.url, max_retries=0) as client,
    ):
        # The local limiter does not know the venue's small limit: the venue refuses.
        statuses = []
        with pytest.raises(BinanceIpBannedError) as info:
            for _ in range(20):
                try:
                    await client.server_time()
                except BinanceRateLimitError as error:
                    if isinstance(error, BinanceIpBannedError):
                        raise
                    statuses.append(error.status)
                    client.limiter._blocked_until_ms = 0  # ask again at once, to get banned
        assert statuses and set(statuses) == {429}
        assert info.value.status == 418
        assert info.value.retry_after > 0
        assert client.limiter.blocked_until_ms > wall_time_ms() + 10_000
        assert client.limiter.wait_ms(1) > 10_000


@pytest.mark.asyncio
async def test_a_dropped_response_on_an_order_is_an_unknown_status(venue, http):
    venue.set_levels(SYMBOL, bids=[(Decimal("100.00"), Decimal("1"))], asks=[(Decimal("101.00"), Decimal("1"))])
    venue.faults.update(drop_after=1.0)
    with pytest.raises(BinanceUnknownStatusError) as info:
        await http.new_order(SYMBOL, "BUY", "LIMIT", quantity="0.1", price="99", time_in_force="GTC", client_order_id="zq-lost")
    assert info.value.endpoint == "POST /api/v3/order"
    assert "signature" not in str(info.value)
    venue.faults.update(drop_after=0.0)
    # The order was placed before the answer was lost: ask the venue by client order id.
    found = await http.query_order(SYMBOL, client_order_id="zq-lost")
    assert found.status == "NEW"


@pytest.mark.asyncio
async def test_listen_key_create_keepalive_close(http):
    key = await http.create_listen_key()
    assert len(key) >= 32
    await http.keepalive_listen_key(key)
    await http.close_listen_key(key)
    with pytest.raises(BinanceError) as info:
        await http.keepalive_listen_key(key)
    assert info.value.code == -1125


@pytest.mark.asyncio
async def test_the_secret_never_reaches_the_logs(venue, caplog):
    with caplog.at_level(logging.DEBUG):
        async with BinanceHttpClient(venue.url, BinanceCredentials(API_KEY, SECRET)) as client:
            await client.sync_time()
            await client.account()
            logging.getLogger("test").info("client %r", client)
    assert SECRET not in caplog.text


@pytest.mark.asyncio
async def test_exchange_info_rate_limits_are_adopted_by_the_limiter():
    async with (
        SandboxVenue(manual_config(weight_limit=45, orders_per_10s=7)) as venue,
        BinanceHttpClient(venue.url) as client,
    ):
        assert not client.limiter.limits_known  # the conservative defaults until now
        await client.exchange_info([SYMBOL])  # weight 20 of the venue's 45 per minute
        assert client.limiter.limits_known
        limits = {(limit.kind, limit.interval_ms): limit.limit for limit in client.limiter.limits}
        assert limits == {
            (RateLimitKind.REQUEST_WEIGHT, 60_000): 45,
            (RateLimitKind.ORDERS, 10_000): 7,
            (RateLimitKind.ORDERS, 86_400_000): venue.config.orders_per_day,
        }
        # 20 used: another exchangeInfo (20) still fits; a third would wait for the minute
        # (unless the minute rolled over meanwhile, which the venue's count shows too).
        await client.exchange_info([SYMBOL])
        if client.limiter.used(RateLimitKind.REQUEST_WEIGHT, 60_000) == 40:
            assert client.limiter.wait_ms(20) > 0
            assert client.limiter.wait_ms(5) == 0


@pytest.mark.asyncio
async def test_a_client_started_after_another_spent_the_assumed_weight_still_learns_the_limits():
    # The venue allows 100,000 weight a minute; an earlier client of the same IP, which
    # knows it, spends 1,270 (exchangeInfo, 20, and five 5000-level depth snapshots, 250
    # each), over the 1,200 a client assumes before exchangeInfo.
    async with SandboxVenue(manual_config(weight_limit=100_000)) as venue:
        async with BinanceHttpClient(venue.url) as earlier:
            await earlier.exchange_info([SYMBOL])
            for _ in range(5):
                await earlier.depth(SYMBOL, 5000)
        async with BinanceHttpClient(venue.url) as client:
            await client.server_time()  # its answer says 1,271 used
            used = client.limiter.used(RateLimitKind.REQUEST_WEIGHT, 60_000)
            if used < 1_200:
                pytest.skip("the venue's minute rolled over between the two clients")
            assert client.limiter.wait_ms(20) > 0  # an ordinary request would wait
            await asyncio.wait_for(client.exchange_info([SYMBOL]), 2.0)  # this one goes
            assert client.limiter.limits_known
            assert client.limiter.wait_ms(20) == 0  # 1,291 of 100,000


@pytest.mark.asyncio
async def test_a_read_whose_answer_is_lost_is_asked_again(venue, http):
    venue.faults.update(drop_before=0.5, seed=11)
    http.max_retries = 8
    for _ in range(10):
        assert (await http.account()).balances
    assert venue.faults.counts["dropped_before"] > 0  # some answers were lost, none surfaced


@pytest.mark.asyncio
async def test_the_venues_answers_parse_into_zq_statuses(venue, http):
    from zq.adapters.binance.enums import (
        order_type_to_binance,
        parse_order_status,
        parse_order_type,
    )
    from zq.model.enums import OrderStatus, OrderType

    venue.set_levels(SYMBOL, bids=[(Decimal("100.00"), Decimal("1"))], asks=[(Decimal("101.00"), Decimal("1"))])
    maker = await http.new_order(SYMBOL, "BUY", order_type_to_binance(OrderType.LIMIT, post_only=True), quantity="0.1", price="99", client_order_id="pm")
    assert parse_order_status(maker.status) is OrderStatus.ACCEPTED
    assert parse_order_type(maker.type) == (OrderType.LIMIT, True)
    # A post-only order that would take liquidity is refused by the venue (-2010).
    with pytest.raises(BinanceError) as info:
        await http.new_order(SYMBOL, "BUY", "LIMIT_MAKER", quantity="0.1", price="101", client_order_id="pm-cross")
    assert info.value.code == -2010
    canceled = await http.cancel_order(SYMBOL, client_order_id="pm")
    assert parse_order_status(canceled.status) is OrderStatus.CANCELED
    taker = await http.new_order(SYMBOL, "BUY", "MARKET", quantity="0.1", client_order_id="tk")
    assert parse_order_status(taker.status) is OrderStatus.FILLED


async def _resting(venue, http, client_order_id, price="99"):
    venue.set_levels(SYMBOL, bids=[(Decimal("100.00"), Decimal("1"))], asks=[(Decimal("101.00"), Decimal("1"))])
    return await http.new_order(SYMBOL, "BUY", "LIMIT", quantity="0.1", price=price, time_in_force="GTC", client_order_id=client_order_id)


@pytest.mark.asyncio
async def test_cancel_replace_modifies_an_order(venue, http):
    await _resting(venue, http, "mod-1")
    result = await http.cancel_replace_order(
        SYMBOL, "BUY", "LIMIT", cancel_client_order_id="mod-1", quantity="0.2", price="98.50",
        time_in_force="GTC", client_order_id="mod-2",
    )
    assert (result.cancel_result, result.new_order_result) == ("SUCCESS", "SUCCESS")
    assert result.canceled().client_order_id != "mod-2" and result.canceled().status == "CANCELED"
    placed = result.placed()
    assert placed.client_order_id == "mod-2" and Decimal(placed.price) == Decimal("98.5")
    assert [o.client_order_id for o in await http.open_orders(SYMBOL)] == ["mod-2"]
    assert http.limiter.used(RateLimitKind.ORDERS, 10_000) == 2  # the replace counts as an order


@pytest.mark.asyncio
async def test_cancel_replace_of_an_unknown_order_fails_whole_or_in_part(venue, http):
    from zq.adapters.binance.errors import BinanceCancelReplaceError

    venue.set_levels(SYMBOL, bids=[(Decimal("100.00"), Decimal("1"))], asks=[(Decimal("101.00"), Decimal("1"))])
    with pytest.raises(BinanceCancelReplaceError) as info:
        await http.cancel_replace_order(
            SYMBOL, "BUY", "LIMIT", cancel_client_order_id="nope", quantity="0.1", price="99",
            time_in_force="GTC", client_order_id="r-1",
        )
    assert info.value.code == -2022
    assert (info.value.result.cancel_result, info.value.result.new_order_result) == ("FAILURE", "NOT_ATTEMPTED")
    assert info.value.result.cancel_error().code == -2011
    assert info.value.result.placed() is None
    # ALLOW_FAILURE: the new order goes in although the cancel failed (-2021, partial).
    with pytest.raises(BinanceCancelReplaceError) as info:
        await http.cancel_replace_order(
            SYMBOL, "BUY", "LIMIT", cancel_client_order_id="nope", mode="ALLOW_FAILURE",
            quantity="0.1", price="99", time_in_force="GTC", client_order_id="r-2",
        )
    assert info.value.code == -2021
    assert info.value.result.placed().client_order_id == "r-2"
    assert [o.client_order_id for o in await http.open_orders(SYMBOL)] == ["r-2"]


@pytest.mark.asyncio
async def test_cancel_open_orders_and_all_orders(venue, http):
    await _resting(venue, http, "a-1")
    await _resting(venue, http, "a-2", price="98")
    canceled = await http.cancel_open_orders(SYMBOL)
    assert sorted(o.orig_client_order_id for o in canceled) == ["a-1", "a-2"]
    assert {o.status for o in canceled} == {"CANCELED"}
    assert await http.open_orders(SYMBOL) == []
    everything = await http.all_orders(SYMBOL)
    assert [o.client_order_id for o in everything] == ["a-1", "a-2"]
    assert {o.status for o in everything} == {"CANCELED"}


@pytest.mark.asyncio
async def test_send_new_order_writes_at_once_when_it_can_and_answers_as_new_order(venue, http):
    venue.set_levels(SYMBOL, bids=[(Decimal("100.00"), Decimal("1"))], asks=[(Decimal("101.00"), Decimal("1"))])
    await http.server_time()  # a connection is open and idle now
    orders_before = http.limiter.used(RateLimitKind.ORDERS, 10_000)
    sent = http.send_new_order(
        SYMBOL, "BUY", "LIMIT", quantity="0.1", price="99", time_in_force="GTC",
        client_order_id="zq-now", response_type="FULL",
    )
    assert sent is not None
    assert http.limiter.used(RateLimitKind.ORDERS, 10_000) == orders_before + 1  # counted
    # No idle connection left: a second one does not go now (and is neither sent nor counted).
    assert http.send_new_order(SYMBOL, "BUY", "LIMIT", quantity="0.1", price="98",
                               time_in_force="GTC", client_order_id="zq-later") is None
    assert http.limiter.used(RateLimitKind.ORDERS, 10_000) == orders_before + 1
    placed = await http.answer(sent, OrderResponse)
    assert placed.client_order_id == "zq-now" and placed.status == "NEW"
    assert (await http.query_order(SYMBOL, client_order_id="zq-now")).order_id == placed.order_id
    with pytest.raises(BinanceError) as refused:  # a refusal raises as new_order's does
        sent = http.send_new_order(SYMBOL, "BUY", "LIMIT", quantity="0.1", price="99",
                                   time_in_force="GTC", client_order_id="zq-now")
        assert sent is not None
        await http.answer(sent, OrderResponse)
    assert refused.value.code is not None and refused.value.status == 400


@pytest.mark.asyncio
async def test_a_sent_order_whose_answer_is_dropped_is_an_unknown_status(venue, http):
    venue.set_levels(SYMBOL, bids=[(Decimal("100.00"), Decimal("1"))], asks=[(Decimal("101.00"), Decimal("1"))])
    await http.server_time()
    venue.faults.update(drop_after=1.0)
    sent = http.send_new_order(SYMBOL, "BUY", "LIMIT", quantity="0.1", price="99",
                               time_in_force="GTC", client_order_id="zq-now-lost")
    assert sent is not None
    with pytest.raises(BinanceUnknownStatusError) as info:
        await http.answer(sent, OrderResponse)
    assert info.value.endpoint == "POST /api/v3/order" and "signature" not in str(info.value)
    venue.faults.update(drop_after=0.0)
    assert (await http.query_order(SYMBOL, client_order_id="zq-now-lost")).status == "NEW"


@pytest.mark.asyncio
async def test_send_now_does_not_send_what_the_limiter_would_hold_or_without_credentials(venue, http):
    await http.server_time()
    http.limiter.block(5)  # as after a 429
    assert http.send_new_order(SYMBOL, "BUY", "MARKET", quantity="0.1", client_order_id="held") is None
    http.limiter._blocked_until_ms = 0
    async with BinanceHttpClient(venue.url) as anonymous:
        await anonymous.server_time()
        assert anonymous.send_new_order(SYMBOL, "BUY", "MARKET", quantity="0.1") is None


@pytest.mark.asyncio
async def test_a_new_order_written_from_its_template_is_the_general_ways_request(
    venue, http, monkeypatch
):
    # The same order at the same instant, written by send_new_order (prebuilt head and
    # tail, one HMAC over bytes) and by send_now (encode_params, Signer.sign, the
    # transport's request): the same bytes on the wire.
    from zq.adapters.binance import endpoints as ep
    from zq.adapters.binance import http as http_module
    from zq.adapters.binance.http import Security, _new_order_params

    venue.set_levels(SYMBOL, bids=[(Decimal("100.00"), Decimal("1"))], asks=[(Decimal("101.00"), Decimal("1"))])
    await http.server_time()
    written: list[bytes] = []

    class Recorded:  # the idle connection's socket transport, its writes kept
        def __init__(self, transport: asyncio.Transport) -> None:
            self.transport = transport

        def write(self, data: bytes) -> None:
            written.append(data)
            self.transport.write(data)

        def __getattr__(self, name: str) -> object:
            return getattr(self.transport, name)

    idle = http._transport._idle
    assert len(idle) == 1, "one idle connection, which both requests take in turn"
    connection = idle[0]
    monkeypatch.setattr(connection, "transport", Recorded(connection.transport))
    monkeypatch.setattr(http_module.time, "time_ns", lambda: 1_763_884_800_123_456_789)
    arguments = dict(quantity="0.1", price="99", time_in_force="GTC", client_order_id="zq-tpl")
    sent = http.send_new_order(SYMBOL, "BUY", "LIMIT", **arguments, response_type="FULL")
    assert sent is not None
    await asyncio.gather(http.answer(sent, OrderResponse), return_exceptions=True)
    params = _new_order_params(
        SYMBOL, "BUY", "LIMIT", "0.1", "99", "GTC", "zq-tpl", None, None, "FULL"
    )
    again = http.send_now(
        "POST", ep.ORDER, params, security=Security.SIGNED, weight=ep.WEIGHT_NEW_ORDER, orders=1
    )
    assert again is not None
    await asyncio.gather(http.answer(again, OrderResponse), return_exceptions=True)
    assert len(written) == 2 and written[0] == written[1]
    assert sent.query == again.query and b"&signature=" in written[0]


@pytest.mark.asyncio
async def test_a_client_order_id_to_quote_takes_the_general_way_and_is_placed(venue, http):
    venue.set_levels(SYMBOL, bids=[(Decimal("100.00"), Decimal("1"))], asks=[(Decimal("101.00"), Decimal("1"))])
    await http.server_time()
    sent = http.send_new_order(SYMBOL, "BUY", "LIMIT", quantity="0.1", price="99",
                               time_in_force="GTC", client_order_id="zq:now/1")
    assert sent is not None and "zq%3Anow%2F1" in sent.query
    placed = await http.answer(sent, OrderResponse)
    assert placed.client_order_id == "zq:now/1" and placed.status == "NEW"


@pytest.mark.asyncio
async def test_the_order_writer_has_its_frame_from_the_connect_on(venue, http):
    # The first order does not make the request's head and tail: connect did, for the
    # transport it made (and makes them again for a new transport after a close).
    writer, transport = http._order_writer, http._transport
    assert writer is not None and transport is not None
    assert writer.transport is transport
    await http.close()
    await http.connect()
    assert http._transport is not transport and writer.transport is http._transport
    sent = http.send_new_order(SYMBOL, "BUY", "LIMIT", quantity="0.1", price="99", time_in_force="GTC")
    assert sent is None  # no idle connection yet: nothing written, nothing counted


@pytest.mark.asyncio
async def test_the_writers_send_new_order_is_the_rest_clients(venue, http, monkeypatch):
    # The execution client's call: the compiled writer's send_new_order, given the REST
    # client, writes what http.send_new_order (its reference) writes at the same instant and
    # returns the same SentRequest; held, it writes and counts nothing, as the reference.
    from zq.adapters.binance import http as http_module

    venue.set_levels(SYMBOL, bids=[(Decimal("100.00"), Decimal("1"))], asks=[(Decimal("101.00"), Decimal("1"))])
    await http.server_time()
    writer = http.order_writer
    assert writer is not None and writer is http._order_writer
    written: list[bytes] = []

    class Recorded:  # the idle connection's socket transport, its writes kept
        def __init__(self, transport: asyncio.Transport) -> None:
            self.transport = transport

        def write(self, data: bytes) -> None:
            written.append(data)
            self.transport.write(data)

        def __getattr__(self, name: str) -> object:
            return getattr(self.transport, name)

    connection = http._transport._idle[0]
    monkeypatch.setattr(connection, "transport", Recorded(connection.transport))
    monkeypatch.setattr(http_module.time, "time_ns", lambda: 1_763_884_800_123_456_789)
    orders_before = http.limiter.used(RateLimitKind.ORDERS, 10_000)
    sents = []
    for make in (
        lambda: writer.send_new_order(
            http, SYMBOL, "BUY", "STOP_LOSS_LIMIT", "0.1", "99", "GTC", "zq-w", "98.5", "FULL"
        ),
        lambda: http.send_new_order(
            SYMBOL, "BUY", "STOP_LOSS_LIMIT", quantity="0.1", price="99", time_in_force="GTC",
            client_order_id="zq-w", stop_price="98.5", response_type="FULL",
        ),
    ):
        sent = make()
        assert sent is not None
        sents.append(sent)
        await asyncio.gather(http.answer(sent, OrderResponse), return_exceptions=True)
    assert len(written) == 2 and written[0] == written[1] and b"stopPrice=98.5" in written[0]
    assert sents[0].query == sents[1].query and sents[0].call == sents[1].call
    assert http.limiter.used(RateLimitKind.ORDERS, 10_000) == orders_before + 2
    http.limiter.block(5)  # held: nothing written, nothing counted
    assert writer.send_new_order(
        http, SYMBOL, "BUY", "MARKET", "0.1", None, None, "zq-held", None, "ACK"
    ) is None
    assert len(written) == 2 and http.limiter.used(RateLimitKind.ORDERS, 10_000) == orders_before + 2


@pytest.mark.asyncio
async def test_the_writers_send_new_order_leaves_the_rest_to_the_rest_client(venue, http):
    # A client order id to quote (the Python path's) and a transport the writer has no frame
    # for are http.send_new_order's: placed as it places them.
    venue.set_levels(SYMBOL, bids=[(Decimal("100.00"), Decimal("1"))], asks=[(Decimal("101.00"), Decimal("1"))])
    await http.server_time()
    writer = http.order_writer
    assert writer is not None
    sent = writer.send_new_order(
        http, SYMBOL, "BUY", "LIMIT", "0.1", "99", "GTC", "zq:w/1", None, "FULL"
    )
    assert sent is not None and "zq%3Aw%2F1" in sent.query
    placed = await http.answer(sent, OrderResponse)
    assert placed.client_order_id == "zq:w/1" and placed.status == "NEW"
    writer.set_frame(object(), b"POST /api/v3/order?", b"")  # made for another transport
    sent = writer.send_new_order(
        http, SYMBOL, "BUY", "LIMIT", "0.1", "98", "GTC", "zq-w2", None, "FULL"
    )
    assert sent is not None and writer.transport is http._transport  # the reference remade it
    placed = await http.answer(sent, OrderResponse)
    assert placed.client_order_id == "zq-w2" and placed.status == "NEW"
