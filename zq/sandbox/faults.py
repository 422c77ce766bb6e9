"""Fault injection: the switches of ``FaultConfig`` applied with one seeded RNG, and counters."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from zq.sandbox.config import FaultConfig

__all__ = ["FaultInjector"]

_COUNTERS = (
    "dropped_before",
    "dropped_after",
    "delayed",
    "rate_limited",
    "disconnects",
    "duplicated",
    "reordered",
)


class FaultInjector:
    """Decide, request by request and event by event, which fault strikes.

    The switches can change while the venue runs (``update``); the counters say how many
    times each fault struck, so a test can check that it did.
    """

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config if config is not None else FaultConfig()
        self._rng = random.Random(self.config.seed)
        self.counts: dict[str, int] = dict.fromkeys(_COUNTERS, 0)

    def update(self, **changes: Any) -> FaultConfig:
        """Change some switches (a new ``seed`` restarts the RNG); return the config.

        Raises
        ------
        ValueError
            On an unknown switch or a value out of range (nothing is changed then).
        """
        names = {f.name for f in dataclasses.fields(FaultConfig)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown fault switch(es) {unknown}; known: {sorted(names)}")
        candidate = dataclasses.replace(self.config)
        for name, value in changes.items():
            setattr(candidate, name, int(value) if name == "seed" else float(value))
        candidate.validate()
        if "seed" in changes:
            self._rng = random.Random(candidate.seed)
        self.config = candidate
        return candidate

    def strikes(self, name: str, counter: str | None = None) -> bool:
        """Draw whether the fault ``name`` (a share switch) strikes, and count it if so."""
        share: float = getattr(self.config, name)
        if share <= 0.0 or self._rng.random() >= share:
            return False
        self.counts[counter or name] += 1
        return True

    def to_json(self) -> dict[str, Any]:
        """Return the switches and the counters."""
        return {"config": dataclasses.asdict(self.config), "counts": dict(self.counts)}
