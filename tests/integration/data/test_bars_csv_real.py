"""The OHLCV CSV loader on the real FTX and CME 1-minute bar files.

Conventions (see the data README and ``docs/recipes/bars-csv.md``):

- CME 6EH4: timestamps mark the bar's end (the first bar after the 23:00 UTC open is
  stamped 23:01), so ``timestamp_convention="close"``.
- FTX BTC-PERP: the README states no convention, only that times are UTC. It also starts at
  23:01 and comes from the same repository, whose bars are stamped at their close; and
  ``"close"`` is the choice that can never leak a bar before it completed. So ``"close"``.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from zq.data.errors import DataFormatError
from zq.data.loaders import bars_csv

MINUTE = dt.timedelta(minutes=1)
FTX = ("ftx", "btc-perp-20211231-20220201_1m.csv")
CME = ("cme", "6EH4.XCME_1min_bars_20240101_20240131.csv.gz")


def _utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns // 10**9, tz=dt.UTC)


def _load(path, **options):
    return np.concatenate(
        list(bars_csv.bar_chunks(path, timestamp_convention="close", interval=MINUTE, **options))
    )


def test_ftx_bars_load_exactly_with_every_minute_present(market_data):
    bars = _load(
        market_data.joinpath(*FTX),
        price_precision=3,
        size_precision=4,
        round_excess_decimals=True,
        chunk_size=10_000,
    )
    assert len(bars) == 45_031
    assert _utc(int(bars["ts_event"][0])) == dt.datetime(2021, 12, 31, 23, 1, tzinfo=dt.UTC)
    assert _utc(int(bars["ts_event"][-1])) == dt.datetime(2022, 2, 1, 5, 31, tzinfo=dt.UTC)
    assert (np.diff(bars["ts_event"]) == 60 * 10**9).all()  # no gaps, no duplicates
    assert bars[0][["open", "high", "low", "close", "volume"]].tolist() == (
        46_319_000,
        46_385_000,
        46_319_000,
        46_377_000,
        23_004_137_295,
    )


def test_ftx_interpolated_rows_are_refused_until_their_precision_or_rounding_is_stated(market_data):
    path = market_data.joinpath(*FTX)
    # A few stretches hold values that no tick grid gives: 46821.75, 43613.875, and
    # volumes written from binary floats (420687.75197499996). Nothing is rounded silently.
    with pytest.raises(
        DataFormatError,
        match=re.escape(
            "line 244, field 'open': more decimals than the precision (1) (value '46821.75')"
        ),
    ):
        _load(path, price_precision=1, size_precision=4)
    with pytest.raises(
        DataFormatError,
        match=re.escape(
            "line 244, field 'volume': more decimals than the precision (4) (value '289169.9847625')"
        ),
    ):
        _load(path, price_precision=3, size_precision=4)


def test_cme_bars_stamped_at_their_end_load_with_the_daily_halts_as_gaps(market_data):
    bars = _load(market_data.joinpath(*CME), price_precision=5, size_precision=0)
    assert len(bars) == 29_996
    assert _utc(int(bars["ts_event"][0])) == dt.datetime(2024, 1, 1, 23, 1, tzinfo=dt.UTC)
    assert _utc(int(bars["ts_event"][-1])) == dt.datetime(2024, 1, 31, 23, 59, tzinfo=dt.UTC)
    steps = np.diff(bars["ts_event"])
    assert (steps > 0).all()
    assert int((steps > 60 * 10**9).sum()) == 375
    assert bars[0][["open", "high", "low", "close", "volume"]].tolist() == (
        110_760,
        110_785,
        110_760,
        110_780,
        205,
    )


def test_cme_bar_objects_are_stamped_at_their_close(market_data):
    bars = bars_csv.bars(
        market_data.joinpath(*CME),
        "6EH4.XCME-1-MINUTE-LAST-EXTERNAL",
        timestamp_convention="close",
        price_precision=5,
        size_precision=0,
    )
    first = next(iter(bars))
    assert (
        first.ts_event
        == first.ts_init
        == int(dt.datetime(2024, 1, 1, 23, 1, tzinfo=dt.UTC).timestamp()) * 10**9
    )
    assert str(first.open) == "1.10760"


def test_binance_klines_stamped_at_their_open_are_moved_to_their_close(market_data):
    path = market_data / "binance" / "klines" / "ADABTC-1m-2021-11-27.csv"
    bars = np.concatenate(
        list(
            bars_csv.bar_chunks(
                path,
                timestamp_convention="open",
                interval=MINUTE,
                price_precision=8,
                size_precision=1,
            )
        )
    )
    assert len(bars) == 10
    assert _utc(int(bars["ts_event"][0])) == dt.datetime(2021, 11, 27, 0, 1, tzinfo=dt.UTC)
