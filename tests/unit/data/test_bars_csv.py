"""Plain OHLCV CSV loader: conventions, timestamp forms, headers, and refused bars."""

from __future__ import annotations

import datetime as dt
import gzip

import numpy as np
import pytest

from zq.data.errors import DataFormatError
from zq.data.loaders import bars_csv
from zq.model.data import BarSpecification
from zq.model.enums import BarAggregation, PriceType

MINUTE = dt.timedelta(minutes=1)
T0 = int(dt.datetime(2024, 1, 1, 23, 1, tzinfo=dt.UTC).timestamp()) * 10**9


def _write(tmp_path, text, name="bars.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _load(path, convention="close", interval=MINUTE, price_precision=5, size_precision=0, **kw):
    chunks = list(
        bars_csv.bar_chunks(
            path,
            timestamp_convention=convention,
            interval=interval,
            price_precision=price_precision,
            size_precision=size_precision,
            **kw,
        )
    )
    return np.concatenate(chunks)


CME = (
    "timestamp_utc,open,high,low,close,volume\n"
    "2024-01-01 23:01:00,1.1076,1.10785,1.1076,1.1078,205\n"
    "2024-01-01 23:02:00,1.10775,1.1078,1.1077,1.10775,86\n"
)


def test_close_stamped_bars_keep_their_timestamp(tmp_path):
    bars = _load(_write(tmp_path, CME))
    assert bars["ts_event"].tolist() == [T0, T0 + 60 * 10**9]
    assert (bars["ts_init"] == bars["ts_event"]).all()
    assert bars[0][["open", "high", "low", "close", "volume"]].tolist() == (
        110760,
        110785,
        110760,
        110780,
        205,
    )


def test_open_stamped_bars_are_moved_to_their_close(tmp_path):
    bars = _load(_write(tmp_path, CME), convention="open", interval=dt.timedelta(minutes=5))
    assert bars["ts_event"][0] == T0 + 5 * 60 * 10**9


def test_interval_can_be_a_bar_specification(tmp_path):
    spec = BarSpecification(1, BarAggregation.HOUR, PriceType.LAST)
    bars = _load(_write(tmp_path, CME), convention="open", interval=spec)
    assert bars["ts_event"][0] == T0 + 3600 * 10**9


def test_the_convention_must_be_stated_as_open_or_close(tmp_path):
    with pytest.raises(ValueError, match="timestamp_convention must be 'open' or 'close'"):
        _load(_write(tmp_path, CME), convention="start")


@pytest.mark.parametrize(
    ("stamp", "unit"),
    [
        ("1704150060", "auto"),
        ("1704150060000", "auto"),
        ("1704150060000000", "auto"),
        ("1704150060000000000", "auto"),
        ("1704150060000", "ms"),
        ("2024-01-01T23:01:00Z", "auto"),
        ("2024-01-02T00:01:00+01:00", "auto"),
        ("2024-01-01T22:01:00.000-01:00", "iso"),
    ],
)
def test_timestamps_in_every_supported_form_give_the_same_instant(tmp_path, stamp, unit):
    path = _write(tmp_path, f"time,open,high,low,close,volume\n{stamp},1,2,1,2,3\n")
    bars = _load(path, price_precision=0, timestamp_unit=unit)
    assert bars["ts_event"].tolist() == [T0]


def test_naive_iso_times_are_read_in_the_given_time_zone(tmp_path):
    path = _write(tmp_path, "date,open,high,low,close,volume\n2024-01-01 18:01,1,2,1,2,3\n")
    bars = _load(path, price_precision=0, time_zone="America/New_York")
    assert bars["ts_event"].tolist() == [T0]


def test_headerless_files_take_the_first_six_columns_and_ignore_the_rest(tmp_path):
    # A Binance kline row: open time in ms, then OHLCV, then six more columns.
    row = "1637971200000,0.00002853,0.00002854,0.00002851,0.00002854,36304.20000000,1637971259999,1.03,79,1,1,0\n"
    path = _write(tmp_path, row * 2)
    bars = _load(path, convention="open", price_precision=8, size_precision=1)
    assert len(bars) == 2
    assert bars["ts_event"][0] == 1637971260000 * 10**6
    assert bars["open"][0] == 2853 and bars["volume"][0] == 363042


def test_columns_can_be_named_or_numbered(tmp_path):
    path = _write(tmp_path, "v,c,l,h,o,when\n3,2,1,2,1,1704150060\n")
    columns = {"timestamp": "when", "open": "o", "high": "h", "low": "l", "close": 1, "volume": 0}
    bars = _load(path, price_precision=0, columns=columns)
    assert bars[0][["ts_event", "open", "high", "low", "close", "volume"]].tolist() == (
        T0,
        1,
        2,
        1,
        2,
        3,
    )


def test_a_header_without_a_volume_column_is_refused(tmp_path):
    path = _write(tmp_path, "timestamp,open,high,low,close\n1704150060,1,2,1,2\n")
    with pytest.raises(DataFormatError, match="header has no volume column"):
        _load(path, price_precision=0)


def test_gzip_files_are_read(tmp_path):
    path = tmp_path / "bars.csv.gz"
    path.write_bytes(gzip.compress(CME.encode()))
    assert len(_load(path)) == 2


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ("1704150060,1.2,1.0,1.1,1.1,5", "high", "high below low"),
        ("1704150060,1.3,1.2,1.0,1.1,5", "open", "open outside"),
        ("1704150060,1.1,1.2,1.0,0.9,5", "close", "close outside"),
        ("1704150060,1.1,1.2,1.0,1.1,-5", "volume", "negative value"),
        ("1704150060,1.123456,1.2,1.0,1.1,5", "open", "more decimals"),
        ("2024-13-01 00:00,1.1,1.2,1.0,1.1,5", "timestamp", "not an ISO 8601 timestamp"),
    ],
)
def test_inconsistent_or_malformed_bars_are_refused_naming_file_and_line(
    tmp_path, row, field, problem
):
    path = _write(
        tmp_path, "timestamp,open,high,low,close,volume\n1704150060,1,1,1,1,1\n" + row + "\n"
    )
    with pytest.raises(DataFormatError, match=problem) as caught:
        _load(path, timestamp_unit="iso" if "-" in row.split(",")[0] else "auto")
    assert caught.value.line == 3
    assert caught.value.field == field
    assert caught.value.path == str(path)


def test_excess_decimals_are_rounded_half_even_only_when_asked(tmp_path):
    path = _write(
        tmp_path, "timestamp,open,high,low,close,volume\n1704150060,1,2,1,2,420687.75197499996\n"
    )
    with pytest.raises(DataFormatError, match="more decimals"):
        _load(path, price_precision=0, size_precision=4)
    bars = _load(path, price_precision=0, size_precision=4, round_excess_decimals=True)
    assert bars["volume"].tolist() == [4206877520]


def test_bar_objects_take_their_interval_from_the_bar_type(tmp_path):
    bars = list(
        bars_csv.bars(
            _write(tmp_path, CME),
            "6EH4.XCME-1-MINUTE-LAST-EXTERNAL",
            timestamp_convention="open",
            price_precision=5,
            size_precision=0,
        )
    )
    assert bars[0].ts_event == T0 + 60 * 10**9
    assert str(bars[0].high) == "1.10785" and str(bars[1].volume) == "86"


def test_an_empty_file_yields_nothing(tmp_path):
    assert (
        list(
            bars_csv.bar_chunks(
                _write(tmp_path, ""),
                timestamp_convention="close",
                interval=MINUTE,
                price_precision=2,
                size_precision=0,
            )
        )
        == []
    )
