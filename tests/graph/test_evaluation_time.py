"""One evaluation time per GraphQL operation: every field of one request that evaluates
without an explicit `now` evaluates at the same instant, fixed by the edge
(graph/context.py EvaluationTime), never read again further down."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import pytest
import websockets

from tests.graph.seed import NOW, load


@pytest.fixture(scope="module")
def seeded(graph):
    load(graph)
    return graph


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _wall() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def test_the_fields_of_one_query_evaluate_at_the_same_now(seeded) -> None:
    before = _wall() - dt.timedelta(milliseconds=1)
    data = seeded.run("""{
      older: previewSegment(input: {expression: "Age > 40"}) { count now errors { message } }
      younger: previewSegment(input: {expression: "Age < 30"}) { count now errors { message } }
      why: explainContact(contactId: "c1", expression: "Age > 1", database: "main") {
        explanation { member now } errors { message } }
      given: previewSegment(input: {expression: "Age > 40", now: "%s"}) { now } }""" % NOW)
    after = _wall()
    assert data["older"]["errors"] == data["younger"]["errors"] == data["why"]["errors"] == []
    assert (data["older"]["count"], data["younger"]["count"]) == (2, 2)
    assert data["why"]["explanation"]["member"] is True
    nows = {data["older"]["now"], data["younger"]["now"], data["why"]["explanation"]["now"]}
    assert len(nows) == 1, nows
    assert before <= _instant(nows.pop()) <= after
    # a field given its own `now` keeps it
    assert _instant(data["given"]["now"]) == _instant(NOW)


def test_the_fields_of_one_mutation_evaluate_at_the_same_now(seeded) -> None:
    """Mutation fields run one after the other, each taking its time: still one `now`."""
    segment = seeded.run("""mutation { createSegment(input: {name: "Mailable",
        expression: "Email has value"}) { segment { id } errors { message } } }""")
    segment_id = segment["createSegment"]["segment"]["id"]
    campaigns = [seeded.run("""mutation($s: ID!, $n: String!) {
        createCampaign(name: $n, channel: EMAIL, segmentId: $s) { campaign { id } } }""",
                            {"s": segment_id, "n": name})["createCampaign"]["campaign"]["id"]
                 for name in ("First send", "Second send")]
    data = seeded.run("""mutation($a: ID!, $b: ID!, $s: ID!) {
        first: sendCampaign(id: $a) { campaign { now recipientCount } errors { message } }
        copy: copySegmentToList(id: $s, list: "Mailable now") { members errors { message } }
        second: sendCampaign(id: $b) { campaign { now recipientCount } errors { message } } }""",
                      {"a": campaigns[0], "b": campaigns[1], "s": segment_id})
    assert data["first"]["errors"] == data["second"]["errors"] == data["copy"]["errors"] == []
    assert data["first"]["campaign"]["recipientCount"] == 4 == data["copy"]["members"]
    runs = seeded.run("""query($s: ID!) { segment(id: $s) { runs { purpose now } } }""",
                      {"s": segment_id})["segment"]["runs"]
    copied = [run["now"] for run in runs if run["purpose"] == "copy-to-list"]
    sent = [run["now"] for run in runs if run["purpose"] == "send"]
    assert len(copied) == 1 and len(sent) == 2
    nows = {_instant(data["first"]["campaign"]["now"]), _instant(data["second"]["campaign"]["now"]),
            *map(_instant, copied + sent)}
    assert len(nows) == 1, nows


def test_each_operation_has_its_own_now(seeded) -> None:
    query = '{ previewSegment(input: {expression: "Age > 40"}) { now } }'
    first = _instant(seeded.run(query)["previewSegment"]["now"])
    time.sleep(0.01)
    second = _instant(seeded.run(query)["previewSegment"]["now"])
    assert first < second <= _wall()  # not one time for the server, or for the connection


def test_each_operation_on_one_websocket_has_its_own_now(seeded) -> None:
    """A WebSocket shares one context among its operations: each still reads its own time,
    and the fields of one operation share it."""
    url = seeded.url.replace("http://", "ws://") + "/graphql"
    query = """{ a: previewSegment(input: {expression: "Age > 40"}) { now }
                 b: previewSegment(input: {expression: "Age < 30"}) { now } }"""

    async def operations() -> list[dict]:
        async with websockets.connect(
                url, subprotocols=["graphql-transport-ws"],
                additional_headers={"Authorization": f"Bearer {seeded.admin_key}"}) as socket_:
            await socket_.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await asyncio.wait_for(socket_.recv(), 20))["type"] == \
                "connection_ack"
            answers = []
            for number in ("1", "2"):
                await asyncio.sleep(0.01)
                await socket_.send(json.dumps({"id": number, "type": "subscribe",
                                               "payload": {"query": query}}))
                message = json.loads(await asyncio.wait_for(socket_.recv(), 30))
                assert message["type"] == "next" and "errors" not in message["payload"], message
                answers.append(message["payload"]["data"])
                assert json.loads(await asyncio.wait_for(socket_.recv(), 30))["type"] == \
                    "complete"
            return answers

    first, second = asyncio.run(operations())
    assert first["a"]["now"] == first["b"]["now"]
    assert second["a"]["now"] == second["b"]["now"]
    assert _instant(first["a"]["now"]) < _instant(second["a"]["now"])
