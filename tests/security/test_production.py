"""Issue 12, findings 5, 6 and "production accepts the embedded broker": production refuses development defaults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hub.config import DEV_ADMIN_TOKEN, HubSettings
from hub.errors import ProductionRefused
from hub.runtime import running_hub
from tests.harness.mosquitto import MosquittoServer
from tests.security.prodhub import prod_hub, production_settings

STRONG = "cs_boot_" + "k" * 43


def _validate(path: Path, settings: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path.write_text(yaml.safe_dump(settings))
    cmd = [sys.executable, "-m", "hub.cli", "validate", "--config", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def _base(tmp_path: Path) -> dict[str, Any]:
    return {
        "environment": "production",
        "dev_open_read": False,
        "bootstrap_admin_token": STRONG,
        "data_dir": str(tmp_path / "prod"),
        "mqtt_url": "mqtt://127.0.0.1:1883",
        "mqtt_password": "hub-secret",
    }


def test_validate_accepts_production_settings_without_development_defaults(tmp_path: Path) -> None:
    done = _validate(tmp_path / "hub.yaml", _base(tmp_path))  # each case below changes one key of these
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"bootstrap_admin_token": DEV_ADMIN_TOKEN}, "bootstrap_admin_token"),
        ({"bootstrap_admin_token": "cs_boot_x"}, "bootstrap_admin_token"),  # a one-character secret
        ({"bootstrap_admin_token": "not-a-token-" + "x" * 40}, "bootstrap_admin_token"),  # malformed
        ({"dev_open_read": True}, "dev_open_read"),
        ({"mqtt_url": None}, "mqtt_url"),  # the embedded, anonymous broker
        ({"mqtt_password": None}, "mqtt_password"),  # an anonymous login
    ],
)
def test_validate_names_the_file_and_key(tmp_path: Path, change: dict[str, Any], key: str) -> None:
    path = tmp_path / "hub.yaml"
    bad = {k: v for k, v in {**_base(tmp_path), **change}.items() if v is not None}
    done = _validate(path, bad)
    assert done.returncode == 2
    assert f"{path}: {key}:" in done.stderr


def test_validate_reports_every_problem_at_once(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text("ack_secret: change-me\n")
    settings = {"environment": "production", "data_dir": str(tmp_path / "p"), "alerts_file": str(alerts)}
    done = _validate(tmp_path / "hub.yaml", settings)
    assert done.returncode == 2
    for key in ("bootstrap_admin_token", "dev_open_read", "mqtt_url", "mqtt_password"):
        assert f"hub.yaml: {key}:" in done.stderr
    assert f"{alerts}: ack_secret: is the shipped default" in done.stderr


@pytest.mark.parametrize("secret", ["change-me", "short-secret"])
async def test_default_or_short_ack_secret_is_refused_at_start(
    tmp_path: Path, dynsec_broker: MosquittoServer, secret: str
) -> None:
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(f"ack_secret: {secret}\n")
    with pytest.raises(ProductionRefused, match="ack_secret"):
        async with running_hub(production_settings(tmp_path, dynsec_broker, alerts_file=alerts)):
            pytest.fail("started with a forgeable ack secret")


async def test_a_development_data_dir_is_refused_in_production(tmp_path: Path, dynsec_broker: MosquittoServer) -> None:
    """Finding 5: the demo's data directory switched to production; the public token must not work there."""
    dev = HubSettings(data_dir=tmp_path / "hub", api_port=0)
    async with running_hub(dev) as hub, httpx.AsyncClient(base_url=hub.api_url) as api:
        me = await api.get("/api/v1/tokens", headers={"Authorization": f"Bearer {DEV_ADMIN_TOKEN}"})
        assert me.status_code == 200
    with pytest.raises(ProductionRefused, match=r"data_dir.*development hub"):
        async with running_hub(production_settings(tmp_path, dynsec_broker)):
            pytest.fail("started on a development data directory")
    done = _validate(tmp_path / "hub.yaml", {**_base(tmp_path), "data_dir": str(tmp_path / "hub")})
    assert done.returncode == 2 and "hub.yaml: data_dir:" in done.stderr
    (tmp_path / "hub" / ".development").unlink()  # the marker gone: the registry still tells
    with pytest.raises(ProductionRefused, match="development admin token"):
        async with running_hub(production_settings(tmp_path, dynsec_broker)):
            pytest.fail("started with the development token in the registry")


async def test_an_anonymous_broker_is_refused_at_start(tmp_path: Path, mosquitto_fresh: MosquittoServer) -> None:
    settings = production_settings(tmp_path, mosquitto_fresh, broker_admin=None)
    with pytest.raises(ProductionRefused, match=r"mqtt_url.*anonymous"):
        async with running_hub(settings):
            pytest.fail("started on a broker that lets anyone in")


async def test_rotating_the_bootstrap_secret_revokes_the_old_token(
    tmp_path: Path, dynsec_broker: MosquittoServer
) -> None:
    old, new, other = "cs_boot_" + "a" * 43, "cs_boot_" + "b" * 43, "cs_next_" + "c" * 43

    async def me(token_in_settings: str, *tokens: str) -> list[int]:
        settings = production_settings(tmp_path, dynsec_broker, bootstrap_admin_token=token_in_settings)
        async with prod_hub(settings) as site:
            return [
                (await site.api.get("/api/v1/tokens", headers={"Authorization": f"Bearer {t}"})).status_code
                for t in tokens
            ]

    assert await me(old, old) == [200]
    assert await me(new, old, new) == [401, 200]  # same id, new secret
    assert await me(other, new, other) == [401, 200]  # another id: the previous bootstrap token is revoked
