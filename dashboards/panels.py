"""Panel and variable helpers shared by the boards: one look, one set of filters, one layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from grafana_foundation_sdk.builders import bargauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig, ReduceDataOptions
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from citysense.profiles.model import Point, Profile
from dashboards import influxql as q
from dashboards.catalogue import Lines, grafana_unit
from dashboards.targets import INFLUX, InfluxQL

Target = cogbuilder.Builder[cogvariants.Dataquery]
AnyPanel = TypeVar("AnyPanel", timeseries.Panel, statetimeline.Panel, stat.Panel, bargauge.Panel, table.Panel)
GREEN, YELLOW, ORANGE, RED, BLUE, GREY = "green", "#EAB839", "orange", "red", "blue", "#8e8e8e"
SEVERITY_COLOURS = {"info": BLUE, "warning": YELLOW, "major": ORANGE, "critical": RED}
LEVEL_COLOURS = {**SEVERITY_COLOURS, "info": YELLOW}  # an accumulation's lowest level is already a caution


def variables(board: dash.Dashboard, department: str | None) -> dash.Dashboard:
    """Add the department, town, village and resolution variables (department preset on a department's board)."""
    dept = (
        dash.QueryVariable("dept")
        .label("Department")
        .datasource(INFLUX)
        .query('SHOW TAG VALUES WITH KEY = "dept"')
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )
    if department:
        dept = dept.current(model.VariableOption(selected=True, text=[department], value=[department]))
    else:
        dept = dept.current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
    town = (
        dash.QueryVariable("town")
        .label("Town (region code)")
        .datasource(INFLUX)
        .query('SHOW TAG VALUES WITH KEY = "town" WHERE "dept" =~ /^$dept$/')
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )
    village = (
        dash.QueryVariable("village")
        .label("Village (region code)")
        .datasource(INFLUX)
        .query('SHOW TAG VALUES WITH KEY = "village" WHERE "dept" =~ /^$dept$/ AND "town" =~ /^$town$/')
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )
    res = (
        dash.CustomVariable("res")
        .label("Resolution")
        .description(
            "auto: what the range needs, as the hub's API picks it (raw up to 2 days, 1-minute means up to "
            "60 days, 1-hour means beyond); raw: every reading (kept 30 days); m1: 1-minute means; h1: 1-hour means"
        )
        .values("auto,raw,m1,h1")
        .current(model.VariableOption(selected=True, text="auto", value="auto"))
    )
    rp = (  # the retention policy the panels read: the hub's resolution table (hub/store/resolutions.py)
        dash.QueryVariable("rp")
        .label("Retention policy read")
        .datasource(INFLUX)
        .query(q.RESOLUTION)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .hide(model.VariableHide.HIDE_VARIABLE)
        .current(model.VariableOption(selected=True, text="raw", value="raw"))  # until the query answers
    )
    return board.with_variable(dept).with_variable(town).with_variable(village).with_variable(res).with_variable(rp)


def new_board(uid: str, title: str, tags: list[str], department: str | None, description: str) -> dash.Dashboard:
    """Return a dashboard with the common time range, refresh and variables."""
    board = (
        dash.Dashboard(title)
        .uid(uid)
        .tags(["citysense", *tags])
        .description(description)
        .timezone("browser")
        .time("now-6h", "now")
        .refresh("1m")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .editable()
    )
    return variables(board, department)


def with_targets(panel: AnyPanel, targets: Sequence[Target]) -> AnyPanel:
    """Add the queries to a panel, in order."""
    for t in targets:
        panel = panel.with_target(t)
    return panel


def thresholds(steps: Sequence[tuple[float | None, str]]) -> dash.ThresholdsConfig:
    """Absolute thresholds from ``(value, colour)`` steps; the first value is ``None`` (the base)."""
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


def line_steps(lines: Lines) -> list[tuple[float | None, str]]:
    """Threshold steps drawing a warning (yellow) and a danger (red) line."""
    steps: list[tuple[float | None, str]] = [(None, GREEN)]
    if lines.warning is not None:
        steps.append((lines.warning, YELLOW))
    if lines.danger is not None:
        steps.append((lines.danger, RED))
    return steps


def series(
    title: str,
    targets: Sequence[Target],
    unit: str,
    *,
    description: str = "",
    lines: Lines | None = None,
    bars: bool = False,
    span: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    """A time-series panel, optionally with warning/danger lines drawn across it."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(INFLUX)
        .unit(unit)
        .span(span)
        .height(height)
        .line_width(2)
        .fill_opacity(15 if bars else 8)
        .span_nulls(True)
    )
    panel = with_targets(panel, targets)
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS)
    if lines is not None and (lines.warning is not None or lines.danger is not None):
        panel = panel.thresholds(thresholds(line_steps(lines))).thresholds_style(
            GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
        )
    return panel


def states(
    title: str, targets: Sequence[Target], point: Point, *, span: int = 24, height: int = 8
) -> statetimeline.Panel:
    """A state timeline of an enum or bool point, its codes shown with the profile's names."""
    panel = (
        statetimeline.Panel()
        .title(title)
        .datasource(INFLUX)
        .span(span)
        .height(height)
        .mappings([value_names(point)])
        .merge_values(True)
        .show_value(common.VisibilityMode.AUTO)
    )
    return with_targets(panel, targets)


STATE_COLOURS = {
    "red": RED,
    "yellow": YELLOW,
    "green": GREEN,
    "flashing_green": "#96D98D",
    "flashing_yellow": "#FADE2A",
    "flashing_red": "#FF7383",
    "off": GREY,
    "on": YELLOW,
    "ok": GREEN,
    "failure": RED,
}


def value_names(point: Point) -> model.ValueMap:
    """Value mapping from a point's enum (or off/on for a bool) to names and colours."""
    names = point.enum if point.enum is not None else {0: "off", 1: "on"}
    return model.ValueMap(
        options={
            str(code): model.ValueMappingResult(text=name, color=STATE_COLOURS.get(name), index=i)
            for i, (code, name) in enumerate(sorted(names.items()))
        }
    )


def stat_panel(
    title: str,
    targets: Sequence[Target],
    unit: str,
    steps: Sequence[tuple[float | None, str]],
    *,
    description: str = "",
    span: int = 6,
    height: int = 5,
) -> stat.Panel:
    """A stat panel of each series' last value, coloured by thresholds."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(INFLUX)
        .unit(unit)
        .span(span)
        .height(height)
        .thresholds(thresholds(steps))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
    )
    return with_targets(panel, targets)


def bars(
    title: str,
    targets: Sequence[Target],
    unit: str,
    steps: Sequence[tuple[float | None, str]],
    *,
    description: str = "",
    span: int = 12,
    height: int = 8,
) -> bargauge.Panel:
    """A horizontal bar gauge, one bar per series, coloured by thresholds."""
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(INFLUX)
        .unit(unit)
        .span(span)
        .height(height)
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .thresholds(thresholds(steps))
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
    )
    return with_targets(panel, targets)


def grid(
    title: str, targets: Sequence[Target], *, description: str = "", span: int = 24, height: int = 8
) -> table.Panel:
    """A table panel."""
    panel = table.Panel().title(title).description(description).datasource(INFLUX).span(span).height(height)
    return with_targets(panel, targets)


def unit_of(point: Point) -> str:
    """Grafana unit of a profile point."""
    return grafana_unit(point.unit)


def window_label(seconds: float) -> str:
    """An InfluxQL duration for a rule's window: ``1h``, ``24h``, ``30m``."""
    return f"{int(seconds // 3600)}h" if seconds % 3600 == 0 else f"{int(seconds // 60)}m"


def accumulations(profile: Profile, total: Point, *, span: int) -> list[bargauge.Panel]:
    """One bar gauge per window-sum rule on a running total (rain): the growth over the rule's window, per device,
    coloured by the rule's severity levels."""
    out = []
    for rule in profile.alerts:
        if rule.kind != "window_sum" or rule.metric != total.metric or rule.window_s is None:
            continue
        window = window_label(rule.window_s)
        steps: list[tuple[float | None, str]] = [(None, GREEN)]
        steps += [(v, LEVEL_COLOURS[s]) for s, v in sorted((rule.levels or {}).items(), key=lambda kv: kv[1])]
        out.append(
            bars(
                f"Rain in the last {window}",
                [InfluxQL("A", q.spread_since(profile.id, total.metric, window), alias="$tag_device")],
                unit_of(total),
                steps,
                description=f"Accumulation over {window}, coloured by the alert levels of rule '{rule.id}'.",
                span=span,
            )
        )
    return out


def flags_now(
    title: str, profile: Profile, flags: Sequence[Point], window: str, *, description: str, span: int
) -> stat.Panel:
    """How many devices have each fault flag set in their newest reading within ``window``."""
    return stat_panel(
        title,
        [
            InfluxQL(chr(65 + i), q.total_latest(profile.id, p.metric, window), alias=p.name)
            for i, p in enumerate(flags)
        ],
        "none",
        [(None, GREEN), (1, RED)],
        description=description,
        span=span,
    )
