from __future__ import annotations

from zq.cli import main
from zq.demo import run_demo


def test_demo_is_deterministic_and_uses_timers_bus_and_request_response():
    first = run_demo(trades=20_000, seed=3)
    second = run_demo(trades=20_000, seed=3)
    assert first.crosses == second.crosses and first.last_bar == second.last_bar
    assert first.state == "STOPPED"
    # Every trade is published, plus one bar per minute that had trades.
    assert first.published > 20_000
    assert first.stats == {"bars": first.published - 20_000 - first_state_events(), "crosses": len(first.crosses)}
    assert (first.requests, first.responses) == (1, 1)


def first_state_events() -> int:
    # Kernel + 2 components each publish STARTING, RUNNING, STOPPING, STOPPED.
    return 3 * 4


def test_cli_runs_the_demo_and_prints_its_results(capsys):
    assert main(["demo", "--trades", "5000", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "5,000 generated trades" in out and "stats by request/response" in out
