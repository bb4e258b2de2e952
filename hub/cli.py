"""``citysense-hub``: run the hub, or check its settings file."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from citysense.errors import ConfigError
from citysense.runner import run_until_interrupted
from citysense.yamlconf import load_model
from hub import production
from hub.broker.natsjwt import AccountKey, new_account_seed
from hub.config import HubSettings
from hub.errors import ProductionRefused
from hub.gcpolicy import tune_gc
from hub.runtime import running_hub


async def _serve(settings: HubSettings, source: Path | str) -> None:
    async with running_hub(settings, source) as hub:
        tune_gc(settings.gc_young_threshold)  # after start-up, so that what it loaded is frozen
        print(f"CitySense hub API: {hub.api_url}/docs   (MQTT {hub.mqtt_host}:{hub.mqtt_port})", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``citysense-hub`` command."""
    parser = argparse.ArgumentParser(prog="citysense-hub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the hub")
    run.add_argument("--config", type=Path, help="hub settings YAML (defaults: embedded broker and store)")
    run.add_argument("--log-level", default="INFO")
    check = sub.add_parser("validate", help="check a settings file")
    check.add_argument("--config", type=Path, required=True)
    sub.add_parser("nats-key", help="make an auth-callout signing key for the NATS tier (docs/scale-out.md)")
    args = parser.parse_args(argv)
    if args.command == "nats-key":
        seed = new_account_seed()
        print(f"signing_seed (broker_admin, keep secret): {seed}")
        print(f"issuer (auth_callout, every NATS member):  {AccountKey(seed).public_key}")
        return 0
    try:
        settings = load_model(HubSettings, args.config) if args.config else HubSettings()
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    source = args.config or "built-in defaults"
    # The same list `run` refuses to start with (validate reads a SQLite registry, connects to no server).
    refused = production.problems(settings, source, offline=args.command == "validate")
    if refused:
        lines = "\n".join(str(p) for p in refused)
        print(f"refusing {settings.environment} settings:\n{lines}", file=sys.stderr)
        return 2
    if args.command == "validate":
        print(f"{args.config}: OK")
        return 0
    try:
        return run_until_interrupted(_serve(settings, source), args.log_level)
    except ProductionRefused as exc:  # found only at start, e.g. a broker that accepts anonymous logins
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
