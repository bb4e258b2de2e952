"""``citysense-agent validate``: a node's configuration, one profile on its own, or one device live.

``--config`` checks a node's file and the profiles it uses without connecting
to anything; ``--profile FILE`` checks one profile file (a technician typing a
new register map); ``--config ... --device ID`` also reads that device once,
prints each decoded reading and warns when a multi-register value looks like a
word-order mistake (:mod:`edge_agent.plausibility`).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

from citysense.agentconfig import AgentConfig
from citysense.errors import ConfigError
from citysense.profiles import ProfileSet, load_profile
from citysense.profiles.model import Profile
from edge_agent.config import device_profile, load_agent_config
from edge_agent.drivers.modbus.decoder import PlanDecoder
from edge_agent.drivers.modbus.link import ModbusLink
from edge_agent.drivers.modbus.planner import plan_profile
from edge_agent.errors import ModbusError
from edge_agent.plausibility import word_order_warning


def _fail(exc: ConfigError) -> int:
    print(f"configuration error:\n{exc}", file=sys.stderr)
    return 2


def validate_profile(path: Path) -> int:
    """Check one profile file and summarise what the agent would do with it."""
    try:
        profile = load_profile(path)
    except ConfigError as exc:
        return _fail(exc)
    polled = [p for p in profile.points if p.polled]
    writable = sum(1 for p in profile.points if p.writable)
    print(
        f"{path}: OK: profile {profile.id} ({profile.model}), {len(profile.points)} points: {len(polled)} polled in "
        f"{len(plan_profile(profile))} read requests, {len(profile.points) - len(polled)} write-only, "
        f"{writable} writable"
    )
    return 0


def validate_config(path: Path, device: str | None) -> int:
    """Check a node's configuration; with ``device``, also read that device once."""
    logging.getLogger("citysense.profiles.loader").setLevel(logging.ERROR)  # skipped files are printed below
    try:
        config, profiles = load_agent_config(path)
    except ConfigError as exc:
        return _fail(exc)
    for skipped, why in profiles.skipped:
        print(f"note: {skipped}: {why}; skipped")
    points = sum(len(profiles[d.profile].points) for d in config.devices)
    points += sum(len(profiles.meters[m.profile].points) for m in config.meters)
    print(
        f"{path}: OK: node {config.node_id}, {len(config.devices)} devices, {points} points, "
        f"{len(config.meters)} DL/T 645 meters, {len(config.mqtt)} MQTT sources"
    )
    if device is None:
        return 0
    return asyncio.run(_read_device(config, profiles, device))


async def _read_device(config: AgentConfig, profiles: ProfileSet, device_id: str) -> int:
    dev = next((d for d in config.devices if d.id == device_id), None)
    if dev is None:
        print(f"no device '{device_id}' in the configuration ({', '.join(d.id for d in config.devices)})")
        return 2
    conn = next(c for c in config.connections if c.id == dev.connection)
    profile = device_profile(profiles[dev.profile], dev)
    link = ModbusLink(conn)
    try:
        lines, warnings = await _read_once(link, profile, dev.id, dev.unit_id)
    except ModbusError as exc:
        print(f"{device_id}: read failed: {exc}")
        return 1
    finally:
        await link.close()
    print(f"{device_id} ({profile.id}, unit {dev.unit_id} on '{conn.id}'):")
    print("\n".join(lines))
    print("\n".join(warnings) if warnings else "no word-order warnings")
    return 0


async def _read_once(link: ModbusLink, profile: Profile, device_id: str, unit: int) -> tuple[list[str], list[str]]:
    """Each reading of one poll as a line, and the word-order warnings."""
    requests = plan_profile(profile)
    results: list[list[int] | ModbusError] = []
    for req in requests:
        try:
            results.append(await link.read(req.table, unit, req.start, req.count))
        except ModbusError as exc:
            if len(requests) == 1 or (not results and exc.quality.wire in ("timeout", "comm_failure")):
                raise
            results.append(exc)
    now = time.time_ns() // 1_000_000
    readings = PlanDecoder(device_id, profile, requests).decode(results, [now] * len(requests))
    lines = [f"  {r.metric:<24} {r.value!s:>24} {r.unit:<8} {r.quality}" for r in readings]
    warnings = []
    for req, result in zip(requests, results, strict=True):
        if isinstance(result, ModbusError):
            continue
        for address, point in req.parts:
            words = req.slice_of(point, address, result)
            warning = word_order_warning(profile, point, words)
            if warning is not None:
                warnings.append(warning)
    return lines, warnings
