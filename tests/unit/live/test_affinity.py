"""Pinning a live process to CPUs: every thread, checked CPUs, the config's errors."""

from __future__ import annotations

import contextlib
import os
import threading

import pytest

from zq.backtest.config import ConfigError
from zq.live.affinity import set_cpu_affinity
from zq.live.config import parse_live_config


@pytest.fixture
def restored_affinity():
    allowed = os.sched_getaffinity(0)
    yield sorted(allowed)
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(tid), allowed)


def test_every_thread_of_the_process_is_pinned_and_later_ones_inherit_it(restored_affinity):
    cpu = restored_affinity[-1]
    started = threading.Event()
    release = threading.Event()
    seen: dict[str, set[int]] = {}

    def before() -> None:
        started.set()
        release.wait(10)
        seen["before"] = os.sched_getaffinity(0)

    thread = threading.Thread(target=before)
    thread.start()
    started.wait(10)
    assert set_cpu_affinity([cpu]) == {cpu}
    release.set()
    thread.join()
    later = threading.Thread(target=lambda: seen.setdefault("after", os.sched_getaffinity(0)))
    later.start()
    later.join()
    assert seen == {"before": {cpu}, "after": {cpu}}
    assert os.sched_getaffinity(0) == {cpu}


def test_a_cpu_the_process_may_not_use_is_refused_naming_it(restored_affinity):
    missing = max(restored_affinity) + 1
    with pytest.raises(ValueError, match=rf"cpu_affinity = \[{missing}\]: CPU {missing} is not"):
        set_cpu_affinity([missing])
    with pytest.raises(ValueError, match="name at least one CPU"):
        set_cpu_affinity([])
    assert sorted(os.sched_getaffinity(0)) == restored_affinity  # nothing changed


def test_the_nodes_config_checks_its_cpu_affinity():
    allowed = sorted(os.sched_getaffinity(0))
    config = parse_live_config({"cpu_affinity": [allowed[0]]}, "node.toml")
    assert config.cpu_affinity == [allowed[0]]
    assert parse_live_config({}, "node.toml").cpu_affinity is None
    with pytest.raises(ConfigError, match=r"node.toml: cpu_affinity = \[4096\]: CPU 4096"):
        parse_live_config({"cpu_affinity": [4096]}, "node.toml")
