"""Golden tests: each construct compiles to the pipeline reviewed in golden/pipelines.json.

After a deliberate compiler change, regenerate with SEGMENTQL_UPDATE_GOLDEN=1 and review
the diff like code.
"""

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from bson import json_util

from dsl.compiler import compile_segment
from dsl.parser import parse
from dsl.schema import FieldDef, FieldSchema, FieldType

HERE = Path(__file__).parent / "golden"
NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
SCHEMA = FieldSchema([FieldDef("City", FieldType.TEXT), FieldDef("Age", FieldType.NUMBER),
                      FieldDef("Signup", FieldType.DATE), FieldDef("Newsletter", FieldType.BOOLEAN)])
EXPRESSIONS = [line for line in (HERE / "expressions.txt").read_text("utf-8").splitlines()
               if line.strip() and not line.startswith("#")]


def compiled(text: str) -> object:
    pipeline = compile_segment(parse(text), SCHEMA, database="main", now=NOW,
                               events_collection="events")
    return json.loads(json_util.dumps(pipeline, json_options=json_util.CANONICAL_JSON_OPTIONS))


def test_golden_file_covers_every_expression():
    if os.environ.get("SEGMENTQL_UPDATE_GOLDEN"):
        golden = {text: compiled(text) for text in EXPRESSIONS}
        (HERE / "pipelines.json").write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")
    golden = json.loads((HERE / "pipelines.json").read_text("utf-8"))
    assert sorted(golden) == sorted(EXPRESSIONS)


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_pipeline_matches_golden(text):
    golden = json.loads((HERE / "pipelines.json").read_text("utf-8"))
    assert compiled(text) == golden[text]


def test_range_and_maximum_stages():
    pipeline = compile_segment(parse('City has value'), SCHEMA, database="main", now=NOW,
                               events_collection="events",
                               range_from=20, range_to=40, maximum=10)
    assert pipeline[0]["$match"]["bucket"] == {"$gte": 2000, "$lt": 4000}
    assert pipeline[-2:] == [{"$sort": {"bucket": 1, "_id": 1}}, {"$limit": 10}]


def test_user_text_is_escaped_before_regex():
    pipeline = compile_segment(parse('City starts with "a.*(b"'), SCHEMA, database="main", now=NOW,
                               events_collection="events")
    assert pipeline[0]["$match"]["folded.City"] == {"$regex": r"^a\.\*\(b"}


def _first_stages(text: str, **options) -> list[dict]:
    pipeline = compile_segment(parse(text), SCHEMA, database="main", now=NOW,
                               events_collection="events", **options)
    return [stage["$match"] for stage in pipeline if "$match" in stage][:2]


def test_the_first_match_holds_one_index_keys_and_the_rest_follows():
    # SecantusDB uses an index only for a $match its keys cover entirely
    # (docs/compatibility.md); MongoDB coalesces the two stages into one.
    first, rest = _first_stages('City equals "Krakow" and event MailClick occurred in last 30 days')
    assert list(first) == ["database", "folded.City"] and first["folded.City"] == "krakow"
    assert set(rest) == {"events.MailClick.last", "events.MailClick.first"}


def test_the_index_led_with_narrows_its_range():
    # `is not equal to` ($nor) and `has value` ($nin) read most of an index: the next
    # condition leads
    first, rest = _first_stages('City is not equal to "Krakow" and Age > 30')
    assert first == {"database": "main", "fields.Age": {"$gt": 30}}
    assert set(rest) == {"$nor"}
    first, rest = _first_stages('City contains "ra" and Age > 30')
    assert list(first) == ["database", "fields.Age"]
    # nothing narrows: one stage, as before
    assert [list(stage) for stage in _first_stages('Age has value and City has value')] \
        == [["database", "$and"]]


def test_a_bucket_range_leads_before_any_field():
    first, rest = _first_stages('City equals "Krakow"', range_from=20, range_to=40)
    assert first == {"database": "main", "bucket": {"$gte": 2000, "$lt": 4000}}
    assert rest == {"folded.City": "krakow"}
