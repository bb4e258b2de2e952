"""Water (水务): levels against warning and danger lines, rainfall accumulations, gauge health."""

from __future__ import annotations

from collections.abc import Mapping

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards import influxql as q
from dashboards.catalogue import Catalogue, Lines, grafana_unit, lines_from_rules
from dashboards.panels import accumulations, grid, new_board, series, unit_of
from dashboards.targets import InfluxQL

KIND = "water_gauge"


def build(cat: Catalogue, site_lines: Mapping[str, Lines]) -> dash.Dashboard:
    """Return the water dashboard."""
    kind = cat.kind(KIND)
    gauge = cat.profile(KIND, "level")
    rain = cat.profile(KIND, "rain")
    level = cat.point(gauge, "water_level")
    total = cat.point(rain, "rain_total")
    board = new_board(
        "citysense-water",
        "CitySense · Water levels and rainfall (水位雨量)",
        ["water"],
        kind.department,
        "River, reservoir and waterlogging gauges: level against warning and danger lines, rainfall.",
    )
    board = board.with_row(dash.Row("Water levels"))
    board = board.with_panel(
        series(
            "Water level, all gauges",
            [InfluxQL("A", q.over_time(gauge.id, level.metric), alias="$tag_device")],
            unit_of(level),
            description="Mean level per interval above the gauge datum. Dashed lines: the profile's default "
            "warning (yellow) and danger (red) levels, when it has them.",
            lines=lines_from_rules(gauge.alerts, level.metric),
            span=16,
        )
    )
    board = board.with_panel(
        grid(
            "Gauges now",
            [
                InfluxQL(
                    "A",
                    q.latest(gauge.id, [level.metric, "signal_quality", "device_temperature"]),
                    table=True,
                )
            ],
            description="Newest level, radar signal quality (dB) and electronics temperature per gauge.",
            span=8,
        )
    )
    for uid, lines in sorted(site_lines.items()):
        board = board.with_panel(
            series(
                f"{uid}: level against its lines",
                [InfluxQL("A", q.over_time(gauge.id, level.metric, where=q.device_is(uid)), alias="$tag_device")],
                unit_of(level),
                description=f"Warning line {lines.warning} m, danger line {lines.danger} m (site alert rules).",
                lines=lines,
                span=12,
            )
        )
    board = board.with_row(dash.Row("Rainfall"))
    board = board.with_panel(
        series(
            "Rainfall per interval",
            [InfluxQL("A", q.increase(rain.id, total.metric), alias="$tag_device")],
            grafana_unit(total.unit),
            description="Growth of each gauge's retained rain total per interval (counter resets ignored).",
            bars=True,
            span=24,
        )
    )
    for panel in accumulations(rain, total, span=8):
        board = board.with_panel(panel)
    board = board.with_row(dash.Row("Gauge health"))
    return board.with_panel(
        series(
            "Level readings with bad quality",
            [InfluxQL("A", q.bad_quality(gauge.id, level.metric), alias="$tag_device")],
            "short",
            description="Count per interval of level readings that failed (timeout, out of range, sensor fault).",
            bars=True,
            span=24,
        )
    )
