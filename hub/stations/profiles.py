"""Station profiles (``station_profiles/*.yaml``): a station's element or pollutant codes as metrics and units.

A dial-in station reports codes of its standard (HJ 212 ``a34004``, SL 651
``39``), not Modbus registers. A station profile maps each code to a metric::

    id: hj212_air_quality
    protocol: hj212
    model: "Ambient air quality monitor"
    manufacturer: generic
    source: "HJ 212-2017 Annex B, Table B.2 (ambient air pollutant codes)"
    category: air_quality
    expected_interval_s: 60
    elements:
      - {code: a34004, metric: pm2_5, unit: "μg/m³", range: [0, 1000]}

The profile is validated like a device profile (unknown keys refused, the file
name equals ``id``, metrics unique) and becomes a device profile of the
hub's :class:`~citysense.profiles.ProfileSet` (:func:`as_device_profile`), so
readings of a station go through the same validation, catalogue and alert
rules as any device's. Metric names of one element (``pm2_5``):

* the value itself (HJ 212 ``-Rtd``, ``-RS``; an SL 651 element): ``pm2_5``
* a window's statistics (HJ 212 ``-Avg``/``-Min``/``-Max``/``-Cou`` of minute,
  hourly, daily data): ``pm2_5_hour_avg``, ``pm2_5_day_max``, ``pm2_5_min_cou``
* HJ 212 ``-RT`` (running time, hours a day): ``<metric>_hours``
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, model_validator

from citysense.codec import DataType
from citysense.contract import ID_PATTERN
from citysense.errors import ConfigError
from citysense.profiles import ProfileSet
from citysense.profiles.alertrules import AlertRule
from citysense.profiles.model import MetricName, Profile, Strict
from citysense.profiles.registerless import Metric, registerless_profile
from citysense.yamlconf import keyed, load_model

WINDOWS = ("min", "hour", "day")
STATS = ("avg", "min", "max", "cou")


class Element(Strict):
    """One code the station sends."""

    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,16}$")]
    metric: MetricName
    name: str = ""
    unit: str = ""
    range: tuple[float, float] | None = None
    description: str = ""


class StationProfile(Strict):
    """The element map and metadata of one kind of station."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    protocol: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,16}$")]
    model: str
    manufacturer: str
    source: str = Field(min_length=1, description="The standard's clause or the vendor manual the codes come from")
    category: str
    description: str = ""
    expected_interval_s: Annotated[float, Field(gt=0, le=86400)] = 60.0
    elements: list[Element] = Field(min_length=1)
    alerts: list[AlertRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        codes: set[str] = set()
        metrics: set[str] = set()
        for i, e in enumerate(self.elements):
            if e.code in codes:
                raise keyed(f"elements.{i}.code", f"code '{e.code}' is mapped twice")
            if e.metric in metrics:
                raise keyed(f"elements.{i}.metric", f"metric '{e.metric}' is used twice")
            if e.range is not None and e.range[0] > e.range[1]:
                raise keyed(f"elements.{i}.range", f"minimum {e.range[0]} exceeds maximum {e.range[1]}")
            codes.add(e.code)
            metrics.add(e.metric)
        return self

    @functools.cached_property
    def by_code(self) -> dict[str, Element]:
        """Elements by code."""
        return {e.code: e for e in self.elements}

    def element(self, code: str) -> Element | None:
        """The element of ``code`` (the part before a ``-field`` suffix)."""
        return self.by_code.get(code)

    def metric_for(self, code: str, window: str) -> tuple[Element, str] | None:
        """``(element, metric)`` of an observation code (``a34004-Avg`` in a ``window``), or ``None``."""
        base, _, field = code.partition("-")
        element = self.element(base)
        if element is None:
            return None
        field = field.lower()
        if field in ("", "rtd", "rs", "info"):
            return element, element.metric
        if field == "rt":
            return element, f"{element.metric}_hours"
        if field in STATS:
            return element, f"{element.metric}_{window}_{field}" if window else f"{element.metric}_{field}"
        return None


def _metrics(e: Element) -> list[tuple[str, bool]]:
    """Every metric an element can produce, with whether its range applies."""
    out = [(e.metric, True), (f"{e.metric}_hours", False)]
    out += [(f"{e.metric}_{s}", s != "cou") for s in STATS]
    out += [(f"{e.metric}_{w}_{s}", s != "cou") for w in WINDOWS for s in STATS]
    return out


def as_device_profile(sp: StationProfile) -> Profile:
    """The device profile the rest of the hub sees: one float point per metric (no registers behind them)."""
    metrics = [
        Metric(
            metric,
            e.name,
            "h" if metric.endswith("_hours") else e.unit,
            e.range if ranged else None,
            f"{sp.protocol} code {e.code}",
        )
        for e in sp.elements
        for metric, ranged in _metrics(e)
    ]
    description = sp.description or f"A {sp.protocol} station (station profile; no Modbus registers)."
    return registerless_profile(sp, metrics, value_type=DataType.FLOAT32, description=description)


def load_station_profiles(directory: Path) -> dict[str, StationProfile]:
    """Load every ``*.yaml`` in ``directory`` (missing: none); all errors are reported together."""
    out: dict[str, StationProfile] = {}
    problems: list[tuple[str, str]] = []
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        try:
            sp = load_model(StationProfile, path)
        except ConfigError as exc:
            problems.extend((f"{path.name}: {k}" if k else path.name, m) for k, m in exc.problems)
            continue
        if sp.id != path.stem:
            problems.append((f"{path.name}: id", f"'{sp.id}' must equal the file name '{path.stem}'"))
        out[sp.id] = sp
    if problems:
        raise ConfigError(directory, problems)
    return out


def merged(profiles: ProfileSet, stations: dict[str, StationProfile]) -> ProfileSet:
    """Device profiles plus the station profiles as device profiles; an id used by both is an error."""
    clash = sorted(set(profiles) & set(stations))
    if clash:
        raise ConfigError(Path("station_profiles"), [(c, "id is also a device profile's") for c in clash])
    return ProfileSet({**profiles, **{k: as_device_profile(v) for k, v in stations.items()}}, profiles.meters)


def default_station_profile_dir() -> Path:
    """The ``station_profiles/`` directory shipped with the project."""
    return Path(__file__).resolve().parents[2] / "station_profiles"
