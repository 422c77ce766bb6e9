from __future__ import annotations

import asyncio

import pytest
import uvloop

from zq.common.clock import LiveClock, TestClock
from zq.common.component import Component, ComponentState
from zq.common.topics import TOPIC_COMPONENT_STATE
from zq.kernel import ComponentStateChanged, Kernel, KernelConfig, run_live
from zq.model.enums import Environment


class Recorder(Component):
    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__(name)
        self.log = log

    def _on_start(self) -> None:
        self.log.append(f"start {self.component_id}")

    def _on_stop(self) -> None:
        self.log.append(f"stop {self.component_id}")


def test_backtest_kernel_has_a_test_clock_and_a_fail_fast_bus():
    kernel = Kernel()
    assert isinstance(kernel.clock, TestClock)
    assert kernel.bus.raise_errors
    assert kernel.state is ComponentState.READY


def test_components_start_in_order_and_stop_in_reverse():
    log: list[str] = []
    kernel = Kernel()
    kernel.add_component(Recorder("A", log))
    kernel.add_component(Recorder("B", log))
    kernel.start()
    kernel.stop()
    assert log == ["start A", "start B", "stop B", "stop A"]
    assert all(c.state is ComponentState.STOPPED for c in kernel.components)


def test_component_added_to_a_running_kernel_starts_at_once():
    log: list[str] = []
    kernel = Kernel()
    kernel.start()
    kernel.add_component(Recorder("late", log))
    assert log == ["start late"]


def test_two_components_with_the_same_id_are_refused():
    kernel = Kernel()
    kernel.add_component(Recorder("A", []))
    with pytest.raises(ValueError, match="'A' is already in the kernel"):
        kernel.add_component(Recorder("A", []))


def test_state_changes_are_published_on_the_bus():
    kernel = Kernel()
    events: list[ComponentStateChanged] = []
    kernel.bus.subscribe(TOPIC_COMPONENT_STATE, events.append)
    kernel.add_component(Recorder("A", []))
    kernel.start()
    changes = [(e.component_id, e.state.name) for e in events]
    assert changes == [
        ("TRADER-001.Kernel", "STARTING"),
        ("A", "STARTING"),
        ("A", "RUNNING"),
        ("TRADER-001.Kernel", "RUNNING"),
    ]


def test_reset_clears_the_cache_and_dispose_stops_everything():
    kernel = Kernel()
    recorder = Recorder("A", [])
    kernel.add_component(recorder)
    kernel.start()
    kernel.stop()
    kernel.reset()
    assert kernel.state is ComponentState.READY and recorder.state is ComponentState.READY
    kernel.start()
    kernel.stop()
    kernel.dispose()
    assert recorder.is_disposed and kernel.is_disposed


def test_invalid_config_is_refused():
    with pytest.raises(ValueError, match="TraderId"):
        Kernel(KernelConfig(trader_id="nobody"))


def test_live_kernel_runs_on_uvloop_with_a_live_clock_and_an_isolating_bus():
    async def main() -> tuple[str, bool, int]:
        kernel = Kernel(KernelConfig(environment=Environment.LIVE))
        fired = asyncio.Event()
        kernel.clock.set_time_alert(
            "soon", kernel.clock.timestamp_ns() + 1_000_000, lambda e: fired.set()
        )
        received: list[object] = []

        def broken(msg: object) -> None:
            raise RuntimeError("handler bug")

        kernel.bus.subscribe("x", broken, priority=1)
        kernel.bus.subscribe("x", received.append)
        kernel.bus.publish("x", 1)  # the broken handler is isolated in live mode
        await asyncio.wait_for(fired.wait(), timeout=10)
        loop_name = type(asyncio.get_running_loop()).__module__
        return loop_name, isinstance(kernel.clock, LiveClock), len(received) + kernel.bus.errors

    loop_module, live_clock, count = run_live(main())
    assert loop_module.startswith("uvloop")
    assert live_clock and count == 2
    assert uvloop is not None
