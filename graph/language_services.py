"""The language services over GraphQL (docs/language-services.md): completion, diagnostics,
explain, and segment diff. Every resolver gathers what the store knows, then calls the same
functions the command line uses; expected failures come back in `errors`."""

from __future__ import annotations

import asyncio
import datetime as dt

import strawberry
from strawberry import UNSET

from dsl import completion, diagnostics
from dsl.explain import ExplainKind as StoredExplainKind
from dsl.explain import ExplainNode as StoredExplainNode
from graph.context import Info, value
from graph.errors import ExpectedErrors, Refused, SegmentError
from graph.permissions import Requires
from graph.scalars import JSON, to_json_value
from graph.segments import Segment, segment_from_store, visible_segment
from store import query
from store.completion import completion_context, load_catalog
from store.errors import NotFoundError
from store.explain import ContactExplanation as StoredExplanation
from store.explain import explain_contact
from store.fields import DEFAULT_DATABASE
from store.offload import run_language
from store.segment_diff import (SAMPLE_SIZE, MembershipDiff, diff_segment_times,
                                diff_segment_versions)

MAX_SAMPLE = 100

SuggestionKind = strawberry.enum(completion.SuggestionKind, description=(
    "What a suggestion inserts: a field, an operator, a keyword, an event type, a list or "
    "segment name, a frequent value of a text field, a unit of time."))
Severity = strawberry.enum(diagnostics.Severity)
ExplainKind = strawberry.enum(StoredExplainKind, description=(
    "and, or, not; a field, event, list or segment condition; everyone (the empty "
    "expression)."))


@strawberry.type(description="One thing to insert at the cursor: `insertText` replaces the "
                             "expression's characters from `start` to `end` (0-based, end "
                             "excluded).")
class Suggestion:
    label: str = strawberry.field(description="What to show: equals, City, \"VIP\", days ago.")
    kind: SuggestionKind
    detail: str = strawberry.field(description="The field's type, \"text operator\", "
                                               "\"system event\", ...")
    insert_text: str
    start: int
    end: int


@strawberry.type
class CompletionResult:
    suggestions: list[Suggestion] = strawberry.field(default_factory=list)
    errors: list[SegmentError] = strawberry.field(default_factory=list,
                                                  description="Only about the request (an "
                                                              "unknown database); a broken "
                                                              "expression still completes.")


@strawberry.type(description="An error or warning about a range of the expression: 1-based "
                             "line and column (end just after), and the same range as 0-based "
                             "offsets.")
class Diagnostic:
    severity: Severity
    message: str
    suggestion: str | None
    code: str = strawberry.field(description="syntax, limit, type, never, always or duplicate.")
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int


@strawberry.type
class DiagnosticsResult:
    diagnostics: list[Diagnostic] = strawberry.field(default_factory=list,
                                                     description="In source order; empty when "
                                                                 "the expression is fine.")
    errors: list[SegmentError] = strawberry.field(default_factory=list,
                                                  description="Only about the request (an "
                                                              "unknown database).")


@strawberry.type(description="One condition of the expression, evaluated for the contact. The "
                             "tree is given flat, parents before children: `parent` is the "
                             "index of the parent node in `nodes` (null for the root).")
class ExplainNode:
    index: int
    parent: int | None
    depth: int
    kind: ExplainKind
    text: str = strawberry.field(description="The condition's canonical text.")
    held: bool
    field: str | None
    value: JSON | None = strawberry.field(description="A field condition: the contact's value "
                                                      "(null: none).")
    value_text: str | None = strawberry.field(description="That value as SegmentQL writes it.")
    event_type: str | None
    events: int | None = strawberry.field(description="The contact's events of the type.")
    in_window: int | None = strawberry.field(description="Of those, in the window.")
    matching: int | None = strawberry.field(description="Of those, satisfying `where`: the "
                                                        "number the condition counts.")
    window_start: dt.datetime | None = strawberry.field(description="The window, or the "
                                                                    "instants a date is "
                                                                    "compared with (null: "
                                                                    "open).")
    window_start_inclusive: bool
    window_end: dt.datetime | None
    window_end_inclusive: bool
    name: str | None = strawberry.field(description="A list's or segment's name.")
    line: int | None = strawberry.field(description="Where the condition stands in the "
                                                    "expression's text (null inside a "
                                                    "referenced segment or a JSON form).")
    column: int | None
    end_line: int | None
    end_column: int | None


@strawberry.type(description="Why a contact is or is not a member: the conditions, then the "
                             "range and the maximum.")
class ContactExplanation:
    database: str
    contact_id: strawberry.ID
    now: dt.datetime = strawberry.field(description="The evaluation time used.")
    member: bool = strawberry.field(description="The conditions hold, the contact is in the "
                                                "range and within the maximum.")
    held: bool = strawberry.field(description="The conditions hold.")
    nodes: list[ExplainNode]
    bucket: int = strawberry.field(description="The contact's fixed bucket, 0 to 9999.")
    range_from: float
    range_to: float
    in_range: bool
    maximum: int | None
    within_maximum: bool | None = strawberry.field(description="Null without a maximum, or "
                                                               "when the conditions or the "
                                                               "range already leave the "
                                                               "contact out.")
    segment_version: int | None = strawberry.field(description="The version explained.")
    segment: Segment | None


@strawberry.type
class ExplainResult:
    explanation: ContactExplanation | None = None
    errors: list[SegmentError] = strawberry.field(default_factory=list)


@strawberry.type(description="How a segment's membership changes: contacts that enter, leave "
                             "and stay, with a sample of ids of each (the first in the "
                             "maximum's order, bucket then id).")
class SegmentDiff:
    from_version: int | None
    to_version: int | None
    from_now: dt.datetime | None
    to_now: dt.datetime | None
    entered: int
    left: int
    stayed: int
    before: int = strawberry.field(description="Members on the `from` side.")
    after: int = strawberry.field(description="Members on the `to` side.")
    entered_sample: list[strawberry.ID]
    left_sample: list[strawberry.ID]
    stayed_sample: list[strawberry.ID]


@strawberry.type
class SegmentDiffResult:
    diff: SegmentDiff | None = None
    errors: list[SegmentError] = strawberry.field(default_factory=list)


# --- conversions ---------------------------------------------------------------------------------

def _suggestion(item: completion.Suggestion) -> Suggestion:
    return Suggestion(label=item.label, kind=item.kind, detail=item.detail,
                      insert_text=item.insert_text, start=item.start, end=item.end)


def _diagnostic(item: diagnostics.Diagnostic) -> Diagnostic:
    return Diagnostic(severity=item.severity, message=item.message, suggestion=item.suggestion,
                      code=item.code, line=item.line, column=item.column,
                      end_line=item.end_line, end_column=item.end_column, start=item.start,
                      end=item.end)


def flatten(tree: StoredExplainNode) -> list[ExplainNode]:
    """The tree in preorder (parents first), with the positions in the text the client sent
    (an expression from a JSON form or a saved segment has none)."""
    nodes: list[ExplainNode] = []
    stack: list[tuple[StoredExplainNode, int | None, int, bool]] = [(tree, None, 0, True)]
    while stack:
        node, parent, depth, own_text = stack.pop()
        span = node.span if own_text else None
        index = len(nodes)
        nodes.append(ExplainNode(
            index=index, parent=parent, depth=depth, kind=node.kind, text=node.text,
            held=node.held, field=node.field, value=to_json_value(node.value),
            value_text=node.value_text, event_type=node.event_type, events=node.events,
            in_window=node.in_window, matching=node.matching, window_start=node.window_start,
            window_start_inclusive=node.window_start_inclusive, window_end=node.window_end,
            window_end_inclusive=node.window_end_inclusive, name=node.name,
            line=span.line if span else None, column=span.column if span else None,
            end_line=span.end_line if span else None,
            end_column=span.end_column if span else None))
        # a referenced segment's definition is another text: its spans are not the client's
        inner = own_text and node.kind is not StoredExplainKind.SEGMENT
        stack.extend((child, index, depth + 1, inner) for child in reversed(node.children))
    return nodes


def _explanation(explained: StoredExplanation, segment: Segment | None) -> ContactExplanation:
    return ContactExplanation(
        database=explained.database, contact_id=strawberry.ID(explained.contact_id),
        now=explained.now, member=explained.member, held=explained.tree.held,
        nodes=flatten(explained.tree), bucket=explained.bucket,
        range_from=explained.range_from, range_to=explained.range_to,
        in_range=explained.in_range, maximum=explained.maximum,
        within_maximum=explained.within_maximum, segment_version=explained.segment_version,
        segment=segment)


def _diff(diff: MembershipDiff) -> SegmentDiff:
    return SegmentDiff(
        from_version=diff.from_version, to_version=diff.to_version, from_now=diff.from_now,
        to_now=diff.to_now, entered=diff.entered, left=diff.left, stayed=diff.stayed,
        before=diff.before, after=diff.after,
        entered_sample=[strawberry.ID(item) for item in diff.entered_sample],
        left_sample=[strawberry.ID(item) for item in diff.left_sample],
        stayed_sample=[strawberry.ID(item) for item in diff.stayed_sample])


# --- queries -------------------------------------------------------------------------------------

async def _explain(preparing, contact_id: str, *,
                   segment=None) -> StoredExplanation:
    """Prepare, then explain: both in the same gate slot."""
    return await explain_contact(await preparing, contact_id, segment=segment)


def _explained_database(arguments: dict) -> str | None:
    """explainContact's database: an expression's (default main); none for a saved segment
    (whose database the key must see, or it is not found)."""
    if value(arguments.get("segment")) is not None:
        return None
    return value(arguments.get("database")) or DEFAULT_DATABASE


@strawberry.type
class LanguageQueries:
    @strawberry.field(description="What can be typed at the cursor (`offset`: a 0-based "
                                  "character index into `expression`): fields with their "
                                  "types, the operators of the field's type, event types, "
                                  "list and segment names, keywords, units, and a text "
                                  "field's most frequent values. Works on broken text.",
                      extensions=[Requires(database="database"), ExpectedErrors()])
    async def complete_expression(self, info: Info, expression: str, offset: int,
                                  database: str | None = DEFAULT_DATABASE,
                                  limit: int | None = 100) -> CompletionResult:
        database, limit = value(database, DEFAULT_DATABASE), value(limit, 100)
        if not 0 <= offset <= len(expression):
            raise Refused(f"offset must be from 0 to {len(expression)} (the expression's "
                          f"length), not {offset}", code="INPUT")
        if not 1 <= limit <= 500:
            raise Refused(f"limit must be from 1 to 500, not {limit}", code="INPUT")
        context = await completion_context(info.context.db, database, expression, offset,
                                           cache=info.context.store.catalogs)
        if callable(context.values):  # a function does not travel to a worker process
            suggestions = await asyncio.to_thread(completion.complete, expression, offset,
                                                  context, limit=limit)
        else:
            suggestions = await run_language(len(expression), completion.complete, expression,
                                             offset, context, limit=limit)
        return CompletionResult(suggestions=[_suggestion(item) for item in suggestions])

    @strawberry.field(description="Every syntax and type error of an expression, with ranges "
                                  "(not only the first), and warnings for conditions that can "
                                  "never match, always match, or repeat.",
                      extensions=[Requires(database="database"), ExpectedErrors()])
    async def diagnose_expression(self, info: Info, expression: str,
                                  database: str | None = DEFAULT_DATABASE) -> DiagnosticsResult:
        catalog = await load_catalog(info.context.db, value(database, DEFAULT_DATABASE),
                                     info.context.store.catalogs)
        found = await run_language(len(expression), diagnostics.diagnose, expression,
                                   catalog.schema, event_types=catalog.event_types,
                                   lists=catalog.lists)
        return DiagnosticsResult(diagnostics=[_diagnostic(item) for item in found])

    @strawberry.field(description="Why a contact is or is not in a saved segment (`segment`, "
                                  "its id) or in an expression (text or JSON form, with "
                                  "`database`): every condition with the value it saw and "
                                  "whether it held, then the range and the maximum. Uses the "
                                  "reference evaluator, which agrees with the compiled "
                                  "pipeline.",
                      extensions=[Requires(database=_explained_database), ExpectedErrors()])
    async def explain_contact(self, info: Info, contact_id: strawberry.ID,
                              segment: strawberry.ID | None = UNSET,
                              expression: str | None = UNSET, json: JSON | None = UNSET,
                              database: str | None = UNSET,
                              now: dt.datetime | None = UNSET) -> ExplainResult:
        segment_id, text, form = value(segment), value(expression), value(json)
        now = value(now, info.context.now)
        if segment_id is not None:
            if text is not None or form is not None or value(database) is not None:
                raise Refused("give a segment, or an expression with its database, not "
                              "both", code="INPUT")
            stored = await visible_segment(info, segment_id)
            if stored is None:
                raise NotFoundError(f"no segment with id {segment_id}")
            explained = await info.context.heavy(_explain(
                query.prepare_segment(info.context.db, stored, now=now),
                str(contact_id), segment=stored))
            target = segment_from_store(stored)
        else:
            explained = await info.context.heavy(_explain(
                query.prepare(info.context.db, _explained_database({"database": database}),
                              expression=text, json=form, now=now),
                str(contact_id)))
            target = None
        if not explained.found:
            raise NotFoundError(f"no contact {contact_id} in profile database "
                                f"{explained.database}")
        return ExplainResult(explanation=_explanation(explained, target))

    @strawberry.field(description="Who enters, leaves and stays in a segment: between two "
                                  "versions (`fromVersion`, `toVersion` default the current "
                                  "one) at `now`, or between two evaluation times (`fromNow`, "
                                  "`toNow`) of the current definition or of `version`.",
                      extensions=[ExpectedErrors()])
    async def segment_diff(self, info: Info, id: strawberry.ID,
                           from_version: int | None = UNSET, to_version: int | None = UNSET,
                           now: dt.datetime | None = UNSET, from_now: dt.datetime | None = UNSET,
                           to_now: dt.datetime | None = UNSET, version: int | None = UNSET,
                           sample: int | None = SAMPLE_SIZE) -> SegmentDiffResult:
        from_version, to_version, version = value(from_version), value(to_version), value(version)
        now, from_now, to_now = value(now), value(from_now), value(to_now)
        sample = value(sample, SAMPLE_SIZE)
        if not 0 <= sample <= MAX_SAMPLE:
            raise Refused(f"sample must be from 0 to {MAX_SAMPLE}, not {sample}", code="INPUT")
        in_time = from_now is not None or to_now is not None
        if in_time and (from_version is not None or to_version is not None or now is not None):
            raise Refused("compare either versions (fromVersion, toVersion, now) or times "
                          "(fromNow, toNow, version), not both", code="INPUT")
        if not in_time and version is not None:
            raise Refused("version goes with fromNow and toNow; to compare versions give "
                          "fromVersion and toVersion", code="INPUT")
        if in_time and (from_now is None or to_now is None):
            raise Refused("a diff in time needs both fromNow and toNow", code="INPUT")
        if not in_time and from_version is None:
            raise Refused("give fromVersion (and toVersion), or fromNow and toNow",
                          code="INPUT")
        stored = await visible_segment(info, id)
        if stored is None:
            raise NotFoundError(f"no segment with id {id}")
        if in_time:
            diff = await info.context.heavy(diff_segment_times(
                info.context.db, stored.id, from_now, to_now, version=version, sample=sample))
        else:
            diff = await info.context.heavy(diff_segment_versions(
                info.context.db, stored.id, from_version,
                to_version if to_version is not None else stored.version,
                now=now if now is not None else info.context.now,
                sample=sample))
        return SegmentDiffResult(diff=_diff(diff))
