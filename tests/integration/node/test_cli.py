"""``zq live CONFIG``: the example config runs on a fresh machine (its own sandbox venue)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def zq(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zq", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_zq_live_runs_the_example_config_against_its_own_sandbox_and_stops() -> None:
    done = zq("live", "examples/configs/live_sandbox.toml", "--seconds", "1.5")
    assert done.returncode == 0, done.stderr
    assert "zq live examples/configs/live_sandbox.toml: starting" in done.stdout
    assert "zq live: stopped;" in done.stdout
    assert "sandbox venue for BINANCE listening on http://127.0.0.1:" in done.stderr
    assert "reconciled: 2 balance(s), 0 open order(s)" in done.stderr


def test_zq_live_refuses_a_bad_config_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[venues]]\nadapter = "ftx"\n')
    done = zq("live", str(config))
    assert done.returncode == 2
    assert f"zq live: {config}: venues[0].adapter = 'ftx'" in done.stderr


def test_commands_other_than_venue_and_live_do_not_import_the_sandbox_or_aiohttp() -> None:
    # Building the parser used to import zq.sandbox (and with it aiohttp) for every command.
    probe = (
        "import sys\n"
        "from zq.cli import main\n"
        "code = main(['backtest', 'no-such-config.toml', '--report', ''])\n"
        "loaded = [m for m in sys.modules if m == 'aiohttp' or m.startswith('zq.sandbox')]\n"
        "print(code, loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "2 []", (done.stdout, done.stderr)


def test_zq_venue_parses_its_own_options() -> None:
    shown = zq("venue", "--help")
    assert shown.returncode == 0
    assert "usage: zq venue" in shown.stdout and "--faults" in shown.stdout
    refused = zq("venue", "--replay", "x.jsonl", "--generated")
    assert refused.returncode == 2
    assert "zq venue: error: argument --generated: not allowed with argument --replay" in (
        refused.stderr
    )
    assert "unrecognized arguments: --bogus" in zq("backtest", "x.toml", "--bogus").stderr
