"""Completion and diagnostics latency, in process, for a ~200-character expression against a
500-field schema (bench.bench_language_services_http measures the same over GraphQL).

    .venv/bin/python -m bench.bench_language_services [--repeat N]

Reports the median and p90 per case, in microseconds, then how the cost grows on 10 KB and
100 KB machine-made expressions. Figures are written down in docs/language-services.md.
"""

from __future__ import annotations

import argparse
import platform
import sys

from bench.bench_language import SCHEMA as BENCH_SCHEMA
from bench.bench_language import generated, measure
from dsl.completion import CompletionContext, complete
from dsl.diagnostics import diagnose
from dsl.schema import FieldDef, FieldSchema, FieldType

KINDS = [FieldType.TEXT, FieldType.NUMBER, FieldType.DATE, FieldType.BOOLEAN]
# 5 standard fields + 495 custom ones = 500.
SCHEMA = FieldSchema([FieldDef("City", FieldType.TEXT), FieldDef("Age", FieldType.NUMBER),
                      FieldDef("Signup", FieldType.DATE), FieldDef("Newsletter", FieldType.BOOLEAN)]
                     + [FieldDef(f"custom_field_{n:03d}", KINDS[n % 4]) for n in range(491)])
CONTEXT = CompletionContext(
    SCHEMA, event_types=[f"custom_event_{n}" for n in range(50)],
    lists=[f"List {n}" for n in range(100)], segments=[f"Segment {n}" for n in range(200)],
    values={"City": ["Krakow", "Warsaw", "Gdansk", "Poznan", "Wroclaw"] * 4})

VALID = ('City equals "Krakow" and Age between 18 and 65 and (Newsletter is true or '
         'in list "List 7") and event MailClick occurred at least 2 times in last 30 days '
         'and custom_field_001 > 10 and Signup after 2024-01-01')
BROKEN = ('City equals and Age between 18 65 and (Newsletter is or in list "List 7") and '
          'event MailClick occured at least 2 times in last 30 days and custom_field_001 >> 10 '
          'and Signup after 2024-01-01')
WARNED = ('City equals "Krakow" and Age between 18 and 65 and (Newsletter is true or '
          'in list "List 7") and event MailClick occurred at least 2 times in last 30 days '
          'and Age < 10 and Signup after 2024-01-01')


def completion_cases() -> list[tuple[str, str, int]]:
    """(label, text, cursor offset) of each completion case."""
    after_and = VALID.index(" and custom_field") + len(" and ")
    return [
        ("end of the text (after a date)", VALID, len(VALID)),
        ("a condition start: 500 fields + keywords", VALID[:after_and], after_and),
        ("a field prefix 'custom_field_1'", VALID[:after_and] + "custom_field_1", after_and + 14),
        ("after a field: its operators", VALID[:after_and] + "custom_field_001 ",
         after_and + 17),
        ('a text value: City equals "Kr', 'City equals "Kr', 15),
        ("the middle of the text", VALID, VALID.index("between") + 3),
        ("after `event `: event types", VALID[:VALID.index("MailClick")],
         VALID.index("MailClick")),
    ]


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--repeat", type=int, default=300)
    repeat = arguments.parse_args().repeat
    assert len(SCHEMA) == 500 and 190 <= len(VALID) <= 230, (len(SCHEMA), len(VALID))
    print(f"python {platform.python_version()} on {platform.machine()}, {sys.platform}; "
          f"schema {len(SCHEMA)} fields; expression {len(VALID)} characters; "
          f"{repeat} runs per case")
    print(f"{'case':<48} {'results':>7} {'median µs':>10} {'p90 µs':>9}   "
          "(results: suggestions or diagnostics; for the KB rows, characters)")
    for label, text, offset in completion_cases():
        count = len(complete(text, offset, CONTEXT))
        median, p90 = measure(lambda: complete(text, offset, CONTEXT), repeat)
        print(f"{'complete: ' + label:<48} {count:>7} {median:>10.0f} {p90:>9.0f}")
    for label, text in (("valid", VALID), ("5 syntax errors", BROKEN), ("1 warning", WARNED)):
        count = len(diagnose(text, SCHEMA, event_types=[], lists=["List 7"]))
        median, p90 = measure(lambda: diagnose(text, SCHEMA, event_types=[], lists=["List 7"]),
                              repeat)
        print(f"{'diagnose: ' + label:<48} {count:>7} {median:>10.0f} {p90:>9.0f}")
    # How the cost grows with the text (machine-made expressions, bench.bench_language).
    for size in (10, 100):
        big = generated(size * 1024)
        broken = big.replace(" and (", " and and (", 30)  # 30 errors: 20 reported
        runs = max(3, repeat // (size * 5))
        for label, text, work in (
                ("complete at the end", big, lambda: complete(big, len(big), CONTEXT)),
                ("diagnose valid", big, lambda: diagnose(big, BENCH_SCHEMA)),
                ("diagnose 30 errors", broken, lambda: diagnose(broken, BENCH_SCHEMA))):
            median, p90 = measure(work, runs)
            print(f"{f'{size} KB: {label}':<48} {len(text):>7} {median:>10.0f} {p90:>9.0f}")


if __name__ == "__main__":
    main()
