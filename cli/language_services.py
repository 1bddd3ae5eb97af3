"""`segmentql explain`, `complete`, `diagnose` and `segments diff`: the language services
(docs/language-services.md) on the command line, registered on the app of cli/app.py."""

# Annotations stay objects (no `from __future__ import annotations`): typer reads every
# command's signature at each start, and would compile and evaluate string ones.

import asyncio
import dataclasses
import datetime as dt
import enum
from pathlib import Path
from typing import Annotated, Optional

import orjson
import typer

from cli.app import app, segments_app
from cli.options import (Database, DataDir, Expression, InputError, MongoUri, Now,
                         evaluation_time, guarded, open_cli_store, parse_now, read_text,
                         show_time)
from dsl.errors import SegmentError

Fields = Annotated[Optional[Path], typer.Option(
    "--fields", help='A JSON schema file {"City": "text", ...} instead of the store.')]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

_COMPOUND_WIDTH = 80  # and / or / not lines show their text up to this width


def _plain(value):
    """Dataclasses, enums and times as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return show_time(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def _echo_json(value) -> None:
    typer.echo(orjson.dumps(_plain(value), option=orjson.OPT_INDENT_2).decode())


def _schema_file(path: Path):
    from dsl.schema import FieldSchema

    try:
        return FieldSchema.from_json(orjson.loads(path.read_bytes()))
    except (OSError, orjson.JSONDecodeError) as error:
        raise InputError(f"cannot read --fields {path}: {error}") from None


# --- complete ---------------------------------------------------------------------------------

@app.command("complete")
def complete_command(
    expression: Expression,
    offset: Annotated[int, typer.Argument(help="The cursor: a character offset into EXPR.")],
    fields: Fields = None, as_json: AsJson = False,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Print what can be typed at OFFSET: one suggestion a line (label, kind, detail)."""
    def work():
        from dsl.completion import CompletionContext, complete

        text = read_text(expression)
        if not 0 <= offset <= len(text):
            raise InputError(f"the offset must be from 0 to {len(text)} (the text's length), "
                             f"not {offset}")
        if fields is not None:
            context = CompletionContext(schema=_schema_file(fields))
        else:
            context = asyncio.run(_completion_context(text, offset, database, data_dir,
                                                      mongo_uri))
        suggestions = complete(text, offset, context)
        if as_json:
            _echo_json(suggestions)
            return
        for suggestion in suggestions:
            typer.echo(f"{suggestion.label}\t{suggestion.kind.value}\t{suggestion.detail}")
    guarded(work)


async def _completion_context(text, offset, database, data_dir, mongo_uri):
    from store.completion import completion_context

    async with open_cli_store(data_dir, mongo_uri) as store:
        return await completion_context(store.db, database, text, offset)


# --- diagnose ---------------------------------------------------------------------------------

@app.command("diagnose")
def diagnose_command(
    expression: Expression, fields: Fields = None, as_json: AsJson = False,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Print every error and warning of an expression (exit status 2 if any is an error)."""
    def work():
        from dsl.diagnostics import Severity, diagnose

        text = read_text(expression)
        if fields is not None:
            schema, event_types, lists = _schema_file(fields), None, None
        else:
            schema, event_types, lists = asyncio.run(_known(database, data_dir, mongo_uri))
        found = diagnose(text, schema, event_types=event_types, lists=lists)
        if as_json:
            _echo_json(found)
        else:
            for diagnostic in found:
                typer.echo(str(diagnostic))
                snippet = SegmentError(  # the line with carets under the range
                    diagnostic.message, line=diagnostic.line, column=diagnostic.column,
                    end_line=diagnostic.end_line, end_column=diagnostic.end_column,
                    source=text).snippet
                if snippet:
                    typer.echo(snippet)
            if not found:
                typer.echo("ok")
        errors = sum(d.severity is Severity.ERROR for d in found)
        if errors:
            warnings = len(found) - errors
            typer.echo(f"error: {errors} error{'s' * (errors != 1)}, {warnings} "
                       f"warning{'s' * (warnings != 1)}", err=True)
            raise typer.Exit(2)
    guarded(work)


async def _known(database, data_dir, mongo_uri):
    from store.catalog import read_catalog

    async with open_cli_store(data_dir, mongo_uri) as store:
        catalog = await read_catalog(store.db, database)
        return catalog.schema, catalog.event_types, catalog.lists


# --- explain ----------------------------------------------------------------------------------

@app.command("explain")
def explain_command(
    segment: Annotated[str, typer.Argument(
        metavar="SEGMENT", help="A saved segment's name or id (an expression with --expression).")],
    contact: Annotated[str, typer.Argument(metavar="CONTACT", help="The contact id.")],
    now: Now = None,
    is_expression: Annotated[bool, typer.Option(
        "--expression", help="SEGMENT is an expression, not a saved segment.")] = False,
    as_json: AsJson = False,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Show why a contact is or is not in a segment: every condition with ✓ or ✗ and the
    values it saw."""
    async def work(moment, text):
        from store import query
        from store.explain import explain_contact, explain_saved

        async with open_cli_store(data_dir, mongo_uri) as store:
            if text is None:
                return await explain_saved(store.db, database, segment, contact, now=moment)
            prepared = await query.prepare(store.db, database, expression=text, now=moment)
            return await explain_contact(prepared, contact)

    def run():
        moment = evaluation_time(now)
        explanation = asyncio.run(work(moment, read_text(segment) if is_expression else None))
        if not explanation.found:
            raise InputError(f"no contact {contact} in profile database {database}")
        if as_json:
            _echo_json(explanation)
            return
        for line in explanation_lines(explanation):
            typer.echo(line)
    guarded(run)


def _mark(held: bool) -> str:
    return "✓" if held else "✗"


def explanation_lines(explanation) -> list[str]:
    """The explanation as text: a head line, the tree, then range and maximum."""
    what = (f"segment {explanation.segment_name} (version {explanation.segment_version})"
            if explanation.segment_name else "the expression")
    verdict = "a member" if explanation.member else "not a member"
    lines = [f"contact {explanation.contact_id} at {show_time(explanation.now)}: {verdict} of {what}"]
    stack = [(explanation.tree, 0)]
    while stack:
        node, depth = stack.pop()
        lines.append("  " * depth + f"{_mark(node.held)} {_node_text(node)}")
        stack.extend((child, depth + 1) for child in reversed(node.children))
    low, high = f"{explanation.range_from:g}", f"{explanation.range_to:g}"
    if (explanation.range_from, explanation.range_to) != (0, 100):
        lines.append(f"{_mark(explanation.in_range)} range {low}:{high} %: the contact's "
                     f"bucket {explanation.bucket} is {'' if explanation.in_range else 'not '}"
                     f"in [{explanation.range_from * 100:g}, {explanation.range_to * 100:g})")
    if explanation.maximum is not None:
        if explanation.within_maximum is None:
            lines.append(f"  maximum {explanation.maximum}: not reached (the conditions or the "
                         "range leave the contact out)")
        else:
            lines.append(f"{_mark(explanation.within_maximum)} maximum {explanation.maximum}: "
                         f"{'among' if explanation.within_maximum else 'not among'} the first "
                         f"{explanation.maximum} members (by bucket, then id)")
    return lines


def _node_text(node) -> str:
    from dsl.explain import ExplainKind

    text = node.text
    if node.kind in (ExplainKind.AND, ExplainKind.OR, ExplainKind.NOT) \
            and len(text) > _COMPOUND_WIDTH:
        text = text[:_COMPOUND_WIDTH - 1] + "…"
    if node.kind is ExplainKind.FIELD:
        detail = f"{node.field} is {node.value_text}" if node.value is not None \
            else f"{node.field} has no value"
        if node.value == "":
            detail = f'{node.field} is "" (empty: no value)'
        if node.window_start is not None or node.window_end is not None:
            detail += f"; compared with {_window(node)}"
        return f"{text}    [{detail}]"
    if node.kind is ExplainKind.EVENT:
        plural = "" if node.events == 1 else "s"
        detail = (f"{node.events} {node.event_type} event{plural}, {node.in_window} in "
                  f"{_window(node)}, {node.matching} counted")
        return f"{text}    [{detail}]"
    if node.kind is ExplainKind.LIST:
        return f"{text}    [{'in' if node.held else 'not in'} the list]"
    if node.kind is ExplainKind.TOTAL:
        return (f"{text}    [{node.matching} {node.event_type} events counted in "
                f"{_window(node)}; the total is {node.value_text}]")
    if node.kind is ExplainKind.EVENT_TIME:
        return f"{text}    [{node.events} {node.event_type} events; the time is {node.value_text}]"
    if node.kind is ExplainKind.CONSENT:
        return f"{text}    [{node.value or 'can receive'}]"
    return text


def _window(node) -> str:
    start, end = node.window_start, node.window_end
    if start is None and end is None:
        return "all time"
    if start is None:
        return f"before {show_time(end)}" + ("" if not node.window_end_inclusive else " (included)")
    if end is None:
        return f"from {show_time(start)}" + ("" if node.window_start_inclusive else " (excluded)")
    left = "[" if node.window_start_inclusive else "("
    right = "]" if node.window_end_inclusive else ")"
    return f"{left}{show_time(start)}, {show_time(end)}{right}"


# --- segments diff ----------------------------------------------------------------------------

@segments_app.command("diff")
def segments_diff(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Segment name or id.")],
    from_version: Annotated[Optional[int], typer.Option(
        "--from-version", help="Compare this version ...")] = None,
    to_version: Annotated[Optional[int], typer.Option(
        "--to-version", help="... with this one (default: the current version).")] = None,
    now: Annotated[Optional[str], typer.Option(
        "--now", help="Evaluation time (with --to-now: the first of the two times).")] = None,
    to_now: Annotated[Optional[str], typer.Option(
        "--to-now", help="Compare the current definition at --now with it at this time.")] = None,
    as_json: AsJson = False,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Who enters, leaves and stays: between two versions of a segment, or between two
    evaluation times of its current definition (with a sample of ids of each)."""
    async def work(first, second):
        from store.segment_diff import diff_segment_times, diff_segment_versions
        from store.segments import find_segment

        async with open_cli_store(data_dir, mongo_uri) as store:
            segment = await find_segment(store.db, database, name)
            if to_now is not None:
                diff = await diff_segment_times(store.db, segment.id, first, second)
            else:
                diff = await diff_segment_versions(
                    store.db, segment.id, from_version,
                    to_version if to_version is not None else segment.version, now=first)
            return segment, diff

    def run():
        if to_now is not None:
            if from_version is not None or to_version is not None:
                raise InputError("compare either versions (--from-version, --to-version) or "
                                 "times (--now, --to-now), not both")
            if now is None:
                raise InputError("--to-now needs --now, the time to compare it with")
            first, second = parse_now(now), parse_now(to_now)
        else:
            if from_version is None:
                raise InputError("give --from-version (and --to-version), or --now and --to-now")
            first, second = evaluation_time(now), None
        segment, diff = asyncio.run(work(first, second))
        if as_json:
            _echo_json(diff)
            return
        if to_now is not None:
            head = f"{show_time(diff.from_now)} → {show_time(diff.to_now)} (version {diff.to_version})"
        else:
            head = (f"version {diff.from_version} → version {diff.to_version} at "
                    f"{show_time(diff.from_now)}")
        typer.echo(f"segment {segment.name}: {head}")
        for label, count, sample in (("entered", diff.entered, diff.entered_sample),
                                     ("left", diff.left, diff.left_sample),
                                     ("stayed", diff.stayed, diff.stayed_sample)):
            more = ", ..." if count > len(sample) else ""
            shown = f"  {', '.join(sample)}{more}" if sample else ""
            typer.echo(f"{label + ':':<9}{count}{shown}")
        typer.echo(f"members: {diff.before} → {diff.after}")
    guarded(run)
