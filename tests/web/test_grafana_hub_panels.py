"""The Grafana overview's hub panels (Infinity data source) read fields the hub's API really returns."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dashboards.build import GENERATED
from dashboards.targets import HUB_UID
from tests.web.stack import WebHub

BOARDS = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(GENERATED.glob("citysense-*.json"))}
HUB_TARGETS = [
    (uid, panel["title"], t)
    for uid, board in BOARDS.items()
    for panel in board["panels"]
    for t in panel.get("targets", [])
    if t["datasource"]["uid"] == HUB_UID
]


def test_the_overview_has_hub_panels() -> None:
    assert {title for _, title, _ in HUB_TARGETS} >= {"Nodes by town", "Open alarms by severity", "Open alarms"}


@pytest.mark.parametrize(("uid", "title", "target"), HUB_TARGETS, ids=[f"{u}:{t}" for u, t, _ in HUB_TARGETS])
def test_a_hub_panel_gets_rows_with_every_column_it_shows(
    web: WebHub, uid: str, title: str, target: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {web.hub.admin_token}"}
    body = httpx.get(web.hub.api_url + target["url"], headers=headers, timeout=10).json()  # N1's alarm is open
    rows = body[target["root_selector"]] if target["root_selector"] else body
    assert isinstance(rows, list) and rows, f"{uid}: '{title}' would show no rows"
    for column in target["columns"]:
        assert all(column["selector"] in row for row in rows), f"{uid}: '{title}' shows a missing field {column}"
