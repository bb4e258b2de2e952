"""The agent's MQTT client to the hub's broker, built one way for every session that needs it."""

from __future__ import annotations

import aiomqtt

from citysense.agentconfig import HubLink
from citysense.mqttclient import Client


def hub_client(hub: HubLink, identifier: str, will: aiomqtt.Will | None = None) -> aiomqtt.Client:
    """Return an unconnected client for ``hub`` (credentials, keepalive, TLS, timeouts from the config)."""
    return Client(
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
