"""The lifecycle every engine, strategy and node goes through.

A :class:`Component` is driven by triggers (``start()``, ``stop()``, ...) through the states
of :class:`ComponentState`. The allowed moves are the :data:`TRANSITIONS` table; anything
else raises :class:`InvalidStateTrigger`. Each public trigger passes through an intermediate
state (``STARTING``, ``STOPPING``, ...) while the subclass hook runs, then completes. A hook
that raises sends the component to ``FAULTED`` and the exception propagates with a note
naming the component.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import IntEnum, unique
from types import MappingProxyType

__all__ = [
    "TRANSITIONS",
    "Component",
    "ComponentState",
    "ComponentTrigger",
    "InvalidStateTrigger",
    "StateListener",
]


@unique
class ComponentState(IntEnum):
    """The state of a component's lifecycle."""

    PRE_INITIALIZED = 0
    READY = 1
    STARTING = 2
    RUNNING = 3
    STOPPING = 4
    STOPPED = 5
    RESUMING = 6
    RESETTING = 7
    DISPOSING = 8
    DISPOSED = 9
    DEGRADING = 10
    DEGRADED = 11
    FAULTING = 12
    FAULTED = 13


@unique
class ComponentTrigger(IntEnum):
    """A request to move a component's lifecycle on."""

    INITIALIZE = 1
    START = 2
    START_COMPLETED = 3
    STOP = 4
    STOP_COMPLETED = 5
    RESUME = 6
    RESUME_COMPLETED = 7
    RESET = 8
    RESET_COMPLETED = 9
    DISPOSE = 10
    DISPOSE_COMPLETED = 11
    DEGRADE = 12
    DEGRADE_COMPLETED = 13
    FAULT = 14
    FAULT_COMPLETED = 15


_S = ComponentState
_T = ComponentTrigger

#: Every allowed move: ``(state, trigger) -> next state``. ``DISPOSED`` is terminal.
TRANSITIONS: Mapping[tuple[ComponentState, ComponentTrigger], ComponentState] = MappingProxyType(
    {
        (_S.PRE_INITIALIZED, _T.INITIALIZE): _S.READY,
        (_S.PRE_INITIALIZED, _T.FAULT): _S.FAULTING,
        (_S.READY, _T.START): _S.STARTING,
        (_S.READY, _T.RESET): _S.RESETTING,
        (_S.READY, _T.DISPOSE): _S.DISPOSING,
        (_S.READY, _T.FAULT): _S.FAULTING,
        (_S.STARTING, _T.START_COMPLETED): _S.RUNNING,
        (_S.STARTING, _T.STOP): _S.STOPPING,
        (_S.STARTING, _T.FAULT): _S.FAULTING,
        (_S.RUNNING, _T.STOP): _S.STOPPING,
        (_S.RUNNING, _T.DEGRADE): _S.DEGRADING,
        (_S.RUNNING, _T.FAULT): _S.FAULTING,
        (_S.STOPPING, _T.STOP_COMPLETED): _S.STOPPED,
        (_S.STOPPING, _T.FAULT): _S.FAULTING,
        (_S.STOPPED, _T.RESUME): _S.RESUMING,
        (_S.STOPPED, _T.RESET): _S.RESETTING,
        (_S.STOPPED, _T.DISPOSE): _S.DISPOSING,
        (_S.STOPPED, _T.FAULT): _S.FAULTING,
        (_S.RESUMING, _T.RESUME_COMPLETED): _S.RUNNING,
        (_S.RESUMING, _T.STOP): _S.STOPPING,
        (_S.RESUMING, _T.FAULT): _S.FAULTING,
        (_S.RESETTING, _T.RESET_COMPLETED): _S.READY,
        (_S.RESETTING, _T.FAULT): _S.FAULTING,
        (_S.DISPOSING, _T.DISPOSE_COMPLETED): _S.DISPOSED,
        (_S.DISPOSING, _T.FAULT): _S.FAULTING,
        (_S.DEGRADING, _T.DEGRADE_COMPLETED): _S.DEGRADED,
        (_S.DEGRADING, _T.FAULT): _S.FAULTING,
        (_S.DEGRADED, _T.RESUME): _S.RESUMING,
        (_S.DEGRADED, _T.STOP): _S.STOPPING,
        (_S.DEGRADED, _T.DISPOSE): _S.DISPOSING,
        (_S.DEGRADED, _T.FAULT): _S.FAULTING,
        (_S.FAULTING, _T.FAULT_COMPLETED): _S.FAULTED,
        (_S.FAULTED, _T.DISPOSE): _S.DISPOSING,
    }
)


class InvalidStateTrigger(RuntimeError):
    """Raised when a trigger is not allowed in a component's current state.

    Parameters
    ----------
    component_id : str
        The component that refused the trigger.
    state : ComponentState
        Its state, unchanged by the refusal.
    trigger : ComponentTrigger
        The refused trigger.
    """

    def __init__(self, component_id: str, state: ComponentState, trigger: ComponentTrigger) -> None:
        allowed = sorted(t.name for (s, t) in TRANSITIONS if s is state)
        super().__init__(
            f"component {component_id!r} cannot {trigger.name} in state {state.name} "
            f"(allowed there: {', '.join(allowed) or 'nothing'})"
        )
        self.component_id = component_id
        self.state = state
        self.trigger = trigger


#: Called after every state change with the component, its previous and its new state; what
#: it returns is ignored.
StateListener = Callable[["Component", ComponentState, ComponentState], object]


class Component:
    """Base class of everything with a lifecycle: engines, strategies, nodes.

    Subclasses override the hooks ``_on_start``, ``_on_stop``, ``_on_resume``,
    ``_on_reset``, ``_on_dispose``, ``_on_degrade`` and ``_on_fault`` (each a no-op here);
    callers use ``start()``, ``stop()``, ``resume()``, ``reset()``, ``dispose()``,
    ``degrade()`` and ``fault()``.

    Each of those moves to the intermediate state (``start()``: ``READY -> STARTING``),
    runs the hook, then completes (``STARTING -> RUNNING``). If the hook raises, the
    component runs ``_on_fault`` and ends ``FAULTED``, and the exception propagates with a
    note naming the component; it never stays in an intermediate state. A hook may move the
    component on itself (``_on_start`` calling ``fault()``); the outer call then does not
    complete.

    Parameters
    ----------
    component_id : str, optional
        The component's identifier; default the class name.
    initialize : bool, default True
        Move from ``PRE_INITIALIZED`` to ``READY`` in the constructor. Pass False to call
        :meth:`initialize` later.
    """

    def __init__(self, component_id: str | None = None, *, initialize: bool = True) -> None:
        if component_id is None:
            component_id = type(self).__name__
        if not isinstance(component_id, str) or not component_id:
            raise ValueError(f"component_id must be a non-empty str, got {component_id!r}")
        self._component_id = component_id
        self._state = ComponentState.PRE_INITIALIZED
        self._state_listeners: list[StateListener] = []
        if initialize:
            self.initialize()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._component_id!r}, state={self._state.name})"

    # -- state ---------------------------------------------------------------------------

    @property
    def component_id(self) -> str:
        """The component's identifier."""
        return self._component_id

    @property
    def state(self) -> ComponentState:
        """The component's current state."""
        return self._state

    @property
    def is_running(self) -> bool:
        """Whether the component is ``RUNNING``."""
        return self._state is ComponentState.RUNNING

    @property
    def is_stopped(self) -> bool:
        """Whether the component is ``STOPPED``."""
        return self._state is ComponentState.STOPPED

    @property
    def is_disposed(self) -> bool:
        """Whether the component is ``DISPOSED``."""
        return self._state is ComponentState.DISPOSED

    @property
    def is_degraded(self) -> bool:
        """Whether the component is ``DEGRADED``."""
        return self._state is ComponentState.DEGRADED

    @property
    def is_faulted(self) -> bool:
        """Whether the component is ``FAULTED``."""
        return self._state is ComponentState.FAULTED

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(component, previous_state, new_state)`` after each state change.

        Listeners run in the order added, intermediate states included. A listener that
        raises during a trigger faults the component like a raising hook.
        """
        self._state_listeners.append(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        """Stop calling ``listener``; raise ``ValueError`` if it was not added."""
        self._state_listeners.remove(listener)

    # -- triggers ------------------------------------------------------------------------

    def initialize(self) -> None:
        """Move from ``PRE_INITIALIZED`` to ``READY`` (the constructor does it by default).

        Raises
        ------
        InvalidStateTrigger
            If the component is not ``PRE_INITIALIZED``.
        """
        self._set_state(self._next_state(ComponentTrigger.INITIALIZE))

    def start(self) -> None:
        """Start: ``READY -> STARTING``, run ``_on_start``, ``-> RUNNING``.

        Raises
        ------
        InvalidStateTrigger
            If the component cannot start from its state.
        """
        self._run(ComponentTrigger.START, ComponentTrigger.START_COMPLETED, self._on_start)

    def stop(self) -> None:
        """Stop: ``RUNNING`` or ``DEGRADED -> STOPPING``, run ``_on_stop``, ``-> STOPPED``.

        Raises
        ------
        InvalidStateTrigger
            If the component cannot stop from its state.
        """
        self._run(ComponentTrigger.STOP, ComponentTrigger.STOP_COMPLETED, self._on_stop)

    def resume(self) -> None:
        """Resume: ``STOPPED`` or ``DEGRADED -> RESUMING``, run ``_on_resume``, ``-> RUNNING``.

        Raises
        ------
        InvalidStateTrigger
            If the component cannot resume from its state.
        """
        self._run(ComponentTrigger.RESUME, ComponentTrigger.RESUME_COMPLETED, self._on_resume)

    def reset(self) -> None:
        """Reset: ``STOPPED`` or ``READY -> RESETTING``, run ``_on_reset``, ``-> READY``.

        Raises
        ------
        InvalidStateTrigger
            If the component cannot reset from its state.
        """
        self._run(ComponentTrigger.RESET, ComponentTrigger.RESET_COMPLETED, self._on_reset)

    def dispose(self) -> None:
        """Dispose: ``READY``, ``STOPPED``, ``DEGRADED`` or ``FAULTED -> DISPOSING``, run
        ``_on_dispose``, ``-> DISPOSED``, for good.

        Raises
        ------
        InvalidStateTrigger
            If the component cannot be disposed of from its state.
        """
        self._run(ComponentTrigger.DISPOSE, ComponentTrigger.DISPOSE_COMPLETED, self._on_dispose)

    def degrade(self) -> None:
        """Degrade: ``RUNNING -> DEGRADING``, run ``_on_degrade``, ``-> DEGRADED``.

        Raises
        ------
        InvalidStateTrigger
            If the component cannot degrade from its state.
        """
        self._run(ComponentTrigger.DEGRADE, ComponentTrigger.DEGRADE_COMPLETED, self._on_degrade)

    def fault(self) -> None:
        """Fault: any state but ``DISPOSED`` and ``FAULTING``/``FAULTED`` ``-> FAULTING``,
        run ``_on_fault``, ``-> FAULTED``. A component in an intermediate state may fault.

        Raises
        ------
        InvalidStateTrigger
            If the component cannot fault from its state.
        """
        self._run(ComponentTrigger.FAULT, ComponentTrigger.FAULT_COMPLETED, self._on_fault)

    # -- hooks for subclasses --------------------------------------------------------------

    def _on_start(self) -> None:
        """Acquire what running needs (subscriptions, timers, connections)."""

    def _on_stop(self) -> None:
        """Release what ``_on_start`` acquired."""

    def _on_resume(self) -> None:
        """Pick up again after a stop or a degradation."""

    def _on_reset(self) -> None:
        """Return internal state to what it was after construction."""

    def _on_dispose(self) -> None:
        """Release every resource for good."""

    def _on_degrade(self) -> None:
        """Carry on with reduced function (a lost connection, a lagging feed)."""

    def _on_fault(self) -> None:
        """Clean up after a fault; also runs when another hook raised."""

    # -- machinery -----------------------------------------------------------------------

    def _next_state(self, trigger: ComponentTrigger) -> ComponentState:
        target = TRANSITIONS.get((self._state, trigger))
        if target is None:
            raise InvalidStateTrigger(self._component_id, self._state, trigger)
        return target

    def _set_state(self, state: ComponentState) -> None:
        previous = self._state
        self._state = state
        for listener in tuple(self._state_listeners):
            listener(self, previous, state)

    def _run(
        self,
        trigger: ComponentTrigger,
        completed: ComponentTrigger,
        hook: Callable[[], None],
    ) -> None:
        intermediate = self._next_state(trigger)
        try:
            self._set_state(intermediate)
            hook()
            # A hook may have moved the component on itself (e.g. called fault()).
            if self._state is intermediate:
                self._set_state(self._next_state(completed))
        except BaseException as exc:
            self._fault_after(exc, trigger)
            raise

    def _fault_after(self, exc: BaseException, trigger: ComponentTrigger) -> None:
        """Move to FAULTED after ``exc`` interrupted ``trigger``, and note it on ``exc``."""
        raised_in = self._state
        if raised_in is ComponentState.FAULTING:
            self._set_state_noting(ComponentState.FAULTED, exc)
        elif (raised_in, ComponentTrigger.FAULT) in TRANSITIONS:
            self._set_state_noting(ComponentState.FAULTING, exc)
            try:
                self._on_fault()
            except BaseException as fault_exc:
                exc.add_note(f"while faulting, _on_fault also raised {fault_exc!r}")
            self._set_state_noting(ComponentState.FAULTED, exc)
        exc.add_note(
            f"component {self._component_id!r} was in state {raised_in.name} during "
            f"{trigger.name} when this was raised; it is now {self._state.name}"
        )

    def _set_state_noting(self, state: ComponentState, exc: BaseException) -> None:
        # On the way to FAULTED a raising listener must not stop the move; note it instead.
        previous = self._state
        self._state = state
        for listener in tuple(self._state_listeners):
            try:
                listener(self, previous, state)
            except Exception as listener_exc:
                exc.add_note(
                    f"a state listener raised {listener_exc!r} on the move to {state.name}"
                )
