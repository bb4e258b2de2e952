"""``python -m simulator.stations``: simulated HJ 212 monitors dialling in to a hub until Ctrl-C or SIGTERM.

Example: ``python -m simulator.stations --hub 127.0.0.1:9212 --count 50 --mn-prefix 440981AQ
--password 123456 --interval 60`` runs 50 air-quality monitors with MNs
``440981AQ0000000001``... (register them first, ``docs/stations.md``); each
reports real-time data (2011) every ``--interval`` seconds, waits for the
9014 answer and re-sends as a field unit does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from citysense.runner import run_until_interrupted
from simulator.stations.hj212 import Hj212Monitor, air_quality


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m simulator.stations", description=__doc__.splitlines()[0])
    p.add_argument("--hub", required=True, help="host:port of the hub's hj212 listener")
    p.add_argument("--count", type=int, default=1, help="monitors (default 1)")
    p.add_argument("--mn-prefix", default="440981AQ", help="MN = prefix + a 10-digit number from 1")
    p.add_argument("--password", default="123456", help="the monitors' PW")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between uploads (default 60)")
    p.add_argument("--drift", type=float, default=2.0, help="clock drift, seconds per hour (default 2)")
    p.add_argument("--log-level", default="INFO")
    return p


async def _run(args: argparse.Namespace) -> None:
    host, _, port = args.hub.rpartition(":")
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    monitors = [
        Hj212Monitor(f"{args.mn_prefix}{i:010d}", args.password, host, int(port), air_quality, drift_s_per_h=args.drift)
        for i in range(1, args.count + 1)
    ]
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(m.run("2011", args.interval), name=f"sim:hj212:{m.mn}") for m in monitors]
        print(f"{len(monitors)} HJ 212 monitors dialling in to {args.hub}", flush=True)
        await stop.wait()
        for task in tasks:
            task.cancel()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = _parser().parse_args(argv)
    return run_until_interrupted(_run(args), args.log_level)


if __name__ == "__main__":
    sys.exit(main())
