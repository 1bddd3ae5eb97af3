"""`segmentql live sweep` and `segmentql segments changes`: live segments on the command
line (docs/live-segments.md). Registered on the app of cli/main.py."""

# Annotations stay objects (no `from __future__ import annotations`): typer reads every
# command's signature at each start, and would compile and evaluate string ones.

import asyncio
from typing import Annotated, Optional

import typer

from cli.app import CommandGroup, app, segments_app
from cli.options import Database, DataDir, InputError, MongoUri
from cli.options import guarded as _run
from cli.options import open_cli_store as _store
from cli.options import parse_now as _parse_now
from cli.options import show_time as _time
from dsl.values import parse_iso_datetime

live_app = CommandGroup(help="Live segments: membership kept current.")
app.add_typer(live_app, name="live")


@live_app.command("sweep")
def live_sweep(
    now: Annotated[Optional[str], typer.Option(
        "--now", help="Apply the time-based changes due up to this instant (ISO 8601; "
                      "default: now). Never moves backwards.")] = None,
    all_databases: Annotated[bool, typer.Option(
        "--all-databases", help="Sweep every profile database (as the server does).")] = False,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Apply the entries and exits that time passing brings, each at its exact instant."""
    async def work(moment):
        from store.live.sweep import sweep

        async with _store(data_dir, mongo_uri) as store:
            return await sweep(store.db, now=moment,
                               database=None if all_databases else database)

    def run():
        for report in asyncio.run(work(_parse_now(now))):
            if report.skipped:
                typer.echo(f"{report.database}: skipped ({report.skipped}); swept to "
                           f"{_time(report.swept_to)}")
            else:
                typer.echo(f"{report.database}: swept to {_time(report.swept_to)}: "
                           f"{report.evaluated} re-evaluated, {report.changes} changes")
    _run(run)


@segments_app.command("changes")
def segments_changes(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Segment name or id.")],
    since: Annotated[Optional[str], typer.Option(
        "--since", help="Only changes at or after this instant (ISO 8601).")] = None,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """A segment's entries and exits, oldest first: `AT CONTACT entered|left CAUSE`."""
    async def work(moment):
        from store.live.changes import list_changes
        from store.segments import find_segment

        async with _store(data_dir, mongo_uri) as store:
            segment = await find_segment(store.db, database, name, in_bin=None)
            after = None
            while True:
                page = await list_changes(store.db, segment.id, since=moment, first=200,
                                          after=after)
                for change in page.items:
                    typer.echo(f"{_time(change.at)} {change.contact} {change.change} "
                               f"{change.cause}")
                if not page.has_next:
                    return
                after = page.end_cursor

    def run():
        moment = None
        if since is not None:
            moment = parse_iso_datetime(since)
            if moment is None:
                raise InputError(f"--since {since!r} is not an ISO 8601 timestamp such as "
                                 "2024-05-01T10:00:00Z")
        asyncio.run(work(moment))
    _run(run)
