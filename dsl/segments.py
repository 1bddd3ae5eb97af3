"""`in segment "X"`: replacing references by the referenced segments' current definitions.

The store looks the definitions up (by name or id) and hands them over as a mapping; the
inlining itself is pure. A reference cycle is an error that names the whole cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dsl import ast
from dsl.errors import SegmentTypeError


def referenced_segments(expr: ast.Expression) -> list[str]:
    """The segment references directly in `expr`, in order, without repeats."""
    refs = (node.ref for node in ast.walk(expr) if isinstance(node, ast.InSegment))
    return list(dict.fromkeys(refs))


def inline_segments(expr: ast.Expression, definitions: Mapping[str, ast.Expression], *,
                    names: Mapping[str, str] | None = None,
                    start: str | None = None) -> ast.Expression:
    """`expr` with every `in segment` replaced by its definition, transitively.

    `definitions` maps each reference (name or id) to the referenced expression; `names`
    maps a reference to its segment's display name (so `id` and name of one segment are
    recognised as the same segment in a cycle); `start` is the name of the segment being
    defined, when it has one (a segment that reaches itself is a cycle)."""
    names = names or {}

    def name_of(ref: str) -> str:
        return names.get(ref, ref)

    def inline(node: ast.Expression, path: tuple[str, ...]) -> ast.Expression:
        if isinstance(node, ast.InSegment):
            name = name_of(node.ref)
            if name in path:
                cycle = " → ".join((*path[path.index(name):], name))
                raise SegmentTypeError.at(node.span, f"segments refer to each other in a cycle: {cycle}",
                                          suggestion="remove one of these in segment references")
            if node.ref not in definitions:
                raise SegmentTypeError.at(node.span, f"no segment named {node.ref!r}")
            return inline(definitions[node.ref], (*path, name))
        if isinstance(node, (ast.And, ast.Or)):
            return replace(node, operands=tuple(inline(operand, path) for operand in node.operands))
        if isinstance(node, ast.Not):
            return replace(node, operand=inline(node.operand, path))
        return node

    return inline(expr, (start,) if start else ())
