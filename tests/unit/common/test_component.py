"""The component lifecycle: the transition table, hooks, faults and listeners."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zq.common.component import (
    TRANSITIONS,
    Component,
    ComponentState,
    ComponentTrigger,
    InvalidStateTrigger,
)

S = ComponentState
T = ComponentTrigger

PUBLIC_TRIGGERS: dict[str, ComponentTrigger] = {
    "initialize": T.INITIALIZE,
    "start": T.START,
    "stop": T.STOP,
    "resume": T.RESUME,
    "reset": T.RESET,
    "dispose": T.DISPOSE,
    "degrade": T.DEGRADE,
    "fault": T.FAULT,
}

# The state each public call ends in, from each state; a missing pair is refused.
EXPECTED: dict[tuple[ComponentState, str], ComponentState] = {
    (S.PRE_INITIALIZED, "initialize"): S.READY,
    (S.PRE_INITIALIZED, "fault"): S.FAULTED,
    (S.READY, "start"): S.RUNNING,
    (S.READY, "reset"): S.READY,
    (S.READY, "dispose"): S.DISPOSED,
    (S.READY, "fault"): S.FAULTED,
    (S.STARTING, "stop"): S.STOPPED,
    (S.STARTING, "fault"): S.FAULTED,
    (S.RUNNING, "stop"): S.STOPPED,
    (S.RUNNING, "degrade"): S.DEGRADED,
    (S.RUNNING, "fault"): S.FAULTED,
    (S.STOPPING, "fault"): S.FAULTED,
    (S.STOPPED, "resume"): S.RUNNING,
    (S.STOPPED, "reset"): S.READY,
    (S.STOPPED, "dispose"): S.DISPOSED,
    (S.STOPPED, "fault"): S.FAULTED,
    (S.RESUMING, "stop"): S.STOPPED,
    (S.RESUMING, "fault"): S.FAULTED,
    (S.RESETTING, "fault"): S.FAULTED,
    (S.DISPOSING, "fault"): S.FAULTED,
    (S.DEGRADING, "fault"): S.FAULTED,
    (S.DEGRADED, "stop"): S.STOPPED,
    (S.DEGRADED, "resume"): S.RUNNING,
    (S.DEGRADED, "dispose"): S.DISPOSED,
    (S.DEGRADED, "fault"): S.FAULTED,
    (S.FAULTED, "dispose"): S.DISPOSED,
}

# How to reach each state: settled states by a path of calls; an intermediate state is
# observed from inside the hook of the call that passes through it.
SETTLED_PATHS: dict[ComponentState, list[str]] = {
    S.PRE_INITIALIZED: [],
    S.READY: ["initialize"],
    S.RUNNING: ["initialize", "start"],
    S.STOPPED: ["initialize", "start", "stop"],
    S.DEGRADED: ["initialize", "start", "degrade"],
    S.FAULTED: ["initialize", "fault"],
    S.DISPOSED: ["initialize", "dispose"],
}
INTERMEDIATE_PATHS: dict[ComponentState, tuple[list[str], str]] = {
    # state: (path to the call, the call whose hook runs in that state)
    S.STARTING: (["initialize"], "start"),
    S.STOPPING: (["initialize", "start"], "stop"),
    S.RESUMING: (["initialize", "start", "stop"], "resume"),
    S.RESETTING: (["initialize", "start", "stop"], "reset"),
    S.DISPOSING: (["initialize"], "dispose"),
    S.DEGRADING: (["initialize", "start"], "degrade"),
    S.FAULTING: (["initialize"], "fault"),
}


class Probe(Component):
    """A component that records its hooks and can run one probe inside the next hook."""

    def __init__(self, component_id: str = "Probe-1", *, initialize: bool = False) -> None:
        self.hooks: list[str] = []
        self.probe: Callable[[], None] | None = None
        self.fail_in: set[str] = set()
        super().__init__(component_id, initialize=initialize)

    def _hook(self, name: str) -> None:
        self.hooks.append(name)
        probe, self.probe = self.probe, None
        if probe is not None:
            probe()
        if name in self.fail_in:
            raise OSError(f"{name} failed")

    def _on_start(self) -> None:
        self._hook("start")

    def _on_stop(self) -> None:
        self._hook("stop")

    def _on_resume(self) -> None:
        self._hook("resume")

    def _on_reset(self) -> None:
        self._hook("reset")

    def _on_dispose(self) -> None:
        self._hook("dispose")

    def _on_degrade(self) -> None:
        self._hook("degrade")

    def _on_fault(self) -> None:
        self._hook("fault")


def call(component: Component, method: str) -> None:
    getattr(component, method)()


def all_state_trigger_pairs() -> list[tuple[ComponentState, str]]:
    return [(state, method) for state in ComponentState for method in PUBLIC_TRIGGERS]


@pytest.mark.parametrize(
    ("state", "method"),
    all_state_trigger_pairs(),
    ids=[f"{state.name}-{method}" for state, method in all_state_trigger_pairs()],
)
def test_every_public_trigger_from_every_state_follows_the_table(
    state: ComponentState, method: str
) -> None:
    component = Probe("Strategy-007")
    outcome: list[ComponentState | InvalidStateTrigger] = []

    def attempt() -> None:
        assert component.state is state
        try:
            call(component, method)
        except InvalidStateTrigger as exc:
            assert component.state is state  # a refusal changes nothing
            outcome.append(exc)
        else:
            outcome.append(component.state)

    if state in SETTLED_PATHS:
        for step in SETTLED_PATHS[state]:
            call(component, step)
        attempt()
    else:
        path, passing_call = INTERMEDIATE_PATHS[state]
        for step in path:
            call(component, step)
        component.probe = attempt
        call(component, passing_call)

    [result] = outcome
    expected = EXPECTED.get((state, method))
    if expected is None:
        assert isinstance(result, InvalidStateTrigger)
        message = str(result)
        assert "'Strategy-007'" in message
        assert state.name in message
        assert PUBLIC_TRIGGERS[method].name in message
        assert (result.component_id, result.state, result.trigger) == (
            "Strategy-007",
            state,
            PUBLIC_TRIGGERS[method],
        )
    else:
        assert result is expected


def test_the_table_never_leaves_disposed() -> None:
    assert not [pair for pair in TRANSITIONS if pair[0] is S.DISPOSED]


def test_every_intermediate_state_has_exactly_one_completion_and_may_fault() -> None:
    for state in INTERMEDIATE_PATHS:
        moves = {trigger for (s, trigger) in TRANSITIONS if s is state}
        completions = {t for t in moves if t.name.endswith("_COMPLETED")}
        assert len(completions) == 1, state
        if state is not S.FAULTING:
            assert T.FAULT in moves, state


def test_the_table_only_leads_to_states_it_can_leave_or_disposed() -> None:
    sources = {state for state, _ in TRANSITIONS}
    assert all(target in sources or target is S.DISPOSED for target in TRANSITIONS.values())


# -- construction and properties -------------------------------------------------------------


def test_new_component_is_ready_and_named_after_its_class() -> None:
    component = Component()
    assert component.component_id == "Component"
    assert component.state is S.READY


def test_new_component_without_initialize_waits_in_pre_initialized() -> None:
    component = Component("Engine", initialize=False)
    before = component.state
    component.initialize()
    assert (before, component.state) == (S.PRE_INITIALIZED, S.READY)


def test_component_with_an_empty_id_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty str"):
        Component("")


def test_component_repr_shows_its_id_and_state() -> None:
    assert repr(Component("Engine")) == "Component('Engine', state=READY)"


def test_state_properties_follow_the_lifecycle() -> None:
    component = Probe(initialize=True)

    def flags() -> tuple[bool, ...]:
        return (
            component.is_running,
            component.is_stopped,
            component.is_degraded,
            component.is_faulted,
            component.is_disposed,
        )

    assert flags() == (False, False, False, False, False)
    component.start()
    assert flags() == (True, False, False, False, False)
    component.degrade()
    assert flags() == (False, False, True, False, False)
    component.stop()
    assert flags() == (False, True, False, False, False)
    component.fault()
    assert flags() == (False, False, False, True, False)
    component.dispose()
    assert flags() == (False, False, False, False, True)


def test_each_call_runs_its_hook_once() -> None:
    component = Probe(initialize=True)
    for method in ["start", "degrade", "resume", "stop", "reset", "start", "stop", "dispose"]:
        call(component, method)
    assert component.hooks == [
        "start",
        "degrade",
        "resume",
        "stop",
        "reset",
        "start",
        "stop",
        "dispose",
    ]


def test_a_refused_trigger_runs_no_hook() -> None:
    component = Probe(initialize=True)
    with pytest.raises(InvalidStateTrigger, match="'Probe-1' cannot STOP in state READY"):
        component.stop()
    assert component.hooks == []
    assert component.state is S.READY


def test_the_refusal_lists_what_the_state_allows() -> None:
    component = Probe(initialize=True)
    with pytest.raises(InvalidStateTrigger, match=r"allowed there: DISPOSE, FAULT, RESET, START"):
        component.resume()


def test_disposed_component_refuses_everything() -> None:
    component = Probe(initialize=True)
    component.dispose()
    with pytest.raises(InvalidStateTrigger, match=r"cannot START in state DISPOSED .*nothing"):
        component.start()


# -- hooks that raise ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ([], "start"),
        (["start"], "stop"),
        (["start", "stop"], "resume"),
        (["start", "stop"], "reset"),
        ([], "dispose"),
        (["start"], "degrade"),
    ],
)
def test_a_raising_hook_faults_the_component_and_the_error_names_it(
    path: list[str], method: str
) -> None:
    component = Probe("Engine-9", initialize=True)
    for step in path:
        call(component, step)
    component.fail_in = {method}

    with pytest.raises(OSError, match=f"{method} failed") as info:
        call(component, method)

    assert component.state is S.FAULTED
    assert component.hooks[-2:] == [method, "fault"]  # _on_fault ran to clean up
    notes = "\n".join(info.value.__notes__)
    assert "component 'Engine-9'" in notes
    assert PUBLIC_TRIGGERS[method].name in notes
    assert "it is now FAULTED" in notes


def test_a_raising_fault_hook_still_ends_faulted() -> None:
    component = Probe(initialize=True)
    component.fail_in = {"fault"}
    with pytest.raises(OSError, match="fault failed") as info:
        component.fault()
    assert component.state is S.FAULTED
    assert "during FAULT" in "\n".join(info.value.__notes__)


def test_a_raising_fault_hook_after_a_raising_hook_is_noted() -> None:
    component = Probe(initialize=True)
    component.fail_in = {"start", "fault"}
    with pytest.raises(OSError, match="start failed") as info:
        component.start()
    assert component.state is S.FAULTED
    assert any("_on_fault also raised OSError('fault failed')" in n for n in info.value.__notes__)


def test_a_faulted_component_whose_dispose_hook_raised_can_be_disposed_again() -> None:
    component = Probe(initialize=True)
    component.fail_in = {"dispose"}
    with pytest.raises(OSError):
        component.dispose()
    after_failure = component.state
    component.fail_in = set()
    component.dispose()
    assert (after_failure, component.state) == (S.FAULTED, S.DISPOSED)


def test_a_hook_that_faults_the_component_itself_is_not_completed_over() -> None:
    component = Probe(initialize=True)
    component.probe = component.fault
    component.start()
    assert component.state is S.FAULTED
    assert component.hooks == ["start", "fault"]


def test_a_hook_that_faults_then_raises_stays_faulted_with_a_note() -> None:
    component = Probe(initialize=True)

    def fault_then_fail() -> None:
        component.fault()
        raise OSError("after fault")

    component.probe = fault_then_fail
    with pytest.raises(OSError, match="after fault") as info:
        component.start()
    assert component.state is S.FAULTED
    assert component.hooks == ["start", "fault"]  # _on_fault ran once
    assert "it is now FAULTED" in "\n".join(info.value.__notes__)


def test_an_interrupt_inside_a_hook_also_faults_the_component() -> None:
    component = Probe(initialize=True)

    def interrupt() -> None:
        raise KeyboardInterrupt

    component.probe = interrupt
    with pytest.raises(KeyboardInterrupt):
        component.start()
    assert component.state is S.FAULTED


# -- listeners -------------------------------------------------------------------------------


def test_listeners_see_every_state_change_in_order() -> None:
    component = Probe(initialize=False)
    seen: list[tuple[str, ComponentState, ComponentState]] = []
    component.add_state_listener(lambda c, old, new: seen.append((c.component_id, old, new)))

    component.initialize()
    component.start()

    assert seen == [
        ("Probe-1", S.PRE_INITIALIZED, S.READY),
        ("Probe-1", S.READY, S.STARTING),
        ("Probe-1", S.STARTING, S.RUNNING),
    ]


def test_a_removed_listener_is_not_called() -> None:
    component = Probe(initialize=True)
    seen: list[ComponentState] = []

    def listener(c: Component, old: ComponentState, new: ComponentState) -> None:
        seen.append(new)

    component.add_state_listener(listener)
    component.remove_state_listener(listener)
    component.start()
    assert seen == []


def test_a_raising_listener_faults_the_component_and_is_noted() -> None:
    component = Probe(initialize=True)

    def listener(c: Component, old: ComponentState, new: ComponentState) -> None:
        if new in (S.RUNNING, S.FAULTED):
            raise LookupError(f"listener failed on {new.name}")

    component.add_state_listener(listener)
    with pytest.raises(LookupError, match="listener failed on RUNNING") as info:
        component.start()
    assert component.state is S.FAULTED
    assert any("listener raised LookupError" in note for note in info.value.__notes__)
