"""The hub's settings file (``citysense-hub run --config hub.yaml``); every key has a default.

Leaving ``mqtt_url`` unset starts the embedded broker; leaving ``influx``
unset stores readings in the embedded SQLite store under ``data_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from citysense.brokerids import CLIENT_PREFIX
from citysense.contract import DEFAULT_PREFIX
from citysense.profiles.model import Strict
from citysense.yamlconf import keyed
from hub.broker.natsjwt import AccountKey
from hub.cluster.settings import ClusterSettings
from hub.errors import BrokerError
from hub.gcpolicy import DEFAULT_YOUNG_THRESHOLD
from hub.stations.settings import StationsSettings
from hub.store.retention import RetentionSettings


class InfluxSettings(Strict):
    """InfluxDB over its v1 HTTP API (1.x, or 2.x/3.x compatibility endpoints), or writes over the v2 API.

    ``write_api: v2`` writes to ``/api/v2/write`` with ``org``, the bucket
    ``database`` and the token ``password``; reads still use ``/query``.
    """

    url: str = "http://127.0.0.1:8086"
    database: str = "citysense"
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    write_api: Literal["v1", "v2"] = "v1"
    # gzip write bodies (a tenth of the bytes); false sends plain line protocol (same ingest speed here).
    gzip: bool = True
    org: str = ""
    # Retention policies + rollup continuous queries (InfluxDB 1.x); null leaves the database as it is.
    retention: RetentionSettings | None = RetentionSettings()
    # write_api v2 with retention set: the hub writes its own rollups to <database>_m1/_h1 (docs/storage-schema.md),
    # rolling up readings that arrive up to this many days late.
    rollup_late_days: Annotated[int, Field(ge=1, le=30)] = 2


class VictoriaSettings(Strict):
    """VictoriaMetrics, the province store (docs/scale-out.md): writes to ``insert_url``, reads from ``select_url``.

    Single node: both are ``http://vm:8428``. Cluster: ``insert_url`` is
    ``http://vminsert:8480/insert/<tenant>/influx`` and ``select_url``
    ``http://vmselect:8481/select/<tenant>/prometheus``. Run the servers with
    ``-dedup.minScrapeInterval=1ms`` so a re-sent batch is stored once.
    """

    insert_url: str = "http://127.0.0.1:8428"
    select_url: str | None = None
    database: str = Field(default="citysense", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    gzip: bool = True


DEV_ADMIN_TOKEN = "cs_devadmin_citysense-development-only"  # noqa: S105  (refused outside development)


# The signing key whose public key the shipped deploy/nats/citysense-nats.conf names: refused in production.
DEV_NATS_SIGNING_SEED = "SAAA3LRTMV6NR7U2L6PL7ADHD5OCER3XSGGUYC5UXBZV4VOOAUPWV5TAMM"
NATS_NAME = r"^[A-Za-z0-9_-]{1,32}$"


class BrokerAdminSettings(Strict):
    """The broker's account store the hub manages node accounts in (docs/security.md).

    ``kind: mosquitto`` (the default): Mosquitto's dynamic-security
    administrator ``username``/``password``. ``kind: nats``: the NATS auth
    service user (listed in the servers' ``auth_callout.auth_users``) with
    ``nats_urls``, and ``signing_seed``, the account seed whose public key is
    the servers' ``auth_callout.issuer`` (docs/scale-out.md).
    """

    kind: Literal["mosquitto", "nats"] = "mosquitto"
    username: str
    password: SecretStr
    # The client id the administrator connects with; set it when you bound the account to one (docs/security.md).
    client_id: str | None = None
    # Each dynamic-security request gives up after this; a claim or rotation after three times this.
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 10.0
    # kind nats: every member's client URL, the signing key, where MQTT users land, the account store.
    nats_urls: list[str] = Field(default_factory=list, max_length=16)
    signing_seed: SecretStr | None = None
    account: str = Field(default="CITYSENSE", pattern=NATS_NAME)
    bucket: str = Field(default="citysense-broker-accounts", pattern=NATS_NAME)
    replicas: Annotated[int, Field(ge=1, le=5)] = 3
    # A system-account user (auth_users): rotation and revocation then cut live sessions at once.
    system_username: str | None = None
    system_password: SecretStr | None = None
    # A session authorised by the callout ends this long after its connect; the client then logs in again.
    session_ttl_s: Annotated[float, Field(ge=30, le=86400)] = 900.0

    @model_validator(mode="after")
    def _nats_needs_keys(self) -> Self:
        if self.kind != "nats":
            return self
        if not self.nats_urls:
            raise keyed("nats_urls", "kind nats needs every NATS member's client URL")
        if (self.system_username is None) != (self.system_password is None):
            raise keyed("system_username", "set both system_username and system_password, or neither")
        seed = self.signing_seed.get_secret_value() if self.signing_seed else ""
        try:
            AccountKey(seed)
        except BrokerError as exc:
            raise keyed(
                "signing_seed", f"kind nats needs the auth-callout account seed (docs/scale-out.md): {exc}"
            ) from exc
        return self


class HubSettings(Strict):
    """Everything the hub needs to run.

    ``environment: development`` (the default, for the demo) opens the read
    endpoints without a token (``dev_open_read``) and accepts the well-known
    bootstrap administrator token; ``production`` refuses both, and every
    other development default (hub/production.py).
    """

    environment: Literal["development", "production"] = "development"
    dev_open_read: bool = True
    bootstrap_admin_token: SecretStr = SecretStr(DEV_ADMIN_TOKEN)
    broker_admin: BrokerAdminSettings | None = None

    data_dir: Path = Path("var/hub")
    mqtt_url: str | None = None
    # More members of a clustered broker (NATS): the command and probe sessions go to the next when one fails.
    mqtt_failover_urls: list[str] = Field(default_factory=list, max_length=8)
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_client_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")] = "citysense-hub"
    # The command session's account; unset: "<hub account>:cmd" when broker_admin manages accounts, else the hub's.
    mqtt_command_username: str | None = None
    # Several workers: the same group, a distinct mqtt_client_id each (docs/hub-ingest.md).
    mqtt_share_group: str | None = None
    # With a share group: how often each worker reads the others' latest values from the store (hub/latest_sync.py).
    latest_sync_s: Annotated[float, Field(ge=1)] = 30.0
    spool_max_readings: Annotated[int, Field(ge=1)] = 5_000_000
    # Health (docs/operations.md): the hub pings itself through the broker every broker_ping_s; no echo for
    # broker_silent_after_s makes the broker "silent". A node heard from neither in node_silent_after_s is "silent".
    broker_ping_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    broker_silent_after_s: Annotated[float, Field(gt=0, le=600)] = 15.0
    node_silent_after_s: Annotated[float, Field(ge=10, le=86400)] = 180.0
    store_ping_s: Annotated[float, Field(gt=0, le=600)] = 10.0  # how often the store is pinged for /health
    ingest_summary_s: Annotated[float, Field(gt=0, le=86400)] = 60.0  # one INFO line of what ingest did, this often
    dedupe_keep_s: Annotated[float, Field(ge=60)] = 6 * 3600  # how long (node, seq) of stored batches are kept
    dead_letter_keep_days: Annotated[float, Field(gt=0)] = 14  # rejected messages kept for inspection
    dead_letter_max_rows: Annotated[int, Field(ge=1)] = 1_000_000  # and at most this many (the newest)
    # Young-generation GC threshold of the hub process; 0 keeps CPython's 700 (hub/gcpolicy.py).
    gc_young_threshold: Annotated[int, Field(ge=0)] = DEFAULT_YOUNG_THRESHOLD
    topic_prefix: str = DEFAULT_PREFIX
    influx: InfluxSettings | None = None
    victoria: VictoriaSettings | None = None  # instead of influx: the province store
    # A province worker: consume partitions from a NATS JetStream cluster instead of subscribing (docs/scale-out.md).
    cluster: ClusterSettings | None = None
    # The embedded store (no ``influx``): raw rows, 1-minute and 1-hour rollups kept as on InfluxDB 1.x.
    sqlite_retention: RetentionSettings | None = RetentionSettings()
    registry_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    profiles_dir: Path | None = None
    node_kinds_dir: Path | None = None
    fleet_file: Path | None = None
    alerts_file: Path | None = Field(default=None, description="alerts.yaml; the alert engine runs when set")
    # The station gateway (SL 651 RTUs, HJ 212 monitors, 4G DTUs dialling in; docs/stations.md); off when unset.
    stations: StationsSettings | None = None

    @model_validator(mode="after")
    def _broker_admin_needs_hub_account(self) -> Self:
        # Production refusals (development secrets, embedded broker...) are in hub/production.py: all reported at once.
        if self.mqtt_client_id.casefold().startswith(CLIENT_PREFIX):
            raise keyed("mqtt_client_id", f"'{CLIENT_PREFIX}...' client ids belong to nodes (citysense/brokerids.py)")
        for i, other in enumerate(self.mqtt_failover_urls):
            parts = urlsplit(other)
            if self.mqtt_url is None or parts.scheme != urlsplit(self.mqtt_url).scheme or not parts.hostname:
                raise keyed(f"mqtt_failover_urls.{i}", "expected mqtt://host[:port] like mqtt_url (which must be set)")
        if self.cluster is not None and self.mqtt_url is None:
            raise keyed("cluster", "needs mqtt_url (a NATS member's MQTT listener, for commands and configuration)")
        if self.influx is not None and self.victoria is not None:
            raise keyed("victoria", "set either influx or victoria, not both")
        if self.broker_ping_s >= self.broker_silent_after_s:
            raise keyed("broker_ping_s", "must be shorter than broker_silent_after_s")
        if self.broker_admin is not None and self.broker_admin.kind == "nats" and self.cluster is None:
            raise keyed("broker_admin", "kind nats needs the cluster section (its partitions scope what nodes publish)")
        if self.broker_admin is not None and (self.mqtt_url is None or self.mqtt_password is None):
            raise ValueError(
                "broker_admin: needs mqtt_url and mqtt_password (the hub's own account is created with it)"
            )
        return self

    @property
    def hub_username(self) -> str | None:
        """The hub's ingest account (its client id is ``mqtt_client_id``)."""
        return self.mqtt_username or (self.mqtt_client_id if self.broker_admin else None)

    def mqtt_failover(self) -> tuple[tuple[str, int], ...]:
        """``(host, port)`` of every ``mqtt_failover_urls`` entry, in order."""
        return tuple((urlsplit(u).hostname or "", urlsplit(u).port or 1883) for u in self.mqtt_failover_urls)

    @property
    def session_client_id(self) -> str:
        """The base of this process's MQTT client ids: ``mqtt_client_id``, and a province worker's name after it.

        Every worker of a province reads the same settings file; sessions under one
        client id would take each other over (MQTT 3.1.1 §3.1.4: the server
        disconnects the existing client) in a loop.
        """
        return self._per_worker(self.mqtt_client_id)

    def _per_worker(self, name: str) -> str:
        """``name``, and on a province worker its name after it."""
        if self.cluster is None:
            return name
        # NATS refuses MQTT client ids with a '.' (CONNACK 0x02, identifier rejected); host names have them.
        return f"{name}-{self.cluster.worker_name()}".replace(".", "_")

    @property
    def command_account(self) -> tuple[str | None, str]:
        """``(username, client id)`` of the hub's command session (hub/broker/commands.py)."""
        user = self.mqtt_command_username or self._managed_username("cmd")
        return user or self.hub_username, f"{self.session_client_id}:cmd"

    @property
    def probe_account(self) -> tuple[str | None, str]:
        """``(username, client id)`` of the broker watch's session (hub/ingest/brokerwatch.py)."""
        return self._managed_username("probe") or self.hub_username, f"{self.session_client_id}:probe"

    def _managed_username(self, role: str) -> str | None:
        """The account ``broker_admin`` creates for a session: one per worker, as each is bound to one client id."""
        if self.broker_admin is None or not self.hub_username:
            return None
        return f"{self._per_worker(self.hub_username)}:{role}"

    def service_names(self) -> list[str | None]:
        """Every broker account name and client id this hub uses: no node may be named after one."""
        admin = self.broker_admin
        cmd_user, cmd_client = self.command_account
        probe_user, probe_client = self.probe_account
        admin_names = [admin.username, admin.client_id] if admin else []
        return [self.hub_username, self.mqtt_client_id, cmd_user, cmd_client, probe_user, probe_client, *admin_names]
