"""The provisioning files give Grafana the data sources and folder the dashboards refer to."""

from __future__ import annotations

from pathlib import Path

import yaml

from dashboards.build import GENERATED, build_all
from dashboards.catalogue import Catalogue
from dashboards.push import FOLDER_UID, Sources, datasources

PROVISIONING = GENERATED.parent / "provisioning"


def _datasources() -> list[dict]:
    return yaml.safe_load((PROVISIONING / "datasources" / "citysense.yaml").read_text(encoding="utf-8"))["datasources"]


def test_every_data_source_a_panel_uses_is_provisioned() -> None:
    provisioned = {(d["uid"], d["type"]) for d in _datasources()}
    used = {
        (t["datasource"]["uid"], t["datasource"]["type"])
        for board in build_all(Catalogue.load()).values()
        for panel in board["panels"]
        for t in panel.get("targets", [])
    }
    assert used == provisioned


def test_the_file_and_the_push_command_define_the_same_data_sources() -> None:
    pushed = datasources(Sources("http://influx:8086", "citysense", "http://hub:8080", "t"))
    for ds in pushed:
        filed = next(d for d in _datasources() if d["uid"] == ds["uid"])
        assert (filed["type"], filed["name"], set(filed["jsonData"])) == (ds["type"], ds["name"], set(ds["jsonData"]))


def test_the_dashboard_provider_loads_into_the_pushed_folder() -> None:
    doc = yaml.safe_load((PROVISIONING / "dashboards" / "citysense.yaml").read_text(encoding="utf-8"))
    (provider,) = doc["providers"]
    assert provider["type"] == "file" and provider["folderUid"] == FOLDER_UID
    assert Path(provider["options"]["path"]).is_absolute()
