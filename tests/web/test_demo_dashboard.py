"""The README's first command shows the dashboard: the demo stack on embedded defaults (amqtt, SQLite), in Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from hub.config import HubSettings
from hub.demo.run import ALERTS, demo_stack
from hub.demo.stations import AQ_NODE, DTU_NODE
from tests.web.loopthread import LoopThread
from tests.web.stack import WebHub, login_url
from tests.web.test_dashboard import map_nodes, view_is, wait_for


@asynccontextmanager
async def demo_hub(root: Path) -> AsyncIterator[WebHub]:
    """The demo as ``citysense-demo`` runs it (one node per kind, its alerts file), once every node is online."""
    settings = HubSettings(data_dir=root, api_port=0, alerts_file=ALERTS)
    async with demo_stack(settings, per_kind=1) as demo:
        uids = [f"{node}.{device}" for node, sim in demo.simulators.items() for device in sim.snapshot()]
        uids += [f"{AQ_NODE}.monitor", f"{DTU_NODE}.met"]  # the dial-in stations: HJ 212 monitor, 4G DTU site
        await demo.hub.services.latest.wait_until(lambda cache: all(cache.get(uid) for uid in uids), 30.0)
        yield WebHub(demo.hub, await login_url(demo.hub))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebHub]:
    runner = LoopThread(lambda: demo_hub(tmp_path_factory.mktemp("demo")), "demo-hub")
    try:
        yield runner.start()
    finally:
        runner.stop()


def test_the_demo_link_opens_a_map_of_its_online_nodes_and_their_charts(
    browser: WebDriver, demo: WebHub, shots: Path
) -> None:
    browser.get(demo.login_url)
    view_is(browser, "map")
    nodes = map_nodes(browser)
    assert len(nodes) == 7 and set(nodes.values()) <= {"online", "alarm"}  # 4 agents' nodes and 3 stations
    assert {AQ_NODE, DTU_NODE} <= set(nodes)
    browser.save_screenshot(str(shots / "10-demo-map.png"))
    gauge = next(n for n in nodes if n.startswith("GZ-WG-"))
    browser.find_element(By.CSS_SELECTOR, f'#map circle[data-node="{gauge}"]').click()
    view_is(browser, "node")
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart[data-points]")
    assert charts and wait_for(browser, lambda d: int(charts[0].get_attribute("data-points") or 0) >= 1, "data")
    # The demo's alerts file sets the river gauges' warning and danger levels: the level chart draws both.
    assert "water_level" in browser.find_element(By.CSS_SELECTOR, ".chart-title").text
    assert charts[0].find_elements(By.CSS_SELECTOR, "line.line-warning")
    assert charts[0].find_elements(By.CSS_SELECTOR, "line.line-danger")
    browser.save_screenshot(str(shots / "11-demo-node.png"))
