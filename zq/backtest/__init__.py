"""Backtesting: the simulated exchange and its fill, queue, latency and fee models.

Exports ``SimulatedExchange`` and the models of ``zq.backtest.models``.
"""

from zq.backtest.exchange import SimulatedExchange
from zq.backtest.models import (
    ConservativeQueueModel,
    FeeModel,
    FillModel,
    LatencyModel,
    MakerTakerFeeModel,
    ProbabilisticQueueModel,
    QueueModel,
)

__all__ = [
    "ConservativeQueueModel",
    "FeeModel",
    "FillModel",
    "LatencyModel",
    "MakerTakerFeeModel",
    "ProbabilisticQueueModel",
    "QueueModel",
    "SimulatedExchange",
]
