"""Order execution: the ExecutionEngine and the base of every execution client.

Exports :class:`ExecutionEngine`, :class:`ExecutionClient`, :class:`ExecutionError`.
"""

from zq.execution.client import EventSink, ExecutionClient, OrderRef
from zq.execution.engine import (
    ExecutionEngine,
    ExecutionError,
    ExecutionErrorKind,
    PortfolioLike,
    PositionEventLike,
)

__all__ = [
    "EventSink",
    "ExecutionClient",
    "ExecutionEngine",
    "ExecutionError",
    "ExecutionErrorKind",
    "OrderRef",
    "PortfolioLike",
    "PositionEventLike",
]
