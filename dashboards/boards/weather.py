"""Weather (气象): station values, wind, rain, against the profile's alert levels."""

from __future__ import annotations

from collections.abc import Mapping

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common

from dashboards import influxql as q
from dashboards.catalogue import Catalogue, Lines, lines_from_rules
from dashboards.panels import accumulations, grid, new_board, series, unit_of
from dashboards.targets import InfluxQL

KIND = "weather_station"
VALUES = ["air_temperature", "humidity", "pressure", "wind_speed", "wind_direction", "rain_1h"]


def build(cat: Catalogue, site_lines: Mapping[str, Lines]) -> dash.Dashboard:
    """Return the weather dashboard."""
    kind = cat.kind(KIND)
    met = cat.profile(KIND, "met")
    for m in VALUES:
        cat.point(met, m)
    board = new_board(
        "citysense-weather",
        "CitySense · Village weather stations (自动气象站)",
        ["weather"],
        kind.department,
        "Automatic weather stations: temperature, humidity, pressure, wind and rain.",
    )
    board = board.with_panel(
        grid(
            "Station values (newest in range)",
            [InfluxQL("A", q.latest(met.id, VALUES), table=True)],
            description="One row per station.",
        )
    )
    board = board.with_row(dash.Row("Air"))
    for metric in ("air_temperature", "humidity", "pressure"):
        point = cat.point(met, metric)
        board = board.with_panel(
            series(
                point.name or metric,
                [InfluxQL("A", q.over_time(met.id, metric), alias="$tag_device")],
                unit_of(point),
                lines=lines_from_rules(met.alerts, metric),
                span=8,
            )
        )
    board = board.with_row(dash.Row("Wind"))
    speed = cat.point(met, "wind_speed")
    board = board.with_panel(
        series(
            "Wind speed",
            [
                InfluxQL("A", q.over_time(met.id, "wind_speed"), alias="$tag_device mean"),
                InfluxQL("B", q.over_time(met.id, "wind_speed", "max"), alias="$tag_device gust"),
            ],
            unit_of(speed),
            description="Mean and maximum per interval; dashed lines: the profile's gale rule.",
            lines=lines_from_rules(met.alerts, "wind_speed"),
            span=12,
        )
    )
    direction = cat.point(met, "wind_direction")
    board = board.with_panel(
        series(
            "Wind direction",
            [InfluxQL("A", q.over_time(met.id, "wind_direction", "last"), alias="$tag_device")],
            unit_of(direction),
            description="Degrees from north, the direction the wind comes from.",
            span=12,
        ).draw_style(common.GraphDrawStyle.POINTS)
    )
    board = board.with_row(dash.Row("Rain"))
    total = cat.point(met, "rain_total")
    board = board.with_panel(
        series(
            "Rainfall per interval",
            [InfluxQL("A", q.increase(met.id, total.metric), alias="$tag_device")],
            unit_of(total),
            bars=True,
            span=12,
        )
    )
    for panel in accumulations(met, total, span=6):
        board = board.with_panel(panel)
    return board
