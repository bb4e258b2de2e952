"""The CRC16 of HJ 212-2017 Annex A ("CRC 校验算法").

It is *not* CRC-16/MODBUS: each byte is XORed into the register's high byte
shifted down (``crc = (crc >> 8) ^ byte``) before eight shifts with the
polynomial 0xA001. The register starts at 0xFFFF; the packet carries the
result as four hexadecimal digits after the data segment (§6.3.2, Table 2).
The standard's own example (§6.3.2): the data segment
``QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&``
has the CRC ``1C80``.
"""

from __future__ import annotations


def _table() -> tuple[int, ...]:
    out = []
    for byte in range(256):
        reg = byte
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
        out.append(reg)
    return tuple(out)


_TABLE = _table()
_HIGH = bytes(v >> 8 for v in _TABLE)


def crc16(data: bytes) -> int:
    """Return the HJ 212 CRC16 of ``data`` (the data segment)."""
    # Each step is reg = TABLE[(reg >> 8) ^ byte]: (reg >> 8) ^ byte is below 256, so the eight shifts are one
    # table look-up, and only the register's high byte carries over to the next byte.
    if not data:
        return 0xFFFF
    high, table = 0xFF, _HIGH
    for byte in data[:-1]:
        high = table[high ^ byte]
    return _TABLE[high ^ data[-1]]


def crc_hex(data: bytes) -> bytes:
    """The CRC of ``data`` as the packet writes it: four upper-case hexadecimal digits."""
    return b"%04X" % crc16(data)
