"""An embedded MQTT broker (amqtt) so the demo needs no Mosquitto.

For production use Mosquitto (or a clustered broker): amqtt speaks MQTT 3.1.1
only, keeps sessions in memory and has no dynamic-security plugin.
"""

from __future__ import annotations

import logging
import socket
from types import TracebackType
from typing import Any, Self

from hub.errors import BrokerError

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """An amqtt broker on a loopback port; use ``async with``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self._broker: Any = None

    async def __aenter__(self) -> Self:
        from amqtt.broker import Broker

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}", "max_connections": 10000}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._broker = Broker(config)
        try:
            await self._broker.start()
        except Exception as exc:
            raise BrokerError(f"embedded broker cannot listen on {self.host}:{self.port}: {exc}") from exc
        log.info("embedded MQTT broker on %s:%s", self.host, self.port)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
