"""The demo stack in a thread (embedded broker, SQLite, simulators, agents, alert engine) and a headless Chromium.

The hub's built-in dashboard is driven in Debian's Chromium through its
ChromeDriver (selenium), on the same embedded defaults the README's first
command runs. Screenshots of each step go to ``test-artifacts/ui/``.
"""

from __future__ import annotations

import asyncio
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from citysense.profiles.transform import to_raw
from hub.config import HubSettings
from hub.demo.run import ALERTS, Demo, demo_stack, duty_officer_token

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
GAUGE = "GZ-WG-0001"  # the first water gauge of the demo plan
WARNING_M, DANGER_M = 8.0, 12.0  # this gauge's warning and danger levels in the test's alerts file


@dataclass
class Site:
    """A running demo: its URL, a duty officer's token, and a way to act on its simulators."""

    url: str
    token: str
    demo: Demo
    loop: asyncio.AbstractEventLoop

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the demo's event loop thread (the simulators live there)."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def set_level(self, metres: float) -> None:
        """Make the demo gauge's radar read ``metres`` (the agent picks it up at its next poll)."""
        sim = self.demo.simulators[GAUGE]
        profile = sim.devices["level"].profile  # type: ignore[attr-defined]
        registers = to_raw(profile, profile.point("water_level"), metres)
        self.call(lambda: sim.force_raw("level", "water_level", registers))

    def api(self, path: str, **params: Any) -> Any:
        r = httpx.get(self.url + path, params=params, headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
        r.raise_for_status()
        return r.json()


def _alerts_file(root: Path) -> Path:
    cfg = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    rules = [
        {
            "id": "level_warning",
            "kind": "threshold",
            "metric": "water_level",
            "above": WARNING_M,
            "severity": "warning",
        },
        {"id": "level_danger", "kind": "threshold", "metric": "water_level", "above": DANGER_M, "severity": "critical"},
    ]
    cfg["device_rules"] = {**cfg.get("device_rules", {}), f"{GAUGE}.level": {"rules": rules}}
    path = root / "alerts.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def _serve(settings: HubSettings, out: queue.Queue[Any]) -> None:
    async def main() -> None:
        try:
            async with demo_stack(settings, per_kind=1, frozen=True) as demo:
                token = await asyncio.to_thread(duty_officer_token, demo.hub)
                stop = asyncio.Event()
                out.put((demo, asyncio.get_running_loop(), stop, token))
                await stop.wait()
        except BaseException as exc:  # report start-up failures to the test instead of hanging it
            out.put(exc)
            raise

    asyncio.run(main())


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo on a free port, every device reporting, alarms evaluated."""
    root = tmp_path_factory.mktemp("ui")
    settings = HubSettings(data_dir=root / "var", api_port=0, alerts_file=_alerts_file(root))
    out: queue.Queue[Any] = queue.Queue()
    thread = threading.Thread(target=_serve, args=(settings, out), name="demo", daemon=True)
    thread.start()
    got = out.get(timeout=120)
    if isinstance(got, BaseException):
        raise got
    demo, loop, stop, token = got
    s = Site(demo.hub.api_url, token, demo, loop)
    devices = [f"{n}.{d}" for n, sim in demo.simulators.items() for d in sim.snapshot()]
    deadline = time.monotonic() + 60
    while not all(demo.hub.services.latest.get(d) for d in devices):  # tests only: the product never polls
        assert time.monotonic() < deadline, "the demo's devices did not all report within 60 s"
        time.sleep(0.2)
    try:
        yield s
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    """Headless Chromium with its own empty profile, kept off the network but for loopback."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="citysense-chromium-")
    for arg in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1400,1000", "--lang=zh-CN",
    ):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: WebDriver, name: str) -> Path:
    """Keep a screenshot of the page as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
