"""The errors of the SegmentQL language: each one says what was wrong, where, and what to do.

`SegmentError` is the root. Syntax errors (and the limits on input size and nesting) are a
`SegmentSyntaxError`; schema problems are a `SegmentTypeError`; a bad JSON form is a
`SegmentJsonError` that names the JSON path.
"""

from __future__ import annotations

from dsl.ast import Span


class SegmentError(Exception):
    """A problem with a segment expression, with its position when it has one: line and
    column (1-based) for people, `start`/`end` (0-based offsets into the text) for editors.
    `code` names the kind for an API (graph/errors.py reads it)."""

    code = "TYPE"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        end_line: int | None = None,
        end_column: int | None = None,
        start: int | None = None,
        end: int | None = None,
        source: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.end_line = end_line if end_line is not None else line
        self.end_column = end_column if end_column is not None else column
        self.start = start
        self.end = end if end is not None else start
        self.suggestion = suggestion
        self.snippet = _snippet(source, line, column, self.end_line, self.end_column)

    @classmethod
    def at(cls, span: Span | None, message: str, *, source: str | None = None,
           suggestion: str | None = None) -> "SegmentError":
        if span is None:
            return cls(message, suggestion=suggestion)
        return cls(message, line=span.line, column=span.column, end_line=span.end_line,
                   end_column=span.end_column, start=span.start, end=span.end,
                   source=source, suggestion=suggestion)

    @property
    def span(self) -> Span | None:
        """Where the problem is, when both its line/column and its offsets are known."""
        if None in (self.line, self.column, self.start):
            return None
        return Span(self.line, self.column, self.end_line, self.end_column, self.start,
                    self.end)

    def with_source(self, source: str) -> "SegmentError":
        """Attach the source text, so the error shows the offending line with a caret."""
        if self.snippet is None:
            self.snippet = _snippet(source, self.line, self.column, self.end_line,
                                    self.end_column)
        return self

    def __str__(self) -> str:
        text = self.message
        if self.line is not None:
            text = f"line {self.line}, column {self.column}: {text}"
        if self.suggestion:
            text += f" ({self.suggestion})"
        if self.snippet:
            text += "\n" + self.snippet
        return text


class SegmentSyntaxError(SegmentError):
    """The text is not a SegmentQL expression."""

    code = "SYNTAX"


class SegmentLimitError(SegmentSyntaxError):
    """The text is too long or nested too deeply to be taken."""


class SegmentTypeError(SegmentError):
    """The expression does not fit the field schema (unknown field, wrong operator or value)."""


class SegmentJsonError(SegmentError):
    """A JSON form that is not a valid expression; `path` names where, like `$.condition.and[1]`."""

    code = "JSON"

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class SegmentErrors(Exception):
    """Several problems found at once (a type check reports them all).

    A plain class, not a frozen dataclass: Python must be able to set `__traceback__`
    (contextlib's context managers do) on any exception it re-raises.
    """

    def __init__(self, errors: tuple[SegmentError, ...]) -> None:
        super().__init__(errors)
        self.errors = tuple(errors)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


def _snippet(source: str | None, line: int | None, column: int | None,
             end_line: int | None, end_column: int | None) -> str | None:
    """The offending source line with a caret (or carets) under the problem."""
    if source is None or line is None or column is None:
        return None
    # Lines as the parser counts them: at "\n" only (splitlines() also splits at \f, \u2028...).
    lines = source.split("\n")
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1]
    # Long lines (machine-made expressions) are cut to a window around the column.
    start = max(0, column - 1 - 60)
    # Tabs and other spacing shown as one space each, so the caret stays under its column.
    shown = "".join(" " if char.isspace() else char for char in text[start:start + 120])
    width = 1
    if end_line == line and end_column is not None and end_column > column:
        width = end_column - column
    width = max(1, min(width, len(shown) - (column - 1 - start)))
    prefix = "..." if start else ""
    return f"  {prefix}{shown}\n  {' ' * (len(prefix) + column - 1 - start)}{'^' * width}"
