"""The one table of field operators (SPEC §2): each operator's key (what the AST and the
type checker call it), its canonical words, the other spellings the grammar accepts, and
the field types that accept it.

The formatter prints the canonical words (numbers read best with symbols: `Age = 5`, text
and dates with words: `City equals "x"`); the type checker and completion offer and name
operators from here; the parser builds `ast.CompareOp` from the grammar's `op_*` rules,
named after the keys; tests/dsl/test_operators.py parses every spelling listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl.ast import CompareOp
from dsl.schema import FieldType

TEXT, NUMBER, DATE, BOOLEAN = FieldType.TEXT, FieldType.NUMBER, FieldType.DATE, FieldType.BOOLEAN
EVERY_TYPE = frozenset(FieldType)


@dataclass(frozen=True)
class Operator:
    key: CompareOp | str  # a CompareOp, or the words of a condition of its own (`in last`)
    words: str  # canonical
    types: frozenset[FieldType]
    aliases: tuple[str, ...] = ()  # other spellings
    number_words: str | None = None  # canonical in front of a number, when not `words`

    def words_for(self, field_type: FieldType) -> str:
        return self.number_words if field_type is NUMBER and self.number_words else self.words


OPERATOR_TABLE: tuple[Operator, ...] = (
    Operator(CompareOp.EQUALS, "equals", frozenset({TEXT, NUMBER, DATE}), ("=",),
             number_words="="),
    Operator(CompareOp.NOT_EQUALS, "is not equal to", frozenset({TEXT, NUMBER, DATE}),
             ("!=", "not equals"), number_words="!="),
    Operator(CompareOp.GT, ">", frozenset({NUMBER})),
    Operator(CompareOp.GTE, ">=", frozenset({NUMBER})),
    Operator(CompareOp.LT, "<", frozenset({NUMBER})),
    Operator(CompareOp.LTE, "<=", frozenset({NUMBER})),
    Operator(CompareOp.STARTS_WITH, "starts with", frozenset({TEXT})),
    Operator(CompareOp.ENDS_WITH, "ends with", frozenset({TEXT})),
    Operator(CompareOp.CONTAINS, "contains", frozenset({TEXT})),
    Operator(CompareOp.NOT_CONTAINS, "doesn't contain", frozenset({TEXT}),
             ("does not contain",)),
    Operator(CompareOp.BEFORE, "before", frozenset({DATE})),
    Operator(CompareOp.AFTER, "after", frozenset({DATE})),
    Operator("between", "between", frozenset({NUMBER, DATE})),
    Operator("in", "in", frozenset({TEXT, NUMBER})),
    Operator("not in", "not in", frozenset({TEXT, NUMBER})),
    Operator("in last", "in last", frozenset({DATE})),
    Operator("is true", "is true", frozenset({BOOLEAN})),
    Operator("is false", "is false", frozenset({BOOLEAN})),
    Operator("has value", "has value", EVERY_TYPE),
    Operator("has no value", "has no value", EVERY_TYPE),
)

BY_KEY = {operator.key: operator for operator in OPERATOR_TABLE}

# The operators each field type accepts, with their canonical words, in table order.
OPERATORS: dict[FieldType, dict[object, str]] = {
    field_type: {operator.key: operator.words_for(field_type) for operator in OPERATOR_TABLE
                 if field_type in operator.types}
    for field_type in FieldType
}


def words_of(key: object) -> str:
    """An operator's canonical words (outside any one field type)."""
    operator = BY_KEY.get(key)
    return operator.words if operator else str(key)
