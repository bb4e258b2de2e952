"""``citysense-sim-meters``: simulated DL/T 645 meters on one line, as a TCP serial server or on a serial port.

Examples::

    citysense-sim-meters --tcp 8899 --meter 202405200001:chint_dtsu666_dlt645 --meter 3:chint_ddsu666_dlt645
    socat -d -d pty,raw,echo=0,link=/tmp/ttyMeters pty,raw,echo=0,link=/tmp/ttyAgent &
    citysense-sim-meters --serial /tmp/ttyMeters --baudrate 2400 --meter 11:chint_ddsu666_dlt645

Every meter answers the data identifiers of its profile (``simulator.dlt645``);
the agent reads them with a ``dlt645_tcp`` or ``dlt645_serial`` connection.
Stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from citysense.errors import ConfigError
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.runner import run_until_interrupted
from simulator.dlt645 import MeterBus, SimMeter


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citysense-sim-meters", description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", type=int, help="serve as a transparent serial server on this TCP port")
    where.add_argument("--serial", help="serve on this serial port (e.g. one end of a socat pty pair)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on with --tcp (default 127.0.0.1)")
    parser.add_argument("--baudrate", type=int, default=2400)
    parser.add_argument("--parity", choices=["N", "E", "O"], default="E")
    parser.add_argument("--meter", action="append", required=True, help="ADDRESS:PROFILE (repeatable)")
    parser.add_argument("--profiles", type=Path, default=None, help="device profile directory")
    parser.add_argument("--log-level", default="INFO")
    return parser


async def _serve(bus: MeterBus, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    started = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        if args.tcp is not None:
            server = tg.create_task(bus.serve_tcp(args.host, args.tcp, started), name="sim:meters:tcp")
        else:
            server = tg.create_task(bus.serve_serial(args.serial, args.baudrate, args.parity), name="sim:meters:serial")
            started.set()
        await started.wait()
        line = f"{args.host}:{args.tcp}" if args.tcp is not None else args.serial
        for meter in bus.meters:
            print(f"meter {meter.address} ({meter.profile.id}, DL/T 645-{meter.edition.value}) on {line}", flush=True)
        await stop.wait()
        server.cancel()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``citysense-sim-meters``."""
    args = _parser().parse_args(argv)
    try:
        meters = load_profiles(args.profiles or default_profile_dir()).meters
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    sims = []
    for i, spec in enumerate(args.meter):
        address, _, profile = spec.partition(":")
        if not address.isdigit() or len(address) > 12 or profile not in meters:
            known = ", ".join(sorted(meters))
            print(f"--meter {spec!r}: want ADDRESS:PROFILE, up to 12 digits and one of: {known}", file=sys.stderr)
            return 2
        sims.append(SimMeter(address, meters[profile], seed=i))
    return run_until_interrupted(_serve(MeterBus(sims), args), args.log_level.upper())


if __name__ == "__main__":
    sys.exit(main())
