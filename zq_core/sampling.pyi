"""Type stubs for zq_core.sampling: the result sampler's compiled per-fill record."""

from array import array
from collections.abc import Mapping
from typing import Any

__all__ = ["SampleColumns", "identities", "read_columns", "replay_linear", "take"]

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

def identities(values: list[Any]) -> array[int]: ...
def read_columns(
    objects: list[Any],
    numbers: tuple[str, ...],
    names: tuple[str, ...] = (),
    kinds: Mapping[type, int] | None = None,
) -> tuple[array[int], list[list[Any]], array[int]]: ...
def replay_linear(
    counts: array[int],
    kinds: array[int],
    positions: array[int],
    qty: array[int],
    px: array[int],
    signed: array[int],
    position_column: array[int],
    position_pair: array[int],
    multipliers: array[int],
    pair_count: int,
) -> (
    tuple[array[int], array[int], array[int], array[int], array[int], list[int]] | None
): ...
def take(values: list[Any], rows: Any) -> list[Any]: ...
