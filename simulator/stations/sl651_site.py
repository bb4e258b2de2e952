"""The field side of a simulated SL 651-2014 RTU: its rain, its level, its drifting clock and its frames.

Real frames (:mod:`hub.stations.sl651.encode`): timed reports (32H), added
reports (33H) while rain falls harder than ``added_mm`` per 5 minutes, hourly
reports (34H) with the hour's 5-minute rainfall (DRP) and relative levels
(DRZ1), all stamped by the station's own clock, which drifts by
``drift_s_per_day`` until the central station sets it (4AH).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hub.stations.sl651 import codes, encode, frames
from hub.stations.sl651.bcd import cst_ms, cst_text_ms
from hub.stations.sl651.downlink import prefix
from simulator.stations.rain import RainModel


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
