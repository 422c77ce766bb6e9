"""``zq backtest CONFIG``: the summary, the statistics and the HTML report."""

from __future__ import annotations

from pathlib import Path

from zq.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def small_config(tmp_path: Path) -> Path:
    text = (EXAMPLES / "configs" / "ema_cross.toml").read_text()
    text = text.replace("count = 200_000", "count = 20_000")
    text = text.replace(
        'path = "../ema_cross.py:EmaCross"', f'path = "{EXAMPLES / "ema_cross.py"}:EmaCross"'
    )
    config = tmp_path / "small.toml"
    config.write_text(text)
    return config


def test_backtest_prints_statistics_and_writes_the_report(tmp_path, capsys):
    report = tmp_path / "out" / "report.html"
    assert main(["backtest", str(small_config(tmp_path)), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "total_return" in out and "max_drawdown" in out and "total_fees" in out
    assert f"report: {report}" in out
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Equity" in page and "Drawdown" in page


def test_backtest_report_is_identical_for_two_runs(tmp_path, capsys):
    config = small_config(tmp_path)
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    assert main(["backtest", str(config), "--report", str(first)]) == 0
    assert main(["backtest", str(config), "--report", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()


def test_backtest_without_a_report_writes_nothing(tmp_path, capsys):
    assert main(["backtest", str(small_config(tmp_path)), "--report", ""]) == 0
    assert "report:" not in capsys.readouterr().out
    assert not list(tmp_path.glob("*.html"))
