"""The operator's broker configuration is valid for the real server and maps partitions as the hub computes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hub.broker.natsjwt import AccountKey
from hub.cluster.partitions import PartitionMap
from hub.config import DEV_NATS_SIGNING_SEED
from tests.harness.nats import nats_binary

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "citysense-nats.conf"


def test_shipped_config_is_accepted_by_nats_server() -> None:
    cmd = [nats_binary(), "-c", str(CONF), "-t"]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr + done.stdout


def test_shipped_mapping_is_the_hubs_partition_map() -> None:
    text = CONF.read_text()
    for source, dest in PartitionMap(64).mappings().items():
        assert f'"{source}": "{dest}"' in text


def test_shipped_issuer_is_the_development_key_a_production_hub_refuses() -> None:
    # An operator who forgets to replace the issuer runs a key whose seed is public; the hub refuses that seed.
    assert f'issuer: "{AccountKey(DEV_NATS_SIGNING_SEED).public_key}"' in CONF.read_text()
