"""The operator table (dsl/operators.py) is what the parser, the formatter, the type checker
and completion read: every spelling it lists parses to its operator, prints back in its
canonical words, and is accepted exactly by the types it names."""

from __future__ import annotations

import pytest

from dsl import ast
from dsl.completion import CompletionContext, complete
from dsl.errors import SegmentErrors
from dsl.formatter import format_expression
from dsl.operators import OPERATOR_TABLE, OPERATORS
from dsl.parser import parse
from dsl.schema import FieldSchema, FieldType
from dsl.typecheck import require_valid

FIELDS = {FieldType.TEXT: ("City", '"x"'), FieldType.NUMBER: ("Age", "5"),
          FieldType.DATE: ("Signup", "2024-05-01")}
SCHEMA = FieldSchema.from_json({"City": "text", "Age": "number", "Signup": "date"})
COMPARISONS = [operator for operator in OPERATOR_TABLE
               if isinstance(operator.key, ast.CompareOp)]


@pytest.mark.parametrize("operator", COMPARISONS, ids=lambda operator: operator.words)
def test_every_spelling_parses_to_its_operator_and_prints_canonically(operator) -> None:
    for field_type in operator.types:
        field, value = FIELDS[field_type]
        for spelling in (operator.words, *operator.aliases):
            expr = parse(f"{field} {spelling} {value}")
            assert isinstance(expr, ast.Compare) and expr.op is operator.key
            assert format_expression(expr) == \
                f"{field} {operator.words_for(field_type)} {value}"
            require_valid(expr, SCHEMA)


@pytest.mark.parametrize("operator", COMPARISONS, ids=lambda operator: operator.words)
def test_the_types_an_operator_does_not_name_refuse_it(operator) -> None:
    for field_type, (field, value) in FIELDS.items():
        if field_type in operator.types:
            continue
        with pytest.raises(SegmentErrors):
            require_valid(parse(f"{field} {operator.words} {value}"), SCHEMA)


@pytest.mark.parametrize("field_type", list(FIELDS))
def test_completion_offers_the_table_for_the_type(field_type) -> None:
    field, _ = FIELDS[field_type]
    text = f"{field} "
    offered = {suggestion.label
               for suggestion in complete(text, len(text), CompletionContext(SCHEMA))}
    for key, words in OPERATORS[field_type].items():
        assert any(label.startswith(words) for label in offered), (field_type, words, offered)
