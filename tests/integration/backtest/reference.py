"""Plain-Python reference simulations for the acceptance tests: the same strategies and the
same fill rules as the engine, straight from the loaders' arrays, with none of the engine.

Fill rules mirrored (zq_core/matching.pyx, zq/backtest/exchange.py, zero latency):

- trades only (an L1 venue fed by trades): each trade becomes the top of the book on both
  sides at its price, with its size. A market order that the strategy sends in its callback
  on that trade reaches the venue at once and fills at the trade's price for up to the trade's
  size, and the rest one tick worse (buy: price + tick, sell: price - tick);
- bars: a bar is swept as four trades open, high, low, close (each a quarter of the volume,
  the close taking the remainder), all stamped at the bar's close; an order sent on the bar
  therefore meets the close, for up to ``volume - 3 * (volume // 4)``, the rest one tick worse;
- per datum the exchange goes first, then the strategy's callback;
- commission per fill: ``qty * price * multiplier * taker_fee``, rounded half-even to the
  settlement currency's cents (the instrument's taker fee: market orders take);
- netting positions at average cost: a reduction of ``q`` out of ``Q`` realizes
  ``q * exit price - q / Q * entry value`` (sign by side), a fill through zero closes and
  opens at the fill price; the account's balance moves by each fill's realized PnL rounded
  to cents, less its commission.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import numpy as np
import numpy.typing as npt

BUY, SELL = 1, 2
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Fill:
    """One fill: time, side (1 buy, 2 sell), raw quantity and raw price."""

    ts: int
    side: int
    quantity: int
    price: int


@dataclass
class Outcome:
    """What a reference run did."""

    data_count: int = 0  # trades or bars seen
    orders: int = 0
    fills: list[Fill] = field(default_factory=list)
    commissions: list[Decimal] = field(default_factory=list)
    realized_pnl: Decimal = Decimal(0)
    balance_change: Decimal = Decimal(0)
    position: int = 0  # raw, signed

    @property
    def commission(self) -> Decimal:
        return sum(self.commissions, Decimal(0))


def _market(
    outcome: Outcome, ts: int, side: int, quantity: int, price: int, size: int, tick: int
) -> None:
    # A market order against the trade (or bar close) just seen: ``size`` at ``price``,
    # the rest one tick worse.
    outcome.orders += 1
    first = min(quantity, size)
    if first > 0:
        outcome.fills.append(Fill(ts, side, first, price))
    if quantity > first:
        worse = price + tick if side == BUY else price - tick
        outcome.fills.append(Fill(ts, side, quantity - first, worse))


def ema_cross(
    trades: Iterable[npt.NDArray[np.void]],
    *,
    price_precision: int,
    tick: int,
    fast: int,
    slow: int,
    trade_size: int,
) -> Outcome:
    """EmaCross (examples/ema_cross.py) on TRADE_DTYPE chunks: flip ``trade_size`` (raw)
    long or short on each cross of EMA(fast) and EMA(slow) of the trade prices."""
    outcome = Outcome()
    scale = 10**price_precision
    fast_alpha = 2.0 / (fast + 1)
    slow_alpha = 2.0 / (slow + 1)
    fast_ema = slow_ema = 0.0
    count = 0
    signal = 0
    position = 0
    for chunk in trades:
        for ts, price, size in zip(
            chunk["ts_init"].tolist(), chunk["price"].tolist(), chunk["size"].tolist(), strict=True
        ):
            value = price / scale
            if count == 0:
                fast_ema = slow_ema = value
            else:
                fast_ema += fast_alpha * (value - fast_ema)
                slow_ema += slow_alpha * (value - slow_ema)
            count += 1
            outcome.data_count = count
            if count < slow or fast_ema == slow_ema:
                continue
            new = 1 if fast_ema > slow_ema else -1
            if new == signal:
                continue
            signal = new
            delta = trade_size * new - position
            if delta == 0:
                continue
            _market(outcome, ts, BUY if delta > 0 else SELL, abs(delta), price, size, tick)
            position += delta
    outcome.position = position
    return outcome


def channel_breakout(
    bars: Iterable[npt.NDArray[np.void]], *, tick: int, lookback: int, trade_size: int
) -> Outcome:
    """ChannelBreakout (examples/bar_strategy.py) on BAR_DTYPE chunks."""
    outcome = Outcome()
    highs: deque[int] = deque(maxlen=lookback)
    lows: deque[int] = deque(maxlen=lookback)
    signal = 0
    position = 0
    for chunk in bars:
        columns = (chunk[name].tolist() for name in ("ts_init", "high", "low", "close", "volume"))
        for ts, high, low, close, volume in zip(*columns, strict=True):
            outcome.data_count += 1
            new = signal
            if len(highs) == lookback:
                if close > max(highs):
                    new = 1
                elif close < min(lows):
                    new = -1
            highs.append(high)
            lows.append(low)
            if new == signal:
                continue
            signal = new
            delta = trade_size * new - position
            if delta == 0:
                continue
            close_size = volume - 3 * (volume // 4)
            _market(outcome, ts, BUY if delta > 0 else SELL, abs(delta), close, close_size, tick)
            position += delta
    outcome.position = position
    return outcome


def settle(
    outcome: Outcome,
    *,
    price_precision: int,
    size_precision: int,
    taker_fee: Decimal,
    multiplier: Decimal = Decimal(1),
) -> Outcome:
    """Compute the commissions, realized PnL and balance change of the outcome's fills."""
    with localcontext() as context:
        context.prec = 80  # exact for these sizes and prices
        held = Decimal(0)  # signed quantity
        value = Decimal(0)  # entry value of the open quantity
        realized = Decimal(0)
        balance = Decimal(0)
        for fill in outcome.fills:
            quantity = Decimal(fill.quantity).scaleb(-size_precision)
            price = Decimal(fill.price).scaleb(-price_precision)
            commission = (quantity * price * multiplier * taker_fee).quantize(
                CENT, rounding=ROUND_HALF_EVEN
            )
            outcome.commissions.append(commission)
            sign = 1 if fill.side == BUY else -1
            gained = Decimal(0)
            if held == 0 or (held > 0) == (sign > 0):
                held += sign * quantity
                value += quantity * price
            else:
                closed = min(quantity, abs(held))
                removed = value if closed == abs(held) else value * closed / abs(held)
                exit_value = closed * price
                gained = (exit_value - removed if held > 0 else removed - exit_value) * multiplier
                value -= removed
                held += sign * closed
                rest = quantity - closed
                if rest > 0:
                    held = sign * rest
                    value = rest * price
            realized += gained
            balance += gained.quantize(CENT, rounding=ROUND_HALF_EVEN) - commission
        outcome.realized_pnl = realized.quantize(CENT, rounding=ROUND_HALF_EVEN)
        outcome.balance_change = balance
    return outcome
