"""`segmentql format`, `parse` and `check`: canonical text, JSON form, exit statuses."""

from __future__ import annotations

import orjson
import pytest

from dsl.json_codec import to_json
from dsl.parser import parse


def test_format_prints_the_canonical_form(offline):
    result = offline("format", 'city EQUALS "x" AND not in list "VIP"')
    assert result.exit_code == 0
    assert result.stdout == 'city equals "x" and not in list "VIP"\n'


def test_format_reads_standard_input(offline):
    result = offline("format", "-", input="Age>3\n")
    assert (result.exit_code, result.stdout) == (0, "Age > 3\n")


def test_format_from_json(offline):
    text = 'event MailClick occurred at least 3 times in last 30 days'
    payload = orjson.dumps(to_json(parse(text))).decode()
    result = offline("format", "--from-json", payload)
    assert (result.exit_code, result.stdout) == (0, text + "\n")


def test_parse_prints_the_json_form(offline):
    result = offline("parse", "Age > 3")
    assert result.exit_code == 0
    assert orjson.loads(result.stdout) == {"version": 1, "condition": {
        "field": "Age", "op": "gt", "value": 3}}


def test_a_syntax_error_exits_2_with_line_column_and_caret(offline):
    result = offline("format", 'City equals "Krakow" and\nAge >')
    assert result.exit_code == 2
    assert "line 2, column 6" in result.stderr and "^" in result.stderr
    assert result.stdout == ""


def test_a_bad_json_form_names_the_path(offline):
    result = offline("format", "--from-json", '{"version": 1, "condition": {"and": [1]}}')
    assert result.exit_code == 2
    assert "$.condition.and[0]" in result.stderr


def test_check_against_a_fields_file(offline, tmp_path):
    fields = tmp_path / "fields.json"
    fields.write_text('{"City": "text", "Age": "number"}')
    assert offline("check", 'City equals "x"', "--fields", str(fields)).stdout == "ok\n"
    result = offline("check", 'Citty equals "x" and Age starts with "1"', "--fields", str(fields))
    assert result.exit_code == 2
    assert "did you mean City?" in result.stderr
    assert "Age is a number field" in result.stderr  # every problem, not only the first


@pytest.mark.parametrize("args", [
    ["format", 'City equals "\udcff"'],        # an undecodable byte of argv, as Python gives it
    ["parse", 'City equals "\ud800"'],
    ["check", "`a\udc80` is true", "--fields", "{}"],
    ["format", "--from-json", '{"version": 1, "condition": {"field": "\udcff", "op": "has value"}}'],
])
def test_text_that_is_no_unicode_is_an_input_error(offline, args) -> None:
    result = offline(*args)
    assert result.exit_code == 2, result.output
    assert "UTF-8" in result.output or "surrogate" in result.output


def test_standard_input_that_is_not_utf8_is_an_input_error(offline) -> None:
    result = offline("format", "-", input=b'City equals "\xff"')
    assert result.exit_code == 2 and "not UTF-8" in result.output


def test_a_name_argument_that_is_no_unicode_is_refused_before_the_command(offline) -> None:
    result = offline("segments", "create", "bad\udcffname", "Age > 1")
    assert result.exit_code == 2 and "argument 3 is not UTF-8 text: byte 0xFF" in result.output
