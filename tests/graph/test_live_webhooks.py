"""Live segments through the server: the maintained count, changes paged, webhooks
delivered to real HTTP receivers on loopback (one failing its first attempts, one down for
a while: nothing lost, order kept, signatures right), and the `segmentChanges`
subscription over graphql-transport-ws with a real WebSocket client."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import websockets

from tests.conftest import drop_database
from tests.graph.conftest import start_server
from tests.serving import free_port

SECRET = "s3cret"
SEGMENT = """mutation($name: String!, $expression: String!) {
  createSegment(input: {name: $name, expression: $expression}) {
    segment { id } errors { message } } }"""
UPSERT = """mutation($contacts: [ContactInput!]!) {
  upsertContacts(contacts: $contacts) { stored rejected { message } } }"""
WEBHOOK = """mutation($segment: ID!, $url: String!) {
  createWebhook(segmentId: $segment, url: $url, secret: "s3cret") {
    webhook { id url pending } errors { message suggestion } } }"""


@pytest.fixture(scope="module")
def live_graph(store_server):
    thread, server = start_server(store_server, live_tasks=True)
    try:
        server.run("""mutation { defineField(name: "Tier", type: TEXT) { ok } }""")
        yield server
    finally:
        thread.stop()
        drop_database(store_server, server.settings.db_name)


class Receiver:
    """An HTTP receiver on 127.0.0.1 that records the batches it acknowledges; it answers
    500 to its first `failures` requests, and can be started late (down until then)."""

    def __init__(self, failures: int = 0, port: int | None = None) -> None:
        self.failures = failures
        self.attempts = 0
        self.batches: list[dict] = []
        self.bad_signatures = 0
        self.port = port or free_port()
        self.server = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.attempts += 1
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if self.headers.get("X-SegmentQL-Signature") != expected:
                    receiver.bad_signatures += 1
                if receiver.attempts <= receiver.failures:
                    self.send_response(500)
                else:
                    receiver.batches.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def changes(self) -> list[dict]:
        seen, unique = set(), []
        for batch in self.batches:
            for change in batch["changes"]:
                if change["id"] not in seen:  # a repeat delivery is allowed, by id
                    seen.add(change["id"])
                    unique.append(change)
        return unique


def _wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _segment(server, name: str, expression: str) -> str:
    data = server.run(SEGMENT, {"name": name, "expression": expression})
    assert data["createSegment"]["errors"] == []
    return data["createSegment"]["segment"]["id"]


def _set_tiers(server, tiers: dict[str, str | None]) -> None:
    data = server.run(UPSERT, {"contacts": [{"id": contact, "fields": {"Tier": tier}}
                                            for contact, tier in tiers.items()]})
    assert data["upsertContacts"]["rejected"] == []


def test_count_and_changes_read_the_maintained_membership(live_graph):
    _set_tiers(live_graph, {"g1": "gold", "g2": "silver"})
    segment = _segment(live_graph, "Gold", 'Tier equals "gold"')
    _set_tiers(live_graph, {"g2": "GOLD", "g1": "silver"})
    data = live_graph.run("""query($id: ID!) { segment(id: $id) {
        count membershipAsOf
        changes(first: 2) { edges { node { id contactId change cause } cursor }
                            pageInfo { hasNextPage endCursor } } } }""", {"id": segment})
    assert data["segment"]["count"] == 1
    page = data["segment"]["changes"]
    assert [(e["node"]["contactId"], e["node"]["change"], e["node"]["cause"])
            for e in page["edges"]] == [("g1", "ENTERED", "definition"), ("g1", "LEFT", "contact")]
    assert page["pageInfo"]["hasNextPage"]
    rest = live_graph.run("""query($id: ID!, $after: String) { segment(id: $id) {
        changes(after: $after) { edges { node { contactId change } } } } }""",
                          {"id": segment, "after": page["pageInfo"]["endCursor"]})
    assert [(e["node"]["contactId"], e["node"]["change"])
            for e in rest["segment"]["changes"]["edges"]] == [("g2", "ENTERED")]


def test_a_url_that_is_not_http_is_refused_clearly(live_graph):
    segment = _segment(live_graph, "Any silver", 'Tier equals "silver"')
    data = live_graph.run(WEBHOOK, {"segment": segment, "url": "ftp://example.com/x"})
    assert data["createWebhook"]["webhook"] is None
    assert "not an http or https URL" in data["createWebhook"]["errors"][0]["message"]
    data = live_graph.run(WEBHOOK, {"segment": "nope", "url": "http://127.0.0.1:1/x"})
    assert "no segment" in data["createWebhook"]["errors"][0]["message"]


def test_webhooks_deliver_every_change_in_order_through_failures_and_downtime(live_graph):
    segment = _segment(live_graph, "Platinum", 'Tier equals "platinum"')
    flaky = Receiver(failures=2).start()
    late = Receiver()  # down until started below
    try:
        hooks = [live_graph.run(WEBHOOK, {"segment": segment, "url": receiver.url})
                 ["createWebhook"]["webhook"]["id"] for receiver in (flaky, late)]
        expected = []
        for step in range(6):
            contact = f"p{step % 3}"
            tier = "platinum" if step < 3 else "bronze"
            _set_tiers(live_graph, {contact: tier})
            expected.append((contact, "entered" if step < 3 else "left"))
        _wait(lambda: len(flaky.changes()) == 6)
        assert [(c["contact"], c["change"]) for c in flaky.changes()] == expected
        assert flaky.attempts > 2 and flaky.bad_signatures == 0
        status = live_graph.run("""query($id: ID!) { segment(id: $id) {
            webhooks { id pending lastError lastDeliveryAt } } }""", {"id": segment})
        by_id = {hook["id"]: hook for hook in status["segment"]["webhooks"]}
        assert by_id[hooks[1]]["pending"] == 6 and "ConnectError" in by_id[hooks[1]]["lastError"]
        assert by_id[hooks[0]]["pending"] == 0 and by_id[hooks[0]]["lastDeliveryAt"]
        late.start()
        _wait(lambda: len(late.changes()) == 6)
        assert [(c["contact"], c["change"]) for c in late.changes()] == expected
        assert late.bad_signatures == 0
        assert all(batch["segment"] == segment for batch in late.batches)
        deleted = live_graph.run("""mutation($id: ID!) { deleteWebhook(id: $id) { ok } }""",
                                 {"id": hooks[1]})
        assert deleted["deleteWebhook"]["ok"]
    finally:
        flaky.stop()
        late.stop()


def test_subscription_streams_changes_over_a_websocket(live_graph):
    segment = _segment(live_graph, "Diamond", 'Tier equals "diamond"')
    url = live_graph.url.replace("http://", "ws://") + "/graphql"

    async def subscribe():
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket_:
            await socket_.send(json.dumps({"type": "connection_init", "payload": {
                "Authorization": f"Bearer {live_graph.admin_key}"}}))
            assert json.loads(await socket_.recv())["type"] == "connection_ack"
            await socket_.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                "query": "subscription($id: ID!) { segmentChanges(segmentId: $id) "
                         "{ id contactId change cause } }", "variables": {"id": segment}}}))
            await asyncio.sleep(0.5)
            await asyncio.to_thread(_set_tiers, live_graph, {"d1": "diamond"})
            message = json.loads(await asyncio.wait_for(socket_.recv(), 20))
            assert message["type"] == "next", message
            assert message["payload"]["data"]["segmentChanges"]["contactId"] == "d1"
            assert message["payload"]["data"]["segmentChanges"]["change"] == "ENTERED"
            await socket_.send(json.dumps({"id": "2", "type": "subscribe", "payload": {
                "query": 'subscription { segmentChanges(segmentId: "nope") { id } }'}}))
            error = json.loads(await asyncio.wait_for(socket_.recv(), 20))
            # a refusal inside the subscription comes as a result with errors
            assert error["id"] == "2" and error["type"] == "next", error
            assert "no segment with id nope" in error["payload"]["errors"][0]["message"]

    asyncio.run(subscribe())


def test_a_websocket_without_a_valid_key_is_refused(live_graph):
    url = live_graph.url.replace("http://", "ws://") + "/graphql"

    async def connect():
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket_:
            await socket_.send(json.dumps({"type": "connection_init",
                                           "payload": {"Authorization": "Bearer wrong"}}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket_.recv(), 20)
            assert closed.value.rcvd.code == 4403

    asyncio.run(connect())
