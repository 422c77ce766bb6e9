"""Loaders of real market data formats.

Each streams its file in chunks of columnar arrays (:mod:`zq.data.arrays`) and can also
yield zq data objects; malformed input raises :class:`zq.data.errors.DataFormatError`
naming the file, the line or record, the field and the value, and nothing of the bad record
is yielded.

=================  ========================================================================
module             format
=================  ========================================================================
``databento``      Databento DBN v1-v3 (MBO, MBP-1/10, TBBO, BBO, trades, OHLCV, definitions,
                   statistics, status), zstd across frames
``binance``        Binance raw stream captures, with the diff-depth sync rules
``binance_csv``    Binance historical CSVs (T_DEPTH snapshots/updates, klines, trades)
``tardis``         Tardis.dev CSVs (incremental_book_L2, book_snapshot_N, trades, quotes)
``quantconnect``   QuantConnect LEAN tick trade and quote zips
``bars_csv``       plain OHLCV CSV with a stated bar-timestamp convention
``hftbacktest``    hftbacktest ``.npz`` event files (read and write)
``bybit``          Bybit order-book JSON lines (snapshot + deltas)
=================  ========================================================================
"""
