"""Per-partition shared state in NATS KV that only the current lease holder can write.

A value is stored as ``{"token": <fencing token>, "data": ...}`` and every
write is a compare-and-swap on the key's revision. The worker that takes a
partition first *seals* its state with its new token (:meth:`FencedState.seal`);
from then on a write by the previous owner either fails its revision check or
finds a newer token, and raises :class:`~hub.cluster.errors.Fenced` instead of
overwriting what the new owner wrote.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from hub.cluster.errors import ClusterError, Fenced
from hub.cluster.leases import open_bucket


@dataclass
class FencedState:
    """One KV bucket of per-partition documents (``p<n>.<name>``)."""

    kv: KeyValue
    op_timeout_s: float = 5.0
    max_retries: int = 5

    @classmethod
    async def open(cls, js: JetStreamContext, bucket: str, replicas: int = 3) -> FencedState:
        """Open (or create) the bucket ``<bucket>_state``."""
        return cls(await open_bucket(js, f"{bucket}_state", 5.0, replicas=replicas, history=1))

    async def _get(self, key: str) -> tuple[int, int, Any]:
        """(revision, token, data); revision 0 when the key does not exist."""
        try:
            entry = await asyncio.wait_for(self.kv.get(key), self.op_timeout_s)
        except KeyNotFoundError:
            return 0, 0, None
        doc = json.loads(entry.value or b"{}")
        return entry.revision or 0, int(doc.get("token", 0)), doc.get("data")

    async def _put(self, key: str, token: int, data: Any, last: int) -> None:
        body = json.dumps({"token": token, "data": data}, separators=(",", ":")).encode()
        if last == 0:
            await asyncio.wait_for(self.kv.create(key, body), self.op_timeout_s)
        else:
            await asyncio.wait_for(self.kv.update(key, body, last=last), self.op_timeout_s)

    async def read(self, partition: int, name: str, token: int) -> Any:
        """The document, for the holder of ``token``; raises :class:`Fenced` if a newer owner sealed it."""
        _, stored, data = await self._get(f"p{partition}.{name}")
        if stored > token:
            raise Fenced(f"partition {partition} {name}: sealed by token {stored} > {token}")
        return data

    async def seal(self, partition: int, name: str, token: int) -> Any:
        """Take the document over for ``token`` (on gaining the partition); returns its data."""
        return await self._swap(partition, name, token, lambda data: data)

    async def write(self, partition: int, name: str, token: int, data: Any) -> None:
        """Replace the document as the holder of ``token``; raises :class:`Fenced` when sealed by a newer one."""
        await self._swap(partition, name, token, lambda _old: data)

    async def _swap(self, partition: int, name: str, token: int, new: Callable[[Any], Any]) -> Any:
        """Compare-and-swap ``new(old data)`` under ``token``, retrying lost races; returns what was written."""
        key = f"p{partition}.{name}"
        for _ in range(self.max_retries):
            rev, stored, old = await self._get(key)
            if stored > token:
                raise Fenced(f"partition {partition} {name}: sealed by token {stored} > {token}")
            data = new(old)
            try:
                await self._put(key, token, data, rev)
            except KeyWrongLastSequenceError:
                continue
            return data
        raise ClusterError(f"partition {partition} {name}: compare-and-swap kept racing")
