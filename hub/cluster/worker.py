"""A hub worker of the province tier: consume the partitions it holds from JetStream, through the pipeline.

Agents publish MQTT to any NATS node; the server maps every node's telemetry
into a partition (:mod:`hub.cluster.partitions`) of one replicated stream.
Each partition has one durable pull consumer (``part-<p>``, explicit acks);
the worker holding the partition's lease fetches from it, hands the batches to
the same :class:`~hub.ingest.pipeline.Pipeline` a county hub uses (validate,
dedupe, store or spool, alerts), and acknowledges them to JetStream only then,
and only while it still holds the lease; then it tells each agent how far its
batches are durable (the end-to-end acknowledgment: a NATS MQTT PUBACK does
not mean the message reached the stream, so agents keep every batch until
this says so). A worker that loses a partition stops
fetching from it at once; what it fetched and did not acknowledge is delivered
again to the next owner after ``ack_wait_s``, whose dedupe (the ledger in the
shared registry database) drops what was already stored. One partition is
consumed by one worker at a time and in stream order, so one node's batches
are handled in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Protocol

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig

from citysense.contract import Channel
from citysense.runner import cancel_and_wait, check_cancelled
from hub.cluster.errors import Fenced
from hub.cluster.leases import LeaseManager
from hub.cluster.partitions import STREAM, SUBJECT_ROOT, PartitionMap
from hub.cluster.pull import Puller, ensure_consumer, release
from hub.ingest.acks import ack_payload
from hub.ingest.pipeline import Pipeline

log = logging.getLogger(__name__)


async def ensure_stream(
    js: JetStreamContext, *, replicas: int = 3, max_age_s: float = 7 * 86400, attempts: int = 20, pause_s: float = 0.5
) -> None:
    """Create the telemetry stream (work-queue retention: a message leaves once a worker acknowledged it)."""
    config = StreamConfig(
        name=STREAM,
        subjects=[f"{SUBJECT_ROOT}.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=max_age_s,
    )
    for attempt in range(attempts):
        try:
            try:
                await js.stream_info(STREAM)
            except nats.js.errors.NotFoundError:
                await js.add_stream(config)
        except (TimeoutError, nats.errors.Error) as exc:  # JetStream electing its meta leader (a fresh cluster)
            if isinstance(exc, nats.js.errors.BadRequestError) or attempt == attempts - 1:
                raise
            await asyncio.sleep(pause_s)
        else:
            return


class PartitionObserver(Protocol):
    """Told when this worker starts and stops handling a partition (the alert engine's state follows it)."""

    async def gained(self, p: int, token: int) -> None:
        """Before the first batch of ``p`` is consumed under ``token``; raising delays consuming (retried)."""

    async def lost(self, p: int, token: int) -> None:
        """After the last batch of ``p`` under ``token`` was handled (never for a worker killed outright)."""


@dataclass
class PartitionWorker:
    """Consumes the partitions its :class:`LeaseManager` holds."""

    nc: NatsClient
    pipeline: Pipeline
    leases: LeaseManager
    partitions: PartitionMap
    batch: int = 500
    fetch_wait_s: float = 0.5
    ack_wait_s: float = 10.0
    max_ack_pending: int = 5_000
    acked: int = 0
    stop_grace_s: float = 30.0
    partition_observer: PartitionObserver | None = None
    observer_retry_s: float = 1.0
    _tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    _leaving: set[int] = field(default_factory=set)
    _tokens: dict[int, int] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tg: asyncio.TaskGroup | None = None

    def __post_init__(self) -> None:
        self.js: JetStreamContext = self.nc.jetstream()

    async def run(self, stop: asyncio.Event) -> None:
        """Hold leases and consume until ``stop`` is set; then finish the group in hand and release."""
        self.leases.on_gained = self._gained
        self.leases.on_lost = self._lost
        await self.leases.open()
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            tg.create_task(self.leases.run(stop), name=f"cluster:{self.leases.worker}:leases")
            await stop.wait()
            for p in list(self._tasks):
                await self._lost(p, 0)  # the lease loop releases them once these groups are done

    async def _gained(self, p: int, token: int) -> None:
        assert self._tg is not None
        # While it holds the partition no other worker stores its nodes' batches, so the ledger may skip its query
        # for a seq above the highest it knows; what it knew before the partition moved away is forgotten.
        self.pipeline.dedupe.forget_highs()
        self._leaving.discard(p)
        self._tokens[p] = token
        work = self._consume(p, token) if self.partition_observer is None else self._observed(p, token)
        self._tasks[p] = self._tg.create_task(work, name=f"cluster:{self.leases.worker}:p{p}")

    async def _observed(self, p: int, token: int) -> None:
        """Tell the observer, retrying while it fails (the database away) and the lease holds; then consume."""
        assert self.partition_observer is not None
        while p not in self._leaving and self._tokens.get(p) == token:
            try:
                await self.partition_observer.gained(p, token)
            except Exception:
                log.exception("worker %s: partition %d: observer not ready; retrying", self.leases.worker, p)
                await asyncio.sleep(self.observer_retry_s)
            else:
                await self._consume(p, token)
                return

    async def _lost(self, p: int, _token: int) -> None:
        """Stop consuming ``p`` after the group in hand (never in the middle of one: its claims would linger).

        Returns at once: the lease loop must keep renewing the other partitions meanwhile.
        """
        task = self._tasks.pop(p, None)
        if task is None:
            return
        self._leaving.add(p)
        assert self._tg is not None
        drain = self._drain(p, self._tokens.pop(p, 0), task)
        try:
            self._tg.create_task(drain, name=f"cluster:{self.leases.worker}:drain-p{p}")
        except RuntimeError:  # the worker itself is being cancelled: its consumers are cancelled with it
            drain.close()

    async def _drain(self, p: int, token: int, task: asyncio.Task[None]) -> None:
        done, _ = await asyncio.wait({task}, timeout=self.stop_grace_s)
        if not done:
            await cancel_and_wait([task])  # the drain's own cancel (the worker stopping) is not swallowed here
            self.pipeline.forget_inflight()  # nothing of that group was acknowledged: JetStream delivers it again
        if self.partition_observer is not None:
            try:
                await self.partition_observer.lost(p, token)
            except Exception:
                log.exception("worker %s: partition %d: observer failed at its loss", self.leases.worker, p)

    async def _acknowledge(self, moved: list[tuple[str, str, int]]) -> None:
        """Tell each node how far its batches are durable (core NATS: MQTT subscribers of ``<node>/ack`` get it).

        Not retained: an agent that is away re-sends after its timeout, and the
        re-send, a duplicate, is acknowledged at once.
        """
        root = self.pipeline.prefix.replace("/", ".")
        for node, epoch, seq in moved:
            await self.nc.publish(f"{root}.{node}.{Channel.ACK.value}", ack_payload(node, epoch, seq))

    async def _consume(self, p: int, token: int) -> None:
        config = ConsumerConfig(
            durable_name=f"part-{p}",
            # One ack per message: a work-queue stream refuses any other policy (the server's error 10098,
            # "workqueue stream requires explicit ack"), so AckPolicy.ALL is not open to it. The acks of a
            # group go out in one write (nats-py buffers publishes until its flusher runs).
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_ack_pending=self.max_ack_pending,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=self.partitions.subject(p),
        )
        puller = None
        failing = False
        try:
            while p not in self._leaving:
                check_cancelled(leaf=True)  # a leaf task: a cancel swallowed inside nats-py (Python 3.11) ends it here
                try:
                    if puller is None:
                        await ensure_consumer(self.js, STREAM, config)
                        fresh = Puller(self.nc, STREAM, f"part-{p}")
                        await fresh.open()
                        puller = fresh
                    msgs = await puller.fetch(self.batch, self.fetch_wait_s)
                except TimeoutError:  # nothing to fetch (or a consumer look-up that timed out: nats-py's subclass)
                    continue
                except nats.errors.Error as exc:  # no stream leader for a moment (an election), a node gone
                    if not failing:  # once per outage, not every retry
                        log.warning("worker %s: partition %d: %r; retrying", self.leases.worker, p, exc)
                    failing = True
                    await asyncio.sleep(self.fetch_wait_s)
                    continue
                if failing:
                    log.info("worker %s: partition %d: fetching again", self.leases.worker, p)
                    failing = False
                items = [(self.partitions.topic_of(m.subject), m.data) for m in msgs]
                async with self._lock:  # one pipeline per worker, one group at a time (as the MQTT consumer)
                    if p in self._leaving or self.leases.token(p) != token:
                        await release(msgs)  # the next owner's, at once
                        return
                    await self.pipeline.handle_many(items)
                    moved = self.pipeline.progress.take_moved()
                if self.leases.token(p) != token:  # still ours: only then may JetStream forget them
                    await release(msgs)  # stored: the next owner's dedupe drops them, and acknowledges
                    return
                for m in msgs:
                    await m.ack()
                self.acked += len(msgs)
                await self._acknowledge(moved)
        except Fenced as exc:
            log.warning(
                "worker %s: partition %d fenced (%s); the next owner gets its messages", self.leases.worker, p, exc
            )
        finally:
            if puller is not None:
                with contextlib.suppress(nats.errors.Error):
                    await puller.close()
