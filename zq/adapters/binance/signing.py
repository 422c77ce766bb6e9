"""HMAC-SHA256 signatures of Binance ``SIGNED`` requests.

Binance signs the exact ``totalParams`` text it receives: the query string, URL-encoded,
in the order sent, then the body. zq sends every parameter in the query string, so the
signed text is the query string itself, and ``signature`` is appended as its last
parameter.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Final, Protocol, cast
from urllib.parse import quote_plus

__all__ = ["ParamValue", "Signer", "encode_params"]

ParamValue = str | int | bool

#: Characters ``quote_plus`` leaves as they are: such a text is its own encoding.
_UNRESERVED: Final = re.compile(r"[A-Za-z0-9_.\-~]*")


def encode_params(params: Mapping[str, ParamValue | None]) -> str:
    """Return ``params`` as a URL-encoded query string, in their order; None values omitted.

    Booleans are written ``true`` / ``false`` as Binance expects. The encoding is
    ``urllib.parse.urlencode``'s; when every name and value is made of unreserved characters
    only (symbols, numbers, decimals, client order ids: nearly always), one check of them
    all stands for the per-item quoting, which makes an order's query several times quicker
    to build.
    """
    parts: list[str] = []  # name, text, name, text, ...
    for name, value in params.items():
        if value is None:
            continue
        if value.__class__ is not str:
            value = ("true" if value else "false") if isinstance(value, bool) else str(value)
        parts.append(name)
        parts.append(value)
    pairs = iter(parts)
    if _UNRESERVED.fullmatch("".join(parts)) is not None:
        return "&".join([f"{name}={text}" for name, text in zip(pairs, pairs, strict=True)])
    unreserved = _UNRESERVED.fullmatch
    return "&".join(
        [
            f"{name if unreserved(name) else quote_plus(name)}="
            f"{text if unreserved(text) else quote_plus(text)}"
            for name, text in zip(pairs, pairs, strict=True)
        ]
    )


class _Hash(Protocol):
    def copy(self) -> _Hash: ...
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


def _sha256_type() -> Callable[[bytes], _Hash]:
    # CPython's own SHA-256 (``_sha256``; ``_sha2`` from 3.12) rather than OpenSSL's: the
    # same digest, but a copy is a copy of 32 bytes of state and a block is hashed by one
    # small C function, where OpenSSL's HMAC goes through its provider layers (contexts
    # duplicated, freed and cleansed per signature). The instruction counts are alike; the
    # code and data a signature touches are a fraction, which is what a signature costs
    # when it runs with cold caches, between two quotes of a quiet market (about 33 -> 16
    # us, benchmarks/bench_live.py --only loop --cold-mb 40).
    for name in ("_sha256", "_sha2"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        constructor = getattr(module, "sha256", None)
        if constructor is not None:
            return cast(Callable[[bytes], _Hash], constructor)
    return cast(Callable[[bytes], _Hash], hashlib.sha256)


_SHA256: Final = _sha256_type()
_BLOCK: Final = 64  # SHA-256's block size, HMAC's key length


class Signer:
    """Sign query strings with one secret: HMAC-SHA256 (RFC 2104).

    The hash states after the key's inner and outer blocks are computed once; a signature
    copies them, hashes the payload into the inner one and its digest into the outer one.

    Parameters
    ----------
    secret
        The API secret, as bytes (see ``BinanceCredentials.secret_bytes``).
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: bytes) -> None:
        if len(secret) > _BLOCK:
            secret = hashlib.sha256(secret).digest()
        key = secret.ljust(_BLOCK, b"\0")
        self._inner = _SHA256(bytes(byte ^ 0x36 for byte in key))
        self._outer = _SHA256(bytes(byte ^ 0x5C for byte in key))

    def signature(self, payload: str) -> str:
        """Return the lower-case hex HMAC-SHA256 of ``payload``."""
        inner = self._inner.copy()
        inner.update(payload.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def signature_of(self, payload: bytes) -> bytes:
        """Return the lower-case hex HMAC-SHA256 of ``payload``, as ASCII bytes."""
        inner = self._inner.copy()
        inner.update(payload)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest().encode("ascii")

    def sign(self, query: str) -> str:
        """Return ``query`` with ``signature=...`` appended."""
        signature = self.signature(query)
        return f"{query}&signature={signature}" if query else f"signature={signature}"

    def __repr__(self) -> str:
        return "Signer(<hidden>)"
