"""Browser tests: Debian's headless Chromium driven through chromedriver by Selenium,
against a real server (tests/graph/conftest.py's uvicorn on the embedded store).

Chromium is started with every other host unreachable (`--host-resolver-rules`), and the
tests read its network log, so a page that reached for a CDN would fail. Screenshots go to
test-artifacts/web/ (gitignored). Without chromium and chromedriver the tests fail under CI
(`CI` set: .ci/run installs them) and are skipped elsewhere, with the reason printed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import drop_database
from tests.graph import seed
from tests.graph.conftest import start_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
DRIVER_NAMES = ("chromedriver",)
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000",
    # Every host but this machine's loopback is unreachable: no page may need one.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
_skipped: list[str] = []


def _find(names: tuple[str, ...]) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


def browser_paths() -> tuple[str, str]:
    """Chromium's and chromedriver's paths; fails (CI) or skips (elsewhere) without them."""
    chromium, driver = _find(CHROMIUM_NAMES), _find(DRIVER_NAMES)
    if chromium and driver:
        return chromium, driver
    missing = " and ".join(name for name, path in (("chromium", chromium),
                                                   ("chromedriver", driver)) if not path)
    message = (f"browser tests need {missing}: apt-get install -y chromium chromium-driver "
               "(.ci/run installs them)")
    if os.environ.get("CI"):
        pytest.fail(message + "; CI is set, so this is a failure, not a skip", pytrace=False)
    _skipped.append(message)
    pytest.skip(message)


def pytest_terminal_summary(terminalreporter) -> None:
    if _skipped:
        terminalreporter.write_line(f"browser tests skipped: {_skipped[0]}", yellow=True)


@pytest.fixture(scope="module")
def web(store_server):
    """A running server with the seed data (tests/graph/seed.py) in a database of its own."""
    thread, server = start_server(store_server)
    try:
        seed.load(server)
        yield server
    finally:
        thread.stop()
        drop_database(store_server, server.settings.db_name)


class Browser:
    """A Selenium Chrome driver and what the tests read from it."""

    def __init__(self, driver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def requested_urls(self) -> list[str]:
        """Every URL the browser asked for since the last call (the performance log)."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requested_urls()
                if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                and urlsplit(url).hostname not in LOCAL_HOSTS]

    def console_errors(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser")
                if entry["level"] == "SEVERE"]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path


@pytest.fixture
def browser(web, request):
    chromium, driver_path = browser_paths()
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="segmentql-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    session = Browser(driver, web.url)
    try:
        yield session
    finally:
        try:
            session.screenshot(request.node.name + ("-failed" if _failed(request) else ""))
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)


def _failed(request) -> bool:
    report = getattr(request.node, "rep_call", None)
    return bool(report and report.failed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report
