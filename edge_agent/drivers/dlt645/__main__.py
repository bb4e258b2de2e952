"""Commissioning a DL/T 645 line: ``python -m edge_agent.drivers.dlt645 address|read ...``.

::

    python -m edge_agent.drivers.dlt645 address --serial-port /dev/ttyUSB1            # the one meter on the line
    python -m edge_agent.drivers.dlt645 read --serial-port /dev/ttyUSB1 --address 202405200001 --di 02010100
    python -m edge_agent.drivers.dlt645 read --host 10.0.0.9 --port 8899 --address 3 --profile chint_ddsu666_dlt645

``read`` prints the raw value bytes of one DI (or of every DI of a profile,
decoded as the agent would). Exit code 0 when every request was answered.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from citysense.agentconfig import Connection, ConnectionType
from citysense.contract import Reading
from citysense.dlt645 import Edition
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from edge_agent.drivers.dlt645.link import MeterLink
from edge_agent.drivers.dlt645.meters import read_address
from edge_agent.drivers.dlt645.poller import MeterPoller, decode_point
from edge_agent.errors import MeterError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m edge_agent.drivers.dlt645", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["address", "read"])
    parser.add_argument("--serial-port", help="local RS-485 port")
    parser.add_argument("--host", help="serial server (transparent TCP)")
    parser.add_argument("--port", type=int, default=8899)
    parser.add_argument("--baudrate", type=int, default=2400)
    parser.add_argument("--parity", choices=["N", "E", "O"], default="E")
    parser.add_argument("--timeout-s", type=float, default=1.0)
    parser.add_argument("--edition", choices=[e.value for e in Edition], default="2007")
    parser.add_argument("--address", help="meter address (read)")
    parser.add_argument("--di", action="append", default=[], help="data identifier as printed (repeatable)")
    parser.add_argument("--profile", help="read every DI of this meter profile and decode it")
    return parser


class _Discard:
    async def put(self, readings: Sequence[Reading]) -> None:
        """Nothing is forwarded from a commissioning read."""


def _connection(args: argparse.Namespace) -> Connection:
    if args.serial_port:
        return Connection(id="line", type=ConnectionType.DLT645_SERIAL, serial_port=args.serial_port,
                          baudrate=args.baudrate, parity=args.parity, timeout_s=args.timeout_s)  # fmt: skip
    return Connection(
        id="line", type=ConnectionType.DLT645_TCP, host=args.host, port=args.port, timeout_s=args.timeout_s
    )


async def _read(args: argparse.Namespace, conn: Connection) -> int:
    from citysense.agentconfig import MeterConfig
    from citysense.profiles.dlt645 import MeterProfile

    if args.profile:
        profile = load_profiles(default_profile_dir()).meters[args.profile]
    else:
        asked = [{"metric": f"di_{d.lower()}", "di": d, "format": "XX"} for d in args.di]
        profile = MeterProfile.model_validate({"id": "adhoc", "protocol": "dlt645", "edition": args.edition,
                                               "model": "-", "manufacturer": "-", "source": "command line",
                                               "category": "-", "points": asked})  # fmt: skip
    link = MeterLink(conn)
    meter = MeterConfig(id="meter", profile=profile.id, connection="line", address=args.address)
    poller = MeterPoller(meter, profile, link, _Discard())  # read_di only: nothing is emitted
    failed = 0
    try:
        for di, points in poller.reads.items():
            try:
                value = await poller.read_di(di)
            except MeterError as exc:
                failed += 1
                print(f"{di}: {exc}")
                continue
            decoded = "  ".join(f"{p.metric}={decode_point(p, value)[0]} {p.unit}".rstrip() for p in points)
            print(f"{di}: {value[::-1].hex(' ')}  {decoded if args.profile else ''}".rstrip())
    finally:
        await link.close()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = _parser().parse_args(argv)
    if not args.serial_port and not args.host:
        print("give --serial-port or --host", file=sys.stderr)
        return 2
    conn = _connection(args)
    if args.command == "address":
        try:
            print(asyncio.run(read_address(conn, Edition(args.edition))))
        except MeterError as exc:
            print(f"no address: {exc}", file=sys.stderr)
            return 1
        return 0
    if not args.address or not (args.di or args.profile):
        print("read needs --address and --di or --profile", file=sys.stderr)
        return 2
    return asyncio.run(_read(args, conn))


if __name__ == "__main__":
    sys.exit(main())
