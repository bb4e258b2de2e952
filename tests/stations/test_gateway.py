"""The gateway over real TCP on loopback with a real SQLite store: store once, confirm after, refuse with reasons."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from hub.ingest.spool import Spool
from hub.stations.hj212.protocol import packet
from hub.stations.hj212.segment import format_time, parse_segment
from hub.store.base import StoredReading
from hub.store.errors import StoreUnavailable
from hub.store.sqlite import SqliteStore
from simulator.stations.hj212 import Hj212Monitor
from tests.stations.conftest import PASSWORD, Gateway, running_gateway

MN = "AQM0000000000001"


def _upload(ts_ms: int, pm25: float, *, mn: str = MN, pw: str = PASSWORD, cn: str = "2011") -> bytes:
    cp = f"DataTime={format_time(ts_ms)};a34004-Rtd={pm25},a34004-Flag=N;a21005-Rtd=0.8,a21005-Flag=N"
    qn = format_time(ts_ms, millis=True)
    return packet(f"QN={qn};ST=22;CN={cn};PW={pw};MN={mn};Flag=5;CP=&&{cp}&&".encode())


def _minute_ago() -> int:
    return (time.time_ns() // 1_000_000 // 1000 - 60) * 1000


async def _answer(reader: asyncio.StreamReader, timeout_s: float = 5.0) -> str:
    async with asyncio.timeout(timeout_s):
        line = await reader.readuntil(b"\r\n")
    return line[6:-6].decode()


async def _stored(g: Gateway, device: str = "AQ-0001.monitor") -> list[tuple[str, float | str | None, int]]:
    rows = await g.store.query_range(device, "hj212_air_quality", None, 0, 2**62)
    return [(r.metric, r.value, r.ts_ms) for r in rows]


async def test_report_is_stored_then_confirmed_with_9014(gw: Gateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    ts = _minute_ago()
    writer.write(_upload(ts, 36.5))
    answer = parse_segment(await _answer(reader))
    assert answer.cn == "9014" and answer.qn == format_time(ts, millis=True)
    # The answer came after the store write: the readings are there now.
    assert sorted(await _stored(gw)) == [("co", 0.8, ts), ("pm2_5", 36.5, ts)]
    latest = gw.pipeline.latest.get("AQ-0001.monitor")
    assert latest is not None and latest["pm2_5"].value == 36.5
    writer.close()


async def test_a_resent_report_is_stored_once_and_confirmed_again(gw: Gateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    pkt = _upload(_minute_ago(), 10.0)
    for _ in range(3):
        writer.write(pkt)
        assert parse_segment(await _answer(reader)).cn == "9014"
    writer.close()
    # A second connection (the station dialled in again) re-sends it once more.
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    writer.write(pkt)
    assert parse_segment(await _answer(reader)).cn == "9014"
    writer.close()
    assert gw.gateway.stats.reports == 1 and gw.gateway.stats.duplicates == 3
    assert len(await _stored(gw)) == 2


async def test_unknown_station_wrong_password_and_wrong_station_are_refused_and_dead_lettered(gw: Gateway) -> None:
    await gw.add_monitor("AQ-0002", "AQM0000000000002")
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    writer.write(_upload(_minute_ago(), 1.0, mn="NOSUCHSTATION"))
    writer.write(_upload(_minute_ago(), 1.0, pw="654321"))
    writer.write(_upload(_minute_ago(), 2.0))  # binds the connection to AQM...01
    assert parse_segment(await _answer(reader)).cn == "9014"
    writer.write(_upload(_minute_ago() - 60_000, 3.0, mn="AQM0000000000002"))  # another station on this link
    writer.write(_upload(_minute_ago() - 120_000, 4.0))
    assert parse_segment(await _answer(reader)).cn == "9014"
    writer.close()
    refusals = gw.gateway.stats.refusals
    assert (refusals["unknown_station"], refusals["bad_password"], refusals["wrong_station"]) == (1, 1, 1)
    letters = await asyncio.to_thread(gw.registry.list_dead_letters)
    assert {d.reason for d in letters} == {"unknown_station", "bad_password", "wrong_station"}
    assert await _stored(gw, "AQ-0002.monitor") == []


async def test_garbage_before_a_frame_and_a_hang_up_mid_frame(gw: Gateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    ts = _minute_ago()
    writer.write(b"+++AT\r\n\x00\x01" + _upload(ts, 5.0))
    assert parse_segment(await _answer(reader)).cn == "9014"
    writer.write(_upload(ts + 1000, 6.0)[:50])
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    async with asyncio.timeout(5):
        while gw.gateway.stats.refusals["truncated"] == 0:  # noqa: ASYNC110  (the gateway has no event for it)
            await asyncio.sleep(0.02)
    assert gw.gateway.stats.refusals["garbage"] == 1
    assert [v for m, v, _ in await _stored(gw) if m == "pm2_5"] == [5.0]


class _Outage:
    """The store refuses every write (StoreUnavailable) while ``down``."""

    def __init__(self, store: SqliteStore) -> None:
        self.down = True
        original = store.write

        async def write(readings: Sequence[StoredReading]) -> None:
            if self.down:
                raise StoreUnavailable("store stopped for the test")
            await original(readings)

        store.write = write  # type: ignore[method-assign]


async def test_no_confirmation_while_the_store_is_down_without_a_spool(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    async with running_gateway(tmp_path, store) as g:
        await g.add_monitor("AQ-0001", MN)
        outage = _Outage(store)
        reader, writer = await asyncio.open_connection("127.0.0.1", g.port)
        writer.write(_upload(_minute_ago(), 7.0))
        try:
            await _answer(reader, timeout_s=1.5)
            raise AssertionError("confirmed while the store was down")
        except TimeoutError:
            pass
        outage.down = False  # the store is back: the waiting write goes through, and only then the answer
        assert parse_segment(await _answer(reader, timeout_s=10)).cn == "9014"
        writer.close()
        assert [v for m, v, _ in await _stored(g) if m == "pm2_5"] == [7.0]
    await store.close()


async def test_with_a_spool_a_report_is_confirmed_once_spooled_and_drains_into_the_store(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    spool = Spool(tmp_path / "spool.db")
    async with running_gateway(tmp_path, store, spool) as g:
        await g.add_monitor("AQ-0001", MN)
        outage = _Outage(store)
        reader, writer = await asyncio.open_connection("127.0.0.1", g.port)
        writer.write(_upload(_minute_ago(), 8.0))
        assert parse_segment(await _answer(reader)).cn == "9014"
        assert spool.batches == 1 and await _stored(g) == []
        outage.down = False
        async with asyncio.timeout(10):
            while not await _stored(g):  # noqa: ASYNC110  (the spool drains on its own)
                await asyncio.sleep(0.1)
        writer.close()
    spool.close()
    await store.close()


async def test_time_calibration_command_reaches_the_monitor_and_its_answer_comes_back(gw: Gateway) -> None:
    monitor = Hj212Monitor(MN, PASSWORD, "127.0.0.1", gw.port, lambda ts: {"a34004": (12.0, "N")},
                           drift_s_per_h=3600.0)  # fmt: skip
    await monitor.connect()
    assert await monitor.send(monitor.upload("2011", _minute_ago()))
    answer = await gw.gateway.command("AQ-0001", "clock_set", {})
    assert answer.function == "9011" and answer.payload["QnRtn"] == "1"
    assert abs(monitor.clock_ms() - time.time() * 1000) < 5_000
    await monitor.close()


async def test_a_thousand_stations_at_once_every_report_stored_once(gw: Gateway) -> None:
    n, reports = 1000, 3
    specs = [(f"AQ-{i:04d}", f"AQM{i:013d}") for i in range(2, n + 2)]
    from hub.stations.directory import StationDevice, StationDirectory, StationSpec

    d = StationDirectory(gw.registry)

    def register() -> None:
        dev = StationDevice(id="monitor", profile="hj212_air_quality")
        every = [StationSpec(id=node, protocol="hj212", address=mn, password=SecretStr(PASSWORD), region="440981103",
                             department="environment", devices=[dev]) for node, mn in specs]  # fmt: skip
        d.create_many("test", every, gw.pipeline.profiles, {"hj212"})

    await asyncio.to_thread(register)
    gw.pipeline.snapshot = await asyncio.to_thread(gw.registry.snapshot)
    gw.gateway.invalidate()
    base = _minute_ago() - 10 * 60_000

    async def station(mn: str) -> int:
        monitor = Hj212Monitor(mn, PASSWORD, "127.0.0.1", gw.port, lambda ts: {"a34004": (20.0, "N")},
                               ack_timeout_s=20, retries=2)  # fmt: skip
        await monitor.connect()
        ok = 0
        for k in range(reports):
            pkt = monitor.upload("2011", base + k * 60_000)
            ok += await monitor.send(pkt)
            if k == 0:
                ok -= not await monitor.send(pkt)  # a re-sent copy: confirmed again, stored once
        await monitor.close()
        return ok

    async with asyncio.timeout(60):
        confirmed = await asyncio.gather(*(station(mn) for _, mn in specs))
    assert sum(confirmed) == n * reports
    assert gw.gateway.stats.reports == n * reports  # every upload stored once (AQ-0001 sent nothing) ...
    assert gw.gateway.stats.duplicates >= n  # ... however often it was re-sent (a slow answer means one more)
    assert gw.gateway.stats.readings_stored == n * reports
    rows = await gw.store.query_range("AQ-0500.monitor", "hj212_air_quality", None, 0, 2**62)
    assert [r.ts_ms for r in rows] == [base + k * 60_000 for k in range(reports)]


async def test_fuzzed_traffic_on_a_live_connection_is_refused_with_reasons_and_the_link_survives(gw: Gateway) -> None:
    import random

    rng = random.Random(651)
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    good = _upload(_minute_ago(), 9.0)
    writer.write(good)  # the station is known: a noisy link does not get it disconnected
    assert parse_segment(await _answer(reader)).cn == "9014"
    for _ in range(200):
        data = bytearray(good)
        for _ in range(rng.randint(1, 5)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        writer.write(bytes(data))
    last = _minute_ago() - 60_000
    writer.write(_upload(last, 10.0))  # a valid upload after all of that is still answered
    while parse_segment(await _answer(reader)).qn != format_time(last, millis=True):
        pass
    writer.close()
    refused = sum(gw.gateway.stats.refusals.values())
    letters = await asyncio.to_thread(gw.registry.list_dead_letters, None, 0, 10_000)
    assert refused > 0 and len(letters) == refused  # every refusal counted and dead-lettered, each with a reason
    assert all(d.reason and d.detail for d in letters)


async def test_a_silent_station_is_disconnected_after_the_idle_timeout(tmp_path: Path) -> None:
    from hub.stations.settings import ListenerSettings

    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    quick = [ListenerSettings(protocol="hj212", host="127.0.0.1", port=0, idle_timeout_s=0.3)]
    async with running_gateway(tmp_path, store, listeners=quick) as g:
        await g.add_monitor("AQ-0001", MN)
        reader, writer = await asyncio.open_connection("127.0.0.1", g.port)
        writer.write(_upload(_minute_ago(), 3.0))
        assert parse_segment(await _answer(reader)).cn == "9014"
        async with asyncio.timeout(10):
            assert await reader.read() == b""  # the hub hung up on the silent link
        assert g.gateway.stats.idle_timeouts == 1 and g.gateway.connected("AQ-0001") is None
        writer.close()
    await store.close()


async def test_a_caller_sending_only_refused_frames_is_disconnected(gw: Gateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    writer.write(b"##0000FFFF\r\n" * 5000)  # thousands of refusals in one read: one transaction, then hang up
    async with asyncio.timeout(10):
        assert await reader.read() == b""
    writer.close()
    letters = await asyncio.to_thread(gw.registry.list_dead_letters, None, 0, 100_000)
    assert len(letters) == sum(gw.gateway.stats.refusals.values()) >= 64


async def test_a_monitor_that_gets_no_answer_resends_and_the_report_is_stored_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    async with running_gateway(tmp_path, store) as g:
        await g.add_monitor("AQ-0001", MN)
        outage = _Outage(store)
        monitor = Hj212Monitor(MN, PASSWORD, "127.0.0.1", g.port, lambda ts: {"a34004": (55.0, "N")},
                               ack_timeout_s=0.4, retries=20)  # fmt: skip
        await monitor.connect()
        sending = asyncio.create_task(monitor.send(monitor.upload("2011", _minute_ago())))
        while monitor.stats.resent < 2:  # noqa: ASYNC110  (the monitor's own re-send timer drives this)
            await asyncio.sleep(0.05)
        outage.down = False
        assert await sending
        await monitor.close()
        assert [v for m, v, _ in await _stored(g) if m == "pm2_5"] == [55.0]
        assert g.gateway.stats.reports == 1 and g.gateway.stats.duplicates >= 2
    await store.close()


async def test_running_state_and_hourly_data_are_stored_under_their_metrics(gw: Gateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    hour = (_minute_ago() // 3_600_000 - 1) * 3_600_000
    for cn, cp in (
        ("2021", f"DataTime={format_time(hour)};SB1-RS=1"),
        ("2061", f"DataTime={format_time(hour)};a34004-Avg=41.5,a34004-Min=30,a34004-Max=60,a34004-Flag=N"),
        ("2041", f"DataTime={format_time(hour)};SB1-RT=23.5"),
    ):
        writer.write(
            packet(
                f"QN={format_time(hour, millis=True)};ST=22;CN={cn};PW={PASSWORD};MN={MN};Flag=5;CP=&&{cp}&&".encode()
            )
        )
        assert parse_segment(await _answer(reader)).cn == "9014"
    writer.close()
    got = {m: v for m, v, _ in await _stored(gw)}
    assert got == {"analyser_state": 1.0, "pm2_5_hour_avg": 41.5, "pm2_5_hour_min": 30.0, "pm2_5_hour_max": 60.0,
                   "analyser_state_hours": 23.5}  # fmt: skip
