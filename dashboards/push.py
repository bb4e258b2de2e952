"""Load the dashboards (and, optionally, the two data sources) into Grafana through its HTTP API.

Uses grafana-client: ``POST /api/folders`` (when the folder is missing),
``GET/POST/PUT /api/datasources[/uid/<uid>]`` and ``POST /api/dashboards/db``
with ``overwrite: true``, so pushing again updates in place (dashboards are
matched by uid).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards import DashboardError
from dashboards.targets import HUB_UID, INFLUX_UID

log = logging.getLogger(__name__)
FOLDER_UID = "citysense"


@dataclass(frozen=True)
class Sources:
    """Where Grafana finds InfluxDB and the hub (URLs as Grafana's server sees them)."""

    influx_url: str
    influx_database: str = "citysense"
    hub_url: str = ""
    hub_token: str = ""


def datasources(src: Sources) -> list[dict[str, Any]]:
    """The data source definitions, as the HTTP API and the provisioning file both take them."""
    out: list[dict[str, Any]] = [
        {
            "uid": INFLUX_UID,
            "name": "CitySense InfluxDB",
            "type": "influxdb",
            "access": "proxy",
            "url": src.influx_url,
            "jsonData": {"dbName": src.influx_database, "httpMode": "GET", "version": "InfluxQL"},
        }
    ]
    if src.hub_url:
        out.append(
            {
                "uid": HUB_UID,
                "name": "CitySense hub API",
                "type": "yesoreyeram-infinity-datasource",
                "access": "proxy",
                "url": src.hub_url,
                "jsonData": {"auth_method": "bearerToken", "allowedHosts": [src.hub_url]},
                "secureJsonData": {"bearerToken": src.hub_token},
            }
        )
    return out


def _upsert_datasource(api: GrafanaApi, ds: dict[str, Any]) -> str:
    try:
        api.datasource.get_datasource_by_uid(ds["uid"])
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.datasource.create_datasource(ds)
        return "created"
    api.datasource.update_datasource_by_uid(ds["uid"], ds)
    return "updated"


def _ensure_folder(api: GrafanaApi, title: str) -> None:
    try:
        api.folder.get_folder(FOLDER_UID)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.folder.create_folder(title, uid=FOLDER_UID)


def push(
    url: str,
    token: str,
    boards: Mapping[str, dict[str, Any]],
    *,
    sources: Sources | None = None,
    folder: str = "CitySense",
    timeout_s: float = 10.0,
) -> list[str]:
    """Push every board into the folder (and the data sources when given); return Grafana's dashboard urls."""
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    urls = []
    try:
        if sources is not None:
            for ds in datasources(sources):
                log.info("%s: data source %s", ds["uid"], _upsert_datasource(api, ds))
        _ensure_folder(api, folder)
        for name, data in sorted(boards.items()):
            reply = api.dashboard.update_dashboard(
                {"dashboard": data, "folderUid": FOLDER_UID, "overwrite": True, "message": "citysense push"}
            )
            log.info("%s: pushed (%s, version %s)", data["uid"], reply.get("status"), reply.get("version"))
            urls.append(str(reply.get("url", name)))
    except GrafanaException as exc:
        said = exc.response.get("message", "") if isinstance(exc.response, dict) else ""
        detail = f"HTTP {exc.status_code} {exc.message}" + (f" ({said})" if said and said not in exc.message else "")
        if not exc.status_code:  # grafana-client maps connection failures to status 0
            raise DashboardError(f"cannot reach Grafana at {url}: {exc.message}") from exc
        raise DashboardError(f"Grafana at {url} refused the push: {detail}") from exc
    except Exception as exc:  # niquests connection errors: report them in one sentence
        if isinstance(exc, DashboardError):
            raise
        raise DashboardError(f"cannot reach Grafana at {url}: {exc}") from exc
    return urls
