"""Market data: columnar arrays, loaders for real formats, the Parquet catalog and the
DataEngine that feeds strategies through the bus."""
