"""``/api/v1/devices``: devices, their latest values and their history."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from hub.api.convert import device_public, reading_public
from hub.api.deps import Services, ensure_sees
from hub.api.policy import ReadDevice, ReadList
from hub.api.schemas import DevicePublic, DeviceUid, Filter, LatestPublic, Metrics, RangePublic, ReadingPublic
from hub.errors import NotFound
from hub.registry.access import Principal
from hub.registry.models import Device
from hub.registry.service import NodeFilter
from hub.store.base import StoredReading

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])
DEFAULT_RANGE_MS = 3600 * 1000


async def _device(services: Services, uid: str, principal: Principal) -> Device:
    try:
        dev = await asyncio.to_thread(services.registry.get_device, uid)
        node = await asyncio.to_thread(services.registry.get_node, dev.node_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    ensure_sees(principal, node.region_code, node.department_id, f"device '{uid}'")
    return dev


def _with_unit(services: Services, profile: str, r: StoredReading) -> ReadingPublic:
    out = reading_public(r)
    if not out.unit and profile in services.profiles:
        with contextlib.suppress(KeyError):
            out.unit = services.profiles[profile].point(r.metric).unit
    return out


@router.get("", operation_id="listDevices")
async def list_devices(
    services: Services, principal: ReadList, node: Filter = None, profile: Filter = None
) -> list[DevicePublic]:
    """List devices in the caller's scope, optionally of one node or one profile."""
    devices = await asyncio.to_thread(services.registry.list_devices, node, profile)
    if not principal.unscoped:
        flt = NodeFilter(within_regions=principal.regions, within_departments=principal.departments)
        visible = {n.id for n in await asyncio.to_thread(services.registry.list_nodes, flt)}
        devices = [d for d in devices if d.node_id in visible]
    return [device_public(d) for d in devices]


@router.get("/{uid}", operation_id="getDevice")
async def get_device(services: Services, principal: ReadDevice, uid: DeviceUid) -> DevicePublic:
    """Return one device."""
    return device_public(await _device(services, uid, principal))


@router.get("/{uid}/latest", operation_id="getDeviceLatest")
async def get_latest(services: Services, principal: ReadDevice, uid: DeviceUid) -> LatestPublic:
    """Return the newest reading of every metric of the device."""
    dev = await _device(services, uid, principal)
    held = services.latest.get(uid)
    return LatestPublic(device=uid, readings={m: _with_unit(services, dev.profile, r) for m, r in held.items()})


@router.get("/{uid}/readings", operation_id="getDeviceReadings")
async def get_readings(
    services: Services,
    principal: ReadDevice,
    uid: DeviceUid,
    metric: Metrics = None,
    start_ms: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    end_ms: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> RangePublic:
    """Return the device's readings in ``[start_ms, end_ms)`` (default: the last hour)."""
    dev = await _device(services, uid, principal)
    end = end_ms if end_ms is not None else time.time_ns() // 1_000_000 + 1
    start = start_ms if start_ms is not None else end - DEFAULT_RANGE_MS
    if start >= end:
        raise HTTPException(400, "start_ms must be before end_ms")
    rows = await services.store.query_range(uid, dev.profile, metric, start, end, limit)
    return RangePublic(
        device=uid, start_ms=start, end_ms=end, readings=[_with_unit(services, dev.profile, r) for r in rows]
    )
