"""The ``zq`` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return the exit code."""
    parser = argparse.ArgumentParser(prog="zq", description="zq algorithmic trading engine")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="replay generated trades through a backtest kernel")
    demo.add_argument("--trades", type=int, default=200_000, help="number of trades to generate")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the generated data")
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.trades <= 0:
            parser.error(f"--trades must be positive, got {args.trades}")
        from zq.demo import main as demo_main

        demo_main(args.trades, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
