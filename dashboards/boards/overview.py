"""City overview (运行指挥中心): nodes online by town, open alarms by severity, devices reporting.

Node status and alarms live in the hub's registry, not in InfluxDB, so those
panels read the hub's API through the Infinity data source; the "reporting"
panel reads InfluxDB.
"""

from __future__ import annotations

from collections.abc import Mapping

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.builders.common import ReduceDataOptions
from grafana_foundation_sdk.models import dashboard as model

from dashboards import influxql as q
from dashboards.catalogue import Catalogue, Lines
from dashboards.panels import BLUE, GREEN, ORANGE, RED, YELLOW, bars, new_board, thresholds
from dashboards.targets import HUB, HubApi, HubColumn, InfluxQL

REPORTING_WINDOW = "10m"


def build(cat: Catalogue, site_lines: Mapping[str, Lines]) -> dash.Dashboard:
    """Return the city overview."""
    board = new_board(
        "citysense-overview",
        "CitySense · City overview (城市物联总览)",
        ["overview"],
        None,
        "Every department's nodes by town, open alarms, and which devices are reporting.",
    )
    towns = (
        table.Panel()
        .title("Nodes by town")
        .description("From the hub registry: online = the node's agent is connected; in alarm = it has open alarms.")
        .datasource(HUB)
        .with_target(
            HubApi(
                "A",
                "/api/v1/map",
                "towns",
                [
                    HubColumn("name", "Town"),
                    HubColumn("code", "Code"),
                    HubColumn("nodes", "Nodes", "number"),
                    HubColumn("online", "Online", "number"),
                    HubColumn("offline", "Offline", "number"),
                    HubColumn("alarm", "In alarm", "number"),
                ],
            )
        )
        .span(12)
        .height(10)
    )
    board = board.with_panel(towns)
    severities = (
        bars(
            "Open alarms by severity",
            [
                HubApi(
                    "A",
                    "/api/v1/map",
                    "severities",
                    [HubColumn("severity", "Severity"), HubColumn("open", "Open", "number")],
                )
            ],
            "none",
            [(None, GREEN), (1, RED)],
            description="Open (active or acknowledged) alarms in the token's regions and departments.",
            span=12,
            height=10,
        )
        .datasource(HUB)
        .reduce_options(ReduceDataOptions().values(True).calcs([]).fields("/^Open$/"))
    )
    board = board.with_panel(severities)
    alarms = (
        table.Panel()
        .title("Open alarms")
        .datasource(HUB)
        .with_target(
            HubApi(
                "A",
                "/api/v1/alarms?state=open",
                "",
                [
                    HubColumn("id", "Alarm", "number"),
                    HubColumn("severity", "Severity"),
                    HubColumn("state", "State"),
                    HubColumn("device", "Device"),
                    HubColumn("rule", "Rule"),
                    HubColumn("value", "Value", "number"),
                    HubColumn("raised_ms", "Raised", "timestamp_epoch"),
                    HubColumn("department", "Department"),
                ],
            )
        )
        .override_by_name(
            "Severity",
            [
                model.DynamicConfigValue("custom.cellOptions", {"type": "color-background"}),
                model.DynamicConfigValue(
                    "mappings",
                    [
                        {
                            "type": "value",
                            "options": {
                                s: {"color": c, "index": i}
                                for i, (s, c) in enumerate(
                                    (("info", BLUE), ("warning", YELLOW), ("major", ORANGE), ("critical", RED))
                                )
                            },
                        }
                    ],
                ),
            ],
        )
        .span(24)
        .height(10)
    )
    board = board.with_panel(alarms)
    targets = []
    for i, (name, kind) in enumerate(sorted(cat.kinds.items())):
        first = kind.devices[0]
        profile = cat.profiles[first.profile]
        metric = cat.numeric(profile)[0].metric
        targets.append(
            InfluxQL(chr(65 + i), q.reporting(profile.id, metric, REPORTING_WINDOW), alias=f"{name} · $tag_town")
        )
    reporting = bars(
        f"Nodes reporting in the last {REPORTING_WINDOW}, by kind and town",
        targets,
        "none",
        [(None, BLUE)],
        description="From InfluxDB: nodes whose main device (the first of its node kind) stored a reading.",
        span=24,
        height=12,
    ).thresholds(thresholds([(None, BLUE)]))
    return board.with_panel(reporting)
