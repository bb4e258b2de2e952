"""The hub's settings file (``citysense-hub run --config hub.yaml``); every key has a default.

Leaving ``mqtt_url`` unset starts the embedded broker; leaving ``influx``
unset stores readings in the embedded SQLite store under ``data_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr

from citysense.contract import DEFAULT_PREFIX
from citysense.profiles.model import Strict


class InfluxSettings(Strict):
    """InfluxDB reached over its v1 HTTP API (1.x, or 2.x/3.x compatibility endpoints)."""

    url: str = "http://127.0.0.1:8086"
    database: str = "citysense"
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0


class HubSettings(Strict):
    """Everything the hub needs to run."""

    data_dir: Path = Path("var/hub")
    mqtt_url: str | None = None
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_client_id: str = "citysense-hub"
    topic_prefix: str = DEFAULT_PREFIX
    influx: InfluxSettings | None = None
    registry_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    profiles_dir: Path | None = None
    node_kinds_dir: Path | None = None
    fleet_file: Path | None = None
    alerts_file: Path | None = Field(default=None, description="alerts.yaml; the alert engine runs when set")
