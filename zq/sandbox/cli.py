"""``zq venue``: run the sandbox venue until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = ["add_venue_arguments", "parse_faults", "run_venue"]

_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "BTC", "ETH", "BNB", "EUR", "TRY")


def add_venue_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``zq venue`` options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: a free one, printed)")
    parser.add_argument(
        "--symbols", nargs="+", default=["BTCUSDT"], help="spot symbols traded (BTCUSDT ...)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--replay", metavar="FILE", help="replay a Binance spot raw capture")
    source.add_argument(
        "--generated", action="store_true", help="a generated random-walk market (the default)"
    )
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed (0: no waiting)")
    parser.add_argument(
        "--paused",
        action="store_true",
        help="with --replay: move the replay only on POST /sandbox/market/step",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated market")
    parser.add_argument(
        "--faults",
        default="",
        help="fault switches, e.g. drop_after=0.1,delay=0.05,delay_seconds=0.5,disconnect_every=5",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=75.0,
        help="seconds a REST connection may wait for its next request (0: forever)",
    )
    parser.add_argument("--api-key", default="sandbox-api-key", help="the account's API key")
    parser.add_argument("--secret", default="sandbox-secret", help="the account's secret")
    parser.add_argument(
        "--cpu-affinity",
        type=lambda text: [int(cpu) for cpu in text.split(",")],
        default=None,
        metavar="CPUS",
        help="run on these CPUs only, e.g. 1 or 0,1 (os.sched_setaffinity)",
    )


def parse_faults(text: str) -> dict[str, float]:
    """Parse ``name=value,name=value`` into switch values (validated by the venue)."""
    switches: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"fault {item!r} is not name=value")
        try:
            switches[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"fault {name.strip()}: {value!r} is not a number") from None
    return switches


def _symbol(name: str) -> tuple[str, str, str]:
    name = name.upper()
    for quote in _QUOTES:
        if name.endswith(quote) and len(name) > len(quote):
            return name, name[: -len(quote)], quote
    raise ValueError(f"cannot tell the quote asset of symbol {name!r} (known: {_QUOTES})")


def run_venue(args: argparse.Namespace) -> int:
    """Build the venue from parsed ``zq venue`` options and serve until a signal."""
    import uvloop

    from zq.sandbox.config import (
        AccountConfig,
        FaultConfig,
        MarketConfig,
        SymbolConfig,
        VenueConfig,
    )
    from zq.sandbox.faults import FaultInjector
    from zq.sandbox.server import SandboxVenue

    try:
        symbols = tuple(
            SymbolConfig(symbol=s, base_asset=b, quote_asset=q)
            for s, b, q in (_symbol(name) for name in args.symbols)
        )
        balances: dict[str, Decimal] = {}
        for symbol in symbols:
            balances[symbol.quote_asset] = Decimal("100000")
            balances.setdefault(symbol.base_asset, Decimal("10"))
        faults = FaultInjector(FaultConfig()).update(**parse_faults(args.faults))
        if args.replay is not None:
            path = Path(args.replay)
            if not path.is_file():
                raise ValueError(f"--replay {path}: no such file")
            market = MarketConfig(kind="replay", path=path, speed=args.speed, paused=args.paused)
        else:
            if args.paused:
                raise ValueError("--paused needs --replay")
            market = MarketConfig(kind="generated", seed=args.seed)
        config = VenueConfig(
            host=args.host,
            port=args.port,
            symbols=symbols,
            accounts=(AccountConfig(args.api_key, args.secret, balances),),
            market=market,
            faults=faults,
            idle_timeout=args.idle_timeout,
        )
        venue = SandboxVenue(config)
        if args.cpu_affinity is not None:
            from zq.live.affinity import set_cpu_affinity

            set_cpu_affinity(args.cpu_affinity, "--cpu-affinity")
    except (ValueError, InvalidOperation) as error:
        print(f"zq venue: {error}", file=sys.stderr)
        return 2

    async def serve() -> str | None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with venue:
            # What start-up allocated lives as long as the process: out of the collector's
            # reach, a full collection no longer walks it while a request waits.
            gc.collect()
            gc.freeze()
            source = f"replay of {args.replay}" if args.replay else "generated market"
            if args.paused:
                source += " (paused: POST /sandbox/market/step moves it)"
            print(
                f"zq venue: listening on {venue.url} (WebSocket {venue.ws_url}); "
                f"symbols {', '.join(s.symbol for s in symbols)}; {source}; "
                f"api key {args.api_key}",
                flush=True,
            )
            stopped = asyncio.create_task(stop.wait())
            waiting: set[asyncio.Task[Any]] = {stopped}
            market = venue.market_task
            if market is not None:
                waiting.add(market)
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if market in done and not market.cancelled() and market.exception() is not None:
                stopped.cancel()
                return f"zq venue: the market stopped: {market.exception()}"
            if stopped not in done:
                await stopped  # a replay without looping ended: keep serving its last book
        print("zq venue: stopped", flush=True)
        return None

    failure = uvloop.run(serve())
    if failure is not None:
        print(failure, file=sys.stderr)
        return 1
    return 0
