"""`segmentql`: the command line for power users and operators (INTERFACES.md).

Exit status: 0 success; 2 a syntax, type or input error (message on standard error, with
`line L, column C` where it applies); 1 anything else.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Optional

import orjson
import typer
from bson import json_util

from dsl.errors import SegmentError, SegmentErrors
from dsl.formatter import format_expression
from dsl.json_codec import from_json, to_json
from dsl.parser import parse
from dsl.schema import FieldSchema, FieldType
from dsl.typecheck import require_valid
from dsl.values import parse_iso_datetime

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="SegmentQL: dynamic segments of a contact database.")
fields_app = typer.Typer(no_args_is_help=True, help="The field schema of a profile database.")
import_app = typer.Typer(no_args_is_help=True, help="Import contacts or events.")
segments_app = typer.Typer(no_args_is_help=True, help="Saved segments.")
lists_app = typer.Typer(no_args_is_help=True, help="Static lists.")
campaigns_app = typer.Typer(no_args_is_help=True, help="Campaigns.")
app.add_typer(fields_app, name="fields")
app.add_typer(import_app, name="import")
app.add_typer(segments_app, name="segments")
app.add_typer(lists_app, name="lists")
app.add_typer(campaigns_app, name="campaigns")

INPUT_ERROR = 2

Database = Annotated[str, typer.Option("--database", help="Profile database.")]
DataDir = Annotated[Optional[Path], typer.Option(
    "--data-dir", envvar="SEGMENTQL_DATA_DIR", help="The embedded store's folder.")]
MongoUri = Annotated[Optional[str], typer.Option(
    "--mongo-uri", envvar="SEGMENTQL_MONGO_URI", help="A MongoDB URI (else the embedded store).")]
Expression = Annotated[str, typer.Argument(help="A SegmentQL expression; - reads standard input.")]
Now = Annotated[Optional[str], typer.Option("--now", help="Evaluation time, ISO 8601.")]


class InputError(Exception):
    """Bad input given on the command line (exit status 2)."""


def fail_input(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(INPUT_ERROR)


def _run(work):
    """Run a command body; user errors exit 2 with the message, anything else exits 1."""
    try:
        return work()
    except (SegmentError, SegmentErrors, InputError) as error:
        raise fail_input(str(error)) from None
    except typer.Exit:
        raise
    except Exception as error:  # an operator sees one line, not a traceback
        typer.echo(f"error: {type(error).__name__}: {error}", err=True)
        raise typer.Exit(1) from None


def _read(expression: str) -> str:
    return sys.stdin.read() if expression == "-" else expression


def _parse_now(now: str | None) -> dt.datetime | None:
    if now is None:
        return None
    moment = parse_iso_datetime(now)
    if moment is None:
        raise InputError(f"--now {now!r} is not an ISO 8601 timestamp such as 2024-05-01T10:00:00Z")
    return moment


def _parse_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError:
        raise InputError(f"--range {text!r} must be FROM:TO in percent, such as 0:20") from None
    if not 0 <= low <= high <= 100:
        raise InputError(f"--range {text!r} needs 0 <= FROM <= TO <= 100")
    return low, high


def _print_json(value) -> None:
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


@asynccontextmanager
async def _store(data_dir: Path | None, mongo_uri: str | None):
    from store.connection import StoreSettings, open_store

    async with open_store(StoreSettings.from_env(data_dir=data_dir, mongo_uri=mongo_uri)) as store:
        yield store


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
        else:
            schema = asyncio.run(_load_schema(database, data_dir, mongo_uri))
        require_valid(expr, schema, source=text)
        typer.echo("ok")
    _run(work)


async def _load_schema(database, data_dir, mongo_uri) -> FieldSchema:
    from store.fields import load_schema

    async with _store(data_dir, mongo_uri) as store:
        return await load_schema(store.db, database)


# --- evaluation ------------------------------------------------------------------------------

def _selection(expression: str, now: str | None, range_text: str | None, maximum: int | None):
    from store.selection import Selection

    text = _read(expression)
    expr = parse(text)
    low, high = _parse_range(range_text) if range_text else (0.0, 100.0)
    if maximum is not None and maximum < 0:
        raise InputError("--maximum cannot be negative")
    return text, Selection.at(expr, _parse_now(now), range_from=low, range_to=high,
                              maximum=maximum)


@app.command("compile")
def compile_command(
    expression: Expression, now: Now = None,
    range_text: Annotated[Optional[str], typer.Option("--range", help="FROM:TO percent.")] = None,
    maximum: Annotated[Optional[int], typer.Option("--maximum")] = None,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Print the MongoDB aggregation pipeline (over the contacts collection) as JSON."""
    async def work(text, selection):
        from store.selection import pipeline_for

        async with _store(data_dir, mongo_uri) as store:
            try:
                return await pipeline_for(store.db, database, selection, semi_join=False)
            except SegmentError as error:
                raise error.with_source(text)

    def run():
        pipeline = asyncio.run(work(*_selection(expression, now, range_text, maximum)))
        typer.echo(json_util.dumps(pipeline, json_options=json_util.RELAXED_JSON_OPTIONS,
                                   indent=2))
    _run(run)


@app.command("eval")
def eval_command(
    expression: Expression, now: Now = None,
    range_text: Annotated[Optional[str], typer.Option("--range", help="FROM:TO percent.")] = None,
    maximum: Annotated[Optional[int], typer.Option("--maximum")] = None,
    ids: Annotated[bool, typer.Option("--ids", help="Also print the member ids.")] = False,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Print the number of matching contacts; with --ids, then one id a line."""
    async def work(text, selection):
        from store.selection import count_members, iter_members, pipeline_for

        async with _store(data_dir, mongo_uri) as store:
            try:  # one evaluation: the count and the ids come from the same pipeline
                pipeline = await pipeline_for(store.db, database, selection)
                typer.echo(await count_members(store.db, database, selection,
                                               pipeline=pipeline))
                if ids:
                    async for member in iter_members(store.db, database, selection,
                                                     pipeline=pipeline):
                        typer.echo(member["id"])
            except SegmentError as error:
                raise error.with_source(text)
    _run(lambda: asyncio.run(work(*_selection(expression, now, range_text, maximum))))


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


def _import(kind: str, path: Path, database: str, data_dir, mongo_uri) -> None:
    async def work():
        from store import importers

        importer = importers.import_contacts if kind == "contacts" else importers.import_events
        async with _store(data_dir, mongo_uri) as store:
            return await importer(store, database, path, progress=sys.stderr.isatty())

    def run():
        if not path.is_file():
            raise InputError(f"no file {path}")
        report = asyncio.run(work())
        for row in report.rejected:
            where = f"line {row.index}" + (f" (id {row.id})" if row.id else "")
            typer.echo(f"rejected {where}: {row.message}", err=True)
        typer.echo(f"stored {report.stored}, duplicates {report.duplicates}, "
                   f"rejected {len(report.rejected)}")
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
                  mongo_uri: MongoUri = None) -> None:
    """Import events from JSON Lines."""
    _import("events", path, database, data_dir, mongo_uri)


# --- segments ----------------------------------------------------------------------------------

def _actor() -> str:
    """Who a change from the command line is recorded as: `cli:$USER`."""
    try:
        user = os.environ.get("USER") or getpass.getuser()
    except Exception:  # no user name in this environment
        user = "unknown"
    return f"cli:{user}"


def _time(moment: dt.datetime | None) -> str:
    from store.csv_out import iso_utc

    return iso_utc(moment) if moment is not None else "-"


def _percent(value: float) -> str:
    return f"{value:g}"


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
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """List segments by name: id, version, name, tags, and the maintained member count."""
    async def work():
        from store.live.reading import live_count
        from store.segment_search import list_segments

        async with _store(data_dir, mongo_uri) as store:
            after = None
            while True:
                page = await list_segments(store.db, database, search=search, tag=tag,
                                           in_bin=in_bin, first=200, after=after)
                for segment in page.items:
                    tags = f"  [{', '.join(segment.tags)}]" if segment.tags else ""
                    members = await live_count(store.db, segment)
                    count = f"  {members} members" if members is not None else ""
                    typer.echo(f"{segment.id}  v{segment.version}  {segment.name}{tags}{count}")
                if not page.has_next:
                    return
                after = page.end_cursor
    _run(lambda: asyncio.run(work()))


@segments_app.command("show")
def segments_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Segment name or id.")],
    now: Now = None,
    count: Annotated[bool, typer.Option("--count/--no-count",
                                        help="Count the members now (logged).")] = True,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Show a segment: its definition, version, current count and last count."""
    async def work(moment):
        from store.segment_runs import count_segment
        from store.segments import find_segment

        async with _store(data_dir, mongo_uri) as store:
            segment = await find_segment(store.db, database, name, in_bin=None)
            members = None
            if count and not segment.in_bin:
                members = await count_segment(store.db, segment.id, now=moment, actor=_actor())
            return segment, members

    def run():
        segment, members = asyncio.run(work(_parse_now(now)))
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


SegmentName = Annotated[str, typer.Argument(metavar="NAME", help="Segment name or id.")]


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
    _run(lambda: asyncio.run(work(_parse_now(now))))


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


@lists_app.command("add")
def lists_add(name: str, ids: Annotated[list[str], typer.Argument(metavar="ID...")],
              database: Database = "main", data_dir: DataDir = None,
              mongo_uri: MongoUri = None) -> None:
    """Add contacts to a static list by id (unknown ids are reported, not fatal)."""
    async def work():
        from store.lists import add_to_list

        async with _store(data_dir, mongo_uri) as store:
            return await add_to_list(store.db, database, name, ids)

    def run():
        change = asyncio.run(work())
        for contact_id in change.unknown:
            typer.echo(f"no contact {contact_id}", err=True)
        typer.echo(f"added {change.changed}, already in the list {change.unchanged}, "
                   f"unknown {len(change.unknown)}")
    _run(run)


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
            return was_sent, await send_campaign(store.db, campaign.id, moment, actor=_actor())

    def run():
        was_sent, campaign = asyncio.run(work(_parse_now(now)))
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
    """Run the GraphQL server (GraphiQL on GET /graphql); prints the URL and a development
    admin key (SEGMENTQL_API_KEY sets it)."""
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


# The language services (explain, complete, diagnose, segments diff) live in their own
# module and register themselves on `app` when it is imported.
from cli import language_services as _language_services  # noqa: E402,F401
from cli import live as _live  # noqa: E402,F401
