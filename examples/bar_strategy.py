"""Channel breakout on bars: go long when a bar closes above the highest high of the previous
``lookback`` bars, short when it closes below their lowest low, flipping with market orders.

Run it (a backtest of ``configs/ftx_bars.toml``: FTX BTC-PERP 1-minute bars, January 2022;
the data is the project's shared real data, ``ZQ_DATA`` or ``../shared/data`` beside the
checkout)::

    python examples/bar_strategy.py
    ZQ_DATA=/path/to/data python examples/bar_strategy.py
    zq backtest examples/configs/ftx_bars.toml
"""

from __future__ import annotations

import os
from collections import deque
from decimal import Decimal
from pathlib import Path

import msgspec

from zq.model.data import Bar, BarType
from zq.model.enums import OrderSide
from zq.strategy import Strategy
from zq_core.fixed import Quantity


class ChannelBreakoutParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The bars traded, the channel length (in bars) and the position size."""

    bar_type: str = "BTC-PERP.FTX-1-MINUTE-LAST-EXTERNAL"
    lookback: int = 60
    trade_size: Decimal = Decimal("1")


class ChannelBreakout(Strategy[ChannelBreakoutParams]):
    """Hold ``trade_size`` long after an upside breakout and short after a downside one.

    The channel is the highest high and lowest low of the ``lookback`` bars before the
    current one; prices are compared as raw fixed-point integers, so no float decides a
    signal.
    """

    def __init__(
        self,
        params: ChannelBreakoutParams | None = None,
        *,
        strategy_id: str | None = None,
        order_id_tag: str = "001",
    ) -> None:
        super().__init__(
            params or ChannelBreakoutParams(), strategy_id=strategy_id, order_id_tag=order_id_tag
        )
        if self.params.lookback < 1:
            raise ValueError(f"lookback must be at least 1, got {self.params.lookback}")
        self.bar_type = BarType.from_str(self.params.bar_type)
        self.instrument_id = self.bar_type.instrument_id
        self.highs: deque[int] = deque(maxlen=self.params.lookback)
        self.lows: deque[int] = deque(maxlen=self.params.lookback)
        self.signal = 0  # 1 long, -1 short, 0 before the first breakout
        self.breakouts = 0

    def on_start(self) -> None:
        instrument = self.cache.instrument(self.instrument_id)
        if instrument is None:
            raise ValueError(f"{self.id}: instrument {self.instrument_id} is not in the cache")
        self.size_precision = instrument.size_precision
        self.subscribe_bars(self.bar_type)

    def on_bar(self, bar: Bar) -> None:
        close = bar.close.raw
        signal = self.signal
        if len(self.highs) == self.params.lookback:
            if close > max(self.highs):
                signal = 1
            elif close < min(self.lows):
                signal = -1
        self.highs.append(bar.high.raw)
        self.lows.append(bar.low.raw)
        if signal == self.signal:
            return
        self.signal = signal
        self.breakouts += 1
        target = self.params.trade_size * signal
        delta = target - self.portfolio.net_position(self.instrument_id, self.id)
        if delta == 0:
            return
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        quantity = Quantity(abs(delta), self.size_precision)
        self.submit_order(self.order_factory.market(self.instrument_id, side, quantity))


def main(data_dir: str | Path | None = None) -> None:
    """Backtest ``configs/ftx_bars.toml`` and print the result.

    ``data_dir`` is the shared data folder (the one holding ``ftx/``); by default
    ``ZQ_DATA``, else the config's own path, ``../shared/data`` beside the checkout.
    """
    from zq.backtest import BacktestNode, load_config

    config = load_config(Path(__file__).parent / "configs" / "ftx_bars.toml")
    data_dir = data_dir or os.environ.get("ZQ_DATA")
    if data_dir:
        data = [
            msgspec.structs.replace(d, path=str(Path(data_dir) / "ftx" / Path(d.path).name))
            for d in config.data
            if d.path is not None
        ]
        config = msgspec.structs.replace(config, data=data)
    result = BacktestNode(config).run()
    print(result.summary())


if __name__ == "__main__":
    main()
