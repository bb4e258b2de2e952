"""Topics and payloads: what the agent sends is what the hub accepts, and garbage is named."""

from __future__ import annotations

import pytest

from citysense import contract as c


def _batch(**over: object) -> c.TelemetryBatch:
    fields: dict[str, object] = {
        "node": "GZ-P-0001",
        "seq": 3,
        "sent_ms": 1_700_000_000_000,
        "readings": [c.Reading(device="lamp", metric="power", value=41.5, unit="W", ts_ms=1_700_000_000_000)],
    }
    fields.update(over)
    return c.TelemetryBatch.model_validate(fields)


def test_batch_round_trips_through_the_wire() -> None:
    batch = _batch()
    assert c.decode(c.TelemetryBatch, c.encode(batch), "GZ-P-0001") == batch


@pytest.mark.parametrize(("value", "kind"), [(41.5, float), (7, int), (True, bool), ("v1.2", str)])
def test_value_types_survive_the_wire(value: object, kind: type) -> None:
    r = c.Reading(device="d", metric="m", value=value, ts_ms=1)  # type: ignore[arg-type]
    back = c.decode(c.TelemetryBatch, c.encode(_batch(readings=[r])))
    assert type(back.readings[0].value) is kind
    assert back.readings[0].value == value


def test_topics_name_node_and_channel() -> None:
    t = c.topic("GZ-WG-0002", c.Channel.COMMAND_REPLY)
    assert t == "citysense/v1/GZ-WG-0002/cmd/reply"
    assert c.parse_topic(t) == ("GZ-WG-0002", c.Channel.COMMAND_REPLY)
    assert c.subscription(c.Channel.TELEMETRY, share_group="hub") == "$share/hub/citysense/v1/+/telemetry"


@pytest.mark.parametrize("bad", ["other/v1/n/telemetry", "citysense/v1/n/unknown", "citysense/v1/+bad/telemetry"])
def test_bad_topics_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(c.ContractError) as err:
        c.parse_topic(bad)
    assert err.value.reason == "bad_topic"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "bad_json"),
        (b'{"v": 2, "node": "GZ-P-0001", "seq": 1, "sent_ms": 1, "readings": []}', "schema"),
        (
            b'{"v": 1, "node": "GZ-P-0001", "seq": 1, "sent_ms": 1, "readings": [{"device": "d", "metric": "m",'
            b' "ts_ms": 1}]}',
            "schema",
        ),  # good quality without a value
        (
            b'{"v": 1, "node": "GZ-P-0001", "seq": 1, "sent_ms": 1, "readings": [{"device": "d", "metric": "m",'
            b' "ts_ms": 1, "value": 1, "extra": 0}]}',
            "schema",
        ),
        (b"x" * (c.MAX_PAYLOAD_BYTES + 1), "too_large"),
    ],
)
def test_malformed_payloads_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(c.ContractError) as err:
        c.decode(c.TelemetryBatch, payload, "GZ-P-0001")
    assert err.value.reason == reason


def test_payload_node_must_match_topic_node() -> None:
    with pytest.raises(c.ContractError) as err:
        c.decode(c.TelemetryBatch, c.encode(_batch()), "GZ-P-0002")
    assert err.value.reason == "node_mismatch"


def test_bad_quality_reading_may_omit_value() -> None:
    r = c.Reading(device="d", metric="m", ts_ms=1, quality="comm_failure")
    assert r.value is None
    assert r.quality_code.name == "COMM_FAILURE"
