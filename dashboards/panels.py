"""Panel and variable helpers shared by the boards: one look, one set of filters, one layout."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import bargauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig, ReduceDataOptions
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from citysense.profiles.model import Point
from dashboards import influxql as q
from dashboards.catalogue import Lines, grafana_unit
from dashboards.targets import INFLUX

Target = cogbuilder.Builder[cogvariants.Dataquery]
GREEN, YELLOW, ORANGE, RED, BLUE, GREY = "green", "#EAB839", "orange", "red", "blue", "#8e8e8e"
SEVERITY_COLOURS = {"info": BLUE, "warning": YELLOW, "major": ORANGE, "critical": RED}


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
    for t in targets:
        panel = panel.with_target(t)
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
    for t in targets:
        panel = panel.with_target(t)
    return panel


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
    for t in targets:
        panel = panel.with_target(t)
    return panel


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
    for t in targets:
        panel = panel.with_target(t)
    return panel


def grid(
    title: str, targets: Sequence[Target], *, description: str = "", span: int = 24, height: int = 8
) -> table.Panel:
    """A table panel."""
    panel = table.Panel().title(title).description(description).datasource(INFLUX).span(span).height(height)
    for t in targets:
        panel = panel.with_target(t)
    return panel


def unit_of(point: Point) -> str:
    """Grafana unit of a profile point."""
    return grafana_unit(point.unit)
