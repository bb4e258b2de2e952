"""Walking the region tree (city → town → village) upwards."""

from __future__ import annotations

from collections.abc import Mapping

from hub.registry.models import Region

MAX_DEPTH = 8  # deeper than any administrative tree; a parent cycle in bad data cannot loop forever


def ancestry(code: str, regions: Mapping[str, Region]) -> list[Region]:
    """Region ``code`` and its ancestors, nearest first (empty for an unknown code)."""
    chain: list[Region] = []
    cur = regions.get(code)
    while cur is not None and len(chain) < MAX_DEPTH:
        chain.append(cur)
        cur = regions.get(cur.parent_code) if cur.parent_code else None
    return chain


def town_of(code: str, regions: Mapping[str, Region]) -> Region | None:
    """The town that holds region ``code`` (itself if a town); ``None`` for the city or outside any town."""
    return next((r for r in ancestry(code, regions) if r.level == "town"), None)
