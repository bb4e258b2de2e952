"""Partitions of the telemetry subjects, computed exactly as the NATS server maps them.

The broker's account carries one subject mapping (NATS "subject mapping and
partitioning", server 2.8+)::

    citysense.v1.*.telemetry -> ct.{{partition(P,1)}}.{{wildcard(1)}}.telemetry
    citysense.v1.*.status    -> ct.{{partition(P,1)}}.{{wildcard(1)}}.status

so an MQTT publish to ``citysense/v1/<node>/telemetry`` lands on subject
``ct.<p>.<node>.telemetry`` of the ``CITYSENSE_TELEMETRY`` stream, and the
node's status (birth, health, will) on ``ct.<p>.<node>.status`` beside it, in
the order the node published them. The server picks ``p``
as the 32-bit FNV-1a hash of the node token modulo ``P``; :func:`partition_of`
computes the same, so a worker can tell which partition a node belongs to
(a test compares it with the real server). ``P`` is fixed for the life of a
stream: it is the unit of ownership, not the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

from citysense.contract import DEFAULT_PREFIX, Channel

STREAM = "CITYSENSE_TELEMETRY"
SUBJECT_ROOT = "ct"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv1a_32(data: bytes) -> int:
    """32-bit FNV-1a, the hash of the server's ``partition()`` transform."""
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


CHANNELS = (Channel.TELEMETRY, Channel.STATUS)
"""What agents publish that the hub consumes, in the order a node published it (one stream)."""


@dataclass(frozen=True, slots=True)
class PartitionMap:
    """``count`` partitions of the agents' telemetry and status subjects under ``prefix`` (an MQTT topic prefix)."""

    count: int
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not 1 <= self.count <= 1024:
            raise ValueError(f"partition count {self.count} outside 1..1024")

    def mappings(self) -> dict[str, str]:
        """Source subject -> destination, per channel (MQTT ``/`` becomes ``.`` in NATS subjects)."""
        root = self.prefix.replace("/", ".")
        part = f"{{{{partition({self.count},1)}}}}"
        return {f"{root}.*.{c.value}": f"{SUBJECT_ROOT}.{part}.{{{{wildcard(1)}}}}.{c.value}" for c in CHANNELS}

    def mapping_conf(self) -> str:
        """The ``mappings`` block for the server (or account) configuration."""
        body = "\n".join(f'  "{src}": "{dest}"' for src, dest in self.mappings().items())
        return f"mappings: {{\n{body}\n}}\n"

    def partition_of(self, node: str) -> int:
        """The partition the server puts ``node``'s messages in."""
        return fnv1a_32(node.encode()) % self.count

    def subject(self, partition: int) -> str:
        """The stream subject filter of one partition (a durable consumer's filter)."""
        if not 0 <= partition < self.count:
            raise ValueError(f"partition {partition} outside 0..{self.count - 1}")
        return f"{SUBJECT_ROOT}.{partition}.>"

    def topic_of(self, subject: str) -> str:
        """The MQTT topic an agent published a stream subject ``ct.<p>.<node>.<channel>`` to."""
        _, _, node, channel = subject.split(".", 3)
        return f"{self.prefix}/{node}/{channel}"

    @staticmethod
    def node_of(subject: str) -> str:
        """The node id of a stream subject ``ct.<p>.<node>.<channel>``."""
        return subject.split(".", 3)[2]
