"""Node liveness follows presence (birth, will) and traffic; a node's drop episode is logged once each way."""

from __future__ import annotations

import logging

import pytest

from citysense.contract import AgentHealth, NodeStatus
from hub.ingest.nodehealth import NodeHealthBook

T = 1_800_000_000_000


def status(state: str, session: str = "s1", dropped: int | None = None, ts: int = T) -> NodeStatus:
    health = None if dropped is None else AgentHealth(queue_depth=5, queue_oldest_s=1, dropped=dropped)
    return NodeStatus(node="N1", state=state, session=session, ts_ms=ts, health=health)


def test_liveness_follows_birth_will_silence_and_the_broker() -> None:
    book = NodeHealthBook(silent_after_ms=60_000)
    assert book.liveness("N1", None, T, registry_online=False) == "unknown"  # never heard from
    assert book.liveness("N1", T - 1000, T, registry_online=False) == "offline"  # the registry remembers its will
    book.record(status("online"), T)
    assert book.liveness("N1", None, T + 1000) == "online"
    assert book.liveness("N1", None, T + 61_000) == "silent"  # nothing since the birth
    assert book.liveness("N1", T + 50_000, T + 61_000) == "online"  # telemetry counts as being heard from
    assert book.liveness("N1", None, T + 1000, broker_ok=False) == "unknown"
    book.record(status("offline", session="old"), T + 2000)  # a late will of an older session
    assert book.liveness("N1", None, T + 3000) == "online"
    book.record(status("offline"), T + 4000)  # its own will
    assert book.liveness("N1", T + 4000, T + 5000) == "offline"


def test_a_drop_episode_is_logged_when_it_starts_and_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hub.ingest.nodehealth")
    book = NodeHealthBook()
    for i, dropped in enumerate((0, 0, 10, 25, 40, 40, 40)):
        book.record(status("online", dropped=dropped), T + i * 60_000)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "dropping readings (10 so far" in lines[0] and "40 readings dropped" not in lines[0]
    assert "stopped dropping: 40 readings dropped" in lines[1]
    held = book.get("N1")
    assert held is not None and held.health is not None and held.health.dropped == 40
