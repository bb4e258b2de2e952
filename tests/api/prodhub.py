"""Settings of a hub as a city runs it: production mode, SQLite on disk, Mosquitto with dynamic security, alerts on."""

from __future__ import annotations

import secrets
from pathlib import Path

import yaml

from hub.config import BrokerAdminSettings, HubSettings
from tests.api.conftest import FLEET
from tests.harness.mosquitto import DYNSEC_ADMIN, MosquittoServer


def production_settings(root: Path, broker: MosquittoServer, ack_secret: str | None = None) -> HubSettings:
    """Write the fleet (tests/api/conftest.py's) and alert files under ``root``; return production settings."""
    (root / "fleet.yaml").write_text(yaml.safe_dump(FLEET), encoding="utf-8")
    alerts = {"ack_secret": ack_secret or secrets.token_urlsafe(32), "receipt_key": secrets.token_urlsafe(24)}
    (root / "alerts.yaml").write_text(yaml.safe_dump(alerts), encoding="utf-8")
    return HubSettings.model_validate(
        {
            "environment": "production",
            "dev_open_read": False,
            "bootstrap_admin_token": f"cs_prod{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}",
            "data_dir": root / "data",
            "mqtt_url": broker.url,
            "mqtt_password": secrets.token_urlsafe(24),
            "broker_admin": BrokerAdminSettings.model_validate(
                {"username": DYNSEC_ADMIN[0], "password": DYNSEC_ADMIN[1]}
            ),
            "fleet_file": root / "fleet.yaml",
            "alerts_file": root / "alerts.yaml",
            "api_port": 0,
        }
    )
