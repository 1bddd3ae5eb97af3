"""Parse, type-check and format times of SegmentQL expressions by size.

    .venv/bin/python -m bench.bench_language [--repeat N]

Reports the median (and p90) per expression: a typical ~100-character expression, and
machine-generated expressions of about 1 KB, 10 KB and 100 KB. Time per KB shows whether
cost grows linearly with size. `read JSON` is `dsl.json_codec.from_json` on the expression's
JSON form the first time (validated against dsl/expression.schema.json, then built), and
`again` a form read before (remembered). Then the hostile inputs of tests/dsl/test_robustness.py
(a megabyte, ten thousand levels of nesting, 5,000 type errors): the time each takes to
end in an AST or an error, against the target of 2 s each. Figures are written down in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import orjson

from dsl.errors import SegmentError
from dsl.formatter import format_expression
from dsl.json_codec import clear_read_cache, from_json, to_json
from dsl.parser import parse
from dsl.schema import FieldDef, FieldSchema, FieldType
from dsl.typecheck import check

TYPICAL = ('City equals "Krakow" and event MailClick occurred at least 2 times '
           'in last 30 days and Age > 30')
SCHEMA = FieldSchema([FieldDef("City", FieldType.TEXT), FieldDef("Age", FieldType.NUMBER),
                      FieldDef("Signup", FieldType.DATE), FieldDef("Newsletter", FieldType.BOOLEAN)])
PIECES = [
    'City starts with "Kra{i}"',
    "Age between {i} and {j}",
    "Signup after {i} days ago",
    "Newsletter is true",
    'event product_purchased occurred at least 2 times in last 90 days where (price > {i} '
    'and category equals "shoes{i}")',
    'not in list "VIP{i}"',
    'visited url contains "/pricing/{i}" in last 7 days',
    'City in ("a{i}", "b{j}", "c")',
]


def generated(size: int) -> str:
    """A valid expression of about `size` characters: groups of varied conditions."""
    parts: list[str] = []
    length = 0
    for n in itertools.count():
        group = " or ".join(PIECES[(n + k) % len(PIECES)].format(i=n + k, j=n + k + 10)
                            for k in range(3))
        parts.append(f"({group})")
        length += len(parts[-1]) + 5
        if length >= size:
            return " and ".join(parts)


def measure(work, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        work()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.9) - 1)]


HOSTILE_TARGET_S = 2.0  # each hostile input ends in an AST or an error within this
HOSTILE = [
    ("1 MB, refused by length", "City = 1 or " * 90_000),
    ("10,000 parentheses", "(" * 10_000 + "City = 1" + ")" * 10_000),
    ("10,000 unclosed parentheses", "(" * 10_000 + "City = 1"),
    ("10,000 nested all of", "all of (" * 10_000 + "City = 1" + ")" * 10_000),
    ("10,000 nested not", "not " * 10_000 + "City = 1"),
    ("10,000 nested and", "(City = 1 and " * 10_000 + "City = 2" + ")" * 10_000),
    ("2,000 nested any of", "any of (City = 1, " * 2_000 + "City = 2" + ")" * 2_000),
    ("9,000 flat or", " or ".join(f"Age = {number}" for number in range(9_000))),
    ("5,000 type errors", " or ".join(f"Agee = {number}" for number in range(5_000))),
]


def parse_and_check(text: str) -> str:
    """What parsing and type-checking `text` ends in: "ok", or the error's kind."""
    try:
        problems = check(parse(text), SCHEMA, source=text)
    except SegmentError as error:
        return type(error).__name__
    return f"{len(problems):,} problems" if problems else "ok"


def hostile(repeat: int) -> None:
    print(f"\n{'hostile input':>28} {'chars':>9} | {'median ms':>9} {'max ms':>8} | outcome | "
          f"target {HOSTILE_TARGET_S:.0f} s")
    for label, text in HOSTILE:
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            outcome = parse_and_check(text)
            samples.append((time.perf_counter() - start) * 1000)
        worst = max(samples)
        print(f"{label:>28} {len(text):>9,} | {statistics.median(samples):>9.1f} {worst:>8.1f} | "
              f"{outcome} | {'met' if worst <= HOSTILE_TARGET_S * 1000 else 'NOT MET'}")


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--repeat", type=int, default=200)
    arguments.add_argument("--hostile-repeat", type=int, default=5)
    options = arguments.parse_args()
    repeat = options.repeat
    cases = [("typical", TYPICAL)] + [(f"{kb} KB", generated(kb * 1024)) for kb in (1, 10, 100)]
    print(f"{'expression':>10} {'chars':>7} | {'parse µs':>10} {'p90':>9} {'µs/KB':>7} | "
          f"{'check µs':>9} | {'format µs':>9} | {'read JSON µs':>12} {'again':>7}")
    for label, text in cases:
        runs = max(5, repeat // max(1, len(text) // 1024))
        expr = parse(text)
        assert not check(expr, SCHEMA), check(expr, SCHEMA)[:1]
        assert parse(format_expression(expr)) == expr
        parse_median, parse_p90 = measure(lambda: parse(text), runs)
        check_median, _ = measure(lambda: check(expr, SCHEMA), runs)
        format_median, _ = measure(lambda: format_expression(expr), runs)
        form = orjson.loads(orjson.dumps(to_json(expr)))  # as stored: plain JSON values
        assert from_json(form) == expr
        read_median, _ = measure(lambda: (clear_read_cache(), from_json(form)), runs)
        again_median, _ = measure(lambda: from_json(form), runs)
        per_kb = parse_median / (len(text) / 1024)
        print(f"{label:>10} {len(text):>7} | {parse_median:>10.1f} {parse_p90:>9.1f} "
              f"{per_kb:>7.1f} | {check_median:>9.1f} | {format_median:>9.1f} | "
              f"{read_median:>12.1f} {again_median:>7.1f}")

    hostile(options.hostile_repeat)


if __name__ == "__main__":
    main()
