"""Query models the foundation SDK lacks: raw InfluxQL and the hub's JSON API (Infinity data source).

Both serialise to the target JSON Grafana stores in a panel's ``targets``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

# Data source uids fixed by dashboards/provisioning/datasources/citysense.yaml (and by `push`).
INFLUX_UID = "citysense-influx"
HUB_UID = "citysense-hub"
INFLUX = dashboard.DataSourceRef(type_val="influxdb", uid=INFLUX_UID)
HUB = dashboard.DataSourceRef(type_val="yesoreyeram-infinity-datasource", uid=HUB_UID)


@dataclass
class InfluxQLQuery(cogvariants.Dataquery):
    """One raw InfluxQL statement, as the InfluxDB data source's raw query editor saves it."""

    ref_id: str
    query: str
    alias: str = ""
    result_format: Literal["time_series", "table"] = "time_series"

    def to_json(self) -> dict[str, object]:
        """Return the target as Grafana stores it."""
        out: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": INFLUX.to_json(),
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias:
            out["alias"] = self.alias
        return out


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """Builder for :class:`InfluxQLQuery`."""

    def __init__(self, ref_id: str, query: str, *, alias: str = "", table: bool = False) -> None:
        self._q = InfluxQLQuery(ref_id, query, alias, "table" if table else "time_series")

    def build(self) -> InfluxQLQuery:
        """Return the query."""
        return self._q


@dataclass
class HubColumn:
    """One column the Infinity data source picks out of each JSON row."""

    selector: str
    text: str
    type: Literal["string", "number", "timestamp_epoch"] = "string"


@dataclass
class HubApiQuery(cogvariants.Dataquery):
    """A GET on the hub's API, turned into a table by the Infinity data source (backend parser)."""

    ref_id: str
    path: str  # relative to the data source URL (the hub's base URL)
    root_selector: str = ""
    columns: list[HubColumn] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """Return the target as the Infinity data source stores it."""
        return {
            "refId": self.ref_id,
            "datasource": HUB.to_json(),
            "type": "json",
            "source": "url",
            "parser": "backend",
            "format": "table",
            "url": self.path,
            "url_options": {"method": "GET", "data": ""},
            "root_selector": self.root_selector,
            "columns": [{"selector": c.selector, "text": c.text, "type": c.type} for c in self.columns],
        }


class HubApi(cogbuilder.Builder[HubApiQuery]):
    """Builder for :class:`HubApiQuery`."""

    def __init__(self, ref_id: str, path: str, root_selector: str, columns: list[HubColumn]) -> None:
        self._q = HubApiQuery(ref_id, path, root_selector, columns)

    def build(self) -> HubApiQuery:
        """Return the query."""
        return self._q
