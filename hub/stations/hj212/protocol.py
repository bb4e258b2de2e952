"""HJ 212 as a station protocol: packets into reports, answers and refusals; downlink commands (sans-IO).

* Data uploads (2011 real-time, 2051 minute, 2061 hourly, 2031 daily, 2021
  running state, 2041 running time, 3020 field machine information) become a
  :class:`Report` whose reply is the data answer 9014 when Flag bit A asks for
  one (HJ 212-2017 §6.6.4, Annex C "数据应答"); a split upload (Flag bit D,
  PNUM/PNO, §6.3.3) is a report per packet, each answered once stored.
* 9011 (request answer, QnRtn), 9012 (execution result, ExeRtn), 9013/9014
  and 1011's answer are :class:`Control` events for the command waiting on them.
* 1013 (the station asks for the time) is answered at once with 1012, the
  hub's clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from citysense.quality import Quality
from hub.stations.base import Control, Event, Observation, Refusal, Report
from hub.stations.errors import StationError
from hub.stations.hj212 import codes
from hub.stations.hj212.crc import crc_hex
from hub.stations.hj212.framer import MAX_PACKET, PacketError, PacketSplitter
from hub.stations.hj212.segment import (
    FLAG_V2017,
    Segment,
    encode_segment,
    format_time,
    parse_segment,
    parse_time,
)

Clock = Callable[[], int]  # UTC epoch milliseconds


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def packet(segment: bytes) -> bytes:
    """Wrap a data segment as a packet: ``##`` + length + segment + CRC + CRLF (§6.3.2)."""
    return b"##%04d%s%s\r\n" % (len(segment), segment, crc_hex(segment))


class Hj212Framer:
    """One connection's HJ 212 stream."""

    def __init__(self, clock: Clock = _now_ms) -> None:
        self.splitter = PacketSplitter()
        self.clock = clock
        self._datatime: dict[tuple[str, str], str] = {}  # (MN, QN) -> DataTime of a split upload's first packet

    def feed(self, data: bytes) -> list[Event]:
        """Consume ``data``; return the events of every packet it completes. Never raises."""
        events: list[Event] = []
        for item in self.splitter.feed(data):
            if isinstance(item, PacketError):
                events.append(Refusal(item.reason, item.detail, item.raw))
                continue
            try:
                events.append(self._event(item))
            except StationError as exc:
                events.append(Refusal(exc.reason, exc.detail, item[:256], _mn_of(item)))
        return events

    def close(self) -> list[Event]:
        """The connection is gone: refuse a packet cut off mid-way."""
        err = self.splitter.flush()
        return [] if err is None else [Refusal(err.reason, err.detail, err.raw)]

    def _event(self, raw: bytes) -> Event:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise StationError("bad_segment", f"non-ASCII byte at {exc.start}") from exc
        seg = parse_segment(text)
        cn = seg.cn
        if cn in codes.DATA_WINDOWS:
            return self._report(seg, raw)
        if cn in codes.ANSWERS or cn == codes.CN_GET_TIME:
            return Control(seg.mn, cn, None, seg.pw, {"qn": seg.qn, **dict(seg.cp)}, raw)
        if cn == codes.CN_TIME_CALIBRATION_REQUEST:
            cp = f"SystemTime={format_time(self.clock())}"
            reply = _downlink(seg.st, codes.CN_SET_TIME, seg.pw, seg.mn, seg.flag & ~0x03 | 0x01, cp, self.clock())
            return Control(seg.mn, cn, reply, seg.pw, {"qn": seg.qn}, raw)
        raise StationError("unknown_command", f"CN {cn} is not a command this hub takes")

    def _report(self, seg: Segment, raw: bytes) -> Report:
        fields = dict(seg.cp)
        key = (seg.mn, seg.qn)
        datatime = fields.get("DataTime") or self._datatime.get(key)
        if datatime is None:
            raise StationError("bad_segment", f"CN {seg.cn}: no DataTime")
        if seg.pnum > 1:
            self._datatime[key] = datatime
            if len(self._datatime) > 64:  # split uploads finish in order; keep a few
                self._datatime.pop(next(iter(self._datatime)))
        ts_ms = parse_time(datatime)
        observations = tuple(_observations(seg, ts_ms))
        reply = None
        if seg.wants_ack:
            # The data answer repeats the upload's QN (HJ 212-2017 Annex C, 9014 "数据应答").
            flag = FLAG_V2017 if seg.edition == "2017" else 0
            reply = packet(encode_segment(seg.qn, codes.ST_SYSTEM, codes.CN_DATA_ANSWER, seg.pw, seg.mn, flag, ""))
        extra = {"qn": seg.qn, "st": seg.st, "edition": seg.edition, "pnum": seg.pnum, "pno": seg.pno}
        return Report(seg.mn, seg.cn, f"{seg.cn}:{datatime}:{seg.pno}", observations, reply, seg.pw, raw, extra)


def _observations(seg: Segment, ts_ms: int) -> list[Observation]:
    flags: dict[str, str] = {}
    values: list[tuple[str, str]] = []
    skip = codes.NON_VALUE_FIELDS
    for key, value in seg.cp:
        code, _, field = key.rpartition("-")
        if not code:
            continue  # DataTime, PolId and other parameters without a pollutant
        if field == "Flag":
            flags[code] = value
        elif field not in skip:
            values.append((key, value))
    out = []
    good, flag_quality = Quality.GOOD, codes.FLAG_QUALITY
    for key, text in values:
        letter = flags.get(key.rpartition("-")[0], "N")
        quality = good if letter == "N" else flag_quality.get(letter, Quality.DECODE_ERROR)
        try:
            number: float | None = float(text)
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            number, quality = None, Quality.DECODE_ERROR
        out.append(Observation(key, number, ts_ms, quality, detail=letter))
    return out


def _mn_of(raw: bytes) -> str | None:
    start = raw.find(b"MN=")
    if start < 0:
        return None
    end = raw.find(b";", start)
    return raw[start + 3 : end if end > 0 else start + 27].decode("ascii", "replace")[:24] or None


def _downlink(st: str, cn: str, pw: str, mn: str, flag: int, cp: str, now_ms: int) -> bytes:
    return packet(encode_segment(format_time(now_ms, millis=True), st, cn, pw, mn, flag, cp))


class Hj212Protocol:
    """HJ 212-2017 (and 2005) for the station gateway."""

    name = "hj212"
    max_frame = MAX_PACKET
    windows = codes.DATA_WINDOWS  # the window an upload's -Avg/-Min/-Max/-Cou belong to, by CN

    def __init__(self, clock: Clock = _now_ms, st: str = "22") -> None:
        self.clock = clock
        self.st = st  # system code of the hub's commands: 22 ambient air quality unless the station says otherwise

    def framer(self) -> Hj212Framer:
        """A fresh framer for a new connection."""
        return Hj212Framer(self.clock)

    def command(self, station: str, password: str | None, action: str, args: Mapping[str, Any]) -> bytes:
        """Encode a downlink request (Annex C): ``clock_set`` (1012), ``clock_query`` (1011), ``query_*``..."""
        cn = codes.ACTIONS.get(action)
        if cn is None:
            raise StationError("unknown_action", f"HJ 212 has no action '{action}' ({', '.join(codes.ACTIONS)})")
        now = self.clock()
        cp = ""
        if action == "clock_set":
            cp = f"SystemTime={format_time(int(args.get('ts_ms', now)))}"
        elif action in ("query_minute", "query_hourly", "query_daily"):
            begin, end = args.get("begin_ms"), args.get("end_ms")
            if not isinstance(begin, int) or not isinstance(end, int) or begin > end:
                raise StationError("bad_args", f"{action} needs integer begin_ms <= end_ms")
            cp = f"BeginTime={format_time(begin)};EndTime={format_time(end)}"
        st = str(args.get("st", self.st))
        # Flag 5: the 2017 edition, and the station must answer (9011 then 9012).
        return _downlink(st, cn, password or "", station, FLAG_V2017 | 0x01, cp, now)
