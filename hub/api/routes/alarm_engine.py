"""The alert engine behind the alarm routes, and what those routes share."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from hub.alerts.engine import AlertEngine


def _engine(request: Request) -> AlertEngine:
    engine: AlertEngine | None = getattr(request.app.state, "alerts", None)
    if engine is None:
        raise HTTPException(503, "the alert engine is not configured (set alerts_file in the hub settings)")
    return engine


Engine = Annotated[AlertEngine, Depends(_engine)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return time.time_ns() // 1_000_000
