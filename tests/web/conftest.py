"""One headless Chromium (Debian's, driven by selenium) and one hub per module; screenshots go to test-artifacts/ui/."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.harness.mosquitto import MosquittoServer
from tests.web.loopthread import LoopThread
from tests.web.stack import WebHub, fleet_hub

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
# Flags that keep Chromium off the network and quiet in a container.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
    "--lang=zh-CN",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium; the driver is Debian's chromedriver, so selenium-manager never downloads."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="cs-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoServer) -> Iterator[WebHub]:
    """The hub with a small fleet, its data ingested and N1's alarm open."""
    root = tmp_path_factory.mktemp("web")
    runner = LoopThread(lambda: fleet_hub(root, mosquitto), "web-hub")
    try:
        yield runner.start()
    finally:
        runner.stop()


@pytest.fixture(scope="session")
def shots() -> Path:
    """The git-ignored folder for the browser tests' screenshots."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
