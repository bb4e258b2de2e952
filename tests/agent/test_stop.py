"""An agent polling many devices at full CPU stops on SIGTERM, and on Ctrl-C when its launcher ignores SIGINT."""

from __future__ import annotations

import signal
from pathlib import Path

from bench.stop_under_load import STOP_LIMIT_S, agent_stops
from tests.harness import MosquittoServer


async def test_agent_exits_0_on_sigterm_while_polling_150_devices_4_times_a_second(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    stops = await agent_stops(mosquitto, tmp_path, runs=2, devices=150, interval_s=0.25, sig=signal.SIGTERM)
    assert [s.code for s in stops] == [0, 0]
    assert all(s.seconds <= STOP_LIMIT_S for s in stops), stops


async def test_agent_stops_on_sigint_even_when_started_with_sigint_ignored(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    stops = await agent_stops(mosquitto, tmp_path, runs=1, devices=20, interval_s=0.25, sig=signal.SIGINT)
    assert stops[0].code == 0 and stops[0].seconds <= STOP_LIMIT_S, stops
