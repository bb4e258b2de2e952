"""The agent's MQTT client to the hub's broker, built one way for every session that needs it."""

from __future__ import annotations

from types import TracebackType

import aiomqtt

from citysense.agentconfig import HubLink


class HubClient(aiomqtt.Client):
    """An ``aiomqtt.Client`` that leaves no unretrieved exception behind when its connection was lost.

    aiomqtt 2.5 stores a lost connection's error in a future that only message
    iteration reads; a session that publishes only (the uplink after a frozen
    broker) left it unread, and asyncio logged "Future exception was never
    retrieved" when it was collected. The error itself has already surfaced as
    the ``MqttError`` of the publish or the iteration that failed.
    """

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            for fut in (self._disconnected, self._connected):
                if fut.done() and not fut.cancelled():
                    fut.exception()  # marks it retrieved


def hub_client(hub: HubLink, identifier: str, will: aiomqtt.Will | None = None) -> aiomqtt.Client:
    """Return an unconnected client for ``hub`` (credentials, keepalive, TLS, timeouts from the config)."""
    return HubClient(
        hub.host,
        hub.port,
        identifier=identifier,
        username=hub.username,
        password=hub.password.get_secret_value() if hub.password else None,
        keepalive=hub.keepalive_s,
        will=will,
        timeout=hub.connect_timeout_s,
        tls_context=hub.ssl_context(),
    )
