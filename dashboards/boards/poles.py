"""Smart poles (一杆多用): lamp state, energy, faults and the street environment."""

from __future__ import annotations

from collections.abc import Mapping

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards import influxql as q
from dashboards.catalogue import Catalogue, Lines, lines_from_rules
from dashboards.panels import flags_now, grid, new_board, series, stat_panel, states, unit_of
from dashboards.targets import InfluxQL

KIND = "smart_pole"


def build(cat: Catalogue, site_lines: Mapping[str, Lines]) -> dash.Dashboard:
    """Return the smart-pole dashboard."""
    kind = cat.kind(KIND)
    lamp = cat.profile(KIND, "lamp")
    meter = cat.profile(KIND, "meter")
    env = cat.profile(KIND, "env")
    on = cat.point(lamp, "lamp_on")
    faults = cat.numeric(lamp, "fault_")
    board = new_board(
        "citysense-poles",
        "CitySense · Smart poles and street lights (智慧灯杆)",
        ["urban_management", "lighting"],
        kind.department,
        "Lamp state and dimming, lamp and pole energy, lamp faults, and the environment boxes on the poles.",
    )
    board = board.with_row(dash.Row("Lamps"))
    board = board.with_panel(
        stat_panel(
            "Lamps on now",
            [InfluxQL("A", q.total_latest(lamp.id, on.metric, "15m"))],
            "none",
            [(None, "blue")],
            description="Poles whose lamp relay reported closed in the last 15 minutes.",
        )
    )
    board = board.with_panel(
        flags_now(
            "Lamps with a fault now",
            lamp,
            faults,
            "15m",
            description="Per fault flag: poles reporting it in the last 15 minutes.",
            span=18,
        )
    )
    board = board.with_panel(
        states("Lamp relay", [InfluxQL("A", q.over_time(lamp.id, on.metric, "last"), alias="$tag_device")], on, span=12)
    )
    dim = cat.point(lamp, "dim_level")
    board = board.with_panel(
        series(
            "Dimming level",
            [InfluxQL("A", q.over_time(lamp.id, dim.metric, "last"), alias="$tag_device")],
            unit_of(dim),
            span=12,
        )
    )
    board = board.with_panel(
        grid(
            "Lamp faults (newest in range; 1 = active)",
            [InfluxQL("A", q.latest(lamp.id, [p.metric for p in faults]), table=True)],
        )
    )
    board = board.with_row(dash.Row("Energy"))
    energy = cat.point(lamp, "energy")
    board = board.with_panel(
        series(
            "Lamp energy per interval",
            [InfluxQL("A", q.increase(lamp.id, energy.metric), alias="$tag_device")],
            unit_of(energy),
            bars=True,
            span=12,
        )
    )
    power = cat.point(meter, "active_power")
    board = board.with_panel(
        series(
            "Pole supply power",
            [InfluxQL("A", q.over_time(meter.id, power.metric), alias="$tag_device")],
            unit_of(power),
            description="Whole pole: lamp, camera, screen, small cell.",
            span=12,
        )
    )
    voltage = cat.point(meter, "voltage")
    board = board.with_panel(
        series(
            "Pole supply voltage",
            [InfluxQL("A", q.over_time(meter.id, voltage.metric), alias="$tag_device")],
            unit_of(voltage),
            lines=lines_from_rules(meter.alerts, voltage.metric),
            span=24,
        )
    )
    board = board.with_row(dash.Row("Environment"))
    for metric in ("pm25", "pm10", "noise", "air_temperature", "humidity"):
        point = cat.point(env, metric)
        board = board.with_panel(
            series(
                point.name or metric,
                [InfluxQL("A", q.over_time(env.id, metric), alias="$tag_device")],
                unit_of(point),
                lines=lines_from_rules(env.alerts, metric),
                span=8 if metric not in ("pm25", "pm10") else 12,
            )
        )
    return board
