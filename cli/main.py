"""`segmentql`: the command line for power users and operators (docs/interfaces.md).

Exit status: 0 success; 2 a syntax, type or input error (message on standard error, with
`line L, column C` where it applies); 1 anything else (cli/options.py runs every command
body). The apps are in cli/app.py; more commands in cli/language_services.py and
cli/segment_editing.py.
"""

# Annotations stay objects (no `from __future__ import annotations`): typer reads every
# command's signature at each start, and would compile and evaluate string ones.

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import orjson
import typer
from bson import json_util

from cli.app import (app, campaigns_app, databases_app, fields_app, import_app, lists_app,
                     segments_app, store_app)
from cli.options import (INPUT_ERROR, Database, DataDir, Expression, InputError, MongoUri, Now,
                         SegmentName)
# The commands below call the shared helpers by these short local names.
from cli.options import actor as _actor
from cli.options import guarded as _run
from cli.options import open_cli_store as _store
from cli.options import evaluation_time as _evaluation_time
from cli.options import parse_range as _parse_range
from cli.options import print_json as _print_json
from cli.options import read_text as _read
from cli.options import show_percent as _percent
from cli.options import show_time as _time
from dsl.formatter import format_expression
from dsl.json_codec import from_json, to_json
from dsl.parser import parse
from dsl.schema import FieldSchema, FieldType
from dsl.typecheck import require_valid


# --- the language: no store needed ----------------------------------------------------------

@app.command("format")
def format_command(
    expression: Annotated[Optional[str], typer.Argument(help="Expression text; - reads stdin.")] = None,
    from_json_text: Annotated[Optional[str], typer.Option(
        "--from-json", help="A JSON-form expression to print as text.")] = None,
) -> None:
    """Print the canonical form of an expression."""
    def work():
        if from_json_text is not None:
            expr = from_json(_read(from_json_text))
        elif expression is not None:
            expr = parse(_read(expression))
        else:
            raise InputError("give an expression, or --from-json JSON")
        typer.echo(format_expression(expr))
    _run(work)


@app.command("parse")
def parse_command(expression: Expression) -> None:
    """Print the JSON form of an expression."""
    _run(lambda: _print_json(to_json(parse(_read(expression)))))


@app.command("check")
def check_command(
    expression: Expression,
    fields: Annotated[Optional[Path], typer.Option(
        "--fields", help='A JSON schema file {"City": "text", ...} instead of the store.')] = None,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Type-check an expression against the database's field schema."""
    def work():
        text = _read(expression)
        expr = parse(text)
        if fields is not None:
            try:
                schema = FieldSchema.from_json(orjson.loads(fields.read_bytes()))
            except (OSError, orjson.JSONDecodeError) as error:
                raise InputError(f"cannot read --fields {fields}: {error}") from None
            require_valid(expr, schema, source=text)
        else:  # the same checks as every evaluation: fields, events, lists, segments
            asyncio.run(_prepare(database, data_dir, mongo_uri, expression=text))
        typer.echo("ok")
    _run(work)


async def _prepare(database, data_dir, mongo_uri, **settings) -> None:
    from store import query

    async with _store(data_dir, mongo_uri, read_only=True) as store:
        await query.prepare(store.db, database, now=_evaluation_time(None), **settings)


async def _load_schema(database, data_dir, mongo_uri) -> FieldSchema:
    from store.fields import load_schema

    async with _store(data_dir, mongo_uri, read_only=True) as store:
        return await load_schema(store.db, database)


# --- evaluation ------------------------------------------------------------------------------

def _query_settings(expression: str, now: str | None, range_text: str | None,
                    maximum: int | None) -> dict:
    """What `store.query.prepare` takes from the command line (the evaluation time: --now,
    or the current time read once)."""
    low, high = _parse_range(range_text) if range_text else (0.0, 100.0)
    if maximum is not None and maximum < 0:
        raise InputError("--maximum cannot be negative")
    return dict(expression=_read(expression), now=_evaluation_time(now),
                range_from=low, range_to=high, maximum=maximum)


@app.command("compile")
def compile_command(
    expression: Expression, now: Now = None,
    range_text: Annotated[Optional[str], typer.Option("--range", help="FROM:TO percent.")] = None,
    maximum: Annotated[Optional[int], typer.Option("--maximum")] = None,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Print the MongoDB aggregation pipeline (over the contacts collection) as JSON."""
    async def work(settings):
        from store import query

        async with _store(data_dir, mongo_uri, read_only=True) as store:
            prepared = await query.prepare(store.db, database, **settings)
            return await query.plan(prepared, semi_join=False)

    def run():
        pipeline = asyncio.run(work(_query_settings(expression, now, range_text, maximum)))
        typer.echo(json_util.dumps(pipeline, json_options=json_util.RELAXED_JSON_OPTIONS,
                                   indent=2))
    _run(run)


@app.command("eval")
def eval_command(
    expression: Expression, now: Now = None,
    range_text: Annotated[Optional[str], typer.Option("--range", help="FROM:TO percent.")] = None,
    maximum: Annotated[Optional[int], typer.Option("--maximum")] = None,
    ids: Annotated[bool, typer.Option("--ids", help="Also print the member ids.")] = False,
    estimate: Annotated[bool, typer.Option(
        "--estimate", help="Estimate the count from a bucket sample (fast at any size): the "
                           "estimate, then its 95 % interval and the sample size.")] = False,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Print the number of matching contacts; with --ids, then one id a line."""
    async def work(settings):
        from store import query

        async with _store(data_dir, mongo_uri, read_only=True) as store:
            prepared = await query.prepare(store.db, database, **settings)
            typer.echo(await query.count(prepared))  # one plan: the count, then the ids
            if ids:
                async for member in query.members(prepared):
                    typer.echo(member["id"])

    def run():
        settings = _query_settings(expression, now, range_text, maximum)
        if not estimate:
            asyncio.run(work(settings))
        elif ids:
            raise InputError("--estimate prints an estimated count only; leave out --ids")
        else:
            asyncio.run(_estimate(settings, database, data_dir, mongo_uri))
    _run(run)


async def _estimate(settings, database, data_dir, mongo_uri) -> None:
    from store import query
    from store.estimate import estimate

    async with _store(data_dir, mongo_uri, read_only=True) as store:
        found = await estimate(await query.prepare(store.db, database, **settings))
    typer.echo(found.count)
    if found.exact:
        typer.echo(f"exactly {found.count:,} members: all {found.sampled:,} contacts in the "
                   "range were evaluated")
    else:
        typer.echo(f"about {found.count:,} members, 95 % interval {found.low:,} to "
                   f"{found.high:,}, from a sample of {found.sampled:,} contacts")


# --- the embedded store's server ------------------------------------------------------------

def _data_dir(data_dir: Path | None) -> Path:
    from store.connection import StoreSettings

    return StoreSettings.from_env(data_dir=data_dir).data_dir


@store_app.command("stop")
def store_stop(data_dir: DataDir = None) -> None:
    """Stop the embedded store now (it otherwise stays up SEGMENTQL_STORE_IDLE_SECONDS,
    default 300, after its last command, so that the next one answers at once)."""
    def work():
        from store import embedded

        try:
            stopped = embedded.stop(_data_dir(data_dir))
        except embedded.EmbeddedServerError as error:
            raise InputError(str(error)) from None
        typer.echo(f"stopped the embedded store (pid {stopped.pid})" if stopped
                   else "the embedded store is not running")
    _run(work)


@store_app.command("status")
def store_status(data_dir: DataDir = None) -> None:
    """Whether the embedded store runs, on which port, and whether it is in use."""
    def work():
        from store import embedded

        found = embedded.status(_data_dir(data_dir))
        if found.server is None:
            typer.echo("not running")
            return
        server = found.server
        use = "in use" if found.in_use else f"idle for {found.idle_for:.0f} s"
        until = (f", stops after {server.idle_seconds:.0f} s idle" if server.keeper
                 else ", stops with its last user")
        typer.echo(f"running: pid {server.pid}, port {server.port}, {use}{until}")
    _run(work)


# --- fields and import -------------------------------------------------------------------------

@fields_app.command("add")
def fields_add(
    name: str, type_name: Annotated[str, typer.Argument(metavar="TYPE", help="text, number, date or boolean")],
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Declare a custom field."""
    async def work(field_type: FieldType):
        from store.fields import define_field

        async with _store(data_dir, mongo_uri) as store:
            field = await define_field(store.db, database, name, field_type)
        typer.echo(f"{field.name}: {field.type.value}")

    def run():
        try:
            field_type = FieldType(type_name.lower())
        except ValueError:
            raise InputError(f"{type_name!r} is not a field type: use text, number, date or boolean") from None
        asyncio.run(work(field_type))
    _run(run)


@fields_app.command("list")
def fields_list(database: Database = "main", data_dir: DataDir = None,
                mongo_uri: MongoUri = None) -> None:
    """List the fields of a profile database with their types."""
    def run():
        for field in asyncio.run(_load_schema(database, data_dir, mongo_uri)):
            typer.echo(f"{field.name}: {field.type.value}{' (standard)' if field.standard else ''}")
    _run(run)


def _import(kind: str, path: Path, database: str, data_dir, mongo_uri,
            create_contacts: bool = False) -> None:
    async def work():
        from store import importers

        options = {"progress": sys.stderr.isatty()}
        if kind == "events":
            options["create_contacts"] = create_contacts
        importer = importers.import_contacts if kind == "contacts" else importers.import_events
        async with _store(data_dir, mongo_uri) as store:
            return await importer(store, database, path, **options)

    def run():
        if not path.is_file():
            raise InputError(f"no file {path}")
        report = asyncio.run(work())
        for row in report.rejected:
            where = f"line {row.index}" + (f" (id {row.id})" if row.id else "")
            typer.echo(f"rejected {where}: {row.message}", err=True)
        created = (f", contacts created {report.contacts_created}"
                   if report.contacts_created else "")
        typer.echo(f"stored {report.stored}, duplicates {report.duplicates}, "
                   f"rejected {len(report.rejected)}{created}")
        if report.rejected:  # an input error, though the other rows were stored
            raise typer.Exit(INPUT_ERROR)
    _run(run)


@import_app.command("contacts")
def import_contacts(path: Annotated[Path, typer.Argument(metavar="FILE")],
                    database: Database = "main", data_dir: DataDir = None,
                    mongo_uri: MongoUri = None) -> None:
    """Import contacts from JSON Lines or CSV (header row: id, then field names)."""
    _import("contacts", path, database, data_dir, mongo_uri)


@import_app.command("events")
def import_events(path: Annotated[Path, typer.Argument(metavar="FILE")],
                  database: Database = "main", data_dir: DataDir = None,
                  mongo_uri: MongoUri = None,
                  create_contacts: Annotated[bool, typer.Option(
                      "--create-contacts", help="Create contacts that do not exist yet "
                                                "(id only) instead of rejecting their events."
                  )] = False) -> None:
    """Import events from JSON Lines."""
    _import("events", path, database, data_dir, mongo_uri, create_contacts)


# --- profile databases -------------------------------------------------------------------------

@databases_app.command("list")
def databases_list(data_dir: DataDir = None, mongo_uri: MongoUri = None) -> None:
    """One profile database a line: NAME TIMEZONE."""
    async def work():
        from store.fields import list_database_timezones

        async with _store(data_dir, mongo_uri) as store:
            return await list_database_timezones(store.db)

    def run():
        for name, timezone in asyncio.run(work()):
            typer.echo(f"{name}\t{timezone}")
    _run(run)


@databases_app.command("create")
def databases_create(name: str, timezone: Annotated[str, typer.Option(
        "--timezone", help="IANA time zone, e.g. Europe/Warsaw.")] = "UTC",
                     data_dir: DataDir = None, mongo_uri: MongoUri = None) -> None:
    """Create a profile database with its time zone (default UTC)."""
    async def work():
        from store.fields import create_database

        async with _store(data_dir, mongo_uri) as store:
            await create_database(store.db, name, timezone, actor=_actor())
    _run(lambda: (asyncio.run(work()),
                  typer.echo(f"created profile database {name} ({timezone})")))


@databases_app.command("set-timezone")
def databases_set_timezone(name: str, timezone: str, data_dir: DataDir = None,
                           mongo_uri: MongoUri = None) -> None:
    """Change a profile database's time zone (the change is logged)."""
    async def work():
        from store.fields import set_database_timezone

        async with _store(data_dir, mongo_uri) as store:
            return await set_database_timezone(store.db, name, timezone, actor=_actor())
    _run(lambda: typer.echo(f"profile database {name}: time zone {asyncio.run(work())} "
                            f"-> {timezone}"))


# --- segments ----------------------------------------------------------------------------------

@segments_app.command("create")
def segments_create(
    name: str, expression: Expression,
    description: Annotated[Optional[str], typer.Option("--description")] = None,
    tags: Annotated[Optional[list[str]], typer.Option("--tag", help="A tag; repeat for more.")] = None,
    range_text: Annotated[Optional[str], typer.Option("--range", help="FROM:TO percent.")] = None,
    maximum: Annotated[Optional[int], typer.Option("--maximum")] = None,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Save a segment (a name a live segment has already is an input error)."""
    async def work(text: str, low: float, high: float):
        from store.segments import create_segment

        async with _store(data_dir, mongo_uri) as store:
            return await create_segment(store.db, database=database, name=name,
                                        expression=text, description=description,
                                        tags=tags or [], range_from=low, range_to=high,
                                        maximum=maximum, actor=_actor())

    def run():
        low, high = _parse_range(range_text) if range_text else (0.0, 100.0)
        segment = asyncio.run(work(_read(expression), low, high))
        typer.echo(f"created segment {segment.name} (id {segment.id}, version {segment.version})")
    _run(run)


@segments_app.command("list")
def segments_list(
    search: Annotated[Optional[str], typer.Option("--search", help="Part of the name.")] = None,
    tag: Annotated[Optional[str], typer.Option("--tag")] = None,
    in_bin: Annotated[bool, typer.Option("--bin", help="List the bin instead.")] = False,
    count: Annotated[bool, typer.Option("--count/--no-count", help=(
        "Count each live segment's members now (logged); --no-count shows the last count "
        "instead."))] = True,
    now: Now = None,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """List segments by name: id, version, name, members, tags."""
    async def work(moment, maintained):
        from store.segment_runs import count_segment
        from store.segment_search import list_segments

        async with _store(data_dir, mongo_uri) as store:
            after = None
            while True:
                page = await list_segments(store.db, database, search=search, tag=tag,
                                           in_bin=in_bin, first=200, after=after)
                for segment in page.items:
                    if count and not segment.in_bin:
                        members = _members(await count_segment(
                            store.db, segment.id, now=moment, maintained=maintained,
                            actor=_actor()))
                    elif segment.last_count is None:
                        members = "never counted"
                    else:
                        members = (f"{_members(segment.last_count)} at "
                                   f"{_time(segment.last_count_at)}")
                    tags = f"  [{', '.join(segment.tags)}]" if segment.tags else ""
                    typer.echo(f"{segment.id}  v{segment.version}  {segment.name}  "
                               f"{members}{tags}")
                if not page.has_next:
                    return
                after = page.end_cursor
    # without --now: the maintained membership's count where there is one
    _run(lambda: asyncio.run(work(_evaluation_time(now), now is None)))


def _members(count: int) -> str:
    return f"{count} member{'' if count == 1 else 's'}"


@segments_app.command("show")
def segments_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Segment name or id.")],
    now: Now = None,
    count: Annotated[bool, typer.Option("--count/--no-count",
                                        help="Count the members now (logged).")] = True,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Show a segment: its definition, version, current count and last count."""
    async def work(moment, maintained):
        from store.segment_runs import count_segment
        from store.segments import find_segment

        async with _store(data_dir, mongo_uri) as store:
            segment = await find_segment(store.db, database, name, in_bin=None)
            members = None
            if count and not segment.in_bin:
                members = await count_segment(store.db, segment.id, now=moment,
                                              maintained=maintained, actor=_actor())
            return segment, members

    def run():
        # without --now: the maintained membership's count where there is one
        segment, members = asyncio.run(work(_evaluation_time(now), now is None))
        lines = [
            ("name", segment.name), ("id", segment.id), ("database", segment.database),
            ("version", segment.version), ("in bin", "yes" if segment.in_bin else "no"),
            ("description", segment.description or ""), ("tags", ", ".join(segment.tags)),
            ("access groups", ", ".join(segment.access_groups)),
            ("expression", segment.expression or "(every contact)"),
            ("range", f"{_percent(segment.range_from)}:{_percent(segment.range_to)} %"),
            ("maximum", segment.maximum if segment.maximum is not None else "none"),
            ("updated", f"{_time(segment.updated_at)} by {segment.updated_by}"),
            ("created", f"{_time(segment.created_at)} by {segment.created_by}"),
        ]
        if members is not None:
            lines.append(("count", members))
        last = ("never" if segment.last_count is None
                else f"{segment.last_count} at {_time(segment.last_count_at)}")
        lines.append(("last count", last))
        for label, value in lines:
            typer.echo(f"{label + ':':<15}{value}")
    _run(run)


def _segment_command(name: str, action: str, in_bin: bool | None, data_dir, mongo_uri,
                     database: str):
    async def work():
        from store import segment_bin
        from store.segments import find_segment

        async with _store(data_dir, mongo_uri) as store:
            segment = await find_segment(store.db, database, name, in_bin=in_bin)
            if action == "delete":
                await segment_bin.delete_segment(store.db, segment.id, actor=_actor())
                return f"moved segment {segment.name} to the bin"
            if action == "restore":
                await segment_bin.restore_segment(store.db, segment.id, actor=_actor())
                return f"restored segment {segment.name}"
            await segment_bin.purge_segment(store.db, segment.id, actor=_actor())
            return f"purged segment {segment.name} (id {segment.id})"
    _run(lambda: typer.echo(asyncio.run(work())))



@segments_app.command("delete")
def segments_delete(name: SegmentName, database: Database = "main", data_dir: DataDir = None,
                    mongo_uri: MongoUri = None) -> None:
    """Move a segment to the bin (refused while segments or campaigns use it)."""
    _segment_command(name, "delete", False, data_dir, mongo_uri, database)


@segments_app.command("restore")
def segments_restore(name: SegmentName, database: Database = "main", data_dir: DataDir = None,
                     mongo_uri: MongoUri = None) -> None:
    """Bring a segment back from the bin."""
    _segment_command(name, "restore", True, data_dir, mongo_uri, database)


@segments_app.command("purge")
def segments_purge(name: SegmentName, database: Database = "main", data_dir: DataDir = None,
                   mongo_uri: MongoUri = None) -> None:
    """Remove a segment in the bin for good, with its versions and computation log."""
    _segment_command(name, "purge", True, data_dir, mongo_uri, database)


@segments_app.command("history")
def segments_history(name: SegmentName, database: Database = "main", data_dir: DataDir = None,
                     mongo_uri: MongoUri = None) -> None:
    """List a segment's versions: when, who, what changed, and the expression."""
    async def work():
        from store.segment_history import segment_history
        from store.segments import find_segment

        async with _store(data_dir, mongo_uri) as store:
            segment = await find_segment(store.db, database, name, in_bin=None)
            return await segment_history(store.db, segment.id)

    def run():
        for version in asyncio.run(work()):
            note = f"  ({version.note})" if version.note else ""
            typer.echo(f"v{version.version}  {_time(version.at)}  {version.by}  changed: "
                       f"{', '.join(version.changed)}{note}")
            typer.echo(f"    {version.definition.expression or '(every contact)'}")
    _run(run)


# --- export ------------------------------------------------------------------------------------

@app.command("export")
def export_command(
    segment_name: Annotated[str, typer.Argument(metavar="SEGMENT", help="Segment name or id.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="CSV file (default: stdout).")] = None,
    now: Now = None,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Write a segment's current members as CSV: a header row (id, then the fields)."""
    async def work(moment):
        from store.exports import export_csv, write_csv
        from store.segments import find_segment

        async with _store(data_dir, mongo_uri) as store:
            segment = await find_segment(store.db, database, segment_name)
            if out is None:
                async for text in export_csv(store.db, segment.id, now=moment, actor=_actor()):
                    typer.echo(text, nl=False)
                return
            # Written beside the target and moved over it when complete: a failed export
            # never leaves a truncated file under the name asked for.
            partial = out.with_name(out.name + ".part")
            try:
                with partial.open("wb") as handle:
                    await write_csv(store.db, segment.id, handle, now=moment, actor=_actor())
                partial.replace(out)
            finally:
                partial.unlink(missing_ok=True)
    _run(lambda: asyncio.run(work(_evaluation_time(now))))


# --- lists -------------------------------------------------------------------------------------

@lists_app.command("create")
def lists_create(name: str, database: Database = "main", data_dir: DataDir = None,
                 mongo_uri: MongoUri = None) -> None:
    """Create an empty static list (names are unique ignoring letter case)."""
    async def work():
        from store.lists import create_list

        async with _store(data_dir, mongo_uri) as store:
            return await create_list(store.db, database, name, actor=_actor())
    _run(lambda: typer.echo(f"created list {asyncio.run(work()).name}"))


def _change_list(name: str, ids: list[str], database: str, data_dir, mongo_uri, *,
                 adding: bool) -> None:
    """`lists add` and `lists remove`: one membership change, then what it did."""
    async def work():
        from store.lists import add_to_list, remove_from_list

        change_list = add_to_list if adding else remove_from_list
        async with _store(data_dir, mongo_uri) as store:
            return await change_list(store.db, database, name, ids)

    def run():
        change = asyncio.run(work())
        for contact_id in change.unknown:
            typer.echo(f"no contact {contact_id}", err=True)
        done, unchanged = ("added", "already in the list") if adding else (
            "removed", "not in the list")
        typer.echo(f"{done} {change.changed}, {unchanged} {change.unchanged}, "
                   f"unknown {len(change.unknown)}")
    _run(run)


@lists_app.command("add")
def lists_add(name: str, ids: Annotated[list[str], typer.Argument(metavar="ID...")],
              database: Database = "main", data_dir: DataDir = None,
              mongo_uri: MongoUri = None) -> None:
    """Add contacts to a static list by id (unknown ids are reported, not fatal)."""
    _change_list(name, ids, database, data_dir, mongo_uri, adding=True)


@lists_app.command("remove")
def lists_remove(name: str, ids: Annotated[list[str], typer.Argument(metavar="ID...")],
                 database: Database = "main", data_dir: DataDir = None,
                 mongo_uri: MongoUri = None) -> None:
    """Remove contacts from a static list by id (unknown ids are reported, not fatal)."""
    _change_list(name, ids, database, data_dir, mongo_uri, adding=False)


@lists_app.command("list")
def lists_list(database: Database = "main", data_dir: DataDir = None,
               mongo_uri: MongoUri = None) -> None:
    """List the static lists of a database."""
    async def work():
        from store.lists import list_lists

        async with _store(data_dir, mongo_uri) as store:
            return await list_lists(store.db, database)
    _run(lambda: [typer.echo(item.name) for item in asyncio.run(work())])


# --- campaigns ---------------------------------------------------------------------------------

@campaigns_app.command("list")
def campaigns_list(database: Database = "main", data_dir: DataDir = None,
                   mongo_uri: MongoUri = None) -> None:
    """List the campaigns of a database by name: id, name, channel, status, recipients,
    target segment."""
    async def work():
        from store.campaigns import list_campaigns
        from store.segments import get_segment

        async with _store(data_dir, mongo_uri) as store:
            campaigns = await list_campaigns(store.db, database)
            targets = {}
            for segment_id in {campaign.segment_id for campaign in campaigns}:
                segment = await get_segment(store.db, segment_id)
                targets[segment_id] = segment.name if segment else f"(id {segment_id})"
            return campaigns, targets

    def run():
        campaigns, targets = asyncio.run(work())
        for campaign in campaigns:
            recipients = ("" if campaign.recipient_count is None
                          else f"  {campaign.recipient_count} "
                               f"recipient{'' if campaign.recipient_count == 1 else 's'} at "
                               f"{_time(campaign.now)}")
            typer.echo(f"{campaign.id}  {campaign.name}  {campaign.channel}  {campaign.status}"
                       f"{recipients}  segment {targets[campaign.segment_id]}")
    _run(run)


@campaigns_app.command("create")
def campaigns_create(
    name: str,
    channel: Annotated[str, typer.Option("--channel", help="email, sms or push")],
    segment_name: Annotated[str, typer.Option("--segment", help="Target segment name or id.")],
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Create a draft campaign targeting a segment."""
    async def work():
        from store.campaigns import create_campaign
        from store.segments import find_segment

        async with _store(data_dir, mongo_uri) as store:
            segment = await find_segment(store.db, database, segment_name)
            return await create_campaign(store.db, name=name, channel=channel,
                                         segment_id=segment.id, actor=_actor())

    def run():
        campaign = asyncio.run(work())
        typer.echo(f"created campaign {campaign.name} (id {campaign.id}, {campaign.channel})")
    _run(run)


@campaigns_app.command("send")
def campaigns_send(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Campaign name or id.")],
    now: Now = None,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Send a campaign: freeze its recipients now (sending it again changes nothing)."""
    async def work(moment):
        from store.campaigns import find_campaign, send_campaign

        async with _store(data_dir, mongo_uri) as store:
            campaign = await find_campaign(store.db, database, name)
            was_sent = campaign.status == "sent"
            return was_sent, await send_campaign(store.db, campaign.id, now=moment,
                                                 actor=_actor())

    def run():
        was_sent, campaign = asyncio.run(work(_evaluation_time(now)))
        already = " (already sent; nothing changed)" if was_sent else ""
        typer.echo(f"sent campaign {campaign.name} to {campaign.recipient_count} recipients "
                   f"(segment version {campaign.segment_version}, at "
                   f"{_time(campaign.now)}){already}")
    _run(run)


@campaigns_app.command("recipients")
def campaigns_recipients(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Campaign name or id.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="CSV file (default: stdout).")] = None,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Write a sent campaign's recipients as CSV (id, then the channel's address field)."""
    async def work():
        from store.campaigns import find_campaign
        from store.recipients import export_recipients_csv

        async with _store(data_dir, mongo_uri) as store:
            campaign = await find_campaign(store.db, database, name)
            handle = out.open("w", encoding="utf-8", newline="") if out else None
            try:
                async for text in export_recipients_csv(store.db, campaign.id):
                    if handle is None:
                        typer.echo(text, nl=False)
                    else:
                        handle.write(text)
            finally:
                if handle is not None:
                    handle.close()
    _run(lambda: asyncio.run(work()))


# --- the server and the demo data ----------------------------------------------------------

DEV_KEY_FILE = "dev-api-key"
KEEP_ALIVE_SECONDS = 75


def development_key(data_dir: Path | None, mongo_uri: str | None) -> str:
    """SEGMENTQL_API_KEY; else, on the embedded store, the key kept in `<data dir>/dev-api-key`
    (made on first use, so a restart prints the same key); else a new random key."""
    from store.api_keys import new_secret
    from store.connection import StoreSettings

    if key := os.environ.get("SEGMENTQL_API_KEY", "").strip():
        return key
    settings = StoreSettings.from_env(data_dir=data_dir, mongo_uri=mongo_uri)
    if settings.mongo_uri:
        return new_secret()
    path = settings.data_dir / DEV_KEY_FILE
    try:
        key = path.read_text().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = new_secret()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Run the GraphQL server (GraphiQL on GET /graphql, the segment builder on GET /);
    prints the URLs and a development admin key (SEGMENTQL_API_KEY sets it)."""
    def run():
        import logging

        import uvicorn

        from graph.app import create_app
        from store.api_keys import MIN_KEY_LENGTH
        from store.connection import StoreSettings

        key = development_key(data_dir, mongo_uri)
        if len(key) < MIN_KEY_LENGTH or any(char.isspace() for char in key):
            raise InputError(f"SEGMENTQL_API_KEY must have at least {MIN_KEY_LENGTH} "
                             "characters and no spaces")
        settings = StoreSettings.from_env(data_dir=data_dir, mongo_uri=mongo_uri)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"SegmentQL GraphQL server: http://{shown}:{port}/graphql "
                   "(GraphiQL in a browser)")
        typer.echo(f"Development API key (admin): {key}")
        typer.echo(f"  curl -H 'Authorization: Bearer {key}' -H 'content-type: application/json' "
                   f"-d '{{\"query\": \"{{ fields {{ name type }} }}\"}}' "
                   f"http://{shown}:{port}/graphql")
        # Last, so a terminal's last line opens the builder signed in: the key rides in the
        # #fragment, which a browser never sends; the page keeps it for the session only.
        from urllib.parse import quote
        typer.echo(f"Segment builder (open in a browser): "
                   f"http://{shown}:{port}/#key={quote(key, safe='')}")
        sys.stdout.flush()
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                       "%(message)s")
        # Keep-alive longer than clients keep idle connections (httpx 5 s, browsers ~60 s),
        # so a client never reuses a connection the server is closing at that moment.
        uvicorn.run(create_app(settings, dev_key=key), host=host, port=port,
                    log_level="info", access_log=False, lifespan="on",
                    timeout_keep_alive=KEEP_ALIVE_SECONDS)
    _run(run)


@app.command("demo")
def demo_command(
    contacts: Annotated[int, typer.Option("--contacts", min=1, max=100_000,
                                          help="How many demo contacts.")] = 3000,
    reload: Annotated[bool, typer.Option("--reload", help="Load again even when the demo "
                                                          "data is there (nothing is duplicated).")] = False,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Load a realistic demo data set: contacts, fields, lists, events, segments, campaigns.
    Running it again duplicates nothing."""
    async def work():
        from cli.demo import load_demo

        async with _store(data_dir, mongo_uri) as store:
            return await load_demo(store, database, contacts=contacts, reload=reload,
                                   say=typer.echo)

    def run():
        report = asyncio.run(work())
        if not report.already_loaded:
            typer.echo(f"demo data loaded into profile database {database}")
    _run(run)


# The language services (explain, complete, diagnose, segments diff), segments update /
# clone and the live commands live in their own modules and register themselves on the
# apps when imported.
import cli.language_services  # noqa: E402,F401
import cli.live  # noqa: E402,F401
import cli.segment_editing  # noqa: E402,F401
