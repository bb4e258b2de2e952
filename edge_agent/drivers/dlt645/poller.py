"""Poll one DL/T 645 meter at its interval: one read per data identifier, BCD decoded per profile.

Qualities: no whole reply in time -> ``timeout``; a garbled frame ->
``comm_failure``; an abnormal reply (D6 of the control code set, with the
meter's error byte, 2007 §7.1) -> ``device_exception``; a reply whose value is
not BCD or too short -> ``decode_error``; a value outside the point's
``range`` -> ``out_of_range``.

A meter that stops answering costs its line one timeout per poll (the rest of
that poll's identifiers are reported with the same quality unasked) and after
``QUARANTINE_AFTER`` silent polls it is polled only once per back-off period
(doubling up to ``QUARANTINE_MAX_S``), so the other meters on the RS-485 line
keep their cadence. Failure and recovery are logged once each.
"""

from __future__ import annotations

import asyncio
import logging
import time

from citysense.agentconfig import MeterConfig
from citysense.contract import DeviceHealth, Reading
from citysense.dlt645 import FUNCTIONS, Frame, FrameError, bcd_value, di_bytes, error_text, read_request
from citysense.profiles.dlt645 import MeterPoint, MeterProfile
from citysense.quality import Quality
from edge_agent.drivers import ReadingSink
from edge_agent.drivers.dlt645.link import Garbled, MeterLink
from edge_agent.errors import MeterError
from edge_agent.report import Reporter

log = logging.getLogger(__name__)

QUARANTINE_AFTER = 3
QUARANTINE_MAX_S = 300.0
_SILENT = (Quality.TIMEOUT, Quality.COMM_FAILURE)


def decode_point(point: MeterPoint, value: bytes) -> tuple[float | int | None, Quality]:
    """The value of ``point`` in a reply's value bytes (after the DI)."""
    raw = value[point.offset_bytes : point.offset_bytes + point.size]
    if len(raw) != point.size:
        return None, Quality.DECODE_ERROR
    try:
        number = bcd_value(raw, point.decimals, signed=point.signed)
    except FrameError:
        return None, Quality.DECODE_ERROR
    if point.scale != 1.0:
        number = round(number * point.scale, 9)
    if point.range is not None and not point.range[0] <= number <= point.range[1]:
        return None, Quality.OUT_OF_RANGE
    return number, Quality.GOOD


class MeterPoller:
    """Reads every DI of one meter each ``poll_interval_s`` and emits the readings."""

    def __init__(self, meter: MeterConfig, profile: MeterProfile, link: MeterLink, sink: ReadingSink) -> None:
        self.device_id = meter.id
        self.address = meter.wire_address
        self.profile = profile
        self.link = link
        self.sink = sink
        self.interval_s = meter.poll_interval_s
        self.reads = profile.reads()
        self.reporter = Reporter({p.metric: meter.report.get(p.metric, p.report) for p in profile.points})
        self.failed_polls = 0
        self.quarantine_s = 0.0
        self.reads_ok = 0
        self.reads_failed = 0
        self.last_good_ms: int | None = None
        self.rtt_ms: float | None = None
        self._bad: set[str] = set()  # DIs whose last read failed: logged once when they fail, once when they recover

    def health(self) -> DeviceHealth:
        """This meter's acquisition health."""
        state = "quarantined" if self.quarantine_s else "failing" if self._bad else "ok"
        if self.reads_ok == 0 and self.reads_failed == 0:
            state = "unknown"
        return DeviceHealth(
            device=self.device_id,
            state=state,
            rtt_ms=None if self.rtt_ms is None else round(self.rtt_ms, 3),
            reads_ok=self.reads_ok,
            reads_failed=self.reads_failed,
            last_good_ms=self.last_good_ms,
        )

    async def run(self) -> None:
        """Poll forever on a fixed cadence (missed ticks are skipped, not bunched)."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            readings = self.reporter.filter(await self.poll_once())
            if readings:
                await self.sink.put(readings)
            period = self.quarantine_s or self.interval_s
            next_tick += period
            now = loop.time()
            if next_tick < now:
                next_tick = now + period - ((now - next_tick) % period)
            await asyncio.sleep(next_tick - now)

    async def read_di(self, di: str) -> bytes:
        """The value bytes of one data identifier; raises :class:`MeterError`."""
        echo = di_bytes(di)
        started = time.perf_counter()
        reply = await self.link.transact(read_request(self.profile.edition, self.address, di), self.address, echo)
        self.rtt_ms = (time.perf_counter() - started) * 1000
        return self._value_of(reply, echo)

    def _value_of(self, reply: Frame, echo: bytes) -> bytes:
        if reply.function != FUNCTIONS[self.profile.edition].read:
            raise MeterError(Quality.COMM_FAILURE, f"meter {self.address}: reply to function {reply.function:#04x}")
        if reply.abnormal:
            error = reply.data[0] if reply.data else 0
            text = error_text(self.profile.edition, error)
            raise MeterError(Quality.DEVICE_EXCEPTION, f"meter {self.address}: {text} (error {error:#04x})", error)
        return reply.data[len(echo) :]

    async def poll_once(self) -> list[Reading]:
        """Read every DI once and return one reading per point."""
        out: list[Reading] = []
        answered = False
        silent: MeterError | None = None
        for di, points in self.reads.items():
            if silent is not None:  # the meter did not answer this poll: do not spend a timeout per DI
                out.extend(self._reading(p, None, silent.quality) for p in points)
                continue
            try:
                value = await self.read_di(di)
            except MeterError as exc:
                self.reads_failed += 1
                if di not in self._bad:
                    self._bad.add(di)
                    log.warning("%s: read of DI %s failed (%s)", self.device_id, di, exc)
                if exc.quality in _SILENT and not answered and not isinstance(exc, Garbled):
                    silent = exc
                else:
                    answered = True
                out.extend(self._reading(p, None, exc.quality) for p in points)
                continue
            answered = True
            self.reads_ok += 1
            if di in self._bad:
                self._bad.discard(di)
                log.info("%s: DI %s answers again", self.device_id, di)
            self.last_good_ms = time.time_ns() // 1_000_000
            out.extend(self._reading(p, *decode_point(p, value)) for p in points)
        self._update_state(answered, silent)
        return out

    def _reading(self, p: MeterPoint, value: float | int | None, q: Quality) -> Reading:
        ts_ms = time.time_ns() // 1_000_000
        return Reading(device=self.device_id, metric=p.metric, value=value, unit=p.unit, ts_ms=ts_ms, quality=q.wire)

    def _update_state(self, answered: bool, silent: MeterError | None) -> None:
        if answered:
            if self.quarantine_s:
                log.info("%s: meter %s answers again", self.device_id, self.address)
            self.failed_polls = 0
            self.quarantine_s = 0.0
            return
        self.failed_polls += 1
        if self.failed_polls >= QUARANTINE_AFTER:
            was = self.quarantine_s
            self.quarantine_s = min(QUARANTINE_MAX_S, max(self.interval_s * 2, was * 2))
            if not was:
                log.warning(
                    "%s: meter %s quarantined after %d silent polls (%s); retrying every %.0f s",
                    self.device_id, self.address, self.failed_polls, silent, self.quarantine_s,
                )  # fmt: skip
