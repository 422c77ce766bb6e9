"""Binance API credentials: read from the environment or from a private file, never shown.

The secret is kept on a private attribute; ``repr()`` and ``str()`` show the key's first and
last characters only and never the secret, so a credentials object that ends up in a log
line or a traceback leaks nothing.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Final, NoReturn

__all__ = [
    "DEFAULT_KEY_VARIABLE",
    "DEFAULT_SECRET_VARIABLE",
    "BinanceCredentials",
    "CredentialsError",
]

#: Environment variables :meth:`BinanceCredentials.from_env` reads by default.
DEFAULT_KEY_VARIABLE: Final = "BINANCE_API_KEY"
DEFAULT_SECRET_VARIABLE: Final = "BINANCE_API_SECRET"


class CredentialsError(ValueError):
    """Credentials that are missing, malformed or stored insecurely."""


def _check_text(value: object, what: str, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CredentialsError(f"{source}: {what} is missing or empty")
    value = value.strip()
    if not value.isprintable() or " " in value:
        raise CredentialsError(f"{source}: {what} contains spaces or control characters")
    return value


class BinanceCredentials:
    """An API key and its HMAC secret.

    Parameters
    ----------
    api_key
        The key sent in the ``X-MBX-APIKEY`` header.
    secret
        The secret that signs requests; never printed.

    Raises
    ------
    CredentialsError
        If either value is empty or contains whitespace or control characters.
    """

    __slots__ = ("_secret", "api_key")

    def __init__(self, api_key: str, secret: str) -> None:
        self.api_key = _check_text(api_key, "the API key", "credentials")
        self._secret = _check_text(secret, "the API secret", "credentials").encode("ascii")

    @property
    def secret_bytes(self) -> bytes:
        """The secret as bytes, for the signer only."""
        return self._secret

    @classmethod
    def from_env(
        cls,
        key_variable: str = DEFAULT_KEY_VARIABLE,
        secret_variable: str = DEFAULT_SECRET_VARIABLE,
        environ: Mapping[str, str] | None = None,
    ) -> BinanceCredentials:
        """Read the key and secret from environment variables.

        Raises
        ------
        CredentialsError
            Naming the variable that is unset or empty (never its value).
        """
        env = os.environ if environ is None else environ
        values = []
        for variable in (key_variable, secret_variable):
            value = env.get(variable)
            if value is None or not value.strip():
                raise CredentialsError(f"environment variable {variable} is unset or empty")
            values.append(_check_text(value, variable, "environment"))
        return cls(values[0], values[1])

    @classmethod
    def from_file(cls, path: str | Path) -> BinanceCredentials:
        """Read ``api_key`` and ``api_secret`` from a TOML file readable by its owner only.

        The file must not be readable or writable by the group or others (``chmod 600``),
        as ssh refuses a private key that others can read.

        Raises
        ------
        CredentialsError
            If the file is missing, too open, not TOML, or lacks one of the two keys.
        """
        path = Path(path)
        try:
            mode = path.stat().st_mode
        except OSError as error:
            raise CredentialsError(f"{path}: cannot read credentials: {error.strerror}") from None
        if not stat.S_ISREG(mode):
            raise CredentialsError(f"{path}: credentials must be a regular file")
        if mode & 0o077:
            raise CredentialsError(
                f"{path}: permissions {stat.S_IMODE(mode):04o} let others read the secret; "
                "run chmod 600 on it"
            )
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            # The parser's message may quote the line, and the line may hold the secret.
            line = getattr(error, "lineno", None)
            where = f" (line {line})" if line else ""
            raise CredentialsError(f"{path}: not a valid TOML file{where}") from None
        source = str(path)
        return cls(
            _check_text(document.get("api_key"), "field api_key", source),
            _check_text(document.get("api_secret"), "field api_secret", source),
        )

    def __repr__(self) -> str:
        key = self.api_key
        shown = f"{key[:4]}…{key[-4:]}" if len(key) > 12 else "…"
        return f"BinanceCredentials(api_key={shown!r}, secret=<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("BinanceCredentials cannot be pickled: the secret stays in process")
