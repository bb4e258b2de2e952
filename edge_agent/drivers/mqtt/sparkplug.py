"""Sparkplug B (Eclipse Sparkplug 3.0) payloads: a hand-written protobuf wire decoder and the alias tables.

Topics are ``spBv1.0/<group>/<type>/<edge node>[/<device>]`` with ``type`` one
of NBIRTH, NDATA, NDEATH, DBIRTH, DDATA, DDEATH (and commands, ignored).
The payload is the protobuf message ``Payload``; the fields read here
(Sparkplug 3.0 §6.4 / ``sparkplug_b.proto``) are::

    Payload { uint64 timestamp = 1; repeated Metric metrics = 2; uint64 seq = 3; }
    Metric  { string name = 1; uint64 alias = 2; uint64 timestamp = 3; uint32 datatype = 4;
              bool is_null = 7; PropertySet properties = 9; uint32 int_value = 10; uint64 long_value = 11;
              float float_value = 12; double double_value = 13; bool boolean_value = 14; string string_value = 15; }
    PropertySet   { repeated string keys = 1; repeated PropertyValue values = 2; }
    PropertyValue { uint32 type = 1; bool is_null = 2; ... string string_value = 8; ... }

A BIRTH announces every metric with its name and, optionally, an alias; DATA
messages may then carry only the alias (§6.4.2). Aliases are kept per edge
node and replaced at each NBIRTH. A DATA with an alias never announced is
malformed (``unknown_alias``). NDEATH and DDEATH turn every metric last seen
for that node or device into a ``stale`` reading (the values are no longer
current); an NDEATH counts only when its ``bdSeq`` metric equals the one of
the node's last NBIRTH (Sparkplug 3.0 §6.4.2 "bdSeq" and §7.1.3: a late will
of an earlier session must not kill the current one) and is otherwise
counted as ``ndeath_old_bdseq``. ``bdSeq`` and ``Node Control/*`` (Rebirth,
Reboot... commands, §6.4.2) are protocol metrics, never telemetry.
``spBv1.0/STATE/<host id>`` (§7.3.7, a host application's own state) is ignored.

Float (DataType 9) values are rounded to float32 precision as the Modbus
path does (``229.8000030517578`` -> 229.8). A metric's unit comes from the
mapping, else from its BIRTH ``properties``: ``engUnit`` (the key Ignition and
Eclipse Tahu write) or ``unit``/``units``; it is remembered for the DATA
messages that follow.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from citysense.contract import Reading
from edge_agent.drivers.mqtt.jsonmap import Malformed, device_id, metric_name
from edge_agent.drivers.mqtt.model import Mapping, MetricMap
from edge_agent.drivers.mqtt.protobuf import fields

# Sparkplug DataType codes (§6.4.16): signed integers arrive two's-complement in int_value/long_value.
_SIGNED_BITS = {1: 8, 2: 16, 3: 32, 4: 64}
_FLOAT, _BOOLEAN, _STRING, _TEXT, _UUID = 9, 11, 12, 14, 15
_UNIT_KEYS = ("engUnit", "EngUnit", "unit", "units", "Unit", "Units")


@dataclass
class Metric:
    """One decoded Sparkplug metric."""

    name: str | None = None
    alias: int | None = None
    timestamp: int | None = None
    datatype: int = 0
    is_null: bool = False
    value: float | int | bool | str | None = None
    unit: str | None = None  # from the engUnit property, when sent


def _unit(buf: bytes) -> str | None:
    """The engineering unit in a ``PropertySet``, if any."""
    keys: list[str] = []
    values: list[str | None] = []
    for number, wire, raw in fields(buf):
        if number == 1 and wire == 2:
            keys.append(bytes(raw).decode("utf-8", "replace"))
        elif number == 2 and wire == 2:
            text = [bytes(v).decode("utf-8", "replace") for n, w, v in fields(raw) if n == 8 and w == 2]
            values.append(text[0] if text else None)
    found = [v for k, v in zip(keys, values, strict=False) if k in _UNIT_KEYS and v is not None]
    return found[0][:32] if found else None


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def decode_metric(buf: bytes) -> Metric:
    """Decode one ``Metric`` message."""
    m = Metric()
    for number, _wire, raw in fields(buf):
        if number == 1:
            m.name = bytes(raw).decode("utf-8", "replace")
        elif number == 2:
            m.alias = raw
        elif number == 3:
            m.timestamp = raw
        elif number == 4:
            m.datatype = raw
        elif number == 7:
            m.is_null = bool(raw)
        elif number == 9 and _wire == 2:
            m.unit = _unit(raw)
        elif number in (10, 11):
            m.value = raw
        elif number == 12:
            (m.value,) = struct.unpack("<f", raw)
        elif number == 13:
            (m.value,) = struct.unpack("<d", raw)
        elif number == 14:
            m.value = bool(raw)
        elif number == 15:
            m.value = bytes(raw).decode("utf-8", "replace")
    if isinstance(m.value, int) and not isinstance(m.value, bool):
        if m.datatype in _SIGNED_BITS:
            m.value = _signed(m.value, _SIGNED_BITS[m.datatype])
        elif m.datatype == _BOOLEAN:
            m.value = bool(m.value)
    if m.datatype == _FLOAT and isinstance(m.value, float) and m.value == m.value:
        m.value = float(f"{m.value:.7g}")  # a float32 holds ~7 significant digits (as the Modbus path)
    return m


def decode_payload(buf: bytes) -> tuple[int | None, list[Metric]]:
    """Decode a ``Payload``: its timestamp and metrics."""
    timestamp: int | None = None
    metrics: list[Metric] = []
    for number, wire, raw in fields(buf):
        if number == 1 and wire == 0:
            timestamp = raw
        elif number == 2 and wire == 2:
            metrics.append(decode_metric(raw))
    return timestamp, metrics


def _protocol(name: str) -> bool:
    return name == "bdSeq" or name.startswith("Node Control/")


def _bdseq(metrics: list[Metric]) -> int | None:
    return next((int(m.value) for m in metrics if m.name == "bdSeq" and isinstance(m.value, int)), None)


Key = tuple[str, str]  # (group, edge node)


@dataclass
class SparkplugState:
    """Alias tables, units, birth sequence numbers and last-known metrics of every edge node seen."""

    aliases: dict[Key, dict[int, str]] = field(default_factory=dict)  # alias -> metric name
    units: dict[Key, dict[tuple[str, str], str]] = field(default_factory=dict)  # (device, name) -> unit
    bdseq: dict[Key, int | None] = field(default_factory=dict)  # bdSeq of the last NBIRTH
    known: dict[Key, dict[str, set[str]]] = field(default_factory=dict)  # device -> metrics

    def handle(self, mapping: Mapping, topic: str, payload: bytes, now_ms: int) -> list[Reading]:
        """Map one Sparkplug message into readings; raises :class:`Malformed`."""
        levels = topic.split("/")
        if len(levels) == 3 and levels[:2] == ["spBv1.0", "STATE"]:
            return []  # a host application's STATE (JSON), not an edge node's
        if len(levels) not in (4, 5) or levels[0] != "spBv1.0":
            raise Malformed("bad_topic", f"{topic!r} is not a Sparkplug B topic")
        group, kind, node = levels[1], levels[2], levels[3]
        device = device_id(f"{node}.{levels[4]}" if len(levels) == 5 else node)
        key = (group, node)
        if kind not in ("NBIRTH", "NDATA", "DBIRTH", "DDATA", "NDEATH", "DDEATH"):
            return []  # commands (NCMD, DCMD) are not telemetry
        ts, metrics = decode_payload(payload)
        if kind == "NDEATH":
            seq = _bdseq(metrics)
            if key not in self.bdseq or seq != self.bdseq[key]:
                raise Malformed(
                    "ndeath_old_bdseq", f"NDEATH bdSeq {seq} is not the last NBIRTH's {self.bdseq.get(key)}"
                )
            return self._death(key, None, now_ms)
        if kind == "DDEATH":
            return self._death(key, device, now_ms)
        if kind == "NBIRTH":
            self.aliases[key], self.known[key], self.units[key] = {}, {}, {}
            self.bdseq[key] = _bdseq(metrics)
        table = self.aliases.setdefault(key, {})
        units = self.units.setdefault(key, {})
        wanted = {m.path: m for m in mapping.metrics}
        out: list[Reading] = []
        for m in metrics:
            if m.name is not None and kind.endswith("BIRTH"):
                if m.alias is not None:
                    table[m.alias] = m.name
                if m.unit is not None:
                    units[(device, m.name)] = m.unit
            name = m.name if m.name is not None else table.get(m.alias) if m.alias is not None else None
            if name is None:
                raise Malformed("unknown_alias", f"alias {m.alias} on {topic} was never announced in a BIRTH")
            spec = wanted.get(name)
            if _protocol(name) or (wanted and spec is None):
                continue
            metric = spec.metric if spec else metric_name(name.replace("/", "_"))
            unit = (spec.unit if spec else "") or units.get((device, name)) or mapping.units.get(metric, "")
            self.known.setdefault(key, {}).setdefault(device, set()).add(metric)
            out.append(_reading(device, metric, unit, m, m.timestamp or ts or now_ms, spec))
        return out

    def _death(self, key: Key, device: str | None, now_ms: int) -> list[Reading]:
        devices = self.known.get(key, {})
        chosen = {device: devices.get(device, set())} if device is not None else devices
        return [
            Reading(device=d, metric=metric, ts_ms=now_ms, quality="stale")
            for d, metrics in chosen.items()
            for metric in sorted(metrics)
        ]


def _reading(device: str, metric: str, unit: str, m: Metric, when: int, spec: MetricMap | None) -> Reading:
    if m.is_null or m.value is None:
        return Reading(device=device, metric=metric, unit=unit, ts_ms=when, quality="stale")
    if isinstance(m.value, float) and not math.isfinite(m.value):
        return Reading(device=device, metric=metric, unit=unit, ts_ms=when, quality="sentinel")
    value = m.value
    if spec and isinstance(value, int | float) and not isinstance(value, bool) and (spec.scale, spec.offset) != (1, 0):
        value = round(value * spec.scale + spec.offset, 9)
    return Reading(device=device, metric=metric, value=value, unit=unit, ts_ms=when)
