"""Binance spot rate limits: request weight per IP, new orders per account, and IP bans."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from zq.sandbox.config import VenueConfig
from zq.sandbox.errors import TOO_MANY_ORDERS, TOO_MANY_REQUESTS, BinanceError

__all__ = ["RateLimiter"]

_DAY = 86_400.0


@dataclass(slots=True)
class _Window:
    """A fixed window: it starts at the first use after the previous one ended."""

    length: float
    start: float = -math.inf
    used: int = 0

    def roll(self, now: float) -> None:
        if now >= self.start + self.length:
            self.start = now
            self.used = 0

    def retry_after(self, now: float) -> int:
        return max(1, math.ceil(self.start + self.length - now))


class RateLimiter:
    """Count request weight per IP and new orders per account, refusing what is over.

    Parameters
    ----------
    config : VenueConfig
        The limits.
    clock : Callable[[], float], optional
        Monotonic seconds (``time.monotonic`` by default).
    """

    def __init__(self, config: VenueConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._weights: dict[str, _Window] = {}
        self._violations: dict[str, int] = {}
        self._banned_until: dict[str, float] = {}
        self._orders: dict[str, tuple[_Window, _Window]] = {}

    def charge(self, ip: str, weight: int) -> int:
        """Add a request's weight for ``ip``; return the weight used in the window.

        Raises
        ------
        BinanceError
            -1003 with status 429 when the weight would pass the limit, 418 while banned
            (after ``ban_after`` refusals in one window).
        """
        now = self._clock()
        banned = self._banned_until.get(ip, 0.0)
        if now < banned:
            raise BinanceError(
                TOO_MANY_REQUESTS,
                f"Way too much request weight used; IP banned until {int(banned * 1000)}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
                status=418,
                retry_after=max(1, math.ceil(banned - now)),
            )
        window = self._weights.get(ip)
        if window is None:
            window = self._weights[ip] = _Window(self.config.weight_window)
        if now >= window.start + window.length:
            window.roll(now)
            self._violations[ip] = 0
        if window.used + weight > self.config.weight_limit:
            count = self._violations.get(ip, 0) + 1
            self._violations[ip] = count
            if count >= self.config.ban_after:
                self._banned_until[ip] = now + self.config.ban_seconds
            raise BinanceError(
                TOO_MANY_REQUESTS,
                f"Too much request weight used; current limit is {self.config.weight_limit} "
                f"request weight per {self.config.weight_window:g} SECOND. Please use "
                "WebSocket Streams for live updates to avoid polling the API.",
                retry_after=window.retry_after(now),
            )
        window.used += weight
        return window.used

    def used_weight(self, ip: str) -> int:
        """Return the weight ``ip`` used in its current window."""
        window = self._weights.get(ip)
        if window is None:
            return 0
        window.roll(self._clock())
        return window.used

    def count_order(self, api_key: str) -> tuple[int, int]:
        """Count a new order of an account; return the (10 s, 1 day) counts.

        Raises
        ------
        BinanceError
            -1015 (429) when either count is at its limit.
        """
        now = self._clock()
        windows = self._orders.get(api_key)
        if windows is None:
            windows = self._orders[api_key] = (_Window(10.0), _Window(_DAY))
        ten_seconds, day = windows
        config = self.config
        # The 10 s window is checked first, as Binance names it first.
        for window, limit, name in (
            (ten_seconds, config.orders_per_10s, "10 SECOND"),
            (day, config.orders_per_day, "1 DAY"),
        ):
            window.roll(now)
            if window.used >= limit:
                raise BinanceError(
                    TOO_MANY_ORDERS,
                    f"Too many new orders; current limit is {limit} orders per {name}.",
                    retry_after=window.retry_after(now),
                )
        ten_seconds.used += 1
        day.used += 1
        return ten_seconds.used, day.used

    def order_counts(self, api_key: str) -> tuple[int, int]:
        """Return an account's (10 s, 1 day) new-order counts."""
        windows = self._orders.get(api_key)
        if windows is None:
            return 0, 0
        now = self._clock()
        for window in windows:
            window.roll(now)
        return windows[0].used, windows[1].used
