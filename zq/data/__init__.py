"""Market data: columnar arrays, loaders for real formats (:mod:`zq.data.loaders`), the
Parquet catalog (:mod:`zq.data.catalog`) and the DataEngine that feeds strategies through
the bus, with bar aggregation."""

from zq.data.client import DataClient, ReplayDataClient
from zq.data.engine import DataEngine
from zq.data.errors import DataFormatError

__all__ = ["DataClient", "DataEngine", "DataFormatError", "ReplayDataClient"]
