"""Configuration of the MQTT sensors driver: sources (brokers) and declarative mappings.

A mapping turns messages of one topic filter into readings::

    name: tasmota_sensor
    topic: "tele/+/SENSOR"              # MQTT filter (MQTT 3.1.1 §4.7)
    format: json                        # or text (plain payloads), sparkplug_b
    device: "{t[1]}"                    # device id template: t = topic levels, rest = levels from i on
    timestamp: {path: Time, format: iso8601, timezone: "+08:00"}
    metrics:
      - {metric: power, path: ENERGY.Power, unit: W}
    auto: null                          # or a path: every number under it becomes a metric

Paths are dot-separated keys; a number indexes a list (``rx_metadata.0.rssi``);
``$`` is the whole payload (a plain-text or bare JSON value).

``topic_regex`` narrows the filter (a message whose topic does not match goes
to the next mapping) and its named groups are template variables: zigbee2mqtt
friendly names may contain ``/``, so ``(?P<name>.+)`` takes every level.
``availability`` makes a mapping report device status (online/offline)
instead of values (Tasmota's ``LWT``, zigbee2mqtt's ``<name>/availability``).
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, model_validator

from citysense.profiles.model import MetricName, Strict
from citysense.yamlconf import keyed, load_model


class PayloadFormat(enum.StrEnum):
    """How a payload is encoded."""

    JSON = "json"
    TEXT = "text"  # the payload is UTF-8 text: "Online", "ON", "23.5"
    SPARKPLUG_B = "sparkplug_b"


ValueType = Literal["number", "bool", "string"]
Scalar = float | int | bool | str


class TimestampSpec(Strict):
    """Where a message's time is, and how it is written."""

    path: str
    format: Literal["iso8601", "epoch_s", "epoch_ms"] = "iso8601"
    timezone: Annotated[str, Field(pattern=r"^[+-][0-9]{2}:[0-9]{2}$")] = "+00:00"  # for times written without one


class MetricMap(Strict):
    """One value taken from the payload."""

    metric: MetricName
    path: str = Field(min_length=1, description="JSON path, or the Sparkplug metric name")
    unit: str = ""
    scale: float = 1.0
    offset: float = 0.0
    type: ValueType | None = Field(
        default=None,
        description="Expected value type; default: numbers and bools as sent, numeric strings become numbers",
    )
    values: dict[str, Scalar] = Field(default_factory=dict, description="Text values -> value ('ON': true)")


class Availability(Strict):
    """Which payload values say a device is online or offline."""

    path: str = "$"
    online: list[str] = Field(default_factory=lambda: ["online", "Online", "true"], min_length=1)
    offline: list[str] = Field(default_factory=lambda: ["offline", "Offline", "false"], min_length=1)


class Mapping(Strict):
    """How messages of one topic filter become readings."""

    name: str
    topic: str = Field(min_length=1)
    topic_regex: str | None = Field(default=None, description="Topics must also match; named groups -> template")
    format: PayloadFormat = PayloadFormat.JSON
    device: str = Field(default="{t[1]}", description="Device id template; t = topic levels, rest[i] = t[i:]")
    device_path: str | None = Field(default=None, description="Take the device id from the payload instead")
    timestamp: TimestampSpec | None = None
    metrics: list[MetricMap] = Field(default_factory=list)
    auto: str | None = Field(default=None, description="Every number (and bool) under this path becomes a metric")
    units: dict[str, str] = Field(default_factory=dict, description="Units of auto metrics, by metric name")
    availability: Availability | None = None

    @model_validator(mode="after")
    def _has_values(self) -> Self:
        values = self.metrics or self.auto is not None or self.availability is not None
        if self.format is not PayloadFormat.SPARKPLUG_B and not values:
            raise ValueError(f"a {self.format.value} mapping needs 'metrics', 'auto' or 'availability'")
        if self.topic_regex is not None:
            try:
                re.compile(self.topic_regex)
            except re.error as exc:
                raise keyed("topic_regex", f"not a regular expression: {exc}") from exc
        if "#" in self.topic[:-1] or re.search(r"[^/]\+|\+[^/]", self.topic):
            raise ValueError(f"'{self.topic}' is not a valid MQTT topic filter")
        return self


class MqttSource(Strict):
    """A local broker and the mappings applied to its messages."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: SecretStr | None = None
    client_id: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = None  # default citysense-agent-<id>
    persistent_session: bool = Field(
        default=True, description="Keep the session: the broker queues QoS 1 messages while the agent is away"
    )
    mappings: list[Mapping] = Field(default_factory=list)
    mapping_files: list[str] = Field(default_factory=list, description="Shipped mapping names or YAML paths")


def shipped_mapping_dir() -> Path:
    """The directory of the mappings that ship with the agent."""
    return Path(__file__).resolve().parent / "mappings"


def load_mapping(name_or_path: str, base: Path | None = None) -> Mapping:
    """Load a shipped mapping by name (``tasmota``) or a mapping YAML file."""
    shipped = shipped_mapping_dir() / f"{name_or_path}.yaml"
    path = shipped if shipped.exists() else (base or Path.cwd()) / name_or_path
    return load_model(Mapping, path)
