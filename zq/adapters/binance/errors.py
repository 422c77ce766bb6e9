"""Errors of the Binance adapter: what the venue answered, where, and whether it acted.

No error carries the API secret or a signed query: the endpoint is named by method and
path only.
"""

from __future__ import annotations

from zq.adapters.binance.schemas import CancelReplaceResult

__all__ = [
    "BinanceCancelReplaceError",
    "BinanceError",
    "BinanceIpBannedError",
    "BinanceProtocolError",
    "BinanceRateLimitError",
    "BinanceStreamError",
    "BinanceUnknownStatusError",
]


class BinanceError(Exception):
    """A request refused by Binance, with its error ``code`` and ``msg``.

    Attributes
    ----------
    code
        Binance's error code (negative), or None when the answer had none.
    msg
        Binance's message.
    status
        The HTTP status of the answer (0 when there was no answer).
    endpoint
        ``METHOD /path`` of the request (no parameters, so no signature).
    data
        The answer's ``data`` object as JSON, when it had one (cancel-replace failures).
    """

    def __init__(
        self, code: int | None, msg: str, status: int, endpoint: str, data: bytes | None = None
    ) -> None:
        self.code = code
        self.msg = msg
        self.status = status
        self.endpoint = endpoint
        self.data = data
        super().__init__(self._describe())

    def _describe(self) -> str:
        code = f" code {self.code}" if self.code is not None else ""
        return f"{self.endpoint}: HTTP {self.status}{code}: {self.msg}"


class BinanceRateLimitError(BinanceError):
    """HTTP 429: a rate limit was broken; nothing was executed.

    ``retry_after`` is the wait in seconds Binance asked for (``Retry-After``).
    """

    def __init__(
        self, code: int | None, msg: str, status: int, endpoint: str, retry_after: float
    ) -> None:
        self.retry_after = retry_after
        super().__init__(code, msg, status, endpoint)

    def _describe(self) -> str:
        return f"{super()._describe()} (retry after {self.retry_after:g} s)"


class BinanceIpBannedError(BinanceRateLimitError):
    """HTTP 418: the IP is banned for ``retry_after`` seconds after ignoring 429s."""


class BinanceCancelReplaceError(BinanceError):
    """A cancel-replace that failed in part (-2021) or whole (-2022).

    ``result`` says which half failed and why; with -2021 one
    half succeeded: the order was canceled and not replaced, or (``ALLOW_FAILURE``) the
    new order was placed although the cancel failed.
    """

    def __init__(
        self, code: int | None, msg: str, status: int, endpoint: str, result: CancelReplaceResult
    ) -> None:
        self.result = result
        super().__init__(code, msg, status, endpoint)


class BinanceUnknownStatusError(BinanceError):
    """The request may or may not have been executed: no answer, a timeout, or a 5xx.

    Binance documents that a 503 with "Unknown error" (and a lost response) leaves the
    execution status unknown: ask the venue (for an order, by its client order id) before
    assuming anything.
    """


class BinanceProtocolError(BinanceError):
    """An answer that does not have the documented shape (bad JSON, a missing field)."""


class BinanceStreamError(ValueError):
    """A WebSocket message that does not have the documented shape.

    Names the stream, the field and the value, as loaders name file, line and field.
    """

    def __init__(
        self, stream: str, problem: str, field: str | None = None, value: object = None
    ) -> None:
        self.stream = stream
        self.problem = problem
        self.field = field
        self.value = value
        where = f" field {field}" if field else ""
        shown = f" (got {value!r})" if value is not None else ""
        super().__init__(f"stream {stream}{where}: {problem}{shown}")
