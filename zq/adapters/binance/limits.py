"""Client-side rate limiting: request weight, raw requests and order counts per interval.

Binance counts each limit in fixed intervals of its own clock (a 1-minute weight interval
starts on the minute) and reports the running count in response headers
(``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S``, ``X-MBX-ORDER-COUNT-1D``).
:class:`RateLimiter` keeps the same counters, takes the larger of its own count and the
header's, and makes a request wait for the next interval rather than exceed a limit. After
a 429 or 418 it holds every request until ``Retry-After`` has passed.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from zq.adapters.binance.endpoints import (
    HEADER_ORDER_COUNT_PREFIX,
    HEADER_USED_WEIGHT_PREFIX,
)
from zq_core.binance_request import RateWindows

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "RateLimit",
    "RateLimitKind",
    "RateLimiter",
    "interval_suffix",
    "wall_time_ms",
]

_log = logging.getLogger("zq.adapters.binance")

_INTERVAL_MS: Final = {"S": 1_000, "M": 60_000, "H": 3_600_000, "D": 86_400_000}
_INTERVAL_NAMES: Final = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}


def wall_time_ms() -> int:
    """Return the wall time in UNIX milliseconds."""
    return time.time_ns() // 1_000_000


class RateLimitKind(enum.StrEnum):
    """What a limit counts (Binance's ``rateLimitType``)."""

    REQUEST_WEIGHT = "REQUEST_WEIGHT"  # the weight of each request, per IP
    RAW_REQUESTS = "RAW_REQUESTS"  # one per request, per IP
    ORDERS = "ORDERS"  # one per order placed, per account


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One limit: at most ``limit`` units of ``kind`` per ``interval_ms``."""

    kind: RateLimitKind
    interval_ms: int
    limit: int

    def __post_init__(self) -> None:
        if self.interval_ms <= 0 or self.limit <= 0:
            raise ValueError(f"a rate limit needs a positive interval and limit, got {self}")

    @classmethod
    def from_exchange_info(cls, entry: Mapping[str, Any]) -> RateLimit:
        """Build a limit from one ``rateLimits`` entry of ``exchangeInfo``.

        Raises
        ------
        ValueError
            Naming the entry and the field that is missing or invalid.
        """
        try:
            kind = RateLimitKind(entry["rateLimitType"])
            letter = _INTERVAL_NAMES[entry["interval"]]
            number = entry["intervalNum"]
            limit = entry["limit"]
        except (KeyError, ValueError) as error:
            raise ValueError(
                f"exchangeInfo rateLimits entry {dict(entry)!r}: bad {error}"
            ) from None
        if type(number) is not int or type(limit) is not int:
            raise ValueError(
                f"exchangeInfo rateLimits entry {dict(entry)!r}: intervalNum and limit must be "
                "integers"
            )
        return cls(kind, number * _INTERVAL_MS[letter], limit)


def interval_suffix(interval_ms: int) -> str:
    """Return the header suffix of an interval: ``60_000`` → ``"1M"``, ``10_000`` → ``"10S"``."""
    for letter in ("D", "H", "M", "S"):
        unit = _INTERVAL_MS[letter]
        if interval_ms % unit == 0:
            return f"{interval_ms // unit}{letter}"
    raise ValueError(f"interval {interval_ms} ms is not a whole number of seconds")


def _parse_suffix(suffix: str) -> int | None:
    number, letter = suffix[:-1], suffix[-1:].upper()
    if not number.isdigit() or letter not in _INTERVAL_MS:
        return None
    return int(number) * _INTERVAL_MS[letter]


#: What a header name means for the limits: (kind, interval, None when the suffix is not
#: an interval), or None for another header. A server sends the same few names every time:
#: they are read once.
_HeaderMeaning = tuple[RateLimitKind, int | None] | None
_HEADER_NAMES: dict[str, _HeaderMeaning] = {}
_HEADER_NAMES_MAX: Final = 1024
_UNSEEN: Final[Any] = object()


def _header_meaning(name: str) -> _HeaderMeaning:
    upper = name.upper()
    if upper.startswith(HEADER_USED_WEIGHT_PREFIX):
        return RateLimitKind.REQUEST_WEIGHT, _parse_suffix(upper[len(HEADER_USED_WEIGHT_PREFIX) :])
    if upper.startswith(HEADER_ORDER_COUNT_PREFIX):
        return RateLimitKind.ORDERS, _parse_suffix(upper[len(HEADER_ORDER_COUNT_PREFIX) :])
    return None


#: The limits a limiter keeps until the venue's are known (``exchangeInfo``'s ``rateLimits``).
#: Deliberately low: the lowest Binance has published for spot (1,200 weight and 6,100 raw
#: requests per IP, 50 orders per 10 s and 160,000 per day per account; it publishes 6,000,
#: 61,000, 100 and 200,000 today). An account or venue may have less than the published
#: figures, and a client that assumes too much before it knows is one that gets a 429, then
#: an IP ban. Start-up costs a few dozen weight, far below either.
DEFAULT_RATE_LIMITS: Final = (
    RateLimit(RateLimitKind.REQUEST_WEIGHT, 60_000, 1_200),
    RateLimit(RateLimitKind.RAW_REQUESTS, 300_000, 6_100),
    RateLimit(RateLimitKind.ORDERS, 10_000, 50),
    RateLimit(RateLimitKind.ORDERS, 86_400_000, 160_000),
)


_COST_INDEX: Final = {RateLimitKind.REQUEST_WEIGHT: 0, RateLimitKind.RAW_REQUESTS: 1}


def _cost_index(kind: RateLimitKind) -> int:
    """Which cost a limit counts, as :class:`RateWindows` reads it: 0 the request's weight,
    1 one per request, 2 its orders."""
    return _COST_INDEX.get(kind, 2)


class LimiterCounters:
    """What the limiter did."""

    __slots__ = ("_limiter", "blocks", "header_corrections", "waited_ms", "waits")

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter
        self.waits = 0  # requests that waited for the next interval
        self.waited_ms = 0
        self.blocks = 0  # back-offs after 429/418
        self.header_corrections = 0  # headers that reported more than the local count

    @property
    def acquired(self) -> int:
        """Requests admitted and counted."""
        return self._limiter.windows.acquired

    def __repr__(self) -> str:
        return (
            f"LimiterCounters(acquired={self.acquired}, waits={self.waits}, "
            f"waited_ms={self.waited_ms}, blocks={self.blocks}, "
            f"header_corrections={self.header_corrections})"
        )


class RateLimiter:
    """Keep requests under Binance's limits, waiting for the next interval when needed.

    The windows' counts live in C arrays (:attr:`windows`, a
    :class:`zq_core.binance_request.RateWindows`), which the compiled new-order writer checks
    and counts without a Python call; this class is their API.

    Parameters
    ----------
    limits
        The limits to respect. Default: the conservative :data:`DEFAULT_RATE_LIMITS` until
        the venue's are set (:meth:`set_limits`, which the REST client's ``exchange_info``
        calls with the venue's ``rateLimits``).
    time_ms
        The venue's clock in UNIX milliseconds (the REST client passes its server-time
        estimate); intervals are aligned on it.
    """

    def __init__(
        self,
        limits: Iterable[RateLimit] | None = None,
        *,
        time_ms: Callable[[], int] = wall_time_ms,
    ) -> None:
        self._time_ms = time_ms
        self._limits: tuple[RateLimit, ...] = ()
        # The windows of each (kind, interval) among the limits: read per answer's header.
        self._windows_of: dict[tuple[RateLimitKind, int], tuple[int, ...]] = {}
        #: The windows' state: for each limit in :attr:`limits`, its current interval and
        #: count; with the hold after a 429/418 and the number of requests admitted.
        self.windows = RateWindows(0)
        self.stats = LimiterCounters(self)
        #: Whether the limits in force came from the venue (or were given) rather than
        #: being the conservative defaults.
        self.limits_known = limits is not None
        self._set(DEFAULT_RATE_LIMITS if limits is None else limits)

    @property
    def time_ms(self) -> Callable[[], int]:
        """The clock the intervals are aligned on."""
        return self._time_ms

    def set_limits(self, limits: Iterable[RateLimit]) -> None:
        """Replace the limits (for example with those of ``exchangeInfo``), keeping counts.

        From then on :attr:`limits_known` is true.
        """
        self._set(limits)
        self.limits_known = True

    def _set(self, limits: Iterable[RateLimit]) -> None:
        limits = tuple(limits)
        old, before = self.windows, self._limits
        kept = {(limit.kind, limit.interval_ms): index for index, limit in enumerate(before)}
        windows = RateWindows(len(limits))
        for index, limit in enumerate(limits):
            start, used = -1, 0
            previous = kept.get((limit.kind, limit.interval_ms))
            if previous is not None:
                start, used = old.start_of(previous), old.used_of(previous)
            windows.set(
                index, _cost_index(limit.kind), limit.interval_ms, limit.limit, start, used
            )
        windows.blocked_until_ms = old.blocked_until_ms
        windows.acquired = old.acquired
        windows_of: dict[tuple[RateLimitKind, int], tuple[int, ...]] = {}
        for index, limit in enumerate(limits):
            key = (limit.kind, limit.interval_ms)
            windows_of[key] = (*windows_of.get(key, ()), index)
        self.windows, self._limits, self._windows_of = windows, limits, windows_of

    @property
    def limits(self) -> Sequence[RateLimit]:
        """The limits in force."""
        return self._limits

    def _indexes(self, kind: RateLimitKind, interval_ms: int) -> tuple[int, ...]:
        return self._windows_of.get((kind, interval_ms), ())

    def used(self, kind: RateLimitKind, interval_ms: int) -> int:
        """Return the units of ``kind`` used in the current interval of ``interval_ms``."""
        now = self._time_ms()
        for index in self._indexes(kind, interval_ms):
            self.windows.roll(index, now)
            return self.windows.used_of(index)
        raise KeyError(f"no {kind} limit per {interval_ms} ms")

    @property
    def blocked_until_ms(self) -> int:
        """Until when (venue time, ms) every request is held after a 429/418; 0 if never."""
        return self.windows.blocked_until_ms

    @property
    def _blocked_until_ms(self) -> int:
        return self.windows.blocked_until_ms

    @_blocked_until_ms.setter
    def _blocked_until_ms(self, value: int) -> None:
        self.windows.blocked_until_ms = value

    @staticmethod
    def _cost(limit: RateLimit, weight: int, orders: int) -> int:
        return (weight, 1, orders)[_cost_index(limit.kind)]

    def wait_ms(self, weight: int, orders: int = 0, *, learns_limits: bool = False) -> int:
        """Return how long a request of this cost would wait now (0: it may go).

        ``learns_limits``: the request reads the venue's limits (``exchangeInfo``) while
        they are not known; it waits only for a hold after a 429/418. The assumed limits
        cannot hold it: the venue's count of the IP's weight (taken from the headers, and
        raised by other processes on the same IP) may stay above them although the venue's
        real limit is far from reached, and the node could never learn it.
        """
        now = self._time_ms()
        if learns_limits and not self.limits_known:
            return max(0, self.windows.blocked_until_ms - now)
        return self.windows.wait_ms(now, weight, orders)

    async def acquire(self, weight: int, orders: int = 0, *, learns_limits: bool = False) -> None:
        """Wait until a request of ``weight`` placing ``orders`` orders fits, then count it.

        ``learns_limits``: see :meth:`wait_ms`.

        Raises
        ------
        ValueError
            If the cost exceeds a limit on its own (it would never fit).
        """
        for limit in self._limits:
            cost = self._cost(limit, weight, orders)
            if cost > limit.limit:
                raise ValueError(
                    f"a request costing {cost} can never fit the {limit.kind} limit of "
                    f"{limit.limit} per {interval_suffix(limit.interval_ms)}"
                )
        waited = False
        while True:
            wait = self.wait_ms(weight, orders, learns_limits=learns_limits)
            if wait <= 0:
                break
            if not waited:
                self.stats.waits += 1
                waited = True
            self.stats.waited_ms += wait
            # One extra millisecond: the venue's interval must have rolled when we send.
            await asyncio.sleep((wait + 1) / 1000)
        self.windows.count(weight, orders)

    def try_acquire(self, weight: int, orders: int = 0) -> bool:
        """Count a request of ``weight`` placing ``orders`` orders if it fits now; True if so.

        Nothing waits and nothing is counted when it returns False (then :meth:`acquire`,
        which waits, or raises for a request that can never fit, is the way).
        """
        if self.wait_ms(weight, orders) > 0:
            return False
        self.windows.count(weight, orders)
        return True

    def count(self, weight: int, orders: int = 0) -> None:
        """Count a request that :meth:`wait_ms` has just admitted (nothing awaited since)."""
        self.windows.count(weight, orders)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the venue's counts from response headers (case-insensitive names)."""
        now = self._time_ms()
        names = _HEADER_NAMES
        for name, value in headers.items():
            meaning = names.get(name, _UNSEEN)
            if meaning is _UNSEEN:
                meaning = _header_meaning(name)
                if len(names) < _HEADER_NAMES_MAX:
                    names[name] = meaning
            if meaning is None:
                continue
            kind, interval = meaning
            if interval is None or not value.strip().isdigit():
                _log.debug("ignoring rate-limit header %s: %r", name, value)
                continue
            count = int(value)
            windows = self.windows
            for index in self._windows_of.get((kind, interval), ()):
                windows.roll(index, now)
                if count > windows.used_of(index):
                    windows.set_used(index, count)
                    self.stats.header_corrections += 1

    def block(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a 429 or 418)."""
        until = self._time_ms() + max(0, int(seconds * 1000))
        if until > self.windows.blocked_until_ms:
            self.windows.blocked_until_ms = until
        self.stats.blocks += 1
