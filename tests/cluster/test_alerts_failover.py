"""Alerts on the province tier: a partition's alert state moves with it, and every alarm fires and is told once.

Three NATS nodes, PostgreSQL (registry, ledger, alarms, outbox), a store, and
hub workers each running the pipeline and its alert engine as a worker does
(hub/runtime.py), with a webhook channel pointing at a local receiver.
Simulated agents publish a level every half second. The level crosses a
threshold with an 8 s ``for``; a worker is killed while that ``for`` is
pending for its nodes, so the survivor must finish it from the dead worker's
flushed state; a third worker joins and takes those partitions over cleanly,
so the level falling back must clear the alarms there. One node goes silent:
its no-data and node-offline alarms come from its owner alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import nats
import pytest
import yaml
from nats.aio.client import Client as NatsClient
from sqlalchemy import select

from citysense.contract import Channel, Reading, TelemetryBatch, encode, topic
from citysense.nodekinds import load_node_kinds
from citysense.profiles import ProfileSet, load_profiles
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from hub.alerts.config import AlertConfig
from hub.alerts.engine import AlertEngine
from hub.alerts.handover import AlertPartitions
from hub.alerts.models import Alarm, AlarmEvent, AlertFence
from hub.alerts.scope import PartitionScope
from hub.cluster.leases import LeaseManager, LeaseSettings, rendezvous_owner
from hub.cluster.partitions import STREAM
from hub.cluster.settings import ClusterSettings
from hub.cluster.worker import PartitionWorker, ensure_stream
from hub.config import HubSettings
from hub.ingest.pipeline import Pipeline
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.fleet import Fleet
from hub.registry.service import Registry
from hub.runtime import running_hub
from hub.store.sqlite import SqliteStore
from tests.alerts.httpfake import FakeServer, Seen, fake_provider
from tests.alerts.stack import SECRET
from tests.cluster.conftest import PARTITIONS
from tests.harness.jetstream import stream_leader
from tests.harness.nats import NatsCluster
from tests.harness.postgres import PostgresServer
from tests.hub.conftest import KIND

NODES = [f"N{i:02d}" for i in range(8)]
QUIET = "N00"  # stops publishing after the kill; its partition stays with w-a throughout
FOR_S = 8.0
LEASES = LeaseSettings(partitions=PARTITIONS.count, bucket="al", ttl_s=3.0, renew_s=0.5)
PROFILE = f"""
id: test_gauge
model: Test gauge
manufacturer: Test
source: written for the tests
category: water
expected_interval_s: 1
points:
  - {{metric: level, table: holding, address: 0, type: int16, scale: 0.01, unit: m, range: [-5, 50]}}
alerts:
  - {{id: level_high, kind: threshold, metric: level, above: 3.5, clear_below: 3.3, for_s: {FOR_S}}}
  - {{id: silent, kind: no_data, tolerance: 4}}
"""
FLEET = {
    "regions": [{"code": "440981", "name": "City", "level": "city"}],
    "departments": [{"id": "water", "name": "Water"}],
    "nodes": [
        {"id": n, "kind": "test_site", "region": "440981", "endpoints": {"bus": {"host": "h", "port": 1}}}
        for n in NODES
    ],
}


def _owner(node: str, members: list[str]) -> str | None:
    return rendezvous_owner(PARTITIONS.partition_of(node), members)


QUIET_RULES = {"silent", "node_offline"}
MOVED = [n for n in NODES if _owner(n, ["w-a", "w-b"]) == "w-b"]  # w-b's while it lives
JOINED = [n for n in NODES if _owner(n, ["w-a", "w-c"]) == "w-c"]  # handed to w-c when it joins


def _site(tmp_path: Path, for_s: float = FOR_S) -> None:
    """The profile and node kind under ``tmp_path`` (``profiles/``, ``kinds/``)."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "test_gauge.yaml").write_text(PROFILE.replace(f"for_s: {FOR_S}", f"for_s: {for_s}"))
    (tmp_path / "kinds").mkdir()
    (tmp_path / "kinds" / "test_site.yaml").write_text(KIND)


def _registry(tmp_path: Path, url: str) -> tuple[Registry, ProfileSet]:
    _site(tmp_path)
    profiles = load_profiles(tmp_path / "profiles")
    registry = Registry(url)
    registry.migrate()
    registry.apply_fleet(Fleet.model_validate(FLEET), load_node_kinds(tmp_path / "kinds", set(profiles)), profiles)
    return registry, profiles


def _alerts_yaml(webhook: str) -> dict[str, object]:
    return {
        "tick_s": 0.2,
        "flush_s": 0.2,
        "retry_schedule_s": [0, 0.5, 1],
        "node_offline": {"severity": "major", "silence_s": 8},
        "channels": {"ops": {"type": "webhook", "url": webhook, "secret": SECRET}},
        "policies": [{"name": "duty", "channels": ["ops"], "group_wait_s": 0, "repeat_interval_s": 3600}],
    }


def _alerts(webhook: str) -> AlertConfig:
    return AlertConfig.model_validate(_alerts_yaml(webhook))


@dataclass
class _Worker:
    conn: NatsClient
    worker: PartitionWorker
    engine: AlertEngine
    registry: Registry
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]]


@dataclass
class _Agents:
    """Every node publishes its level twice a second (QoS 1 to a NATS MQTT listener) until stopped."""

    level: float = 1.0
    quiet: set[str] = field(default_factory=set)
    seq: int = 0

    async def run(self, cluster: NatsCluster) -> None:
        """Publish until cancelled, moving to the next member when the one in use dies (as agents fail over)."""
        for attempt in itertools.count():
            host, port = cluster.mqtt_endpoints[attempt % len(cluster.mqtt_endpoints)]
            try:
                async with aiomqtt.Client(host, port, identifier="agents", timeout=5) as client:
                    while True:
                        await self._publish(client)
                        await asyncio.sleep(0.5)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    async def _publish(self, client: aiomqtt.Client) -> None:
        self.seq += 1
        ts = int(time.time() * 1000)
        for node in NODES:
            if node in self.quiet:
                continue
            level = 1.0 if node == QUIET else self.level
            reading = Reading(device="gauge", metric="level", value=level, unit="m", ts_ms=ts)
            batch = TelemetryBatch(node=node, seq=self.seq, sent_ms=ts, readings=[reading])
            await client.publish(topic(node, Channel.TELEMETRY), encode(batch), qos=1)


@contextlib.asynccontextmanager
async def _province(
    cluster: NatsCluster, pg: PostgresServer, tmp_path: Path, webhook: FakeServer
) -> AsyncIterator[tuple[_Tier, Registry]]:
    registry, profiles = _registry(tmp_path, pg.url)
    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    conn = await nats.connect(servers=cluster.urls, connect_timeout=5)
    await ensure_stream(conn.jetstream())
    await conn.close()
    tier = _Tier(cluster, pg, store, profiles, _alerts(webhook.url))
    try:
        yield tier, registry
    finally:
        for w in tier.workers.values():
            w.stop.set()
        for w in tier.workers.values():
            if not w.tasks[0].done():
                await asyncio.wait_for(w.tasks[0], 15)
            await cancel_and_wait(w.tasks, grace_s=STOP_GRACE_S)
            await asyncio.gather(*w.tasks, return_exceptions=True)
            await w.conn.close()
            w.registry.engine.dispose()
        await store.close()
        registry.engine.dispose()


@dataclass
class _Tier:
    cluster: NatsCluster
    pg: PostgresServer
    store: SqliteStore
    profiles: ProfileSet
    cfg: AlertConfig
    workers: dict[str, _Worker] = field(default_factory=dict)


async def _add(tier: _Tier, name: str) -> None:
    """One worker as hub/runtime.py wires it: pipeline, scoped alert engine, partition observer."""
    registry = Registry(tier.pg.url)  # its own connection pool, as its own process would have
    snapshot = await asyncio.to_thread(registry.snapshot)
    profiles, store, cluster = tier.profiles, tier.store, tier.cluster
    engine = AlertEngine(
        registry=registry,
        snapshot=snapshot,
        profiles=profiles,
        cfg=tier.cfg,
        scope=PartitionScope(PARTITIONS.partition_of, name),
    )
    await engine.start()
    pipeline = Pipeline(
        registry=registry,
        snapshot=snapshot,
        profiles=profiles,
        store=store,
        latest=LatestCache(),
        stats=IngestStats(),
        topic_prefix="citysense/v1",
    )
    pipeline.dedupe.exclusive = True
    pipeline.on_stored.append(engine.on_stored)
    conn = await nats.connect(servers=cluster.urls, connect_timeout=5)
    leases = LeaseManager(conn.jetstream(), name, LEASES)
    pw = PartitionWorker(conn, pipeline, leases, PARTITIONS, ack_wait_s=3.0, partition_observer=AlertPartitions(engine))
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(pw.run(stop), name=f"test:{name}:worker"),
        asyncio.create_task(engine.run(), name=f"test:{name}:alerts"),
    ]
    tier.workers[name] = _Worker(conn, pw, engine, registry, stop, tasks)


async def _kill(w: _Worker) -> None:
    """Die without a word: no release, no last flush, no goodbye to NATS."""
    await cancel_and_wait(w.tasks, grace_s=STOP_GRACE_S)
    await asyncio.gather(*w.tasks, return_exceptions=True)


def _alarms(registry: Registry) -> tuple[list[Alarm], list[AlarmEvent]]:
    with registry.session() as s:
        return list(s.scalars(select(Alarm).order_by(Alarm.id))), list(s.scalars(select(AlarmEvent)))


async def _until(registry: Registry, what: str, done: Callable[[list[Alarm]], bool], deadline_s: float = 30.0) -> None:
    """Wait until the alarms in the database satisfy ``done`` (fails naming ``what`` after ``deadline_s``)."""
    alarms: list[Alarm] = []
    try:
        async with asyncio.timeout(deadline_s):
            while True:
                alarms, _ = await asyncio.to_thread(_alarms, registry)
                if done(alarms):
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        pytest.fail(f"not {what} within {deadline_s} s: {[(a.device, a.rule_id, a.state) for a in alarms]}")


def _open_level(alarms: list[Alarm]) -> set[str]:
    """Devices with a second level alarm open (the first cleared)."""
    cleared = {a.device for a in alarms if a.rule_id == "level_high" and not a.is_open}
    return {a.device for a in alarms if a.rule_id == "level_high" and a.is_open and a.device in cleared}


def _sealed(registry: Registry, worker: str) -> set[int]:
    with registry.session() as s:
        return set(s.scalars(select(AlertFence.partition).where(AlertFence.worker == worker)))


async def _until_sealed(registry: Registry, worker: str, nodes: list[str]) -> None:
    """Wait until ``worker`` has sealed (taken over the alert state of) the partitions of ``nodes``."""
    want = {PARTITIONS.partition_of(n) for n in nodes}
    async with asyncio.timeout(15):
        while True:
            if want <= await asyncio.to_thread(_sealed, registry, worker):
                return
            await asyncio.sleep(0.2)


def _deliveries(seen: list[Seen]) -> list[tuple[str, str, int]]:
    """(webhook-id, event type, alarm id) of every alarm in every webhook received."""
    out = []
    for req in seen:
        event = json.loads(req.body)
        out += [(req.headers["webhook-id"], event["type"], a["id"]) for a in event["alarms"]]
    return out


def test_alert_state_moves_with_its_partition_and_every_alarm_fires_and_is_told_once(
    nats_cluster: NatsCluster, postgres: PostgresServer, tmp_path: Path
) -> None:
    assert MOVED and JOINED and _owner(QUIET, ["w-a", "w-b"]) == _owner(QUIET, ["w-a", "w-c"]) == "w-a"
    level_high = {f"{n}.gauge" for n in NODES if n != QUIET}

    async def main(webhook: FakeServer) -> None:
        async with _province(nats_cluster, postgres, tmp_path, webhook) as (tier, registry):
            ws = tier.workers
            await _add(tier, "w-a")
            await _add(tier, "w-b")
            agents = _Agents()
            async with asyncio.TaskGroup() as tg:
                publishing = tg.create_task(agents.run(nats_cluster), name="test:agents")
                await asyncio.sleep(3)  # both workers hold their partitions, every node has been heard
                agents.level = 4.0  # above 3.5: the 8 s ``for`` starts on each node's owner
                await asyncio.sleep(2)  # flushed every 0.2 s: w-b's pending timers are in the database
                await _kill(ws["w-b"])
                timing["killed"] = time.time()
                agents.quiet.add(QUIET)
                await _until(
                    registry, "raised", lambda a: {x.device for x in a if x.rule_id == "level_high"} == level_high
                )
                await _until(registry, "silent", lambda a: {x.rule_id for x in a if x.node == QUIET} == QUIET_RULES)
                await _add(tier, "w-c")  # joins: takes JOINED's partitions cleanly
                await _until_sealed(registry, "w-c", JOINED)
                await asyncio.sleep(1.5)
                agents.level = 1.0  # back below 3.3: every level alarm clears, wherever its state went
                await _until(registry, "cleared", lambda a: all(not x.is_open for x in a if x.rule_id == "level_high"))
                await asyncio.sleep(1)
                phase1 = (await asyncio.to_thread(_alarms, registry))[0]
                # Phase 2: w-b restarts, the stream leader dies, the level crosses again, and w-c leaves cleanly
                # while those ``for`` timers are pending.
                tier.workers["w-b (dead)"] = ws.pop("w-b")
                await _add(tier, "w-b")
                await _until_sealed(registry, "w-b", [n for n in NODES if _owner(n, ["w-a", "w-b", "w-c"]) == "w-b"])
                nats_cluster.node(await stream_leader(nats_cluster.urls, STREAM)).kill()
                agents.level = 4.0
                await asyncio.sleep(2)
                ws["w-c"].stop.set()  # releases its partitions after writing their pending timers
                await asyncio.wait_for(ws["w-c"].tasks[0], 15)
                await _until(registry, "raised again", lambda a: _open_level(a) == level_high, deadline_s=45)
                await asyncio.sleep(2)  # any extra raise or notification would be in by now
                await cancel_and_wait([publishing], grace_s=STOP_GRACE_S)
            alarms, events = await asyncio.to_thread(_alarms, registry)
            result["alarms"], result["events"], result["phase1"] = alarms, events, phase1

    timing: dict[str, float] = {}
    result: dict[str, list[Alarm] | list[AlarmEvent]] = {}
    with fake_provider(lambda _req: (200, "application/json", b"{}")) as webhook:
        asyncio.run(main(webhook))
        seen = list(webhook.seen)
    alarms: list[Alarm] = result["alarms"]  # type: ignore[assignment]
    phase1: list[Alarm] = result["phase1"]  # type: ignore[assignment]
    events: list[AlarmEvent] = result["events"]  # type: ignore[assignment]
    by_id = {a.id: a for a in alarms}

    # Up to the stream leader's death no worker raised an alarm for a node it does not own: one level alarm per
    # crossing node, and for the silent node only its own. (The stream leader's death then stalls ingest for
    # seconds: real silences, whose no-data alarms must fire once too.)
    early = Counter((a.device, a.rule_id) for a in phase1)
    quiet = {(f"{QUIET}.gauge", "silent"): 1, (QUIET, "node_offline"): 1}
    assert early == {(d, "level_high"): 1 for d in level_high} | quiet, early
    # Each alarm opened once, raised once, cleared at most once; two level alarms per device (two crossings);
    # the silent node's stay open through every hand-over.
    opened = Counter((a.device, a.rule_id) for a in alarms)
    assert {k: opened[k] for k in quiet} == quiet
    assert all(opened[(d, "level_high")] == 2 for d in level_high), opened
    trail = Counter((e.alarm_id, e.action) for e in events)
    assert all(trail[(a.id, "raised")] == 1 and trail[(a.id, "cleared")] <= 1 for a in alarms), trail
    assert all(a.is_open for a in alarms if a.node == QUIET)

    # Who raised and cleared the first crossing's alarms: the node's owner at the time, and no one else.
    first = {a.id for a in phase1}
    transitions = [e for e in events if e.action in ("raised", "severity", "cleared") and e.alarm_id in first]
    actor = {(by_id[e.alarm_id].node, by_id[e.alarm_id].rule_id, e.action): e.actor for e in transitions}
    for node in MOVED:
        assert actor[(node, "level_high", "raised")] == "engine@w-a"  # w-b died while the ``for`` was pending
    for node in JOINED:
        assert actor[(node, "level_high", "cleared")] == "engine@w-c"  # w-c knew the alarm was active
    assert {a for (n, _, _), a in actor.items() if n == QUIET} == {"engine@w-a"}

    # The dead worker's pending ``for`` went on at the survivor: from scratch, it could not have raised before
    # the lease ran out (TTL after the kill) plus a whole ``for``.
    fresh_start_ms = (timing["killed"] + LEASES.ttl_s + FOR_S) * 1000
    for a in alarms:
        if a.node in MOVED and a.id in first:
            assert a.raised_ms < fresh_start_ms, (a.node, a.raised_ms - timing["killed"] * 1000)

    # Every notification delivered once; each level alarm told once as raised, the first ones once as cleared.
    deliveries = _deliveries(seen)
    assert all(n == 1 for n in Counter(req.headers["webhook-id"] for req in seen).values())
    told = Counter((alarm, kind) for _, kind, alarm in deliveries)
    assert all(n == 1 for n in told.values()), told
    for a in alarms:
        if a.rule_id == "level_high":
            assert told[(a.id, "alarm.raised")] == 1
            assert told[(a.id, "alarm.cleared")] == (1 if a.id in first else 0)


def test_a_hub_worker_runs_its_alert_engine_on_the_partitions_it_holds(
    nats_cluster: NatsCluster, postgres: PostgresServer, tmp_path: Path
) -> None:
    """The hub process in province mode (hub/runtime.py): alarms of its nodes, named after it, told once."""
    _site(tmp_path, for_s=0)
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(FLEET))
    level_high = {f"{n}.gauge" for n in NODES if n != QUIET}

    async def main(webhook: FakeServer) -> None:
        (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(_alerts_yaml(webhook.url)))
        settings = HubSettings(
            data_dir=tmp_path / "hub",
            api_port=0,
            profiles_dir=tmp_path / "profiles",
            node_kinds_dir=tmp_path / "kinds",
            fleet_file=tmp_path / "fleet.yaml",
            registry_url=postgres.url,
            alerts_file=tmp_path / "alerts.yaml",
            mqtt_url=f"mqtt://127.0.0.1:{nats_cluster.nodes[0].mqtt_port}",
            cluster=ClusterSettings(
                nats_urls=nats_cluster.urls, worker="w1", partitions=PARTITIONS.count, lease_ttl_s=3, lease_renew_s=0.5
            ),
        )
        async with running_hub(settings) as hub, asyncio.TaskGroup() as tg:
            assert hub.alerts is not None
            registry = hub.alerts.registry
            agents = _Agents(level=4.0)
            publishing = tg.create_task(agents.run(nats_cluster), name="test:agents")
            await _until(registry, "raised", lambda a: {x.device for x in a if x.rule_id == "level_high"} == level_high)
            await _until(registry, "told", lambda a: all(x.notify_count == 1 for x in a))
            await cancel_and_wait([publishing], grace_s=STOP_GRACE_S)
            _, events = await asyncio.to_thread(_alarms, registry)
            result["actors"] = {e.actor for e in events if e.action == "raised"}

    result: dict[str, set[str]] = {}
    with fake_provider(lambda _req: (200, "application/json", b"{}")) as webhook:
        asyncio.run(main(webhook))
        seen = list(webhook.seen)
    assert result["actors"] == {"engine@w1"}
    told = Counter(alarm for _, kind, alarm in _deliveries(seen) if kind == "alarm.raised")
    assert len(told) == len(level_high) and set(told.values()) == {1}
