"""What a segment is defined by, and the checks a definition passes before it is stored.

The versioned attributes (name, description, tags, access groups, expression, range,
maximum) form a `Definition`; every saved version keeps one whole. The expression arrives
as text or JSON form and is kept as both: the canonical text (what people read and diff)
and the JSON form (what `store.query.prepare` reads).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from dsl import ast
from dsl.formatter import format_expression
from dsl.json_codec import from_json, to_json
from dsl.parser import parse
from dsl.values import fold
from store.errors import StoreInputError
from store.offload import run_language

MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 5000
MAX_TAGS = 50
MAX_TAG_LENGTH = 100

# The attributes a version records, in the order a change lists them.
VERSIONED = ("name", "description", "tags", "access_groups", "expression", "range_from",
             "range_to", "maximum")


@dataclass(frozen=True)
class Definition:
    """The versioned attributes of a segment, already checked and normalised."""

    name: str
    description: str | None
    tags: tuple[str, ...]
    access_groups: tuple[str, ...]
    expression: str  # canonical text ("" selects every contact)
    json: dict
    range_from: float
    range_to: float
    maximum: int | None

    def to_document(self) -> dict:
        document = asdict(self)
        document["tags"] = list(self.tags)
        document["access_groups"] = list(self.access_groups)
        return document

    @classmethod
    def from_document(cls, document: dict) -> Definition:
        return cls(name=document["name"], description=document.get("description"),
                   tags=tuple(document.get("tags", ())),
                   access_groups=tuple(document.get("access_groups", ())),
                   expression=document["expression"], json=document["json"],
                   range_from=document.get("range_from", 0),
                   range_to=document.get("range_to", 100), maximum=document.get("maximum"))

    def changes_from(self, other: Definition) -> list[str]:
        """The attributes that differ from `other`, in VERSIONED order. The expression is
        compared by canonical text: the same condition written twice is no change."""
        return [name for name in VERSIONED if getattr(self, name) != getattr(other, name)]


# --- plain attributes ----------------------------------------------------------------------------

def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise StoreInputError(f"the {what} must be text, not {value!r}")
    bad = next((char for char in value if ord(char) < 32 or ord(char) == 127), None)
    if bad is not None:
        raise StoreInputError(f"the {what} {value[:40]!r} contains the control character "
                              f"{bad!r}", suggestion="use letters, digits, spaces and punctuation")
    return value.strip()


def normalize_name(name: object, what: str = "segment name") -> str:
    text = _text(name, what)
    if not text:
        raise StoreInputError(f"the {what} cannot be empty", suggestion="give it a name")
    if len(text) > MAX_NAME_LENGTH:
        raise StoreInputError(f"the {what} {text[:40]!r}... is {len(text)} characters long; "
                              f"the limit is {MAX_NAME_LENGTH}", suggestion="use a shorter name")
    return text


def normalize_description(description: object) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str):
        raise StoreInputError(f"the description must be text, not {description!r}")
    text = description.strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise StoreInputError(f"the description is {len(text)} characters long; the limit is "
                              f"{MAX_DESCRIPTION_LENGTH}")
    return text or None


def normalize_labels(values: Iterable[object] | None, what: str) -> tuple[str, ...]:
    """Tags or access groups: trimmed, non-empty, without repeats ignoring letter case (the
    first spelling wins)."""
    if values is None:
        return ()
    if isinstance(values, str):
        raise StoreInputError(f"{what}s must be a list of texts, not one text",
                              suggestion=f'write ["{values}"]')
    seen: dict[str, str] = {}
    for value in values:
        text = _text(value, what)
        if not text:
            raise StoreInputError(f"a {what} cannot be empty")
        if len(text) > MAX_TAG_LENGTH:
            raise StoreInputError(f"the {what} {text[:40]!r}... is longer than "
                                  f"{MAX_TAG_LENGTH} characters")
        seen.setdefault(fold(text), text)
    if len(seen) > MAX_TAGS:
        raise StoreInputError(f"at most {MAX_TAGS} {what}s, not {len(seen)}")
    return tuple(seen.values())


def _percent(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StoreInputError(f"the range {what} must be a number of percent, not {value!r}")
    if not 0 <= value <= 100:
        raise StoreInputError(f"the range {what} must be from 0 to 100 percent, not {value}")
    return value


def normalize_range(range_from: object, range_to: object) -> tuple[float, float]:
    low, high = _percent(range_from, "start"), _percent(range_to, "end")
    if low > high:
        raise StoreInputError(f"the range starts at {low} % after it ends at {high} %",
                              suggestion=f"write the range as {high}:{low}")
    return low, high


def normalize_maximum(maximum: object) -> int | None:
    if maximum is None:
        return None
    if isinstance(maximum, bool) or not isinstance(maximum, int) or maximum < 0:
        raise StoreInputError(f"the maximum must be a whole number of contacts, 0 or more, "
                              f"not {maximum!r}", suggestion="leave it empty for no maximum")
    return maximum


# --- the expression --------------------------------------------------------------------------------

def read_expression(expression: str | None, json: dict | str | bytes | None
                    ) -> tuple[ast.Expression, str | None]:
    """(AST, source text or None) of an expression given as text or as JSON form."""
    if (expression is None) == (json is None):
        raise StoreInputError("give the expression either as text or as JSON form",
                              suggestion="exactly one of expression and json")
    if expression is not None:
        if not isinstance(expression, str):
            raise StoreInputError(f"the expression must be text, not {expression!r}")
        return parse(expression), expression
    return from_json(json), None


def canonical(expr: ast.Expression) -> tuple[str, dict]:
    """(canonical text, JSON form) of a checked expression."""
    return format_expression(expr), to_json(expr)


async def parse_off_loop(text: str | None, form) -> tuple[ast.Expression, str | None]:
    """read_expression(text, form) off the event loop when it is long (store/offload.py):
    parsing is CPU work that must not hold up every other request meanwhile."""
    size = len(text) if isinstance(text, str) else len(str(form))
    return await run_language(size, read_expression, text, form)
