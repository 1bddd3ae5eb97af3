"""Completion and diagnostics end to end over HTTP: a `segmentql serve` process on the
embedded store, a profile database with 500 fields, and one client sending the same
~200-character expressions as bench.bench_language_services, one request at a time.

    .venv/bin/python -m bench.bench_language_services_http [--repeat N] [--data-dir DIR]

Setup (through the GraphQL API itself): 495 custom fields (+ the 5 standard ones = 500),
2,000 contacts with City values, 50 event types, 100 lists and 200 segments. Each request
is timed on the client from send to parsed JSON answer, so it includes HTTP, auth, GraphQL
parsing and validation, the store reads (schema, event types, lists, segments and, for a
text value, the frequent values) and the language function itself. Reports the median and
p90 in milliseconds, and the in-process time of the same call for comparison. Figures are
written down in docs/language-services.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench_language_services import BROKEN, CONTEXT, SCHEMA, VALID, WARNED
from bench.bench_language_services import completion_cases
from bench.serving import Server
from dsl.completion import complete
from dsl.diagnostics import diagnose

COMPLETE = """query($e: String!, $o: Int!) { completeExpression(expression: $e, offset: $o) {
  suggestions { label kind detail insertText start end } errors { message } } }"""
DIAGNOSE = """query($e: String!) { diagnoseExpression(expression: $e) {
  diagnostics { severity message suggestion code line column endLine endColumn start end }
  errors { message } } }"""

CITIES = ["Krakow", "Warsaw", "Gdansk", "Poznan", "Wroclaw", "Lodz", "Szczecin", "Lublin"]
CONTACTS, EVENT_TYPES, LISTS, SEGMENTS = 2_000, 50, 100, 200
# text fields every contact has a value of (37 distinct): for the first, uncached, values
VALUED = [field.name for field in SCHEMA if not field.standard
          and field.type.name == "TEXT" and field.name.startswith("custom_field_")][:20]


class Client:
    def __init__(self, server: Server) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=120,
                                 headers={"Authorization": f"Bearer {server.key}"})

    def run(self, query: str, variables: dict | None = None) -> dict:
        answer = self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        answer.raise_for_status()
        body = answer.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]

    def timed(self, query: str, variables: dict, repeat: int) -> tuple[float, float, dict]:
        samples, data = [], {}
        for _ in range(repeat):
            start = time.perf_counter_ns()
            data = self.run(query, variables)
            samples.append((time.perf_counter_ns() - start) / 1e6)
        samples.sort()
        return statistics.median(samples), samples[max(0, int(len(samples) * 0.9) - 1)], data


def _expect_no_errors(result: dict, what: str) -> None:
    errors = next(iter(result.values())).get("errors")
    if errors:
        raise RuntimeError(f"{what}: {errors}")


def populate(client: Client) -> None:
    """The profile database `main`: the schema's custom fields, contacts, events of many
    types, lists and segments, all through the GraphQL API."""
    started = time.monotonic()
    define = """mutation($n: String!, $t: FieldType!) { defineField(name: $n, type: $t) {
      errors { message } } }"""
    for field in SCHEMA:
        if not field.standard:
            _expect_no_errors(client.run(define, {"n": field.name, "t": field.type.name}),
                              field.name)
    upsert = """mutation($c: [ContactInput!]!) { upsertContacts(contacts: $c) {
      stored errors { message } rejected { message } } }"""
    for batch in range(0, CONTACTS, 500):
        contacts = [{"id": f"c{n}", "fields": {"City": CITIES[n % len(CITIES)], "Age": n % 90,
                                                **{name: f"value {n % 37}" for name in VALUED}}}
                    for n in range(batch, batch + 500)]
        _expect_no_errors(client.run(upsert, {"c": contacts}), "contacts")
    track = """mutation($e: [EventInput!]!) { trackEvents(events: $e) {
      stored errors { message } rejected { message } } }"""
    events = [{"id": f"e{n}", "contact": f"c{n}", "type": f"custom_event_{n % EVENT_TYPES}",
               "time": "2024-05-01T10:00:00Z"} for n in range(EVENT_TYPES * 4)]
    _expect_no_errors(client.run(track, {"e": events}), "events")
    create_list = """mutation($n: String!) { createList(name: $n) { errors { message } } }"""
    for n in range(LISTS):
        _expect_no_errors(client.run(create_list, {"n": f"List {n}"}), "lists")
    create_segment = """mutation($n: String!, $e: String!) {
      createSegment(input: {name: $n, expression: $e}) { errors { message } } }"""
    for n in range(SEGMENTS):
        _expect_no_errors(client.run(create_segment, {"n": f"Segment {n}", "e": f"Age > {n}"}),
                          "segments")
    fields = client.run("{ fields { name } }")["fields"]
    if len(fields) != len(SCHEMA):
        raise RuntimeError(f"the database has {len(fields)} fields, not {len(SCHEMA)}")
    print(f"setup: {len(fields)} fields, {CONTACTS} contacts, {EVENT_TYPES} event types, "
          f"{LISTS} lists, {SEGMENTS} segments in {time.monotonic() - started:.0f} s")


def in_process_ms(work, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        work()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(samples)


def measure(client: Client, repeat: int) -> None:
    print(f"{'case':<48} {'results':>7} {'median ms':>10} {'p90 ms':>8} {'in-process ms':>14}")
    for label, text, offset in completion_cases():
        client.run(COMPLETE, {"e": text, "o": offset})  # warm: parse/validation cache
        median, p90, data = client.timed(COMPLETE, {"e": text, "o": offset}, repeat)
        _expect_no_errors(data, label)
        count = len(data["completeExpression"]["suggestions"])
        local = in_process_ms(lambda: complete(text, offset, CONTEXT, limit=100), repeat)
        print(f"{'complete: ' + label:<48} {count:>7} {median:>10.1f} {p90:>8.1f} {local:>14.2f}")
    for label, text in (("valid", VALID), ("5 syntax errors", BROKEN), ("1 warning", WARNED)):
        client.run(DIAGNOSE, {"e": text})
        median, p90, data = client.timed(DIAGNOSE, {"e": text}, repeat)
        _expect_no_errors(data, label)
        count = len(data["diagnoseExpression"]["diagnostics"])
        local = in_process_ms(lambda: diagnose(text, SCHEMA, event_types=[], lists=["List 7"]),
                              repeat)
        print(f"{'diagnose: ' + label:<48} {count:>7} {median:>10.1f} {p90:>8.1f} {local:>14.2f}")


def measure_after_changes(client: Client, repeat: int) -> None:
    """The first request after the catalog changed (a new list each time), which reads the
    catalog from the store again; and the first value completion of a text field (its
    frequent values are not kept yet: one aggregation over the contacts having it)."""
    create_list = """mutation($n: String!) { createList(name: $n) { errors { message } } }"""
    text, offset = completion_cases()[1][1:]

    def value_case(n: int) -> dict:
        typed = f'{VALUED[n % len(VALUED)]} equals "val'
        return {"e": typed, "o": len(typed)}
    rows = (("after a change: complete at a condition start", COMPLETE, repeat,
             lambda n: client.run(create_list, {"n": f"Changed {n}"}),
             lambda n: {"e": text, "o": offset}),
            ("after a change: diagnose valid", DIAGNOSE, repeat,
             lambda n: client.run(create_list, {"n": f"Changed again {n}"}),
             lambda n: {"e": VALID}),
            (f"first values of a text field ({CONTACTS} contacts)", COMPLETE, len(VALUED),
             lambda n: None, value_case))
    for label, query, runs, change, variables in rows:
        samples = []
        for n in range(runs):
            change(n)
            start = time.perf_counter_ns()
            data = client.run(query, variables(n))
            samples.append((time.perf_counter_ns() - start) / 1e6)
            _expect_no_errors(data, label)
        samples.sort()
        print(f"{label:<48} {'':>7} {statistics.median(samples):>10.1f} "
              f"{samples[max(0, int(len(samples) * 0.9) - 1)]:>8.1f}")


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--repeat", type=int, default=200)
    arguments.add_argument("--data-dir", type=Path, default=None,
                           help="Keep the store here (default: a temporary folder).")
    options = arguments.parse_args()
    with tempfile.TemporaryDirectory(prefix="segmentql-bench-ls-") as scratch:
        data_dir = options.data_dir or Path(scratch)
        data_dir.mkdir(parents=True, exist_ok=True)
        server = Server(data_dir)
        server.start()
        try:
            client = Client(server)
            print(f"python {platform.python_version()} on {platform.machine()}, "
                  f"{sys.platform}; expression {len(VALID)} characters; {options.repeat} "
                  "requests per case, one at a time")
            populate(client)
            measure(client, options.repeat)
            measure_after_changes(client, max(10, options.repeat // 5))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
