"""Pure-Python reference (oracle) for the compiled bus's topic matching and dispatch order.

Written for obviousness, not speed: the compiled ``zq_core.bus`` is tested against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any


def reference_matches(pattern: str, topic: str) -> bool:
    """Return whether ``pattern`` matches the whole of ``topic``.

    ``*`` matches any run of characters (empty, dots included), ``?`` exactly one character,
    anything else itself. Defined by recursion on the first pattern character.
    """

    @cache
    def match(p: int, t: int) -> bool:
        if p == len(pattern):
            return t == len(topic)
        if pattern[p] == "*":
            # Either the star matches nothing more, or it swallows one more character.
            return match(p + 1, t) or (t < len(topic) and match(p, t + 1))
        if t < len(topic) and pattern[p] in ("?", topic[t]):
            return match(p + 1, t + 1)
        return False

    return match(0, 0)


@dataclass(frozen=True)
class ReferenceSubscription:
    pattern: str
    handler: Callable[[Any], object]
    priority: int
    sequence: int


def reference_dispatch_order(
    subscriptions: Iterable[ReferenceSubscription], topic: str
) -> list[ReferenceSubscription]:
    """Return the subscriptions that receive ``topic``: highest priority first, then oldest."""
    matching = [s for s in subscriptions if reference_matches(s.pattern, topic)]
    return sorted(matching, key=lambda s: (-s.priority, s.sequence))
