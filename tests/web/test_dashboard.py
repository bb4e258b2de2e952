"""The built-in dashboard in headless Chromium over a hub that ingested real MQTT telemetry.

Each step leaves a screenshot in test-artifacts/ui/. The tests share one browser
and one hub and run in file order: the map, a node, acknowledging, filters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from hub.registry.access import Access
from tests.web.stack import T1, T2, V1, WebHub

RED, GREEN, GREY = "rgb(215, 38, 61)", "rgb(46, 157, 79)", "rgb(142, 142, 142)"


@pytest.fixture(scope="module")
def api(web: WebHub) -> Iterator[httpx.Client]:
    """The administrator's client on the same hub."""
    headers = {"Authorization": f"Bearer {web.hub.admin_token}"}
    with httpx.Client(base_url=web.hub.api_url, headers=headers, timeout=10) as client:
        yield client


def wait_for(driver: WebDriver, check: Any, what: str) -> Any:
    """Wait until ``check(driver)`` is truthy (the page loads data asynchronously)."""
    return WebDriverWait(driver, 10).until(check, message=f"timed out waiting for {what}")


def view_is(driver: WebDriver, view: str) -> None:
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.view") == view, f"view {view}")


def map_nodes(driver: WebDriver) -> dict[str, str]:
    """Node id -> status of the markers on the map (read in one script: the map redraws while filters apply)."""
    found: dict[str, str] = driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#map circle.node')]"
        ".map((c) => [c.dataset.node, c.dataset.status]))"
    )
    return found


def test_map_shows_every_node_coloured_by_status_and_grouped_by_town(
    browser: WebDriver, web: WebHub, api: httpx.Client, shots: Path
) -> None:
    browser.get(web.login_url)
    view_is(browser, "map")
    assert "token" not in browser.current_url  # the login link's token leaves the address bar at once
    # It is used only once the person at the screen confirms the identity it carries.
    wait_for(browser, lambda d: d.find_element(By.ID, "link-login").is_displayed(), "the login link's question")
    assert browser.execute_script("return sessionStorage.getItem('citysense.token')") is None
    assert "duty" in browser.find_element(By.ID, "link-login-text").text
    browser.find_element(By.ID, "link-login-accept").click()
    assert browser.execute_script("return sessionStorage.getItem('citysense.token')") == web.login_url.split("=")[1]
    assert map_nodes(browser) == {"N1": "alarm", "N2": "online", "N3": "offline"}
    hub_view = {n["id"]: n["status"] for n in api.get("/api/v1/map").json()["nodes"]}
    assert map_nodes(browser) == hub_view
    fill = "return getComputedStyle(document.querySelector('#map circle[data-node=\"%s\"]')).fill"
    assert [browser.execute_script(fill % n) for n in ("N1", "N2", "N3")] == [RED, GREEN, GREY]
    towns = {
        card.get_attribute("data-town"): sorted(
            a.get_attribute("data-node") for a in card.find_elements(By.CSS_SELECTOR, "a[data-node]")
        )
        for card in browser.find_elements(By.CSS_SELECTOR, "#towns .town-card")
    }
    assert towns == {T1: ["N1", "N2"], T2: ["N3"]}
    assert browser.find_element(By.ID, "alarm-count").text == "1"
    browser.save_screenshot(str(shots / "01-map.png"))


def test_node_page_charts_what_the_hub_ingested_against_the_warning_line(browser: WebDriver, shots: Path) -> None:
    browser.find_element(By.CSS_SELECTOR, '#map circle[data-node="N1"]').click()
    view_is(browser, "node")
    chart = '.device[data-device="N1.gauge"] svg.chart'
    points = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, chart).get_attribute("data-points"), "chart")
    assert int(points) >= 25  # half an hour of one-minute means, plus the live readings
    assert browser.find_elements(By.CSS_SELECTOR, f"{chart} line.line-warning")
    level = browser.find_element(By.CSS_SELECTOR, '.device[data-device="N1.gauge"] tr[data-metric="level"] td.v')
    assert level.text == "3.65 m"
    health = browser.find_element(By.CSS_SELECTOR, "#node-health")
    assert health.find_element(By.CSS_SELECTOR, "[data-liveness]").get_attribute("data-liveness") == "online"
    gauge = health.find_element(By.CSS_SELECTOR, 'tr[data-device="gauge"]').text
    assert "8.3 ms" in gauge and "40" in gauge  # the RTT and the read counts the agent reported
    assert "Buffered readings" in health.text and "12" in health.text
    alarm_rows = browser.find_elements(By.CSS_SELECTOR, "#node-alarms tr[data-alarm]")
    assert len(alarm_rows) == 1 and "level_warning" in alarm_rows[0].text
    browser.save_screenshot(str(shots / "02-node-1h.png"))

    browser.find_element(By.CSS_SELECTOR, '#ranges button[data-range="7d"]').click()
    wait_for(browser, lambda d: "per 60 min" in d.find_element(By.CSS_SELECTOR, ".chart-title").text, "7 d chart")
    hourly = int(browser.find_element(By.CSS_SELECTOR, chart).get_attribute("data-points") or 0)
    assert 1 <= hourly <= 2  # the same half hour in one or two hourly means
    browser.save_screenshot(str(shots / "03-node-7d.png"))


def test_acknowledge_with_a_comment_is_recorded_by_the_hub(browser: WebDriver, api: httpx.Client, shots: Path) -> None:
    [alarm] = api.get("/api/v1/alarms").json()
    browser.get(browser.current_url.split("#")[0] + "#/alarms")
    view_is(browser, "alarms")
    row = f'#alarms-table tr[data-alarm="{alarm["id"]}"]'
    browser.find_element(By.CSS_SELECTOR, f"{row} input").send_keys("去现场 on my way")
    browser.save_screenshot(str(shots / "04-alarms-before-ack.png"))
    browser.find_element(By.CSS_SELECTOR, f'{row} button[data-action="ack"]').click()
    wait_for(browser, lambda d: "acknowledged" in d.find_element(By.CSS_SELECTOR, row).text, "the row to update")
    assert "duty" in browser.find_element(By.CSS_SELECTOR, row).text
    assert not browser.find_elements(By.CSS_SELECTOR, f'{row} button[data-action="ack"]')
    browser.save_screenshot(str(shots / "05-alarms-acknowledged.png"))

    recorded = api.get(f"/api/v1/alarms/{alarm['id']}").json()
    assert recorded["state"] == "acknowledged" and recorded["acked_by"] == "duty"
    assert any("去现场 on my way" in e["detail"] and e["actor"] == "duty" for e in recorded["events"])


def test_department_and_town_filters_change_the_map_and_alarms(browser: WebDriver, shots: Path) -> None:
    browser.get(browser.current_url.split("#")[0] + "#/map")
    view_is(browser, "map")
    Select(browser.find_element(By.ID, "filter-dept")).select_by_value("urban")
    wait_for(browser, lambda d: map_nodes(d) == {"N2": "online"}, "only the urban pole")
    browser.save_screenshot(str(shots / "06-filter-department.png"))
    browser.find_element(By.ID, "nav-alarms").click()
    view_is(browser, "alarms")
    assert "No open alarms" in browser.find_element(By.ID, "alarms-table").text  # N1's alarm is the water department's

    browser.find_element(By.ID, "nav-map").click()
    Select(browser.find_element(By.ID, "filter-dept")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-region")).select_by_value(T2)
    wait_for(browser, lambda d: map_nodes(d) == {"N3": "offline"}, "only the other town's gauge")
    browser.save_screenshot(str(shots / "07-filter-town.png"))
    Select(browser.find_element(By.ID, "filter-region")).select_by_value(V1)
    wait_for(browser, lambda d: map_nodes(d) == {"N1": "alarm"}, "only the village's gauge")
    Select(browser.find_element(By.ID, "filter-region")).select_by_value("")
    wait_for(browser, lambda d: len(map_nodes(d)) == 3, "the whole city again")


def test_logging_in_as_a_water_clerk_never_shows_the_urban_pole(browser: WebDriver, web: WebHub, shots: Path) -> None:
    Access(web.hub.services.registry).upsert_user(
        "test", "water_clerk", "viewer", departments=["water"], password="clerk-password"
    )
    browser.get(f"{web.hub.api_url}/ui/#/map")
    view_is(browser, "map")
    browser.find_element(By.ID, "token-button").click()
    browser.find_element(By.ID, "token-clear").click()  # log the duty officer out first
    wait_for(browser, lambda d: len(map_nodes(d)) == 3, "the development mode's open read")
    assert browser.find_element(By.ID, "token-button").text.startswith("Log in")  # the form stays open
    browser.find_element(By.ID, "login-user").send_keys("water_clerk")
    browser.find_element(By.ID, "login-password").send_keys("clerk-password")
    browser.save_screenshot(str(shots / "08-login.png"))
    browser.find_element(By.CSS_SELECTOR, '#token-form button[type="submit"]').click()
    wait_for(browser, lambda d: map_nodes(d) == {"N1": "alarm", "N3": "offline"}, "the water nodes only")
    assert "water_clerk" in browser.find_element(By.ID, "message").text
    browser.save_screenshot(str(shots / "09-water-clerk.png"))
