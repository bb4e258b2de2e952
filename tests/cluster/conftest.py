"""A three-node NATS cluster (JetStream R3, MQTT on every node) and PostgreSQL for the cluster tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.cluster.partitions import PartitionMap
from tests.harness.nats import NatsCluster
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


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone (the province's registry, ledger, alarms and outbox)."""
    server = started(PostgresServer)
    try:
        yield server
    finally:
        server.close()
