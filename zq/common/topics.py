"""Every bus topic and endpoint name, in one place.

Topics are dotted: ``<family>.<kind>.<venue>.<symbol>``, so a subscriber can take one
instrument (``data.trades.BINANCE.BTCUSDT``), one venue (``data.trades.BINANCE.*``) or all
(``data.trades.*``). Build them with these functions, never with string literals.
"""

from __future__ import annotations

from functools import cache

from zq.model.data import BarType
from zq.model.identifiers import InstrumentId, StrategyId

__all__ = [
    "ENDPOINT_DATA_EXECUTE",
    "ENDPOINT_DATA_PROCESS",
    "ENDPOINT_DATA_REQUEST",
    "ENDPOINT_EXECUTION",
    "ENDPOINT_EXECUTION_PROCESS",
    "ENDPOINT_RISK",
    "TOPIC_COMPONENT_STATE",
    "TOPIC_EXECUTION_ERRORS",
    "TOPIC_TRADING_STATE",
    "bars",
    "book_deltas",
    "book_depth",
    "book_snapshots",
    "book_top",
    "instrument_status",
    "instruments",
    "order_events",
    "position_events",
    "quotes",
    "trades",
]

ENDPOINT_DATA_REQUEST = "DataEngine.request"
#: Subscribe / unsubscribe commands for the DataEngine (``zq.data.messages``).
ENDPOINT_DATA_EXECUTE = "DataEngine.execute"
#: Market data handed to the DataEngine by a data client or a replay driver.
ENDPOINT_DATA_PROCESS = "DataEngine.process"
ENDPOINT_RISK = "RiskEngine.execute"
ENDPOINT_EXECUTION = "ExecutionEngine.execute"
#: Venue events (order events) handed to the ExecutionEngine from outside a registered client.
ENDPOINT_EXECUTION_PROCESS = "ExecutionEngine.process"
#: Events the ExecutionEngine refused (unknown order, duplicate fill, overfill, ...).
TOPIC_EXECUTION_ERRORS = "events.execution.errors"
#: Changes of the RiskEngine's trading state (ACTIVE / REDUCING / HALTED).
TOPIC_TRADING_STATE = "events.risk.trading_state"
TOPIC_COMPONENT_STATE = "events.component"


def _suffix(instrument_id: InstrumentId) -> str:
    return f"{instrument_id.venue}.{instrument_id.symbol}"


@cache
def quotes(instrument_id: InstrumentId) -> str:
    """Topic of the quotes of one instrument."""
    return f"data.quotes.{_suffix(instrument_id)}"


@cache
def trades(instrument_id: InstrumentId) -> str:
    """Topic of the trades of one instrument."""
    return f"data.trades.{_suffix(instrument_id)}"


@cache
def book_deltas(instrument_id: InstrumentId) -> str:
    """Topic of the order-book deltas of one instrument."""
    return f"data.book.deltas.{_suffix(instrument_id)}"


@cache
def book_depth(instrument_id: InstrumentId) -> str:
    """Topic of the depth snapshots of one instrument."""
    return f"data.book.depth.{_suffix(instrument_id)}"


@cache
def book_snapshots(instrument_id: InstrumentId, depth: int, interval_ms: int) -> str:
    """Topic of the top-``depth`` snapshots of one instrument's book, every ``interval_ms``."""
    return f"data.book.snapshots.{_suffix(instrument_id)}.{depth}.{interval_ms}"


@cache
def book_top(instrument_id: InstrumentId, depth: int) -> str:
    """Topic of the top-``depth`` snapshots of one instrument's book, on every change."""
    return f"data.book.top.{_suffix(instrument_id)}.{depth}"


@cache
def instruments(instrument_id: InstrumentId) -> str:
    """Topic of the definitions (and redefinitions) of one instrument."""
    return f"data.instruments.{_suffix(instrument_id)}"


@cache
def instrument_status(instrument_id: InstrumentId) -> str:
    """Topic of the trading status changes of one instrument."""
    return f"data.status.{_suffix(instrument_id)}"


@cache
def bars(bar_type: BarType) -> str:
    """Topic of the bars of one bar type."""
    return f"data.bars.{bar_type}"


@cache
def order_events(strategy_id: StrategyId) -> str:
    """Topic of the order events of one strategy."""
    return f"events.order.{strategy_id}"


@cache
def position_events(strategy_id: StrategyId) -> str:
    """Topic of the position events (opened, changed, closed) of one strategy."""
    return f"events.position.{strategy_id}"
