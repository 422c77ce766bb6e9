"""The rate limiter on the real wall clock: counting, waiting for the next interval,
taking the venue's counts from headers, and holding requests after a 429/418."""

from __future__ import annotations

import asyncio

import pytest

from zq.adapters.binance.limits import (
    DEFAULT_RATE_LIMITS,
    RateLimit,
    RateLimiter,
    RateLimitKind,
    interval_suffix,
    wall_time_ms,
)

WEIGHT = RateLimitKind.REQUEST_WEIGHT
ORDERS = RateLimitKind.ORDERS


async def _start_of_a_second() -> None:
    """Wait until early in a wall-clock second, so a test's burst stays in one interval."""
    while wall_time_ms() % 1000 > 300:
        await asyncio.sleep(0.05)


def test_interval_suffixes_match_binance_header_names():
    assert interval_suffix(60_000) == "1M"
    assert interval_suffix(10_000) == "10S"
    assert interval_suffix(86_400_000) == "1D"
    assert interval_suffix(300_000) == "5M"


def test_limits_from_exchange_info_entries():
    entries = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
    ]
    limits = [RateLimit.from_exchange_info(entry) for entry in entries]
    assert limits == [
        RateLimit(WEIGHT, 60_000, 6000),
        RateLimit(ORDERS, 10_000, 100),
        RateLimit(ORDERS, 86_400_000, 200_000),
        RateLimit(RateLimitKind.RAW_REQUESTS, 300_000, 61000),
    ]


def test_before_the_venue_says_its_limits_the_limiter_keeps_conservative_ones():
    # Binance's lowest published spot limits: 1,200 weight per minute, 6,100 raw requests
    # per 5 minutes, 50 orders per 10 s, 160,000 per day (written out here, not read back).
    limiter = RateLimiter(time_ms=lambda: 1_000_000)
    assert not limiter.limits_known
    assert set(limiter.limits) == {
        RateLimit(WEIGHT, 60_000, 1_200),
        RateLimit(RateLimitKind.RAW_REQUESTS, 300_000, 6_100),
        RateLimit(ORDERS, 10_000, 50),
        RateLimit(ORDERS, 86_400_000, 160_000),
    }
    assert set(DEFAULT_RATE_LIMITS) == set(limiter.limits)
    # The clock stands still: the 51st order in the interval would wait for the next one.
    for _ in range(50):
        assert limiter.wait_ms(1, 1) == 0
        asyncio.run(limiter.acquire(1, 1))
    assert limiter.wait_ms(1, 1) == 10_000 - 1_000_000 % 10_000
    # Once the venue's limits are set they replace the defaults; counts are kept.
    limiter.set_limits([RateLimit(WEIGHT, 60_000, 6_000), RateLimit(ORDERS, 10_000, 100)])
    assert limiter.limits_known
    assert limiter.used(ORDERS, 10_000) == 50
    assert limiter.wait_ms(1, 1) == 0


def test_limits_given_at_construction_count_as_known():
    assert RateLimiter([RateLimit(WEIGHT, 1000, 10)]).limits_known


def test_malformed_exchange_info_limit_names_the_entry():
    with pytest.raises(ValueError, match=r"rateLimits entry .*'interval': 'WEEK'"):
        RateLimit.from_exchange_info(
            {"rateLimitType": "ORDERS", "interval": "WEEK", "intervalNum": 1, "limit": 5}
        )


@pytest.mark.asyncio
async def test_requests_within_the_limit_do_not_wait():
    await _start_of_a_second()
    limiter = RateLimiter([RateLimit(WEIGHT, 1000, 10)])
    for _ in range(5):
        await limiter.acquire(2)
    assert limiter.used(WEIGHT, 1000) == 10
    assert limiter.stats.waits == 0
    assert limiter.wait_ms(1) > 0  # one more unit would not fit this second


@pytest.mark.asyncio
async def test_a_request_over_the_limit_waits_for_the_next_interval():
    await _start_of_a_second()
    limiter = RateLimiter([RateLimit(WEIGHT, 1000, 10)])
    await limiter.acquire(10)
    second = wall_time_ms() // 1000
    await limiter.acquire(1)
    assert wall_time_ms() // 1000 > second  # it went in the next interval
    assert limiter.stats.waits == 1
    assert limiter.used(WEIGHT, 1000) == 1  # counted in the new interval


@pytest.mark.asyncio
async def test_orders_are_counted_on_their_own_limit():
    await _start_of_a_second()
    limiter = RateLimiter([RateLimit(WEIGHT, 60_000, 1000), RateLimit(ORDERS, 1000, 2)])
    await limiter.acquire(1, orders=1)
    await limiter.acquire(1, orders=1)
    assert limiter.wait_ms(1, orders=0) == 0  # a query does not count as an order
    assert limiter.wait_ms(1, orders=1) > 0
    second = wall_time_ms() // 1000
    await limiter.acquire(1, orders=1)
    assert wall_time_ms() // 1000 > second
    assert limiter.used(WEIGHT, 60_000) in (3, 1)  # 1 if the minute rolled meanwhile


@pytest.mark.asyncio
async def test_concurrent_requests_never_exceed_the_limit_together():
    await _start_of_a_second()
    limiter = RateLimiter([RateLimit(WEIGHT, 1000, 3)])
    seconds: list[int] = []

    async def one() -> None:
        await limiter.acquire(1)
        seconds.append(wall_time_ms() // 1000)

    await asyncio.gather(*(one() for _ in range(6)))
    per_second = {s: seconds.count(s) for s in seconds}
    assert max(per_second.values()) <= 3
    assert len(per_second) >= 2


def test_headers_raise_the_local_count_to_the_venues():
    limiter = RateLimiter()
    limiter.observe({"x-mbx-used-weight-1m": "1234", "X-MBX-ORDER-COUNT-10S": "7"})
    assert limiter.used(WEIGHT, 60_000) == 1234
    assert limiter.used(ORDERS, 10_000) == 7
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "12"})  # never lowers: requests may be in flight
    assert limiter.used(WEIGHT, 60_000) == 1234
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "oops", "X-MBX-USED-WEIGHT-7Q": "3"})  # ignored
    assert limiter.stats.header_corrections == 2


def test_a_header_reaches_the_windows_of_its_kind_and_interval_after_new_limits():
    limiter = RateLimiter([RateLimit(WEIGHT, 60_000, 1000)])
    # No limit per 10 s yet: the orders header has no window to correct.
    limiter.observe({"x-mbx-order-count-10s": "3", "x-mbx-used-weight-1m": "40"})
    with pytest.raises(KeyError):
        limiter.used(ORDERS, 10_000)
    # Two limits of one kind and interval (a venue may list both): the header corrects both.
    limiter.set_limits(
        [
            RateLimit(ORDERS, 10_000, 50),
            RateLimit(WEIGHT, 60_000, 1200),
            RateLimit(ORDERS, 10_000, 80),
        ]
    )
    limiter.observe({"x-mbx-order-count-10s": "9"})
    assert [limiter.windows.used_of(index) for index in range(3)] == [9, 40, 9]
    assert limiter.stats.header_corrections == 3  # the weight once, then both order windows


def test_a_cost_larger_than_a_limit_is_refused():
    limiter = RateLimiter([RateLimit(WEIGHT, 1000, 10)])
    with pytest.raises(ValueError, match="can never fit the REQUEST_WEIGHT limit of 10 per 1S"):
        asyncio.run(limiter.acquire(11))


@pytest.mark.asyncio
async def test_block_holds_every_request_until_retry_after():
    limiter = RateLimiter([RateLimit(WEIGHT, 60_000, 1000)])
    before = wall_time_ms()
    limiter.block(0.3)
    assert limiter.blocked_until_ms >= before + 300
    await limiter.acquire(1)
    assert wall_time_ms() >= before + 300
    assert limiter.stats.blocks == 1


def test_set_limits_keeps_the_counts_of_limits_that_stay():
    limiter = RateLimiter([RateLimit(WEIGHT, 60_000, 1000)])
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "500"})
    limiter.set_limits([RateLimit(WEIGHT, 60_000, 600), RateLimit(ORDERS, 10_000, 5)])
    assert limiter.used(WEIGHT, 60_000) == 500
    assert limiter.wait_ms(101) > 0


def test_the_request_that_learns_the_limits_is_held_only_by_a_429():
    now = [1_000_000]  # venue time, ms; its minute interval ends at 1_020_000
    limiter = RateLimiter(time_ms=lambda: now[0])
    # Another process on the IP used 1,500 weight this minute: above the assumed 1,200.
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "1500"})
    assert limiter.wait_ms(20) == 20_000  # an ordinary request waits for the next minute
    assert limiter.wait_ms(20, learns_limits=True) == 0  # exchangeInfo goes
    limiter.block(2.0)
    assert limiter.wait_ms(20, learns_limits=True) == 2_000  # the venue said wait: it waits
    now[0] += 2_000
    assert limiter.wait_ms(20, learns_limits=True) == 0
    # Known limits apply to every request again.
    limiter.set_limits([RateLimit(WEIGHT, 60_000, 1_510)])
    assert limiter.wait_ms(20, learns_limits=True) == 18_000
    assert limiter.wait_ms(10, learns_limits=True) == 0


@pytest.mark.asyncio
async def test_try_acquire_counts_what_fits_and_refuses_without_counting_what_does_not():
    await _start_of_a_second()
    limiter = RateLimiter([RateLimit(WEIGHT, 1000, 10), RateLimit(ORDERS, 1000, 1)])
    assert limiter.try_acquire(4, orders=1)
    assert limiter.used(WEIGHT, 1000) == 4 and limiter.used(ORDERS, 1000) == 1
    assert not limiter.try_acquire(1, orders=1)  # the order limit is reached this second
    assert not limiter.try_acquire(7)  # 4 + 7 > 10
    assert limiter.used(WEIGHT, 1000) == 4 and limiter.used(ORDERS, 1000) == 1
    assert limiter.stats.acquired == 1 and limiter.stats.waits == 0
    assert not limiter.try_acquire(11)  # can never fit: refused here, acquire() raises
    with pytest.raises(ValueError, match="never fit"):
        await limiter.acquire(11)
