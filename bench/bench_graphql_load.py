"""Load on the GraphQL server, beside a bare Starlette app making the same store calls.

    .venv/bin/python -m bench.bench_graphql_load [--clients 50] [--duration 60]
                                                 [--data-dir bench-graphql-data]

1. Loads the demo data into `--data-dir` (the embedded store) unless it is there, and holds
   the embedded store for the whole run (both servers use the same one).
2. Runs `segmentql serve` and `--clients` concurrent clients for `--duration` seconds, each
   sending one request after another: 30 % previewSegment (one of a few expressions), 50 %
   segment reads (`segment(id)`), 20 % trackEvents (5 new events with ids).
3. Runs a bare Starlette app (no GraphQL, no auth, no body or document limits) whose three
   routes make the same store calls (store.preview.preview_segment,
   store.segments.get_segment, store.events.track_events), with the same clients and mix.
   Its previews and tracks pass the same admission gate as the server's (graph.limits.Gate:
   at most MAX_HEAVY at once): without it, 50 clients crowd the store until queries run
   into their time limit, which measures the store's overload, not GraphQL's cost.

Reports, for both: requests, errors (any HTTP status but 200, any GraphQL or result error,
any rejected row), requests per second, p50 and p99 latency (overall and per operation),
and the ratio of the GraphQL server's throughput to the bare app's. Loopback only; every
loop is bounded by the duration.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import time
from collections import defaultdict
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import orjson

from bench.serving import BENCH_KEY, SEGMENTQL, Server, free_port, run_demo

EXPRESSIONS = [
    'City equals "Krakow" and Newsletter is true',
    "Age between 20 and 40",
    'in list "VIP" or Plan equals "business"',
    "event MailOpen occurred in last 30 days",
    'visited url contains "/pricing" in last 14 days',
]
MIX = [("preview", 30), ("read", 50), ("track", 20)]
EVENTS_PER_TRACK = 5
CONTACTS = 3000

PREVIEW = """query($e: String!) { previewSegment(input: {expression: $e}) {
  count contacts { id } errors { message } } }"""
READ = """query($id: ID!) { segment(id: $id) { id name expression version tags lastCount } }"""
TRACK = """mutation($events: [EventInput!]!) { trackEvents(events: $events) {
  stored duplicates rejected { index message } errors { message } } }"""


# --- the bare app --------------------------------------------------------------------------------

def bare_app(data_dir: Path):
    """The same store calls behind plain JSON routes: the floor GraphQL is measured against."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from store.clock import utc_now
    from store.connection import StoreSettings, open_store
    from store.events import track_events
    from store.preview import preview_segment
    from store.segments import get_segment

    def json(data) -> Response:
        return Response(orjson.dumps(data), media_type="application/json")

    from graph.limits import Gate

    gate = Gate()

    async def preview(request: Request) -> Response:
        body = orjson.loads(await request.body())
        async with gate.slot():
            result = await preview_segment(request.state.store.db, "main",
                                           expression=body["expression"], now=utc_now())
        return json({"count": result.count, "contacts": [{"id": contact["id"]}
                                                         for contact in result.contacts]})

    async def read(request: Request) -> Response:
        segment = await get_segment(request.state.store.db, request.path_params["id"])
        return json({"id": segment.id, "name": segment.name, "expression": segment.expression,
                     "version": segment.version, "tags": list(segment.tags),
                     "lastCount": segment.last_count})

    async def track(request: Request) -> Response:
        body = orjson.loads(await request.body())
        async with gate.slot():
            report = await track_events(request.state.store.db, "main", body["events"])
        return json(report.to_dict())

    async def healthz(request: Request) -> Response:
        return Response("ok")

    @asynccontextmanager
    async def lifespan(app):
        async with open_store(StoreSettings.from_env(data_dir=data_dir)) as store:
            yield {"store": store}

    return Starlette(routes=[Route("/preview", preview, methods=["POST"]),
                             Route("/segments/{id}", read), Route("/track", track,
                                                                  methods=["POST"]),
                             Route("/healthz", healthz)], lifespan=lifespan)


def serve_bare(port: int, data_dir: Path) -> None:
    import uvicorn

    from cli.main import KEEP_ALIVE_SECONDS

    uvicorn.run(bare_app(data_dir), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, timeout_keep_alive=KEEP_ALIVE_SECONDS)


# --- the load ------------------------------------------------------------------------------------

class Target:
    """How one operation is sent to one server, and how its answer is judged."""

    def __init__(self, url: str, graphql: bool) -> None:
        self.url = url
        self.graphql = graphql

    def request(self, client: httpx.AsyncClient, operation: str, value):
        if self.graphql:
            query, variables = {"preview": (PREVIEW, {"e": value}), "read": (READ, {"id": value}),
                                "track": (TRACK, {"events": value})}[operation]
            return client.post(f"{self.url}/graphql", json={"query": query,
                                                            "variables": variables})
        if operation == "preview":
            return client.post(f"{self.url}/preview", json={"expression": value})
        if operation == "read":
            return client.get(f"{self.url}/segments/{value}")
        return client.post(f"{self.url}/track", json={"events": value})

    def ok(self, operation: str, response: httpx.Response) -> bool:
        if response.status_code != 200:
            return False
        body = response.json()
        if self.graphql:
            if body.get("errors"):
                return False
            result = next(iter(body["data"].values()))
            if result is None:
                return False
            if operation == "preview" and result["errors"]:
                return False
            if operation == "track" and (result["errors"] or result["rejected"]):
                return False
            return True
        return not (operation == "track" and body["rejected"])


async def load(target: Target, *, clients: int, duration: float, segment_ids: list[str],
               run: str) -> dict:
    latencies: dict[str, list[float]] = defaultdict(list)
    finished: list[float] = []
    errors: list[str] = []
    counter = itertools.count()
    operations = [name for name, weight in MIX for _ in range(weight)]
    headers = {"Authorization": f"Bearer {BENCH_KEY}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    deadline = time.perf_counter() + duration

    async def client_loop(client: httpx.AsyncClient, seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            operation = rng.choice(operations)
            if operation == "preview":
                value = rng.choice(EXPRESSIONS)
            elif operation == "read":
                value = rng.choice(segment_ids)
            else:
                value = [{"id": f"{run}-{next(counter)}",
                          "contact": f"demo-{rng.randrange(CONTACTS):05d}", "type": "PageVisit",
                          "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                          "attributes": {"url": f"https://shop.example/p{rng.randrange(50)}"}}
                         for _ in range(EVENTS_PER_TRACK)]
            began = time.perf_counter()
            try:
                response = await target.request(client, operation, value)
                good = target.ok(operation, response)
                problem = None if good else f"{operation}: {response.status_code} {response.text[:200]}"
            except httpx.HTTPError as error:
                problem = f"{operation}: {type(error).__name__} {error}"
            latencies[operation].append(time.perf_counter() - began)
            finished.append(time.perf_counter())
            if problem:
                errors.append(problem)

    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=120) as client:
        await asyncio.gather(*(client_loop(client, seed) for seed in range(clients)))
    drained = time.perf_counter() - deadline
    # Throughput: the requests completed within the window (those still running at its end
    # finish afterwards and count for latency only).
    within = sum(1 for moment in finished if moment <= deadline)
    return {"latencies": latencies, "errors": errors, "duration": duration, "within": within,
            "drained": drained}


def _ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def summary(name: str, result: dict) -> dict:
    everything = [value for values in result["latencies"].values() for value in values]
    row = {"name": name, "requests": len(everything), "errors": len(result["errors"]),
           "first_errors": result["errors"][:5],
           "rps": result["within"] / result["duration"], "p50": _ms(everything, 0.50),
           "p99": _ms(everything, 0.99)}
    row["per_operation"] = {operation: (len(values), _ms(values, 0.50), _ms(values, 0.99))
                            for operation, values in sorted(result["latencies"].items())}
    return row


def print_table(rows: list[dict], clients: int, duration: float) -> None:
    print(f"\n{clients} clients, {duration:.0f} s each, mix "
          + ", ".join(f"{name} {weight} %" for name, weight in MIX))
    print("\n| server | requests | errors | requests/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['name']} | {row['requests']} | {row['errors']} | {row['rps']:.1f} | "
              f"{row['p50']:.0f} | {row['p99']:.0f} |")
    print("\n| server | operation | requests | p50 ms | p99 ms |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        for operation, (count, p50, p99) in row["per_operation"].items():
            print(f"| {row['name']} | {operation} | {count} | {p50:.0f} | {p99:.0f} |")
    if len(rows) == 2 and rows[1]["rps"]:
        print(f"\nGraphQL throughput / bare Starlette throughput: "
              f"{rows[0]['rps'] / rows[1]['rps']:.2f}")


def segment_ids(url: str) -> list[str]:
    response = httpx.post(f"{url}/graphql", headers={"Authorization": f"Bearer {BENCH_KEY}"},
                          json={"query": "{ segments { edges { node { id } } } }"}, timeout=60)
    return [edge["node"]["id"] for edge in response.json()["data"]["segments"]["edges"]]


async def _hold(data_dir: Path):
    from store import embedded

    return await embedded.acquire(data_dir)


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__,
                                        formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--clients", type=int, default=50)
    arguments.add_argument("--duration", type=float, default=60)
    arguments.add_argument("--data-dir", type=Path, default=Path("bench-graphql-data"))
    arguments.add_argument("--mix", default="preview=30,read=50,track=20",
                           help="operation=weight,... (operations: preview, read, track)")
    arguments.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    options = arguments.parse_args()
    data_dir = options.data_dir.resolve()
    if options.serve_bare:
        serve_bare(options.serve_bare, data_dir)
        return
    if not 1 <= options.clients <= 500 or not 1 <= options.duration <= 600:
        raise SystemExit("--clients 1..500 and --duration 1..600 seconds")
    MIX[:] = [(name, int(weight)) for name, weight in
              (part.split("=") for part in options.mix.split(","))]
    if {name for name, _ in MIX} - {"preview", "read", "track"}:
        raise SystemExit("--mix names preview, read and track")

    run_demo(data_dir, CONTACTS)
    lease = asyncio.run(_hold(data_dir))  # one embedded store for both servers
    rows = []
    try:
        run = f"load-{int(time.time())}"
        graph = Server(data_dir)
        graph.start()
        try:
            ids = segment_ids(graph.url)
            print(f"GraphQL server at {graph.url}: {len(ids)} segments; loading...")
            rows.append(summary("GraphQL (segmentql serve)", asyncio.run(load(
                Target(graph.url, True), clients=options.clients, duration=options.duration,
                segment_ids=ids, run=run + "-graphql"))))
        finally:
            graph.stop()
        port = free_port()
        bare = Server(data_dir, port=port, command=[
            sys.executable, "-m", "bench.bench_graphql_load", "--serve-bare", str(port),
            "--data-dir", str(data_dir)])
        bare.start()
        try:
            print(f"bare Starlette app at {bare.url}; loading...")
            rows.append(summary("bare Starlette, same store calls", asyncio.run(load(
                Target(bare.url, False), clients=options.clients, duration=options.duration,
                segment_ids=ids, run=run + "-bare"))))
        finally:
            bare.stop()
    finally:
        lease.release()
    for row in rows:
        for problem in row["first_errors"]:
            print(f"{row['name']}: {problem}", file=sys.stderr)
    print_table(rows, options.clients, options.duration)
    print(f"\n(server: {SEGMENTQL} serve --data-dir {data_dir}; one run of each)")
    if any(row["errors"] for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
