"""Quality codes: every reading says how far it can be trusted.

A failed read is reported as a reading with a bad quality and no value, never as
a number. Codes are small integers so that they survive stores that keep only
numbers (VictoriaMetrics turns string fields into 0); the wire uses the names.
"""

from __future__ import annotations

import enum


class Quality(enum.IntEnum):
    """How a reading came to be; only ``GOOD`` readings carry a trusted value."""

    GOOD = 0
    COMM_FAILURE = 1  # connection refused/lost, CRC error, no route to device
    TIMEOUT = 2  # the device did not answer in time
    DEVICE_EXCEPTION = 3  # the device answered with a Modbus exception response
    DECODE_ERROR = 4  # bytes arrived but cannot be turned into a value
    OUT_OF_RANGE = 5  # decoded value lies outside the profile's valid range
    SENTINEL = 6  # the device sent its "no sensor"/"invalid" marker (or NaN)
    STALE = 7  # value is older than its expected interval (source silent)

    @property
    def wire(self) -> str:
        """Name used on the wire and in the API (``comm_failure``)."""
        return self.name.lower()

    @classmethod
    def from_wire(cls, name: str) -> Quality:
        """Parse a wire name; raises ``KeyError`` when unknown."""
        return BY_WIRE[name]


BY_WIRE: dict[str, Quality] = {q.wire: q for q in Quality}  # wire name -> code (one dict lookup on hot paths)
