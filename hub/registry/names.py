"""Node ids and broker service accounts live in separate namespaces.

A node's id is its broker username (and ``<id>:ctl`` its control account,
citysense/brokerids.py). A node id that equalled a service account (the hub's
own ``citysense-hub``, its command account, the dynamic-security
administrator) would, once claimed, be handed that account's password. So a
node id must match the node-id pattern *and* stay out of the reserved names:
fixed prefixes that no node id may start with, and the service accounts this
hub is configured with. Placeholder creation, CSV import, fleet files and the
claim all check here; the broker side refuses, independently, to reset any
account that is not already this node's (hub/broker/dynsec.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from citysense.contract import ID_PATTERN
from hub.errors import RegistryError

NODE_ID_RE = re.compile(ID_PATTERN)
RESERVED_PREFIXES = ("citysense", "dynsec", "mosquitto", "admin", "agent-", "hub-", "$")
"""Case-insensitive: service accounts are named with these (docs/security.md), node ids never."""


class ReservedName(RegistryError):
    """A node id is malformed or names (or could name) a broker service account."""


def reserved_names(names: Iterable[str | None]) -> frozenset[str]:
    """The configured service account names and client ids, case-folded, for :func:`check_node_id`."""
    return frozenset(n.casefold() for n in names if n)


def check_node_id(node_id: str, reserved: frozenset[str] = frozenset()) -> None:
    """Raise :class:`ReservedName` unless ``node_id`` is a well-formed id outside the service namespace."""
    if not NODE_ID_RE.fullmatch(node_id):
        raise ReservedName(f"node id '{node_id[:80]}' must match {ID_PATTERN}")
    folded = node_id.casefold()
    if folded in reserved:
        raise ReservedName(f"node id '{node_id}' is the name of a broker service account")
    hit = next((p for p in RESERVED_PREFIXES if folded.startswith(p)), None)
    if hit is not None:
        raise ReservedName(f"node id '{node_id}' starts with '{hit}', reserved for broker service accounts")
