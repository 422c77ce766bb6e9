"""Backtesting: ``BacktestNode`` and its config, the simulated exchange behind a
``BacktestExecutionClient``, and the fill, queue, latency and fee models.

Exports ``BacktestNode``, ``BacktestResult``, ``BacktestConfig`` (and its parts,
``load_config``, ``ConfigError``), ``BacktestExecutionClient``, ``SimulatedExchange`` and the
models of ``zq.backtest.models``.
"""

from zq.backtest.client import BacktestExecutionClient
from zq.backtest.config import (
    BacktestConfig,
    ConfigError,
    DataConfig,
    FeeModelConfig,
    InstrumentConfig,
    LatencyModelConfig,
    StrategyConfig,
    VenueConfig,
    load_config,
    parse_config,
)
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
from zq.backtest.node import BacktestNode, BacktestResult

__all__ = [
    "BacktestConfig",
    "BacktestExecutionClient",
    "BacktestNode",
    "BacktestResult",
    "ConfigError",
    "ConservativeQueueModel",
    "DataConfig",
    "FeeModel",
    "FeeModelConfig",
    "FillModel",
    "InstrumentConfig",
    "LatencyModel",
    "LatencyModelConfig",
    "MakerTakerFeeModel",
    "ProbabilisticQueueModel",
    "QueueModel",
    "SimulatedExchange",
    "StrategyConfig",
    "VenueConfig",
    "load_config",
    "parse_config",
]
