"""docs/language.md tells the truth: its examples parse, type-check, format and fail as shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsl.errors import SegmentSyntaxError
from dsl.formatter import format_expression
from dsl.parser import parse
from dsl.schema import FieldSchema
from dsl.typecheck import check

DOC = (Path(__file__).parents[2] / "docs" / "language.md").read_text("utf-8")
GRAMMAR = (Path(__file__).parents[2] / "grammar" / "segmentql.lark").read_text("utf-8")
BLOCKS = re.findall(r"^```(segmentql[\w-]*)\n(.*?)^```", DOC, re.M | re.S)

# The profile database the page's examples are written for (its first table).
SCHEMA = FieldSchema.from_json({
    "City": "text", "Country": "text", "Customer Status": "text", "Age": "number",
    "Orders": "number", "Signup": "date", "LastOrder": "date", "Newsletter": "boolean"})
LISTS = ["VIP"]


def blocks(kind: str) -> list[str]:
    return [body for name, body in BLOCKS if name == kind]


EXAMPLES = [line for body in blocks("segmentql") for line in body.splitlines() if line.strip()]
FORMATS = [pair for body in blocks("segmentql-format")
           for pair in re.findall(r"^(?!→ )(.+)\n→ (.+)$", body, re.M)]
ERRORS = [body.rstrip("\n").split("\n", 1) for body in blocks("segmentql-error")]


def test_the_page_has_examples_of_every_kind():
    assert len(EXAMPLES) > 80 and len(FORMATS) >= 5 and len(ERRORS) >= 10


@pytest.mark.parametrize("line", EXAMPLES)
def test_every_example_parses_and_fits_the_schema(line):
    tree = parse(line)
    assert [str(problem) for problem in check(tree, SCHEMA, source=line)] == []


@pytest.mark.parametrize("text, canonical", FORMATS)
def test_canonical_form_examples(text, canonical):
    assert format_expression(parse(text)) == canonical
    assert parse(canonical) == parse(text)


@pytest.mark.parametrize("text, shown", ERRORS)
def test_error_examples_are_the_real_errors(text, shown):
    try:
        tree = parse(text)
    except SegmentSyntaxError as error:
        assert str(error) == shown
        return
    problems = check(tree, SCHEMA, source=text, event_types=[], lists=LISTS)
    assert "\n".join(str(problem) for problem in problems) == shown


def test_the_keyword_list_is_the_grammars():
    listed = re.search(r"<!-- keywords -->\n```text\n(.*?)```", DOC, re.S).group(1).split()
    reserved = re.findall(r'^_?[A-Z_]+(?:\.\d)?: +"([a-z]+)"i$', GRAMMAR, re.M)
    assert sorted(listed) == sorted([*reserved, "doesn't"])
