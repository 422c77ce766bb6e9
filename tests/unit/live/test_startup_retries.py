"""Which start-up failures a node tries again (zq.live.node._transient)."""

from __future__ import annotations

import pytest

from zq.adapters.binance.errors import (
    BinanceError,
    BinanceIpBannedError,
    BinanceProtocolError,
    BinanceRateLimitError,
    BinanceUnknownStatusError,
)
from zq.live.node import _transient

ENDPOINT = "GET /api/v3/account"


@pytest.mark.parametrize(
    "error",
    [
        BinanceUnknownStatusError(None, "no answer", 0, ENDPOINT),
        BinanceUnknownStatusError(-1001, "internal error", 503, ENDPOINT),
        BinanceRateLimitError(-1003, "too many requests", 429, ENDPOINT, 1.0),
        BinanceProtocolError(None, "not JSON", 502, ENDPOINT),
        TimeoutError(),
        ConnectionRefusedError(),
    ],
    ids=["no answer", "503", "429", "bad gateway body", "timeout", "refused connection"],
)
def test_failures_a_retry_may_change_are_transient(error: BaseException) -> None:
    assert _transient(error)


@pytest.mark.parametrize(
    "error",
    [
        BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401, ENDPOINT),
        BinanceError(-1022, "Signature for this request is not valid.", 400, ENDPOINT),
        BinanceIpBannedError(-1003, "banned", 418, ENDPOINT, 120.0),
        ValueError("not a network failure"),
    ],
    ids=["bad key", "bad signature", "IP ban", "other"],
)
def test_refusals_are_not_transient(error: BaseException) -> None:
    assert not _transient(error)
