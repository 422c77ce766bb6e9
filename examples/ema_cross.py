"""EMA(10/20) cross on trade ticks: hold a long position while the fast EMA is above the
slow one and a short one while it is below, flipping with market orders.

Run it (a backtest of ``configs/ema_cross.toml`` on generated trades)::

    python examples/ema_cross.py
    zq backtest examples/configs/ema_cross.toml
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec

from zq.model.data import TradeTick
from zq.model.enums import OrderSide
from zq.model.identifiers import InstrumentId
from zq.strategy import Strategy
from zq_core.fixed import Quantity
from zq_core.indicators import ExponentialMovingAverage

# Read once here rather than per order: reading a member from its enum class costs about a
# third of a microsecond in Python 3.11 (docs/concepts/strategy.md, "Per-event code").
BUY, SELL = OrderSide.BUY, OrderSide.SELL
ZERO = Decimal(0)


class EmaCrossParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The instrument, the two EMA periods (in trades) and the position size."""

    instrument_id: str = "BTCUSDT.SIM"
    fast: int = 10
    slow: int = 20
    trade_size: Decimal = Decimal("0.01")


class EmaCross(Strategy[EmaCrossParams]):
    """Flip between long and short ``trade_size`` on each cross of the two EMAs."""

    def __init__(
        self,
        params: EmaCrossParams | None = None,
        *,
        strategy_id: str | None = None,
        order_id_tag: str = "001",
    ) -> None:
        super().__init__(
            params or EmaCrossParams(), strategy_id=strategy_id, order_id_tag=order_id_tag
        )
        self.instrument_id = InstrumentId(self.params.instrument_id)
        self.fast = ExponentialMovingAverage(self.params.fast)
        self.slow = ExponentialMovingAverage(self.params.slow)
        self.signal = 0  # 1 above, -1 below, 0 before the first signal
        self.flips = 0
        self.size_precision: int | None = None  # the instrument's, read in on_start

    def _plan(self, size: Decimal, precision: int) -> None:
        # What a signal needs, computed once (in on_start, again on a parameter change),
        # not per signal: per direction, the signed target, the other direction's target,
        # the side that moves to the target, and the order sizes from flat and from the
        # other target.
        opening, flipping = Quantity(abs(size), precision), Quantity(abs(size) * 2, precision)
        up, down = (BUY, SELL) if size >= ZERO else (SELL, BUY)
        self.long_plan = (size, -size, up, opening, flipping)
        self.short_plan = (-size, size, down, opening, flipping)

    def on_params_changed(self, old: EmaCrossParams, new: EmaCrossParams) -> None:
        if self.size_precision is not None:  # else on_start plans
            self._plan(new.trade_size, self.size_precision)

    def on_start(self) -> None:
        instrument = self.cache.instrument(self.instrument_id)
        if instrument is None:
            raise ValueError(f"{self.id}: instrument {self.instrument_id} is not in the cache")
        self.size_precision = instrument.size_precision
        self._plan(self.params.trade_size, self.size_precision)
        # The cache's net positions, a live view: the position is one look-up in it per signal
        # (what portfolio.net_position(instrument_id, strategy_id) reads).
        self.net_positions = self.cache.net_positions()
        self.position_key = (self.instrument_id, self.id)
        self.subscribe_trades(self.instrument_id)

    def on_trade(self, trade: TradeTick) -> None:
        price = trade.price.as_double()
        fast = self.fast.update(price)
        slow = self.slow.update(price)
        if fast == slow or not self.slow.initialized:
            return  # no side, or warming up
        signal = 1 if fast > slow else -1
        if signal == self.signal:
            return
        self.signal = signal
        target, opposite, side, opening, flipping = (
            self.long_plan if signal > 0 else self.short_plan
        )
        current = self.net_positions.get(self.position_key, ZERO)  # signed: short below zero
        if current == target:
            return
        if not current:
            quantity = opening
        elif current == opposite:
            self.flips += 1
            quantity = flipping
        else:  # a position of another size (the size parameter changed): the difference
            self.flips += 1
            delta = target - current
            side = BUY if delta > ZERO else SELL
            quantity = Quantity(abs(delta), self.size_precision)
        self.submit_order(self.order_factory.market(self.instrument_id, side, quantity))


def main(trades: int | None = None) -> None:
    """Backtest the example config and print the result."""
    from zq.backtest import BacktestNode, load_config

    config = load_config(Path(__file__).parent / "configs" / "ema_cross.toml")
    if trades is not None:
        data = [msgspec.structs.replace(d, count=trades) for d in config.data]
        config = msgspec.structs.replace(config, data=data)
    result = BacktestNode(config).run()
    print(result.summary())


if __name__ == "__main__":
    main()
