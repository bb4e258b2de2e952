"""What nodes and the hub may touch on the broker: one list of topics, two back ends' forms.

:func:`node_topics` and :func:`hub_topics` are the whole grant. Mosquitto's
dynamic-security plugin gets them as role ACLs (its default ACL denies
everything a role does not allow: ``publishClientSend`` and ``subscribe``
default to deny, Mosquitto 2.0 dynamic-security "Default ACL access"); the
NATS back end gets them as a user JWT's publish/subscribe allow lists, in
NATS subject form (:func:`nats_subject`).
"""

from __future__ import annotations

from typing import Any

from hub.cluster.partitions import CHANNELS, SUBJECT_ROOT, PartitionMap

HUB_ROLE = "hub"


def node_role(node_id: str) -> str:
    """The role both of a node's accounts (uplink and control) carry."""
    return f"node:{node_id}"


def node_topics(prefix: str, node_id: str) -> tuple[list[str], list[str]]:
    """``(publish, subscribe)`` topics of a node: its own, nothing else."""
    base = f"{prefix}/{node_id}"
    publish = [f"{base}/telemetry", f"{base}/status", f"{base}/cmd/reply"]
    return publish, [f"{base}/config", f"{base}/cmd", f"{base}/ack"]


def hub_topics(prefix: str) -> tuple[list[str], list[str]]:
    """``(publish, subscribe)`` topic filters of the hub: send config, commands and acks; read everything."""
    return [f"{prefix}/+/config", f"{prefix}/+/cmd", f"{prefix}/+/ack"], [f"{prefix}/#"]


def node_acls(prefix: str, node_id: str) -> list[dict[str, Any]]:
    """The dynamic-security ACL entries of a node's role."""
    pub, sub = node_topics(prefix, node_id)
    acls = [{"acltype": "publishClientSend", "topic": t, "allow": True} for t in pub]
    acls += [{"acltype": "subscribeLiteral", "topic": t, "allow": True} for t in sub]
    acls += [{"acltype": "publishClientReceive", "topic": t, "allow": True} for t in sub]
    return acls


def hub_acls(prefix: str) -> list[dict[str, Any]]:
    """The dynamic-security ACL entries of the hub's role."""
    pub, sub = hub_topics(prefix)
    acls = [{"acltype": "subscribePattern", "topic": t, "allow": True} for t in sub]
    acls += [{"acltype": "publishClientReceive", "topic": t, "allow": True} for t in sub]
    acls += [{"acltype": "publishClientSend", "topic": t, "allow": True} for t in pub]
    return acls


def nats_subject(topic: str) -> str:
    """The NATS subject of an MQTT topic or filter (nats-server mqtt.go, ``mqttToNATSSubjectConversion``).

    ``.`` becomes ``//`` (node ids may hold dots), ``/`` becomes ``.``, ``+``
    becomes ``*`` and ``#`` becomes ``>``. The topics here never start with,
    end with or double a ``/``, the cases the server converts otherwise.
    """
    levels = (level.replace(".", "//") for level in topic.split("/"))
    return ".".join({"+": "*", "#": ">"}.get(level, level) for level in levels)


def nats_permissions(prefix: str, role: str, partitions: PartitionMap | None = None) -> tuple[list[str], list[str]]:
    """``(publish, subscribe)`` NATS subjects of an account with ``role`` (``hub`` or ``node:<id>``).

    The server checks a publish against the subject after the account's
    mappings, so with the partition mapping (hub/cluster/partitions.py) a
    node may publish its telemetry and status only to ``ct.<p>.<node>.<channel>``
    with its own partition ``p``: it cannot place its readings in another
    worker's partition.
    """
    if role == HUB_ROLE:
        pub, sub = hub_topics(prefix)
    elif role.startswith("node:"):
        pub, sub = node_topics(prefix, role.removeprefix("node:"))
    else:
        raise ValueError(f"unknown broker role {role!r}")
    pubs = [nats_subject(t) for t in pub]
    if partitions is not None and role != HUB_ROLE:
        token = nats_subject(role.removeprefix("node:"))  # the subject token the server hashes
        part = partitions.partition_of(token)
        pubs += [f"{SUBJECT_ROOT}.{part}.{token}.{c.value}" for c in CHANNELS]
    # An MQTT "a/#" also matches "a" itself (MQTT 3.1.1 §4.7.1.2): the server subscribes to both subjects.
    subs = [nats_subject(t) for t in sub] + [nats_subject(t.removesuffix("/#")) for t in sub if t.endswith("/#")]
    return pubs, subs
