"""A real GraphQL server on loopback for the graph tests: uvicorn in a background thread
serving graph.app on a free port, against the shared store server with a database of its
own (one server per test module), driven over HTTP by the `gql` client."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport
from pymongo import monitoring

from graph.app import create_app
from store.tasks import in_background
from tests.conftest import drop_database, fresh_settings

ADMIN_KEY = "sqk_test-admin-key-0123456789abcdef"


class CommandCounter(monitoring.CommandListener):
    """Counts the commands requests send to one MongoDB database, while `counting` is set."""

    def __init__(self) -> None:
        self.database: str | None = None
        self.commands: Counter[str] = Counter()
        self.lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if in_background():  # the server's own loops (repair, sweep), not the request's
            return
        if self.database is not None and event.database_name == self.database:
            with self.lock:
                self.commands[event.command_name] += 1

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass

    def start(self, database: str) -> None:
        with self.lock:
            self.commands.clear()
            self.database = database

    def stop(self) -> Counter[str]:
        with self.lock:
            self.database = None
            return Counter(self.commands)


# Registered before any client exists: pymongo hands global listeners to clients made later.
COMMANDS = CommandCounter()
monitoring.register(COMMANDS)


class GraphError(Exception):
    def __init__(self, errors: list[dict], data: dict | None) -> None:
        super().__init__("; ".join(error.get("message", "") for error in errors))
        self.errors = errors
        self.data = data


@dataclass
class GraphServer:
    url: str
    settings: object
    admin_key: str = ADMIN_KEY
    app: object = None
    _clients: dict = field(default_factory=dict)

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    def client(self, key: str | None = None) -> Client:
        key = key or self.admin_key
        if key not in self._clients:
            transport = HTTPXTransport(url=self.graphql_url, timeout=60,
                                       headers={"Authorization": f"Bearer {key}"})
            self._clients[key] = Client(transport=transport, fetch_schema_from_transport=False,
                                        execute_timeout=60)
        return self._clients[key]

    def run(self, query: str, variables: dict | None = None, *, key: str | None = None) -> dict:
        """The data of a GraphQL request; GraphError when the answer has GraphQL errors."""
        request = GraphQLRequest(gql(query), variable_values=variables)
        try:
            return self.client(key).execute(request)
        except TransportQueryError as error:
            raise GraphError(error.errors or [], error.data) from None

    def post(self, body: bytes | dict, *, key: str | None = "admin",
             headers: dict | None = None) -> httpx.Response:
        """A raw POST to /graphql (for status codes and limits)."""
        sent = dict(headers or {})
        if key == "admin":
            key = self.admin_key
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if isinstance(body, dict):
            return httpx.post(self.graphql_url, json=body, headers=sent, timeout=60)
        sent.setdefault("content-type", "application/json")
        return httpx.post(self.graphql_url, content=body, headers=sent, timeout=60)

    def get(self, path: str, *, key: str | None = "admin", **options) -> httpx.Response:
        headers = dict(options.pop("headers", {}))
        if key == "admin":
            key = self.admin_key
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=60, **options)

    def new_key(self, role: str, databases: list[str] | None = None) -> str:
        data = self.run("""mutation($name: String!, $role: Role!, $databases: [String!]) {
            createApiKey(name: $name, role: $role, databases: $databases) {
              key errors { message } } }""",
                        {"name": f"{role} key", "role": role.upper(), "databases": databases})
        assert data["createApiKey"]["errors"] == []
        return data["createApiKey"]["key"]


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name="graph-test-server", daemon=True)

    def start(self, timeout: float = 60) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the GraphQL test server did not start")
            if time.monotonic() > deadline:
                raise RuntimeError("the GraphQL test server did not start in time")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()


def start_server(store_server: str, *, live_tasks: bool = False,
                 **settings) -> tuple[ServerThread, GraphServer]:
    """`live_tasks`: run the live sweep and webhook deliveries (off by default: tests that
    count store commands must not see them)."""
    store_settings = fresh_settings(store_server, **settings)
    app = create_app(store_settings, dev_key=ADMIN_KEY, live_tasks=live_tasks)
    thread = ServerThread(app)
    thread.start()
    return thread, GraphServer(url=f"http://127.0.0.1:{thread.port}", settings=store_settings,
                               app=app)


@pytest.fixture(scope="module")
def graph(store_server):
    """A running server with a database of its own for the test module."""
    thread, server = start_server(store_server)
    try:
        yield server
    finally:
        thread.stop()
        drop_database(store_server, server.settings.db_name)
