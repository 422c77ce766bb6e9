"""zq: an event-driven algorithmic trading engine.

One ``Strategy`` runs unchanged in a deterministic backtest and live; hot paths are compiled
in ``zq_core``. Start with :mod:`zq.model` (the domain), :mod:`zq.cache`, :mod:`zq.common`
(clocks, lifecycle) and :mod:`zq.kernel`.
"""

__version__ = "0.1.0"
