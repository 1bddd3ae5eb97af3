"""`segmentql`: the command line for power users and operators (INTERFACES.md).

Exit status: 0 success; 2 a syntax, type or input error (message on standard error, with
`line L, column C` where it applies); 1 anything else.
"""

from __future__ import annotations

import asyncio
import datetime as dt
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
app.add_typer(fields_app, name="fields")
app.add_typer(import_app, name="import")

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
                return await pipeline_for(store.db, database, selection)
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
        from store.selection import count_members, iter_members

        async with _store(data_dir, mongo_uri) as store:
            try:
                typer.echo(await count_members(store.db, database, selection))
                if ids:
                    async for member in iter_members(store.db, database, selection):
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
