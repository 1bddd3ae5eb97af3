"""The embedded store dies under a running server: the server notices (/healthz says so,
/readyz fails), answers UNAVAILABLE at once instead of empty data or a 500, restarts the
store by itself, and afterwards every acknowledged write is there."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from graph.app import create_app
from store.connection import StoreSettings
from tests.graph.conftest import ADMIN_KEY, GraphServer, ServerThread
from tests.graph.seed import UPSERT


@pytest.fixture
def own_store_server(tmp_path):
    """A server on an embedded store of its own (killing it disturbs no other test)."""
    settings = StoreSettings(mongo_uri=None, data_dir=tmp_path / "data", db_name="faults",
                             query_timeout_ms=5_000)
    thread = ServerThread(create_app(settings, dev_key=ADMIN_KEY))
    thread.start()
    try:
        yield GraphServer(url=f"http://127.0.0.1:{thread.port}", settings=settings,
                          app=thread.server.config.app)
    finally:
        thread.stop()


def _store_pid(server: GraphServer) -> int:
    return server.app.state.store.embedded.pid


def test_a_killed_store_is_reported_refused_clearly_and_restarted(own_store_server) -> None:
    server = own_store_server
    rows = [{"id": f"k{n}", "fields": {"Email": f"k{n}@example.com"}} for n in range(50)]
    stored = server.run(UPSERT, {"contacts": rows})["upsertContacts"]
    assert stored["stored"] == 50  # acknowledged
    assert server.get("/readyz").status_code == 200

    os.kill(_store_pid(server), signal.SIGKILL)
    killed_at = time.monotonic()
    seen_down = False
    while time.monotonic() - killed_at < 60:
        answer = server.post({"query": "{ fields { name } }"})
        assert answer.status_code in (200, 503), answer.text
        body = answer.json()
        if "errors" in body:
            assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE", body
            seen_down = True
        else:
            assert body["data"]["fields"], "an empty list while the store is down is a lie"
        ready = server.get("/readyz")
        health = server.get("/healthz")
        assert health.status_code == 200
        if ready.status_code == 503:
            seen_down = True
            assert health.json()["status"] == "degraded"
        elif "restarted" in health.json()["store"]:
            break  # noticed and restarted (maybe between two of these polls)
        time.sleep(0.2)
    recovered = time.monotonic() - killed_at
    assert "restarted" in server.get("/healthz").json()["store"], (
        f"the server never restarted the store (seen down: {seen_down})")
    assert server.get("/readyz").status_code == 200, f"not back after {recovered:.1f} s"
    assert _store_pid(server) != 0
    count = server.run('{ previewSegment(input: {expression: ""}) { count } }')
    assert count["previewSegment"]["count"] == 50  # no acknowledged write lost
    assert server.get("/healthz").json()["store"].startswith("up (restarted 1 times)")


@pytest.mark.serial
def test_requests_while_the_store_is_down_are_refused_at_once(own_store_server) -> None:
    server = own_store_server
    store = server.app.state.store
    store.health.set("down", "not answering (test)")
    try:
        started = time.monotonic()
        answer = httpx.post(server.graphql_url, json={"query": "{ fields { name } }"},
                            headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
        assert time.monotonic() - started < 1
        assert answer.status_code == 503
        assert answer.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    finally:
        store.health.set("up")
