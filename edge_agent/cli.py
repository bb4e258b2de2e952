"""``citysense-agent``: run an edge agent, or validate its configuration without connecting."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path

from citysense.errors import ConfigError
from edge_agent.app import Agent
from edge_agent.config import load_agent_config


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``citysense-agent`` command."""
    parser = argparse.ArgumentParser(prog="citysense-agent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="poll the devices and forward readings to the hub")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--state-dir", type=Path, default=Path("var/agent"), help="where the sequence number is kept")
    run.add_argument("--log-level", default="INFO")
    check = sub.add_parser("validate", help="check a configuration file and its profiles; connects to nothing")
    check.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)

    try:
        config, profiles = load_agent_config(args.config)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    if args.command == "validate":
        points = sum(len(profiles[d.profile].points) for d in config.devices)
        print(f"{args.config}: OK: node {config.node_id}, {len(config.devices)} devices, {points} points")
        return 0
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    agent = Agent(config, profiles, args.state_dir, args.config)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(agent.run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
