"""Questions to a running JetStream cluster that tests and benchmarks ask: which node leads a stream."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import nats
import nats.errors


async def stream_leader(urls: Sequence[str], stream: str, deadline_s: float = 20.0) -> str:
    """The server name of ``stream``'s RAFT leader (waits through an election)."""
    nc = await nats.connect(servers=list(urls), connect_timeout=5)
    try:
        js = nc.jetstream()
        async with asyncio.timeout(deadline_s):
            while True:
                try:
                    info = await js.stream_info(stream)
                except (TimeoutError, nats.errors.Error):
                    info = None
                if info is not None and info.cluster is not None and info.cluster.leader:
                    return str(info.cluster.leader)
                await asyncio.sleep(0.2)  # no event tells when an election ends
    finally:
        await nc.close()
