"""Partitions of the telemetry subjects, computed exactly as the NATS server maps them.

The broker's account carries one subject mapping (NATS "subject mapping and
partitioning", server 2.8+)::

    citysense.v1.*.telemetry -> ct.{{partition(P,1)}}.{{wildcard(1)}}

so an MQTT publish to ``citysense/v1/<node>/telemetry`` lands on subject
``ct.<p>.<node>`` of the ``CITYSENSE_TELEMETRY`` stream. The server picks ``p``
as the 32-bit FNV-1a hash of the node token modulo ``P``; :func:`partition_of`
computes the same, so a worker can tell which partition a node belongs to
(a test compares it with the real server). ``P`` is fixed for the life of a
stream: it is the unit of ownership, not the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

from citysense.contract import DEFAULT_PREFIX

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


@dataclass(frozen=True, slots=True)
class PartitionMap:
    """``count`` partitions of the telemetry subjects under ``prefix`` (an MQTT topic prefix)."""

    count: int
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not 1 <= self.count <= 1024:
            raise ValueError(f"partition count {self.count} outside 1..1024")

    @property
    def source_subject(self) -> str:
        """The NATS subject of every node's telemetry (MQTT ``/`` becomes ``.``)."""
        return self.prefix.replace("/", ".") + ".*.telemetry"

    @property
    def destination(self) -> str:
        """The mapping's destination: the partition number, then the node id."""
        return f"{SUBJECT_ROOT}.{{{{partition({self.count},1)}}}}.{{{{wildcard(1)}}}}"

    def mapping_conf(self) -> str:
        """The ``mappings`` block for the server (or account) configuration."""
        return f'mappings: {{ "{self.source_subject}": "{self.destination}" }}\n'

    def partition_of(self, node: str) -> int:
        """The partition the server puts ``node``'s telemetry in."""
        return fnv1a_32(node.encode()) % self.count

    def subject(self, partition: int) -> str:
        """The stream subject filter of one partition (a durable consumer's filter)."""
        if not 0 <= partition < self.count:
            raise ValueError(f"partition {partition} outside 0..{self.count - 1}")
        return f"{SUBJECT_ROOT}.{partition}.*"

    @staticmethod
    def node_of(subject: str) -> str:
        """The node id of a stream subject ``ct.<p>.<node>``."""
        return subject.split(".", 2)[2]
