"""The API key of every request, as the client sees it: the exact 401 answer, what is served
without a key, and WebSockets (a key in the handshake's header, or in connection_init)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

EXPECTED_401 = {"errors": [{"message": "an API key is required: send the header "
                                       "Authorization: Bearer <api key>"}]}


def test_the_401_answer_says_what_to_send(graph) -> None:
    missing = graph.post({"query": "{ me { name } }"}, key=None)
    assert missing.status_code == 401
    assert missing.json() == EXPECTED_401
    assert missing.headers["www-authenticate"] == 'Bearer realm="segmentql"'
    assert missing.headers["content-type"] == "application/json"
    unknown = graph.post({"query": "{ me { name } }"}, key="sqk_unknown-key-000000000000")
    assert unknown.status_code == 401
    assert unknown.json() == {"errors": [{"message": "the API key is not valid"}]}
    assert unknown.headers["www-authenticate"] == 'Bearer realm="segmentql"'
    export = graph.get("/export/segments/x/events.jsonl", key=None)
    assert export.status_code == 401 and export.json() == EXPECTED_401


def test_pages_and_probes_need_no_key(graph) -> None:
    for path in ("/healthz", "/readyz", "/"):
        assert graph.get(path, key=None).status_code == 200, path
    # GraphiQL's page holds no data; a GET with a query is a request like any other
    assert graph.get("/graphql", key=None, headers={"accept": "text/html"}).status_code == 200
    assert graph.get("/graphql?query={me{name}}", key=None,
                     headers={"accept": "text/html"}).status_code == 401


def test_a_valid_key_reaches_the_resolvers(graph) -> None:
    assert graph.run("{ me { name role } }") == {"me": {"name": "development",
                                                        "role": "ADMIN"}}


def _ws_url(graph) -> str:
    return graph.url.replace("http://", "ws://") + "/graphql"


def test_a_websocket_key_in_the_handshake_header(graph) -> None:
    async def connect() -> dict:
        async with websockets.connect(
                _ws_url(graph), subprotocols=["graphql-transport-ws"],
                additional_headers={"Authorization": f"Bearer {graph.admin_key}"}) as socket_:
            await socket_.send(json.dumps({"type": "connection_init"}))
            return json.loads(await asyncio.wait_for(socket_.recv(), 20))

    assert asyncio.run(connect())["type"] == "connection_ack"


def test_a_websocket_with_a_bad_header_key_is_refused_at_the_handshake(graph) -> None:
    async def connect() -> None:
        async with websockets.connect(
                _ws_url(graph), subprotocols=["graphql-transport-ws"],
                additional_headers={"Authorization": "Bearer sqk_wrong-000000000000"}):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(connect())
    assert refused.value.response.status_code == 403


def test_a_websocket_without_any_key_is_closed_after_connection_init(graph) -> None:
    async def connect() -> int:
        async with websockets.connect(_ws_url(graph),
                                      subprotocols=["graphql-transport-ws"]) as socket_:
            await socket_.send(json.dumps({"type": "connection_init", "payload": {}}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket_.recv(), 20)
            return closed.value.rcvd.code

    assert asyncio.run(connect()) == 4403
