"""What every `segmentql` command shares: the common options, reading arguments, opening the
store, and running a command body with the exit statuses of the command line.

Exit status: 0 success; 2 a syntax, type or input error (message on standard error, with
`line L, column C` where it applies); 1 anything else (one line; `--debug` or
SEGMENTQL_DEBUG=1 adds the traceback). A reader that stops early (`segmentql ... | head`)
ends the command quietly with status 0.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
import traceback
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Optional

import orjson
import typer

from dsl.errors import SegmentError, SegmentErrors
from dsl.values import parse_iso_datetime
from store.clock import utc_now
from store.errors import StoreError

INPUT_ERROR = 2
DEBUG_VARIABLE = "SEGMENTQL_DEBUG"

Database = Annotated[str, typer.Option("--database", metavar="NAME", help="Profile database.")]
DataDir = Annotated[Optional[Path], typer.Option(
    "--data-dir", metavar="DIR", envvar="SEGMENTQL_DATA_DIR",
    help="The embedded store's folder.")]
MongoUri = Annotated[Optional[str], typer.Option(
    "--mongo-uri", metavar="URI", envvar="SEGMENTQL_MONGO_URI",
    help="A MongoDB URI (else the embedded store).")]
Expression = Annotated[str, typer.Argument(metavar="EXPR",
                                           help="A SegmentQL expression; - reads standard input.")]
Now = Annotated[Optional[str], typer.Option("--now", metavar="T",
                                            help="Evaluation time, ISO 8601.")]
Range = Annotated[Optional[str], typer.Option("--range", metavar="FROM:TO",
                                              help="The part of the members kept, in percent.")]
Maximum = Annotated[Optional[int], typer.Option("--maximum", metavar="N",
                                                help="At most this many members.")]
SegmentName = Annotated[str, typer.Argument(metavar="NAME", help="Segment name or id.")]


class InputError(Exception):
    """Bad input given on the command line (exit status 2)."""


_debug = {"on": False}


def set_debug(on: bool) -> None:
    """Whether an unexpected error prints its traceback (the root option `--debug`)."""
    _debug["on"] = on


def debugging() -> bool:
    return _debug["on"] or os.environ.get(DEBUG_VARIABLE, "").strip().lower() in {
        "1", "true", "yes", "on"}


def fail_input(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(INPUT_ERROR)


def guarded(work):
    """Run a command body; user errors exit 2 with the message, a closed standard output
    ends quietly, anything else exits 1 with one line (and the traceback with --debug)."""
    try:
        return work()
    except (SegmentError, SegmentErrors, StoreError, InputError) as error:
        raise fail_input(str(error)) from None
    except typer.Exit:
        raise
    except BrokenPipeError:
        raise _reader_gone() from None
    except Exception as error:  # an operator sees one line, not a traceback
        if debugging():
            traceback.print_exc(file=sys.stderr)
        typer.echo(f"error: {type(error).__name__}: {error}", err=True)
        raise typer.Exit(1) from None


def _reader_gone() -> typer.Exit:
    """The reader of standard output went away (`| head`): nothing more can be said to it,
    and that is what it asked for. Standard output is pointed at /dev/null so that
    Python's flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (an in-process test runner)
        pass
    return typer.Exit(0)


def read_text(expression: str) -> str:
    """An expression argument; `-` reads standard input (UTF-8 text, or an input error)."""
    if expression != "-":
        return expression
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"standard input is not UTF-8 text: byte 0x{data[error.start]:02X} "
                         f"at byte {error.start + 1}") from None


def parse_now(now: str | None) -> dt.datetime | None:
    if now is None:
        return None
    moment = parse_iso_datetime(now)
    if moment is None:
        raise InputError(f"--now {now!r} is not an ISO 8601 timestamp such as 2024-05-01T10:00:00Z")
    return moment


def evaluation_time(now: str | None) -> dt.datetime:
    """A command's evaluation time: its --now, or the current time, read once here (the
    store below never reads the clock for an evaluation)."""
    return parse_now(now) or utc_now()


def parse_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError:
        raise InputError(f"--range {text!r} must be FROM:TO in percent, such as 0:20") from None
    if not 0 <= low <= high <= 100:
        raise InputError(f"--range {text!r} needs 0 <= FROM <= TO <= 100")
    return low, high


def print_json(value) -> None:
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def show_time(moment: dt.datetime | None) -> str:
    from store.csv_out import iso_utc

    return iso_utc(moment) if moment is not None else "-"


def show_percent(value: float) -> str:
    return f"{value:g}"


def actor() -> str:
    """Who a change from the command line is recorded as: `cli:$USER`."""
    try:
        user = os.environ.get("USER") or getpass.getuser()
    except Exception:  # no user name in this environment
        user = "unknown"
    return f"cli:{user}"


@asynccontextmanager
async def open_cli_store(data_dir: Path | None, mongo_uri: str | None, *,
                         read_only: bool = False):
    """The store of a command; `read_only` for a command that writes nothing (evaluations),
    which then skips the opening checks an earlier command made (store/connection.py)."""
    from store.connection import StoreSettings, open_store

    async with open_store(StoreSettings.from_env(data_dir=data_dir, mongo_uri=mongo_uri),
                          read_only=read_only) as store:
        yield store
