"""Three-node NATS clusters (JetStream R3, MQTT on every node), open or with the auth callout, and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.broker.natsjwt import AccountKey, new_account_seed
from hub.cluster.partitions import PartitionMap
from hub.config import BrokerAdminSettings
from tests.harness.nats import AUTH_SERVICE, SYSTEM, NatsCluster, callout_conf
from tests.harness.postgres import PostgresServer
from tests.harness.server import started

PARTITIONS = PartitionMap(8)


@pytest.fixture
def nats_cluster() -> Iterator[NatsCluster]:
    """A fresh cluster per test (tests kill and restart its nodes)."""
    cluster = started(lambda: NatsCluster(3, extra_conf=PARTITIONS.mapping_conf()))
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def auth_cluster() -> Iterator[tuple[NatsCluster, str]]:
    """One cluster per module whose servers send every MQTT login to the hub's callout; and its signing seed."""
    seed = new_account_seed()
    conf = callout_conf(AccountKey(seed).public_key, PARTITIONS.mapping_conf())
    cluster = started(lambda: NatsCluster(3, extra_conf=conf))
    try:
        yield cluster, seed
    finally:
        cluster.close()


def admin_settings(cluster: NatsCluster, seed: str) -> BrokerAdminSettings:
    """The hub's ``broker_admin`` section for that cluster."""
    return BrokerAdminSettings.model_validate(
        {
            "kind": "nats",
            "username": AUTH_SERVICE[0],
            "password": AUTH_SERVICE[1],
            "nats_urls": cluster.urls,
            "signing_seed": seed,
            "replicas": 3,
            "system_username": SYSTEM[0],
            "system_password": SYSTEM[1],
        }
    )


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone (the province's registry, ledger, alarms and outbox)."""
    server = started(PostgresServer)
    try:
        yield server
    finally:
        server.close()
