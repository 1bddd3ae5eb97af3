"""What an expression reads: the data whose change can change its answer (pure).

Live maintenance re-evaluates a written contact only against the segments that read what
the write touched: a field, an event type or a list. `in segment` must have been inlined
first (the referenced definition is what is read).
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl import ast
from dsl.consent import ADDRESS_FIELDS, CONSENT_EVENT_TYPES
from dsl.next_change import is_time_dependent

# A contact write that changes consent touches this name (store/contacts.py), as a field
# write touches the field's; the events that set consent or suppression are read too.
CONSENT_FIELD = "consent"


@dataclass(frozen=True)
class Reads:
    fields: frozenset[str]
    event_types: frozenset[str]
    lists: frozenset[str]
    # event types whose conditions need the events themselves (a `where`, a `between`
    # window, or a count within a window); for the others the contact's summary (count,
    # first, last) answers: see `summary_events`
    event_types_in_full: frozenset[str]
    time_dependent: bool
    # event types read through `in last N units`: the summary answers only while the
    # contact has no event later than `now`
    event_types_in_last: frozenset[str] = frozenset()

    def touched_by(self, *, fields=(), event_types=(), lists=()) -> bool:
        return (not self.fields.isdisjoint(fields) or not self.event_types.isdisjoint(event_types)
                or not self.lists.isdisjoint(lists))


def reads(expr: ast.Expression) -> Reads:
    fields: set[str] = set()
    event_types: set[str] = set()
    in_full: set[str] = set()
    in_last: set[str] = set()
    lists: set[str] = set()
    stack: list[ast.Expression] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.And, ast.Or)):
            stack.extend(node.operands)
        elif isinstance(node, ast.Not):
            stack.append(node.operand)
        elif isinstance(node, ast.EventCondition):
            event_types.add(node.event_type)
            if (node.where is not None or isinstance(node.window, ast.BetweenWindow)
                    or (node.count is not None and node.window is not None)):
                in_full.add(node.event_type)
            elif isinstance(node.window, ast.LastWindow):
                in_last.add(node.event_type)
        elif isinstance(node, ast.EventTotal):  # sums attribute values: the events themselves
            event_types.add(node.event_type)
            in_full.add(node.event_type)
        elif isinstance(node, ast.EventTime):  # first / last: the summary answers
            event_types.add(node.event_type)
        elif isinstance(node, ast.CanReceive):  # the address field, consent and suppression
            address = ADDRESS_FIELDS.get(node.channel.value)
            fields.update({CONSENT_FIELD} | ({address} if address else set()))
            event_types.update(CONSENT_EVENT_TYPES)
        elif isinstance(node, ast.InList):
            lists.add(node.name)
        elif isinstance(node, ast.InSegment):
            raise ValueError(f"in segment {node.ref!r} must be inlined first")
        elif isinstance(node, ast.FIELD_CONDITIONS):
            fields.add(node.field)
    return Reads(frozenset(fields), frozenset(event_types), frozenset(lists),
                 frozenset(in_full), is_time_dependent(expr), frozenset(in_last))


def summary_events(event_type: str, summary: dict) -> list[dict]:
    """Events standing in for a contact's events of one type, from its summary `{count,
    first, last}`: `count` events, the first at `first`, the others at `last`. For the
    conditions that need no events themselves (no `where`, no `between` window, no count
    within a window) they give the same answers and the same next changes as the real
    events, provided, for `in last` windows, that no event is later than `now`: whether
    some event is in `in last`/`since` comes down to `last`, in `before` to `first`, and a
    count without a window to `count`."""
    count = summary.get("count") or 0
    if not count:
        return []
    first = {"type": event_type, "time": summary["first"], "attributes": {}}
    return [first] + [{"type": event_type, "time": summary["last"], "attributes": {}}
                      for _ in range(count - 1)]
