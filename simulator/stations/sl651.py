"""A simulated SL 651-2014 RTU that dials in, reports and waits for the central station's confirmation.

:class:`Sl651Site` builds real frames (:mod:`hub.stations.sl651.encode`):
timed reports (32H) every ``timed_every_s``, added reports (33H) while rain
falls harder than ``added_mm`` per 5 minutes, hourly reports (34H) with the
hour's 5-minute rainfall (DRP) and relative levels (DRZ1), all stamped by a
clock that drifts. :func:`run_station` is the field side of mode M2: each
report waits ``confirm_timeout_s`` for its confirmation and is re-sent up to
``max_resends`` times (clause 6.5.2), and the station answers the central
station's clock query (51H), clock setting (4AH, which removes the drift) and
real-time query (37H).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.stations.sl651 import codes, encode, frames
from hub.stations.sl651.bcd import cst_ms, cst_text_ms
from hub.stations.sl651.downlink import prefix
from simulator.stations.rain import RainModel

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Stats:
    """What one dial-in session did."""

    sent: int = 0
    confirmed: int = 0
    resent: int = 0
    unconfirmed: int = 0
    commands: int = 0


class Sl651Site:
    """The field side of one rain gauge or water-level station."""

    def __init__(
        self,
        station: encode.Station,
        *,
        seed: int = 0,
        drift_s_per_day: float = 2.0,
        added_mm: float = 1.0,
        burst_chance: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.station = station
        self.rain = RainModel(seed, burst_chance=burst_chance)
        self.drift_s_per_day = drift_s_per_day
        self.added_mm = added_mm
        self._clock = clock
        self._t0 = clock()
        self._offset_s = 0.0
        self._serial = 0
        self._total_mm = 0.0
        self._last_s = self._t0

    def station_s(self) -> float:
        """The station's own clock: true time plus its drift since the last setting."""
        now = self._clock()
        return now + self._offset_s + self.drift_s_per_day * (now - self._t0) / 86_400

    def set_clock(self, true_s: float) -> None:
        """Set the clock (4AH): drift starts again from zero."""
        self._t0, self._offset_s = self._clock(), true_s - self._clock()

    def _next(self) -> tuple[int, int, int]:
        self._serial = self._serial % 0xFFFF + 1
        local = self.station_s()
        return self._serial, int(local * 1000), int(local // 60 * 60_000)

    def _items(self, at_s: float) -> list[encode.Item]:
        self._total_mm = round(self._total_mm + self.rain.rain_mm(self._last_s, at_s), 1)
        self._last_s = max(self._last_s, at_s)
        items: list[encode.Item] = [("PJ", self.rain.rain_mm(at_s - 300, at_s)), ("PT", self._total_mm)]
        if self.station.station_class != "rainfall":
            items.append(("Z", self.rain.level_m(at_s)))
        return [*items, ("VT", 12.4)]

    def timed(self) -> tuple[int, bytes]:
        """A timed report (32H) of now: (serial, frame)."""
        serial, sent, obs = self._next()
        items = [*self._items(obs / 1000), ("P1", self.rain.rain_mm(obs / 1000 - 3600, obs / 1000))]
        return serial, encode.report(self.station, 0x32, serial=serial, sent_ms=sent, obs_ms=obs, items=items)

    def added(self) -> tuple[int, bytes] | None:
        """An added report (33H) when the last 5 minutes rained more than ``added_mm``, else ``None``."""
        now = self.station_s()
        if self.rain.rain_mm(now - 300, now) <= self.added_mm:
            return None
        serial, sent, obs = self._next()
        items = self._items(obs / 1000)
        return serial, encode.report(self.station, 0x33, serial=serial, sent_ms=sent, obs_ms=obs, items=items)

    def hourly(self) -> tuple[int, bytes]:
        """An hourly report (34H) for the hour ending at the last whole hour."""
        serial, sent, _ = self._next()
        hour_end = self.station_s() // 3600 * 3600
        items: list[encode.Item] = [("DRP", self.rain.five_minute(hour_end))]
        if self.station.station_class != "rainfall":
            base = self.rain.base_level_m
            levels = [round(self.rain.level_m(hour_end - 3300 + 300 * k) - base, 2) for k in range(12)]
            items.append(("DRZ1", levels))
        items += self._items(hour_end)
        obs = int(hour_end * 1000)
        return serial, encode.report(self.station, 0x34, serial=serial, sent_ms=sent, obs_ms=obs, items=items)

    def answer(self, command: frames.Frame) -> bytes | None:
        """The station's answer to a downlink command, or ``None`` for one it does not know."""
        serial = int.from_bytes(command.body[:2], "big") if command.encoding == "hex" else int(command.body[:4], 16)
        if command.function == codes.Function.SET_CLOCK:
            sent = command.body[2:8] if command.encoding == "hex" else command.body[4:16]
            self.set_clock((cst_ms(sent) if command.encoding == "hex" else cst_text_ms(sent.decode())) / 1000)
        local = int(self.station_s() * 1000)
        if command.function in (codes.Function.GET_CLOCK, codes.Function.SET_CLOCK):
            body = prefix(self.station.encoding, serial, local)
            ident = b" ST " + self.station.address.encode() if self.station.encoding == "ascii" else b"\xf1\xf1"
            tail = b"" if self.station.encoding == "ascii" else bytes.fromhex(self.station.address)
            return encode.frame(self.station, command.function, body + ident + tail)
        if command.function == codes.Function.REALTIME:
            obs = local // 60_000 * 60_000
            items = self._items(obs / 1000)
            return encode.report(self.station, 0x37, serial=serial, sent_ms=local, obs_ms=obs, items=items)
        return None


async def run_station(
    host: str,
    port: int,
    site: Sl651Site,
    *,
    interval_s: float = 60.0,
    reports: int | None = None,
    hourly_every: int = 12,
    confirm_timeout_s: float = 10.0,
    max_resends: int = 3,
    connect_timeout_s: float = 10.0,
) -> Stats:
    """Dial in, report every ``interval_s`` (``reports`` times, or until cancelled) and wait for confirmations."""
    stats = Stats()
    async with asyncio.timeout(connect_timeout_s):
        reader, writer = await asyncio.open_connection(host, port)
    waiting: dict[tuple[int, int], asyncio.Future[None]] = {}
    try:
        async with asyncio.TaskGroup() as tasks:
            listen = _listen(reader, writer, site, waiting, stats)
            listener = tasks.create_task(listen, name=f"sl651-listen-{site.station.address}")
            tick = 0
            while (reports is None or tick < reports) and not listener.done():
                batch = [site.hourly()] if hourly_every and tick and tick % hourly_every == 0 else [site.timed()]
                added = site.added()
                batch += [added] if added else []
                for serial, frame in batch:
                    await _send(writer, frame, serial, waiting, stats, confirm_timeout_s, max_resends)
                tick += 1
                if reports is None or tick < reports:
                    await asyncio.sleep(interval_s)
            listener.cancel()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return stats


async def _send(
    writer: asyncio.StreamWriter,
    frame: bytes,
    serial: int,
    waiting: dict[tuple[int, int], asyncio.Future[None]],
    stats: Stats,
    timeout_s: float,
    max_resends: int,
) -> None:
    key = (frame[10] if frame[:2] == codes.SOH_HEX else int(frame[17:19], 16), serial)
    for attempt in range(max_resends + 1):
        done = waiting[key] = asyncio.get_running_loop().create_future()
        writer.write(frame)
        await writer.drain()
        stats.sent += 1
        stats.resent += attempt > 0
        try:
            async with asyncio.timeout(timeout_s):
                await done
        except TimeoutError:
            continue
        finally:
            waiting.pop(key, None)
        stats.confirmed += 1
        return
    stats.unconfirmed += 1


async def _listen(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    site: Sl651Site,
    waiting: dict[tuple[int, int], asyncio.Future[None]],
    stats: Stats,
) -> None:
    """Read downlink frames: confirmations resolve their report, commands are answered."""
    buf = b""
    while chunk := await reader.read(4096):
        buf += chunk
        while True:
            start = min((i for i in (buf.find(codes.SOH_HEX), buf.find(codes.SOH_ASCII)) if i >= 0), default=-1)
            if start < 0:
                buf = b""
                break
            parsed = frames.parse(buf[start:], down=True, max_frame=4200)
            if parsed is None:
                buf = buf[start:]
                break
            if isinstance(parsed, frames.Malformed):
                buf = buf[start + parsed.skip :]
                continue
            buf = buf[start + len(parsed.raw) :]
            if parsed.end == codes.ENQ:
                stats.commands += 1
                answer = site.answer(parsed)
                if answer is not None:
                    writer.write(answer)
                    await writer.drain()
                continue
            serial = int.from_bytes(parsed.body[:2], "big") if parsed.encoding == "hex" else int(parsed.body[:4], 16)
            done = waiting.get((parsed.function, serial))
            if done is not None and not done.done():
                done.set_result(None)
    log.info("%s: the central station closed the link", site.station.address)
