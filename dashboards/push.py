"""Load the dashboards (and, optionally, the two data sources) into Grafana through its HTTP API.

Plain HTTP calls (httpx) to Grafana's documented HTTP API
(https://grafana.com/docs/grafana/latest/developers/http_api/), authenticated
with a service account token (``Authorization: Bearer``):
``GET /api/folders/<uid>`` then ``POST /api/folders`` when the folder is missing
(Folder API), ``GET /api/datasources/uid/<uid>`` then ``PUT`` it or
``POST /api/datasources`` (Data source API), and ``POST /api/dashboards/db``
with ``overwrite: true`` (Dashboard API), so pushing again updates in place
(dashboards are matched by uid).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

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


class _Refused(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        self.said = str(body.get("message", "")) if isinstance(body, dict) else ""
        super().__init__(f"HTTP {self.status} {response.reason_phrase}" + (f" ({self.said})" if self.said else ""))


def _call(api: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """One API call: the JSON reply, None for a 404, :class:`_Refused` for any other error status."""
    response = api.request(method, path, json=body)
    if response.status_code == 404 and method == "GET":
        return None
    if response.is_error:
        raise _Refused(response)
    reply = response.json()
    return reply if isinstance(reply, dict) else {}


def _upsert_datasource(api: httpx.Client, ds: dict[str, Any]) -> str:
    if _call(api, "GET", f"/api/datasources/uid/{ds['uid']}") is None:
        _call(api, "POST", "/api/datasources", ds)
        return "created"
    _call(api, "PUT", f"/api/datasources/uid/{ds['uid']}", ds)
    return "updated"


def _ensure_folder(api: httpx.Client, title: str) -> None:
    if _call(api, "GET", f"/api/folders/{FOLDER_UID}") is None:
        _call(api, "POST", "/api/folders", {"uid": FOLDER_UID, "title": title})


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
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    urls = []
    try:
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s) as api:
            if sources is not None:
                for ds in datasources(sources):
                    log.info("%s: data source %s", ds["uid"], _upsert_datasource(api, ds))
            _ensure_folder(api, folder)
            for name, data in sorted(boards.items()):
                body = {"dashboard": data, "folderUid": FOLDER_UID, "overwrite": True, "message": "citysense push"}
                reply = _call(api, "POST", "/api/dashboards/db", body) or {}
                log.info("%s: pushed (%s, version %s)", data["uid"], reply.get("status"), reply.get("version"))
                urls.append(str(reply.get("url", name)))
    except _Refused as exc:
        raise DashboardError(f"Grafana at {url} refused the push: {exc}") from exc
    except httpx.HTTPError as exc:
        raise DashboardError(f"cannot reach Grafana at {url}: {exc}") from exc
    return urls
