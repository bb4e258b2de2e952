"""Poll one device at its interval: plan, read, decode per profile, emit readings."""

from __future__ import annotations

import asyncio
import logging
import time

from citysense.contract import Reading
from citysense.profiles.model import Point, Profile
from citysense.profiles.transform import to_value
from citysense.quality import Quality
from edge_agent.drivers import ReadingSink
from edge_agent.drivers.modbus.link import ModbusLink
from edge_agent.drivers.modbus.planner import ReadRequest, plan_profile
from edge_agent.errors import ModbusError

log = logging.getLogger(__name__)


class DevicePoller:
    """Reads every point of one device each ``interval_s`` and emits the readings."""

    def __init__(
        self, device_id: str, profile: Profile, unit_id: int, link: ModbusLink, sink: ReadingSink, interval_s: float
    ) -> None:
        self.device_id = device_id
        self.profile = profile
        self.unit_id = unit_id
        self.link = link
        self.sink = sink
        self.interval_s = interval_s
        self.requests = plan_profile(profile)
        self._failing = False

    async def run(self) -> None:
        """Poll forever on a fixed cadence (missed ticks are skipped, not bunched)."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            readings = await self.poll_once()
            await self.sink.put(readings)
            next_tick += self.interval_s
            now = loop.time()
            if next_tick < now:  # overran: skip the missed ticks rather than fire them back to back
                next_tick = now + self.interval_s - ((now - next_tick) % self.interval_s)
            await asyncio.sleep(next_tick - now)

    async def poll_once(self) -> list[Reading]:
        """Execute every planned request once and return one reading per point."""
        out: list[Reading] = []
        failures = 0
        for req in self.requests:
            try:
                values = await self.link.read(req.table, self.unit_id, req.start, req.count)
            except ModbusError as exc:
                failures += 1
                self._note_failure(exc)
                ts_ms = time.time_ns() // 1_000_000
                out.extend(self._reading(p, None, exc.quality, ts_ms) for p in req.points)
                continue
            ts_ms = time.time_ns() // 1_000_000  # the time this request completed
            out.extend(self._decode(req, values, ts_ms))
        if failures == 0 and self._failing:
            self._failing = False
            log.info("%s: reads recovered", self.device_id)
        return out

    def _decode(self, req: ReadRequest, values: list[int], ts_ms: int) -> list[Reading]:
        out = []
        for p in req.points:
            value, quality = to_value(self.profile, p, req.slice_of(p, self.profile.pdu_address(p), values))
            out.append(self._reading(p, value, quality, ts_ms))
        return out

    def _reading(self, p: Point, value: float | int | bool | str | None, q: Quality, ts_ms: int) -> Reading:
        return Reading(device=self.device_id, metric=p.metric, value=value, unit=p.unit, ts_ms=ts_ms, quality=q.wire)

    def _note_failure(self, exc: ModbusError) -> None:
        # Log a device's failure once and its recovery once, not every poll.
        if not self._failing:
            self._failing = True
            log.warning("%s: read failed (%s)", self.device_id, exc)
