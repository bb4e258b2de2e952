"""Build the AsyncAPI 3.0 document of the wire contract from :mod:`citysense.contract`.

``docs/asyncapi.yaml`` is this function's output (``python -m scripts.gen_asyncapi``);
``tests/test_asyncapi.py`` fails when the committed document and the code drift.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from citysense import __version__
from citysense.contract import DEFAULT_PREFIX, PAYLOAD_MODELS, Channel

_CHANNEL_DOCS: dict[Channel, tuple[str, str, str]] = {
    # channel: (operation of the hub, name, description)
    Channel.TELEMETRY: ("receive", "telemetry", "Batches of readings from a node, QoS 1, never retained."),
    Channel.STATUS: (
        "receive",
        "status",
        "Birth (online, on connect) and death (offline, the last will), QoS 1, retained.",
    ),
    Channel.CONFIG: ("send", "config", "Desired configuration of the node, QoS 1, retained."),
    Channel.COMMAND: ("send", "command", "A command to the node (write a point, probe, ping), QoS 1."),
    Channel.COMMAND_REPLY: ("receive", "commandReply", "The node's answer to a command, QoS 1."),
    Channel.ACK: (
        "send",
        "ingestAck",
        "How far the node's batches are durable at the hub (highest contiguous seq of an epoch), QoS 1, retained."
        " The agent keeps every batch until it is acknowledged here; the broker's PUBACK is flow control only.",
    ),
}


def build() -> dict[str, Any]:
    """Return the AsyncAPI document as plain data."""
    models = list(PAYLOAD_MODELS.values())
    _, top = models_json_schema([(m, "validation") for m in models], ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = top.get("$defs", {})
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for channel, model in PAYLOAD_MODELS.items():
        action, name, text = _CHANNEL_DOCS[channel]
        messages[model.__name__] = {
            "name": model.__name__,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        }
        channels[name] = {
            "address": f"{DEFAULT_PREFIX}/{{node}}/{channel.value}",
            "description": text,
            "parameters": {"node": {"description": "Node id; the broker lets a node use only its own."}},
            "messages": {model.__name__: {"$ref": f"#/components/messages/{model.__name__}"}},
        }
        operations[f"{action}{name[0].upper()}{name[1:]}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{name}"},
            "bindings": {"mqtt": {"qos": 1, "retain": channel in (Channel.STATUS, Channel.CONFIG, Channel.ACK)}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CitySense agent <-> hub wire contract",
            "version": __version__,
            "description": "Topics and payloads between edge agents and the hub, seen from the hub. "
            "Generated from citysense/contract.py; do not edit by hand.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
