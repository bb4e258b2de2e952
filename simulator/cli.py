"""``citysense-sim``: run simulated field devices (one Modbus TCP server per node) until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from citysense.errors import ConfigError
from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.runner import run_until_interrupted
from simulator.fleet import SimulatedNode, running


async def _serve(nodes: list[SimulatedNode]) -> None:
    async with running(nodes):
        for n in nodes:
            units = ", ".join(f"{d}=unit {dev.unit_id}" for d, dev in n.devices.items())
            print(f"{n.node_id} ({n.kind.kind}) on {n.host}:{n.port}  [{units}]", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``citysense-sim``."""
    parser = argparse.ArgumentParser(prog="citysense-sim", description=__doc__)
    parser.add_argument("--kind", action="append", help="node kind (repeatable; default: every kind)")
    parser.add_argument("--count", type=int, default=1, help="nodes per kind")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--base-port", type=int, default=0, help="first port (0: free ports)")
    parser.add_argument("--profiles", type=Path, default=None)
    parser.add_argument("--node-kinds", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        profiles = load_profiles(args.profiles or default_profile_dir())
        kinds = load_node_kinds(args.node_kinds or default_node_kind_dir(), set(profiles))
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    wanted = args.kind or sorted(kinds)
    unknown = [k for k in wanted if k not in kinds]
    if unknown:
        print(f"unknown node kind(s): {', '.join(unknown)}; known: {', '.join(sorted(kinds))}", file=sys.stderr)
        return 2
    nodes: list[SimulatedNode] = []
    for kind in wanted:
        for i in range(args.count):
            port = args.base_port + len(nodes) if args.base_port else 0
            nodes.append(
                SimulatedNode(kinds[kind], profiles, f"SIM-{kind}-{i + 1}", host=args.host, port=port, seed=len(nodes))
            )
    return run_until_interrupted(_serve(nodes))


if __name__ == "__main__":
    sys.exit(main())
