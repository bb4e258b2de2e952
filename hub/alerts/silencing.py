"""Which silences are in force now: the config file's (fixed or weekly) and the API's."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from hub.alerts.config import AlertConfig, Match
from hub.alerts.silences import in_force
from hub.alerts.store import AlarmStore


def active_matches(cfg: AlertConfig, store: AlarmStore, now_ms: int) -> list[Match]:
    """Return the match of every silence covering ``now_ms``."""
    tz = ZoneInfo(cfg.timezone)
    out = [s.match for s in cfg.silences if in_force(s, now_ms, tz)]
    out.extend(
        Match.model_validate(json.loads(row.match_json))
        for row in store.silences()
        if row.starts_ms <= now_ms < row.ends_ms
    )
    return out
