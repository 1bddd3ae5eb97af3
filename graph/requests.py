"""What a GraphQL request must be before anything runs, refused with a clear message:

- the body (POST) or the `variables` parameter (GET) is JSON, UTF-8, no deeper than
  MAX_JSON_DEPTH, with no lone UTF-16 surrogate escape (`"\\ud800"` is no character: it
  could be neither stored nor printed); anything else is HTTP 400 naming what is wrong
  and where;
- a GET request's query string is UTF-8 once percent-decoded (`check_query_string`);
- the body is a JSON object (`{"query": ...}`): `null`, a list or a number is HTTP 400;
- a document with several operations names the one to run (`operationName`), as the
  GraphQL specification requires (`OneOperation`);
- a WebSocket message is decoded as a body is: one refused closes the socket with 4400 and
  the reason (`WebSocketAdapter`), as graphql-transport-ws closes on an invalid message.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes
from collections.abc import Iterator
from typing import Any

import orjson
from graphql import ExecutionResult, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from cross_web import HTTPException
from strawberry.asgi import ASGIWebSocketAdapter

MAX_JSON_DEPTH = 1024  # orjson's own limit: a deeper document is refused while decoding

_POSITION = re.compile(r": line (\d+) column (\d+) \(char (\d+)\)$")


def decode_json(data: str | bytes) -> Any:
    """The JSON value of a request body or parameter; HTTPException(400) with a message that
    says what is wrong (and where) otherwise."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise HTTPException(400, _explain(str(error), data)) from None


def _explain(detail: str, data: str | bytes) -> str:
    match = _POSITION.search(detail)
    where = ""
    if match:
        where = f" at line {match.group(1)}, column {match.group(2)}"
        detail = detail[:match.start()]
    if "surrogate" in detail and "UTF-8" not in detail:
        return (f"the request holds a lone UTF-16 surrogate escape (\\ud800 to \\udfff "
                f"without its pair){where}: it is no character and cannot be stored; "
                "send the character itself or a complete pair")
    if "UTF-8" in detail:
        return f"the request body is not UTF-8 text{where}: send JSON encoded as UTF-8"
    if "depth" in detail or "recursion" in detail:
        return (f"the request nests JSON deeper than {MAX_JSON_DEPTH:,} levels{where}; "
                "no query or variable needs that")
    if not data or not data.strip():
        return ('the request body is empty: send a JSON object such as '
                '{"query": "{ fields { name } }"}')
    return f"the request body is not valid JSON{where}: {detail}"


# A WebSocket close reason holds at most 123 bytes (RFC 6455, 5.5.1)
_MAX_CLOSE_REASON = 123


class WebSocketAdapter(ASGIWebSocketAdapter):
    """strawberry's WebSocket adapter, for messages that `decode_json` refuses: the socket
    is closed with 4400 and the reason (shortened to fit a close frame) instead of the
    error escaping and the connection dropping without a word."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False):
        try:
            async for message in super().iter_json(ignore_parsing_errors=ignore_parsing_errors):
                yield message
        except HTTPException as error:
            await self.close(4400, close_reason(error.reason))


def close_reason(message: str) -> str:
    """`message` cut (at a word) to what a close frame can carry."""
    if len(message.encode("utf-8")) <= _MAX_CLOSE_REASON:
        return message
    cut = message.encode("utf-8")[:_MAX_CLOSE_REASON - 4].decode("utf-8", "ignore")
    return cut.rsplit(" ", 1)[0].rstrip(":;,") + " ..."


def check_query_string(raw: bytes) -> None:
    """HTTPException(400) when a parameter of the query string is not UTF-8 once
    percent-decoded (it would be read with U+FFFD in place of the bytes, and answered)."""
    for number, part in enumerate(raw.split(b"&"), start=1):
        name, _, value = part.partition(b"=")
        for piece in (name, value):
            decoded = unquote_to_bytes(piece.replace(b"+", b" "))
            try:
                decoded.decode("utf-8")
            except UnicodeDecodeError as error:
                shown = name.decode("ascii", "replace") if piece is value else f"number {number}"
                raise HTTPException(400, f"the query string parameter {shown} is not UTF-8 "
                                         f"text (byte 0x{decoded[error.start]:02X}): "
                                         "percent-encode the UTF-8 bytes of the text") from None


def require_object(data: Any) -> None:
    """A GraphQL request is one JSON object (`{"query": ..., "variables": ...}`)."""
    if not isinstance(data, dict):
        kind = {type(None): "null", list: "a list", str: "a string", bool: "a boolean"}.get(
            type(data), "a number")
        raise HTTPException(400, f"the request body is {kind}, not a JSON object such as "
                                 '{"query": "{ fields { name } }"}')


class OneOperation(SchemaExtension):
    """A document with several operations must say which one to run (GraphQL spec,
    "GetOperation"); without `operationName` it is refused, never run by guess."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # strawberry's `operation_name` falls back to the first operation's name; only the
        # name the client sent counts here
        if document is not None and getattr(context, "_provided_operation_name", None) is None:
            names = [definition.name.value if definition.name else "(unnamed)"
                     for definition in document.definitions
                     if isinstance(definition, OperationDefinitionNode)]
            if len(names) > 1:  # a result set before execution replaces it (strawberry)
                context.result = ExecutionResult(data=None, errors=[GraphQLError(
                    f"the document holds {len(names)} operations ({', '.join(names)}); "
                    "say which one to run with operationName")])
        yield
