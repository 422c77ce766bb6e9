"""Type stubs for zq_core.quote_feed: quotes handed to the DataEngine's quote path in C."""

from collections.abc import Callable
from typing import Any

from zq_core.bus import MessageBus

__all__ = ["QuoteFeed"]

class QuoteFeed:
    """Hand quotes to the DataEngine's quote path; the rest to ``fallback``."""

    fallback: Callable[[Any], object]
    @property
    def count(self) -> int:
        """Quotes handed to the feed."""
    def __init__(self, fallback: Callable[[Any], object]) -> None: ...
    def bind(
        self,
        fallback: Callable[[Any], object],
        bus: MessageBus | None = None,
        quotes: dict[Any, Any] | None = None,
        stale_quotes: dict[Any, Any] | None = None,
        topics: dict[Any, str] | None = None,
    ) -> None:
        """Process quotes in C from now on (every one to ``fallback`` without ``bus``)."""
    @property
    def bound(self) -> bool:
        """Whether quotes are processed here."""
    def __call__(self, quote: Any) -> None: ...
