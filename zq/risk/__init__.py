"""Pre-trade risk: the RiskEngine, its limits and the trading state.

Exports :class:`RiskEngine`, :class:`RiskLimits`, :class:`TradingState` and
:class:`TradingStateChanged`.
"""

from zq.risk.engine import (
    NetPositionSource,
    RiskEngine,
    RiskLimits,
    TradingState,
    TradingStateChanged,
)

__all__ = ["NetPositionSource", "RiskEngine", "RiskLimits", "TradingState", "TradingStateChanged"]
