"""Models of the simulated exchange: fills (bar sweep), queue position, latency and fees."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal, Protocol

from zq.model.currency import Currency
from zq.model.enums import LiquiditySide
from zq.model.instruments import Instrument
from zq_core.fixed import Money, Price, Quantity

__all__ = [
    "ConservativeQueueModel",
    "FeeModel",
    "FillModel",
    "LatencyModel",
    "MakerTakerFeeModel",
    "ProbabilisticQueueModel",
    "QueueModel",
]

BarSweep = Literal["ohlc", "olhc", "nearest"]


@dataclass(frozen=True)
class FillModel:
    """How bars are swept into prices.

    Parameters
    ----------
    bar_sweep : {"ohlc", "olhc", "nearest"}
        Open→high→low→close, open→low→high→close, or the extreme nearer the open first
        (high on a tie). Every point is stamped at the bar's close.
    """

    bar_sweep: BarSweep = "ohlc"


@dataclass(frozen=True)
class ConservativeQueueModel:
    """Fill a resting order only after the volume displayed ahead of it has traded."""

    code: int = field(default=1, init=False)
    seed: int = field(default=0, init=False)


@dataclass(frozen=True)
class ProbabilisticQueueModel:
    """Like the conservative model, and cancels are ahead of us with probability ahead/size.

    Parameters
    ----------
    seed : int
        The seed of the random draws; the same seed gives the same fills.
    """

    seed: int = 0
    code: int = field(default=2, init=False)


QueueModel = ConservativeQueueModel | ProbabilisticQueueModel


class LatencyModel:
    """Order entry, cancel and acknowledgement latencies in nanoseconds.

    Each latency is a constant, or ``base + U(0, jitter)`` drawn from a seeded RNG.

    Parameters
    ----------
    entry_ns : int
        From submit or modify to the order's arrival at the matching core.
    cancel_ns : int
        From cancel to its arrival.
    ack_ns : int
        From an event at the venue to its delivery to ``on_event``.
    jitter_ns : int
        The width of a uniform jitter added to every latency (0: constant).
    seed : int
        The seed of the jitter.
    """

    def __init__(
        self,
        entry_ns: int = 0,
        cancel_ns: int | None = None,
        ack_ns: int = 0,
        *,
        jitter_ns: int = 0,
        seed: int = 0,
    ) -> None:
        for name, value in (("entry_ns", entry_ns), ("ack_ns", ack_ns), ("jitter_ns", jitter_ns)):
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        self.entry_ns = entry_ns
        self.cancel_ns = entry_ns if cancel_ns is None else cancel_ns
        if self.cancel_ns < 0:
            raise ValueError(f"cancel_ns must not be negative, got {cancel_ns}")
        self.ack_ns = ack_ns
        self.jitter_ns = jitter_ns
        self._rng = random.Random(seed)

    def _draw(self, base: int) -> int:
        if self.jitter_ns == 0:
            return base
        return base + self._rng.randrange(self.jitter_ns + 1)

    def entry(self) -> int:
        """Return the next order entry (submit, modify) latency."""
        return self.entry_ns if self.jitter_ns == 0 else self._draw(self.entry_ns)

    def cancel(self) -> int:
        """Return the next cancel latency."""
        return self.cancel_ns if self.jitter_ns == 0 else self._draw(self.cancel_ns)

    def ack(self) -> int:
        """Return the next acknowledgement latency."""
        return self.ack_ns if self.jitter_ns == 0 else self._draw(self.ack_ns)


class FeeModel(Protocol):
    """Compute the commission of a fill."""

    def commission(
        self,
        instrument: Instrument,
        quantity: Quantity,
        price: Price,
        liquidity_side: LiquiditySide,
    ) -> Money:
        """Return the commission of a fill, in the instrument's settlement currency."""
        ...


class MakerTakerFeeModel:
    """Charge the instrument's maker or taker fee rate on the fill's notional.

    Parameters
    ----------
    maker_fee, taker_fee : Decimal or None
        Override the instrument's rates (None: use them).
    """

    def __init__(self, maker_fee: Decimal | None = None, taker_fee: Decimal | None = None):
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        # Per rate object (by id, the rate kept to pin the id): the rate as an integer
        # over a power of ten, or None when it is not finite.
        self._rates: dict[int, tuple[Decimal, tuple[int, int] | None]] = {}

    def raw_terms(self, instrument: Instrument) -> tuple[int, int, int, int, int, Currency] | None:
        """Return the terms of this model's commission on ``instrument`` in raw integers.

        ``(multiplier, maker_coefficient, maker_shift, taker_coefficient, taker_shift,
        currency)``: a fill of raw ``quantity`` at raw ``price`` (at the instrument's size
        and price precisions) costs ``quantity * price * multiplier * coefficient`` over
        ``10**shift``, rounded half-even on the magnitude, raw at the settlement currency's
        precision: :meth:`commission`'s result whenever the product fits in int64. The
        simulated exchange computes its fills' commissions from these (asking
        :meth:`commission` past int64), so it reads the rates once, when it adds the
        instrument or is given the model. None for an inverse instrument, or a rate that is
        not finite or whose coefficient leaves int64.
        """
        if instrument.is_inverse:
            return None
        multiplier = instrument.multiplier
        currency = instrument.settlement_currency
        base = (
            instrument.size_precision
            + instrument.price_precision
            + multiplier.precision
            - currency.precision
        )
        terms: list[int] = []
        for rate, override in (
            (instrument.maker_fee, self.maker_fee),
            (instrument.taker_fee, self.taker_fee),
        ):
            ratio = _integer_ratio(rate if override is None else override)
            if ratio is None or not -(2**63) < ratio[0] < 2**63:
                return None
            terms += [ratio[0], base + ratio[1]]
        return multiplier.raw, terms[0], terms[1], terms[2], terms[3], currency

    def commission(
        self,
        instrument: Instrument,
        quantity: Quantity,
        price: Price,
        liquidity_side: LiquiditySide,
    ) -> Money:
        """Return notional × rate, exact in Decimal, rounded half-even to the currency."""
        if liquidity_side == _MAKER:
            rate = instrument.maker_fee if self.maker_fee is None else self.maker_fee
        else:
            rate = instrument.taker_fee if self.taker_fee is None else self.taker_fee
        currency = instrument.settlement_currency
        if instrument.is_inverse:
            notional = quantity.as_decimal() * instrument.multiplier.as_decimal()
            notional /= price.as_decimal()
        else:
            raw = self._linear_raw(instrument, quantity, price, rate, currency.precision)
            if raw is not None:
                return Money.from_raw(raw, currency)
            notional = (
                quantity.as_decimal() * price.as_decimal() * instrument.multiplier.as_decimal()
            )
        exponent = Decimal(1).scaleb(-currency.precision)
        return Money((notional * rate).quantize(exponent, rounding=ROUND_HALF_EVEN), currency)

    def _linear_raw(
        self,
        instrument: Instrument,
        quantity: Quantity,
        price: Price,
        rate: Decimal,
        precision: int,
    ) -> int | None:
        """The linear commission as a raw amount at ``precision`` decimals, in integers.

        quantity × price × multiplier × rate is a product of integers over a power of ten;
        rounded half-even (on the magnitude, as ``Decimal.quantize``) it is the Decimal
        path's result whenever that path computes exactly: every factor's coefficient
        divides the product, so a product under 10**27 leaves each Decimal intermediate
        within the default 28 digits. Larger products return None (the Decimal path
        decides).
        """
        entry = self._rates.get(id(rate))
        if entry is None or entry[0] is not rate:
            entry = self._rates[id(rate)] = (rate, _integer_ratio(rate))
        ratio = entry[1]
        if ratio is None:
            return None
        rate_coefficient, rate_scale = ratio
        multiplier = instrument.multiplier
        product = quantity.raw * price.raw * multiplier.raw * rate_coefficient
        negative = product < 0
        if negative:
            product = -product
        if product >= _EXACT_BOUND:
            return None
        shift = (
            quantity.precision + price.precision + multiplier.precision + rate_scale - precision
        )
        if shift <= 0:
            scale: int = 10**-shift
            raw = product * scale
        else:
            unit: int = 10**shift
            raw, remainder = divmod(product, unit)
            if 2 * remainder > unit or (2 * remainder == unit and raw & 1):
                raw += 1
        return -raw if negative else raw


_MAKER = LiquiditySide.MAKER
# Products below this have at most 27 digits, so the Decimal path (28 digits) is exact.
_EXACT_BOUND = 10**27


def _integer_ratio(rate: Decimal) -> tuple[int, int] | None:
    """Return ``(coefficient, scale)`` with ``rate == coefficient / 10**scale`` exactly, or
    None for a rate that is not finite."""
    if not rate.is_finite():
        return None
    sign, digits, exponent = rate.as_tuple()
    assert isinstance(exponent, int)
    coefficient = int("".join(map(str, digits)) or "0")
    if sign:
        coefficient = -coefficient
    if exponent >= 0:
        return coefficient * 10**exponent, 0
    return coefficient, -exponent
