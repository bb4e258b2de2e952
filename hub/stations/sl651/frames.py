"""One SL 651-2014 frame: header, body, end character and CRC, in both encodings.

Clause 6.3 (Table 3, HEX/BCD):  ``7E 7E`` | central station address (1) |
station address (5) | password (2) | function (1) | up/down flag (high 4 bits)
+ body length (low 12 bits) (2) | STX, or SYN + packet total/sequence (3) |
body | ETX/ETB (uplink) or ENQ/ACK/NAK/EOT/ESC (downlink) | CRC16 (2).
A downlink frame names the station before the central station.

Clause 6.3 (ASCII): ``SOH`` (01H) and the same fields written as hex
characters (2+10+4+2+4, and 6 for the packet total/sequence), the body as ASCII
text, the end character as one byte and the CRC as four hex characters. The
body length counts body bytes (characters), without the packet information.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hub.stations.sl651 import codes
from hub.stations.sl651.crc import crc16

Encoding = Literal["hex", "ascii"]
HEX_HEADER = 14  # through the start character
ASCII_HEADER = 24
_HEXDIGITS = frozenset(b"0123456789ABCDEFabcdef")


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame whose length, end character and CRC were checked."""

    encoding: Encoding
    down: bool
    center: int
    station: str  # 10 hex digits, upper case
    password: str  # 4 hex digits, upper case
    function: int
    body: bytes
    end: int
    packet: tuple[int, int] | None = None  # (total, sequence) after SYN
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class Malformed:
    """Bytes at a start marker that are no frame; skip ``skip`` bytes and look again."""

    reason: str
    detail: str
    skip: int
    raw: bytes = b""


NEED_MORE = None


def parse(buf: bytes, *, down: bool, max_frame: int) -> Frame | Malformed | None:
    """Parse the frame that starts ``buf`` (at a start marker); ``None`` until it is complete."""
    ascii_ = buf[:1] == codes.SOH_ASCII
    header = ASCII_HEADER if ascii_ else HEX_HEADER
    if ascii_:
        seen = buf[1 : min(len(buf), header - 1)]
        if any(c not in _HEXDIGITS for c in seen):
            return Malformed("bad_header", f"not hex characters in an ASCII header: {seen!r}", 1)
    if len(buf) < header:
        return NEED_MORE
    fields = _ascii_fields(buf) if ascii_ else _hex_fields(buf)
    word, start = fields[4], buf[header - 1]
    flag, length = word >> 12, word & 0x0FFF
    if flag not in (codes.UP, codes.DOWN):
        return Malformed("bad_header", f"up/down flag {flag:X}H is neither 0 nor 8", len(codes.SOH_HEX) - ascii_)
    if start not in (codes.STX, codes.SYN):
        return Malformed("bad_start", f"body start {start:02X}H is neither STX nor SYN", 2 - ascii_)
    packet_len = (6 if ascii_ else 3) if start == codes.SYN else 0
    crc_len = 4 if ascii_ else 2
    size = header + packet_len + length + 1 + crc_len
    if size > max_frame:
        return Malformed("frame_too_large", f"{size} bytes > limit {max_frame}", 2 - ascii_)
    is_down = flag == codes.DOWN
    ends = codes.DOWN_END if is_down else codes.UP_END
    if packet_len and length >= packet_len and _crc_ok(buf, size - packet_len, crc_len, ends, ascii_):
        # some RTUs count the packet information in the body length; accept their frames too
        size, length = size - packet_len, length - packet_len
    if len(buf) < size:
        return NEED_MORE
    if buf[size - 1 - crc_len] not in ends:
        return Malformed("bad_length", f"no end character after a body of {length} bytes", 2 - ascii_)
    frame = bytes(buf[:size])
    sent = frame[-crc_len:]
    if ascii_:
        if any(c not in _HEXDIGITS for c in sent):
            return Malformed("bad_crc", f"CRC {sent!r} is not 4 hex characters", size, frame)
        sent_crc = int(sent, 16)
    else:
        sent_crc = int.from_bytes(sent, "big")
    crc = crc16(frame[:-crc_len])
    if crc != sent_crc:
        return Malformed("bad_crc", f"CRC {sent_crc:04X} sent, {crc:04X} computed", size, frame)
    if is_down != down:  # checked after the CRC, so that the whole frame is skipped
        want = "downlink" if down else "uplink"
        return Malformed("bad_direction", f"expected an {want} frame, got flag {flag:X}H", size, frame)
    packet = None
    if packet_len:
        info = frame[header : header + packet_len]
        if ascii_ and any(c not in _HEXDIGITS for c in info):
            return Malformed("bad_packet", f"packet information {info!r} is not 6 hex characters", size, frame)
        number = int(info, 16) if ascii_ else int.from_bytes(info, "big")
        packet = (number >> 12, number & 0x0FFF)
    center, station, password, function = fields[:4]
    return Frame(
        encoding="ascii" if ascii_ else "hex",
        down=down,
        center=center,
        station=station,
        password=password,
        function=function,
        body=frame[header + packet_len : header + packet_len + length],
        end=frame[size - 1 - crc_len],
        packet=packet,
        raw=frame,
    )


def _crc_ok(buf: bytes, size: int, crc_len: int, ends: frozenset[int], ascii_: bool) -> bool:
    """Tell whether ``buf`` holds a whole frame of ``size`` bytes with a valid end character and CRC."""
    if len(buf) < size or buf[size - 1 - crc_len] not in ends:
        return False
    sent = buf[size - crc_len : size]
    if ascii_:
        return all(c in _HEXDIGITS for c in sent) and int(sent, 16) == crc16(buf[: size - crc_len])
    return int.from_bytes(sent, "big") == crc16(buf[: size - crc_len])


def _hex_fields(buf: bytes) -> tuple[int, str, str, int, int]:
    first, second = (buf[2:7], buf[7]) if buf[11] >> 4 == codes.DOWN else (buf[3:8], buf[2])
    return second, first.hex().upper(), buf[8:10].hex().upper(), buf[10], int.from_bytes(buf[11:13], "big")


def _ascii_fields(buf: bytes) -> tuple[int, str, str, int, int]:
    text = buf[1:23].decode("ascii").upper()
    down = int(text[18], 16) == codes.DOWN
    center, station = (text[10:12], text[0:10]) if down else (text[0:2], text[2:12])
    return int(center, 16), station, text[12:16], int(text[16:18], 16), int(text[18:22], 16)


def build(
    *,
    encoding: Encoding,
    down: bool,
    center: int,
    station: str,
    password: str,
    function: int,
    body: bytes,
    end: int,
    packet: tuple[int, int] | None = None,
) -> bytes:
    """Encode one frame (header, body, end character, CRC)."""
    if len(body) > 0x0FFF:
        raise ValueError(f"body of {len(body)} bytes exceeds the 12-bit length field")
    word = ((codes.DOWN if down else codes.UP) << 12) | len(body)
    station_b, center_b = bytes.fromhex(station), bytes([center])
    addresses = station_b + center_b if down else center_b + station_b
    start = bytes([codes.SYN if packet else codes.STX])
    info = (packet[0] << 12 | packet[1]).to_bytes(3, "big") if packet else b""
    if encoding == "ascii":
        head = (addresses.hex() + password + f"{function:02X}{word:04X}").upper().encode("ascii")
        frame = codes.SOH_ASCII + head + start + info.hex().upper().encode("ascii") + body + bytes([end])
        return frame + f"{crc16(frame):04X}".encode("ascii")
    head = codes.SOH_HEX + addresses + bytes.fromhex(password) + bytes([function]) + word.to_bytes(2, "big")
    frame = head + start + info + body + bytes([end])
    return frame + crc16(frame).to_bytes(2, "big")
