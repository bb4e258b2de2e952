"""Cut an HJ 212 byte stream into packets; skip garbage to the next ``##`` (pure).

HJ 212-2017 §6.3.2, Table 2: header ``##``, data length as four decimal
digits (the data segment's length in bytes, 0-1024), the data segment, its
CRC16 as four hexadecimal digits (Annex A), and ``\\r\\n``.
"""

from __future__ import annotations

from hub.stations.hj212.crc import crc16
from hub.stations.hj212.segment import MAX_SEGMENT

HEADER = b"##"
TAIL = b"\r\n"
OVERHEAD = 2 + 4 + 4 + 2
MAX_PACKET = MAX_SEGMENT + OVERHEAD


class PacketError(Exception):
    """Bytes skipped, with a refusal reason; ``raw`` is what was dropped."""

    def __init__(self, reason: str, detail: str, raw: bytes) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.raw = reason, detail, raw


def _skip(buf: bytearray) -> None:
    """Drop a refused packet's start up to the next header (its bytes are part of the same refusal)."""
    nxt = buf.find(HEADER, 2)
    keep = 1 if buf.endswith(b"#") else 0  # a next header may begin in the last byte
    del buf[: nxt if nxt > 0 else max(len(buf) - keep, 2)]


class PacketSplitter:
    """Buffer of one connection; :meth:`feed` returns data segments and skipped-byte errors in order."""

    def __init__(self, max_segment: int = MAX_SEGMENT) -> None:
        self.max_segment = max_segment
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a packet."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | PacketError]:
        """Add ``data``; return every complete data segment (CRC checked) or error, in stream order."""
        buf = self._buf
        buf += data
        out: list[bytes | PacketError] = []
        while buf:
            start = buf.find(HEADER)
            while 0 <= start < len(buf) - 2 and buf[start + 2] == 0x23:  # "###": the header is the last two
                start += 1
            if start < 0:
                keep = 1 if buf.endswith(b"#") else 0  # a header may be split across reads
                if len(buf) > keep:
                    out.append(PacketError("garbage", f"{len(buf) - keep} bytes before a header", bytes(buf[:16])))
                    del buf[: len(buf) - keep]
                break
            if start:
                out.append(PacketError("garbage", f"{start} bytes before a header", bytes(buf[: min(start, 16)])))
                del buf[:start]
            if len(buf) < 6:
                break
            digits = bytes(buf[2:6])
            if not digits.isdigit():
                out.append(PacketError("bad_length", f"length field {digits!r} is not 4 digits", bytes(buf[:16])))
                _skip(buf)
                continue
            size = int(digits)
            if size > self.max_segment:
                out.append(PacketError("frame_too_long", f"data segment of {size} > {self.max_segment} bytes", digits))
                _skip(buf)
                continue
            end = 6 + size + 4 + 2
            if len(buf) < end:
                nxt = buf.find(TAIL + HEADER, 6)
                if nxt >= 0:  # another packet begins before this one's announced end: its length was wrong
                    out.append(PacketError("bad_length", f"packet ends before its {size} bytes", bytes(buf[:16])))
                    del buf[: nxt + 2]
                    continue
                break
            if buf[end - 2 : end] != TAIL:
                out.append(PacketError("bad_length", f"no CRLF after {size} data bytes and the CRC", bytes(buf[:16])))
                _skip(buf)
                continue
            segment = bytes(buf[6 : 6 + size])
            crc_text = bytes(buf[6 + size : 6 + size + 4])
            del buf[:end]
            try:
                sent = int(crc_text, 16)
            except ValueError:
                sent = -1
            if sent != crc16(segment):
                out.append(PacketError("bad_crc", f"CRC {crc_text!r} != {crc16(segment):04X}", segment[:64]))
                continue
            out.append(segment)
        return out

    def flush(self) -> PacketError | None:
        """The connection closed: what is left is a packet cut off mid-way (or garbage)."""
        if not self._buf:
            return None
        err = PacketError("truncated", f"connection closed {len(self._buf)} bytes into a packet", bytes(self._buf[:64]))
        self._buf.clear()
        return err
