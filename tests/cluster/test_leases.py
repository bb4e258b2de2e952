"""Partition leases in NATS KV: disjoint ownership, minimal moves, take-over of a dead worker, fencing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
import pytest

from hub.cluster.errors import Fenced
from hub.cluster.leases import LeaseManager, LeaseSettings, rendezvous_owner
from tests.harness.nats import NatsCluster

SETTINGS = LeaseSettings(partitions=16, bucket="t", ttl_s=3.0, renew_s=0.5)


@asynccontextmanager
async def _workers(cluster: NatsCluster, names: list[str]) -> AsyncIterator[dict[str, LeaseManager]]:
    conns = [await nats.connect(servers=cluster.urls, connect_timeout=5) for _ in names]
    managers = {n: LeaseManager(c.jetstream(), n, SETTINGS) for n, c in zip(names, conns, strict=True)}
    try:
        for m in managers.values():
            await m.open()
        yield managers
    finally:
        for c in conns:
            await c.close()


async def _settle(managers: dict[str, LeaseManager], rounds: int = 6) -> None:
    for _ in range(rounds):
        for m in managers.values():
            await m.step()


def _assert_partitioned(managers: dict[str, LeaseManager]) -> None:
    owned = [p for m in managers.values() for p in m.partitions]
    assert sorted(owned) == list(range(SETTINGS.partitions)), "every partition owned exactly once"


def test_workers_split_partitions_and_a_new_worker_moves_only_its_share(nats_cluster: NatsCluster) -> None:
    async def main() -> None:
        async with _workers(nats_cluster, ["w-a", "w-b", "w-c"]) as ms:
            two = {k: ms[k] for k in ("w-a", "w-b")}
            await _settle(two)
            _assert_partitioned(two)
            before = {k: m.partitions for k, m in two.items()}
            await _settle(ms)
            _assert_partitioned(ms)
            for name, m in two.items():
                assert m.partitions <= before[name], "an old worker only gives partitions away"
            moved = {p for p in range(SETTINGS.partitions) if rendezvous_owner(p, ms) == "w-c"}
            assert ms["w-c"].partitions == moved

    asyncio.run(main())


def test_a_dead_workers_partitions_are_taken_over_after_the_ttl(nats_cluster: NatsCluster) -> None:
    async def main() -> None:
        async with _workers(nats_cluster, ["w-a", "w-b"]) as ms:
            await _settle(ms)
            lost = ms["w-b"].partitions
            assert lost
            # w-b stops renewing (killed): w-a keeps stepping until it owns everything.
            loop = asyncio.get_running_loop()
            start = loop.time()
            while ms["w-a"].partitions != frozenset(range(SETTINGS.partitions)):
                assert loop.time() - start < SETTINGS.ttl_s * 4, "take-over must follow the TTL"
                await ms["w-a"].step()
                await asyncio.sleep(SETTINGS.renew_s)
            with pytest.raises(Fenced):  # the dead worker's own view no longer lets it act
                ms["w-b"].token(next(iter(lost)))

    asyncio.run(main())


def test_a_clean_stop_hands_partitions_over_at_once(nats_cluster: NatsCluster) -> None:
    async def main() -> None:
        async with _workers(nats_cluster, ["w-a", "w-b"]) as ms:
            await _settle(ms)
            await ms["w-b"].release_all()
            await _settle({"w-a": ms["w-a"]}, rounds=2)
            assert ms["w-a"].partitions == frozenset(range(SETTINGS.partitions))

    asyncio.run(main())
