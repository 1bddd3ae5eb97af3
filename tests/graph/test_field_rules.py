"""What every field declares (graph/permissions.py, graph/errors.py), read from the schema:
a new mutation cannot forget its role, nor answer a refusal as anything but data."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

import pytest
import strawberry
from pymongo.errors import NetworkTimeout
from strawberry.permission import PermissionExtension

from graph.auth import Access
from graph.errors import ErrorPolicy, ExpectedErrors, MutationResult, Refused
from graph.permissions import KeySees, Requires
from graph.schema import Mutation, Query
from store.api_keys import ApiKey
from store.connection import StoreHealth
from store.errors import NotFoundError

MUTATIONS = Mutation.__strawberry_definition__.fields
QUERIES = Query.__strawberry_definition__.fields


def _of(field, kind) -> list:
    return [extension for extension in field.extensions if isinstance(extension, kind)]


@pytest.mark.parametrize("field", MUTATIONS, ids=lambda field: field.name)
def test_every_mutation_requires_a_writing_role(field) -> None:
    requires = _of(field, Requires)
    assert len(requires) == 1, f"{field.name} declares no Requires(role, doing)"
    # viewers read: every mutation needs at least an editor
    assert requires[0].role in ("editor", "admin"), field.name
    assert requires[0].doing, field.name


@pytest.mark.parametrize("field", MUTATIONS, ids=lambda field: field.name)
def test_every_mutation_answers_its_refusals_in_errors(field) -> None:
    names = [type(extension) for extension in field.extensions]
    assert ExpectedErrors in names, field.name
    # strawberry runs the last extension outermost: ExpectedErrors must wrap Requires
    assert names.index(ExpectedErrors) > names.index(Requires), field.name
    result = _of(field, ExpectedErrors)[0].result_type
    assert result is not None, f"{field.name}: its result type has no errors list"
    # a failed result is the type with only errors: every other field has a default
    failed = result(errors=[])
    assert failed.errors == []


@pytest.mark.parametrize("field", [field for field in QUERIES if any(
    argument.python_name == "database" for argument in field.arguments)],
    ids=lambda field: field.name)
def test_every_query_on_a_database_checks_the_key_sees_it(field) -> None:
    silent = [permission for extension in _of(field, PermissionExtension)
              for permission in extension.permissions if isinstance(permission, KeySees)]
    checked = [item for item in _of(field, Requires) if item.database is not None]
    # checked in the resolver: `segments` answers an empty connection (fail_silently is for
    # null and lists); parseSegment still answers the canonical text beside the refusal
    assert silent or checked or field.python_name in CHECKED_INSIDE, field.name


CHECKED_INSIDE = {"segments", "parse_segment"}


def test_requires_without_expected_errors_after_it_is_refused_at_build() -> None:
    @strawberry.type
    class Broken:
        @strawberry.mutation(extensions=[ExpectedErrors(), Requires("editor", "break")])
        async def broken(self) -> bool:
            return True

    @strawberry.type
    class Root:
        ok: bool = True

    with pytest.raises(TypeError, match="Requires must be followed by ExpectedErrors"):
        strawberry.Schema(query=Root, mutation=Broken)


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="not a role"):
        Requires("owner", "own")


# --- the extensions at work, on a small schema of their own ---------------------------------

def _small_schema():
    @strawberry.type
    class Small:
        @strawberry.field(extensions=[ExpectedErrors()])
        async def count(self, what: str, info: strawberry.Info) -> int:
            if what == "missing":
                raise NotFoundError("no such thing")
            if what == "broken":
                raise RuntimeError("a bug")
            if what.startswith("slow"):
                if what == "slow while the store restarts":
                    info.context.store.health.set("restarting", "the embedded store stopped")
                raise NetworkTimeout("timed out")
            return 1

        @strawberry.field(extensions=[Requires(database="database"), ExpectedErrors()])
        async def result(self, database: str | None = None) -> MutationResult:
            if database == "other":
                raise Refused("not today", code="INPUT")
            return MutationResult(ok=True)

    @strawberry.type
    class Writes:
        @strawberry.mutation(extensions=[Requires("editor", "write", database="database"),
                                         ExpectedErrors()])
        async def write(self, database: str) -> MutationResult:
            return MutationResult(ok=True)

    return strawberry.Schema(query=Small, mutation=Writes)


def _context(role: str, databases: tuple[str, ...] | None = None):
    key = ApiKey(key_id="k1", name="test", role=role, databases=databases,
                 created_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), created_by="test")
    return SimpleNamespace(access=Access(key), store=SimpleNamespace(health=StoreHealth()))


def _run(query: str, role: str = "viewer", databases=("main",)):
    return asyncio.run(_small_schema().execute(query, context_value=_context(role, databases)))


def test_a_refused_role_or_database_is_data_with_forbidden() -> None:
    viewer = _run('mutation { write(database: "main") { ok errors { message code } } }')
    assert viewer.errors is None
    assert viewer.data == {"write": {"ok": False, "errors": [{
        "message": "this API key (viewer) may not write; that needs the editor role",
        "code": "FORBIDDEN"}]}}
    elsewhere = _run('mutation { write(database: "b") { ok errors { message code } } }',
                     role="editor")
    assert elsewhere.data == {"write": {"ok": False, "errors": [{
        "message": "profile database b is not open to this API key", "code": "FORBIDDEN"}]}}
    allowed = _run('mutation { write(database: "main") { ok errors { code } } }', role="admin")
    assert allowed.data == {"write": {"ok": True, "errors": []}}


def test_a_query_left_without_a_database_reads_main() -> None:
    seen = _run("{ result { ok errors { code } } }")
    assert seen.data == {"result": {"ok": True, "errors": []}}
    refused = _run('{ result(database: "other") { ok errors { message code } } }',
                   databases=None)
    assert refused.data == {"result": {"ok": False, "errors": [
        {"message": "not today", "code": "INPUT"}]}}


def test_a_field_without_errors_answers_a_graphql_error_with_the_code() -> None:
    answer = _run('{ count(what: "missing") }')
    assert answer.data is None
    assert answer.errors[0].message == "no such thing"
    assert answer.errors[0].extensions == {"code": "NOT_FOUND"}


def test_a_time_out_is_timeout_while_the_store_is_up_and_unavailable_when_it_was_not() -> None:
    slow = _run('{ count(what: "slow") }')
    assert slow.errors[0].extensions["code"] == "TIMEOUT"
    # the store died under the request: waiting for it timed out, and that is no slow query
    restarting = _run('{ count(what: "slow while the store restarts") }')
    assert restarting.errors[0].extensions["code"] == "UNAVAILABLE", restarting.errors


def test_a_masked_time_out_is_unavailable_when_the_store_restarted_meanwhile() -> None:
    # a field without ExpectedErrors: its failures go through ErrorPolicy alone
    @strawberry.type
    class Bare:
        @strawberry.field
        async def slow(self, info: strawberry.Info, restarting: bool) -> int:
            if restarting:
                info.context.store.health.restarts += 1  # down and back during the request
            raise NetworkTimeout("timed out")

    policed = strawberry.Schema(query=Bare, extensions=[ErrorPolicy])
    up = asyncio.run(policed.execute("{ slow(restarting: false) }",
                                     context_value=_context("viewer")))
    assert up.errors[0].extensions == {"code": "TIMEOUT"}
    restarted = asyncio.run(policed.execute("{ slow(restarting: true) }",
                                            context_value=_context("viewer")))
    assert restarted.errors[0].extensions == {"code": "UNAVAILABLE"}, restarted.errors


def test_an_unexpected_failure_is_not_turned_into_data() -> None:
    answer = _run('{ count(what: "broken") }')
    assert answer.data is None
    assert isinstance(answer.errors[0].original_error, RuntimeError)


# --- the same answers through the server ------------------------------------------------------

def test_queries_on_databases_that_cannot_exist_answer_empty(graph) -> None:
    data = graph.run("""{
      noneSuch: fields(database: "nope") { name }
      badName: fields(database: "no such name!") { name }
      types: eventTypes(database: "no such name!")
      lists(database: "no such name!") { name }
      missing: list(name: "No such list") { name }
      contact(database: "no such name!", id: "c1") { id }
      campaigns(database: "no such name!") { name }
    }""")
    assert data == {"noneSuch": [], "badName": [], "types": [], "lists": [], "missing": None,
                    "contact": None, "campaigns": []}


def test_parse_segment_keeps_its_canonical_text_beside_a_refused_database(graph) -> None:
    graph.run('mutation { createDatabase(name: "brand_b") { ok } }')
    only_b = graph.new_key("viewer", ["brand_b"])
    parsed = graph.run('{ parseSegment(expression: "Age  >  3") { canonical pipeline '
                       'errors { code } } }', key=only_b)["parseSegment"]
    assert parsed == {"canonical": "Age > 3", "pipeline": None,
                      "errors": [{"code": "FORBIDDEN"}]}
    broken = graph.run('{ parseSegment(expression: "Age >") { canonical errors { code } } }',
                       key=only_b)["parseSegment"]
    assert broken["canonical"] is None and broken["errors"][0]["code"] == "SYNTAX"


def test_a_refused_write_says_what_was_stored(graph) -> None:
    viewer = graph.new_key("viewer")
    data = graph.run("""mutation {
      upsertContacts(contacts: [{id: "r1"}]) { stored duplicates rejected { id } contactsCreated
                                               errors { code } }
      addToList(name: "L", contactIds: ["r1"]) { changed unchanged unknown errors { code } }
      createList(name: "L") { list { name } errors { code } }
      purgeSegment(id: "x") { ok errors { code } }
    }""", key=viewer)
    forbidden = [{"code": "FORBIDDEN"}]
    assert data == {
        "upsertContacts": {"stored": 0, "duplicates": 0, "rejected": [], "contactsCreated": 0,
                           "errors": forbidden},
        "addToList": {"changed": 0, "unchanged": 0, "unknown": [], "errors": forbidden},
        "createList": {"list": None, "errors": forbidden},
        "purgeSegment": {"ok": False, "errors": forbidden}}
