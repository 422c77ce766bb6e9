"""Type stubs for zq_core.binance_request: a Binance new-order request checked, built,
signed and written by one compiled call."""

from typing import Any, final

__all__ = ["OrderRequestWriter", "RateWindows", "read_answer_head", "sha256"]

def sha256(data: bytes) -> bytes:
    """Return the SHA-256 digest of ``data`` (32 bytes)."""

def read_answer_head(buffer: bytearray, end: int) -> tuple[int, dict[str, str]] | None:
    """Return ``(status, headers)`` of the HTTP/1.x answer head ``buffer[:end]`` as the
    transport's Python reader does, or None for a head left to that reader."""

def _use_sha_extensions(use: bool) -> bool:
    """Use the CPU's SHA extensions when it has them, or the plain C rounds; return which."""

@final
class RateWindows:
    """The rate limiter's windows in C arrays (the state of ``RateLimiter``)."""

    blocked_until_ms: int
    acquired: int

    def __init__(self, size: int) -> None: ...
    def __len__(self) -> int: ...
    def set(
        self,
        index: int,
        cost_index: int,
        interval_ms: int,
        most: int,
        start_ms: int = -1,
        used: int = 0,
    ) -> None:
        """Set window ``index``: what it counts, its interval and limit, and its count."""
    def roll(self, index: int, now_ms: int) -> None:
        """Start window ``index``'s current interval at ``now_ms`` (count 0) if it changed."""
    def start_of(self, index: int) -> int:
        """The start of window ``index``'s current interval (-1 before the first)."""
    def used_of(self, index: int) -> int:
        """The units window ``index`` counted in its current interval."""
    def set_used(self, index: int, used: int) -> None:
        """Set window ``index``'s count."""
    def wait_ms(self, now_ms: int, weight: int, orders: int) -> int:
        """How long (ms) a request of this cost waits at ``now_ms``; 0: it may go."""
    def count(self, weight: int, orders: int) -> None:
        """Count a request :meth:`wait_ms` has just admitted."""

@final
class OrderRequestWriter:
    """Write signed new-order requests for one API secret."""

    @property
    def transport(self) -> Any:
        """The transport the request's head and tail were made for (None before)."""
    def __init__(self, secret: bytes) -> None: ...
    def signature_of(self, payload: bytes) -> bytes:
        """Return the lower-case hex HMAC-SHA256 of ``payload``, as ASCII bytes."""
    new_order_weight: int
    def set_frame(self, transport: Any, head: bytes, tail: bytes) -> None:
        """Take the request's head and tail made for ``transport``."""
    def send_new_order(
        self,
        http: Any,
        symbol: str,
        side: str,
        order_type: str,
        quantity: Any,
        price: Any,
        time_in_force: str | None,
        client_order_id: str | None,
        stop_price: Any,
        response_type: str,
    ) -> Any:
        """``http.send_new_order(...)`` with no Python frame before the write (a
        ``SentRequest`` or None)."""
    def write_new_order(
        self,
        windows: RateWindows,
        limiter_now: int | None,
        time_offset_ms: int,
        recv_window_ms: int,
        transport: Any,
        symbol: str | None,
        side: str | None,
        order_type: str | None,
        quantity: Any,
        price: Any,
        time_in_force: str | None,
        client_order_id: str | None,
        stop_price: Any,
        quote_order_qty: Any,
        response_type: str | None,
        weight: int,
        orders: int,
    ) -> tuple[bytes, Any] | None | Any:
        """Check the limiter, write the request and count it: ``(signed query, exchange)``;
        None when held or not written; ``NotImplemented`` for the Python path."""
