"""``python -m dashboards push`` against a server speaking Grafana's HTTP API."""

from __future__ import annotations

import json

import pytest

from dashboards import DashboardError
from dashboards.__main__ import main
from dashboards.build import GENERATED, build_all
from dashboards.catalogue import Catalogue
from dashboards.push import Sources, push
from dashboards.targets import HUB_UID, INFLUX_UID
from tests.dashboards.grafana_server import FakeGrafana

TOKEN = "glsa_test_token"


def test_push_creates_folder_datasources_and_every_dashboard(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeGrafana(TOKEN) as grafana:
        code = main(
            [
                "push",
                "--url",
                grafana.url,
                "--token",
                TOKEN,
                "--influx-url",
                "http://influx:8086",
                "--hub-url",
                "http://hub:8080",
                "--hub-token",
                "cs_x_y",
            ]
        )
        assert code == 0, capsys.readouterr().err
        st = grafana.state
        committed = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in GENERATED.glob("citysense-*.json")}
        assert {uid: d["dashboard"] for uid, d in st.dashboards.items()} == committed
        assert all(d["folderUid"] == "citysense" for d in st.dashboards.values())
        assert st.folders == {"citysense": "CitySense"}
        assert st.datasources[INFLUX_UID]["url"] == "http://influx:8086"
        assert st.datasources[INFLUX_UID]["jsonData"]["dbName"] == "citysense"
        assert st.datasources[HUB_UID]["secureJsonData"] == {"bearerToken": "cs_x_y"}
        printed = capsys.readouterr().out.split()
        assert "/d/citysense-water/citysense-water-levels-and-rainfall" in printed


def test_pushing_again_updates_in_place() -> None:
    boards = build_all(Catalogue.load())
    with FakeGrafana(TOKEN) as grafana:
        push(grafana.url, TOKEN, boards, sources=Sources("http://influx:8086"))
        push(grafana.url, TOKEN, boards, sources=Sources("http://influx:8086"))
        st = grafana.state
        assert len(st.dashboards) == len(boards)
        assert {d["version"] for d in st.dashboards.values()} == {2}
        assert ("PUT", f"/api/datasources/uid/{INFLUX_UID}") in st.calls  # updated, not created twice
        assert [c for c in st.calls if c == ("POST", "/api/folders")] == [("POST", "/api/folders")]
        assert HUB_UID not in st.datasources  # no hub URL given: the Infinity source is not created


def test_a_wrong_token_is_one_clear_error() -> None:
    with (
        FakeGrafana(TOKEN) as grafana,
        pytest.raises(DashboardError, match=r"refused the push: HTTP 401.*invalid API key"),
    ):
        push(grafana.url, "wrong", build_all(Catalogue.load()))


def test_a_dashboard_grafana_refuses_names_the_reason() -> None:
    boards = {"x.json": {"uid": "x", "title": "", "panels": []}}
    with FakeGrafana(TOKEN) as grafana, pytest.raises(DashboardError, match="title cannot be empty"):
        push(grafana.url, TOKEN, boards)


def test_no_grafana_listening_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.harness import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert main(["push", "--url", url, "--token", TOKEN]) == 1
    assert f"cannot reach Grafana at {url}" in capsys.readouterr().err
