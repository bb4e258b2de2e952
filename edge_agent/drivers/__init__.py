"""Acquisition drivers. A driver emits readings into a :class:`ReadingSink` and knows nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from citysense.contract import Reading


class ReadingSink(Protocol):
    """Where drivers put readings; the uplink implements it."""

    async def put(self, readings: Sequence[Reading]) -> None:
        """Accept readings; returns once they are safely queued."""
