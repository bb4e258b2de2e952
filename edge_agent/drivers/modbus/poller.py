"""Poll one device at its interval: plan, read, decode per profile, emit readings.

Failure isolation: a unit that stops answering costs the bus at most one
timeout per poll (the rest of that poll's requests are skipped and their
points reported with the same bad quality), and after
``QUARANTINE_AFTER`` failed polls in a row it is *quarantined*: polled only
once per back-off period (doubling up to ``QUARANTINE_MAX_S``), so the other
units sharing the bus keep their cadence. Its state is reported in the
agent's health status. Failure and recovery are logged once each.
"""

from __future__ import annotations

import asyncio
import logging
import time

from citysense.contract import DeviceHealth, Reading
from citysense.profiles.model import Profile
from citysense.quality import Quality
from citysense.runner import check_cancelled
from edge_agent.drivers import ReadingSink
from edge_agent.drivers.modbus.decoder import PlanDecoder
from edge_agent.drivers.modbus.link import RegisterLink
from edge_agent.drivers.modbus.planner import ReadRequest, plan_profile, rejoin, split
from edge_agent.errors import ModbusError
from edge_agent.report import Reporter

log = logging.getLogger(__name__)

QUARANTINE_AFTER = 3
QUARANTINE_MAX_S = 300.0
REPROBE_EVERY = 30  # polls between re-asking a range the device refused
_SILENT = (Quality.TIMEOUT, Quality.COMM_FAILURE)
# Exception 2 "illegal data address" / 3 "illegal data value" (Modbus Application Protocol v1.1b3 §7):
# the request touched registers the device does not have.
_REFUSED_CODES = (2, 3)


def _splittable(exc: ModbusError) -> bool:
    return exc.quality is Quality.DEVICE_EXCEPTION and exc.exception_code in _REFUSED_CODES


class DevicePoller:
    """Reads every point of one device each ``interval_s`` and emits the readings."""

    def __init__(
        self, device_id: str, profile: Profile, unit_id: int, link: RegisterLink, sink: ReadingSink, interval_s: float
    ) -> None:
        self.device_id = device_id
        self.profile = profile
        self.unit_id = unit_id
        self.link = link
        self.sink = sink
        self.interval_s = interval_s
        self.requests = plan_profile(profile)
        self.reporter = Reporter({p.metric: p.report for p in profile.points if p.polled})
        self._failing = False
        self.failed_polls = 0  # consecutive polls in which the unit did not answer at all
        self.quarantine_s = 0.0
        self.reads_ok = 0
        self.reads_failed = 0
        self.last_good_ms: int | None = None
        self.rtt_ms: float | None = None
        self.polls = 0
        self.refused: set[tuple[str, int, int]] = set()  # single-point requests the device refuses
        self._answered = False
        self._decoders: dict[tuple[tuple[str, int, int], ...], PlanDecoder] = {}

    @property
    def quarantined(self) -> bool:
        """True while the unit is polled only once per back-off period."""
        return self.quarantine_s > 0

    def health(self) -> DeviceHealth:
        """This device's acquisition health."""
        state = "quarantined" if self.quarantined else "failing" if self._failing else "ok"
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
            check_cancelled(leaf=True)  # a cancel a read's wait_for swallowed (citysense/runner.py)
            readings = self.reporter.filter(await self.poll_once())
            if readings:
                await self.sink.put(readings)
            period = self.quarantine_s if self.quarantined else self.interval_s
            next_tick += period
            now = loop.time()
            if next_tick < now:  # overran: skip the missed ticks rather than fire them back to back
                next_tick = now + period - ((now - next_tick) % period)
            await asyncio.sleep(next_tick - now)

    async def poll_once(self) -> list[Reading]:
        """Execute every planned request once and return one reading per polled point."""
        if not self.requests:  # only write-only points: nothing to poll
            return []
        self.polls += 1
        self._answered = False
        silent: ModbusError | None = None
        rtts: list[float] = []
        plan: list[ReadRequest] = []
        done: list[ReadRequest] = []  # what was asked this poll (split parts included), for the decoder
        results: list[list[int] | ModbusError] = []
        stamps: list[int] = []  # the time each request completed
        for req in self.requests:
            if silent is not None or (req.key in self.refused and self.polls % REPROBE_EVERY):
                # The unit did not answer this poll (do not spend a timeout per request), or a known hole
                # (reported without asking; re-asked every REPROBE_EVERY polls).
                plan.append(req)
                done.append(req)
                results.append(silent or ModbusError(Quality.DEVICE_EXCEPTION, "refused before"))
                stamps.append(time.time_ns() // 1_000_000)
                continue
            parts = await self._read(req, rtts)
            if len(parts) > 1:  # keep the split, re-joining neighbours that were both answered
                good = [part for part, result in parts if not isinstance(result, ModbusError)]
                bad = [part for part, result in parts if isinstance(result, ModbusError)]
                cap = self.profile.defaults.max_registers_per_request
                plan.extend(sorted([*rejoin(good, cap), *bad], key=lambda r: r.start))
            else:
                plan.append(req)
            for part, result in parts:
                ts_ms = time.time_ns() // 1_000_000
                if isinstance(result, ModbusError):
                    if result.quality in _SILENT and not self._answered:
                        silent = result
                    elif _splittable(result) and len(part.parts) == 1:
                        self.refused.add(part.key)
                else:
                    self.refused.discard(part.key)
                    self.last_good_ms = ts_ms
                done.append(part)
                results.append(result)
                stamps.append(ts_ms)
        if plan != self.requests:
            log.info(
                "%s: read plan now %d requests (was %d) after refused reads",
                self.device_id,
                len(plan),
                len(self.requests),
            )
            self.requests = plan
        if rtts:
            self.rtt_ms = sum(rtts) / len(rtts)
        self._update_state(self._answered, silent)
        return self._decoder(done).decode(results, stamps)

    def _decoder(self, requests: list[ReadRequest]) -> PlanDecoder:
        """The decoder compiled for this sequence of requests (compiled once, kept while the plan holds)."""
        key = tuple(r.key for r in requests)
        decoder = self._decoders.get(key)
        if decoder is None:
            if len(self._decoders) > 16:  # plans change only when a device refuses ranges: keep few
                self._decoders.clear()
            decoder = self._decoders[key] = PlanDecoder(self.device_id, self.profile, requests)
        return decoder

    async def _read(self, req: ReadRequest, rtts: list[float]) -> list[tuple[ReadRequest, list[int] | ModbusError]]:
        """Read ``req``; when the device refuses it, split it and read the halves (see the planner)."""
        started = time.perf_counter()
        try:
            values = await self.link.read(req.table, self.unit_id, req.start, req.count)
        except ModbusError as exc:
            self.reads_failed += 1
            self._note_failure(exc)
            if exc.quality not in _SILENT:
                self._answered = True
            # Split on a refused address range, or on a timeout of a unit that otherwise answers this poll.
            if len(req.parts) > 1 and (_splittable(exc) or (exc.quality is Quality.TIMEOUT and self._answered)):
                first, second = split(req, self.profile.pdu_address)
                return [*await self._read(first, rtts), *await self._read(second, rtts)]
            return [(req, exc)]
        rtts.append((time.perf_counter() - started) * 1000)
        self._answered = True
        self.reads_ok += 1
        return [(req, values)]

    def _update_state(self, answered: bool, silent: ModbusError | None) -> None:
        if answered:
            if self._failing or self.quarantined:
                log.info("%s: unit %d answers again", self.device_id, self.unit_id)
            self._failing = False
            self.failed_polls = 0
            self.quarantine_s = 0.0
            return
        self.failed_polls += 1
        if self.failed_polls >= QUARANTINE_AFTER:
            was = self.quarantine_s
            self.quarantine_s = min(QUARANTINE_MAX_S, max(self.interval_s * 2, was * 2))
            if not was:
                log.warning(
                    "%s: unit %d quarantined after %d silent polls (%s); retrying every %.0f s",
                    self.device_id, self.unit_id, self.failed_polls, silent, self.quarantine_s,
                )  # fmt: skip

    def _note_failure(self, exc: ModbusError) -> None:
        # Log a device's failure once and its recovery once, not every poll.
        if not self._failing:
            self._failing = True
            log.warning("%s: read failed (%s)", self.device_id, exc)
