"""Run simulated SL 651 rain gauges and water-level stations against a central station until SIGTERM.

``python -m simulator.stations.sl651_run --port 5651 --rain-gauges 2 --water-levels 2``

Each station dials in like an RTU: when the link drops or cannot be opened it
redials after a jittered back-off (capped at ``--max-backoff``), as field
units do. Rain gauges have addresses ``00100000NN``, water-level stations
``00200000NN`` (NN from 01); all use ``--password``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import sys

from hub.stations.sl651 import encode
from hub.stations.sl651.frames import Encoding
from simulator.stations.sl651 import Sl651Site, run_station

log = logging.getLogger("simulator.sl651")


def sites(rain_gauges: int, water_levels: int, *, password: str, encoding: str, seed: int) -> list[Sl651Site]:
    """The simulated stations: rain gauges (class P) then water-level stations (class H)."""
    out: list[Sl651Site] = []
    wire: Encoding = "ascii" if encoding == "ascii" else "hex"
    for kind, prefix, count in (("rainfall", "001", rain_gauges), ("river", "002", water_levels)):
        for n in range(1, count + 1):
            station = encode.Station(f"{prefix}00000{n:02d}", password, 1, kind, wire)
            out.append(Sl651Site(station, seed=seed + len(out)))
    return out


async def dial_forever(host: str, port: int, site: Sl651Site, *, interval_s: float, max_backoff_s: float) -> None:
    """Keep one station reporting; redial with back-off when the link is lost."""
    backoff = 1.0
    while True:
        try:
            await run_station(host, port, site, interval_s=interval_s)
            backoff = 1.0
        except OSError as exc:
            log.warning("%s: %s; redialling", site.station.address, exc)
        await asyncio.sleep(random.uniform(0, backoff))
        backoff = min(backoff * 2, max_backoff_s)


async def _run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    fleet = sites(args.rain_gauges, args.water_levels, password=args.password, encoding=args.encoding, seed=args.seed)
    async with asyncio.TaskGroup() as tasks:
        running = []
        for site in fleet:
            run = dial_forever(args.host, args.port, site, interval_s=args.interval, max_backoff_s=args.max_backoff)
            running.append(tasks.create_task(run, name=f"sl651-{site.station.address}"))
            print(f"{site.station.address} ({site.station.station_class}) dialling {args.host}:{args.port}", flush=True)
        await stop.wait()
        for task in running:
            task.cancel()


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789ABCDEFabcdef" for c in text)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the gateway's SL 651 port")
    parser.add_argument("--rain-gauges", type=int, default=1)
    parser.add_argument("--water-levels", type=int, default=1)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between timed reports")
    parser.add_argument("--password", default="1234", help="4 hex digits")
    parser.add_argument("--encoding", choices=["hex", "ascii"], default="hex")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-backoff", type=float, default=60.0, help="longest wait before redialling, seconds")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536 or args.interval <= 0 or not _is_hex(args.password, 4):
        print("--port must lie in 1..65535, --interval be positive and --password 4 hex digits", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
