"""Check a batch's readings against the registry and the profiles (pure).

Batches come from either decoder (:mod:`hub.ingest.wire`'s msgspec structs on
the hot path, or the contract's pydantic models); both carry the same fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from citysense.contract import Reading, TelemetryBatch
from citysense.profiles import Point, Profile, ProfileSet
from citysense.quality import BY_WIRE, Quality
from hub.ingest.wire import FastBatch, FastReading
from hub.registry.snapshot import NodeView
from hub.store.base import StoredReading

MAX_FUTURE_MS = 5 * 60 * 1000  # clocks drift; more than this is a broken clock
MAX_PAST_MS = 90 * 24 * 3600 * 1000  # older than the longest outage we buffer for


@dataclass(frozen=True, slots=True)
class Rejected:
    """A reading refused, with the reason code and detail."""

    reading: Reading | FastReading
    reason: str
    detail: str

    def reading_json(self) -> str:
        """The refused reading as the contract's JSON (what the dead letter keeps)."""
        r = self.reading
        return (r.to_contract() if isinstance(r, FastReading) else r).model_dump_json()


_points: dict[int, tuple[Profile, dict[str, Point]]] = {}


def _point(profile: Profile, metric: str) -> Point | None:
    """The profile's first point of ``metric``, from an index built once per profile object."""
    hit = _points.get(id(profile))
    if hit is None or hit[0] is not profile:
        if len(_points) > 10_000:  # profiles reloaded many times: start over
            _points.clear()
        index: dict[str, Point] = {}
        for p in profile.points:
            index.setdefault(p.metric, p)
        hit = _points[id(profile)] = (profile, index)
    return hit[1].get(metric)


def check_batch(
    batch: TelemetryBatch | FastBatch, node: NodeView, profiles: ProfileSet, now_ms: int
) -> tuple[list[StoredReading], list[Rejected]]:
    """Split a batch into storable readings and rejected ones."""
    ok: list[StoredReading] = []
    bad: list[Rejected] = []
    earliest, latest = now_ms - MAX_PAST_MS, now_ms + MAX_FUTURE_MS
    targets = _targets_of(node, profiles)
    node_id = node.id
    for r in batch.readings:
        # Fast path: a finite number in time and range for a known numeric point; anything else takes _check.
        key = (r.device, r.metric)
        t = targets[key] if key in targets else targets.setdefault(key, _target(node, profiles, *key))
        v = r.value
        if t is not None and (v.__class__ is float or v.__class__ is int) and earliest <= r.ts_ms <= latest:
            quality = r.quality
            if quality == "good":
                fast, q = t.low <= v <= t.high, _GOOD
            else:  # a non-good reading keeps its value, in range or not
                fast, q = -_BIG <= v <= _BIG, BY_WIRE[quality]
            if fast:
                ok.append(StoredReading(node_id, t.uid, t.profile, r.metric, float(v), r.unit, r.ts_ms, q, t.tags))
                continue
        checked = _check(r, node, profiles, now_ms)
        (ok if isinstance(checked, StoredReading) else bad).append(checked)  # type: ignore[arg-type]
    return ok, bad


_BIG = float(2**1023)  # finite as a float either way; larger numbers take the slow path (inf, bad_value)
_GOOD = Quality.GOOD


class _Target(NamedTuple):
    """A numeric point of a known device, with what a stored reading of it needs."""

    uid: str
    profile: str
    low: float  # the point's physical range, clamped to finite floats (the whole line when it has none)
    high: float
    tags: Mapping[str, str]


_CACHE_MAX = 100_000  # nodes; past that the cache starts over
_node_targets: dict[str, tuple[NodeView, ProfileSet, dict[tuple[str, str], _Target | None]]] = {}


def _targets_of(node: NodeView, profiles: ProfileSet) -> dict[tuple[str, str], _Target | None]:
    """The node's ``(device, metric) -> target`` map, kept while the node's view and the profiles are the same objects.

    A registry change replaces the snapshot's views (and a reload the profile set), so a moved or re-profiled
    device is looked up afresh.
    """
    hit = _node_targets.get(node.id)
    if hit is not None and hit[0] is node and hit[1] is profiles:
        return hit[2]
    if len(_node_targets) >= _CACHE_MAX:
        _node_targets.clear()
    targets: dict[tuple[str, str], _Target | None] = {}
    _node_targets[node.id] = (node, profiles, targets)
    return targets


def _target(node: NodeView, profiles: ProfileSet, device: str, metric: str) -> _Target | None:
    """The fast path's view of a device's point; ``None`` (every check in order, by ``_check``) for text points."""
    dev = node.devices.get(device)
    profile = None if dev is None else profiles.get(dev.profile)
    point = None if profile is None else _point(profile, metric)
    if dev is None or point is None or point.is_text:
        return None
    low, high = point.range if point.range is not None else (-_BIG, _BIG)
    return _Target(dev.uid, dev.profile, max(float(low), -_BIG), min(float(high), _BIG), dev.tags)


def _check(r: Reading | FastReading, node: NodeView, profiles: ProfileSet, now_ms: int) -> StoredReading | Rejected:
    """Every check of one reading, in order; the first that fails names the reason."""
    dev = node.devices.get(r.device)
    if dev is None:
        return Rejected(r, "unknown_device", f"node {node.id} has no device '{r.device}'")
    profile = profiles.get(dev.profile)
    point = None if profile is None else _point(profile, r.metric)
    if point is None:
        return Rejected(r, "unknown_metric", f"profile '{dev.profile}' has no metric '{r.metric}'")
    if isinstance(r.value, str) != point.is_text and r.value is not None:
        want = "text" if point.is_text else "a number"
        return Rejected(r, "wrong_type", f"{dev.uid}.{r.metric} takes {want}, got {r.value!r:.80}")
    if r.ts_ms > now_ms + MAX_FUTURE_MS:
        return Rejected(r, "future_timestamp", f"ts_ms {r.ts_ms} is ahead of hub time {now_ms}")
    if r.ts_ms < now_ms - MAX_PAST_MS:
        return Rejected(r, "stale_timestamp", f"ts_ms {r.ts_ms} is older than {MAX_PAST_MS} ms")
    value = _normalise(r.value)
    if isinstance(value, float) and not math.isfinite(value):
        return Rejected(r, "bad_value", f"{dev.uid}.{r.metric}: {str(r.value)[:40]} is not a finite number")
    if point.range is not None and isinstance(value, float) and r.quality == "good":
        low, high = point.range
        if not low <= value <= high:
            detail = f"{dev.uid}.{r.metric} = {value} is outside the physical range [{low}, {high}]"
            return Rejected(r, "out_of_range", detail)
    return StoredReading(
        node=node.id,
        device=dev.uid,
        profile=dev.profile,
        metric=r.metric,
        value=value,
        unit=r.unit,
        ts_ms=r.ts_ms,
        quality=r.quality_code,
        tags=dev.tags,
    )


def _normalise(value: float | int | bool | str | None) -> float | str | None:
    """Numbers and booleans as floats (``inf`` when too big for one); text and ``None`` unchanged."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return math.inf
    return value
