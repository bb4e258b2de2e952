"""Province workers share one settings file: their MQTT sessions must not take each other over."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from hub.cluster.settings import ClusterSettings
from hub.config import HubSettings
from hub.runtime import running_hub
from tests.agent.support import write_site
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
