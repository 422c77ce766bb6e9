"""Type stubs for zq_core.book_ticker: bookTicker messages decoded into quotes in one pass."""

from collections.abc import Callable
from typing import Any, final

from zq_core.fixed import Price, Quantity

__all__ = ["BookTickerDecoder"]

@final
class BookTickerDecoder:
    """Decode one stream's bookTicker messages into quotes; None for another shape."""

    def __init__(
        self,
        stream: str,
        symbol: str,
        instrument_id: Any,
        price_precision: int,
        size_precision: int,
        make: Callable[[Any, Price, Price, Quantity, Quantity, int, int], Any],
        on_quote: Callable[[Any], object] | None = None,
    ) -> None: ...
    def decode(self, payload: bytes, ts_init: int) -> Any | None:
        """Return the message as a quote, or None when it is not of the exact shape read here."""
    def take(self, payload: bytes, ts_init: int) -> bool:
        """Hand the message's quote to ``on_quote`` and return True; False when ``decode``
        returns None."""
