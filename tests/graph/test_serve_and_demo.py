"""`segmentql serve` (a real process: URL and key printed, GraphQL answered with the key)
and `segmentql demo` (loads everything, and a second run duplicates nothing)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid

import httpx
from pymongo import AsyncMongoClient
from typer.testing import CliRunner

from cli.main import app, development_key
from tests.conftest import drop_database
from tests.serving import free_port, serve, wait_answering



async def _counts(uri: str, name: str) -> dict[str, int]:
    client = AsyncMongoClient(uri)
    try:
        db = client[name]
        return {collection: await db[collection].count_documents({})
                for collection in ("contacts", "events", "segments", "campaigns", "lists",
                                   "campaign_recipients", "segment_versions")}
    finally:
        await client.close()


def test_serve_prints_url_and_key_and_answers(store_server) -> None:
    name = f"test_{uuid.uuid4().hex[:20]}"
    port = free_port()
    key = "sqk_serve-test-key-" + uuid.uuid4().hex
    process = serve(store_server, name, key, port, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, text=True)
    try:
        url_line = process.stdout.readline()
        key_line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/graphql" in url_line
        assert key_line.strip() == f"Development API key (admin): {key}"
        wait_answering(process, port)
        response = httpx.post(f"http://127.0.0.1:{port}/graphql",
                              json={"query": "{ me { role } fields { name } }"},
                              headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert response.status_code == 200
        assert response.json()["data"]["me"] == {"role": "ADMIN"}
        unauthorized = httpx.post(f"http://127.0.0.1:{port}/graphql",
                                  json={"query": "{ databases }"}, timeout=10)
        assert unauthorized.status_code == 401
    finally:
        process.terminate()
        process.wait(30)
        drop_database(store_server, name)


def test_development_key_is_kept_in_the_data_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SEGMENTQL_API_KEY", raising=False)
    monkeypatch.delenv("SEGMENTQL_MONGO_URI", raising=False)
    first = development_key(tmp_path, None)
    assert first.startswith("sqk_") and development_key(tmp_path, None) == first
    assert (tmp_path / "dev-api-key").stat().st_mode & 0o077 == 0
    assert development_key(None, "mongodb://127.0.0.1:1") != first  # a URI: a new key a start
    monkeypatch.setenv("SEGMENTQL_API_KEY", "sqk_from-the-environment-123")
    assert development_key(tmp_path, None) == "sqk_from-the-environment-123"


def test_demo_is_idempotent(store_server, monkeypatch) -> None:
    name = f"test_{uuid.uuid4().hex[:20]}"
    monkeypatch.setenv("SEGMENTQL_MONGO_DB", name)
    runner = CliRunner()
    try:
        first = runner.invoke(app, ["demo", "--contacts", "60", "--mongo-uri", store_server])
        assert first.exit_code == 0, first.output
        assert "campaign Summer sale: sent to" in first.output
        # progress while it loads, and a summary that names both campaigns it made
        assert "contacts: 60 of 60 written" in first.output
        assert re.search(r"events: (\d+) of \1 written", first.output)
        assert "campaigns: 2 (2 new)" in first.output
        assert ("campaign Pricing follow-up: a draft, not sent (sms, segment Pricing page "
                "visitors)") in first.output
        counts = asyncio.run(_counts(store_server, name))
        assert counts["contacts"] == 60 and counts["events"] > 100
        assert counts["segments"] == 8 and counts["campaigns"] == 2
        assert counts["lists"] == 3
        again = runner.invoke(app, ["demo", "--contacts", "60", "--mongo-uri", store_server])
        assert again.exit_code == 0 and "loaded already" in again.output
        reloaded = runner.invoke(app, ["demo", "--contacts", "60", "--reload", "--mongo-uri",
                                       store_server])
        assert reloaded.exit_code == 0, reloaded.output
        assert "events: stored 0" in reloaded.output and "(0 new)" in reloaded.output
        assert asyncio.run(_counts(store_server, name)) == counts
    finally:
        drop_database(store_server, name)
