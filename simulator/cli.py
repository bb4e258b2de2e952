"""``citysense-sim``: run simulated field sites (one Modbus TCP server per node) until Ctrl-C.

Example: ``citysense-sim --kind smart_pole --count 2 --base-port 15020`` serves
two smart poles on ports 15020 and 15021 and prints one line per node.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from citysense.errors import ConfigError
from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.runner import run_until_interrupted
from simulator.fleet import Fleet

log = logging.getLogger("simulator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citysense-sim", description=__doc__.splitlines()[0])
    parser.add_argument("--kind", action="append", help="node kind to simulate (repeatable; default: every kind)")
    parser.add_argument("--count", type=int, default=1, help="nodes per kind (default 1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--base-port", type=int, default=0, help="port of the first node, then +1 each (0: free ports)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first node; nodes differ by seed")
    parser.add_argument("--profiles", type=Path, default=None, help="device profile directory")
    parser.add_argument("--node-kinds", type=Path, default=None, help="node kind directory (firmware_configs/)")
    parser.add_argument("--log-level", default="INFO")
    return parser


async def _serve(fleet: Fleet, errors: list[str]) -> None:
    """Run ``fleet`` until Ctrl-C (the task is cancelled) or SIGTERM; print one line per node once listening."""
    ready, stop = asyncio.Event(), asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with asyncio.TaskGroup() as tg:
            runner = tg.create_task(fleet.run(ready=ready), name="sim:fleet")
            await ready.wait()
            for node in fleet:
                units = ", ".join(f"{d.device_id}=unit {d.unit_id}" for d in node.devices.values())
                print(f"{node.node_id} ({node.kind.kind}) on {node.host}:{node.port}  [{units}]", flush=True)
            await stop.wait()
            runner.cancel()
    except* OSError as group:
        errors.extend(str(exc) for exc in _leaves(group))


def _leaves(group: BaseExceptionGroup[OSError]) -> list[BaseException]:
    """Return the exceptions of a possibly nested group, without the groups."""
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``citysense-sim``."""
    args = _parser().parse_args(argv)
    if args.count < 1 or not 0 <= args.base_port <= 65535:
        print("--count must be at least 1 and --base-port within 0..65535", file=sys.stderr)
        return 2
    try:
        profiles = load_profiles(args.profiles or default_profile_dir())
        kinds = load_node_kinds(args.node_kinds or default_node_kind_dir(), profiles.ids())
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    wanted = args.kind or sorted(kinds)
    unknown = [k for k in wanted if k not in kinds]
    if unknown:
        print(f"unknown node kind(s): {', '.join(unknown)}; known: {', '.join(sorted(kinds))}", file=sys.stderr)
        return 2
    fleet = Fleet.build(
        kinds,
        profiles,
        dict.fromkeys(wanted, args.count),
        host=args.host,
        base_port=args.base_port,
        first_seed=args.seed,
    )
    errors: list[str] = []
    logging.getLogger("pymodbus").setLevel(logging.WARNING)  # pymodbus says "Server listening." per node
    run_until_interrupted(_serve(fleet, errors), args.log_level.upper())
    for error in errors:
        log.error("%s", error)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
