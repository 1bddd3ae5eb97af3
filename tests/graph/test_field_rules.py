"""What every field declares (graph/permissions.py, graph/errors.py), read from the schema:
a new mutation cannot forget its role, nor answer a refusal as anything but data."""

from __future__ import annotations

import pytest
from strawberry.permission import PermissionExtension

from graph.errors import ExpectedErrors
from graph.permissions import KeySees, Requires
from graph.schema import Mutation, Query

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
    import strawberry

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
