"""A hub ingesting at full speed stops on SIGTERM (and on SIGINT even when started with it ignored), losing nothing."""

from __future__ import annotations

import signal
from pathlib import Path

from bench.stop_under_load import STOP_LIMIT_S, hub_stops
from tests.harness import InfluxServer, MosquittoServer


async def test_hub_exits_0_on_sigterm_mid_ingest_and_the_next_start_stores_everything(
    tmp_path: Path, mosquitto_fresh: MosquittoServer, influx: InfluxServer
) -> None:
    stops, expected, stored = await hub_stops(mosquitto_fresh, influx, tmp_path, 2, 4000, signal.SIGTERM)
    assert [s.code for s in stops] == [0, 0, 0]  # two stops mid-ingest, then the one after storing the rest
    assert all(s.seconds <= STOP_LIMIT_S for s in stops), stops
    assert stored == expected


async def test_hub_stops_on_sigint_even_when_started_with_sigint_ignored(
    tmp_path: Path, mosquitto_fresh: MosquittoServer, influx: InfluxServer
) -> None:
    stops, expected, stored = await hub_stops(mosquitto_fresh, influx, tmp_path, 1, 2000, signal.SIGINT)
    assert stops[0].code == 0 and stops[0].seconds <= STOP_LIMIT_S, stops
    assert stored == expected
