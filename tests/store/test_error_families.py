"""The language's errors and the store's are two families; each error's class says its
code, and a language error's position is a span with offsets."""

from __future__ import annotations

import pytest

from dsl.errors import (SegmentError, SegmentErrors, SegmentJsonError, SegmentSyntaxError,
                        SegmentTypeError)
from dsl.parser import parse
from graph.errors import to_errors
from store import errors as store_errors
from store.errors import StoreError


def test_store_errors_are_not_language_errors() -> None:
    for kind in (store_errors.StoreInputError, store_errors.NotFoundError,
                 store_errors.NameTakenError, store_errors.ConflictError):
        assert issubclass(kind, StoreError) and not issubclass(kind, SegmentError)
    assert not issubclass(store_errors.InUseError, SegmentError)


@pytest.mark.parametrize(("error", "code"), [
    (store_errors.StoreInputError("x"), "INPUT"),
    (store_errors.NotFoundError("x"), "NOT_FOUND"),
    (store_errors.NameTakenError("x"), "NAME_TAKEN"),
    (store_errors.InUseError("x", users=["segment A"]), "IN_USE"),
    (store_errors.ConflictError("x"), "CONFLICT"),
    (SegmentSyntaxError("x"), "SYNTAX"),
    (SegmentTypeError("x"), "TYPE"),
    (SegmentJsonError("x", "$.condition"), "JSON"),
])
def test_the_graphql_code_comes_from_the_class(error, code) -> None:
    assert error.code == code
    (shown,) = to_errors(error)
    assert shown.code == code


def test_a_store_error_keeps_its_suggestion() -> None:
    (shown,) = to_errors(store_errors.NotFoundError("no segment X", suggestion="check the id"))
    assert shown.message == "no segment X (check the id)" and shown.suggestion == "check the id"
    assert shown.line is None and shown.start is None


@pytest.mark.parametrize(("text", "start", "end"), [
    ("Age >> 5", 5, 6),            # the second `>`
    ('City equals "krakow', 12, 13),  # the unclosed quote
    ("Age >", 5, 5),               # the end of the text
])
def test_a_syntax_error_has_offsets(text, start, end) -> None:
    with pytest.raises(SegmentSyntaxError) as raised:
        parse(text)
    assert (raised.value.start, raised.value.end) == (start, end)
    span = raised.value.span
    assert span is not None and (span.start, span.end) == (start, end)
    assert text[:start].count("\n") + 1 == span.line


def test_a_type_error_has_the_offsets_of_its_node() -> None:
    from dsl.schema import FieldSchema
    from dsl.typecheck import require_valid

    text = 'Age > 1 and Citty equals "x"'
    with pytest.raises(SegmentErrors) as raised:
        require_valid(parse(text), FieldSchema.from_json({"Age": "number"}), source=text)
    (error,) = raised.value.errors
    assert text[error.start:error.end].startswith("Citty")
