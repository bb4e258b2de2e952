"""The NATS back end's settings: what a hub refuses before it connects to anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hub import production
from hub.broker.natscallout import CalloutResponder
from hub.broker.natsjwt import AccountKey, new_account_seed
from hub.cli import main
from hub.config import DEV_NATS_SIGNING_SEED, HubSettings

URLS = ["nats://127.0.0.1:4222"]


def _settings(tmp_path: Path, **admin: Any) -> HubSettings:
    return HubSettings.model_validate(
        {
            "environment": "production",
            "data_dir": str(tmp_path / "hub"),
            "mqtt_url": "mqtt://127.0.0.1:1883",
            "mqtt_password": "hub-password",
            "cluster": {"nats_urls": URLS},
            "broker_admin": {
                "kind": "nats",
                "username": "citysense-auth",
                "password": "pw",
                "nats_urls": URLS,
                **admin,
            },
        }
    )


def test_production_refuses_the_shipped_development_signing_key(tmp_path: Path) -> None:
    keys = [
        k
        for err in production.problems(_settings(tmp_path, signing_seed=DEV_NATS_SIGNING_SEED))
        for k, _ in err.problems
    ]
    assert "broker_admin.signing_seed" in keys
    own = [
        k for err in production.problems(_settings(tmp_path, signing_seed=new_account_seed())) for k, _ in err.problems
    ]
    assert "broker_admin.signing_seed" not in own


@pytest.mark.parametrize(
    "admin",
    [
        {"signing_seed": None},  # no key: nobody could be signed in
        {"signing_seed": "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4"},  # a user seed, not an account's
        {"signing_seed": DEV_NATS_SIGNING_SEED, "nats_urls": []},
    ],
)
def test_nats_back_end_needs_an_account_key_and_urls(tmp_path: Path, admin: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _settings(tmp_path, **admin)


def test_nats_back_end_needs_the_cluster_section(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cluster"):
        HubSettings.model_validate(
            {
                "mqtt_url": "mqtt://127.0.0.1:1883",
                "mqtt_password": "hub-password",
                "broker_admin": {
                    "kind": "nats",
                    "username": "a",
                    "password": "p",
                    "nats_urls": URLS,
                    "signing_seed": DEV_NATS_SIGNING_SEED,
                },
            }
        )


def test_nats_key_prints_a_seed_and_its_issuer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nats-key"]) == 0
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    seed = next(v.strip() for k, v in lines.items() if k.startswith("signing_seed"))
    issuer = next(v.strip() for k, v in lines.items() if k.startswith("issuer"))
    assert AccountKey(seed).public_key == issuer and issuer.startswith("A")


async def test_callout_drops_what_is_not_a_server_signed_request() -> None:
    key = AccountKey(new_account_seed())
    responder = CalloutResponder(None, None, key, account="CITYSENSE", prefix="citysense/v1", session_ttl_s=60)  # type: ignore[arg-type]
    forged = key.encode({"sub": key.public_key, "nats": {"type": "authorization_request", "server_id": {"id": "NX"}}})
    tampered = forged[:-4] + ("AAAA" if not forged.endswith("AAAA") else "BBBB")
    for data in (b"not a jwt", b"x" * 70_000, forged.encode(), tampered.encode()):
        assert await responder.respond(data) is None  # the server refuses that login at its timeout
    assert responder.counts["dropped"] == 4
