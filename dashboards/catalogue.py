"""What the dashboards are generated from: the device profiles, the node kinds and the alert rules.

A panel names the metrics it shows; :meth:`Catalogue.point` refuses a metric a
profile no longer has, so a profile change fails generation (and the staleness
test) instead of leaving a panel that silently shows nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from citysense.nodekinds import NodeKind, default_node_kind_dir, load_node_kinds
from citysense.profiles import ProfileSet, load_profiles
from citysense.profiles.alertrules import AlertRule
from citysense.profiles.loader import default_profile_dir
from citysense.profiles.model import Point, Profile
from dashboards import DashboardError

# Profile units -> Grafana unit ids (Grafana's "standard options > unit" list); others become a suffix.
UNITS = {
    "m": "lengthm",
    "mm": "lengthmm",
    "°C": "celsius",
    "%RH": "humidity",
    "%": "percent",
    "V": "volt",
    "A": "amp",
    "W": "watt",
    "var": "voltampreact",
    "kWh": "kwatth",
    "Hz": "hertz",
    "kPa": "pressurekpa",
    "m/s": "velocityms",
    "°": "degree",
    "dB": "dB",
    "lx": "lux",
    "ug/m3": "conµgm3",
    "s": "s",
    "h": "h",
}


def grafana_unit(unit: str) -> str:
    """Return Grafana's unit id for a profile unit (``suffix:<unit>`` when Grafana has none)."""
    if not unit:
        return "none"
    return UNITS.get(unit, f"suffix: {unit}")


@dataclass(frozen=True)
class Lines:
    """Warning and danger lines of one metric (from threshold rules: warning = warning, major/critical = danger)."""

    warning: float | None = None
    danger: float | None = None


def lines_from_rules(rules: list[AlertRule], metric: str) -> Lines:
    """Return the lowest ``above`` threshold per class among enabled threshold rules on ``metric``."""
    warning: list[float] = []
    danger: list[float] = []
    for r in rules:
        if r.enabled and r.kind == "threshold" and r.metric == metric and r.above is not None:
            (warning if r.severity in ("info", "warning") else danger).append(r.above)
    return Lines(min(warning) if warning else None, min(danger) if danger else None)


class Catalogue:
    """Profiles and node kinds, with the look-ups the boards need."""

    def __init__(self, profiles: ProfileSet, kinds: dict[str, NodeKind]) -> None:
        self.profiles = profiles
        self.kinds = kinds

    @classmethod
    def load(cls, profiles_dir: Path | None = None, kinds_dir: Path | None = None) -> Catalogue:
        """Load the shipped profiles and node kinds (or those in the given folders)."""
        profiles = load_profiles(profiles_dir or default_profile_dir())
        return cls(profiles, load_node_kinds(kinds_dir or default_node_kind_dir(), profiles.ids()))

    def kind(self, kind: str) -> NodeKind:
        """Return a node kind, or fail naming it."""
        if kind not in self.kinds:
            raise DashboardError(f"no node kind '{kind}' in firmware_configs")
        return self.kinds[kind]

    def profile(self, kind: str, device: str) -> Profile:
        """Return the profile of ``device`` in node kind ``kind``."""
        for d in self.kind(kind).devices:
            if d.id == device:
                return self.profiles[d.profile]
        raise DashboardError(f"node kind '{kind}' has no device '{device}'")

    def point(self, profile: Profile, metric: str) -> Point:
        """Return a profile's point, or fail naming profile and metric."""
        for p in profile.points:
            if p.metric == metric:
                return p
        raise DashboardError(f"profile '{profile.id}' has no metric '{metric}' (a dashboard panel needs it)")

    def numeric(self, profile: Profile, prefix: str = "") -> list[Point]:
        """Return the profile's numeric points whose metric starts with ``prefix``, in profile order."""
        return [p for p in profile.points if not p.is_text and p.metric.startswith(prefix)]

    def rule(self, profile: Profile, rule_id: str) -> AlertRule:
        """Return a profile's default alert rule, or fail naming it."""
        for r in profile.alerts:
            if r.id == rule_id:
                return r
        raise DashboardError(f"profile '{profile.id}' has no alert rule '{rule_id}' (a dashboard panel needs it)")
