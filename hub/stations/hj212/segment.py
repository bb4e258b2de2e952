"""The data segment of an HJ 212 packet: header fields and the ``CP=&&...&&`` command parameters (pure).

HJ 212-2017 §6.3.3, Table 3: ``QN=...;ST=...;CN=...;PW=...;MN=...;Flag=...;[PNUM=...;PNO=...;]CP=&&...&&``.
Inside ``CP`` (§6.3.4), fields are ``key=value`` pairs; ``;`` separates
pollutants (or groups) and ``,`` the fields of one pollutant, e.g.
``DataTime=20160801085857;a34004-Rtd=12.3,a34004-Flag=N;a34002-Rtd=30``.
HJ/T 212-2005 has the same layout; only the Flag bits and the codes differ.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from hub.stations.errors import StationError

CST = dt.timezone(dt.timedelta(hours=8), "CST")  # station clocks keep China Standard Time
MAX_SEGMENT = 1024  # §6.3.2 Table 2: the data segment is 0-1024 characters
MAX_FIELDS = 512
_HEADER_LIMITS = {"QN": 20, "ST": 5, "CN": 7, "PW": 9, "MN": 27, "Flag": 8, "PNUM": 9, "PNO": 9}
_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
FLAG_ACK = 0x01  # Flag bit A: the receiver must answer (§6.3.3, Table 3 note)
FLAG_SPLIT = 0x02  # Flag bit D: the packet is one of several (PNUM / PNO present)
FLAG_V2017 = 0x04  # Flag bits V5..V0 = 000001: the 2017 edition; 2005 packets have no version bits


@dataclass(frozen=True, slots=True)
class Segment:
    """A parsed data segment."""

    qn: str
    st: str
    cn: str
    pw: str
    mn: str
    flag: int
    pnum: int
    pno: int
    cp: tuple[tuple[str, str], ...]  # (key, value) in packet order (';' and ',' separate alike)

    @property
    def wants_ack(self) -> bool:
        """True when the sender asks for an answer (Flag bit A)."""
        return bool(self.flag & FLAG_ACK)

    @property
    def edition(self) -> str:
        """``"2017"`` when the version bits say so, else ``"2005"``."""
        return "2017" if self.flag >> 2 == 1 else "2005"


def parse_segment(text: str) -> Segment:
    """Parse a data segment; raise :class:`StationError` naming what is wrong."""
    head, sep, rest = text.partition("CP=&&")
    if not sep or not rest.endswith("&&"):
        raise StationError("bad_segment", "no 'CP=&&...&&' command parameters")
    fields: dict[str, str] = {}
    for item in head.split(";"):
        if not item:
            continue
        key, eq, value = item.partition("=")
        limit = _HEADER_LIMITS.get(key)
        if not eq or limit is None:
            raise StationError("bad_segment", f"unknown header field {item[:30]!r}")
        if len(value) > limit:
            raise StationError("bad_segment", f"{key} is longer than {limit} characters")
        fields[key] = value
    for need in ("ST", "CN", "MN"):
        if not fields.get(need):
            raise StationError("bad_segment", f"no {need}")
    cn = fields["CN"]
    if not cn.isdigit():
        raise StationError("bad_segment", f"CN {cn!r} is not a number")
    flag = _int(fields.get("Flag", "0"), "Flag", 255)
    pnum = _int(fields.get("PNUM", "1"), "PNUM", 9999)
    pno = _int(fields.get("PNO", "1"), "PNO", 9999)
    if not 1 <= pno <= max(pnum, 1):
        raise StationError("bad_segment", f"PNO {pno} is outside 1..PNUM ({pnum})")
    pairs = _parse_cp(rest[:-2])
    return Segment(fields.get("QN", ""), fields["ST"], cn, fields.get("PW", ""), fields["MN"], flag, pnum, pno, pairs)


def _int(text: str, name: str, high: int) -> int:
    if not text.isdigit() or int(text) > high:
        raise StationError("bad_segment", f"{name} {text[:12]!r} is not a number in 0..{high}")
    return int(text)


def _parse_cp(cp: str) -> tuple[tuple[str, str], ...]:
    """``key=value`` pairs separated by ``;`` (between pollutants) or ``,`` (fields of one pollutant)."""
    if not cp:
        return ()
    items = cp.replace(",", ";").split(";")
    if len(items) > MAX_FIELDS:
        raise StationError("bad_segment", f"more than {MAX_FIELDS} CP fields")
    pairs = []
    for item in items:
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq or not 0 < len(key) <= 40 or not _KEY.match(key):
            raise StationError("bad_segment", f"CP field {item[:40]!r} is not key=value")
        pairs.append((key, value))
    return tuple(pairs)


def encode_segment(qn: str, st: str, cn: str, pw: str, mn: str, flag: int, cp: str) -> bytes:
    """Write a data segment (``cp`` without the ``&&`` delimiters)."""
    qn_part = f"QN={qn};" if qn else ""
    return f"{qn_part}ST={st};CN={cn};PW={pw};MN={mn};Flag={flag};CP=&&{cp}&&".encode()


_TIMES: dict[tuple[str, dt.tzinfo], int] = {}  # stations of one city report the same DataTime: parse it once


def parse_time(text: str, tz: dt.tzinfo = CST) -> int:
    """``YYYYMMDDhhmmss`` (station local time, China Standard Time unless told) as UTC epoch milliseconds."""
    hit = _TIMES.get((text, tz))
    if hit is not None:
        return hit
    if len(text) != 14 or not text.isdigit():
        raise StationError("bad_time", f"time {text[:20]!r} is not YYYYMMDDhhmmss")
    try:
        when = dt.datetime(
            int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]), int(text[12:14]),
            tzinfo=tz,
        )  # fmt: skip
    except ValueError as exc:
        raise StationError("bad_time", f"time {text!r}: {exc}") from exc
    if len(_TIMES) > 10_000:
        _TIMES.clear()
    ms = _TIMES[(text, tz)] = int(when.timestamp()) * 1000
    return ms


def format_time(ts_ms: int, tz: dt.tzinfo = CST, *, millis: bool = False) -> str:
    """UTC epoch milliseconds as ``YYYYMMDDhhmmss`` (``...zzz`` with ``millis``: a QN) in station time."""
    when = dt.datetime.fromtimestamp(ts_ms / 1000, tz)
    text = when.strftime("%Y%m%d%H%M%S")
    return f"{text}{ts_ms % 1000:03d}" if millis else text
