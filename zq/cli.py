"""The ``zq`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return the exit code."""
    parser = argparse.ArgumentParser(prog="zq", description="zq algorithmic trading engine")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="replay generated trades through a backtest kernel")
    demo.add_argument("--trades", type=int, default=200_000, help="number of trades to generate")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the generated data")
    backtest = commands.add_parser("backtest", help="run a backtest from a TOML config")
    backtest.add_argument("config", help="the backtest's TOML config file")
    backtest.add_argument(
        "--report",
        help="where to write the HTML report (default: reports/<config name>.html; '' for none)",
    )
    backtest.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: when stderr is a terminal)",
    )
    # --- venue (zq.sandbox, issue 5) ---
    # Its options are parsed by the sandbox's own parser once ``venue`` is the command, so
    # the other commands do not import the sandbox (and aiohttp) to build theirs.
    commands.add_parser(
        "venue",
        help="run the local sandbox exchange (zq venue --help: its options)",
        add_help=False,
    )
    # --- end venue ---
    # --- live (zq.live, issue 5) ---
    live = commands.add_parser(
        "live", help="run a live TradingNode from a TOML config (a local sandbox venue by default)"
    )
    live.add_argument("config", help="the node's TOML config file")
    live.add_argument("--seconds", type=float, help="stop after this many seconds")
    # --- end live ---
    args, rest = parser.parse_known_args(argv)
    if args.command == "venue":  # zq.sandbox
        from zq.sandbox.cli import add_venue_arguments, run_venue

        venue = argparse.ArgumentParser(
            prog="zq venue", description="run the local sandbox exchange"
        )
        add_venue_arguments(venue)
        return run_venue(venue.parse_args(rest))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "live":  # zq.live
        return _live(args.config, args.seconds)
    if args.command == "backtest":
        report = args.report
        if report is None:
            report = str(Path("reports") / f"{Path(args.config).stem}.html")
        progress = sys.stderr.isatty() if args.progress is None else args.progress
        return _backtest(args.config, report, progress)
    if args.command == "demo":
        if args.trades <= 0:
            parser.error(f"--trades must be positive, got {args.trades}")
        from zq.demo import main as demo_main

        demo_main(args.trades, args.seed)
    return 0


def _backtest(path: str, report: str, progress: bool = False) -> int:
    from zq.backtest import BacktestNode, ConfigError, load_config
    from zq.backtest.report import result_statistics, write_result_report

    try:
        config = load_config(path)
        node = BacktestNode(config, progress=progress)
    except ConfigError as exc:
        print(f"zq backtest: {exc}", file=sys.stderr)
        return 2
    print(f"zq backtest {path}")
    try:
        result = node.run()
    except ValueError as exc:  # a config that checks but cannot be built (an unknown venue)
        print(f"zq backtest: {path}: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    interval = result.sample_interval_ns / 1e9
    print(
        f"statistics (mark-to-market equity sampled every {interval:g} s and at each fill; "
        "returns annualized on calendar time; trades are closed round trips net of fees):"
    )
    for name, value in result_statistics(result).items():
        shown = f"{value:,.6g}" if isinstance(value, float) else str(value)
        print(f"  {name:<32} {shown}")
    if report:
        written = write_result_report(result, report, title=f"zq backtest: {Path(path).name}")
        print(f"report: {written}")
    return 0


# --- live (zq.live, issue 5) ---
def _live(path: str, seconds: float | None) -> int:
    import logging

    import msgspec

    from zq.live.config import ConfigError, load_live_config
    from zq.live.node import NodeStartError, TradingNode

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_live_config(path)
        if seconds is not None:
            config = msgspec.structs.replace(config, run_seconds=seconds)
        node = TradingNode(config)
        print(f"zq live {path}: starting (Ctrl-C or SIGTERM stops it)", flush=True)
        node.run_live()
    except ConfigError as exc:
        print(f"zq live: {exc}", file=sys.stderr)
        return 2
    except NodeStartError as exc:
        print(f"zq live: {exc}", file=sys.stderr)
        return 1
    assert node.kernel is not None
    orders = node.kernel.cache.orders()
    filled = sum(o.status.name == "FILLED" for o in orders)
    print(
        f"zq live: stopped; {len(orders)} orders ({filled} filled), {node.canceled_on_stop} "
        "cancelled on stop"
    )
    return 0


# --- end live ---


if __name__ == "__main__":
    sys.exit(main())
