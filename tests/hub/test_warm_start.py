"""A restarted hub answers /latest from the store before any node reports again."""

from __future__ import annotations

import time
from pathlib import Path

from citysense.quality import Quality
from hub.store.base import StoredReading
from tests.agent.support import hub_on
from tests.harness import MosquittoServer


async def test_a_restarted_hub_answers_latest_values_from_the_store_at_once(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    now = time.time_ns() // 1_000_000
    stored = StoredReading("N1", "N1.c1", "test_counter", "count", 41.0, "", now, Quality.GOOD)
    async with hub_on(tmp_path, mosquitto.url) as hub:
        await hub.services.store.write([stored])  # in the store, never seen by this hub's ingest
        assert hub.services.latest.get("N1.c1") == {}
    async with hub_on(tmp_path, mosquitto.url) as hub:
        assert hub.services.latest.get("N1.c1")["count"].value == 41.0
