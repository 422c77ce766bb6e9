"""Binance spot API errors: a code, a message and the HTTP status the venue answers with."""

from __future__ import annotations

from typing import Final

__all__ = [
    "BAD_RECV_WINDOW",
    "DUPLICATE_ORDER",
    "FILTER_FAILURE",
    "ILLEGAL_CHARS",
    "INSUFFICIENT_BALANCE",
    "INVALID_API_KEY",
    "INVALID_LISTEN_KEY",
    "INVALID_SIGNATURE",
    "INVALID_SYMBOL",
    "INVALID_TIMESTAMP",
    "MANDATORY_PARAM",
    "NEW_ORDER_REJECTED",
    "NO_SUCH_ORDER",
    "TOO_MANY_ORDERS",
    "TOO_MANY_REQUESTS",
    "UNKNOWN",
    "UNKNOWN_ORDER",
    "BinanceError",
]

# Codes of the Binance spot error list.
UNKNOWN: Final = -1000
TOO_MANY_REQUESTS: Final = -1003
TOO_MANY_ORDERS: Final = -1015
UNSUPPORTED_OPERATION: Final = -1020
INVALID_TIMESTAMP: Final = -1021
INVALID_SIGNATURE: Final = -1022
ILLEGAL_CHARS: Final = -1100
MANDATORY_PARAM: Final = -1102
NOT_REQUIRED: Final = -1106
BAD_PRECISION: Final = -1111
INVALID_TIF: Final = -1115
INVALID_ORDER_TYPE: Final = -1116
INVALID_SIDE: Final = -1117
INVALID_SYMBOL: Final = -1121
INVALID_LISTEN_KEY: Final = -1125
BAD_RECV_WINDOW: Final = -1131
FILTER_FAILURE: Final = -1013
NEW_ORDER_REJECTED: Final = -2010
CANCEL_REJECTED: Final = -2011
NO_SUCH_ORDER: Final = -2013
API_KEY_FORMAT: Final = -2014
INVALID_API_KEY: Final = -2015

# Messages Binance sends with -2010 and -2011 (the code alone does not say which).
DUPLICATE_ORDER: Final = "Duplicate order sent."
INSUFFICIENT_BALANCE: Final = "Account has insufficient balance for requested action."
WOULD_TAKE: Final = "Order would immediately match and take."
UNKNOWN_ORDER: Final = "Unknown order sent."

_STATUS: Final = {
    TOO_MANY_REQUESTS: 429,
    TOO_MANY_ORDERS: 429,
    API_KEY_FORMAT: 401,
    INVALID_API_KEY: 401,
}


class BinanceError(Exception):
    """An error answered as ``{"code": code, "msg": msg}`` with an HTTP status.

    Parameters
    ----------
    code : int
        The Binance error code (negative).
    msg : str
        The message.
    status : int, optional
        The HTTP status (400 unless the code has its own: 401 for API keys, 429 for limits).
    """

    def __init__(
        self, code: int, msg: str, status: int | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status if status is not None else _STATUS.get(code, 400)
        self.retry_after = retry_after  # seconds, sent as Retry-After (429 and 418)

    def payload(self) -> dict[str, object]:
        """Return the JSON body."""
        return {"code": self.code, "msg": self.msg}

    @classmethod
    def mandatory(cls, name: str) -> BinanceError:
        """Return the error for a missing or empty parameter."""
        return cls(
            MANDATORY_PARAM,
            f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
        )

    @classmethod
    def illegal(cls, name: str, value: str) -> BinanceError:
        """Return the error for a parameter whose value cannot be read."""
        return cls(ILLEGAL_CHARS, f"Illegal characters found in parameter '{name}'; got {value!r}.")

    @classmethod
    def filter_failure(cls, name: str) -> BinanceError:
        """Return the error for an order that breaks a symbol filter."""
        return cls(FILTER_FAILURE, f"Filter failure: {name}")
