"""DL/T 645 frames and values (pure): the electricity meters' RS-485 protocol, 2007 and 1997 editions.

Frame (DL/T 645-2007 §5.2 "帧格式", unchanged from 1997)::

    [FE FE FE FE]  68  A0 A1 A2 A3 A4 A5  68  C  L  DATA(L bytes)  CS  16

* up to four ``FE`` wake-up bytes precede a frame (§5.3.1 "前导字节"); a
  receiver skips them and any other noise before ``68``;
* ``A0..A5`` the meter address, 12 BCD digits, lowest byte first (§5.2.2);
  ``AA..AA`` is the wildcard a single meter on the line answers to (used to
  read its address), ``99..99`` the broadcast address (no reply);
* ``C`` the control code (§5.2.3): D7 direction (1 = reply), D6 abnormal reply,
  D5 follow-up frame, D4..D0 the function;
* ``DATA`` is sent with 0x33 added to every byte and has it subtracted on
  receipt (§5.2.5); ``CS`` is the sum modulo 256 of every byte from the first
  ``68`` to the last data byte (§5.2.6).

Values are BCD, lowest byte first; for signed quantities (current, power,
power factor) the top bit of the highest byte is the sign (2007 Annex A
data formats, "最高位为符号位").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

START, END, WAKE, OFFSET = 0x68, 0x16, 0xFE, 0x33
WILDCARD = "AAAAAAAAAAAA"  # the one meter on the line answers (2007 §7.4 "读通信地址")
BROADCAST = "999999999999"  # every meter acts, none replies (2007 §7.6 "广播校时")
MAX_DATA = 200  # L of a reply is at most 200 (§5.2.4)
PREAMBLE = bytes([WAKE] * 4)


class Edition(enum.StrEnum):
    """Which edition of the standard a meter speaks."""

    V2007 = "2007"
    V1997 = "1997"


@dataclass(frozen=True)
class Functions:
    """Control codes (D4..D0) of one edition."""

    read: int
    read_address: int | None  # 1997 has none: its meters are asked for DI C032 at the wildcard address
    broadcast_time: int
    di_bytes: int


FUNCTIONS = {
    Edition.V2007: Functions(read=0x11, read_address=0x13, broadcast_time=0x08, di_bytes=4),  # 2007 §5.2.3
    Edition.V1997: Functions(read=0x01, read_address=None, broadcast_time=0x08, di_bytes=2),  # 1997 "控制码"
}
REPLY, ABNORMAL, FOLLOWS = 0x80, 0x40, 0x20
ADDRESS_DI_1997 = "C032"  # 1997 Table A: 表号 (meter number), read to learn the address

# Error information word (ERR) of an abnormal reply, bits D0..D6 (2007 §7.1 "异常应答帧" and its 错误信息字 table).
ERRORS_2007 = {
    0: "other error",
    1: "no requested data",
    2: "password error or not authorised",
    3: "baud rate cannot be changed",
    4: "too many year time zones",
    5: "too many day time segments",
    6: "too many tariffs",
}
# 1997: the abnormal reply carries one error byte with these bits (1997 错误信息字).
ERRORS_1997 = {1: "illegal data", 2: "data identifier error", 3: "password error", 6: "too many tariffs"}


class FrameError(ValueError):
    """Bytes that are not a valid DL/T 645 frame."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame: address as printed (12 digits), control code, data with 0x33 removed."""

    address: str
    control: int
    data: bytes

    @property
    def is_reply(self) -> bool:
        """Sent by a meter."""
        return bool(self.control & REPLY)

    @property
    def abnormal(self) -> bool:
        """An exception reply: ``data`` is the error byte."""
        return bool(self.control & ABNORMAL)

    @property
    def function(self) -> int:
        """D4..D0 of the control code."""
        return self.control & 0x1F


def address_bytes(address: str) -> bytes:
    """``"000102030425"`` -> ``25 04 03 02 01 00`` (BCD, lowest byte first); ``AA``/``99`` kept as they are."""
    if len(address) != 12 or not all(c in "0123456789Aa" for c in address):
        raise FrameError(f"address {address!r} is not 12 digits")
    return bytes.fromhex(address)[::-1]


def checksum(body: bytes) -> int:
    """Sum modulo 256 of every byte from the first ``68`` (§5.2.6)."""
    return sum(body) & 0xFF


def encode(address: str, control: int, data: bytes = b"", *, preamble: bool = True) -> bytes:
    """A frame as sent on the line, with the wake-up bytes unless ``preamble`` is false."""
    if len(data) > 255:
        raise FrameError("data longer than 255 bytes")
    body = bytes([START, *address_bytes(address), START, control, len(data), *((b + OFFSET) & 0xFF for b in data)])
    return (PREAMBLE if preamble else b"") + body + bytes([checksum(body), END])


def decode(buf: bytes) -> tuple[Frame | None, int]:
    """Find the first complete frame in ``buf``: ``(frame, bytes consumed)``; ``(None, n)`` needs more bytes.

    Noise and wake-up bytes before a frame are skipped (counted in the consumed bytes). A frame with a wrong
    checksum or end byte raises :class:`FrameError` after the caller has seen it whole.
    """
    start = buf.find(bytes([START]))
    if start < 0:
        return None, len(buf)
    head = buf[start:]
    if len(head) < 10:
        return None, start
    if head[7] != START or head[9] > MAX_DATA:  # a 68 that does not start a frame (noise, a data byte): skip it
        return decode_from(buf, start + 1)
    size = 12 + head[9]
    if len(head) < size:
        return None, start
    body, cs, end = head[: size - 2], head[size - 2], head[size - 1]
    if checksum(body) != cs or end != END:
        raise FrameError(f"bad checksum or end byte in {head[:size].hex(' ')}")
    address = bytes(body[1:7][::-1]).hex().upper()
    data = bytes((b - OFFSET) & 0xFF for b in body[10:])
    return Frame(address, body[8], data), start + size


def decode_from(buf: bytes, offset: int) -> tuple[Frame | None, int]:
    """:func:`decode` from ``offset``, counting the skipped bytes."""
    frame, used = decode(buf[offset:])
    return frame, offset + used


def di_bytes(di: str) -> bytes:
    """A data identifier as printed (``"02010100"``: DI3 DI2 DI1 DI0) -> sent order DI0..DI3."""
    return bytes.fromhex(di)[::-1]


def read_request(edition: Edition, address: str, di: str) -> bytes:
    """Read one data identifier (2007 §7.1 "读数据"; 1997 control code 01H)."""
    return encode(address, FUNCTIONS[edition].read, di_bytes(di))


def read_address_request(edition: Edition) -> bytes:
    """Ask the only meter on the line for its address (2007 §7.4; 1997: read DI C032 at ``AA..AA``)."""
    fn = FUNCTIONS[edition]
    if fn.read_address is None:
        return read_request(edition, WILDCARD, ADDRESS_DI_1997)
    return encode(WILDCARD, fn.read_address)


def time_sync_request(when: datetime) -> bytes:
    """Broadcast time (2007 §7.6 "广播校时", 1997 likewise 08H): ``ss mm hh DD MM YY`` BCD at ``99..99``, no reply."""
    fields = (when.second, when.minute, when.hour, when.day, when.month, when.year % 100)
    return encode(BROADCAST, 0x08, bytes(to_bcd_byte(v) for v in fields))


def to_bcd_byte(value: int) -> int:
    """0..99 -> one BCD byte."""
    if not 0 <= value <= 99:
        raise FrameError(f"{value} does not fit one BCD byte")
    return (value // 10) << 4 | value % 10


def bcd_value(raw: bytes, decimals: int, *, signed: bool = False) -> float | int:
    """BCD bytes (lowest first) -> number; raises :class:`FrameError` on a nibble above 9."""
    data = bytearray(raw[::-1])
    negative = signed and bool(data[0] & 0x80)
    if signed:
        data[0] &= 0x7F
    digits = data.hex()
    if not digits.isdigit():
        raise FrameError(f"{raw.hex(' ')} is not BCD")
    number = int(digits)
    value: float | int = number if decimals == 0 else round(number / 10**decimals, decimals)
    return -value if negative else value


def bcd_bytes(value: float, size: int, decimals: int, *, signed: bool = False) -> bytes:
    """Number -> BCD bytes (lowest first), the inverse of :func:`bcd_value` (for meters and tests)."""
    number = round(abs(value) * 10**decimals)
    digits = f"{number:0{size * 2}d}"
    if len(digits) > size * 2:
        raise FrameError(f"{value} does not fit {size} BCD bytes")
    data = bytearray.fromhex(digits)
    if signed and data[0] & 0x80:
        raise FrameError(f"{value} leaves no room for the sign bit")
    if signed and value < 0:
        data[0] |= 0x80
    return bytes(data[::-1])


def error_text(edition: Edition, error: int) -> str:
    """The meaning of an error byte's set bits."""
    table = ERRORS_2007 if edition is Edition.V2007 else ERRORS_1997
    names = [table.get(bit, f"bit {bit}") for bit in range(8) if error >> bit & 1]
    return ", ".join(names) or "no error bit set"
