"""The CRC of an SL 651-2014 frame.

SL 651-2014 clause 6.3.3 (and Appendix B): CRC16 with the generator
x^16 + x^15 + x^2 + 1 processed LSB-first (0xA001 reflected), initial value
0xFFFF, over every byte from the start characters through the end character;
it is sent high byte first (HEX) or as four hex digits (ASCII). The worked
example ``7E7E01001234567812342F0008020003591011155111036BCA`` ends in CRC 6BCA.
"""

from __future__ import annotations


def _table() -> tuple[int, ...]:
    rows = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        rows.append(crc)
    return tuple(rows)


_TABLE = _table()


def crc16(data: bytes | bytearray | memoryview) -> int:
    """Return the SL 651 CRC16 of ``data``."""
    crc = 0xFFFF
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc
