#!/usr/bin/env bash
# A short tour of SegmentQL on the embedded store: declare fields, import, evaluate.
# Run from the repository root by `make run`; safe to run again (imports are idempotent).
set -euo pipefail
segmentql() { .venv/bin/segmentql "$@"; }
now=2024-06-01T00:00:00Z

segmentql fields add City text
segmentql fields add Age number
segmentql fields add Signup date
segmentql fields add Newsletter boolean
segmentql import contacts examples/contacts.jsonl
segmentql import events examples/events.jsonl

for expression in \
  'City equals "krakow" and event MailClick occurred in last 30 days' \
  'event MailClick occurred at least 2 times in last 30 days where campaign equals "spring"' \
  'visited url contains "/pricing" in last 7 days or event product_purchased occurred where price > 100' \
  'not in list "VIP" and (not (Newsletter is true) or Age >= 50)'; do
  echo
  echo "\$ segmentql eval '$expression' --now $now --ids"
  segmentql eval "$expression" --now "$now" --ids || true
done
echo
echo "\$ segmentql eval 'Age > 30' --estimate    # from a bucket sample; exact on small data"
segmentql eval 'Age > 30' --estimate
echo
echo "\$ segmentql format 'city EQUALS \"x\" AND not in list \"VIP\"'"
segmentql format 'city EQUALS "x" AND not in list "VIP"'
echo
echo "\$ segmentql eval 'City equals Krakow'    # a mistake, to show an error"
segmentql eval 'City equals Krakow' || true
echo
echo "More: .venv/bin/segmentql --help, docs/language.md, docs/compiler.md"
echo "(the embedded store stays up a few minutes for the next command: segmentql store stop)"
