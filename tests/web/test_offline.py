"""No page or file the server sends refers to another host, and GraphiQL works offline."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from graph.web import SERVED_SUFFIXES, STATIC_DIR
from tests.web.conftest import LOCAL_HOSTS

URL = re.compile(r"""(?:https?|wss?)://[^\s"'`<>()\\]+""")
# XML namespace names: identifiers a browser compares, never fetches.
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml",
              "http://www.w3.org/1999/xlink", "http://www.w3.org/XML/1998/namespace",
              "http://www.w3.org/1998/Math/MathML", "http://www.w3.org/2000/xmlns/"}
# Text inside the vendored GraphiQL bundle (vendor/README.md): warning messages, help links
# a person may click, a JSON Schema identifier. None is loaded; a new one fails this test
# until someone has looked at it.
VENDORED_TEXT = {
    "https://reactjs.org/link/special-props", "https://reactjs.org/link/warning-keys",
    "https://reactjs.org/link/strict-mode-string-ref",
    "https://reactjs.org/docs/error-decoder.html?invariant=",
    "https://yarnpkg.com/en/docs/selective-version-resolutions",
    "https://www.framer.com/docs/guide-upgrade/##shared-layout-animations",
    "https://radix-ui.com/primitives/docs/components/${gt.docsSlug}",
    "https://github.com/graphql/graphiql/blob/master/examples/graphiql-cdn/index.html#L49",
    "https://github.com/graphql/graphiql", "https://en.wikipedia.org/wiki/IEEE_floating_point",
    "https://commonmark.org/", "https://codemirror.net/5/doc/manual.html#keymaps",
    "http://json-schema.org/draft-04/schema",
}
# Where a URL would make a browser load something.
LOADING = re.compile(r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?|url\(\s*["']?|@import\s+["']?"""
                     r"""|\bimport\s*\(?\s*["']|\bfrom\s*["']|fetch\(\s*["']|sourceMappingURL=)"""
                     r"""(?:https?|wss?):""", re.IGNORECASE)


def served_files() -> list[str]:
    return sorted("/static/" + path.relative_to(STATIC_DIR).as_posix()
                  for path in STATIC_DIR.rglob("*")
                  if path.is_file() and path.suffix in SERVED_SUFFIXES)


def foreign_urls(text: str) -> set[str]:
    return {url for url in URL.findall(text)
            if urlsplit(url).hostname not in LOCAL_HOSTS and url not in NAMESPACES}


def test_no_page_or_file_refers_to_another_host(web):
    pages = {"/": web.get("/", key=None),
             "/graphql": web.get("/graphql", key=None, headers={"accept": "text/html"})}
    files = served_files()
    assert "/static/vendor/graphiql/graphiql.min.js" in files and len(files) > 10
    for path in files:
        pages[path] = web.get(path, key=None)
    for path, response in pages.items():
        assert response.status_code == 200, path
        text = response.text
        assert not LOADING.search(text), f"{path} loads something from another host"
        found = foreign_urls(text)
        if "/vendor/" in path:
            found -= VENDORED_TEXT
        assert found == set(), f"{path} names other hosts: {sorted(found)}"
    for path in ("/", "/graphql"):
        policy = pages[path].headers["content-security-policy"]
        assert "default-src 'self'" in policy and "connect-src 'self'" in policy
        assert re.search(r"<script [^>]*src=\"/static/", pages[path].text)


def test_the_scan_finds_a_foreign_reference():
    assert LOADING.search('<script src="https://unpkg.com/react.js"></script>')
    assert LOADING.search("background: url(https://fonts.example/x.woff)")
    assert foreign_urls('fetch("http://127.0.0.1:8000/graphql") "https://cdn.example/x"') \
        == {"https://cdn.example/x"}


def test_notes_and_licences_are_not_served(web):
    for path in ("/static/vendor/README.md", "/static/vendor/graphiql/LICENSE",
                 "/static/vendor/graphiql/THIRD-PARTY-NOTICES.txt"):
        assert (STATIC_DIR / path.removeprefix("/static/")).is_file()
        assert web.get(path, key=None).status_code == 404, path


def test_static_files_are_compressed(web):
    response = httpx.get(web.url + "/static/vendor/graphiql/graphiql.min.js",
                         headers={"accept-encoding": "gzip"}, timeout=60)
    assert response.headers["content-encoding"] == "gzip"
    assert response.num_bytes_downloaded < 600_000 < len(response.content)


def test_graphiql_renders_its_editor_and_runs_a_query_with_no_network(web, browser):
    driver = browser.driver
    browser.open("/graphql")
    wait = WebDriverWait(driver, 30)
    key_input = wait.until(ready.element_to_be_clickable((By.ID, "api-key")))
    key_input.send_keys(web.admin_key + "\n")
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".graphiql-query-editor .CodeMirror")))
    run = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, ".graphiql-execute-button")))
    run.click()
    wait.until(lambda d: '"segments"' in d.find_element(By.CSS_SELECTOR, ".result-window").text)
    assert driver.execute_script("return window.sessionStorage.getItem('segmentql.apiKey')") \
        == web.admin_key
    browser.screenshot("graphiql")
    assert browser.foreign_requests() == []
    assert browser.console_errors() == []
