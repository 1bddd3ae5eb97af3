"""The evaluation time flows one way: the edge (a GraphQL operation, a CLI command) decides
`now`, and every store function that evaluates takes it as a required keyword argument.

The store's functions are found by reading their source: whatever calls the one
evaluation entry (`query.prepare`, `query.prepare_segment`), or calls a function that
evaluates, evaluates too, and must take `now` with no default. One that calls it without
taking a time decides the time itself, which only two kinds may: a save's check, which
runs no query (CHECKS), and live maintenance, which evaluates at the live clock
(store/live/clock.py: LIVE_CLOCK)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from collections.abc import Iterator

import store
from store import query

# Functions that call the entry without a `now` of their own, and why their time is theirs:
# the checks of a save (fields, lists, references), which evaluate nothing ...
CHECKS = {"store.segments.create_segment", "store.segments.clone_segment",
          "store.segments.update_segment", "store.segment_bin.restore_segment"}
# ... and live maintenance, which keeps the memberships at the database's live time.
LIVE_CLOCK = {"store.live.registry.load_segment", "store.live.rebuild.rebuild"}
# What runs a prepared query (store/query/run.py, the planner, and what is built on them).
RUNS_A_QUERY = {"count", "members", "first", "page", "chunks", "plan", "estimate",
                "explain_contact", "diff_queries"}
TIME_PARAMETERS = ("now", "from_now", "to_now")


def _store_functions() -> Iterator[tuple[str, object, ast.AST, dict]]:
    """(qualified name, function, its syntax tree, its module's globals) of every function
    and method defined in the store package."""
    for info in pkgutil.walk_packages(store.__path__, "store."):
        module = importlib.import_module(info.name)
        for name, member in vars(module).items():
            candidates = [(name, member)]
            if inspect.isclass(member) and member.__module__ == module.__name__:
                candidates = [(f"{name}.{attr}", value) for attr, value in vars(member).items()]
            for qualified, function in candidates:
                function = getattr(function, "__func__", function)
                if not inspect.isfunction(function) or function.__module__ != module.__name__:
                    continue
                try:
                    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
                except (OSError, TypeError, SyntaxError):  # generated (dataclass methods)
                    continue
                yield f"{module.__name__}.{qualified}", function, tree, vars(module)


def _called(tree: ast.AST, namespace: dict) -> Iterator[tuple[str, object]]:
    """(name, resolved object) of every call in the function, nested functions included."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            yield func.id, namespace.get(func.id)
        elif isinstance(func, ast.Attribute):
            owner = namespace.get(func.value.id) if isinstance(func.value, ast.Name) else None
            yield func.attr, getattr(owner, func.attr, None) if owner is not None else None


def _time_parameters(function) -> list[inspect.Parameter]:
    return [parameter for parameter in inspect.signature(function).parameters.values()
            if parameter.name in TIME_PARAMETERS]


def _evaluating(functions=None) -> tuple[dict[str, object], list[str]]:
    """The evaluating functions (by qualified name) among `functions` (default: the
    store's) and the functions that call them without taking a time."""
    functions = list(_store_functions()) if functions is None else functions
    evaluating = {"store.query.prepare.prepare": query.prepare,
                  "store.query.prepare.prepare_segment": query.prepare_segment}
    deciding: set[str] = set()
    grew = True
    while grew:
        grew = False
        known = set(map(id, evaluating.values()))
        for name, function, tree, namespace in functions:
            if name in evaluating or name in deciding:
                continue
            if not any(id(target) in known for _, target in _called(tree, namespace)):
                continue
            if _time_parameters(function):
                evaluating[name] = function
                grew = True
            else:
                deciding.add(name)
    return evaluating, sorted(deciding)


def _defaults(evaluating: dict[str, object]) -> list[str]:
    return [f"{name}({parameter})" for name, function in evaluating.items()
            for parameter in _time_parameters(function)
            if parameter.default is not inspect.Parameter.empty]


def test_every_store_function_that_evaluates_requires_now() -> None:
    evaluating, _ = _evaluating()
    # the walk finds the evaluating functions (a walk that found none could not fail)
    for expected in ("store.preview.preview_segment", "store.estimate.estimate_segment",
                     "store.exports.export_csv", "store.exports.write_csv",
                     "store.exports.export_events", "store.exports.write_events",
                     "store.member_actions.copy_to_list", "store.member_actions.copy_to_database",
                     "store.member_actions.bulk_update_field", "store.segment_runs.count_segment",
                     "store.explain.explain_saved", "store.segment_diff.diff_segment_versions",
                     "store.segment_diff.diff_segment_times", "store.campaigns.send_campaign",
                     "store.live.entry.qualifying_contacts"):
        assert expected in evaluating, expected
    defaults = _defaults(evaluating)
    assert defaults == [], (
        "these evaluate but default their evaluation time themselves: " + ", ".join(defaults)
        + " (the edge decides `now`: make it a required argument)")
    positional = [name for name, function in evaluating.items()
                  for parameter in _time_parameters(function)
                  if parameter.name == "now" and parameter.kind is not parameter.KEYWORD_ONLY]
    assert positional == [], f"`now` is a keyword argument: {positional}"


def test_only_checks_and_live_maintenance_decide_their_own_time() -> None:
    _, deciding = _evaluating()
    assert deciding == sorted(CHECKS | LIVE_CLOCK), (
        "these call the evaluation entry without taking `now`: "
        + ", ".join(sorted(set(deciding) - CHECKS - LIVE_CLOCK))
        + " (take `now` from the edge as a required keyword argument)")
    functions = {name: (tree, namespace) for name, _, tree, namespace in _store_functions()}
    for name in CHECKS:
        tree, namespace = functions[name]
        runs = {called for called, target in _called(tree, namespace)
                if called in RUNS_A_QUERY and getattr(target, "__module__", "").startswith(
                    ("store.query", "store.estimate", "store.explain", "store.segment_diff"))}
        assert runs == set(), f"{name} runs a query ({runs}): it evaluates, so it takes `now`"
    for name in LIVE_CLOCK:
        tree, namespace = functions[name]
        clocks = {called for called, target in _called(tree, namespace)
                  if getattr(target, "__module__", None) == "store.live.clock"}
        assert clocks, f"{name} evaluates without reading the live clock (store/live/clock.py)"


def test_the_walk_flags_a_default_time_and_a_time_read_below_the_edge() -> None:
    """Functions written the old way are caught: one defaulting `now` (and its caller that
    passes it on), and one reading the clock for the entry without taking a time."""
    source = textwrap.dedent('''
        async def preview(db, *, now=None):
            return await prepare(db, now=now or utc_now())

        async def export(db, *, now):
            return await preview(db, now=now)

        async def count(db):
            return await prepare(db, now=utc_now())
    ''')
    namespace = {"prepare": query.prepare}
    exec(compile(source, "<old>", "exec"), namespace)
    tree = ast.parse(source)
    functions = [(f"old.{node.name}", namespace[node.name], node, namespace)
                 for node in tree.body]
    evaluating, deciding = _evaluating(functions)
    assert {"old.preview", "old.export"} <= set(evaluating)
    assert [found for found in _defaults(evaluating) if found.startswith("old.")] == \
        ["old.preview(now=None)"]
    assert deciding == ["old.count"]
