"""A progress bar for long replays: data time reached, percent, rows and rows per second.

The replay loop calls the bar as ``bar(rows_done, ts_ns)`` every so many rows (the compiled
loop every ~64k rows) and ``bar.close()`` at the end. The bar draws at most a few times per
second of wall time, on stderr: on a terminal it redraws one line (``\\r``); elsewhere (a log
file, CI) it writes one line per update, at most one every ``log_interval_s``. A disabled bar
(:data:`NO_PROGRESS`, or ``progress_bar(enabled=False)``) does nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, TextIO

__all__ = ["NO_PROGRESS", "NoProgress", "Progress", "ProgressBar", "progress_bar"]

_WIDTH = 24


class Progress(Protocol):
    """What a replay loop calls: ``progress(rows_done, ts_ns)`` then ``progress.close()``."""

    def __call__(self, rows_done: int, ts_ns: int) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    """A progress bar that draws nothing."""

    def __call__(self, rows_done: int, ts_ns: int) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""


#: The shared disabled bar.
NO_PROGRESS = NoProgress()


def _utc(ts_ns: int) -> str:
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp}.{nanos // 1_000_000:03d}Z"


class ProgressBar:
    """Draw the progress of a replay on a stream (stderr by default).

    Parameters
    ----------
    start_ns, end_ns : int, optional
        The data time range; with both, the bar shows the percentage of data time reached.
    stream : TextIO, optional
        Where to draw; default ``sys.stderr`` (looked up when the bar is created).
    min_interval_s : float, default 0.25
        The least wall time between two redraws on a terminal.
    log_interval_s : float, default 5.0
        The least wall time between two lines when the stream is not a terminal.
    timer : Callable[[], float], default time.monotonic
        The wall clock (seconds); tests pass a fake one.
    """

    def __init__(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        stream: TextIO | None = None,
        min_interval_s: float = 0.25,
        log_interval_s: float = 5.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.terminal = bool(isatty()) if isatty is not None else False
        self.interval_s = min_interval_s if self.terminal else log_interval_s
        self._timer = timer
        self._started = timer()
        self._last_draw: float | None = None
        self._rows = 0
        self._ts: int | None = None
        self._closed = False
        self.draws = 0

    def __call__(self, rows_done: int, ts_ns: int) -> None:
        """Record the progress; redraw if the last redraw is old enough."""
        self._rows = rows_done
        self._ts = ts_ns
        now = self._timer()
        if self._last_draw is not None and now - self._last_draw < self.interval_s:
            return
        self._draw(now)

    def close(self) -> None:
        """Draw the final state (if anything was reported) and end the line."""
        if self._closed:
            return
        self._closed = True
        if self._ts is None:
            return
        self._draw(self._timer(), final=True)
        if self.terminal:
            self.stream.write("\n")
        self.stream.flush()

    def line(self, now: float | None = None) -> str:
        """Return the text of the bar at wall time ``now`` (default: the timer's)."""
        now = self._timer() if now is None else now
        elapsed = max(now - self._started, 0.0)
        rate = self._rows / elapsed if elapsed > 0 else 0.0
        parts = []
        fraction = self.fraction()
        if fraction is not None:
            filled = round(fraction * _WIDTH)
            parts.append(f"[{'#' * filled}{'.' * (_WIDTH - filled)}] {fraction * 100:5.1f}%")
        if self._ts is not None:
            parts.append(_utc(self._ts))
        parts.append(f"{self._rows:,} rows")
        parts.append(f"{rate:,.0f} rows/s")
        parts.append(f"{elapsed:,.1f} s")
        return "  ".join(parts)

    def fraction(self) -> float | None:
        """Return the share of the data time range reached, or None without a range."""
        if self.start_ns is None or self.end_ns is None or self._ts is None:
            return None
        span = self.end_ns - self.start_ns
        if span <= 0:
            return 1.0
        return min(max((self._ts - self.start_ns) / span, 0.0), 1.0)

    def _draw(self, now: float, final: bool = False) -> None:
        self._last_draw = now
        self.draws += 1
        text = self.line(now)
        if self.terminal:
            self.stream.write(f"\r{text}\x1b[K")
        else:
            self.stream.write(f"{text}\n")
        if not final:
            self.stream.flush()


def progress_bar(
    enabled: bool = True,
    start_ns: int | None = None,
    end_ns: int | None = None,
    *,
    stream: TextIO | None = None,
) -> Progress:
    """Return a :class:`ProgressBar` on stderr (or ``stream``), or :data:`NO_PROGRESS`."""
    if not enabled:
        return NO_PROGRESS
    return ProgressBar(start_ns, end_ns, stream=stream)
