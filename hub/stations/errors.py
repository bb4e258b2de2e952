"""The station gateway's exception tree."""

from __future__ import annotations

from hub.errors import HubError


class StationError(HubError):
    """Base of every station-gateway error; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
