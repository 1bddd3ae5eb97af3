"""`segmentql serve` ends its banner with the builder's address, which signs in by itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import drop_database

SEGMENTQL = str(Path(sys.executable).with_name("segmentql"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_prints_the_builder_address_last_and_it_opens_signed_in(store_server, browser):
    name = f"test_{uuid.uuid4().hex[:20]}"
    port = _free_port()
    key = "sqk_web-serve-key-" + uuid.uuid4().hex
    env = {**os.environ, "SEGMENTQL_MONGO_DB": name, "SEGMENTQL_API_KEY": key}
    process = subprocess.Popen([SEGMENTQL, "serve", "--port", str(port), "--mongo-uri",
                                store_server], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env=env, text=True)
    try:
        banner = [process.stdout.readline() for _ in range(4)]
        assert banner[0].startswith(f"SegmentQL GraphQL server: http://127.0.0.1:{port}/graphql")
        address = f"http://127.0.0.1:{port}/#key={key}"
        assert banner[3].strip() == f"Segment builder (open in a browser): {address}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        browser.driver.get(address)
        wait = WebDriverWait(browser.driver, 30)
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "table[aria-label=Segments]")))
        assert browser.driver.current_url == f"http://127.0.0.1:{port}/#/"  # the key is gone
        assert browser.driver.execute_script(
            "return window.sessionStorage.getItem('segmentql.apiKey')") == key
    finally:
        process.terminate()
        process.wait(30)
        drop_database(store_server, name)
