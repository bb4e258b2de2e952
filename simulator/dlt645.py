"""Simulated DL/T 645 energy meters on one RS-485 line: served on a serial port or as a TCP serial server.

Each :class:`SimMeter` answers the data identifiers of its profile with
values of a street-lighting cabinet (lamps on from dusk to dawn): phase
voltages around 220 V, currents and power following the lamps, power factor,
50 Hz, and energy counters that only grow. It replies as a meter does
(DL/T 645-2007 §7.1 / the 1997 read): wake-up ``FE`` bytes, the normal reply
(C = 91H / 81H) with the DI echoed, or an abnormal reply (C = D1H / C1H) with
the error byte "no requested data" for a DI it does not have. It answers the
wildcard address ``AA..AA`` with its address (2007 §7.4; 1997: DI C032) and
takes the broadcast time (§7.6) silently. ``mute`` makes it a dead meter.

A :class:`MeterBus` is the line: every frame goes to every meter, as on a
real RS-485 pair, and only the addressed one answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import serial

from citysense.dlt645 import (
    ADDRESS_DI_1997,
    BROADCAST,
    FUNCTIONS,
    PREAMBLE,
    WILDCARD,
    Edition,
    Frame,
    FrameError,
    address_bytes,
    bcd_bytes,
    decode,
    encode,
)
from citysense.profiles.dlt645 import MeterProfile
from simulator.waveforms import EPOCH, diurnal, smooth_noise

log = logging.getLogger(__name__)

NO_DATA_2007, BAD_DI_1997 = 0x02, 0x04  # ERR bit 1 "无请求数据" (2007); bit 2 "数据标识错" (1997)


def _lamps_on(t: float) -> float:
    """1 from dusk to dawn, a little standby load by day."""
    return 1.0 if diurnal(t, 0.0) > -0.05 else 0.08


def meter_value(metric: str, t: float, seed: int, rated_kw: float) -> float:
    """The value of one of a meter's quantities at time ``t`` (pure: a function of time and seed)."""
    load = _lamps_on(t) * rated_kw
    if metric.startswith("voltage"):
        return 220.0 + 4 * smooth_noise(seed, metric, t, 30)
    if metric.startswith("power_factor"):
        return 0.93 + 0.02 * smooth_noise(seed, metric, t, 60)
    if metric.startswith("frequency"):
        return 50.0 + 0.03 * smooth_noise(seed, metric, t, 10)
    if metric.startswith("current"):
        share = 1.0 if metric == "current" else 1 / 3
        return load * share * 1000 / 220 / 0.93
    if metric.startswith("reactive_power"):
        return load * 0.39 * (1.0 if metric == "reactive_power" else 1 / 3)
    if metric.startswith("active_power"):
        return load * (1.0 if metric == "active_power" else 1 / 3)
    if metric.startswith("energy") and "export" in metric:
        return 0.0  # a lighting cabinet feeds nothing back
    if metric.startswith("energy"):
        mean_kw = rated_kw * (0.5 + 0.5 * 0.08)
        share = 1 / 3 if "phase" in metric else 0.25 if "tariff" in metric else 1.0
        return round((t - EPOCH) / 3600 * mean_kw * share, 2)
    return 0.0


class SimMeter:
    """One meter: its address, profile and the DIs it refuses."""

    def __init__(self, address: str, profile: MeterProfile, *, seed: int = 0, rated_kw: float = 3.0) -> None:
        self.address = address.zfill(12)
        self.profile = profile
        self.seed = seed
        self.rated_kw = rated_kw
        self.mute = False
        self.refuse: set[str] = set()  # DIs answered with an abnormal reply although in the profile
        self.garble: set[str] = set()  # DIs answered with a wrong checksum (noise on the line)
        self.clock_offset_s = 0.0  # set by a broadcast time
        self.requests = 0

    @property
    def edition(self) -> Edition:
        """The edition the meter speaks."""
        return self.profile.edition

    def value_bytes(self, di: str, t: float) -> bytes | None:
        """The value bytes of ``di`` (all the points of a block in place), or None when the meter has no such DI."""
        points = self.profile.reads().get(di.upper())
        if points is None or di.upper() in self.refuse:
            return None
        size = max(p.offset_bytes + p.size for p in points)
        out = bytearray(size)
        for p in points:
            value = meter_value(p.metric, t, self.seed, self.rated_kw)  # in the meter's own unit (kW, kWh)
            out[p.offset_bytes : p.offset_bytes + p.size] = bcd_bytes(value, p.size, p.decimals, signed=p.signed)
        return bytes(out)

    def respond(self, frame: Frame, now: float) -> bytes | None:
        """The reply to ``frame`` (with wake-up bytes), or None when the meter stays silent."""
        if frame.is_reply:
            return None
        fn = FUNCTIONS[self.edition]
        if frame.address == BROADCAST:
            if frame.function == fn.broadcast_time and len(frame.data) == 6 and not self.mute:
                self._set_clock(frame.data, now)
            return None
        if frame.address not in (self.address, WILDCARD):
            return None
        self.requests += 1  # frames addressed to it, answered or not
        if self.mute:
            return None
        if fn.read_address is not None and frame.function == fn.read_address:
            return encode(self.address, 0x80 | fn.read_address, address_bytes(self.address))
        if frame.function != fn.read or len(frame.data) != fn.di_bytes:
            return None  # writes and other commands: a real meter would ask for a password; not simulated
        echo = frame.data
        di = echo[::-1].hex().upper()
        if self.edition is Edition.V1997 and di == ADDRESS_DI_1997:
            return encode(self.address, 0x80 | fn.read, echo + address_bytes(self.address))
        value = self.value_bytes(di, now + self.clock_offset_s)
        if value is None:
            error = NO_DATA_2007 if self.edition is Edition.V2007 else BAD_DI_1997
            return encode(self.address, 0xC0 | fn.read, bytes([error]))
        reply = encode(self.address, 0x80 | fn.read, echo + value)
        return reply[:-2] + bytes([reply[-2] ^ 0x5A, reply[-1]]) if di in self.garble else reply

    def _set_clock(self, data: bytes, now: float) -> None:
        ss, mm, hh, dd, mo, yy = (int(f"{b:02x}") for b in data)
        when = datetime(2000 + yy, mo, dd, hh, mm, ss).timestamp()
        self.clock_offset_s = when - now
        log.info("meter %s: clock set by broadcast", self.address)


class MeterBus:
    """Meters sharing one line: every request reaches all of them."""

    def __init__(self, meters: Sequence[SimMeter], clock: Callable[[], float] = time.time) -> None:
        self.meters = list(meters)
        self.clock = clock
        self._buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Bytes from the line -> the replies to put on it."""
        self._buf = (self._buf + data)[-4096:]
        replies: list[bytes] = []
        while True:
            try:
                frame, used = decode(self._buf)
            except FrameError:
                self._buf = self._buf[1:]  # a garbled request: meters ignore it
                continue
            self._buf = self._buf[used:]
            if frame is None:
                return replies
            for meter in self.meters:
                reply = meter.respond(frame, self.clock())
                if reply is not None:
                    replies.append(reply)

    async def serve_serial(self, port: str, baudrate: int = 2400, parity: str = "E") -> None:
        """Answer on a serial port until cancelled."""
        ser = serial.Serial(port, baudrate=baudrate, parity=parity, timeout=0)
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        loop.add_reader(ser.fileno(), ready.set)
        try:
            while True:
                await ready.wait()
                ready.clear()
                for reply in self.feed(ser.read(max(1, ser.in_waiting))):
                    ser.write(reply)
        finally:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(ser.fileno())
            ser.close()

    async def serve_tcp(self, host: str, port: int, started: asyncio.Event | None = None) -> None:
        """Be a transparent serial server on ``host:port`` until cancelled (one line, any number of clients)."""

        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(512):
                    for reply in self.feed(data):
                        writer.write(reply)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(client, host, port)
        async with server:
            if started is not None:
                started.set()
            await server.serve_forever()


__all__ = ["PREAMBLE", "MeterBus", "SimMeter", "meter_value"]
