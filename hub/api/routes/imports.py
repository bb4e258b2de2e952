"""``POST /api/v1/nodes/import`` and ``/api/v1/devices/import``: bulk CSV with a per-row report.

Each row is its own transaction: good rows land, bad rows are reported with
their line number and reason, and nothing else is lost.
"""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ValidationError

from hub.api.access_schemas import NodeCreate
from hub.api.deps import Services
from hub.api.policy import CreateInPlace
from hub.errors import NotFound, RegistryError
from hub.registry.access import Principal, audit
from hub.registry.models import Device, Node
from hub.registry.provision import Provisioning

router = APIRouter(tags=["import"])
NODE_COLUMNS = ["id", "kind", "region", "department", "name", "host", "port"]
DEVICE_COLUMNS = ["node", "device", "unit_id"]
MAX_BYTES = 5_000_000  # a city's whole fleet is ~2 MB of CSV


class RowResult(BaseModel):
    """The outcome of one CSV row (line 2 is the first row after the header)."""

    line: int
    id: str
    ok: bool
    error: str | None = None
    claim_code: str | None = None


class ImportReport(BaseModel):
    """Counts and the per-row outcomes."""

    created: int
    failed: int
    rows: list[RowResult]


def _csv_body(columns: list[str]) -> dict[str, Any]:
    header = ",".join(columns)
    return {
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "description": f"Header line: {header}"}}},
        }
    }


async def _read_capped(request: Request) -> bytes:
    """The body, read as it streams in and refused (413) as soon as it passes :data:`MAX_BYTES`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise HTTPException(413, f"CSV larger than {MAX_BYTES} bytes: split it")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise HTTPException(413, f"CSV larger than {MAX_BYTES} bytes: split it")
        chunks.append(chunk)
    return b"".join(chunks)


async def _rows(request: Request, required: list[str]) -> list[dict[str, str]]:
    raw = await _read_capped(request)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"CSV is not UTF-8: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))  # newline="": the csv module handles \r\n itself
    try:
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise HTTPException(400, f"CSV header lacks column(s) {', '.join(missing)}")
        return list(reader)
    except csv.Error as exc:
        raise HTTPException(400, f"CSV line {reader.line_num}: {exc}") from exc


def _node_row(services: Services, who: Principal, row: dict[str, str]) -> str:
    endpoints = {}
    if row.get("host") or row.get("port"):
        kind = services.kinds.get(row["kind"])
        conns = [c.id for c in kind.connections] if kind else []
        endpoints = {
            c: {"host": row.get("host") or None, "port": int(row["port"]) if row.get("port") else None} for c in conns
        }
    spec = NodeCreate.model_validate(
        {
            "id": row["id"],
            "kind": row["kind"],
            "region": row["region"],
            "department": row.get("department") or None,
            "name": row.get("name") or "",
            "endpoints": endpoints,
        }
    )
    kind = services.kinds.get(spec.kind)
    if kind is None:
        raise RegistryError(f"unknown node kind '{spec.kind}'")
    if not who.sees(spec.region, spec.department or kind.department):
        raise RegistryError(f"region '{spec.region}' is outside your scope")
    eps = {k: v.model_dump(exclude_none=True) for k, v in spec.endpoints.items()}
    _, code = Provisioning(services.registry, services.kinds).create_placeholder(
        who.user_id, spec.id, spec.kind, spec.region, spec.department, spec.name, eps
    )
    return code


def _import(services: Services, who: Principal, rows: list[dict[str, str]], one: Any) -> ImportReport:
    results = []
    for line, row in enumerate(rows, start=2):
        ident = row.get("id") or f"{row.get('node', '')}.{row.get('device', '')}"
        try:
            code = one(services, who, row)
            results.append(RowResult(line=line, id=ident, ok=True, claim_code=code))
        except (ValidationError, RegistryError, ValueError, KeyError) as exc:
            results.append(RowResult(line=line, id=ident, ok=False, error=str(exc).splitlines()[0][:300]))
    ok = sum(r.ok for r in results)
    return ImportReport(created=ok, failed=len(results) - ok, rows=results)


@router.post(
    "/api/v1/nodes/import", operation_id="importNodes", openapi_extra=_csv_body(NODE_COLUMNS), max_body_size=MAX_BYTES
)
async def import_nodes(services: Services, principal: CreateInPlace, request: Request) -> ImportReport:
    """Create node placeholders from CSV (id,kind,region[,department,name,host,port]); one claim code per row."""
    rows = await _rows(request, ["id", "kind", "region"])
    report = await asyncio.to_thread(_import, services, principal, rows, _node_row)
    if report.created:
        await services.notify_registry_changed()
    return report


def _device_row(services: Services, who: Principal, row: dict[str, str]) -> None:
    with services.registry.session() as s, s.begin():
        node = s.get(Node, row["node"])
        if node is None or not who.sees(node.region_code, node.department_id):
            raise NotFound(f"no node '{row['node']}'")
        dev = s.get(Device, f"{node.id}.{row['device']}")
        if dev is None:
            raise NotFound(f"node {node.id} (kind {node.kind}) has no device '{row['device']}'")
        unit = int(row["unit_id"])
        if not 0 <= unit <= 247:  # Modbus serial addresses 1..247, 0 broadcast (Modbus over serial line §2.2)
            raise ValueError(f"unit_id {unit} outside 0..247")
        before = {"unit_id": dev.unit_id}
        dev.unit_id = unit
        audit(s, who.user_id, "device.update", "device", dev.uid, before, {"unit_id": unit})


@router.post(
    "/api/v1/devices/import",
    operation_id="importDevices",
    openapi_extra=_csv_body(DEVICE_COLUMNS),
    max_body_size=MAX_BYTES,
)
async def import_devices(services: Services, principal: CreateInPlace, request: Request) -> ImportReport:
    """Set the bus addresses of devices from CSV (node,device,unit_id)."""
    rows = await _rows(request, DEVICE_COLUMNS)
    return await asyncio.to_thread(_import, services, principal, rows, _device_row)
