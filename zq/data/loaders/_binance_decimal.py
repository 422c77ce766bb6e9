"""Decimal strings to fixed-point integers, one at a time or in bulk (private).

Binance writes prices and sizes as JSON strings (``"61800.20"``). The capture loader gathers
them per chunk into one buffer of quoted tokens and scans it with numpy (:class:`Tokens`),
with no Python object per value. :func:`decimal_to_raw` is the exact one-value reference:
the bulk scan defers to it for anything unusual, so the two never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["DECIMAL", "DIGITS_AND_DOT", "TokenError", "Tokens", "decimal_to_raw"]

Int64Array = npt.NDArray[np.int64]

#: A non-negative decimal as Binance writes one: digits, then maybe a dot and digits.
DECIMAL: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?\Z")
#: The bytes a decimal token is made of.
DIGITS_AND_DOT: Final = b"0123456789."
_INT64_MAX: Final = 2**63 - 1
_POW10 = np.array([10**i for i in range(19)], dtype=np.int64)


def decimal_to_raw(text: str, precision: int) -> int:
    """Return the non-negative decimal ``text`` as a raw integer at ``precision``.

    Parameters
    ----------
    text
        Digits with an optional fraction, as Binance writes prices and sizes: ``"61800.20"``.
    precision
        Decimal places of the result: the value is ``raw / 10**precision``.

    Raises
    ------
    ValueError
        If ``text`` is not a plain decimal, needs more than ``precision`` decimals (trailing
        zeros beyond the precision are accepted: ``"61800.20"`` at precision 1 is 618002), or
        does not fit in int64.
    """
    if not DECIMAL.match(text):
        raise ValueError(f"{text!r} is not a non-negative decimal number")
    whole, _, fraction = text.partition(".")
    if len(fraction) > precision:
        if fraction[precision:].strip("0"):
            raise ValueError(
                f"{text!r} has more than {precision} decimals; pass a larger precision"
            )
        fraction = fraction[:precision]
    raw = int(whole + fraction.ljust(precision, "0"))
    if raw > _INT64_MAX:
        raise ValueError(f"{text!r} at precision {precision} does not fit in int64")
    return raw


class TokenError(ValueError):
    """A token of a decimal buffer is malformed; ``index`` is its position."""

    def __init__(self, index: int, text: str, problem: str) -> None:
        self.index = index
        self.text = text
        self.problem = problem
        super().__init__(problem)


class Tokens:
    """Quoted decimal tokens of one buffer, scanned in bulk (digits, decimals, value).

    Tokens of the wrong shape (anything but digits with at most one inner dot) are marked
    ``bad``; :meth:`scale` refuses the first token, in order, that the exact parser refuses.
    """

    __slots__ = ("bad", "buf", "count", "decimals", "digits", "ends", "starts", "unscaled")

    def __init__(self, buf: bytes) -> None:
        # The caller guarantees the structure: tokens are delimited by '"' and digits and
        # dots only occur inside tokens.
        chars = np.frombuffer(buf, dtype=np.uint8)
        quotes = np.flatnonzero(chars == 34)
        if len(quotes) % 2:
            raise TokenError(len(quotes) // 2, "", "unterminated string")
        starts = quotes[0::2] + 1
        ends = quotes[1::2]
        count = len(ends)
        is_digit = (chars - np.uint8(48)) < 10
        digit_cum = np.zeros(len(chars) + 1, dtype=np.int64)
        np.cumsum(is_digit, out=digit_cum[1:])
        digits = digit_cum[ends] - digit_cum[starts]
        dots = np.flatnonzero(chars == 46)
        dot_token = np.searchsorted(ends, dots, side="right")
        if len(dots) and (dot_token[-1] >= count or np.any(dots < starts[dot_token])):
            raise TokenError(count, "", "a '.' outside a string")
        digit_positions = np.flatnonzero(is_digit)
        if len(digit_positions) != int(digits.sum()):
            raise TokenError(count, "", "digits outside a string")
        dot_count = np.bincount(dot_token, minlength=count)[:count]
        decimals = np.zeros(count, dtype=np.int64)
        decimals[dot_token] = ends[dot_token] - dots - 1
        bad = (digits == 0) | (dot_count > 1) | (digits + dot_count != ends - starts)
        if len(dots):
            edge = (dots == starts[dot_token]) | (dots == ends[dot_token] - 1)
            bad[dot_token[edge]] = True
        unscaled = np.zeros(count, dtype=np.int64)
        if len(digit_positions):
            # Each digit times 10 to the number of digits after it in its token, summed per
            # token (tokens past 18 digits are left to the exact parser).
            has_digits = digits > 0
            token_of_digit = np.repeat(np.arange(count), digits)
            exponent = (digit_cum[ends] - 1)[token_of_digit] - np.arange(len(digit_positions))
            contribution = (chars[digit_positions].astype(np.int64) - 48) * _POW10[
                np.minimum(exponent, 18)
            ]
            unscaled[has_digits] = np.add.reduceat(contribution, digit_cum[starts][has_digits])
        self.buf = buf
        self.count = count
        self.starts = starts
        self.ends = ends
        self.digits = digits
        self.decimals = decimals
        self.bad = bad
        self.unscaled = unscaled

    def max_decimals(self, slot: int, period: int) -> int:
        """Return the most decimals among good tokens ``slot, slot + period, ...`` (or -1)."""
        part = self.decimals[slot::period][~self.bad[slot::period]]
        return int(part.max()) if len(part) else -1

    def text(self, index: int) -> str:
        return self.buf[self.starts[index] : self.ends[index]].decode("utf-8", "replace")

    def scale(self, precisions: Sequence[int]) -> Int64Array:
        """Return every token as a raw integer, token ``i`` at ``precisions[i % period]``.

        Raises
        ------
        TokenError
            For the first token the exact parser (:func:`decimal_to_raw`) refuses.
        """
        period = len(precisions)
        target = np.tile(np.asarray(precisions, dtype=np.int64), -(-self.count // period))
        target = target[: self.count]
        shift = target - self.decimals
        values = self.unscaled.copy()
        up = shift >= 0
        slow = self.bad | (self.digits > 18)
        slow |= up & (self.digits + shift > 18)
        factor = _POW10[np.clip(np.abs(shift), 0, 18)]
        values[up] *= factor[up]
        down = ~up
        if down.any():
            remainder = values[down] % factor[down]
            slow[np.flatnonzero(down)[remainder != 0]] = True
            values[down] //= factor[down]
        for index in np.flatnonzero(slow).tolist():
            text = self.text(index)
            try:
                values[index] = decimal_to_raw(text, int(target[index]))
            except ValueError as error:
                raise TokenError(index, text, str(error)) from None
        return values
