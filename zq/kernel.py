"""The kernel: builds and wires one node's clock, message bus and cache, and drives the
lifecycle of the components added to it.

The same kernel runs in both environments; only the clock and the bus error policy differ:

- backtest: a ``TestClock`` advanced by the data; a handler that raises stops the run
  (the bus re-raises it, naming the topic and the handler).
- live: a ``LiveClock`` on the running uvloop loop; a handler that raises is logged and
  counted, and the other handlers still get the message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import msgspec
import uvloop

from zq.cache import Cache
from zq.common.clock import Clock, LiveClock, TestClock
from zq.common.component import Component, ComponentState
from zq.common.topics import TOPIC_COMPONENT_STATE
from zq.model.enums import Environment
from zq.model.identifiers import TraderId
from zq_core.bus import MessageBus

__all__ = ["ComponentStateChanged", "Kernel", "KernelConfig", "new_event_loop", "run_live"]

T = TypeVar("T")
_log = logging.getLogger("zq.kernel")


class KernelConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a node is: its trader id and its environment."""

    trader_id: str = "TRADER-001"
    environment: Environment = Environment.BACKTEST


class ComponentStateChanged(msgspec.Struct, frozen=True, gc=False, tag=True):
    """Published on ``events.component`` whenever a component of the kernel changes state."""

    component_id: str
    previous: ComponentState
    state: ComponentState
    ts_event: int


class Kernel(Component):
    """One node's clock, bus and cache, and the components that share them.

    Components are started in the order they were added and stopped in reverse order.
    Each of their state changes is published as a :class:`ComponentStateChanged`.

    Parameters
    ----------
    config : KernelConfig
        The trader id and the environment.
    loop : asyncio.AbstractEventLoop, optional
        Live only: the loop the ``LiveClock`` schedules on (default: the running loop).
    """

    def __init__(
        self, config: KernelConfig | None = None, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        config = config or KernelConfig()
        self.config = config
        self.trader_id = TraderId(config.trader_id)
        self.environment = config.environment
        live = config.environment is Environment.LIVE
        self.clock: Clock = LiveClock(loop) if live else TestClock()
        self.bus = MessageBus(name=f"{self.trader_id}.MessageBus", raise_errors=not live)
        self.cache = Cache()
        self._components: list[Component] = []
        super().__init__(f"{self.trader_id}.Kernel")
        self.add_state_listener(self._publish_state)

    @property
    def components(self) -> list[Component]:
        """The components in start order."""
        return list(self._components)

    def add_component(self, component: Component) -> None:
        """Add a component; it is started with the kernel (or at once if the kernel runs).

        Raises
        ------
        ValueError
            If a component with the same id was already added.
        """
        if any(c.component_id == component.component_id for c in self._components):
            raise ValueError(f"component {component.component_id!r} is already in the kernel")
        component.add_state_listener(self._publish_state)
        self._components.append(component)
        if self.is_running and component.state is ComponentState.READY:
            component.start()

    def _publish_state(
        self, component: Component, previous: ComponentState, state: ComponentState
    ) -> None:
        event = ComponentStateChanged(
            component.component_id, previous, state, self.clock.timestamp_ns()
        )
        self.bus.publish(TOPIC_COMPONENT_STATE, event)

    def _on_start(self) -> None:
        _log.info("starting %s (%s)", self.trader_id, self.environment.name)
        for component in self._components:
            if component.state in (ComponentState.READY,):
                component.start()
            elif component.state is ComponentState.STOPPED:
                component.resume()

    def _on_stop(self) -> None:
        for component in reversed(self._components):
            if component.is_running or component.is_degraded:
                component.stop()

    def _on_resume(self) -> None:
        self._on_start()

    def _on_reset(self) -> None:
        for component in self._components:
            if component.state is ComponentState.STOPPED:
                component.reset()
        self.cache.reset()

    def _on_dispose(self) -> None:
        for component in reversed(self._components):
            if not component.is_disposed:
                if component.is_running:
                    component.stop()
                component.dispose()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """Return a new uvloop event loop (the loop of every live node)."""
    return uvloop.new_event_loop()


def run_live(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new uvloop event loop and return its result."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
