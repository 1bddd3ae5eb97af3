"""Segments: preview, parse, read, list and search; create, update (versions), clone, the
bin; dependents, history, analytics; actions on the current members."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from bson import json_util
from pymongo.errors import PyMongoError
from strawberry import UNSET, Private
from strawberry.utils.str_converters import to_camel_case

from graph.contacts import Contact, ContactConnection, contact_from_document, search
from graph.context import Info, value
from graph.errors import (EXPECTED, ExpectedErrors, MutationResult, PublicError, Refused,
                          RowError, SegmentError, to_errors)
from graph.pagination import Connection, connection, empty, read_page
from graph.permissions import Requires, input_database
from graph.scalars import JSON
from store import query, segment_bin
from store.campaigns import list_campaigns
from store.errors import NotFoundError
from store.fields import DEFAULT_DATABASE
from store.member_actions import bulk_update_field, copy_to_database, copy_to_list
from store.preview import PREVIEW_SIZE, preview_segment
from store.offload import run_language, size_of
from store.segment_definition import canonical as canonical_form
from store.segment_definition import parse_off_loop
from store.segment_history import segment_history
from store.segment_runs import count_segment, list_runs, segment_sizes
from store.segment_search import list_segments
from store.segments import Segment as StoredSegment
from store.segments import clone_segment, create_segment, restore_version, update_segment

if TYPE_CHECKING:
    from graph.campaigns import Campaign
    from graph.live import SegmentChange, Webhook


# --- types ---------------------------------------------------------------------------------------

@strawberry.type(description="Something that uses a segment: a segment naming it in `in "
                             "segment`, or a campaign targeting it.")
class Dependent:
    kind: str = strawberry.field(description="segment or campaign")
    id: strawberry.ID
    name: str
    status: str | None = strawberry.field(description="A campaign's status.")


@strawberry.type(description="One version of a segment's definition: who changed what, when.")
class SegmentVersion:
    version: int
    at: dt.datetime
    by: str
    changed: list[str] = strawberry.field(description="The attributes this version changed, "
                                                      "by their names here (rangeFrom, ...).")
    note: str | None
    name: str
    description: str | None
    tags: list[str]
    access_groups: list[str]
    expression: str
    json: JSON
    range_from: float
    range_to: float
    maximum: int | None


@strawberry.type(description="One computation of a segment's members: when, how many, how "
                             "long, what asked for it.")
class SegmentRun:
    at: dt.datetime
    count: int
    duration_ms: int
    purpose: str
    actor: str
    version: int
    now: dt.datetime


@strawberry.type(description="The segment's size at a time (one computation).")
class SegmentSize:
    at: dt.datetime
    count: int


@strawberry.type(description="A saved segment: a rule over one profile database's contacts.")
class Segment:
    id: strawberry.ID
    name: str
    description: str | None
    tags: list[str]
    database: str
    expression: str = strawberry.field(description='The canonical text ("" selects everyone).')
    json: JSON = strawberry.field(description="The JSON form (docs/json-form.md).")
    range_from: float
    range_to: float
    maximum: int | None
    version: int
    in_bin: bool
    access_groups: list[str]
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str
    last_count: int | None = strawberry.field(description="The newest computed count.")
    last_count_at: dt.datetime | None
    stored: Private[StoredSegment]

    @strawberry.field(description="The number of members: without `now`, the maintained live "
                                  "membership's (answered at once, not logged); at `now`, "
                                  "evaluated afresh and logged as a run.",
                      extensions=[ExpectedErrors()])
    async def count(self, info: Info, now: dt.datetime | None = UNSET) -> int:
        return await info.context.heavy(count_segment(
            info.context.db, self.stored.id, now=value(now, info.context.now),
            maintained=value(now) is None, actor=info.context.actor))

    @strawberry.field(description="The instant the maintained membership is exact for (where "
                                  "the sweep of time-based changes has reached); null when "
                                  "the segment is not maintained (in the bin) or no sweep "
                                  "has run yet.")
    async def membership_as_of(self, info: Info) -> dt.datetime | None:
        from graph.live import segment_membership_as_of

        return await segment_membership_as_of(info, self.stored)

    @strawberry.field(description="Entries and exits, oldest first (in the order recorded); "
                                  "`since`: those at or after that instant.")
    async def changes(self, info: Info, since: dt.datetime | None = UNSET, first: int | None = 50,
                      after: str | None = UNSET) -> Connection[Annotated[
                          "SegmentChange", strawberry.lazy("graph.live")]]:
        from graph.live import segment_changes

        return await segment_changes(info, self.stored.id, value(since), value(first, 50),
                                     value(after))

    @strawberry.field(description="Where this segment's changes are POSTed.")
    async def webhooks(self, info: Info) -> list[Annotated["Webhook", strawberry.lazy(
            "graph.live")]]:
        from graph.live import segment_webhooks

        return await segment_webhooks(info, self.stored.id)

    @strawberry.field(description="The segments and campaigns that use this one.")
    async def dependents(self, info: Info) -> list[Dependent]:
        return [Dependent(kind=item.kind, id=strawberry.ID(item.id), name=item.name,
                          status=item.status)
                for item in await segment_bin.dependents(info.context.db, self.stored.id)]

    @strawberry.field(description="Every version, oldest first (the update log).")
    async def history(self, info: Info) -> list[SegmentVersion]:
        return [_version(version) for version in
                await segment_history(info.context.db, self.stored.id)]

    @strawberry.field(description="The newest computations first (the analytics).")
    async def runs(self, info: Info, limit: int | None = 50) -> list[SegmentRun]:
        limit = value(limit, 50)
        if not 1 <= limit <= 200:
            raise PublicError(f"limit must be from 1 to 200, not {limit}")
        return [SegmentRun(at=run.at, count=run.count, duration_ms=run.duration_ms,
                           purpose=run.purpose, actor=run.actor, version=run.version,
                           now=run.now)
                for run in await list_runs(info.context.db, self.stored.id, limit=limit)]

    @strawberry.field(description="The size over time, oldest first.",
                      extensions=[ExpectedErrors()])
    async def sizes(self, info: Info, since: dt.datetime | None = UNSET,
                    limit: int | None = 1000) -> list[SegmentSize]:
        sizes = await segment_sizes(info.context.db, self.stored.id, since=value(since),
                                    limit=value(limit, 1000))
        return [SegmentSize(at=at, count=count) for at, count in sizes]

    @strawberry.field(description="The campaigns targeting this segment.")
    async def campaigns(self, info: Info) -> list[Annotated[Campaign, strawberry.lazy(
            "graph.campaigns")]]:
        from graph.campaigns import campaign_from_store

        return [campaign_from_store(item) for item in await list_campaigns(
            info.context.db, self.stored.database, segment_id=self.stored.id)]

    @strawberry.field(description="The current members, a page at a time (not logged).",
                      extensions=[ExpectedErrors()])
    async def members(self, info: Info, now: dt.datetime | None = UNSET,
                      first: int | None = 50, after: str | None = UNSET) -> ContactConnection:
        stored = self.stored
        return await search(info, stored.database, None, stored.json,
                            value(now, info.context.now),
                            stored.range_from, stored.range_to, stored.maximum,
                            value(first, 50), value(after))


def segment_from_store(segment: StoredSegment) -> Segment:
    return Segment(id=strawberry.ID(segment.id), name=segment.name,
                   description=segment.description, tags=list(segment.tags),
                   database=segment.database, expression=segment.expression, json=segment.json,
                   range_from=segment.range_from, range_to=segment.range_to,
                   maximum=segment.maximum, version=segment.version, in_bin=segment.in_bin,
                   access_groups=list(segment.access_groups), created_at=segment.created_at,
                   created_by=segment.created_by, updated_at=segment.updated_at,
                   updated_by=segment.updated_by, last_count=segment.last_count,
                   last_count_at=segment.last_count_at, stored=segment)


def _version(version) -> SegmentVersion:
    definition = version.definition
    return SegmentVersion(version=version.version, at=version.at, by=version.by,
                          changed=[to_camel_case(name) for name in version.changed],
                          note=version.note,
                          name=definition.name, description=definition.description,
                          tags=list(definition.tags),
                          access_groups=list(definition.access_groups),
                          expression=definition.expression, json=definition.json,
                          range_from=definition.range_from, range_to=definition.range_to,
                          maximum=definition.maximum)


SegmentConnection = Connection[Segment]


@strawberry.type
class Preview:
    count: int = 0
    contacts: list[Contact] = strawberry.field(default_factory=list,
                                               description=f"The first {PREVIEW_SIZE} members "
                                                           "in the maximum's order.")
    errors: list[SegmentError] = strawberry.field(default_factory=list)
    expression: str | None = strawberry.field(default=None,
                                              description="The canonical text previewed.")
    now: dt.datetime | None = strawberry.field(default=None,
                                               description="The evaluation time used.")


@strawberry.input
class PreviewInput:
    database: str | None = DEFAULT_DATABASE
    expression: str | None = UNSET
    json: JSON | None = UNSET
    range_from: float | None = 0
    range_to: float | None = 100
    maximum: int | None = UNSET
    now: dt.datetime | None = UNSET


@strawberry.type
class ParseResult:
    canonical: str | None = None
    json: JSON | None = None
    pipeline: JSON | None = strawberry.field(default=None,
                                             description="The MongoDB aggregation pipeline over "
                                                         "contacts (MongoDB extended JSON).")
    errors: list[SegmentError] = strawberry.field(default_factory=list)


@strawberry.type
class SegmentResult:
    segment: Segment | None = None
    errors: list[SegmentError] = strawberry.field(default_factory=list)


@strawberry.input(description="A segment's definition. On create, `name` and the expression "
                              "(text or JSON form) are needed and `database` defaults to main; "
                              "on update, only the fields given change (`maximum: null` "
                              "removes the maximum).")
class SegmentInput:
    database: str | None = UNSET
    name: str | None = UNSET
    description: str | None = UNSET
    tags: list[str] | None = UNSET
    expression: str | None = UNSET
    json: JSON | None = UNSET
    range_from: float | None = UNSET
    range_to: float | None = UNSET
    maximum: int | None = UNSET
    access_groups: list[str] | None = UNSET


@strawberry.type(description="What an action on a segment's members did.")
class MembersActionResult:
    members: int = strawberry.field(default=0, description="The segment's members at the time.")
    changed: int = strawberry.field(default=0,
                                    description="Contacts written (added, copied, updated).")
    rejected: list[RowError] = strawberry.field(default_factory=list)
    errors: list[SegmentError] = strawberry.field(default_factory=list)


# --- helpers -------------------------------------------------------------------------------------

async def visible_segment(info: Info, segment_id: str) -> StoredSegment | None:
    """The segment, when its database is open to the key (else None, as if there were none)."""
    segment = await info.context.loaders.segments.load(str(segment_id))
    if segment is None or not info.context.access.can_see(segment.database):
        return None
    return segment


async def existing_segment(info: Info, segment_id: str) -> StoredSegment:
    """The segment, when its database is open to the key; else NotFoundError (the field's
    `Requires` has checked the key's role)."""
    segment = await visible_segment(info, segment_id)
    if segment is None:
        raise NotFoundError(f"no segment with id {segment_id}")
    return segment


def _given(value: Any) -> bool:
    return value is not UNSET


def _settings(input: SegmentInput) -> dict:
    """The attributes an input gives (for update_segment: UNSET stays UNSET)."""
    values = {"name": input.name, "description": input.description, "tags": input.tags,
              "access_groups": input.access_groups, "expression": input.expression,
              "json": input.json, "range_from": input.range_from, "range_to": input.range_to,
              "maximum": input.maximum, "database": input.database}
    return {key: value for key, value in values.items() if _given(value)}


def _extended_json(pipeline: list[dict]) -> Any:
    import orjson

    return orjson.loads(json_util.dumps(pipeline, json_options=json_util.RELAXED_JSON_OPTIONS))


def _segment_result(segment: StoredSegment) -> SegmentResult:
    return SegmentResult(segment=segment_from_store(segment))


async def evaluate_input(info: Info, input: PreviewInput, evaluate):
    """`evaluate` (store/preview.py preview_segment, store/estimate.py estimate_segment) on
    the input's expression, range and maximum at its `now` (default: the request's), in
    one of the gate's slots (graph/limits.py)."""
    return await info.context.heavy(evaluate(
        info.context.db, input_database({"input": input}), expression=value(input.expression),
        json=value(input.json), range_from=value(input.range_from, 0),
        range_to=value(input.range_to, 100), maximum=value(input.maximum),
        now=value(input.now, info.context.now)))


def _created_in(arguments: dict) -> str:
    """The database createSegment saves into (left out, null or empty: main)."""
    return value(arguments["input"].database) or DEFAULT_DATABASE


# --- queries -------------------------------------------------------------------------------------

@strawberry.type
class SegmentQueries:
    @strawberry.field(description="Count and sample what an expression selects, without saving.",
                      extensions=[Requires(database=input_database), ExpectedErrors()])
    async def preview_segment(self, info: Info, input: PreviewInput) -> Preview:
        preview = await evaluate_input(info, input, preview_segment)
        database = input_database({"input": input})
        return Preview(count=preview.count,
                       contacts=[contact_from_document(contact, database)
                                 for contact in preview.contacts],
                       expression=preview.expression, now=preview.now)

    @strawberry.field(description="Parse and check an expression: canonical text, JSON form, "
                                  "pipeline, or the errors with line and column.",
                      extensions=[ExpectedErrors()])
    async def parse_segment(self, info: Info, expression: str,
                            database: str | None = DEFAULT_DATABASE,
                            now: dt.datetime | None = UNSET) -> ParseResult:
        database, now = value(database, DEFAULT_DATABASE), value(now, info.context.now)
        expr, source = await parse_off_loop(expression, None)
        canonical, form = await run_language(size_of(expr), canonical_form, expr)
        try:  # the text parses without a database: its canonical forms come with these errors
            info.context.access.require_database(database)
            prepared = await query.prepare(info.context.db, database, parsed=expr,
                                           source=source, now=now)
            pipeline = await query.plan(prepared, semi_join=False)
        except (*EXPECTED, PyMongoError) as failure:
            return ParseResult(canonical=canonical, json=form, errors=to_errors(failure))
        return ParseResult(canonical=canonical, json=form, pipeline=_extended_json(pipeline))

    @strawberry.field(description="A segment by id (live or in the bin).")
    async def segment(self, info: Info, id: strawberry.ID) -> Segment | None:
        segment = await visible_segment(info, id)
        return segment_from_store(segment) if segment else None

    @strawberry.field(description="Segments by name; `search` keeps names containing it, `tag` "
                                  "those with the tag; `inBin: null` lists both.")
    async def segments(self, info: Info, database: str | None = DEFAULT_DATABASE,
                       search: str | None = UNSET, tag: str | None = UNSET,
                       in_bin: bool | None = False, first: int | None = 50,
                       after: str | None = UNSET) -> SegmentConnection:
        database, search, tag = value(database, DEFAULT_DATABASE), value(search), value(tag)
        first, after = value(first, 50), value(after)
        if in_bin is UNSET:
            in_bin = False
        if not info.context.access.can_see(database):
            return empty()
        page = await read_page(list_segments(info.context.db, database, search=search, tag=tag,
                                             in_bin=in_bin, first=first, after=after))
        return connection(page, segment_from_store, after)


# --- mutations -----------------------------------------------------------------------------------

CHANGE_SEGMENTS = "change segments"


@strawberry.type
class SegmentMutations:
    @strawberry.mutation(description="Save a new segment (version 1).",
                         extensions=[Requires("editor", CHANGE_SEGMENTS, database=_created_in),
                                     ExpectedErrors()])
    async def create_segment(self, info: Info, input: SegmentInput) -> SegmentResult:
        settings = _settings(input)
        settings.pop("database", None)
        if settings.get("name") is None:
            raise Refused("a segment needs a name", code="INPUT")
        if settings.get("expression") is None and settings.get("json") is None:
            settings["expression"] = ""  # no conditions: every contact
        for key in ("range_from", "range_to", "tags", "access_groups"):
            if settings.get(key, 0) is None:
                settings.pop(key)
        return _segment_result(await create_segment(
            info.context.db, database=_created_in({"input": input}), actor=info.context.actor,
            **settings))

    @strawberry.mutation(description="Change the given attributes; a real change makes a new "
                                     "version. `expectedVersion` refuses the change when "
                                     "someone saved a newer version meanwhile.",
                         extensions=[Requires("editor", CHANGE_SEGMENTS), ExpectedErrors()])
    async def update_segment(self, info: Info, id: strawberry.ID, input: SegmentInput,
                             note: str | None = UNSET,
                             expected_version: int | None = UNSET) -> SegmentResult:
        segment = await existing_segment(info, id)
        settings = _settings(input)
        for key in ("name", "range_from", "range_to"):
            if key in settings and settings[key] is None:
                raise Refused(f"{key} cannot be null", code="INPUT")
        if settings.get("tags", ()) is None:
            settings["tags"] = []
        if settings.get("access_groups", ()) is None:
            settings["access_groups"] = []
        if "expression" in settings and "json" in settings:
            if settings["json"] is None:
                settings.pop("json")
            elif settings["expression"] is None:
                settings.pop("expression")
        if settings.get("database") is None:
            settings.pop("database", None)
        return _segment_result(await update_segment(
            info.context.db, segment.id, actor=info.context.actor, note=value(note),
            expected_version=value(expected_version), **settings))

    @strawberry.mutation(description="A new segment with another's definition, under a new name.",
                         extensions=[Requires("editor", CHANGE_SEGMENTS), ExpectedErrors()])
    async def clone_segment(self, info: Info, id: strawberry.ID, name: str) -> SegmentResult:
        segment = await existing_segment(info, id)
        return _segment_result(await clone_segment(info.context.db, segment.id, name,
                                                   actor=info.context.actor))

    @strawberry.mutation(description="Move a segment to the bin; refused while segments or "
                                     "campaigns use it (they are listed in the error).",
                         extensions=[Requires("editor", CHANGE_SEGMENTS), ExpectedErrors()])
    async def delete_segment(self, info: Info, id: strawberry.ID) -> SegmentResult:
        segment = await existing_segment(info, id)
        return _segment_result(await segment_bin.delete_segment(info.context.db, segment.id,
                                                                actor=info.context.actor))

    @strawberry.mutation(description="Bring a segment back from the bin.",
                         extensions=[Requires("editor", CHANGE_SEGMENTS), ExpectedErrors()])
    async def restore_segment(self, info: Info, id: strawberry.ID) -> SegmentResult:
        segment = await existing_segment(info, id)
        return _segment_result(await segment_bin.restore_segment(info.context.db, segment.id,
                                                                 actor=info.context.actor))

    @strawberry.mutation(description="Remove a segment in the bin for good, with its history.",
                         extensions=[Requires("editor", CHANGE_SEGMENTS), ExpectedErrors()])
    async def purge_segment(self, info: Info, id: strawberry.ID) -> MutationResult:
        segment = await existing_segment(info, id)
        await segment_bin.purge_segment(info.context.db, segment.id, actor=info.context.actor)
        return MutationResult(ok=True)

    @strawberry.mutation(description="Make an old version's definition current (a new version).",
                         extensions=[Requires("editor", CHANGE_SEGMENTS), ExpectedErrors()])
    async def restore_segment_version(self, info: Info, id: strawberry.ID,
                                      version: int) -> SegmentResult:
        segment = await existing_segment(info, id)
        return _segment_result(await restore_version(info.context.db, segment.id, version,
                                                     actor=info.context.actor))

    @strawberry.mutation(description="Add the segment's current members to a static list "
                                     "(created if missing).",
                         extensions=[Requires("editor", "change lists"), ExpectedErrors()])
    async def copy_segment_to_list(self, info: Info, id: strawberry.ID, list: str,
                                   now: dt.datetime | None = UNSET) -> MembersActionResult:
        segment = await existing_segment(info, id)
        return _action_result(await info.context.heavy(copy_to_list(
            info.context.db, segment.id, list, now=value(now, info.context.now),
            actor=info.context.actor)))

    @strawberry.mutation(description="Copy the segment's current members (fields and lists) "
                                     "into another profile database (admin).",
                         extensions=[Requires("admin", "copy contacts between databases",
                                              database="database"), ExpectedErrors()])
    async def copy_segment_to_database(self, info: Info, id: strawberry.ID, database: str,
                                       now: dt.datetime | None = UNSET) -> MembersActionResult:
        segment = await existing_segment(info, id)
        return _action_result(await info.context.heavy(copy_to_database(
            info.context.db, segment.id, database, now=value(now, info.context.now),
            actor=info.context.actor)))

    @strawberry.mutation(description="Set one field of every current member (admin); "
                                     "`value: null` removes it.",
                         extensions=[Requires("admin", "change contacts' fields"),
                                     ExpectedErrors()])
    async def update_segment_members_field(self, info: Info, id: strawberry.ID, field: str,
                                           value: JSON | None = UNSET,
                                           now: dt.datetime | None = UNSET) -> MembersActionResult:
        new_value = None if value is UNSET else value
        now = info.context.now if now is UNSET or now is None else now
        segment = await existing_segment(info, id)
        return _action_result(await info.context.heavy(bulk_update_field(
            info.context.db, segment.id, field, new_value, now=now, actor=info.context.actor)))


def _action_result(report) -> MembersActionResult:
    return MembersActionResult(members=report.members, changed=report.changed,
                               rejected=[RowError(index=row.index, id=row.id,
                                                  message=row.message)
                                         for row in report.rejected])
