"""AST → one MongoDB aggregation pipeline over the contacts collection.

The pipeline has this shape (docs/compiler.md explains it with examples):

1. `$match`: the profile database, the range's buckets, and the *prefilter*: a necessary
   condition of the expression made of index-friendly field and summary conditions. When
   no event condition needs the events collection, this is the whole expression and the
   pipeline ends here (plus the maximum).
2. For each event condition the per-contact summary cannot answer (a `where`, a counted
   window, or a window the summary leaves undecided), a `$lookup` into `events` by the
   indexed `(contact, type, time)` key. Its join key is the contact's `_id` only where the
   summary says such events can exist, and null elsewhere, so contacts whose summary
   already decides the answer examine no event at all.
3. `$match`: the exact expression, reading the looked-up counts.
4. The maximum: `$sort` by bucket then `_id`, and `$limit`.

Every value comes from the AST through `dsl.values`/`dsl.temporal` (the same rules the
reference evaluator uses); names come from the checked schema, never from raw text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dsl import ast, temporal
from dsl.consent import can_receive_query
from dsl.evaluator import count_matches, value_matches
from dsl.schema import FieldSchema, FieldType
from dsl.temporal import UTC, Zone
from dsl.typecheck import require_valid
from dsl.values import (bucket_bounds, field_index_path, fold, is_summary_index_path,
                        summary_key)

MAXIMUM_ORDER = {"bucket": 1, "_id": 1}
_NEGATED = {ast.CompareOp.NOT_EQUALS: ast.CompareOp.EQUALS,
            ast.CompareOp.NOT_CONTAINS: ast.CompareOp.CONTAINS}
_NUMBER_OPS = {ast.CompareOp.GT: "$gt", ast.CompareOp.GTE: "$gte", ast.CompareOp.LT: "$lt",
               ast.CompareOp.LTE: "$lte"}
_END = r"(?![\s\S])"  # end of text; `$` would also match before a final newline
_NOTHING = {"_id": {"$exists": False}}  # a query no document matches
_EARLIEST = dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc)  # before any stored time


_ACCUMULATORS = {ast.Aggregate.SUM: "$sum", ast.Aggregate.AVERAGE: "$avg",
                 ast.Aggregate.MINIMUM: "$min", ast.Aggregate.MAXIMUM: "$max"}


@dataclass(frozen=True)
class EventCounts:
    """An event condition's `events` aggregation for a semi-join (see `event_count_queries`):
    `pipeline` over the events collection yields `{_id: <contact key>, n: <matching events>}`
    for every contact with at least one matching event (for a total, `n` is the total)."""

    index: int
    pipeline: list[dict]


def event_count_queries(expr: ast.Expression, schema: FieldSchema, *, database: str,
                        now: dt.datetime | None = None,
                        latest_events: Mapping[str, dt.datetime | None] | None = None,
                        zone: Zone = UTC, checked: bool = False) -> list[EventCounts]:
    """The event conditions that `compile_segment` (same arguments) would join, each as an
    aggregation over `events` counting each contact's matching events.

    A caller that runs them can hand the counts back to `compile_segment` as `event_counts`
    (index → {contact key: n}): each such condition then becomes a `_id` test in the first
    `$match` instead of a `$lookup` per candidate contact: one indexed pass over the
    condition's events (`database, type, time`) instead of one join per contact.
    `checked`: the caller has type-checked `expr` against `schema` already."""
    if not checked:
        require_valid(expr, schema)
    compiler = _Compiler(schema, temporal.normalize_now(now), latest_events or {}, zone=zone)
    compiler.query(expr)
    return [EventCounts(lookup.index, [
        *_split_match(_and({"database": database}, lookup.events_match),
                      ("database", "type", "time")),
        {"$group": {"_id": "$contact", "n": lookup.accumulator}}]) for lookup in compiler.lookups]


def _conjuncts(query: dict) -> list[dict]:
    """The parts of a query that must all hold (`$and` lists flattened)."""
    plain = {key: value for key, value in query.items() if key != "$and"}
    parts = [plain] if plain else []
    for part in query.get("$and", ()):
        parts.extend(_conjuncts(part))
    return parts


def _indexed_path(path: str, schema: FieldSchema) -> bool:
    """Whether the store may keep a `(database, path)` index on contacts: a declared
    field's, `lists`, an event type's summary's (dsl/values.py names them)."""
    kind, _, name = path.partition(".")
    if kind in ("fields", "folded"):
        field = schema.get(name)
        return field is not None and \
            path == field_index_path(name, field.type is FieldType.TEXT)
    return path == "lists" or is_summary_index_path(path)


def _contacts_index(query: dict, schema: FieldSchema) -> tuple[str, ...]:
    """The keys of the contacts index a `$match` of `query` should lead with: the counted
    contacts' `_id`s; else the bucket range (a sample or a share of the contacts, bounded);
    else the database and the first indexed path the conditions test, in the expression's
    order, with a test that narrows it."""
    tests = [(key, test) for part in _conjuncts(query) for key, test in part.items()]
    keys = {key for key, _ in tests}
    if "_id" in keys:
        return ("_id",)
    if "bucket" in keys:
        return ("database", "bucket")
    indexed = next((key for key, test in tests
                    if _indexed_path(key, schema) and _narrows(test)), None)
    return ("database", indexed) if indexed else ()


_NARROWING = frozenset({"$eq", "$in", "$gt", "$gte", "$lt", "$lte"})


def _narrows(test: object) -> bool:
    """Whether a test reads a short range of its index: a value, bounds, an anchored
    pattern; not `$nin`, `$ne` or an unanchored pattern, which read most of it."""
    if not isinstance(test, dict) or not any(str(key).startswith("$") for key in test):
        return True
    pattern = test.get("$regex")
    if pattern is not None:
        return set(test) <= {"$regex", "$options"} and str(pattern).startswith("^")
    return set(test) <= _NARROWING


def _split_match(query: dict, indexed: tuple[str, ...]) -> list[dict]:
    """`{"$match": query}` as two stages when it mixes the keys of an index with other
    conditions: first the index's keys, then the rest. MongoDB coalesces adjacent `$match`
    stages into one, so the meaning and the plan are the same there; SecantusDB uses an
    index only for a `$match` its keys cover entirely (docs/compatibility.md)."""
    leading: dict = {}
    rest: list[dict] = []
    for part in _conjuncts(query):
        keys = [key for key in indexed if key in part]  # in the index's order
        if keys and not set(keys) & set(leading):
            leading.update({key: part[key] for key in keys})
            part = {key: value for key, value in part.items() if key not in keys}
        if part:
            rest.append(part)
    if not leading or not rest:
        return [{"$match": query}]
    return [{"$match": leading}, {"$match": _and(*rest)}]


def _contacts_match(query: dict, schema: FieldSchema) -> list[dict]:
    return _split_match(query, _contacts_index(query, schema))


def compile_segment(expr: ast.Expression, schema: FieldSchema, *, database: str,
                    now: dt.datetime | None = None, range_from: float = 0,
                    range_to: float = 100, maximum: int | None = None,
                    latest_events: Mapping[str, dt.datetime | None] | None = None,
                    event_counts: Mapping[int, Mapping[str, int]] | None = None,
                    zone: Zone = UTC, events_collection: str, checked: bool = False
                    ) -> list[dict]:
    """The pipeline selecting the segment's members (whole contact documents).

    `expr` must have its `in segment` references inlined; it is type-checked here, so
    every field name that reaches the pipeline is a declared field. `latest_events` maps
    an event type to the time of its latest stored event (None: there is none), when the
    caller knows it: a window that ends at or after it leaves no contact undecided, so its
    condition is answered from the summaries alone. `event_counts` gives, for some of the
    conditions of `event_count_queries`, every contact key with its number of matching
    events (contacts not listed have none); those are tested on `_id`, the others joined
    from `events_collection` (the store names its collections). `checked`: the caller has
    type-checked `expr` against `schema` already (store/query/prepare.py does, once)."""
    if not checked:
        require_valid(expr, schema)
    now = temporal.normalize_now(now)
    compiler = _Compiler(schema, now, latest_events or {}, event_counts or {}, zone=zone)
    exact = compiler.query(expr)

    first: dict = {"database": database}
    low, high = bucket_bounds(range_from, range_to)
    if (low, high) != (0, 10_000):
        first["bucket"] = {"$gte": low, "$lt": high}
    if not compiler.lookups:
        pipeline = _contacts_match(_and(first, exact), schema)
    else:
        pipeline = _contacts_match(_and(first, compiler.prefilter(expr)), schema)
        pipeline.append({"$addFields": {lookup.key: lookup.key_expression
                                        for lookup in compiler.lookups}})
        pipeline.extend(lookup.stage(events_collection) for lookup in compiler.lookups)
        pipeline.append({"$addFields": {lookup.count: lookup.value_expression()
                                        for lookup in compiler.lookups}})
        pipeline.append({"$match": exact})
        pipeline.append({"$project": {name: 0 for lookup in compiler.lookups
                                      for name in (lookup.key, lookup.count)}})
    return pipeline + maximum_stages(maximum)


def maximum_stages(maximum: int | None) -> list[dict]:
    """The stages that end a pipeline with a maximum: the first `maximum` members in the
    maximum's order (bucket, then `_id`)."""
    if maximum is None:
        return []
    if maximum < 0:
        raise ValueError("the maximum cannot be negative")
    return [{"$sort": dict(MAXIMUM_ORDER)}, {"$limit": maximum}] if maximum else \
        [{"$match": dict(_NOTHING)}]


def _and(*queries: dict) -> dict:
    parts = [query for query in queries if query]
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    merged: dict = {}
    for part in parts:  # merge when keys do not collide; else an explicit $and
        if merged.keys() & part.keys():
            return {"$and": parts}
        merged.update(part)
    return merged


def _not(query: dict) -> dict:
    return {"$nor": [query]} if query else dict(_NOTHING)


def _interval_query(interval: temporal.Interval) -> dict:
    """The bounds of an interval of dates. An unbounded one (`between 0001-01-01 and
    9999-12-31`) still asks for a date value: `$gte` the earliest time (`{path: {}}` would
    wrongly mean "equals an empty document")."""
    if interval.lower is None and interval.upper is None:
        return {"$gte": _EARLIEST}
    bounds = {}
    if interval.lower is not None:
        bounds["$gte" if interval.lower_inclusive else "$gt"] = interval.lower
    if interval.upper is not None:
        bounds["$lte" if interval.upper_inclusive else "$lt"] = interval.upper
    return bounds


@dataclass
class _Lookup:
    """An event condition answered by joining the events collection."""

    index: int
    events_match: dict  # the $match on events (type, time window, where)
    key_expression: dict  # `$_id` where the summary says events can exist, else null
    limit: int  # counting past this changes no answer
    total: ast.EventTotal | None = None  # a total's lookup sums (...) instead of counting
    key: str = field(init=False)
    count: str = field(init=False)

    def __post_init__(self) -> None:
        self.key, self.count = f"_k{self.index}", f"_e{self.index}"

    @property
    def accumulator(self) -> dict:
        """The `$group` accumulator of one contact's matching events."""
        if self.total is None:
            return {"$sum": 1}
        return {_ACCUMULATORS[self.total.aggregate]: f"$attributes.{self.total.attribute}"}

    def stage(self, events_collection: str) -> dict:
        if self.total is None:
            pipeline = [{"$match": self.events_match}, {"$limit": self.limit},
                        {"$project": {"_id": 1}}]
        else:
            pipeline = [{"$match": self.events_match},
                        {"$group": {"_id": None, "n": self.accumulator}}]
        return {"$lookup": {"from": events_collection, "localField": self.key,
                            "foreignField": "contact", "pipeline": pipeline, "as": self.count}}

    def value_expression(self) -> dict:
        """The looked-up array as the number the condition tests: the count of events, or
        the total (a sum of no events is 0; the other totals of none are null: no value)."""
        if self.total is None:
            return {"$size": f"${self.count}"}
        # The lookup holds at most one row, `{n: total}`. `$reduce` reads it, and an empty
        # lookup leaves the initial value: SecantusDB reads no `"$array.field"` path inside
        # an expression (docs/compatibility.md).
        return {"$reduce": {"input": f"${self.count}", "initialValue": _empty_total(self.total),
                            "in": "$$this.n"}}


class _Compiler:
    def __init__(self, schema: FieldSchema, now: dt.datetime,
                 latest_events: Mapping[str, dt.datetime | None],
                 event_counts: Mapping[int, Mapping[str, int]] | None = None, *,
                 zone: Zone = UTC) -> None:
        self.schema = schema
        self.now = now
        self.zone = zone
        self.latest_events = latest_events
        self.event_counts = event_counts or {}
        self.lookups: list[_Lookup] = []  # joined: each one a $lookup stage
        self._lookup_of: dict[int, _Lookup] = {}  # by id() of the node, counted ones too
        self._numbered = 0

    # --- the exact query -------------------------------------------------------------
    def query(self, node: ast.Expression) -> dict:
        return ast.dispatch(_QUERIES, node, "compile")(self, node)

    def _all_of(self, node: ast.And) -> dict:
        return {"$and": [self.query(operand) for operand in node.operands]}

    def _any_of(self, node: ast.Or) -> dict:
        return {"$or": [self.query(operand) for operand in node.operands]}

    def _negation(self, node: ast.Not) -> dict:
        return _not(self.query(node.operand))

    def _everyone(self, node: ast.MatchAll) -> dict:
        return {}

    def _in_list(self, node: ast.InList) -> dict:
        return {"lists": node.name}

    def _in_segment(self, node: ast.InSegment) -> dict:
        raise ValueError(f"in segment {node.ref!r} must be inlined before compiling")

    def _event_time(self, node: ast.EventTime) -> dict:
        path = f"events.{summary_key(node.event_type)}.{node.edge.value}"
        return field_query(node.test, path, path, FieldType.DATE, self.now, self.zone)

    def _can_receive(self, node: ast.CanReceive) -> dict:
        query = can_receive_query(node.channel.value)
        return _not(query) if node.negated else query

    def _field(self, node: ast.FieldCondition) -> dict:
        field_type = self.schema.get(node.field).type
        return field_query(node, f"fields.{node.field}", f"folded.{node.field}",
                           field_type, self.now, self.zone)

    # --- events ------------------------------------------------------------------------
    def total_query(self, node: ast.EventTotal) -> dict:
        """A total is computed on the events side: counted per contact (semi-join) or
        joined; contacts whose summary rules out a matching event take the empty total."""
        summary = f"events.{summary_key(node.event_type)}"
        window = temporal.window_interval(node.window, self.now, self.zone)
        lookup = self._lookup(node, summary, window)
        return self._counted(lookup, lambda total: self.total_holds(node, total),
                             field_query(node.test, lookup.count, lookup.count,
                                         FieldType.NUMBER, self.now, self.zone),
                             empty=_empty_total(node))

    def total_holds(self, node: ast.EventTotal, total) -> bool:
        return value_matches(node.test, total, self.now, self.zone)

    def event_query(self, node: ast.EventCondition) -> dict:
        summary = f"events.{summary_key(node.event_type)}"
        window = temporal.window_interval(node.window, self.now, self.zone)
        if node.where is None and node.window is None:  # the summary's count is exact
            return _count_query(node, f"{summary}.count")
        if _minimum(node) == 0 and node.occurred and node.count.op is ast.CountOp.AT_LEAST:
            return {}  # at least 0 times: always
        exists = _existence(node)
        if node.where is None and exists is not None:
            occurred = self._summary_window(node, summary, window)
            return occurred if exists else _not(occurred)
        lookup = self._lookup(node, summary, window)
        return self._counted(lookup, lambda n: count_matches(node, n),
                             _count_query(node, lookup.count))

    def _summary_window(self, node: ast.EventCondition, summary: str,
                        window: temporal.Interval) -> dict:
        """"At least one event in the window" from first/last alone, where that is exact.

        Since D ⇔ last in window; before D ⇔ first in window. A bounded window holds an
        event if first or last falls in it, holds none if it lies outside [first, last],
        and is undecided only when first < window < last: those contacts are joined."""
        first, last = f"{summary}.first", f"{summary}.last"
        if window.lower is not None and self._nothing_after(node.event_type, window):
            window = temporal.Interval(window.lower, window.lower_inclusive)  # last <= upper
        if window.upper is None:
            return {last: _interval_query(window)}
        if window.lower is None:
            return {first: _interval_query(window)}
        undecided = {first: _below(window), last: _above(window)}
        lookup = self._lookup(node, summary, window, key_when=undecided)
        some = self._counted(lookup, lambda n: n >= 1, {lookup.count: {"$gte": 1}})
        return {"$or": [{last: _interval_query(window)}, {first: _interval_query(window)},
                        _and(undecided, some)]}

    def _counted(self, lookup: _Lookup, holds: Callable[[int], bool], joined: dict,
                 empty: object = 0) -> dict:
        """The test on a condition's number of matching events (or total): `joined` (on the
        looked-up value) for a joined condition; for a counted one, on the contact's `_id`.
        `empty` is the value of a contact without matching events."""
        counts = self.event_counts.get(lookup.index)
        if counts is None:
            return joined
        if holds(empty):  # contacts without matching events hold: exclude those that do not
            return _not({"_id": {"$in": sorted(key for key, n in counts.items()
                                               if not holds(n))}})
        return {"_id": {"$in": sorted(key for key, n in counts.items() if holds(n))}}

    def _nothing_after(self, event_type: str, window: temporal.Interval) -> bool:
        """No stored event of this type lies after the window (its latest time is known)."""
        if window.upper is None or event_type not in self.latest_events:
            return False
        latest = self.latest_events[event_type]
        return latest is None or latest < window.upper or (
            latest == window.upper and window.upper_inclusive)

    def _lookup(self, node: ast.EventCondition | ast.EventTotal, summary: str,
                window: temporal.Interval, key_when: dict | None = None) -> _Lookup:
        if id(node) in self._lookup_of:
            return self._lookup_of[id(node)]
        events: dict = {"type": node.event_type}
        if window != temporal.Interval():
            events["time"] = _interval_query(window)
        total = node if isinstance(node, ast.EventTotal) else None
        if node.where is not None:
            events = _and(events, self.where_query(node.where))
        if total is not None:  # values that are not numbers are ignored, by every total
            events = _and(events, {f"attributes.{total.attribute}": {"$type": "number"}})
        if key_when is None:  # events can exist in the window only if the summary says so
            key_when = _possible(summary, window, 1)
        # numbered in the order met, counted or not: the same numbers in every compilation
        lookup = _Lookup(self._numbered, events, _key_expression(key_when),
                         1 if total else _count_limit(node), total)
        self._numbered += 1
        if lookup.index not in self.event_counts:
            self.lookups.append(lookup)
        self._lookup_of[id(node)] = lookup
        return lookup

    def where_query(self, node: ast.Expression) -> dict:
        if isinstance(node, ast.And):
            return {"$and": [self.where_query(operand) for operand in node.operands]}
        if isinstance(node, ast.Or):
            return {"$or": [self.where_query(operand) for operand in node.operands]}
        if isinstance(node, ast.Not):
            return _not(self.where_query(node.operand))
        return field_query(node, f"attributes.{node.field}", f"folded.{node.field}",
                           attribute_type(node), self.now, self.zone)

    # --- the prefilter: a necessary, index-friendly condition -------------------------------
    def prefilter(self, node: ast.Expression) -> dict:
        if not self._needs_lookup(node):
            return self.query(node)
        if isinstance(node, ast.And):
            return _and(*(self.prefilter(operand) for operand in node.operands))
        if isinstance(node, ast.Or):
            parts = [self.prefilter(operand) for operand in node.operands]
            return {"$or": parts} if all(parts) else {}
        if isinstance(node, ast.EventCondition) and _minimum(node) >= 1:
            return _possible(f"events.{summary_key(node.event_type)}",
                             temporal.window_interval(node.window, self.now, self.zone),
                             _minimum(node))
        if isinstance(node, ast.EventTotal) and not self.total_holds(node, _empty_total(node)):
            return _possible(f"events.{summary_key(node.event_type)}",
                             temporal.window_interval(node.window, self.now, self.zone), 1)
        return {}

    def _needs_lookup(self, node: ast.Expression) -> bool:
        return any(id(inner) in self._lookup_of
                   and self._lookup_of[id(inner)].index not in self.event_counts
                   for inner in ast.walk(node))


_QUERIES = {ast.And: _Compiler._all_of, ast.Or: _Compiler._any_of, ast.Not: _Compiler._negation,
            ast.MatchAll: _Compiler._everyone, ast.InList: _Compiler._in_list,
            ast.InSegment: _Compiler._in_segment, ast.EventCondition: _Compiler.event_query,
            ast.EventTotal: _Compiler.total_query, ast.EventTime: _Compiler._event_time,
            ast.CanReceive: _Compiler._can_receive,
            **{kind: _Compiler._field for kind in ast.FIELD_CONDITIONS}}


def _empty_total(node: ast.EventTotal) -> int | None:
    """A total over no (numeric) events: a sum of 0; the others have no value."""
    return 0 if node.aggregate is ast.Aggregate.SUM else None


def _possible(summary: str, window: temporal.Interval, times: int) -> dict:
    """What the summary must say for `times` (>= 1) events in the window to be possible.

    `last` leads: it exists exactly when the count is at least 1, and it is the indexed
    summary field, so this is an index range even without a window."""
    possible = {f"{summary}.last": {"$gte": _EARLIEST}}
    if window.lower is not None:
        possible[f"{summary}.last"] = _interval_query(
            temporal.Interval(window.lower, window.lower_inclusive))
    if window.upper is not None:
        possible[f"{summary}.first"] = _interval_query(
            temporal.Interval(upper=window.upper, upper_inclusive=window.upper_inclusive))
    if times > 1:
        possible[f"{summary}.count"] = {"$gte": times}
    return possible


def _below(window: temporal.Interval) -> dict:
    return {"$lt" if window.lower_inclusive else "$lte": window.lower}


def _above(window: temporal.Interval) -> dict:
    return {"$gt" if window.upper_inclusive else "$gte": window.upper}


def _key_expression(condition: dict) -> dict:
    """`$_id` when the summary fields satisfy `condition` (simple bounds only), else null."""
    tests = [{operator: [f"${path}", bound]} for path, bounds in condition.items()
             for operator, bound in bounds.items()]
    # An aggregation comparison puts a missing field below every number and date.
    return {"$cond": [{"$and": tests}, "$_id", None]}


def _existence(node: ast.EventCondition) -> bool | None:
    """True when the condition means "at least one event", False when it means "no event",
    None for any other count."""
    if not node.occurred:
        return False
    if node.count is None:
        return True
    if node.count.op is ast.CountOp.AT_LEAST and node.count.times == 1:
        return True
    if node.count.op is not ast.CountOp.AT_LEAST and node.count.times == 0:
        return False
    return None


def _minimum(node: ast.EventCondition) -> int:
    """The fewest matching events the condition can hold with (0: it holds with none)."""
    if not node.occurred:
        return 0
    if node.count is None:
        return 1
    return 0 if node.count.op is ast.CountOp.AT_MOST else node.count.times


def _count_limit(node: ast.EventCondition) -> int:
    """Counting events beyond this number cannot change the answer."""
    if not node.occurred or node.count is None:
        return 1
    return node.count.times + (0 if node.count.op is ast.CountOp.AT_LEAST else 1) or 1


def _count_query(node: ast.EventCondition, path: str) -> dict:
    """The condition on the number of matching events stored at `path` (missing = 0)."""
    if not node.occurred:
        return _not({path: {"$gte": 1}})
    if node.count is None:
        return {path: {"$gte": 1}}
    times = node.count.times
    if node.count.op is ast.CountOp.AT_LEAST:
        return {path: {"$gte": times}} if times else {}
    if node.count.op is ast.CountOp.AT_MOST:
        return _not({path: {"$gt": times}})
    return {path: times} if times else _not({path: {"$gte": 1}})


def attribute_type(node: ast.FieldCondition) -> FieldType | None:
    """An event attribute's type is the type of the literal it is compared with."""
    if isinstance(node, ast.IsBool):
        return FieldType.BOOLEAN
    if isinstance(node, ast.InLast):
        return FieldType.DATE
    literal = (node.value if isinstance(node, ast.Compare) else node.low
               if isinstance(node, ast.Between) else node.values[0]
               if isinstance(node, ast.InValues) else None)
    if isinstance(literal, ast.String):
        return FieldType.TEXT
    if isinstance(literal, ast.Number):
        return FieldType.NUMBER
    if isinstance(literal, ast.DATE_LITERALS):
        return FieldType.DATE
    return None  # has value / has no value: any type


def _equals(path: str, folded: str, literal: ast.Literal, now: dt.datetime, zone: Zone) -> dict:
    if isinstance(literal, ast.String):
        return {folded: fold(literal.value)}
    if isinstance(literal, ast.Number):
        return {path: literal.value}
    return {path: _interval_query(temporal.equals_interval(literal, now, zone))}


def field_query(node: ast.FieldCondition, path: str, folded: str,
                field_type: FieldType | None, now: dt.datetime, zone: Zone = UTC) -> dict:
    """One field (or event attribute) condition as a query on `path`; text operators read
    the casefolded copy at `folded`."""
    if isinstance(node, ast.HasValue):
        present = {path: {"$nin": [None, ""]}}
        return present if node.present else {path: {"$in": [None, ""]}}
    if isinstance(node, ast.IsBool):
        return {path: node.value}
    if isinstance(node, ast.InLast):
        return {path: _interval_query(temporal.last_interval(node.amount, node.unit, now, zone))}
    if isinstance(node, ast.InValues):
        if field_type is FieldType.TEXT:
            found = {folded: {"$in": [fold(value.value) for value in node.values]}}
        else:  # numbers: `in` is not an operator of dates or booleans
            found = {path: {"$in": [value.value for value in node.values]}}
        return _not(found) if node.negated else found
    if isinstance(node, ast.Between):
        if field_type is FieldType.NUMBER:
            return {path: {"$gte": node.low.value, "$lte": node.high.value}}
        return {path: _interval_query(temporal.between_interval(node.low, node.high, now, zone))}
    op = node.op
    if op in _NEGATED:
        positive = ast.Compare(node.field, _NEGATED[op], node.value)
        return _not(field_query(positive, path, folded, field_type, now, zone))
    if op is ast.CompareOp.EQUALS:
        return _equals(path, folded, node.value, now, zone)
    if op in _NUMBER_OPS:
        return {path: {_NUMBER_OPS[op]: node.value.value}}
    if op in (ast.CompareOp.BEFORE, ast.CompareOp.AFTER):
        return {path: _interval_query(temporal.compare_interval(op, node.value, now, zone))}
    part = re.escape(fold(node.value.value))  # user text is always escaped before $regex
    pattern = {ast.CompareOp.STARTS_WITH: f"^{part}", ast.CompareOp.ENDS_WITH: part + _END,
               ast.CompareOp.CONTAINS: part}[op]
    return {folded: {"$regex": pattern}}
