"""The rate limiter on a hand-driven clock: windows roll, bans end."""

from __future__ import annotations

import pytest

from zq.sandbox import BinanceError, VenueConfig
from zq.sandbox.limits import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_weight_window_rolls_after_its_length():
    clock = Clock()
    limiter = RateLimiter(VenueConfig(weight_limit=10, weight_window=60), clock)
    assert [limiter.charge("ip", 4) for _ in range(2)] == [4, 8]
    with pytest.raises(BinanceError) as caught:
        limiter.charge("ip", 4)
    # The window started at 1000 s and ends at 1060 s.
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (429, -1003, 60)
    clock.now += 30
    with pytest.raises(BinanceError) as caught:
        limiter.charge("ip", 4)
    assert caught.value.retry_after == 30
    clock.now += 30
    assert limiter.charge("ip", 4) == 4
    assert limiter.charge("other", 1) == 1  # per IP


def test_ban_after_repeated_refusals_ends_after_ban_seconds():
    clock = Clock()
    limiter = RateLimiter(VenueConfig(weight_limit=1, ban_after=2, ban_seconds=120), clock)
    limiter.charge("ip", 1)
    for _ in range(2):
        with pytest.raises(BinanceError):
            limiter.charge("ip", 1)
    clock.now += 100  # the weight window is over, the ban is not
    with pytest.raises(BinanceError) as caught:
        limiter.charge("ip", 1)
    assert (caught.value.status, caught.value.retry_after) == (418, 20)
    clock.now += 20
    assert limiter.charge("ip", 1) == 1


def test_order_counts_per_ten_seconds_and_per_day():
    clock = Clock()
    limiter = RateLimiter(VenueConfig(orders_per_10s=2, orders_per_day=3), clock)
    assert [limiter.count_order("key") for _ in range(2)] == [(1, 1), (2, 2)]
    with pytest.raises(BinanceError) as caught:
        limiter.count_order("key")
    assert (caught.value.code, caught.value.status) == (-1015, 429)
    clock.now += 10
    assert limiter.count_order("key") == (1, 3)
    clock.now += 10
    with pytest.raises(BinanceError) as caught:
        limiter.count_order("key")
    assert "1 DAY" in caught.value.msg
    assert limiter.order_counts("key") == (0, 3)
