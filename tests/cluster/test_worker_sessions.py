"""Province workers share one settings file: their MQTT sessions must not take each other over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from hub.cluster.settings import ClusterSettings
from hub.config import HubSettings
from hub.runtime import running_hub
from tests.agent.support import wait_for, write_site
from tests.cluster.conftest import PARTITIONS
from tests.harness.nats import NatsCluster


async def test_two_workers_on_one_settings_file_keep_their_command_and_probe_sessions(
    tmp_path: Path, nats_cluster: NatsCluster, caplog: pytest.LogCaptureFixture
) -> None:
    profiles, kinds, fleet = write_site(tmp_path)

    def settings(worker: str) -> HubSettings:
        return HubSettings(  # the same file for both but the worker's name (CITYSENSE_WORKER under systemd)
            data_dir=tmp_path / worker,
            api_port=0,
            profiles_dir=profiles,
            node_kinds_dir=kinds,
            fleet_file=fleet,
            mqtt_url=f"mqtt://127.0.0.1:{nats_cluster.nodes[0].mqtt_port}",
            cluster=ClusterSettings(
                nats_urls=nats_cluster.urls, worker=f"{worker}.example.internal", partitions=PARTITIONS.count
            ),
        )

    caplog.set_level(logging.INFO)
    async with running_hub(settings("w1")) as one, running_hub(settings("w2")) as two:
        assert one.services.broker is not None and two.services.broker is not None
        await asyncio.sleep(8)  # a takeover loop kicks one session within a second or two, again and again
        lost = [
            r.getMessage()
            for r in caplog.records
            if "session lost" in r.getMessage() or "unreachable" in r.getMessage()
        ]
        assert lost == []


async def test_a_worker_moves_its_command_and_probe_sessions_to_another_member_when_its_own_dies(
    tmp_path: Path, nats_cluster: NatsCluster
) -> None:
    profiles, kinds, fleet = write_site(tmp_path)
    first, *others = nats_cluster.nodes
    settings = HubSettings(
        data_dir=tmp_path / "w1",
        api_port=0,
        profiles_dir=profiles,
        node_kinds_dir=kinds,
        fleet_file=fleet,
        mqtt_url=f"mqtt://127.0.0.1:{first.mqtt_port}",
        mqtt_failover_urls=[f"mqtt://127.0.0.1:{n.mqtt_port}" for n in others],
        broker_ping_s=0.5,
        broker_silent_after_s=3,
        cluster=ClusterSettings(nats_urls=nats_cluster.urls, worker="w1", partitions=PARTITIONS.count),
    )
    async with running_hub(settings) as hub:
        watch = hub.services.broker
        assert watch is not None
        commands = hub.services.commands
        assert commands is not None
        await wait_for(_async(lambda: watch.echoes > 0), 20, "the first echo through the first member")
        await wait_for(_async(lambda: commands.connected_to is not None), 20, "the command session")
        assert commands.connected_to == ("127.0.0.1", first.mqtt_port)
        first.kill()
        echoes = watch.echoes
        await wait_for(_async(lambda: watch.echoes >= echoes + 3), 30, "echoes through another member")
        await wait_for(_async(lambda: commands.connected_to not in (None, ("127.0.0.1", first.mqtt_port))), 30,
                       "the command session on another member")  # fmt: skip


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return check()

    return run


def test_a_failover_url_unlike_mqtt_url_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"mqtt_failover_urls\.0"):
        HubSettings(data_dir=tmp_path, mqtt_url="mqtt://a:1883", mqtt_failover_urls=["http://b:1883"])
