"""The AsyncAPI document in docs/ is the contract the code speaks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from citysense import contract as c
from citysense.asyncapi import build

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return yaml.safe_load(DOC.read_text(encoding="utf-8"))


def test_document_matches_code(doc: dict[str, Any]) -> None:
    assert doc == build(), "docs/asyncapi.yaml is stale: run `python -m scripts.gen_asyncapi`"


def _validator(doc: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_messages_the_code_sends_satisfy_the_document(doc: dict[str, Any]) -> None:
    import json

    batch = c.TelemetryBatch(
        node="GZ-WG-0001",
        seq=7,
        sent_ms=1_700_000_000_000,
        readings=[
            c.Reading(device="level", metric="water_level", value=3.25, unit="m", ts_ms=1_700_000_000_000),
            c.Reading(device="rain", metric="rainfall_total", ts_ms=1_700_000_000_000, quality="timeout"),
        ],
    )
    _validator(doc, "TelemetryBatch").validate(json.loads(c.encode(batch)))
    status = c.NodeStatus(node="GZ-WG-0001", state="online", session="ab12", ts_ms=1)
    _validator(doc, "NodeStatus").validate(json.loads(c.encode(status)))


def test_document_rejects_what_the_code_rejects(doc: dict[str, Any]) -> None:
    bad = {"v": 1, "node": "n1", "seq": -1, "sent_ms": 0, "readings": []}
    assert list(_validator(doc, "TelemetryBatch").iter_errors(bad))
    with pytest.raises(c.ContractError):
        c.decode(c.TelemetryBatch, __import__("json").dumps(bad).encode())


def test_every_channel_has_a_topic_in_the_document(doc: dict[str, Any]) -> None:
    addresses = {ch["address"] for ch in doc["channels"].values()}
    for channel in c.Channel:
        assert c.topic("NODE", channel).replace("NODE", "{node}") in addresses
