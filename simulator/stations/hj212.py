"""A simulated HJ 212-2017 monitor: dials in, reports, waits for the data answer, re-sends, obeys 1012.

Behaves as HJ 212-2017 §6.6 describes a field machine: an upload with Flag
bit A set waits ``ack_timeout_s`` for the 9014 answer and is re-sent up to
``retries`` times (then kept and sent again after reconnecting); its clock
drifts by ``drift_s_per_h`` until the hub sets it (1012, answered 9011 then
9012). The packet codec is the hub's own pure one (``hub.stations.hj212``),
checked against the standard's example vectors in the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.stations.hj212.framer import PacketError, PacketSplitter
from hub.stations.hj212.protocol import packet
from hub.stations.hj212.segment import encode_segment, format_time, parse_segment, parse_time

log = logging.getLogger(__name__)
Values = Callable[[int], dict[str, tuple[float, str]]]  # ts_ms -> {pollutant code: (value, flag)}


def air_quality(ts_ms: int) -> dict[str, tuple[float, str]]:
    """PM2.5 and the others of a downtown monitor: a morning-rush episode every 20 minutes, above 115 μg/m³."""
    t = ts_ms / 1000
    episode = max(0.0, math.sin(2 * math.pi * t / 1200)) ** 4 * 140
    pm25 = 35 + 10 * math.sin(2 * math.pi * t / 300) + episode
    return {
        "a34004": (round(pm25, 1), "N"),
        "a34002": (round(pm25 * 1.6, 1), "N"),
        "a21026": (8.0 + 2 * math.sin(t / 400), "N"),
        "a21004": (30.0 + 8 * math.sin(t / 500), "N"),
        "a05024": (60.0 + 20 * math.sin(t / 900), "N"),
        "a21005": (0.7 + 0.1 * math.sin(t / 700), "N"),
        "a01001": (24.0 + 3 * math.sin(t / 3600), "N"),
        "a01002": (70.0, "N"),
    }


@dataclass
class MonitorStats:
    """What the monitor sent and what the hub confirmed."""

    sent: int = 0
    resent: int = 0
    confirmed: int = 0
    confirmed_keys: list[str] = field(default_factory=list)


class Hj212Monitor:
    """One monitor's link to the hub."""

    def __init__(
        self,
        mn: str,
        password: str,
        host: str,
        port: int,
        values: Values,
        *,
        st: str = "22",
        ack_timeout_s: float = 5.0,
        retries: int = 3,
        drift_s_per_h: float = 0.0,
    ) -> None:
        self.mn, self.password, self.host, self.port = mn, password, host, port
        self.values, self.st = values, st
        self.ack_timeout_s, self.retries = ack_timeout_s, retries
        self.drift_s_per_h = drift_s_per_h
        self._offset_ms = 0.0
        self._started = time.monotonic()
        self.stats = MonitorStats()
        self.backlog: deque[bytes] = deque(maxlen=10_000)  # unconfirmed uploads, re-sent after a reconnect
        self._acks: dict[str, asyncio.Event] = {}
        self._writer: asyncio.StreamWriter | None = None

    def clock_ms(self) -> int:
        """The monitor's own clock: real time plus its drift since the last time it was set."""
        drift = (time.monotonic() - self._started) / 3600 * self.drift_s_per_h * 1000
        return int(time.time() * 1000 + self._offset_ms + drift)

    def upload(self, cn: str, ts_ms: int, qn_ms: int | None = None) -> bytes:
        """The upload packet of ``cn`` for the values at ``ts_ms`` (Flag 5: 2017 edition, answer wanted)."""
        parts = [f"DataTime={format_time(ts_ms)}"]
        field_name = "Rtd" if cn == "2011" else "Avg"
        for code, (value, flag) in self.values(ts_ms).items():
            parts.append(f"{code}-{field_name}={value:.3f},{code}-Flag={flag}")
        qn = format_time(qn_ms if qn_ms is not None else ts_ms, millis=True)
        return packet(encode_segment(qn, self.st, cn, self.password, self.mn, 5, ";".join(parts)))

    async def connect(self) -> None:
        """Dial in and start answering the hub."""
        reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._reader_task = asyncio.create_task(self._read(reader), name=f"sim:hj212:{self.mn}")

    async def close(self) -> None:
        """Hang up."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        task = getattr(self, "_reader_task", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def send(self, pkt: bytes) -> bool:
        """Send an upload and wait for its 9014 answer, re-sending on timeout; ``False`` if never confirmed."""
        assert self._writer is not None
        qn = parse_segment(pkt[6:-6].decode()).qn
        done = self._acks.setdefault(qn, asyncio.Event())
        for attempt in range(self.retries + 1):
            self._writer.write(pkt)
            await self._writer.drain()
            self.stats.sent += 1
            if attempt:
                self.stats.resent += 1
            try:
                async with asyncio.timeout(self.ack_timeout_s):
                    await done.wait()
            except TimeoutError:
                continue
            self._acks.pop(qn, None)
            self.stats.confirmed += 1
            self.stats.confirmed_keys.append(qn)
            return True
        self.backlog.append(pkt)
        return False

    async def _read(self, reader: asyncio.StreamReader) -> None:
        splitter = PacketSplitter()
        while data := await reader.read(4096):
            for item in splitter.feed(data):
                if isinstance(item, PacketError):
                    log.warning("%s: bad packet from the hub: %s", self.mn, item)
                    continue
                await self._on_packet(item.decode())

    async def _on_packet(self, text: str) -> None:
        seg = parse_segment(text)
        if seg.cn == "9014":
            event = self._acks.get(seg.qn)
            if event is not None:
                event.set()
            return
        if seg.cn == "1012":  # set the clock: answer 9011 (ready), set it, answer 9012 (done)
            await self._answer(seg.qn, "9011", "QnRtn=1")
            fields = dict(seg.cp)
            self._offset_ms = parse_time(fields["SystemTime"]) - time.time() * 1000
            self._started = time.monotonic()
            await self._answer(seg.qn, "9012", "ExeRtn=1")
        elif seg.cn == "1011":
            await self._answer(seg.qn, "9011", "QnRtn=1")
            await self._answer(seg.qn, "1011", f"SystemTime={format_time(self.clock_ms())}")

    async def _answer(self, qn: str, cn: str, cp: str) -> None:
        assert self._writer is not None
        self._writer.write(packet(encode_segment(qn, "91", cn, self.password, self.mn, 4, cp)))
        await self._writer.drain()

    async def run(self, cn: str = "2011", interval_s: float = 60.0) -> None:
        """Report every ``interval_s`` on the monitor's clock, reconnecting after a lost link, until cancelled."""
        while True:
            try:
                await self.connect()
                while self.backlog:
                    if not await self.send(self.backlog.popleft()):
                        break
                while True:
                    await self.send(self.upload(cn, self.clock_ms()))
                    await asyncio.sleep(interval_s)
            except (ConnectionError, OSError) as exc:
                log.info("%s: link lost (%s); dialling again", self.mn, exc)
            finally:
                await self.close()
            await asyncio.sleep(min(interval_s, 10.0))
