"""SL 651-2014 as a station protocol of the gateway (``PROTOCOLS["sl651"]``)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from typing import Any

from hub.stations.base import Framer
from hub.stations.errors import StationError
from hub.stations.sl651 import downlink
from hub.stations.sl651.framer import Sl651Framer

MAX_FRAME = 4200
"""Largest frame: 12-bit body length (4095) + ASCII header (24) + packet information (6) + end + CRC (4)."""
MAX_IMAGE_BYTES = 1 << 20


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Sl651Protocol:
    """Framers for SL 651 connections and the downlink command encoder.

    ``end_link`` chooses the end character of confirmations: EOT (the station
    hangs up, for RTUs that dial in per report) or ESC (keep the link, the
    default, for RTUs that stay online). ``center`` is this central station's
    address (1..255) used in commands.
    """

    name = "sl651"

    def __init__(
        self,
        *,
        max_frame: int = MAX_FRAME,
        max_image_bytes: int = MAX_IMAGE_BYTES,
        end_link: bool = False,
        center: int = 1,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        if not 64 <= max_frame <= MAX_FRAME:
            raise ValueError(f"max_frame must lie in 64..{MAX_FRAME}, not {max_frame}")
        if not 0 < center < 256:
            raise ValueError(f"central station address must lie in 1..255, not {center}")
        self.max_frame = max_frame
        self._max_image_bytes = max_image_bytes
        self._end_link = end_link
        self._center = center
        self._clock_ms = clock_ms
        self._serials = itertools.count(1)

    def framer(self) -> Framer:
        """A fresh framer for a new connection."""
        return Sl651Framer(
            max_frame=self.max_frame,
            max_image_bytes=self._max_image_bytes,
            end_link=self._end_link,
            clock_ms=self._clock_ms,
        )

    def command(self, station: str, password: str | None, action: str, args: Mapping[str, Any]) -> bytes:
        """Encode a downlink command (actions: :data:`hub.stations.sl651.downlink.ACTIONS`)."""
        encoding = args.get("encoding", "hex")
        if encoding not in ("hex", "ascii"):
            raise StationError("bad_argument", f"encoding is 'hex' or 'ascii', not {encoding!r}")
        return downlink.command(
            station=station,
            password=password or "0000",
            center=int(args.get("center", self._center)),
            serial=int(args.get("serial", next(self._serials) & 0xFFFF)),
            now_ms=self._clock_ms(),
            action=action,
            args=args,
            encoding=encoding,
        )
