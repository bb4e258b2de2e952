"""Broker account names and MQTT client ids of nodes: one place, shared by the hub and the agent.

A node has two MQTT sessions (the uplink and the control channel), and the
broker binds every account to exactly one client id (Mosquitto dynamic
security, a client's ``clientid``), so a node has two accounts with one
password: ``<node>`` for the uplink as client ``agent-<node>``, and
``<node>:ctl`` for the control channel as client ``agent-<node>:ctl``. The
colon cannot appear in a node id (``citysense.contract.ID_PATTERN``), so no
node's names can ever equal another node's, and a node's credentials work
under no other client id: nobody takes over another session.
"""

from __future__ import annotations

CONTROL_SUFFIX = ":ctl"
CLIENT_PREFIX = "agent-"


def uplink_client_id(node_id: str) -> str:
    """The only client id the node's uplink account may connect with."""
    return f"{CLIENT_PREFIX}{node_id}"


def control_username(username: str) -> str:
    """The account of the node's control channel."""
    return f"{username}{CONTROL_SUFFIX}"


def control_client_id(node_id: str) -> str:
    """The only client id the node's control account may connect with."""
    return f"{CLIENT_PREFIX}{node_id}{CONTROL_SUFFIX}"
