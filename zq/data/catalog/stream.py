"""The k-way merge behind ``ParquetDataCatalog.stream``: many sorted series, one order.

Each series is read in chunks. A merge step emits every buffered row that no unread row
can precede, sorts those rows by ``ts_init`` with a stable numpy sort, and yields them as
runs of consecutive rows of one series. Series are given in tie-break order (kind rank,
then key), so the stable sort over their concatenation orders equal timestamps by series
and then by each series' own order.

Why a step is safe: let ``W`` be the smallest last-buffered ``ts_init`` over the series and
``w`` the first series (in tie-break order) whose buffer ends at ``W``. Every unread row of
a series ``s`` has ``ts_init >= last(s) >= W``, so a buffered row ``(t, s')`` can be
emitted when ``(t, rank(s')) <= (W, rank(w))``: rows up to ``W`` inclusive for the series
before ``w``, all of ``w``'s buffer, rows strictly before ``W`` for the series after it.
``w``'s buffer always empties, so each step makes progress and no series ever holds more
than one chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zq.data.catalog.schema import DataSeries

__all__ = ["merge_series", "merge_series_records"]

Rows = npt.NDArray[np.void]


class _Cursor:
    """A series' current chunk and how far into it the merge has emitted."""

    __slots__ = ("position", "reader", "rows", "series", "ts_init")

    def __init__(self, series: DataSeries, reader: Iterator[Rows]) -> None:
        self.series = series
        self.reader = reader
        self.rows: Rows = np.empty(0, series.dtype)
        self.ts_init: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self.position = 0

    def refill(self) -> bool:
        """Load the next non-empty chunk; return False when the series is exhausted."""
        for rows in self.reader:
            if len(rows):
                self.rows = rows
                self.ts_init = np.ascontiguousarray(rows["ts_init"])
                self.position = 0
                return True
        self.rows = np.empty(0, self.series.dtype)
        self.ts_init = np.empty(0, np.int64)
        return False


def merge_series(
    series: Sequence[DataSeries],
    readers: Sequence[Iterator[Rows]],
    on_step: Callable[[int], object] | None = None,
) -> Iterator[tuple[DataSeries, Rows]]:
    """Merge sorted chunk readers into runs ``(series, rows)`` in global ``ts_init`` order.

    Parameters
    ----------
    series
        The series in tie-break order; ``readers[i]`` yields ``series[i]``'s rows in chunks,
        sorted by ``ts_init`` across chunks.
    readers
        One chunk iterator per series.
    on_step
        Called before each merge step with the number of rows buffered over all series.
    """
    for parts, runs in _steps(series, readers, on_step):
        if runs is None:
            yield parts[0]
            continue
        run_series, run_rows = [part[0] for part in parts], [part[1] for part in parts]
        for part, first, stop in zip(runs[0], runs[1], runs[2], strict=True):
            yield run_series[part], run_rows[part][first:stop]


def merge_series_records(
    series: Sequence[DataSeries],
    readers: Sequence[Iterator[Rows]],
    on_step: Callable[[int], object] | None = None,
) -> Iterator[tuple[DataSeries, tuple[Any, ...]]]:
    """Merge like ``merge_series`` but yield one ``(series, record)`` per row.

    A record is the row as a tuple of Python ints in ``series.kind.columns`` order (no
    padding). Records are built column by column, several times faster than
    ``ndarray.tolist`` on a structured array.
    """
    for parts, runs in _steps(series, readers, on_step):
        if runs is None:
            only, rows = parts[0]
            for record in zip(*_column_lists(only, rows), strict=True):
                yield only, record
            continue
        run_series = [part[0] for part in parts]
        records = [list(zip(*_column_lists(*part), strict=True)) for part in parts]
        for part, first, stop in zip(runs[0], runs[1], runs[2], strict=True):
            if stop - first == 1:
                yield run_series[part], records[part][first]
            else:
                owner, held = run_series[part], records[part]
                for index in range(first, stop):
                    yield owner, held[index]


def _column_lists(series: DataSeries, rows: Rows) -> list[list[Any]]:
    return [rows[name].tolist() for name in series.kind.columns]


_Part = tuple[DataSeries, Rows]
_Runs = tuple[list[int], list[int], list[int]]


def _steps(
    series: Sequence[DataSeries],
    readers: Sequence[Iterator[Rows]],
    on_step: Callable[[int], object] | None,
) -> Iterator[tuple[list[_Part], _Runs | None]]:
    """Yield per merge step the parts emitted and, when several, their runs in order."""
    if len(series) != len(readers):
        raise ValueError(f"{len(series)} series but {len(readers)} readers")
    cursors = [_Cursor(item, reader) for item, reader in zip(series, readers, strict=True)]
    live = [cursor for cursor in cursors if cursor.refill()]
    searchsorted = np.searchsorted
    while live:
        if on_step is not None:
            on_step(sum(len(cursor.rows) for cursor in live))
        if len(live) == 1:
            cursor = live[0]
            yield [(cursor.series, cursor.rows[cursor.position :])], None
            if not cursor.refill():
                live = []
            continue
        lasts = [int(cursor.ts_init[-1]) for cursor in live]
        watermark = min(lasts)
        limiter = lasts.index(watermark)
        parts: list[_Part] = []
        stamps: list[npt.NDArray[np.int64]] = []
        for index, cursor in enumerate(live):
            first = cursor.position
            if index < limiter:
                stop = int(searchsorted(cursor.ts_init, watermark, "right"))
            elif index == limiter:
                stop = len(cursor.ts_init)
            else:
                stop = max(first, int(searchsorted(cursor.ts_init, watermark, "left")))
            if stop > first:
                parts.append((cursor.series, cursor.rows[first:stop]))
                stamps.append(cursor.ts_init[first:stop])
                cursor.position = stop
        yield parts, (_runs(stamps) if len(parts) > 1 else None)
        live = [cursor for cursor in live if cursor.position < len(cursor.rows) or cursor.refill()]


def _runs(stamps: list[npt.NDArray[np.int64]]) -> _Runs:
    """Sort the parts' stamps (stable) and cut the order into runs of one part each.

    Return per run: its part, and its first and stop row within the part.
    """
    lengths = np.array([len(part) for part in stamps], np.int64)
    offsets = np.zeros(len(stamps), np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    order = np.argsort(np.concatenate(stamps), kind="stable")
    source = np.repeat(np.arange(len(stamps), dtype=np.int64), lengths)[order]
    starts = np.flatnonzero(np.concatenate(([True], source[1:] != source[:-1])))
    sizes = np.diff(np.append(starts, len(order)))
    run_parts = source[starts]
    run_firsts = order[starts] - offsets[run_parts]
    return run_parts.tolist(), run_firsts.tolist(), (run_firsts + sizes).tolist()
