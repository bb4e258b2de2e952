"""Run one hub worker of the province tier: connect, create the stream if needed, hold leases, consume."""

from __future__ import annotations

import asyncio
import logging

import nats

from hub.cluster.leases import LeaseManager, LeaseSettings
from hub.cluster.partitions import PartitionMap
from hub.cluster.settings import ClusterSettings
from hub.cluster.worker import PartitionObserver, PartitionWorker, ensure_stream
from hub.ingest.pipeline import Pipeline

log = logging.getLogger(__name__)


async def run_cluster_worker(
    settings: ClusterSettings,
    pipeline: Pipeline,
    stop: asyncio.Event,
    partition_observer: PartitionObserver | None = None,
) -> None:
    """Consume this worker's partitions until ``stop`` is set; partitions are released on the way out.

    ``partition_observer`` (the alert engine's :class:`~hub.alerts.handover.AlertPartitions`)
    is told of every partition gained and lost.
    """
    name = settings.worker_name()
    conn = await nats.connect(
        servers=settings.nats_urls,
        name=f"citysense-hub-{name}",
        user=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        connect_timeout=settings.connect_timeout_s,
        max_reconnect_attempts=-1,
    )
    try:
        js = conn.jetstream()
        await ensure_stream(js, replicas=settings.replicas)
        leases = LeaseManager(
            js,
            name,
            LeaseSettings(
                partitions=settings.partitions,
                bucket=settings.bucket,
                ttl_s=settings.lease_ttl_s,
                renew_s=settings.lease_renew_s,
                replicas=settings.replicas,
            ),
        )
        worker = PartitionWorker(
            conn,
            pipeline,
            leases,
            PartitionMap(settings.partitions, pipeline.prefix),
            batch=settings.fetch_batch,
            ack_wait_s=settings.ack_wait_s,
            partition_observer=partition_observer,
        )
        log.info("hub worker %s: consuming %d partitions' share from %s", name, settings.partitions, settings.nats_urls)
        await worker.run(stop)
    finally:
        await conn.drain()
