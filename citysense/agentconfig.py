"""The edge agent's configuration file (one per node).

Shared by both sides because the hub renders it at provisioning and pushes new
versions down the ``config`` topic, and the agent validates and applies it.
"""

from __future__ import annotations

import enum
import ssl
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from citysense.codec import ByteOrder, WordOrder
from citysense.contract import DEFAULT_PREFIX, ID_PATTERN, MAX_PAYLOAD_BYTES
from citysense.profiles.model import ReportSpec, Strict
from citysense.tls import TlsFiles
from citysense.yamlconf import keyed

Id = Annotated[str, Field(pattern=ID_PATTERN)]
Seconds = Annotated[float, Field(gt=0, le=86400)]


class ConnectionType(enum.StrEnum):
    """How the agent reaches a bus of devices."""

    MODBUS_TCP = "modbus_tcp"  # Modbus TCP (MBAP header), device or gateway
    MODBUS_RTU_OVER_TCP = "modbus_rtu_over_tcp"  # RTU frames through a serial server / DTU
    MODBUS_RTU = "modbus_rtu"  # RTU on a local serial port (RS-485)
    DLT645_SERIAL = "dlt645_serial"  # DL/T 645 meters on a local serial port (RS-485)
    DLT645_TCP = "dlt645_tcp"  # DL/T 645 frames through a serial server / DTU (transparent TCP)

    @property
    def is_dlt645(self) -> bool:
        """A bus of DL/T 645 meters rather than Modbus devices."""
        return self in (ConnectionType.DLT645_SERIAL, ConnectionType.DLT645_TCP)

    @property
    def is_serial(self) -> bool:
        """A local serial port."""
        return self in (ConnectionType.MODBUS_RTU, ConnectionType.DLT645_SERIAL)


class HubLink(Strict):
    """How the agent reaches the hub's MQTT broker."""

    url: str = "mqtt://127.0.0.1:1883"
    # More members of a clustered broker (NATS, docs/scale-out.md): tried in turn after url fails.
    failover_urls: list[str] = Field(default_factory=list, max_length=8)
    username: str | None = None
    password: SecretStr | None = None
    # The broker binds each account to one client id (citysense/brokerids.py); unset means the defaults there.
    client_id: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    control_username: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    control_client_id: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    topic_prefix: str = DEFAULT_PREFIX
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    connect_timeout_s: Seconds = 10.0
    tls: TlsFiles | None = None

    @model_validator(mode="after")
    def _tls_needs_mqtts(self) -> Self:
        if self.tls is not None and urlsplit(self.url).scheme != "mqtts":
            raise keyed("tls", "TLS settings need an mqtts:// url")
        return self

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for ``mqtts://`` (system CAs unless ``tls.ca_file``), None for plain ``mqtt://``."""
        if urlsplit(self.url).scheme != "mqtts":
            return None
        return (self.tls or TlsFiles()).context()

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("expected mqtt://host[:port] or mqtts://host[:port]")
        return v

    @model_validator(mode="after")
    def _failover_like_url(self) -> Self:
        for i, other in enumerate(self.failover_urls):
            parts = urlsplit(other)
            if parts.scheme != urlsplit(self.url).scheme or not parts.hostname:
                raise keyed(f"failover_urls.{i}", f"expected {urlsplit(self.url).scheme}://host[:port] like url")
        return self

    def endpoint(self, attempt: int) -> tuple[str, int]:
        """``(host, port)`` to try on the ``attempt``-th consecutive try: url, then each failover url in turn."""
        urls = [self.url, *self.failover_urls]
        parts = urlsplit(urls[attempt % len(urls)])
        return parts.hostname or "", parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def host(self) -> str:
        """Broker host name."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """Broker port (1883, or 8883 for mqtts, unless given)."""
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)


class Connection(Strict):
    """One endpoint: a Modbus TCP host, a serial server, or a serial port."""

    id: Id
    type: ConnectionType
    host: str | None = None
    port: Annotated[int | None, Field(ge=1, le=65535)] = None
    serial_port: str | None = None
    baudrate: Annotated[int, Field(ge=300, le=921600)] = 9600
    parity: Annotated[str, Field(pattern="^[NEO]$")] = "N"
    stopbits: Annotated[int, Field(ge=1, le=2)] = 1
    timeout_s: Seconds = 1.0
    inter_frame_delay_s: Annotated[float, Field(ge=0, le=5)] = 0.0
    # Modbus TCP only: the agent's own lean client (edge_agent/drivers/modbus/tcpclient.py) or pymodbus' (fallback).
    modbus_client: Literal["lean", "pymodbus"] = "lean"

    @model_validator(mode="before")
    @classmethod
    def _meter_line(cls, data: Any) -> Any:
        # DL/T 645-2007 §4 (physical layer): 2400 bit/s, 8 data bits, even parity, 1 stop bit unless set.
        if isinstance(data, dict) and str(data.get("type", "")).startswith("dlt645"):
            return {"baudrate": 2400, "parity": "E", **data}
        return data

    @model_validator(mode="after")
    def _endpoint(self) -> Self:
        if self.type.is_serial:
            if not self.serial_port:
                raise ValueError(f"a {self.type.value} connection needs 'serial_port'")
        elif not self.host or self.port is None:
            raise ValueError(f"a {self.type.value} connection needs 'host' and 'port'")
        return self


class DeviceConfig(Strict):
    """A device on one of the node's connections."""

    id: Id
    profile: Id
    connection: Id
    unit_id: Annotated[int, Field(ge=0, le=247)]
    poll_interval_s: Seconds = 10.0
    # Site overrides of the profile (see docs/edge-agent.md): wiring, planner limits, report strategies.
    byte_order: ByteOrder | None = None
    word_order: WordOrder | None = None
    max_registers_per_request: Annotated[int | None, Field(ge=1, le=125)] = None
    max_gap_registers: Annotated[int | None, Field(ge=0, le=100)] = None
    report: dict[str, ReportSpec] = Field(default_factory=dict, description="metric -> report strategy")


class MeterConfig(Strict):
    """A DL/T 645 meter on one of the node's dlt645 connections."""

    id: Id
    profile: Id
    connection: Id
    address: Annotated[
        str,
        Field(
            pattern=r"^(?:[0-9]{1,12}|[Aa]{12})$",
            description="Nameplate address; AAAAAAAAAAAA: the one meter on a line",
        ),
    ]
    poll_interval_s: Seconds = 60.0
    report: dict[str, ReportSpec] = Field(default_factory=dict, description="metric -> report strategy")

    @property
    def wire_address(self) -> str:
        """The 12-digit address (short nameplate numbers are padded with zeros, 2007 §5.2.2)."""
        return self.address.zfill(12)


class UplinkConfig(Strict):
    """Batching, the durable buffer, backlog pacing and reconnection (see docs/edge-agent.md)."""

    batch_max_readings: Annotated[int, Field(ge=1, le=10000)] = 500
    # Encoded length of a batch; the hub takes at most contract.MAX_PAYLOAD_BYTES (1 MiB) per message.
    batch_max_bytes: Annotated[int, Field(ge=4096, le=MAX_PAYLOAD_BYTES)] = MAX_PAYLOAD_BYTES
    batch_max_wait_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    buffer_max_mb: Annotated[float, Field(gt=0, le=100_000)] = 256.0
    buffer_max_age_s: Annotated[float, Field(gt=0, le=90 * 86400)] = 30 * 86400.0
    durability: Literal["process", "power"] = "process"
    drain_batches_per_s: Annotated[float, Field(gt=0, le=10_000)] = 20.0
    # Batches sent and not yet acknowledged by the hub, at most (live and backlog together).
    ack_window_batches: Annotated[int, Field(ge=1, le=10_000)] = 64
    # Re-send what the hub has not acknowledged after this long without progress (doubling while none comes).
    ack_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    status_interval_s: Annotated[float, Field(gt=0, le=86400)] = 60.0
    backoff_min_s: Annotated[float, Field(gt=0, le=600)] = 0.5
    backoff_max_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    auth_backoff_s: Annotated[float, Field(gt=0, le=86400)] = 300.0


class AgentConfig(Strict):
    """Everything one edge agent needs to run."""

    node_id: Id
    config_version: Annotated[int, Field(ge=0)] = 0
    hub: HubLink = HubLink()
    profiles_dir: Path | None = None
    # A node may have only MQTT sensors (no bus): then connections and devices are empty.
    connections: list[Connection] = Field(default_factory=list)
    devices: list[DeviceConfig] = Field(default_factory=list)
    meters: list[MeterConfig] = Field(default_factory=list, description="DL/T 645 energy meters")
    uplink: UplinkConfig = UplinkConfig()
    # MQTT sensor sources; the driver's own model (edge_agent.drivers.mqtt.model) validates each entry.
    mqtt: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("devices")
    @classmethod
    def _known_profiles(cls, devices: list[DeviceConfig], info: ValidationInfo) -> list[DeviceConfig]:
        known: Any = (info.context or {}).get("profiles")
        if known is not None:
            for i, d in enumerate(devices):
                if d.profile not in known:
                    raise keyed(f"{i}.profile", f"device '{d.id}': unknown profile '{d.profile}'")
        return devices

    @field_validator("meters")
    @classmethod
    def _known_meter_profiles(cls, meters: list[MeterConfig], info: ValidationInfo) -> list[MeterConfig]:
        known: Any = (info.context or {}).get("meter_profiles")
        if known is not None:
            for i, m in enumerate(meters):
                if m.profile not in known:
                    raise keyed(f"{i}.profile", f"meter '{m.id}': unknown DL/T 645 profile '{m.profile}'")
        return meters

    @model_validator(mode="after")
    def _refs(self) -> Self:
        if not self.devices and not self.meters and not self.mqtt:
            raise ValueError("a node needs at least one device or meter (on a connection) or one mqtt source")
        conns = [c.id for c in self.connections]
        if len(set(conns)) != len(conns):
            raise ValueError("connection ids must be unique")
        devs = [d.id for d in self.devices] + [m.id for m in self.meters]
        if len(set(devs)) != len(devs):
            raise ValueError("device and meter ids must be unique")
        kinds = {c.id: c.type.is_dlt645 for c in self.connections}
        for i, d in enumerate(self.devices):
            if d.connection not in conns:
                raise keyed(f"devices.{i}.connection", f"device '{d.id}' names unknown connection '{d.connection}'")
            if kinds[d.connection]:
                raise keyed(f"devices.{i}.connection", f"'{d.connection}' is a DL/T 645 line: list '{d.id}' in meters")
        addresses: dict[tuple[str, str], str] = {}
        for i, m in enumerate(self.meters):
            if not kinds.get(m.connection, False):
                raise keyed(f"meters.{i}.connection", f"meter '{m.id}' needs a dlt645 connection, not '{m.connection}'")
            other = addresses.setdefault((m.connection, m.wire_address), m.id)
            if other != m.id:
                raise keyed(f"meters.{i}.address", f"address {m.address} on '{m.connection}' is already '{other}'")
        return self
