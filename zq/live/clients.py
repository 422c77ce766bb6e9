"""The node's Binance clients, by their former module (kept so existing imports work).

The clients live in :mod:`zq.live.data_client` and :mod:`zq.live.execution_client` (with
:mod:`zq.live.reports` and :mod:`zq.live.reconciliation`); import them from there.
"""

from zq.live.data_client import BinanceDataClient, binance_book_factory
from zq.live.execution_client import BinanceExecutionClient

__all__ = ["BinanceDataClient", "BinanceExecutionClient", "binance_book_factory"]
