"""Type stubs for zq_core.sampling: the result sampler's compiled per-fill record."""

from array import array
from collections.abc import Mapping
from typing import Any

__all__ = ["SampleColumns", "read_columns"]

class SampleColumns:
    ts: array[int]
    position_counts: array[int]
    position_events: list[Any]
    marks: list[tuple[Any, ...]]
    account_counts: list[tuple[Any, array[int]]]
    def __init__(
        self,
        ts: array[int],
        position_counts: array[int],
        position_events: list[Any],
        marks: list[tuple[Any, ...]],
        account_counts: list[tuple[Any, array[int]]],
    ) -> None: ...
    def on_position_event(self, event: Any) -> None: ...
    def sample(self, ts: int) -> None: ...

def read_columns(
    objects: list[Any],
    numbers: tuple[str, ...],
    names: tuple[str, ...] = (),
    kinds: Mapping[type, int] | None = None,
) -> tuple[array[int], list[list[Any]], array[int]]: ...
