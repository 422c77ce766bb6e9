"""The replay progress bar: what it shows, how often it draws, and the disabled bar.

The bar's wall clock is a fake one advanced by hand, so nothing here depends on timing.
"""

from __future__ import annotations

import io

from zq.backtest.progress import NO_PROGRESS, NoProgress, ProgressBar, progress_bar

SECOND = 1_000_000_000
T0 = 1_704_067_200 * SECOND  # 2024-01-01 00:00:00 UTC


class FakeTimer:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_shows_data_time_percent_rows_and_rate() -> None:
    timer, out = FakeTimer(), io.StringIO()
    bar = ProgressBar(T0, T0 + 100 * SECOND, stream=out, timer=timer)
    timer.now += 2.0
    bar(65_536, T0 + 25 * SECOND)
    line = out.getvalue()
    assert line.endswith("\n")  # not a terminal: one line per update
    assert "25.0%" in line and "[######" in line  # 6 of 24 cells
    assert "2024-01-01 00:00:25.000Z" in line
    assert "65,536 rows" in line
    assert "32,768 rows/s" in line  # 65,536 rows in 2 s


def test_bar_without_a_time_range_shows_no_percent() -> None:
    timer, out = FakeTimer(), io.StringIO()
    bar = ProgressBar(stream=out, timer=timer)
    timer.now += 1.0
    bar(10, T0)
    assert "%" not in out.getvalue() and "10 rows" in out.getvalue()
    assert bar.fraction() is None


def test_bar_is_throttled_by_wall_time_not_by_calls() -> None:
    timer, out = FakeTimer(), Terminal()
    bar = ProgressBar(T0, T0 + 10 * SECOND, stream=out, timer=timer, min_interval_s=0.25)
    for step in range(1, 101):  # 100 calls over 1 s of wall time: 4 draws at most 0.25 s apart
        timer.now += 0.01
        bar(step * 65_536, T0 + step * SECOND // 10)
    assert bar.draws == 4
    assert out.getvalue().count("\r") == 4
    assert "\n" not in out.getvalue()  # a terminal redraws one line


def test_close_draws_the_final_state_and_ends_the_line() -> None:
    timer, out = FakeTimer(), Terminal()
    bar = ProgressBar(T0, T0 + 10 * SECOND, stream=out, timer=timer)
    timer.now += 0.5
    bar(65_536, T0 + 5 * SECOND)
    bar(131_072, T0 + 10 * SECOND)  # throttled: not drawn yet
    bar.close()
    text = out.getvalue()
    assert text.endswith("\n")
    assert "131,072 rows" in text.splitlines()[-1].rsplit("\r", 1)[-1]
    assert "100.0%" in text
    bar.close()  # twice is harmless
    assert out.getvalue() == text


def test_close_of_a_bar_that_saw_nothing_writes_nothing() -> None:
    out = Terminal()
    ProgressBar(stream=out, timer=FakeTimer()).close()
    assert out.getvalue() == ""


def test_fraction_is_clamped_to_the_range() -> None:
    bar = ProgressBar(T0, T0 + SECOND, stream=io.StringIO(), timer=FakeTimer())
    bar(1, T0 + 5 * SECOND)
    assert bar.fraction() == 1.0
    empty = ProgressBar(T0, T0, stream=io.StringIO(), timer=FakeTimer())
    empty(1, T0)
    assert empty.fraction() == 1.0


def test_disabled_bar_does_nothing() -> None:
    assert progress_bar(enabled=False) is NO_PROGRESS
    assert isinstance(NO_PROGRESS, NoProgress)
    NO_PROGRESS(1, T0)
    NO_PROGRESS.close()


def test_enabled_bar_writes_to_the_given_stream() -> None:
    out = io.StringIO()
    bar = progress_bar(True, T0, T0 + SECOND, stream=out)
    assert isinstance(bar, ProgressBar)
    bar(1, T0)
    bar.close()
    assert "1 rows" in out.getvalue()
