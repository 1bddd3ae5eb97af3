"""The command line and GraphQL give the same answer and the same error for the same input:
both go through the one evaluation entry (store/query)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.graph.seed import NOW, load

PREVIEW = """query($expression: String!, $now: DateTime) {
  previewSegment(input: {expression: $expression, now: $now}) {
    count contacts { id } errors { message line column } } }"""

# Valid, and refused for every reason the language and the store have: syntax, types,
# unknown names (field, list, segment), bad dates.
INPUTS = [
    'City equals "krakow"',
    "Age between 25 and 50",
    'event MailClick occurred at least 2 times in last 30 days',
    'event product_purchased occurred where price > 100',
    'in list "VIP" and not (Newsletter is false)',
    'visited url contains "/pricing" in last 7 days',
    "",
    'in list "NoSuchList"',
    'in segment "No such segment"',
    'Citty equals "x"',
    "Age >",
    'Age equals "old"',
    "Signup after 2024-13-01",
]


@pytest.fixture(scope="module")
def seeded(graph):
    load(graph)
    return graph


def cli_eval(graph, expression: str):
    result = CliRunner().invoke(
        app, ["eval", expression, "--ids", "--now", NOW, "--mongo-uri", graph.settings.mongo_uri],
        env={"SEGMENTQL_MONGO_DB": graph.settings.db_name})
    return result


@pytest.mark.parametrize("expression", INPUTS)
def test_the_same_answer_and_error_on_both_paths(seeded, expression) -> None:
    answer = seeded.run(PREVIEW, {"expression": expression, "now": NOW})["previewSegment"]
    result = cli_eval(seeded, expression)
    if answer["errors"]:
        assert result.exit_code == 2, result.output
        for error in answer["errors"]:
            assert error["message"] in result.stderr, (error, result.stderr)
            if error["line"] is not None:
                assert f"line {error['line']}, column {error['column']}" in result.stderr
    else:
        assert result.exit_code == 0, result.output
        count, *ids = result.stdout.split()
        assert int(count) == answer["count"]
        assert ids == [contact["id"] for contact in answer["contacts"]]


def test_an_unknown_list_is_refused_on_the_command_line_too(seeded) -> None:
    """It printed 0 (and `check` said ok) where previewSegment refused it."""
    result = cli_eval(seeded, 'in list "NoSuchList"')
    assert result.exit_code == 2 and "NoSuchList" in result.stderr
    check = CliRunner().invoke(
        app, ["check", 'in list "NoSuchList"', "--mongo-uri", seeded.settings.mongo_uri],
        env={"SEGMENTQL_MONGO_DB": seeded.settings.db_name})
    assert check.exit_code == 2 and "NoSuchList" in check.stderr
