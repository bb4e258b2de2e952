"""The value-model contract: engineering values as a pure function of time, seed and device state.

A model never keeps state of its own. What a client wrote lives in a
:class:`DeviceState` that the device passes in; counters (energy, rainfall)
continue from the value they had when the state last changed, so a write
neither makes them jump nor run backwards.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from citysense.profiles.model import Point, Profile
from simulator.waveforms import EPOCH

Value = float | int | bool | str
Values = dict[str, Value]

_EMPTY: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True)
class DeviceState:
    """What clients wrote to a device, and its counters at the moment of the last write."""

    written: Mapping[str, Value] = field(default_factory=lambda: MappingProxyType({}))
    since: float = EPOCH
    carried: Mapping[str, float] = field(default_factory=lambda: _EMPTY)

    def counter(self, metric: str, start: float, integral: Callable[[float, float], float], t: float) -> float:
        """Return a counter at ``t``: its value at :attr:`since` (or ``start``) plus what accrued since."""
        return self.carried.get(metric, start) + integral(self.since, t)

    def after_write(
        self, t: float, metric: str, value: Value, now: Mapping[str, Value], counters: frozenset[str]
    ) -> DeviceState:
        """Return the state after a client wrote ``value`` to ``metric`` at ``t``.

        ``now`` holds the values at ``t`` before the write; every counter carries
        on from it, except a written counter, which restarts from ``value``.
        """
        carried = {m: float(now[m]) for m in counters if m in now and not isinstance(now[m], str)}
        written = dict(self.written)
        if metric in counters:
            carried[metric] = float(value)
        else:
            written[metric] = value
        return DeviceState(MappingProxyType(written), t, MappingProxyType(carried))


class ValueModel(abc.ABC):
    """How one category of device behaves; see the module docstring."""

    #: Metrics that accumulate over time and carry on across writes.
    counters: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def values(self, t: float, seed: int, state: DeviceState) -> Values:
        """Return engineering values at ``t``; metrics a profile lacks are ignored."""


class NeutralModel(ValueModel):
    """Fallback for an unknown category: every point rests in the middle of its range."""

    def values(self, t: float, seed: int, state: DeviceState) -> Values:
        """Return nothing: :func:`neutral_value` fills every point."""
        return {}


def neutral_value(point: Point) -> Value:
    """Return a plausible resting value of ``point`` (first enum state, mid-range, ``False``)."""
    if point.enum:
        return min(point.enum)
    if point.type.value == "bool":
        return False
    if point.type.value == "string":
        return "SIM"
    if point.type.value == "time_hm":
        return "00:00"
    if point.type.value == "datetime":
        return "2026-01-01T00:00:00"
    lo, hi = point.range if point.range is not None else (0.0, 100.0)
    mid = (lo + hi) / 2
    return mid if point.type.value.startswith("float") else round(mid / point.scale) * point.scale


def complete(profile: Profile, values: Values, written: Mapping[str, Value]) -> Values:
    """Return one value per point of ``profile``: written ones win, missing ones get a neutral value."""
    out: Values = {}
    for p in profile.points:
        if p.metric in written:
            out[p.metric] = written[p.metric]
        elif p.metric in values:
            out[p.metric] = values[p.metric]
        else:
            out[p.metric] = neutral_value(p)
    return out
