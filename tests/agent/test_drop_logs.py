"""A full buffer logs its drops once when they start and once, with the count, when they stop."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from citysense.contract import Reading
from edge_agent.buffer import DurableBuffer


def readings(n: int, start: int = 0) -> list[Reading]:
    return [Reading(device="d1", metric="m", value=float(i), ts_ms=1_700_000_000_000 + i) for i in range(start, n)]


def test_drops_are_logged_once_per_episode_with_their_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1", max_bytes=20_000)
    caplog.set_level(logging.WARNING, logger="edge_agent.buffer")
    for i in range(60):  # an outage: readings keep coming, nothing is sent; the cap is reached early on
        buf.put(readings(20 * (i + 1), 20 * i))
    started = [r for r in caplog.records if "dropping the oldest" in r.message]
    assert len(started) == 1 and buf.dropped > 0
    while (batch := buf.form(1000)) is not None:  # the link is back: everything is sent and acknowledged
        buf.ack(batch.seq)
    buf.put(readings(1))
    ended = [r for r in caplog.records if "no longer dropping" in r.message]
    assert len(ended) == 1 and f"{buf.dropped} readings were dropped" in ended[0].message
    assert len(caplog.records) == 2
    buf.close()
