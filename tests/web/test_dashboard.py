"""The built-in web dashboard in a real headless Chromium, on the demo's embedded defaults.

Load the map, open a node and see its charts, acknowledge an alarm with a
comment, filter by department and town; each step leaves a screenshot in
``test-artifacts/ui/``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from hub.config import DEV_ADMIN_TOKEN
from tests.web.conftest import DANGER_M, GAUGE, WARNING_M, Site, screenshot

WAIT_S = 30


def _view(driver: WebDriver, view: str) -> None:
    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-view") == view
    )


def _rgb(css: str) -> tuple[int, ...]:
    """``rgb(a, b, c)`` or ``rgba(a, b, c, 1)`` as ``(a, b, c)``."""
    return tuple(int(x) for x in re.findall(r"\d+", css)[:3])


def _markers(driver: WebDriver) -> dict[str, str]:
    """Node id -> status of the markers on the map, read in one go (the map redraws while filters apply)."""
    script = "return [...document.querySelectorAll('#map circle.node')].map(c => [c.dataset.node, c.dataset.status])"
    return dict(driver.execute_script(script))


def test_the_map_shows_every_node_coloured_by_status_and_grouped_by_town(site: Site, browser: WebDriver) -> None:
    browser.get(site.url + "/ui/")
    _view(browser, "map")
    expected = site.api("/api/v1/map")
    assert _markers(browser) == {n["id"]: n["status"] for n in expected["nodes"]}
    assert len(expected["nodes"]) == 4 and {n["status"] for n in expected["nodes"]} == {"online"}
    online = browser.find_element(By.CSS_SELECTOR, "#map circle.status-online")
    legend = browser.find_element(By.CSS_SELECTOR, ".legend .dot.online")
    assert _rgb(online.value_of_css_property("fill")) == _rgb(legend.value_of_css_property("background-color"))
    towns = {g.get_attribute("data-town") for g in browser.find_elements(By.CSS_SELECTOR, "#map g.town-group")}
    assert towns == {t["code"] for t in expected["towns"]}
    assert browser.find_element(By.ID, "total-online").text.startswith("4")
    screenshot(browser, "01-map")


def test_a_node_page_charts_the_readings_the_hub_stored(site: Site, browser: WebDriver) -> None:
    browser.get(site.url + "/ui/")
    _view(browser, "map")
    browser.find_element(By.CSS_SELECTOR, f'#map circle[data-node="{GAUGE}"]').click()
    _view(browser, "node")
    card = browser.find_element(By.CSS_SELECTOR, f'.device[data-device="{GAUGE}.level"]')
    chart = card.find_element(By.CSS_SELECTOR, "svg.chart")
    WebDriverWait(browser, WAIT_S).until(lambda _: int(chart.get_attribute("data-points") or 0) >= 1)
    assert "water_level" in card.find_element(By.CSS_SELECTOR, ".chart-title").text
    # The gauge's warning and danger levels from the alert rules are drawn on its chart.
    labels = [t.text for t in chart.find_elements(By.CSS_SELECTOR, "text.line-label")]
    assert any(str(WARNING_M).rstrip("0").rstrip(".") in t for t in labels), labels
    assert any(str(DANGER_M).rstrip("0").rstrip(".") in t for t in labels), labels
    # The latest value shown is the one the simulator serves (frozen) and the hub stored.
    stored = site.api(f"/api/v1/devices/{GAUGE}.level/latest")["readings"]["water_level"]["value"]
    shown = card.find_element(By.CSS_SELECTOR, 'tr[data-metric="water_level"] td.v').text
    assert shown.split()[0] == f"{stored:.3g}" or float(shown.split()[0]) == round(stored, 3), (shown, stored)
    screenshot(browser, "02-node")
    browser.find_element(By.CSS_SELECTOR, 'button[data-range="24h"]').click()
    WebDriverWait(browser, WAIT_S).until(lambda d: "per 15 min" in d.find_element(
        By.CSS_SELECTOR, f'.device[data-device="{GAUGE}.level"] .chart-title').text)  # fmt: skip
    screenshot(browser, "03-node-24h")


def test_a_duty_officer_acknowledges_an_alarm_with_a_comment(site: Site, browser: WebDriver) -> None:
    site.set_level(WARNING_M + 1.5)  # the river rises above the gauge's warning level
    wait = WebDriverWait(browser, 60, poll_frequency=0.5)

    def warning() -> list[dict[str, Any]]:
        alarms = site.api("/api/v1/alarms", state="open")
        return [a for a in alarms if a["device"] == f"{GAUGE}.level" and a["rule"] == "level_warning"]

    wait.until(lambda _: warning())  # (the profile's rising_fast rule may fire too)
    (alarm,) = warning()
    assert alarm["state"] == "active" and alarm["severity"] == "warning"

    browser.get(site.url + f"/ui/#token={site.token}")  # the login link the demo prints
    _view(browser, "map")
    assert "token=" not in browser.current_url  # the token does not stay in the address bar
    assert _markers(browser)[GAUGE] == "alarm"
    screenshot(browser, "04-map-with-alarm")
    browser.find_element(By.ID, "nav-alarms").click()
    _view(browser, "alarms")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-alarm="{alarm["id"]}"]')
    row.find_element(By.CSS_SELECTOR, 'input[aria-label="comment"]').send_keys("已派人去泗水镇现场查看")
    screenshot(browser, "05-alarms-open")
    row.find_element(By.CSS_SELECTOR, 'button[data-action="ack"]').click()
    WebDriverWait(browser, WAIT_S).until(lambda d: "acknowledged" in d.find_element(By.ID, "message").text)
    WebDriverWait(browser, WAIT_S).until(
        lambda d: (
            "acknowledged" in d.find_element(By.CSS_SELECTOR, f'tr[data-alarm="{alarm["id"]}"] td[class^="state"]').text
        )
    )
    screenshot(browser, "06-alarm-acknowledged")
    detail = site.api(f"/api/v1/alarms/{alarm['id']}")
    assert detail["state"] == "acknowledged" and detail["acked_by"] == "duty"
    events = [(e["action"], e["actor"], e["detail"]) for e in detail["events"]]
    assert ("comment", "duty", "已派人去泗水镇现场查看") in events
    assert any(action == "acknowledged" and actor == "duty" for action, actor, _ in events)


def test_department_and_town_filters_change_what_is_shown(site: Site, browser: WebDriver) -> None:
    browser.get(site.url + "/ui/")
    _view(browser, "map")
    everything = set(_markers(browser))
    water = {n["id"] for n in site.api("/api/v1/map", department="water")["nodes"]}
    assert water and water < everything
    Select(browser.find_element(By.ID, "filter-dept")).select_by_value("water")
    WebDriverWait(browser, WAIT_S).until(lambda d: set(_markers(d)) == water)
    screenshot(browser, "07-filter-water")
    Select(browser.find_element(By.ID, "filter-dept")).select_by_value("")
    town = site.api("/api/v1/map")["nodes"][0]["town"]
    Select(browser.find_element(By.ID, "filter-region")).select_by_value(town)
    in_town = {n["id"] for n in site.api("/api/v1/map", region=town)["nodes"]}
    WebDriverWait(browser, WAIT_S).until(lambda d: set(_markers(d)) == in_town)
    assert len(in_town) < len(site.api("/api/v1/map")["nodes"])
    screenshot(browser, "08-filter-town")


def test_the_map_api_answers_only_what_a_token_may_see(site: Site) -> None:
    admin = {"Authorization": f"Bearer {DEV_ADMIN_TOKEN}"}
    with httpx.Client(base_url=site.url, headers=admin, timeout=10) as api:
        body = {"role": "viewer", "departments": ["water"], "display_name": "水务局"}
        assert api.put("/api/v1/users/water-viewer", json=body).status_code == 200
        token = api.post("/api/v1/tokens", json={"user_id": "water-viewer", "name": "test"}).json()["token"]
        everything = api.get("/api/v1/map").json()
    viewer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=site.url, headers=viewer, timeout=10) as api:
        seen = api.get("/api/v1/map").json()
        assert {n["department"] for n in seen["nodes"]} == {"water"}
        assert len(seen["nodes"]) < len(everything["nodes"])
        pole = next(n["id"] for n in everything["nodes"] if n["department"] != "water")
        assert api.get(f"/api/v1/map/nodes/{pole}").status_code in (403, 404)
        gauge = api.get(f"/api/v1/map/nodes/{GAUGE}").json()
        level = next(d for d in gauge["devices"] if d["id"] == "level")
        lines = next(p for p in level["points"] if p["metric"] == "water_level")["lines"]
        assert lines == {"warning": WARNING_M, "danger": DANGER_M}
