"""Traffic (交通): signal states, operating mode, faults, detector flows and cabinet supply."""

from __future__ import annotations

import re
from collections.abc import Mapping

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards import influxql as q
from dashboards.catalogue import Catalogue, Lines
from dashboards.panels import flags_now, grid, new_board, series, states, unit_of
from dashboards.targets import InfluxQL

KIND = "signal_cabinet"
SIGNAL_GROUP = re.compile(r"^sg\d+_state$")


def build(cat: Catalogue, site_lines: Mapping[str, Lines]) -> dash.Dashboard:
    """Return the traffic dashboard."""
    kind = cat.kind(KIND)
    ctrl = cat.profile(KIND, "ctrl")
    meter = cat.profile(KIND, "meter")
    groups = [p for p in ctrl.points if SIGNAL_GROUP.match(p.metric)]
    faults = cat.numeric(ctrl, "fault_")
    volumes = cat.numeric(ctrl, "det")
    board = new_board(
        "citysense-traffic",
        "CitySense · Signalised intersections (交通信号)",
        ["traffic"],
        kind.department,
        "Signal group states and operating mode, controller faults, detector volumes and occupancy.",
    )
    board = board.with_panel(
        flags_now(
            "Cabinets reporting a fault now",
            ctrl,
            faults,
            "5m",
            description="Per fault flag: intersections reporting it in the last 5 minutes.",
            span=24,
        )
    )
    board = board.with_row(dash.Row("Signal states"))
    mode = cat.point(ctrl, "mode")
    board = board.with_panel(
        states("Operating mode", [InfluxQL("A", q.over_time(ctrl.id, mode.metric, "last"), alias="$tag_device")], mode)
    )
    for point in groups:
        board = board.with_panel(
            states(
                point.name or point.metric,
                [InfluxQL("A", q.over_time(ctrl.id, point.metric, "last"), alias="$tag_device")],
                point,
                span=12,
                height=6,
            )
        )
    board = board.with_row(dash.Row("Faults"))
    board = board.with_panel(
        grid(
            "Controller faults (newest in range; 1 = active)",
            [InfluxQL("A", q.latest(ctrl.id, [p.metric for p in faults]), table=True)],
        )
    )
    board = board.with_row(dash.Row("Detector flows"))
    for suffix, title in (("_volume", "Detector volumes"), ("_occupancy", "Detector occupancy")):
        points = [p for p in volumes if p.metric.endswith(suffix)]
        board = board.with_panel(
            series(
                title,
                [
                    InfluxQL(chr(65 + i), q.over_time(ctrl.id, p.metric), alias=f"$tag_device {p.metric}")
                    for i, p in enumerate(points)
                ],
                unit_of(points[0]),
                description="Mean per interval of each stop-line detector.",
                span=12,
            )
        )
    board = board.with_row(dash.Row("Cabinet supply"))
    power = cat.point(meter, "active_power")
    board = board.with_panel(
        series(
            "Cabinet power",
            [InfluxQL("A", q.over_time(meter.id, power.metric), alias="$tag_device")],
            unit_of(power),
            span=12,
        )
    )
    phases = cat.numeric(meter, "voltage_")
    return board.with_panel(
        series(
            "Cabinet phase voltages",
            [
                InfluxQL(chr(65 + i), q.over_time(meter.id, p.metric), alias=f"$tag_device {p.metric}")
                for i, p in enumerate(phases)
            ],
            unit_of(phases[0]),
            span=12,
        )
    )
