"""The agent's MQTT client to the hub's broker, built one way for every session that needs it."""

from __future__ import annotations

import aiomqtt

from citysense.agentconfig import HubLink
from citysense.mqttclient import Client


def hub_client(
    hub: HubLink,
    identifier: str,
    will: aiomqtt.Will | None = None,
    *,
    username: str | None = None,
    attempt: int = 0,
) -> aiomqtt.Client:
    """Return an unconnected client for ``hub`` (credentials, keepalive, TLS, timeouts from the config).

    ``identifier`` must be the client id the broker binds the account to (citysense/brokerids.py);
    ``username`` replaces ``hub.username`` (the control channel's account). ``attempt`` counts
    consecutive failed tries: each goes to the next of the hub's broker endpoints (``url``, then
    ``failover_urls``).
    """
    host, port = hub.endpoint(attempt)
    return Client(
        host,
        port,
        identifier=identifier,
        username=username or hub.username,
        password=hub.password.get_secret_value() if hub.password else None,
        keepalive=hub.keepalive_s,
        will=will,
        timeout=hub.connect_timeout_s,
        tls_context=hub.ssl_context(),
    )
