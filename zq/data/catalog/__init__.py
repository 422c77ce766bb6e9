"""The Parquet data catalog: market data stored by kind, key and time range, read back as
numpy arrays or zq objects, and streamed merged by ``ts_init`` for replay.

Exports ``ParquetDataCatalog``, ``DataKind``, ``DataSeries``, ``CatalogFile``,
``CatalogError`` and ``SCHEMA_VERSION``.
"""

from zq.data.catalog.parquet import CatalogError, CatalogFile, ParquetDataCatalog
from zq.data.catalog.schema import SCHEMA_VERSION, DataKind, DataSeries

__all__ = [
    "SCHEMA_VERSION",
    "CatalogError",
    "CatalogFile",
    "DataKind",
    "DataSeries",
    "ParquetDataCatalog",
]
