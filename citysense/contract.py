"""The wire contract between edge agents and the hub: topics and payloads.

This is the only module that knows topic strings and payload shapes; the agent
and the hub both import it. ``docs/asyncapi.yaml`` is generated from it
(``python -m scripts.gen_asyncapi``) and a test fails when the two drift.

Topics (``{p}`` is the prefix, default ``citysense/v1``; ``{node}`` the node id)::

    {p}/{node}/telemetry   agent -> hub  TelemetryBatch  QoS 1
    {p}/{node}/status      agent -> hub  NodeStatus      QoS 1, retained
                                         (birth on connect, death as last will)
    {p}/{node}/config      hub -> agent  ConfigPush      QoS 1, retained
    {p}/{node}/cmd         hub -> agent  Command         QoS 1
    {p}/{node}/cmd/reply   agent -> hub  CommandReply    QoS 1
    {p}/{node}/ack         hub -> agent  IngestAck       QoS 1, retained
                                         (how far the node's batches are durable)

The node id in the topic is the authority (the broker's ACL lets a node publish
only below its own id); a payload whose ``node`` differs is rejected.

Every payload is UTF-8 JSON with ``"v": 1``. A batch carries a per-node
``seq`` that increases by one per batch and survives agent restarts, and the
``epoch`` (a random id drawn when the agent's state directory is created), so
the hub can drop redelivered duplicates on ``(node, epoch, seq)`` and accept a
replaced edge box (new epoch, seq from 0) at once. The hub answers on the
node's ``ack`` topic with the highest seq of that epoch up to which every batch
is durable (stored or spooled); the agent keeps each batch until then.

Every integer on the wire has a range (at most int64, and sensible bounds):
a payload outside it is refused, never an overflow deeper in the hub.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from citysense.errors import ContractError
from citysense.quality import Quality

SCHEMA_VERSION = 1
DEFAULT_PREFIX = "citysense/v1"
MAX_PAYLOAD_BYTES = 1_048_576
"""Largest payload the hub takes on any topic; the agent sizes its batches under it (docs/hub-ingest.md)."""
MAX_READINGS_PER_BATCH = 10_000
MAX_SEQ = 2**53 - 1
"""Largest ``seq`` (and version) on the wire: exact in every JSON reader, far below int64."""
MAX_COUNT = 2**53 - 1
EPOCH_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
LEGACY_EPOCH = "0"
"""The epoch of batches from agents that predate epochs (no ``epoch`` field)."""

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)
Ident = Annotated[str, Field(pattern=ID_PATTERN, description="Node or device id")]
MetricName = Annotated[str, Field(pattern=r"^[a-z](?:_?[a-z0-9])*$", max_length=64)]
EpochMs = Annotated[int, Field(ge=0, le=32503680000000, description="Unix time, milliseconds")]
Value = float | int | bool | str | None


class Channel(enum.StrEnum):
    """The last topic segment(s) after ``{prefix}/{node}/``."""

    TELEMETRY = "telemetry"
    STATUS = "status"
    CONFIG = "config"
    COMMAND = "cmd"
    COMMAND_REPLY = "cmd/reply"
    ACK = "ack"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reading(_Wire):
    """One value of one metric of one device at one instant, with its quality."""

    device: Ident
    metric: MetricName
    value: Value = None
    unit: str = ""
    ts_ms: EpochMs
    quality: Literal[
        "good",
        "comm_failure",
        "timeout",
        "device_exception",
        "decode_error",
        "out_of_range",
        "sentinel",
        "stale",
    ] = "good"

    @pydantic.model_validator(mode="after")
    def _good_has_value(self) -> Reading:
        if self.quality == "good" and self.value is None:
            raise ValueError("a reading of good quality must carry a value")
        if isinstance(self.value, float) and self.value != self.value:
            raise ValueError("NaN is not a value; report quality 'sentinel' instead")
        return self

    @property
    def quality_code(self) -> Quality:
        """The quality as an integer code."""
        return Quality.from_wire(self.quality)


class TelemetryBatch(_Wire):
    """Readings of one node, published as one MQTT message."""

    v: Literal[1] = 1
    node: Ident
    epoch: str = Field(
        default=LEGACY_EPOCH,
        pattern=EPOCH_PATTERN,
        description="Random id of the agent's state (incarnation); a new one restarts seq at 0",
    )
    seq: int = Field(ge=0, le=MAX_SEQ, description="Per-epoch batch number, +1 per batch, kept across restarts")
    floor: int = Field(
        default=0,
        ge=0,
        le=MAX_SEQ,
        description="Lowest seq of the epoch the agent still held unacknowledged when it formed this batch: "
        "it will never send a batch below it again (acknowledged, or given up by its buffer caps)",
    )
    sent_ms: EpochMs
    readings: list[Reading] = Field(min_length=1, max_length=MAX_READINGS_PER_BATCH)


class DeviceInfo(_Wire):
    """A device as announced in a node's birth message."""

    device: Ident
    profile: Ident
    points: list[MetricName] = Field(default_factory=list, description="Metrics the agent reports for it")


class DeviceHealth(_Wire):
    """Acquisition health of one device, as seen by the agent."""

    device: Ident
    state: Literal["ok", "failing", "quarantined", "unknown"] = "unknown"
    rtt_ms: float | None = Field(default=None, ge=0, le=3.6e6, description="Mean round-trip time of the last poll")
    reads_ok: int = Field(default=0, ge=0, le=MAX_COUNT)
    reads_failed: int = Field(default=0, ge=0, le=MAX_COUNT)
    last_good_ms: EpochMs | None = None


class AgentHealth(_Wire):
    """The agent's self-telemetry: its durable buffer and every device's acquisition."""

    queue_depth: int = Field(ge=0, le=MAX_COUNT, description="Readings waiting in the durable buffer")
    queue_oldest_s: float = Field(ge=0, le=3.2e9, description="Age of the oldest waiting reading")
    queue_bytes: int = Field(default=0, ge=0, le=MAX_COUNT)
    dropped: int = Field(
        ge=0, le=MAX_COUNT, description="Readings dropped by the buffer caps, since the buffer was created"
    )
    malformed: dict[str, int] = Field(default_factory=dict, description="Malformed sensor payloads by reason")
    devices: list[DeviceHealth] = Field(default_factory=list)
    epoch: str | None = Field(default=None, pattern=EPOCH_PATTERN, description="The agent's current epoch")
    last_acked_seq: int | None = Field(
        default=None, ge=-1, le=MAX_SEQ, description="Highest seq of this epoch the hub has acknowledged durable"
    )
    unacked_batches: int = Field(
        default=0, ge=0, le=MAX_COUNT, description="Batches sent or waiting, not yet acknowledged"
    )
    oldest_unacked_s: float = Field(default=0, ge=0, le=3.2e9, description="Age of the oldest unacknowledged batch")


class NodeStatus(_Wire):
    """Birth (``online``, on connect), periodic health (``online`` + ``health``) or death (the last will)."""

    v: Literal[1] = 1
    node: Ident
    state: Literal["online", "offline"]
    session: str = Field(min_length=1, max_length=64, description="Random id of this MQTT session")
    ts_ms: EpochMs
    agent_version: str = Field(default="", max_length=32)
    config_version: int = Field(default=0, ge=0, le=MAX_SEQ)
    devices: list[DeviceInfo] = Field(default_factory=list)
    health: AgentHealth | None = None


class ConfigPush(_Wire):
    """Desired configuration of a node, pushed by the hub (retained)."""

    v: Literal[1] = 1
    node: Ident
    version: int = Field(ge=1, le=MAX_SEQ)
    config: dict[str, Any]


class Command(_Wire):
    """A request to a node, e.g. to write a point on one of its devices."""

    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=64, description="Correlation id")
    node: Ident
    action: Literal["write", "probe", "ping", "time_sync"]  # time_sync: broadcast time to DL/T 645 meters
    device: Ident | None = None
    metric: MetricName | None = None
    value: Value = None
    expires_ms: EpochMs


class CommandReply(_Wire):
    """The node's answer to a :class:`Command` with the same ``id``."""

    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=64)
    node: Ident
    ok: bool
    error: str | None = None
    result: Any = None
    ts_ms: EpochMs


class IngestAck(_Wire):
    """How far a node's batches are durable at the hub (stored or spooled), per epoch.

    Published retained on the node's ``ack`` topic after each durable group;
    ``seq`` is the highest seq of ``epoch`` such that every batch of that epoch
    up to it is durable (``-1``: none yet). The agent may forget batches up to
    ``seq`` and re-sends the rest after a reconnect or a timeout.
    """

    v: Literal[1] = 1
    node: Ident
    epoch: str = Field(pattern=EPOCH_PATTERN)
    seq: int = Field(ge=-1, le=MAX_SEQ)
    ts_ms: EpochMs


W = TypeVar("W", bound=_Wire)

PAYLOAD_MODELS: dict[Channel, type[_Wire]] = {
    Channel.TELEMETRY: TelemetryBatch,
    Channel.STATUS: NodeStatus,
    Channel.CONFIG: ConfigPush,
    Channel.COMMAND: Command,
    Channel.COMMAND_REPLY: CommandReply,
    Channel.ACK: IngestAck,
}


def topic(node: str, channel: Channel, prefix: str = DEFAULT_PREFIX) -> str:
    """Return the topic of ``channel`` for ``node``."""
    if not _ID_RE.match(node):
        raise ContractError("bad_node_id", f"{node!r} is not a valid node id")
    return f"{prefix}/{node}/{channel.value}"


def subscription(channel: Channel, prefix: str = DEFAULT_PREFIX, share_group: str | None = None) -> str:
    """Return the filter matching ``channel`` of every node (optionally shared, MQTT 5 §4.8.2)."""
    flt = f"{prefix}/+/{channel.value}"
    return f"$share/{share_group}/{flt}" if share_group else flt


def parse_topic(name: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, Channel]:
    """Split a topic into ``(node, channel)``; raises :class:`ContractError`."""
    head = prefix + "/"
    if not name.startswith(head):
        raise ContractError("bad_topic", f"topic {name!r} is outside {prefix!r}")
    node, _, rest = name[len(head) :].partition("/")
    try:
        channel = Channel(rest)
    except ValueError:
        raise ContractError("bad_topic", f"unknown channel {rest!r} in topic {name!r}") from None
    if not _ID_RE.match(node):
        raise ContractError("bad_topic", f"invalid node id {node!r} in topic {name!r}")
    return node, channel


def encode(message: _Wire) -> bytes:
    """Serialise a payload model to compact UTF-8 JSON."""
    return message.model_dump_json(exclude_defaults=False, exclude_none=True).encode()


def decode(model: type[W], payload: bytes, node: str | None = None) -> W:
    """Parse and validate ``payload``; raises :class:`ContractError` with a reason code.

    ``node`` is the id taken from the topic; the payload must agree with it.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        msg = model.model_validate_json(payload)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)
        kind = "bad_json" if any(e["type"] == "json_invalid" for e in first) else "schema"
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in first[:5])
        raise ContractError(kind, detail) from exc
    if node is not None and getattr(msg, "node", node) != node:
        raise ContractError("node_mismatch", f"payload node {getattr(msg, 'node', '')!r} != topic node {node!r}")
    return msg
