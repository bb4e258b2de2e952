"""Alert rules as written in a device profile, a region override or a device override.

One rule watches one metric of one device (or the node, for ``node_offline``)::

    alerts:
      - id: level_warning
        kind: threshold
        metric: water_level
        above: 3.5           # raise when the level reaches 3.5 m ...
        clear_below: 3.3     # ... clear only below 3.3 m (hysteresis)
        for_s: 60            # the condition must hold 60 s before raising
        clear_for_s: 300
        severity: warning
      - id: rain_1h
        kind: window_sum
        metric: rainfall
        window_s: 3600
        levels: {warning: 30, critical: 50}

Kinds: ``threshold`` (``above``/``below``, raise and clear levels, ``for_s``,
``clear_for_s``, optional ``n_of_m``), ``rate`` (change over ``window_s``),
``window_sum`` (sum over a sliding window against severity levels),
``no_data`` (silent for ``expected_interval_s × tolerance``),
``node_offline`` and ``sensor_fault`` (bad quality for ``for_s``).
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

RuleId = Annotated[str, Field(pattern=r"^[a-z](?:_?[a-z0-9])*$", max_length=64)]
Seconds = Annotated[float, Field(ge=0, le=7 * 86400)]


class Severity(enum.IntEnum):
    """Alarm severity; higher is worse."""

    INFO = 1
    WARNING = 2
    MAJOR = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        """Name used in files and the API (``warning``)."""
        return self.name.lower()


SeverityName = Literal["info", "warning", "major", "critical"]


class RuleKind(enum.StrEnum):
    """What a rule evaluates."""

    THRESHOLD = "threshold"
    RATE = "rate"
    WINDOW_SUM = "window_sum"
    NO_DATA = "no_data"
    NODE_OFFLINE = "node_offline"
    SENSOR_FAULT = "sensor_fault"


class AlertRule(BaseModel):
    """One rule; which keys apply depends on ``kind`` and is cross-checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RuleId
    kind: RuleKind
    metric: str | None = None
    severity: SeverityName = "warning"
    above: float | None = None
    below: float | None = None
    clear_below: float | None = None
    clear_above: float | None = None
    for_s: Seconds = 0.0
    clear_for_s: Seconds = 0.0
    n_of_m: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1, le=1000)]] | None = None
    window_s: Annotated[float, Field(gt=0, le=7 * 86400)] | None = None
    rise: float | None = Field(default=None, description="rate: change over window_s that raises")
    levels: dict[SeverityName, float] | None = Field(default=None, description="window_sum: severity -> sum")
    counter: bool = Field(default=False, description="window_sum: metric is a running total (rain since midnight)")
    tolerance: Annotated[float, Field(ge=1, le=100)] = 3.0
    enabled: bool = True
    description: str = ""

    @property
    def sev(self) -> Severity:
        """The configured severity as an enum."""
        return Severity[self.severity.upper()]

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        k = self.kind
        needs_metric = k in (RuleKind.THRESHOLD, RuleKind.RATE, RuleKind.WINDOW_SUM, RuleKind.SENSOR_FAULT)
        if needs_metric and not self.metric:
            raise ValueError(f"a {k.value} rule needs 'metric'")
        if k is RuleKind.THRESHOLD:
            if (self.above is None) == (self.below is None):
                raise ValueError("a threshold rule needs exactly one of 'above' or 'below'")
            if self.above is not None and self.clear_below is not None and self.clear_below > self.above:
                raise ValueError(f"'clear_below' {self.clear_below} must not exceed 'above' {self.above}")
            if self.below is not None and self.clear_above is not None and self.clear_above < self.below:
                raise ValueError(f"'clear_above' {self.clear_above} must not be under 'below' {self.below}")
            if self.n_of_m is not None and self.n_of_m[0] > self.n_of_m[1]:
                raise ValueError(f"'n_of_m': n {self.n_of_m[0]} exceeds m {self.n_of_m[1]}")
        if k is RuleKind.RATE and (self.rise is None or self.window_s is None):
            raise ValueError("a rate rule needs 'rise' and 'window_s'")
        if k is RuleKind.WINDOW_SUM and (not self.levels or self.window_s is None):
            raise ValueError("a window_sum rule needs 'levels' and 'window_s'")
        return self


class RuleOverride(BaseModel):
    """Replace or disable profile rules for a region or one device (most specific wins)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str | None = Field(default=None, description="Limit a region override to one profile")
    rules: list[AlertRule] = Field(default_factory=list)
    disable: list[RuleId] = Field(default_factory=list)
