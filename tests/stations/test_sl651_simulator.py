"""The simulated SL 651 RTU against a central station on real TCP (loopback) that uses the gateway's framer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from citysense.runner import STOP_GRACE_S, cancel_and_wait
from hub.stations.base import Control, Event, Report
from hub.stations.sl651 import encode
from hub.stations.sl651.protocol import Sl651Protocol
from simulator.stations.sl651 import Sl651Site, run_station, run_stations
from tests.stations.test_sl651_examples import cst

NOON = cst(2026, 7, 5, 12, 0) / 1000


@dataclass
class Central:
    """A tiny central station: stores each report once by key, confirms after storing (unless told to hold)."""

    protocol: Sl651Protocol = field(default_factory=Sl651Protocol)
    stored: dict[str, Report] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    hold_first: int = 0
    commands: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = self.protocol.framer()
        try:
            while data := await reader.read(4096):
                for event in framer.feed(data):
                    self.events.append(event)
                    if isinstance(event, Report):
                        self.stored.setdefault(event.key, event)
                        if self.hold_first > 0:  # the store is "down": no confirmation
                            self.hold_first -= 1
                            continue
                        for action, args in self.commands:
                            writer.write(self.protocol.command(event.station, event.password, action, args))
                        self.commands.clear()
                    elif isinstance(event, Control) and event.function in ("51", "4A"):
                        self.answered.set()
                    if event.reply is not None:
                        writer.write(event.reply)
                await writer.drain()
        finally:
            writer.close()


@asynccontextmanager
async def central(station: Central) -> AsyncIterator[int]:
    server = await asyncio.start_server(station.handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def site(encoding: str = "hex", *, burst_chance: float = 1.0) -> Sl651Site:
    station = encode.Station("0012345678", "1234", 1, "river", encoding)  # type: ignore[arg-type]
    return Sl651Site(station, seed=3, burst_chance=burst_chance, clock=lambda: NOON)


async def test_simulated_station_dials_in_and_every_report_is_confirmed_and_stored() -> None:
    centre = Central()
    async with central(centre) as port:
        stats = await run_station("127.0.0.1", port, site(), interval_s=0, reports=4, hourly_every=2)
    assert stats.unconfirmed == 0 and stats.resent == 0
    assert stats.confirmed == stats.sent == len(centre.stored)
    functions = sorted(r.function for r in centre.stored.values())
    assert "32" in functions and "34" in functions
    hourly = next(r for r in centre.stored.values() if r.function == "34")
    assert len([o for o in hourly.observations if o.code == "DRP"]) == 12
    assert len([o for o in hourly.observations if o.code == "DRZ1"]) == 12


async def test_ascii_station_is_confirmed_in_ascii() -> None:
    centre = Central()
    async with central(centre) as port:
        stats = await run_station("127.0.0.1", port, site("ascii"), interval_s=0, reports=2)
    assert stats.unconfirmed == 0 and stats.confirmed == stats.sent
    assert all(r.raw[:1] == b"\x01" for r in centre.stored.values())


async def test_unconfirmed_report_is_resent_and_stored_once() -> None:
    centre = Central(hold_first=1)
    async with central(centre) as port:
        dry = site(burst_chance=0.0)  # no rain: one timed report, no added report
        stats = await run_station("127.0.0.1", port, dry, interval_s=0, reports=1, confirm_timeout_s=0.2)
    assert stats.resent == 1 and stats.confirmed == 1 and stats.unconfirmed == 0
    reports = [e for e in centre.events if isinstance(e, Report)]
    assert len(reports) == 2 and reports[0].raw == reports[1].raw  # the same frame twice...
    assert len(centre.stored) == 1  # ...stored once


async def test_station_answers_clock_query_and_clock_set_removes_its_drift() -> None:
    clock = {"t": NOON}
    station = Sl651Site(
        encode.Station("0012345678", "1234", 1, "rainfall"), drift_s_per_day=86_400, clock=lambda: clock["t"]
    )
    clock["t"] = NOON + 60  # a minute later the drifting clock is a minute ahead
    ahead_ms = round(station.station_s() * 1000)
    true_ms = int(clock["t"] * 1000)
    centre = Central(protocol=Sl651Protocol(clock_ms=lambda: true_ms))
    centre.commands = [("clock_query", {}), ("clock_set", {})]
    async with central(centre) as port:
        runner = asyncio.create_task(run_station("127.0.0.1", port, station, interval_s=0.05, reports=40))
        async with asyncio.timeout(10):
            while len([e for e in centre.events if isinstance(e, Control) and e.function in ("51", "4A")]) < 2:
                await centre.answered.wait()
                centre.answered.clear()
        await cancel_and_wait([runner], grace_s=STOP_GRACE_S)
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    query, setting = (e for e in centre.events if isinstance(e, Control) and e.function in ("51", "4A"))
    assert query.payload["clock_ms"] == ahead_ms
    assert setting.payload["clock_ms"] == true_ms


def feed_one(frame: bytes) -> Report:
    [event] = Sl651Protocol().framer().feed(frame)
    assert isinstance(event, Report)
    return event


def test_hourly_report_rainfall_adds_up_to_the_hour_of_the_rain_model() -> None:
    rtu = Sl651Site(
        encode.Station("0012345678", "1234", 1, "rainfall"),
        seed=5,
        burst_chance=1.0,
        drift_s_per_day=0,
        clock=lambda: NOON + 120,
    )
    _, frame = rtu.hourly()
    drp = [o.value for o in feed_one(frame).observations if o.code == "DRP"]
    assert len(drp) == 12
    assert round(sum(v or 0 for v in drp), 1) == rtu.rain.rain_mm(NOON - 3600, NOON) > 0


def test_added_reports_come_during_a_burst_and_not_in_dry_weather() -> None:
    t = {"now": NOON}
    wet = Sl651Site(encode.Station("0012345678"), seed=5, burst_chance=1.0, drift_s_per_day=0, clock=lambda: t["now"])
    dry = Sl651Site(encode.Station("0012345679"), seed=5, burst_chance=0.0, drift_s_per_day=0, clock=lambda: t["now"])
    wet_frames, dry_frames = [], []
    for minute in range(120):
        t["now"] = NOON + 60 * minute
        wet_frames.append(wet.added())
        dry_frames.append(dry.added())
    added = [f for f in wet_frames if f is not None]
    assert added and all(feed_one(frame).function == "33" for _, frame in added)
    assert dry_frames == [None] * 120


def test_station_clock_drifts_as_configured() -> None:
    t = {"now": NOON}
    rtu = Sl651Site(encode.Station("0012345678"), drift_s_per_day=4.0, clock=lambda: t["now"])
    t["now"] = NOON + 86_400 / 2
    assert rtu.station_s() - t["now"] == 2.0


async def test_many_stations_dial_in_at_once_and_each_is_stored_under_its_own_address() -> None:
    centre = Central()
    sites = [
        Sl651Site(encode.Station(f"00000000{k:02d}", "1234"), seed=k, burst_chance=0.0, clock=lambda: NOON)
        for k in range(20)
    ]
    async with central(centre) as port:
        stats = await run_stations("127.0.0.1", port, sites, interval_s=0, reports=2)
    assert [s.confirmed for s in stats] == [2] * 20
    assert sorted({r.station for r in centre.stored.values()}) == [f"00000000{k:02d}" for k in range(20)]
    assert len(centre.stored) == 40


async def test_a_central_station_that_hangs_up_ends_the_session_with_connection_error() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    try:
        with pytest.raises(ConnectionError):
            await run_station("127.0.0.1", server.sockets[0].getsockname()[1], site(), interval_s=0, reports=3)
    finally:
        server.close()
        await server.wait_closed()
