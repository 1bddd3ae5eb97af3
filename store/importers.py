"""File importers: contacts from JSON Lines or CSV, events from JSON Lines (docs/interfaces.md).

Files are streamed (never read whole) and written in batches of BATCH_SIZE rows. A rejected
row is reported with its 1-based line number in the file as `index`.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import orjson
from pymongo.asynchronous.database import AsyncDatabase

from dsl.schema import FieldSchema
from store.contacts import upsert_contacts
from store.errors import StoreInputError
from store.events import EventIngest
from store.fields import load_schema
from store.results import RowError, WriteReport

BATCH_SIZE = 1000
# An events import keeps summary changes in memory (a few hundred bytes a contact) and
# writes them when this many contacts are pending, and at the end.
MAX_PENDING_CONTACTS = 200_000
CSV_ID = "id"
CSV_LISTS = "lists"
CSV_LIST_SEPARATOR = ";"
_BOM = codecs.BOM_UTF8

Writer = Callable[[AsyncDatabase, str, list[dict]], Awaitable[WriteReport]]


class _Progress:
    """A rich progress bar of bytes read (or nothing, when not asked for)."""

    def __init__(self, bar, task) -> None:
        self._bar = bar
        self._task = task

    def update(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done)


@contextmanager
def _progress(path: Path, enabled: bool, what: str) -> Iterator[_Progress]:
    if not enabled:
        yield _Progress(None, None)
        return
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(f"importing {what} from {path.name}",
                            total=os.path.getsize(path))
        yield _Progress(bar, task)
        bar.update(task, completed=os.path.getsize(path))


async def import_contacts(store, database: str, path: Path | str, *,
                          progress: bool = False) -> WriteReport:
    """Import contacts from a `.csv` file (a header row: `id`, field names, an optional
    `lists` column with `;`-separated names; an empty cell changes nothing) or JSON Lines
    (other extensions; a file whose first character is not `{` is read as CSV)."""
    path = Path(path)
    schema = await load_schema(store.db, database)
    with path.open("rb") as handle, _progress(path, progress, "contacts") as bar:
        if _is_csv(path, handle):
            rows = _csv_rows(handle, schema, bar)
        else:
            rows = _jsonl_rows(handle, bar)
        return await _import(store.db, database, rows, upsert_contacts)


async def import_events(store, database: str, path: Path | str, *,
                        progress: bool = False, create_contacts: bool = False) -> WriteReport:
    """Import events from JSON Lines, one event object a line. Contact summaries are
    written once per contact at the end (see store.events.EventIngest), so the imported
    events count in segments when the import returns."""
    path = Path(path)
    await load_schema(store.db, database)  # refuses an unknown profile database up front
    with path.open("rb") as handle, _progress(path, progress, "events") as bar:
        if path.suffix.lower() == ".csv":
            raise StoreInputError(f"{path.name}: events are imported from JSON Lines, one "
                                  "event object a line, not CSV")
        ingest = EventIngest(store.db, database, create_contacts=create_contacts)

        async def write(_db: AsyncDatabase, _database: str, rows: list[dict]) -> WriteReport:
            report = await ingest.add(rows)
            if ingest.pending_contacts >= MAX_PENDING_CONTACTS:
                await ingest.apply()
            return report

        try:
            report = await _import(store.db, database, _jsonl_rows(handle, bar), write)
            await ingest.apply()  # summaries are written once per contact, at the end
        except BaseException:
            ingest.abandon()  # its markers are repaired (and answers on events refused)
            raise
        return report


def _is_csv(path: Path, handle: BinaryIO) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return True
    if suffix in (".jsonl", ".ndjson", ".json"):
        return False
    head = handle.peek(4096)[:4096] if hasattr(handle, "peek") else b""
    head = head.removeprefix(_BOM).lstrip()
    return bool(head) and not head.startswith(b"{")


async def _import(db: AsyncDatabase, database: str,
                  rows: Iterator[tuple[int, dict | RowError]], write: Writer) -> WriteReport:
    report = WriteReport()
    batch: list[dict] = []
    lines: list[int] = []

    async def flush() -> None:
        result = await write(db, database, batch)
        report.stored += result.stored
        report.duplicates += result.duplicates
        report.contacts_created += result.contacts_created
        report.rejected.extend(RowError(lines[error.index], error.id, error.message)
                               for error in result.rejected)
        batch.clear()
        lines.clear()

    for line, row in rows:
        if isinstance(row, RowError):
            report.rejected.append(row)
            continue
        batch.append(row)
        lines.append(line)
        if len(batch) >= BATCH_SIZE:
            await flush()
    if batch:
        await flush()
    report.rejected.sort(key=lambda error: error.index)
    return report


def _jsonl_rows(handle: BinaryIO, bar: _Progress) -> Iterator[tuple[int, dict | RowError]]:
    done = 0
    for number, line in enumerate(handle, start=1):
        done += len(line)
        if number % 256 == 0:
            bar.update(done)
        if number == 1:
            line = line.removeprefix(_BOM)
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield number, RowError(number, None, _not_json(str(error)))
            continue
        if not isinstance(value, dict):
            yield number, RowError(number, None, "expected a JSON object, not "
                                                 f"{_json_kind(value)}")
            continue
        yield number, value
    bar.update(done)


_JSON_POSITION = re.compile(r": line \d+ column (\d+) \(char \d+\)$")


def _not_json(detail: str) -> str:
    """Why a line is not a JSON value, said plainly (the line is one: its column only)."""
    match = _JSON_POSITION.search(detail)
    where = f" at column {match.group(1)}" if match else ""
    if match:
        detail = detail[:match.start()]
    if "UTF-8" in detail:
        return f"not UTF-8 text{where}; save the file as UTF-8"
    if "surrogate" in detail:
        return (f"a lone UTF-16 surrogate escape (\\ud800 to \\udfff without its pair){where}: "
                "it is no character and cannot be stored; write the character itself or a "
                "complete pair")
    return f"not valid JSON{where}: {detail}"


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return "a number"


class _Lines:
    """The lines of a text file, numbered, for csv.reader: remembers the lines the current
    record took, and takes lines back to be read again (see `_csv_rows`)."""

    def __init__(self, text: Iterator[str]) -> None:
        self._text = text
        self._next_number = 1
        self._again: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            line = self._again.popleft()
        else:
            line = (self._next_number, next(self._text))
            self._next_number += 1
        self.taken.append(line)
        return line[1]

    def record_lines(self) -> list[tuple[int, str]]:
        taken, self.taken = self.taken, []
        return taken

    def read_again(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))


def _not_utf8(cells: list[str]) -> str | None:
    """Why a row is not UTF-8 text (bytes that are not decode to lone surrogates here)."""
    for cell in cells:
        for position, char in enumerate(cell):
            if "\udc80" <= char <= "\udcff":
                return (f"not UTF-8 text: byte 0x{ord(char) - 0xDC00:02X} in "
                        f"{cell[:position][-20:]!r}...; save the file as UTF-8")
    return None


def _csv_rows(handle: BinaryIO, schema: FieldSchema,
              bar: _Progress) -> Iterator[tuple[int, dict | RowError]]:
    """Every line is accounted for: a row, a blank line, or a RowError with its number.

    A quoted cell may hold line breaks, so a record may span lines. When such a record
    does not fit the header (the usual sign of a quote never closed), its first line is
    rejected and the lines after it are read again as rows of their own: an unbalanced
    quote costs its own line, never the rows after it. Bytes that are not UTF-8 cost
    their row only (decoded as lone surrogates, then refused)."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
    lines = _Lines(iter(text))
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        raise StoreInputError(f"line 1: the CSV header cannot be read: {error}") from None
    if (problem := _not_utf8(header)) is not None:
        raise StoreInputError(f"line 1: the CSV header is {problem}")
    lines.record_lines()
    columns = _check_header(header, schema)
    id_column = columns.pop(CSV_ID, None)
    lists_column = columns.pop(CSV_LISTS, None)
    while True:
        try:
            cells: list[str] | None = next(reader)
            problem = None
        except StopIteration:
            break
        except csv.Error as error:
            cells, problem = None, f"not a CSV row: {error}"
        taken = lines.record_lines()
        if not taken:
            break
        number = taken[0][0]
        if number % 256 == 0:
            bar.update(handle.tell())
        if cells is not None and not any(cell.strip() for cell in cells):
            continue  # a blank line
        if cells is not None and len(cells) != len(header):
            problem = (f"{len(cells)} cells, but the header has {len(header)} columns")
        if problem is not None and len(taken) > 1:
            lines.read_again(taken[1:])
            problem = ("a quoted cell opened on this line is never closed (it ran into the "
                       "next lines, which are read as rows of their own); close the quote "
                       'or double it ("")')
        if problem is not None:
            yield number, RowError(number, None, problem)
            continue
        assert cells is not None
        if (problem := _not_utf8(cells)) is not None:
            yield number, RowError(number, None, problem)
            continue
        row: dict = {}
        if id_column is not None:
            if not cells[id_column].strip():
                yield number, RowError(number, None, "the id is empty: give every row an id "
                                       "(or leave out the id column to have ids generated)")
                continue
            row["id"] = cells[id_column].strip()
        fields = {name: cells[column] for name, column in columns.items()
                  if cells[column] != ""}
        if fields:
            row["fields"] = fields
        if lists_column is not None:
            names = [name.strip() for name in cells[lists_column].split(CSV_LIST_SEPARATOR)]
            if any(names):
                row["lists"] = [name for name in names if name]
        yield number, row
    bar.update(handle.tell())


def _check_header(header: list[str], schema: FieldSchema) -> dict[str, int]:
    """{column name: position}; StoreInputError for an unknown field or a repeated column."""
    columns: dict[str, int] = {}
    for position, raw in enumerate(header):
        name = raw.strip()
        if not name:
            raise StoreInputError(f"line 1: column {position + 1} of the CSV header has no name")
        if name in columns:
            raise StoreInputError(f"line 1: the CSV header names {name} twice")
        if name not in (CSV_ID, CSV_LISTS) and schema.get(name) is None:
            hint = schema.suggest(name)
            did_you_mean = f" (did you mean {hint}?)" if hint else ""
            raise StoreInputError(f"line 1: the CSV header has an unknown field "
                                  f"{name}{did_you_mean}; declare it first")
        columns[name] = position
    return columns
