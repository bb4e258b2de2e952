"""``citysense-agent``: run an edge agent, or validate its configuration without connecting."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from citysense.agentconfig import Connection, ConnectionType
from citysense.errors import ConfigError
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.profiles.model import Table
from citysense.runner import LOG_FORMAT, run_until_interrupted
from edge_agent.app import Agent
from edge_agent.checks import validate_config, validate_profile
from edge_agent.config import load_agent_config
from edge_agent.drivers.modbus.link import ModbusLink
from edge_agent.errors import ModbusError
from edge_agent.probe import interpretations, layout_warnings, render


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``citysense-agent`` command."""
    parser = argparse.ArgumentParser(prog="citysense-agent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="poll the devices and forward readings to the hub")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--state-dir", type=Path, default=Path("var/agent"), help="where the sequence number is kept")
    run.add_argument("--log-level", default="INFO")
    check = sub.add_parser(
        "validate", help="check a configuration file and its profiles, or one profile file; connects to nothing"
    )
    what = check.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", type=Path, help="a node's agent.yaml")
    what.add_argument("--profile", type=Path, help="one device profile file, checked on its own")
    check.add_argument("--device", help="with --config: also read this device once and check its word order")
    probe = sub.add_parser("probe", help="read registers and print every type x byte/word order interpretation")
    probe.add_argument("--host", help="Modbus TCP host (or serial server)")
    probe.add_argument("--port", type=int, default=502)
    probe.add_argument("--serial-port", help="read over a local RS-485 port instead (RTU)")
    probe.add_argument("--baudrate", type=int, default=9600)
    probe.add_argument("--rtu-over-tcp", action="store_true", help="RTU frames through a serial server / DTU")
    probe.add_argument("--unit", type=_number, default=1, help="unit id (decimal or 0x..)")
    probe.add_argument("--table", choices=["holding", "input"], default="holding")
    probe.add_argument("--address", type=_number, required=True,
                       help="protocol (0-based) address of the first register: 13082 or 0x331A")  # fmt: skip
    probe.add_argument("--count", type=_number, default=4)
    probe.add_argument("--profile", help="profile id: show each point's scale beside the raw value")
    probe.add_argument("--profiles-dir", type=Path, help="where --profile is looked up (default: the shipped ones)")
    probe.add_argument("--timeout-s", type=float, default=2.0)
    args = parser.parse_args(argv)
    if args.command == "probe":
        return run_probe(args)
    if args.command == "validate":
        if args.profile is not None:
            if args.device:
                parser.error("--device needs --config (the device's connection and unit come from it)")
            return validate_profile(args.profile)
        return validate_config(args.config, args.device)

    try:
        config, profiles = load_agent_config(args.config)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level, format=LOG_FORMAT)
    agent = Agent(config, profiles, args.state_dir, args.config)
    # SIGTERM (systemd stop) and Ctrl-C stop the agent within seconds, closing connections and the buffer in order.
    return run_until_interrupted(agent.run(), args.log_level)


def _number(text: str) -> int:
    """An integer written in decimal or with a 0x/0o/0b prefix, as manuals print addresses."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (decimal, or hex as 0x331A)") from None


def run_probe(args: argparse.Namespace) -> int:
    """Read the registers once and print the interpretation table."""
    profile = None
    if args.profile:
        profiles = load_profiles(args.profiles_dir or default_profile_dir())
        if args.profile not in profiles:
            print(f"unknown profile '{args.profile}'", file=sys.stderr)
            return 2
        profile = profiles[args.profile]
    if args.serial_port:
        conn = Connection(id="probe", type=ConnectionType.MODBUS_RTU, serial_port=args.serial_port,
                          baudrate=args.baudrate, timeout_s=args.timeout_s)  # fmt: skip
    elif args.host:
        kind = ConnectionType.MODBUS_RTU_OVER_TCP if args.rtu_over_tcp else ConnectionType.MODBUS_TCP
        conn = Connection(id="probe", type=kind, host=args.host, port=args.port, timeout_s=args.timeout_s)
    else:
        print("give --host or --serial-port", file=sys.stderr)
        return 2
    table = Table(args.table)

    async def read() -> list[int]:
        link = ModbusLink(conn)
        try:
            return await link.read(table, args.unit, args.address, args.count)
        finally:
            await link.close()

    try:
        registers = asyncio.run(read())
    except ModbusError as exc:
        print(f"read failed: {exc}", file=sys.stderr)
        return 1
    print(render(interpretations(registers, args.address, profile, table), registers, args.address))
    if profile is not None:
        for warning in layout_warnings(registers, args.address, profile, table):
            print(warning)
    return 0


if __name__ == "__main__":
    sys.exit(main())
