"""Loaders of real market data formats. Each streams its file in chunks of columnar arrays
(:mod:`zq.data.arrays`) and can also yield zq data objects; malformed input raises
:class:`zq.data.errors.DataFormatError` naming file, line or record, field and value."""
