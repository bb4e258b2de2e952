"""Partition ownership through leases in NATS KV, with revision checks and fencing.

Two replicated KV buckets hold the cluster's membership and ownership:

* ``<name>_members``: one key per live worker, renewed every ``renew_s``;
  the bucket's TTL (``ttl_s``) removes a dead worker's key.
* ``<name>_leases``: one key per partition (``p<n>``) whose value names the
  owner; created with ``create`` (refused while another owner's key exists),
  renewed with ``update(last=revision)`` (refused once anyone else wrote it),
  and dropped by the bucket TTL when its owner stops renewing.

Each worker computes the partitions it *should* own by rendezvous hashing over
the live members (highest ``hash(member, partition)`` wins), so adding or
removing a worker moves only the partitions whose winner changed. It releases
the partitions it should no longer own and takes those it should own as soon
as they are free: a dead worker's partitions are taken over within the TTL.

The revision of the lease key when this worker took it is its *fencing token*:
:meth:`LeaseManager.token` raises :class:`~hub.cluster.errors.Fenced` once the
lease is lost, and shared state written per partition carries the token
(:mod:`hub.cluster.fenced`), so a worker that lost its lease cannot write.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from citysense.runner import check_cancelled
from hub.cluster.errors import ClusterError, Fenced

log = logging.getLogger(__name__)

Callback = Callable[[int, int], Awaitable[None]]
"""Called with (partition, fencing token) when a partition is gained; with (partition, 0) when lost."""


def rendezvous_owner(partition: int, members: Iterable[str]) -> str | None:
    """The member that should own ``partition`` (highest random weight); ``None`` without members."""
    best: tuple[bytes, str] | None = None
    for member in members:
        weight = hashlib.blake2b(f"{member}/{partition}".encode(), digest_size=8).digest()
        if best is None or (weight, member) > best:
            best = (weight, member)
    return None if best is None else best[1]


async def open_bucket(js: JetStreamContext, name: str, timeout_s: float, **config: Any) -> KeyValue:
    """Open KV bucket ``name``, creating it if missing; several workers starting at once may race to create it."""
    for _ in range(5):
        try:
            async with asyncio.timeout(timeout_s):
                return await js.key_value(name)
        except BucketNotFoundError:
            pass
        try:
            async with asyncio.timeout(timeout_s):
                return await js.create_key_value(bucket=name, **config)
        except nats.js.errors.BadRequestError:  # created meanwhile by another worker (with the same config)
            continue
    raise ClusterError(f"KV bucket {name}: cannot open or create it")


@dataclass
class LeaseSettings:
    """How often leases are renewed and when an owner counts as dead."""

    partitions: int
    bucket: str = "citysense"
    ttl_s: float = 6.0
    renew_s: float = 2.0
    replicas: int = 3
    op_timeout_s: float = 5.0


@dataclass
class _Held:
    token: int
    revision: int
    renewed: float = field(default_factory=time.monotonic)


@dataclass
class LeaseManager:
    """One worker's view of membership and the partitions it holds."""

    js: JetStreamContext
    worker: str
    settings: LeaseSettings
    on_gained: Callback | None = None
    on_lost: Callback | None = None
    held: dict[int, _Held] = field(default_factory=dict)
    _members: KeyValue | None = None
    _leases: KeyValue | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def _bucket(self, suffix: str) -> KeyValue:
        return await open_bucket(
            self.js,
            f"{self.settings.bucket}_{suffix}",
            self.settings.op_timeout_s,
            ttl=self.settings.ttl_s,
            replicas=self.settings.replicas,
        )

    async def open(self, attempts: int = 20, pause_s: float = 0.5) -> None:
        """Create or open both buckets, waiting (bounded) while JetStream elects its leaders."""
        for attempt in range(attempts):
            try:
                self._members = await self._bucket("members")
                self._leases = await self._bucket("leases")
            except (TimeoutError, nats.errors.Error) as exc:
                if attempt == attempts - 1:
                    raise ClusterError(f"worker {self.worker}: cannot open the lease buckets: {exc!r}") from exc
                await asyncio.sleep(pause_s)
            else:
                return

    @property
    def partitions(self) -> frozenset[int]:
        """The partitions held right now."""
        return frozenset(self.held)

    def token(self, partition: int) -> int:
        """The fencing token of ``partition``; raises :class:`Fenced` when this worker does not hold it."""
        held = self.held.get(partition)
        if held is None:
            raise Fenced(f"worker {self.worker} does not hold partition {partition}")
        if time.monotonic() - held.renewed > self.settings.ttl_s * 0.8:
            raise Fenced(f"worker {self.worker}: lease of partition {partition} not renewed in time")
        return held.token

    async def members(self) -> list[str]:
        """The live workers (their membership keys are younger than the TTL)."""
        assert self._members is not None
        try:
            async with asyncio.timeout(self.settings.op_timeout_s):
                keys = await self._members.keys()
        except Exception as exc:  # nats-py raises NoKeysError (a plain NatsError) on an empty bucket
            if type(exc).__name__ == "NoKeysError":
                return []
            raise
        return sorted(keys)

    async def step(self) -> None:
        """One round: renew membership and held leases, release what moved away, take what is free."""
        assert self._members is not None and self._leases is not None
        timeout = self.settings.op_timeout_s
        async with asyncio.timeout(timeout):
            await self._members.put(self.worker, json.dumps({"ts": time.time()}).encode())
        members = await self.members()
        if self.worker not in members:
            members.append(self.worker)
        for p in list(self.held):
            if rendezvous_owner(p, members) != self.worker:
                await self._release(p)
            else:
                await self._renew(p)
        for p in range(self.settings.partitions):
            if p not in self.held and rendezvous_owner(p, members) == self.worker:
                await self._take(p)

    def _value(self) -> bytes:
        return json.dumps({"worker": self.worker, "ts": time.time()}).encode()

    async def _take(self, p: int) -> None:
        assert self._leases is not None
        try:
            async with asyncio.timeout(self.settings.op_timeout_s):
                rev = await self._leases.create(f"p{p}", self._value())
        except KeyWrongLastSequenceError:
            return  # still held by its previous owner: free once that owner releases it or its TTL runs out
        self.held[p] = _Held(token=rev, revision=rev)
        log.info("worker %s took partition %d (token %d)", self.worker, p, rev)
        if self.on_gained is not None:
            await self.on_gained(p, rev)

    async def _renew(self, p: int) -> None:
        assert self._leases is not None
        held = self.held[p]
        try:
            async with asyncio.timeout(self.settings.op_timeout_s):
                held.revision = await self._leases.update(f"p{p}", self._value(), last=held.revision)
            held.renewed = time.monotonic()
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            await self._lose(p, "lease expired or taken over")

    async def _release(self, p: int) -> None:
        assert self._leases is not None
        held = self.held.get(p)
        if held is None:
            return
        await self._lose(p, "moved to another worker")
        with contextlib.suppress(KeyNotFoundError):
            async with asyncio.timeout(self.settings.op_timeout_s):
                await self._leases.purge(f"p{p}")

    async def _lose(self, p: int, why: str) -> None:
        self.held.pop(p, None)
        log.warning("worker %s lost partition %d: %s", self.worker, p, why)
        if self.on_lost is not None:
            await self.on_lost(p, 0)

    async def release_all(self) -> None:
        """Give every partition back and leave the membership (a clean stop).

        A key that cannot be removed now (JetStream electing a leader, a member
        down) is left to the bucket's TTL: the stop goes on, and the others
        take over after the TTL instead of at once.
        """
        assert self._members is not None
        for p in list(self.held):
            await self._tolerant(f"partition {p}", self._release(p))
        await self._tolerant("membership", self._leave())

    async def _leave(self) -> None:
        assert self._members is not None
        async with asyncio.timeout(self.settings.op_timeout_s):
            await self._members.purge(self.worker)

    async def _tolerant(self, what: str, step: Awaitable[object]) -> None:
        try:
            await step
        except KeyNotFoundError:
            pass
        except (TimeoutError, ConnectionError, nats.errors.Error) as exc:
            log.warning("worker %s: %s not released (%r); it expires after the TTL", self.worker, what, exc)

    async def run(self, stop: asyncio.Event) -> None:
        """Step every ``renew_s`` until ``stop`` is set, then release everything."""
        try:
            while not stop.is_set():
                # A leaf task: a cancel that nats-py's own wait_for swallowed (Python 3.11) still ends it here.
                check_cancelled(leaf=True)
                try:
                    await self.step()
                except (TimeoutError, ConnectionError, nats.errors.Error) as exc:
                    # JetStream without a leader for a moment (an election), a node down: try again next round.
                    log.warning("worker %s: lease round failed: %s", self.worker, str(exc) or repr(exc))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.renew_s):
                        await stop.wait()
        finally:
            if stop.is_set():
                await self.release_all()
