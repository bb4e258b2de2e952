"""A flood of refused messages is all kept and counted, but logged sparingly; old dead letters are pruned."""

from __future__ import annotations

import logging
import time

import pytest

from hub.ingest.deadletters import LogThrottle
from hub.registry.models import DeadLetter
from tests.hub.conftest import HubParts

T = "citysense/v1/N1/telemetry"


async def test_a_flood_of_bad_json_is_all_kept_but_logged_once(
    hub_parts: HubParts, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hub.ingest.deadletters"):
        for i in range(500):
            await hub_parts.pipeline.handle(T, b"{oops %d" % i)
    assert hub_parts.stats.dead_letters["bad_json"] == 500
    assert len(hub_parts.registry.list_dead_letters(limit=1000)) == 500
    lines = [r.getMessage() for r in caplog.records if "dead letter" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("N1: dead letter (bad_json)")


def test_the_throttle_reports_how_many_it_held_back() -> None:
    now = [0.0]
    throttle = LogThrottle(period_s=60, clock=lambda: now[0])
    assert throttle.log("N1", "bad_json", "x")
    assert not any(throttle.log("N1", "bad_json", "x") for _ in range(41))
    assert throttle.log("N2", "bad_json", "x")  # another node is not held back by N1's flood
    assert throttle.log("N1", "out_of_range", "x")  # nor another reason
    now[0] = 61.0
    assert throttle.log("N1", "bad_json", "x")
    assert throttle._held[("N1", "bad_json")] == 0


def test_pruning_drops_old_rows_and_keeps_the_newest(hub_parts: HubParts) -> None:
    reg = hub_parts.registry
    now = time.time_ns() // 1_000_000
    old = [DeadLetter(received_ms=now - 20 * 86_400_000, topic=T, node="N1", reason="bad_json", detail="", payload="")]
    new = [
        DeadLetter(received_ms=now + i, topic=T, node="N1", reason="bad_json", detail=str(i), payload="")
        for i in range(10)
    ]
    reg.add_dead_letters(old + new)
    assert reg.prune_dead_letters(now - 14 * 86_400_000, max_rows=4) == 7
    assert [d.detail for d in reg.list_dead_letters()] == ["6", "7", "8", "9"]
    assert reg.prune_dead_letters(now - 14 * 86_400_000, max_rows=4) == 0
