"""Errors as data, and which errors a client may see.

Expected failures (a bad expression, an unknown field, a name taken, a delete refused
while the segment is used, a key without the right) are returned in the `errors` lists of
results as `SegmentError {message line column ...}`, never as GraphQL errors. `attempt`
runs a store call and turns those failures into that list.

Everything else that goes wrong inside a resolver is unexpected: `ErrorPolicy` (strawberry's
MaskErrors) replaces it by "Unexpected error." for the client and the server logs it with
its traceback. What passes unmasked: GraphQL's own errors (syntax, validation, limits),
`PublicError` (a refusal about the request itself, such as a page size over the limit or a
bad cursor), values that do not fit a scalar, and time-outs (reported as such).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

import strawberry
from graphql import GraphQLError
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError
from strawberry.extensions import MaskErrors

from dsl.errors import SegmentError as LanguageError
from dsl.errors import SegmentErrors
from graph.limits import Busy
from graph.scalars import ScalarValueError
from store.errors import StoreError

log = logging.getLogger("segmentql.graph")

T = TypeVar("T")

UNEXPECTED = "Unexpected error."


@strawberry.type(description="An expected failure: what was wrong, and where in the expression "
                             "(line and column, 1-based) when it is about one.")
class SegmentError:
    message: str
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    start: int | None = strawberry.field(
        default=None, description="Where in the expression text, as a 0-based offset.")
    end: int | None = strawberry.field(
        default=None, description="Where the problem ends in the text (0-based, exclusive).")
    suggestion: str | None = strawberry.field(
        default=None, description="What to do about it (also at the end of `message`).")
    path: str | None = strawberry.field(
        default=None, description="Where in a JSON-form expression, e.g. $.condition.and[1].")
    code: str = strawberry.field(
        default="INPUT", description="SYNTAX, TYPE, JSON, INPUT, NOT_FOUND, NAME_TAKEN, IN_USE, "
                                     "CONFLICT, FORBIDDEN, TIMEOUT, BUSY, SEND_FAILED or "
                                     "UNAVAILABLE.")


@strawberry.type(description="A row of a batch that was not stored: its 0-based index in the "
                             "batch, its id when it had one, and why.")
class RowError:
    index: int
    id: str | None
    message: str


class PublicError(Exception):
    """A refusal shown to the client as a GraphQL error with this message."""


class Refused(Exception):
    """An expected refusal decided in graph/ (a right the key lacks, an invisible database)."""

    def __init__(self, message: str, code: str = "FORBIDDEN") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def from_language_error(error: LanguageError) -> SegmentError:
    message = error.message
    if error.suggestion:
        message = f"{message} ({error.suggestion})"
    return SegmentError(message=message, line=error.line, column=error.column,
                        end_line=error.end_line, end_column=error.end_column,
                        start=error.start, end=error.end, suggestion=error.suggestion,
                        path=getattr(error, "path", None), code=error.code)


def from_store_error(error: StoreError) -> SegmentError:
    return SegmentError(message=str(error), suggestion=error.suggestion, code=error.code)


def timeout_error() -> SegmentError:
    return SegmentError(message="the request took longer than the server's time limit for a "
                                "database query", code="TIMEOUT",
                        suggestion="narrow the expression, or try again later")


UNAVAILABLE_MESSAGE = ("the store is unavailable right now; the server restarts it by itself, "
                       "try again shortly")


def unavailable_error(detail: str | None = None) -> dict:
    """The GraphQL error (as JSON) of a request refused because the store is down."""
    message = UNAVAILABLE_MESSAGE if not detail else f"{UNAVAILABLE_MESSAGE} (store {detail})"
    return {"message": message, "extensions": {"code": "UNAVAILABLE"}}


def is_unavailable(error: BaseException) -> bool:
    """A store that cannot be reached (connection refused or lost, no server selected)."""
    return isinstance(error, (ConnectionFailure, ServerSelectionTimeoutError)) and not (
        isinstance(error, PyMongoError) and error.timeout and not isinstance(
            error, ServerSelectionTimeoutError))


def raise_store_failure(errors: list[SegmentError]) -> None:
    """For a field whose type has no `errors` list: a store that failed (UNAVAILABLE,
    TIMEOUT) becomes a GraphQL error with its code, never an empty answer that looks like
    data."""
    for error in errors:
        if error.code in ("UNAVAILABLE", "TIMEOUT"):
            raise GraphQLError(error.message, extensions={"code": error.code})


def to_errors(error: BaseException) -> list[SegmentError]:
    """The `errors` list of an expected failure (raises what is not one)."""
    if isinstance(error, SegmentErrors):
        return [from_language_error(item) for item in error.errors]
    if isinstance(error, LanguageError):
        return [from_language_error(error)]
    if isinstance(error, StoreError):
        return [from_store_error(error)]
    if isinstance(error, Refused):
        return [SegmentError(message=error.message, code=error.code)]
    if isinstance(error, Busy):
        return [SegmentError(message=str(error), code="BUSY")]
    if isinstance(error, PyMongoError) and is_unavailable(error):
        return [SegmentError(message=UNAVAILABLE_MESSAGE, code="UNAVAILABLE")]
    if isinstance(error, PyMongoError) and error.timeout:
        return [timeout_error()]
    raise error


EXPECTED = (LanguageError, SegmentErrors, StoreError, Refused, Busy)


async def attempt(work: Awaitable[T]) -> tuple[T | None, list[SegmentError]]:
    """(result, []) or (None, errors) for an expected failure; anything else propagates."""
    try:
        return await work, []
    except EXPECTED as error:
        return None, to_errors(error)
    except PyMongoError as error:
        if is_unavailable(error):
            return None, [SegmentError(message=UNAVAILABLE_MESSAGE, code="UNAVAILABLE")]
        if error.timeout:
            return None, [timeout_error()]
        raise


def is_public(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return True  # syntax, validation and limit errors of GraphQL itself
    return isinstance(original, (PublicError, ScalarValueError, Busy))


def is_timeout(error: GraphQLError) -> bool:
    original = error.original_error
    return isinstance(original, PyMongoError) and original.timeout


class ErrorPolicy(MaskErrors):
    """MaskErrors: unexpected errors become "Unexpected error."; time-outs say so."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not is_public(error),
                         error_message=UNEXPECTED)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        if is_timeout(error):
            masked.message = ("the request took longer than the server's time limit for a "
                              "database query")
        if error.original_error is not None and is_unavailable(error.original_error):
            masked.message = UNAVAILABLE_MESSAGE
            masked.extensions = {"code": "UNAVAILABLE"}
        return masked


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Log what the client sees masked, with the traceback (the rest is the client's)."""
    for error in errors:
        if is_public(error):
            continue
        original = error.original_error
        if is_unavailable(original):
            log.warning("the store is unavailable in %s: %s",
                        ".".join(map(str, error.path or [])) or "-", original)
            continue
        log.error("unexpected error in %s: %s", ".".join(map(str, error.path or [])) or "-",
                  original, exc_info=(type(original), original, original.__traceback__))


@strawberry.type(description="The result of a mutation that returns no object.")
class MutationResult:
    ok: bool
    errors: list[SegmentError]


def mutation_result(errors: list[SegmentError]) -> MutationResult:
    return MutationResult(ok=not errors, errors=errors)
