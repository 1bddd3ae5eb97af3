"""Every pass dispatches on the node's class from one table: each table covers every kind
of expression node, and a node a pass does not know is an error, never a guess (the
compiler once took any unknown node for a field condition)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing

import pytest

from dsl import ast, compiler, dependencies, evaluator, explain, formatter, next_change
from dsl.schema import FieldSchema

TABLES = {"formatter": formatter._FORMATTERS, "compiler": compiler._QUERIES,
          "evaluator": evaluator._HOLDS, "explain": explain._NODES,
          "reads": dependencies._READS, "next change": next_change._CHANGES,
          "time dependence": next_change._MOVES}
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)


def _union_members(union) -> set[type]:
    found = set()
    for member in typing.get_args(union):
        found |= _union_members(member) if typing.get_args(member) else {member}
    return found


def test_the_node_list_is_the_expression_union() -> None:
    assert set(ast.EXPRESSION_NODES) == _union_members(ast.Expression)


@pytest.mark.parametrize("name", TABLES)
def test_every_table_covers_every_node(name) -> None:
    missing = set(ast.EXPRESSION_NODES) - set(TABLES[name])
    assert not missing, f"{name} has no entry for {sorted(kind.__name__ for kind in missing)}"


@dataclasses.dataclass(frozen=True)
class Strange:
    """A node no pass knows."""

    span: ast.Span | None = None


def test_an_unknown_node_raises_on_every_pass() -> None:
    with pytest.raises(TypeError, match="Strange"):
        formatter.format_expression(Strange())
    with pytest.raises(TypeError, match="cannot compile a Strange node"):
        compiler.compile_segment(ast.And((Strange(), ast.MatchAll())), FieldSchema.from_json({}),
                                 database="main", now=NOW, events_collection="events")
    with pytest.raises(TypeError, match="cannot evaluate a Strange node"):
        evaluator.evaluate(Strange(), {"id": "c1", "fields": {}}, [], NOW)
    with pytest.raises(TypeError, match="cannot explain a Strange node"):
        explain.explain(Strange(), {"id": "c1", "fields": {}}, [], NOW)
    with pytest.raises(TypeError, match="cannot find what reads a Strange node"):
        dependencies.reads(ast.And((ast.InList("VIP"), Strange())))
    with pytest.raises(TypeError, match="Strange"):
        next_change.is_time_dependent(ast.Not(Strange()))
    with pytest.raises(TypeError, match="Strange"):
        next_change.next_change(ast.Or((Strange(), ast.MatchAll())), {"id": "c1", "fields": {}},
                                [], NOW)


def test_an_event_where_holds_only_attribute_conditions() -> None:
    """`where` tables of the passes that look inside it: the field conditions and and / or /
    not, nothing else (the parser and the JSON reader allow nothing else there)."""
    assert set(next_change._WHERE_BOUNDS) == {ast.And, ast.Or, ast.Not, *ast.FIELD_CONDITIONS}
    assert set(next_change._FIELD_BOUNDS) == set(ast.FIELD_CONDITIONS)
