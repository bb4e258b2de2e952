"""Production means production: the settings a hub refuses to start with outside development.

Each problem names the file and the key to change. ``citysense-hub validate``
reports the same list, all at once; ``citysense-hub run`` and
:func:`hub.runtime.running_hub` refuse to start on any of them. The checks:

* the bootstrap administrator token is the public development token, is not
  ``cs_<id>_<secret>``, or its secret part is shorter than 32 bytes;
* read endpoints open without a token (``dev_open_read``);
* no ``mqtt_url`` (the embedded, anonymous broker) or no ``mqtt_password``
  (an anonymous login to the broker);
* the data directory was used by a development hub, or the registry still
  holds the development token (the data of the demo is not production data);
* the NATS back end signs with the development key of the shipped
  deploy/nats/citysense-nats.conf (anyone could sign themselves in);
* the alerts file keeps the default or a short ``ack_secret`` (anyone could
  forge acknowledge links).

At start the hub also checks that the broker refuses an anonymous login
(:func:`broker_is_anonymous`).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiomqtt
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from citysense.errors import ConfigError
from citysense.yamlconf import load_model
from hub.config import DEV_ADMIN_TOKEN, DEV_NATS_SIGNING_SEED, HubSettings

MIN_SECRET_BYTES = 32
TOKEN_RE = re.compile(r"cs_([A-Za-z0-9]{1,32})_([A-Za-z0-9_-]+)\Z")
DEV_MARKER = ".development"
"""Written into ``data_dir`` by a development hub; a production hub refuses such a directory."""
DEV_TOKEN_ID = DEV_ADMIN_TOKEN.split("_")[1]
NEW_TOKEN = "python3 -c 'import secrets; print(\"cs_boot_\" + secrets.token_urlsafe(32))'"  # noqa: S105  (a command line)


def _token_problems(token: str) -> list[tuple[str, str]]:
    key = "bootstrap_admin_token"
    if token == DEV_ADMIN_TOKEN:
        return [(key, f"is the public development token; make one of your own: {NEW_TOKEN}")]
    m = TOKEN_RE.fullmatch(token)
    if m is None:
        return [(key, f"must look like cs_<id>_<secret> (id: 1-32 letters/digits); make one: {NEW_TOKEN}")]
    if len(m.group(2).encode()) < MIN_SECRET_BYTES:
        return [(key, f"its secret part is {len(m.group(2))} bytes, at least {MIN_SECRET_BYTES} needed: {NEW_TOKEN}")]
    return []


def _registry_url(settings: HubSettings) -> str:
    return settings.registry_url or f"sqlite:///{settings.data_dir / 'registry.db'}"


def holds_dev_token(settings: HubSettings, *, offline: bool = False) -> bool:
    """True when the registry has a live development token (read only; a missing registry holds none).

    ``offline`` (``validate``, which connects to nothing) looks only into a SQLite registry file.
    """
    url = _registry_url(settings)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return False
    if offline and not url.startswith("sqlite"):
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT 1 FROM api_tokens WHERE id = :id AND revoked_ms IS NULL"), {"id": DEV_TOKEN_ID}
            ).first()
    except SQLAlchemyError:
        return False  # no registry tables yet
    finally:
        engine.dispose()
    return row is not None


def _alerts_problems(settings: HubSettings) -> list[ConfigError]:
    if settings.alerts_file is None:
        return []
    from hub.alerts.config import AlertConfig

    try:
        cfg = load_model(AlertConfig, settings.alerts_file)
    except ConfigError as exc:
        return [exc]
    secret = cfg.ack_secret.get_secret_value()
    if secret == "change-me" or len(secret.encode()) < MIN_SECRET_BYTES:  # noqa: S105  (the shipped default)
        why = "is the shipped default" if secret == "change-me" else f"is {len(secret.encode())} bytes"  # noqa: S105
        msg = f"{why}; anyone could forge acknowledge links. Use at least {MIN_SECRET_BYTES} random bytes"
        return [ConfigError(settings.alerts_file, [("ack_secret", msg)])]
    return []


def problems(settings: HubSettings, source: Path | str = "hub settings", *, offline: bool = False) -> list[ConfigError]:
    """Every reason this hub may not run in production (empty in development), one error per file."""
    if settings.environment == "development":
        return []
    found = _token_problems(settings.bootstrap_admin_token.get_secret_value())
    if settings.dev_open_read:
        found.append(("dev_open_read", "must be false outside development (reads would need no token)"))
    if settings.mqtt_url is None:
        found.append(("mqtt_url", "unset starts the embedded broker (anonymous, no ACLs); give Mosquitto's URL"))
    if settings.mqtt_password is None:
        found.append(("mqtt_password", "the hub must log in to the broker; an anonymous broker lets anyone publish"))
    if (settings.data_dir / DEV_MARKER).exists():
        found.append(("data_dir", f"{settings.data_dir} was used by a development hub; use a fresh directory"))
    elif holds_dev_token(settings, offline=offline):
        where = "registry_url" if settings.registry_url else "data_dir"
        found.append((where, "the registry holds the development admin token (demo data); use a fresh registry"))
    ba = settings.broker_admin
    if ba is not None and ba.signing_seed is not None and ba.signing_seed.get_secret_value() == DEV_NATS_SIGNING_SEED:
        why = "is the development key of the shipped NATS config; make your own (docs/scale-out.md, Keys)"
        found.append(("broker_admin.signing_seed", why))
    errors = [ConfigError(source, found)] if found else []
    return errors + _alerts_problems(settings)


async def broker_is_anonymous(host: str, port: int, timeout_s: float = 5.0) -> bool:
    """True when the broker accepts a login without credentials (production refuses to use it)."""
    try:
        async with asyncio.timeout(timeout_s), aiomqtt.Client(host, port, timeout=timeout_s):
            return True
    except (aiomqtt.MqttError, TimeoutError):
        return False
