"""The hub process: broker (embedded or external), store, registry, ingest and API under one TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn

from citysense.agentconfig import HubLink
from citysense.errors import ConfigError
from citysense.nodekinds import NodeKind, default_node_kind_dir, load_node_kinds
from citysense.profiles import ProfileSet, load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.runner import cancel_and_wait
from citysense.yamlconf import load_model
from hub import production
from hub.alerts.config import AlertConfig
from hub.alerts.engine import AlertEngine
from hub.alerts.handover import AlertPartitions
from hub.alerts.scope import PartitionScope
from hub.api.app import create_app
from hub.api.routes import alarms as alarm_routes
from hub.api.services import HubServices
from hub.broker.commands import CommandCenter
from hub.broker.embedded import EmbeddedBroker
from hub.broker.setup import bind_older_nodes, broker_admin
from hub.cluster.partitions import PartitionMap
from hub.cluster.service import run_cluster_worker
from hub.config import HubSettings
from hub.errors import ProductionRefused
from hub.ingest.brokerwatch import BrokerConn, BrokerWatch
from hub.ingest.consumer import Consumer
from hub.ingest.pipeline import Pipeline
from hub.ingest.spool import Spool
from hub.ingest.stale import UnknownNodeGuard
from hub.ingest.stats import IngestStats
from hub.ingest.summary import log_summaries, quiet_http_logs
from hub.latest import LatestCache
from hub.latest_sync import run_latest_sync, sync_once
from hub.registry.bootstrap import ensure_admin, sync_catalogue
from hub.registry.fleet import Fleet
from hub.registry.names import reserved_names
from hub.registry.service import Registry
from hub.stations.profiles import StationProfile, default_station_profile_dir, load_station_profiles, merged
from hub.stations.wiring import build_gateway
from hub.store.base import Store
from hub.store.errors import StoreUnavailable
from hub.store.hub_rollups import HubRollups
from hub.store.influx_v1 import InfluxV1Store
from hub.store.influx_v2 import InfluxV2Store
from hub.store.sqlite import SqliteStore
from hub.store.victoria import VictoriaStore
from hub.store.watch import StoreWatch

log = logging.getLogger(__name__)
API_STOP_S = 2  # requests in progress at a stop get this long to finish


@dataclass
class RunningHub:
    """Handles on a started hub, for the demo and the tests."""

    services: HubServices
    consumer: Consumer
    mqtt_host: str
    mqtt_port: int
    api_url: str
    kinds: dict[str, NodeKind]
    admin_token: str = ""
    alerts: AlertEngine | None = None


def _make_store(settings: HubSettings, profiles: ProfileSet) -> Store:
    if settings.victoria is not None:
        v = settings.victoria
        return VictoriaStore(v.insert_url, v.database, select_url=v.select_url, timeout_s=v.timeout_s, gzip=v.gzip)
    if settings.influx is not None:
        i = settings.influx
        if i.write_api == "v2":
            token = i.password.get_secret_value() if i.password else ""
            hub_rollups = HubRollups(settings.data_dir / "rollups.db", i.rollup_late_days) if i.retention else None
            return InfluxV2Store(
                i.url,
                i.database,
                i.org,
                token,
                timeout_s=i.timeout_s,
                rollups=hub_rollups,
                resolution=i.retention,
                gzip=i.gzip,
            )
        numeric = {pid: [p.metric for p in prof.points if not p.is_text] for pid, prof in profiles.items()}
        return InfluxV1Store(
            i.url,
            i.database,
            username=i.username,
            password=i.password.get_secret_value() if i.password else None,
            timeout_s=i.timeout_s,
            rollups=i.retention,
            rollup_metrics=numeric,
            gzip=i.gzip,
        )
    return SqliteStore(settings.data_dir / "readings.db", retention=settings.sqlite_retention)


@contextlib.asynccontextmanager
async def running_hub(settings: HubSettings, source: Path | str = "hub settings") -> AsyncIterator[RunningHub]:
    """Start every part of the hub; stop them all when the block exits.

    In production it refuses (:class:`ProductionRefused`, naming ``source``
    and the key) to start on any development default (hub/production.py).
    """
    refused = await asyncio.to_thread(production.problems, settings, source)
    if refused:
        raise ProductionRefused(list(refused))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.environment == "development":  # a production hub refuses this directory from now on
        (settings.data_dir / production.DEV_MARKER).touch()
    # DL/T 645 meter profiles join the device profiles too: the hub validates and charts meters like devices.
    profiles: ProfileSet = load_profiles(settings.profiles_dir or default_profile_dir()).with_meters()
    station_profiles: dict[str, StationProfile] = {}
    if settings.stations is not None:  # station profiles join the device profiles (validation, catalogue, alerts)
        station_profiles = load_station_profiles(settings.stations.profiles_dir or default_station_profile_dir())
        profiles = merged(profiles, station_profiles)
    kinds = load_node_kinds(settings.node_kinds_dir or default_node_kind_dir(), profiles.ids())
    registry = Registry(settings.registry_url or f"sqlite:///{settings.data_dir / 'registry.db'}")
    registry.reserved_names = reserved_names(settings.service_names())
    await asyncio.to_thread(registry.migrate)
    if settings.fleet_file is not None:
        fleet = load_model(Fleet, settings.fleet_file)
        await asyncio.to_thread(registry.apply_fleet, fleet, kinds, profiles)
    snapshot = await asyncio.to_thread(registry.snapshot)
    admin_token = await asyncio.to_thread(ensure_admin, settings, registry)
    await asyncio.to_thread(sync_catalogue, registry, profiles, kinds)

    async with contextlib.AsyncExitStack() as stack:
        if settings.mqtt_url is None:
            broker = await stack.enter_async_context(EmbeddedBroker())
            host, port = broker.host, broker.port
        else:
            parts = urlsplit(settings.mqtt_url)
            host, port = parts.hostname or "127.0.0.1", parts.port or 1883
            if settings.environment != "development" and await production.broker_is_anonymous(host, port):
                why = "the broker accepts anonymous logins; set allow_anonymous false (docs/security.md)"
                raise ProductionRefused([ConfigError(source, [("mqtt_url", why)])])
        store = _make_store(settings, profiles)
        stack.push_async_callback(store.close)
        latest = LatestCache()
        quiet_http_logs()

        async def _warm_latest() -> None:
            await sync_once(latest, store, snapshot)  # warm /latest from the store

        store_watch = StoreWatch(store, interval_s=settings.store_ping_s, on_ready=_warm_latest)
        try:
            await store.start()
            store_watch.started()
            await _warm_latest()
        except StoreUnavailable as exc:
            # Ingest still runs: batches spool to disk and drain when the store answers; the store watch
            # retries the set-up (database, retention, rollups) until it succeeds.
            log.warning("store unavailable at start (%s); spooling until it answers", exc)
        stats = IngestStats()
        spool = Spool(settings.data_dir / "spool.db", max_readings=settings.spool_max_readings)
        stack.callback(spool.close)
        dynsec = await stack.enter_async_context(broker_admin(settings, host, port))
        if dynsec is not None:
            await bind_older_nodes(dynsec, registry)
        cmd_user, cmd_client = settings.command_account
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        services = HubServices(
            registry,
            store,
            latest,
            stats,
            profiles,
            spool,
            kinds=kinds,
            dynsec=dynsec,
            hub_link=HubLink(url=f"mqtt://{host}:{port}", topic_prefix=settings.topic_prefix),
            open_read=settings.dev_open_read and settings.environment == "development",
            broker_deadline_s=3 * settings.broker_admin.timeout_s if settings.broker_admin else 30.0,
        )
        alerts: AlertEngine | None = None
        if settings.alerts_file is not None:
            scope = None
            if settings.cluster is not None:  # a province worker evaluates the nodes of the partitions it holds
                partition_map = PartitionMap(settings.cluster.partitions, settings.topic_prefix)
                scope = PartitionScope(partition_map.partition_of, settings.cluster.worker_name())
            alerts = AlertEngine(
                registry=registry,
                snapshot=snapshot,
                profiles=profiles,
                cfg=load_model(AlertConfig, settings.alerts_file),
                scope=scope,
            )
            await alerts.start()
        pipeline = Pipeline(
            registry=registry,
            snapshot=snapshot,
            profiles=profiles,
            store=store,
            latest=latest,
            stats=stats,
            topic_prefix=settings.topic_prefix,
            spool=spool,
        )
        pipeline.status.book.silent_after_ms = int(settings.node_silent_after_s * 1000)
        services.node_health = pipeline.status.book
        services.store_watch = store_watch
        # Without a shared subscription no other worker stores this hub's batches: new ones skip the ledger query.
        pipeline.dedupe.exclusive = settings.mqtt_share_group is None
        if alerts is not None:
            pipeline.on_stored.append(alerts.on_stored)  # the engine sees every batch once it is stored

        gateway = None
        if settings.stations is not None:
            gateway = build_gateway(settings.stations, pipeline, station_profiles)
            services.stations, services.station_stats = gateway, gateway.stats

        async def _refresh_snapshot() -> None:
            pipeline.snapshot = await asyncio.to_thread(registry.snapshot)
            if gateway is not None:
                gateway.invalidate()
            if alerts is not None:  # provisioned, moved or removed nodes are evaluated without a restart
                await alerts.refresh(pipeline.snapshot)

        services.registry_changed = _refresh_snapshot
        if settings.cluster is not None or settings.mqtt_share_group is not None:  # other hubs register nodes too
            pipeline.unknown_guard = UnknownNodeGuard(_refresh_snapshot)
        commands = CommandCenter(
            host,
            port,
            username=cmd_user,
            password=password,
            prefix=settings.topic_prefix,
            client_id=cmd_client,
            dead=pipeline.dead,
            failover=settings.mqtt_failover(),
        )
        services.commands = commands
        consumer = Consumer(
            pipeline,
            host,
            port,
            client_id=settings.mqtt_client_id,
            username=settings.hub_username,
            password=password,
            share_group=settings.mqtt_share_group,
        )
        services.ingest_connected = consumer.subscribed.is_set
        probe_user, probe_client = settings.probe_account
        services.broker = BrokerWatch(
            BrokerConn(host, port, probe_user, password, probe_client, settings.topic_prefix, settings.mqtt_failover()),
            interval_s=settings.broker_ping_s,
            silent_after_s=settings.broker_silent_after_s,
        )
        app = create_app(services)
        app.state.alerts = alerts
        if alerts is not None:  # the alarm routes exist only when the engine runs
            for router in alarm_routes.routers:
                app.include_router(router)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=settings.api_host,
                port=settings.api_port,
                log_level="warning",
                lifespan="off",
                # Limits on the connection itself (hub/api/limits.py does bodies and request deadlines):
                timeout_keep_alive=5,  # idle keep-alive connections are closed after 5 s
                h11_max_incomplete_event_size=32 * 1024,  # request line and headers at most 32 KiB
                limit_concurrency=1024,  # beyond that many connections/tasks, 503 instead of exhaustion
                timeout_graceful_shutdown=API_STOP_S,  # open keep-alive connections cannot hold a stop
            )
        )
        # Bind before serving so the URL is known at once; connections wait in the backlog.
        sock = socket.create_server((settings.api_host, settings.api_port), backlog=512)
        stack.callback(sock.close)
        bound = sock.getsockname()
        api_url = f"http://{bound[0]}:{bound[1]}"
        cluster_stop = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            if settings.cluster is not None:  # a province worker: partitions from JetStream, not an MQTT subscription
                observer = AlertPartitions(alerts) if alerts is not None else None
                ingest = run_cluster_worker(settings.cluster, pipeline, cluster_stop, observer)
                pipeline.dedupe.exclusive = True  # a partition's nodes are this worker's alone while it holds it
            else:
                ingest = consumer.run()
            ingest_task = tg.create_task(ingest, name="hub:ingest")
            commands_task = tg.create_task(commands.run(), name="hub:commands")
            drain_task = tg.create_task(pipeline.drain(), name="hub:spool-drain")
            prune_task = tg.create_task(pipeline.dedupe.run_pruning(settings.dedupe_keep_s), name="hub:dedupe-prune")
            dead_prune = pipeline.dead.run_pruning(settings.dead_letter_keep_days, settings.dead_letter_max_rows)
            dead_prune_task = tg.create_task(dead_prune, name="hub:dead-letter-prune")
            sync_task = None
            if settings.mqtt_share_group:  # each worker ingests part of the fleet: fill /latest from the store
                sync = run_latest_sync(latest, store, lambda: pipeline.snapshot, settings.latest_sync_s)
                sync_task = tg.create_task(sync, name="hub:latest-sync")
            watches = [
                tg.create_task(services.broker.run(), name="hub:broker-watch"),
                tg.create_task(store_watch.run(), name="hub:store-watch"),
                tg.create_task(log_summaries(stats, spool, settings.ingest_summary_s), name="hub:ingest-summary"),
            ]
            api_task = tg.create_task(server.serve(sockets=[sock]), name="hub:api")
            alerts_task = tg.create_task(alerts.run(), name="hub:alerts") if alerts else None
            station_tasks = []
            if gateway is not None and settings.stations is not None:
                station_tasks.append(tg.create_task(gateway.run(), name="hub:stations"))
                prune = gateway.ingest.ledger.run_pruning(settings.stations.dedupe_keep_s)
                station_tasks.append(tg.create_task(prune, name="hub:station-dedupe-prune"))
                await gateway.ready.wait()
            try:
                yield RunningHub(services, consumer, host, port, api_url, kinds, admin_token, alerts)
            finally:
                # Stop order: take no new messages (what is not yet acknowledged the broker sends again), stop the
                # background loops, let API requests finish, then (on the way out of the stack) close the
                # socket, spool, store and broker.
                server.should_exit = True
                if settings.cluster is not None:  # finish the group in hand and hand the partitions back
                    cluster_stop.set()
                    await asyncio.wait({ingest_task}, timeout=settings.cluster.lease_ttl_s + 10)
                await cancel_and_wait([ingest_task])  # repeated: one cancel may be lost (citysense/runner.py)
                loops = [commands_task, drain_task, prune_task, dead_prune_task, sync_task, alerts_task, *watches]
                await cancel_and_wait([t for t in [*loops, *station_tasks] if t is not None])
                await asyncio.wait({api_task}, timeout=API_STOP_S + 1)
                if not api_task.done():
                    api_task.cancel()
