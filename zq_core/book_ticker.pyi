"""Type stubs for zq_core.book_ticker: bookTicker messages decoded into quotes in one pass."""

from collections.abc import Callable, Iterable
from typing import Any, final

from zq_core.fixed import Price, Quantity

__all__ = ["BookTickerDecoder", "FrameReader", "FrameTaker"]

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
    @property
    def on_quote(self) -> Callable[[Any], object] | None:
        """What ``take`` hands each quote to."""
    def decode(self, payload: bytes, ts_init: int) -> Any | None:
        """Return the message as a quote, or None when it is not of the exact shape read here."""
    def take(self, payload: bytes, ts_init: int) -> bool:
        """Hand the message's quote to ``on_quote`` and return True; False when ``decode``
        returns None."""
    def __call__(self, payload: bytes, ts_init: int) -> bool:
        """The same as ``take``."""

@final
class FrameTaker:
    """Take a read holding one whole text frame of a routed bookTicker stream."""

    clock_ns: Callable[[], int]
    def __init__(
        self,
        clock_ns: Callable[[], int],
        stats: Any,
        failed: Callable[[bytes], object],
        max_bytes: int,
    ) -> None: ...
    @property
    def decoders(self) -> tuple[BookTickerDecoder, ...]:
        """The decoders offered each read, in order."""
    @decoders.setter
    def decoders(self, decoders: Iterable[BookTickerDecoder]) -> None: ...
    def take(self, data: bytes) -> bool:
        """Take the read (True) or leave it to the general way (False)."""

@final
class FrameReader:
    """A WebSocket connection's protocol while its reads are offered to a taker first."""

    @property
    def connection(self) -> Any:
        """The WebSocket connection whose reads these are."""
    @property
    def take(self) -> Callable[[bytes], bool]:
        """What each read is offered to."""
    def __init__(self, connection: Any, take: Callable[[bytes], bool] | FrameTaker) -> None: ...
    def data_received(self, data: bytes) -> None: ...
    def connection_made(self, transport: Any) -> None: ...
    def connection_lost(self, exc: Exception | None) -> None: ...
    def eof_received(self) -> bool | None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...
