"""Errors as data, and which errors a client may see.

Expected failures (a bad expression, an unknown field, a name taken, a delete refused
while the segment is used, a key without the right) are returned in the `errors` lists of
results as `SegmentError {message line column ...}`, never as GraphQL errors. A resolver
declares it with the field extension `ExpectedErrors`: the resolver raises, and the field
answers its result type with only `errors` (a field whose type has no `errors` list answers
a GraphQL error with the message and `extensions.code`).

Everything else that goes wrong inside a resolver is unexpected: `ErrorPolicy` (strawberry's
MaskErrors) replaces it by "Unexpected error." for the client and the server logs it with
its traceback. What passes unmasked: GraphQL's own errors (syntax, validation, limits),
`PublicError` (a refusal about the request itself, such as a page size over the limit or a
bad cursor), values that do not fit a scalar, and time-outs (reported as such).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLError
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError
from strawberry.extensions import FieldExtension, MaskErrors
from strawberry.types.base import StrawberryOptional, has_object_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType

from dsl.errors import SegmentError as LanguageError
from dsl.errors import SegmentErrors
from graph.limits import Busy
from graph.scalars import ScalarValueError
from store.connection import StoreHealth
from store.errors import StoreError

log = logging.getLogger("segmentql.graph")

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


TIMEOUT_MESSAGE = "the request took longer than the server's time limit for a database query"


def timeout_error() -> SegmentError:
    return SegmentError(message=TIMEOUT_MESSAGE, code="TIMEOUT",
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


@dataclass(frozen=True)
class StoreWatch:
    """The store's state when a request (or a field) began. A time-out while the store was
    down, or restarted since, was spent waiting for it: UNAVAILABLE, not a slow query."""

    health: StoreHealth | None
    restarts: int

    @classmethod
    def of(cls, context: Any) -> StoreWatch:
        health = getattr(getattr(context, "store", None), "health", None)
        return cls(health, health.restarts if health is not None else 0)

    def interrupted(self) -> bool:
        return self.health is not None and (not self.health.available
                                            or self.health.restarts != self.restarts)


def store_failure_code(error: BaseException | None, watch: StoreWatch) -> str | None:
    """UNAVAILABLE or TIMEOUT for a failure of the store, else None."""
    if not isinstance(error, PyMongoError):
        return None
    if is_unavailable(error) or (error.timeout and watch.interrupted()):
        return "UNAVAILABLE"
    return "TIMEOUT" if error.timeout else None


def to_errors(error: BaseException, watch: StoreWatch | None = None) -> list[SegmentError]:
    """The `errors` list of an expected failure (raises what is not one); `watch`: the
    store's state when the request began (a time-out waiting for a restart: UNAVAILABLE)."""
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
    code = store_failure_code(error, watch or StoreWatch(None, 0))
    if code == "UNAVAILABLE":
        return [SegmentError(message=UNAVAILABLE_MESSAGE, code="UNAVAILABLE")]
    if code == "TIMEOUT":
        return [timeout_error()]
    raise error


EXPECTED = (LanguageError, SegmentErrors, StoreError, Refused, Busy)


def _result_type(field: StrawberryField) -> type | None:
    """The field's object type when it has an `errors` list (null allowed), else None."""
    kind = field.type
    if isinstance(kind, StrawberryOptional):
        kind = kind.of_type
    if isinstance(kind, LazyType):
        kind = kind.resolve_type()
    if not has_object_definition(kind):
        return None
    names = {item.python_name for item in kind.__strawberry_definition__.fields}
    return kind if "errors" in names else None


class ExpectedErrors(FieldExtension):
    """The field's expected failures (EXPECTED, a store that cannot be reached or took too
    long) become data: its result type (known from the field's annotation) with only
    `errors`, its other fields at their defaults (null, 0, empty). On a field whose type has
    no `errors` list they become a GraphQL error with the message and `extensions.code`,
    never an empty answer that looks like data. Anything else propagates (ErrorPolicy masks
    it)."""

    result_type: type | None = None

    def apply(self, field: StrawberryField) -> None:
        self.result_type = _result_type(field)

    async def resolve_async(self, next_, source: Any, info, **kwargs: Any) -> Any:
        watch = StoreWatch.of(info.context)
        try:
            return await next_(source, info, **kwargs)
        except (*EXPECTED, PyMongoError) as failure:
            errors = to_errors(failure, watch)  # an unexpected PyMongoError is raised again
        if self.result_type is not None:
            return self.result_type(errors=errors)
        raise GraphQLError(errors[0].message, extensions={"code": errors[0].code})


def is_public(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return True  # syntax, validation and limit errors of GraphQL itself
    return isinstance(original, (PublicError, ScalarValueError, Busy))


class ErrorPolicy(MaskErrors):
    """MaskErrors: unexpected errors become "Unexpected error."; time-outs and an
    unavailable store say so, with their code."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not is_public(error),
                         error_message=UNEXPECTED)
        self._watch = StoreWatch(None, 0)

    def on_operation(self):
        self._watch = StoreWatch.of(self.execution_context.context)
        yield from super().on_operation()

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        code = store_failure_code(error.original_error, self._watch)
        if code is not None:
            masked.message = UNAVAILABLE_MESSAGE if code == "UNAVAILABLE" else TIMEOUT_MESSAGE
            masked.extensions = {"code": code}
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
    ok: bool = False
    errors: list[SegmentError] = strawberry.field(default_factory=list)
