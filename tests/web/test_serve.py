"""`segmentql serve` ends its banner with the builder's address, which signs in by itself."""

from __future__ import annotations

import subprocess
import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import drop_database
from tests.serving import free_port, serve, wait_answering



def test_serve_prints_the_builder_address_last_and_it_opens_signed_in(store_server, browser):
    name = f"test_{uuid.uuid4().hex[:20]}"
    port = free_port()
    key = "sqk_web-serve-key-" + uuid.uuid4().hex
    process = serve(store_server, name, key, port, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, text=True)
    try:
        banner = [process.stdout.readline() for _ in range(4)]
        assert banner[0].startswith(f"SegmentQL GraphQL server: http://127.0.0.1:{port}/graphql")
        address = f"http://127.0.0.1:{port}/#key={key}"
        assert banner[3].strip() == f"Segment builder (open in a browser): {address}"
        wait_answering(process, port)
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
