"""`segmentql segments update` and `segments clone`: the `updateSegment` and `cloneSegment`
mutations on the command line, through the same store functions."""

# Annotations stay objects (no `from __future__ import annotations`): typer reads every
# command's signature at each start, and would compile and evaluate string ones.

import asyncio
from typing import Annotated, Optional

import typer

from cli.app import segments_app
from cli.options import (Database, DataDir, InputError, Maximum, MongoUri, Range, SegmentName,
                         actor, guarded, open_cli_store, parse_range, read_text, show_percent)

# The attributes `segments update` can change, as the store names them, with their labels.
_SHOWN = (("name", "name"), ("description", "description"), ("tags", "tags"),
          ("expression", "expression"), ("range_from", "range"), ("range_to", "range"),
          ("maximum", "maximum"))


def _changed(before, after) -> list[str]:
    labels = [label for attribute, label in _SHOWN
              if getattr(before, attribute) != getattr(after, attribute)]
    return list(dict.fromkeys(labels))


def _definition_lines(segment) -> list[str]:
    maximum = segment.maximum if segment.maximum is not None else "none"
    return [f"  expression: {segment.expression or '(every contact)'}",
            f"  range: {show_percent(segment.range_from)}:{show_percent(segment.range_to)} %, "
            f"maximum: {maximum}",
            f"  tags: {', '.join(segment.tags) or '(none)'}"]


@segments_app.command("update")
def segments_update(
    segment_name: SegmentName,
    expression: Annotated[Optional[str], typer.Option(
        "--expression", metavar="EXPR", help="A new expression; - reads standard input.")] = None,
    new_name: Annotated[Optional[str], typer.Option("--name", metavar="NAME",
                                                    help="A new name.")] = None,
    description: Annotated[Optional[str], typer.Option(
        "--description", metavar="TEXT", help="A new description (\"\" removes it).")] = None,
    tags: Annotated[Optional[list[str]], typer.Option(
        "--tag", metavar="TAG", help="The new tags (repeat for more); they replace the old.")] = None,
    no_tags: Annotated[bool, typer.Option("--no-tags", help="Remove every tag.")] = False,
    range_text: Range = None,
    maximum: Maximum = None,
    no_maximum: Annotated[bool, typer.Option("--no-maximum", help="Remove the maximum.")] = False,
    note: Annotated[Optional[str], typer.Option(
        "--note", metavar="TEXT", help="Why: kept with the new version.")] = None,
    expected_version: Annotated[Optional[int], typer.Option(
        "--expected-version", metavar="N",
        help="Refuse the change if the segment is no longer at this version.")] = None,
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Change a segment's given attributes; a real change makes a new version (segments
    history lists them). Attributes not given stay as they are."""
    def settings() -> dict:
        given: dict = {}
        if expression is not None:
            given["expression"] = read_text(expression)
        if new_name is not None:
            given["name"] = new_name
        if description is not None:
            given["description"] = description or None
        if tags and no_tags:
            raise InputError("give either --tag or --no-tags, not both")
        if tags or no_tags:
            given["tags"] = list(tags or [])
        if range_text is not None:
            given["range_from"], given["range_to"] = parse_range(range_text)
        if maximum is not None and no_maximum:
            raise InputError("give either --maximum or --no-maximum, not both")
        if maximum is not None:
            given["maximum"] = maximum
        if no_maximum:
            given["maximum"] = None
        if not given:
            raise InputError("nothing to change: give --expression, --name, --description, "
                             "--tag, --no-tags, --range, --maximum or --no-maximum")
        return given

    async def work(given: dict):
        from store.segments import find_segment, update_segment

        async with open_cli_store(data_dir, mongo_uri) as store:
            before = await find_segment(store.db, database, segment_name)
            after = await update_segment(store.db, before.id, actor=actor(), note=note,
                                         expected_version=expected_version, **given)
            return before, after

    def run():
        before, after = asyncio.run(work(settings()))
        if after.version == before.version:
            typer.echo(f"segment {after.name} unchanged (version {after.version}): it has "
                       "these values already")
            return
        typer.echo(f"updated segment {after.name} to version {after.version} (changed: "
                   f"{', '.join(_changed(before, after))})")
        for line in _definition_lines(after):
            typer.echo(line)
    guarded(run)


@segments_app.command("clone")
def segments_clone(
    segment_name: SegmentName,
    new_name: Annotated[str, typer.Argument(metavar="NEW_NAME", help="The copy's name.")],
    database: Database = "main", data_dir: DataDir = None, mongo_uri: MongoUri = None,
) -> None:
    """Save a copy of a segment (its definition, tags and access groups) under a new name."""
    async def work():
        from store.segments import clone_segment, find_segment

        async with open_cli_store(data_dir, mongo_uri) as store:
            source = await find_segment(store.db, database, segment_name)
            return source, await clone_segment(store.db, source.id, new_name, actor=actor())

    def run():
        source, copy = asyncio.run(work())
        typer.echo(f"cloned segment {source.name} v{source.version} as {copy.name} "
                   f"(id {copy.id}, version {copy.version})")
    guarded(run)
