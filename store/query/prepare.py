"""`prepare`: the one way an expression becomes something the store can evaluate.

Whatever asks (a preview, a count, an export, explain, a diff, a campaign send, live
maintenance, the command line), an expression goes through the same steps once: read the
database's catalog (cached by revision), parse the text or decode the JSON form (or take a
saved definition), type-check, find and inline the `in segment` references (every
referenced segment read once; a cycle is an error naming it), fix `now`, normalise range
and maximum. The database's time zone is part of its catalog (one read of its record per
preparation). The result, a `PreparedQuery`, is what store/query/run.py counts, lists and
pages; its pipeline is planned once (store/query/planner.py) and shared by everything that
one evaluation answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from pymongo.asynchronous.database import AsyncDatabase

from dsl import ast
from dsl.errors import SegmentError, SegmentErrors, SegmentTypeError
from dsl.schema import FieldSchema, closest_name
from dsl.segments import inline_segments, referenced_segments
from dsl.temporal import UTC, Zone, normalize_now
from dsl.typecheck import check
from dsl.values import fold
from store.catalog import shared_catalogs
from store.collections import LIVE_SEGMENT, SEGMENTS
from store.fields import DEFAULT_DATABASE
from store.offload import read_saved_form, run_language, size_of
from store.segment_definition import (Definition, canonical, normalize_maximum, normalize_range,
                                      parse_off_loop)


@dataclass(frozen=True)
class PreparedQuery:
    """An expression of `database`, checked, with its references inlined, at a fixed `now`.

    `expression` is as given (what canonical text and explain show); `inlined` is what is
    evaluated. `references` are the ids of the segments it names directly (in order);
    `definitions` maps each direct reference, as written, to its inlined definition."""

    db: AsyncDatabase
    database: str
    expression: ast.Expression
    inlined: ast.Expression
    schema: FieldSchema
    now: dt.datetime
    range_from: float = 0
    range_to: float = 100
    maximum: int | None = None
    zone: Zone = UTC  # the database's time zone: its calendar days
    source: str | None = None
    references: tuple[str, ...] = ()
    definitions: Mapping[str, ast.Expression] = field(default_factory=dict)
    # The planned pipeline, kept so a count and a listing of one evaluation share it (and
    # the events counted for it): see store/query/planner.py.
    _plans: dict = field(default_factory=dict, compare=False, repr=False)

    def canonical(self) -> tuple[str, dict]:
        """(canonical text, JSON form) of the expression as given."""
        return canonical(self.expression)

    def at(self, now: dt.datetime) -> PreparedQuery:
        """The same query at another time (nothing is read again)."""
        return replace(self, now=normalize_now(now), _plans={})

    def within(self, range_from: float, range_to: float) -> PreparedQuery:
        """The same query on another bucket range (an estimate's sample)."""
        return replace(self, range_from=range_from, range_to=range_to, _plans={})


async def prepare(db: AsyncDatabase, database: str = DEFAULT_DATABASE, *,
                  now: dt.datetime, expression: str | None = None,
                  json: dict | str | bytes | None = None,
                  definition: Definition | None = None,
                  parsed: ast.Expression | None = None, source: str | None = None,
                  range_from: float = 0, range_to: float = 100, maximum: int | None = None,
                  own_names: Iterable[str] = (), own_id: str | None = None) -> PreparedQuery:
    """Prepare an expression of `database` given as text, as JSON form, as a saved
    `definition` (which brings its own range and maximum and was checked when saved), or
    already `parsed` (from `source`, when it was text).

    Refused with the language's errors (SegmentErrors with every problem, or a
    SegmentTypeError with the position) or a StoreInputError (unknown database, bad
    settings). `own_names` / `own_id`: the segment being defined (its stored and new names),
    so that a reference back to itself is a cycle."""
    catalog = await shared_catalogs.get(db, database)  # also refuses an unknown database
    if definition is not None:
        if expression is not None or json is not None or parsed is not None:
            raise ValueError("prepare takes one of text, JSON form, definition or parsed")
        expr, source = await read_saved_form(definition.json), None
        range_from, range_to, maximum = (definition.range_from, definition.range_to,
                                         definition.maximum)
        own_names = own_names or (definition.name,)
    else:
        range_from, range_to = normalize_range(range_from, range_to)
        maximum = normalize_maximum(maximum)
        if parsed is None:
            expr, source = await parse_off_loop(expression, json)
        else:
            expr = parsed
        problems = await run_language(  # CPU work: off the event loop when big
            size_of(expr), check, expr, catalog.schema, source=source,
            event_types=catalog.event_types, lists=catalog.lists)
        if problems:
            raise SegmentErrors(tuple(problems))
    inlined, references, definitions = await _inline_references(
        db, database, expr, source=source, own_names=list(own_names), own_id=own_id,
        check_direct=definition is None)
    return PreparedQuery(db=db, database=database, expression=expr, inlined=inlined,
                         schema=catalog.schema, now=normalize_now(now),
                         range_from=range_from, range_to=range_to, maximum=maximum,
                         zone=catalog.zone,
                         source=source, references=tuple(references), definitions=definitions)


async def _inline_references(db: AsyncDatabase, database: str, expr: ast.Expression, *,
                             source: str | None, own_names: list[str], own_id: str | None,
                             check_direct: bool
                             ) -> tuple[ast.Expression, list[str], dict[str, ast.Expression]]:
    """(inlined expression, ids of the direct references, direct reference → inlined
    definition). Each referenced segment, direct or not, is read once."""
    direct = referenced_segments(expr)
    if not direct:
        return expr, [], {}
    documents = await _segment_documents(db, database, direct)
    own = {fold(name) for name in own_names}
    stored_name = own_names[0] if own_names else None
    problems: list[SegmentError] = []
    references: list[str] = []
    for node in (node for node in ast.walk(expr) if isinstance(node, ast.InSegment)):
        document = documents.get(node.ref)
        if node.ref == own_id or fold(node.ref) in own:
            shown = stored_name or node.ref
            problems.append(SegmentTypeError.at(
                node.span, f"segments refer to each other in a cycle: {shown} → {shown}",
                source=source, suggestion="a segment cannot be part of its own definition"))
        elif document is None:
            if check_direct:
                problems.append(await _unknown_reference(db, database, node, source))
        elif document.get("in_bin"):
            problems.append(SegmentTypeError.at(
                node.span, f"segment {document['name']} is in the bin", source=source,
                suggestion="restore it first, or refer to another segment"))
        elif document["_id"] not in references:
            references.append(document["_id"])
    if problems:
        raise SegmentErrors(tuple(problems))
    live = {ref: document for ref, document in documents.items()
            if document is not None and not document.get("in_bin")}
    parsed = {ref: await read_saved_form(document["json"]) for ref, document in live.items()}
    names = {ref: document["name"] for ref, document in live.items()}
    try:
        inlined = inline_segments(expr, parsed, names=names, start=stored_name)
        definitions = {ref: inline_segments(ast.InSegment(ref), parsed, names=names)
                       for ref in direct}
    except SegmentError as error:
        raise error.with_source(source) if source is not None else error
    return inlined, references, definitions


async def _segment_documents(db: AsyncDatabase, database: str,
                             refs: list[str]) -> dict[str, dict | None]:
    """Each reference (name or id, case-insensitively by name) → the segment it names, read
    transitively through the definitions of live segments: a live one wins over the bin,
    and an id over a name. None: no such segment."""
    found: dict[str, dict | None] = {}
    pending = list(refs)
    while pending:
        ref = pending.pop()
        if ref in found:
            continue
        candidates = [document async for document in db[SEGMENTS].find(
            {"database": database, "$or": [{"_id": ref}, {"name_folded": fold(ref)}]},
            {"name": 1, "json": 1, "in_bin": 1})]
        live = [document for document in candidates if not document.get("in_bin")]
        pool = live or candidates
        chosen = next((document for document in pool if document["_id"] == ref),
                      pool[0] if pool else None)
        found[ref] = chosen
        if chosen is not None and not chosen.get("in_bin"):
            pending.extend(referenced_segments(await read_saved_form(chosen["json"])))
    return found


async def _unknown_reference(db: AsyncDatabase, database: str, node: ast.InSegment,
                             source: str | None) -> SegmentError:
    names = await db[SEGMENTS].distinct("name", {"database": database, **LIVE_SEGMENT})
    close = closest_name(node.ref, names)
    hint = f"did you mean {close}?" if close else (
        "there are no segments yet" if not names else "refer to a saved segment by name or id")
    return SegmentTypeError.at(node.span, f"no segment named {node.ref!r}", source=source,
                               suggestion=hint)


async def prepare_segment(db: AsyncDatabase, segment, *, now: dt.datetime,
                          definition: Definition | None = None) -> PreparedQuery:
    """A saved segment (store.segments.Segment) at `now` (the edge's evaluation time):
    its current definition, or `definition` (one of its versions)."""
    return await prepare(db, segment.database, definition=definition or segment.definition,
                         now=now, own_id=segment.id)
