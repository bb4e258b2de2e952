"""Every station protocol the gateway knows, by the name used in settings and the registry."""

from __future__ import annotations

from collections.abc import Callable

from hub.stations.base import StationProtocol
from hub.stations.dtu.protocol import DtuProtocol
from hub.stations.hj212.protocol import Hj212Protocol
from hub.stations.sl651.protocol import Sl651Protocol

PROTOCOLS: dict[str, Callable[[], StationProtocol]] = {
    "sl651": Sl651Protocol,
    "hj212": Hj212Protocol,
    "dtu": DtuProtocol,
}
"""Name -> factory; each protocol package adds its own line here."""
