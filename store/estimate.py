"""Estimates: the size of what an expression selects, from a bucket sample, with a 95 %
interval for the exact count (SPEC §6; the method and its justification: docs/estimates.md).

Every contact has a fixed bucket (a hash of database and id, uniform over 0..9999) and an
index on (database, bucket). The estimate evaluates the expression on the contacts of the
first buckets of the segment's range only, a sub-range chosen to hold about
`sample_size` contacts, and scales the members found by the share of buckets sampled.
Each contact of the range is in the sample with probability p = sampled buckets / range
buckets, independently of the others (the hash), so the members found in the sample are
Binomial(M, p) with M the exact count: the interval inverts that (a score interval).
When the sub-range is the whole range, the count is exact.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

from pymongo.asynchronous.database import AsyncDatabase

from dsl.values import bucket_bounds
from store import query
from store.query.run import count_of
from store.collections import CONTACTS
from store.fields import DEFAULT_DATABASE

# Contacts evaluated for an estimate (about). SecantusDB fetches and tests each one (40–150
# µs on the shared 2-core machine, by its load), so this sets the time: 2,500 answer in
# 0.13–0.5 s at any database size, with a 95 % interval of about ±8 % for a segment of a
# quarter of the contacts (±4 % at 10,000, in 0.4–1.5 s): docs/estimates.md, "Sample size".
SAMPLE_SIZE = 2_500
PROBE_SIZE = 200  # contacts counted to learn how many contacts a bucket holds (at most)
Z_95 = 1.959963984540054  # the standard normal's 97.5 % quantile


@dataclass(frozen=True)
class Estimate:
    """`count` members estimated, `low`..`high` a 95 % interval for the exact count,
    `sampled` the contacts evaluated; `exact`: the whole range was evaluated (or the
    sample alone decided the maximum), so low = high = count. `expression` is the
    canonical text estimated, `now` the evaluation time."""

    count: int
    low: int
    high: int
    sampled: int
    exact: bool
    expression: str
    now: dt.datetime


def binomial_interval(found: int, share: float, z: float = Z_95) -> tuple[float, float]:
    """The score interval for M when `found` ~ Binomial(M, share): the M whose
    (found - share·M)² ≤ z²·share·(1 - share)·M, i.e. between the roots of
    share²·M² - (2·share·found + z²·share·(1 - share))·M + found² = 0."""
    if not 0 < share <= 1:
        raise ValueError(f"a sampled share is in (0, 1], not {share}")
    if share == 1:
        return float(found), float(found)
    b = 2 * share * found + z * z * share * (1 - share)
    root = math.sqrt(max(b * b - 4 * share * share * found * found, 0.0))
    return (b - root) / (2 * share * share), (b + root) / (2 * share * share)


def scale_up(found: int, sampled_buckets: int, range_buckets: int,
             maximum: int | None) -> tuple[int, int, int]:
    """(count, low, high) of the whole range from `found` members in the first
    `sampled_buckets` of `range_buckets`, with the maximum applied (it keeps the first
    members in bucket order, so the sample's members are all kept)."""
    share = sampled_buckets / range_buckets
    lower, upper = binomial_interval(found, share)
    count = round(found / share)
    low = max(found, math.floor(lower))  # the sample's members are certain
    high = max(low, math.ceil(upper))
    if maximum is not None:
        count, low, high = min(count, maximum), min(low, maximum), min(high, maximum)
    return count, low, high


async def estimate_segment(db: AsyncDatabase, database: str = DEFAULT_DATABASE, *,
                           expression: str | None = None, json: dict | str | None = None,
                           range_from: float = 0, range_to: float = 100,
                           maximum: int | None = None, now: dt.datetime,
                           sample_size: int = SAMPLE_SIZE) -> Estimate:
    """Estimate the count `preview_segment` would give for the same arguments (which are
    checked the same way and raise the same errors)."""
    prepared = await query.prepare(db, database, expression=expression, json=json,
                                   now=now, range_from=range_from,
                                   range_to=range_to, maximum=maximum)
    return await estimate(prepared, sample_size=sample_size)


async def estimate(prepared: query.PreparedQuery, *, sample_size: int = SAMPLE_SIZE) -> Estimate:
    """Estimate the number of members of a prepared query from a bucket sample."""
    if sample_size < 1:
        raise ValueError("an estimate samples at least one contact")
    db, database, maximum = prepared.db, prepared.database, prepared.maximum
    text, _ = prepared.canonical()
    first, last = bucket_bounds(prepared.range_from, prepared.range_to)
    width = last - first
    end = last if width == 0 else first + await _sample_width(db, database, first, last,
                                                               sample_size)
    # The sample's members are counted without the maximum (no sort of them, no limit),
    # and the maximum is applied to that count below.
    sample = replace(prepared.within(first / 100, end / 100), maximum=None)
    sampled, found = await _evaluate(sample, first, end)
    if end == last:
        found = found if maximum is None else min(found, maximum)
        return Estimate(found, found, found, sampled, True, text, prepared.now)
    if maximum is not None and found >= maximum:
        # The maximum keeps the first members in bucket order: the sample is a prefix.
        return Estimate(maximum, maximum, maximum, sampled, True, text, prepared.now)
    count, low, high = scale_up(found, end - first, width, maximum)
    return Estimate(count, low, high, sampled, False, text, prepared.now)


async def _count_contacts(db: AsyncDatabase, database: str, first: int, end: int) -> int:
    return await db[CONTACTS].count_documents(
        {"database": database, "bucket": {"$gte": first, "$lt": end}})


async def _sample_width(db: AsyncDatabase, database: str, first: int, last: int,
                        sample_size: int) -> int:
    """How many buckets from `first` hold about `sample_size` contacts: learnt by counting
    the last buckets of the range until they hold PROBE_SIZE contacts (a few hundred
    index keys; counting the whole range would cost as much as evaluating it). The probe
    lies outside the sample, so the sample's width does not depend on its own contacts;
    when the sample would reach it, the whole range is evaluated instead."""
    width = last - first
    enough = max(1, min(PROBE_SIZE, sample_size // 10))  # a tenth of a small sample at most
    probe, counted = 1, 0
    counted_from = last  # buckets counted so far: [counted_from, last)
    while True:
        # Only the buckets added to the probe are counted: each one costs a fetch of its
        # contacts on SecantusDB.
        counted += await _count_contacts(db, database, last - probe, counted_from)
        counted_from = last - probe
        if counted >= enough or probe == width:
            break
        grow = 10 * probe if counted == 0 else math.ceil(probe * 1.5 * enough / counted)
        probe = min(width, max(grow, probe + 1))
    if counted == 0:
        return width  # an empty range (or nearly): evaluating all of it is cheap
    wanted = math.ceil(sample_size * probe / counted)
    return width if wanted >= width - probe else wanted


async def _evaluate(sample_query: query.PreparedQuery, first: int,
                    end: int) -> tuple[int, int]:
    """(contacts in buckets first..end, members among them), in one pass over them."""
    # The leading $match holds only the (database, bucket) index's keys, so SecantusDB
    # reads the sample through the index whatever the pipeline filters on next
    # (docs/compatibility.md); MongoDB merges it with the pipeline's own $match.
    sample = {"database": sample_query.database, "bucket": {"$gte": first, "$lt": end}}
    members = _inside_sample(await query.plan(sample_query), sample)
    pipeline = [{"$match": sample},
                {"$facet": {"sampled": [{"$count": "n"}],
                            "members": [*members, {"$count": "n"}]}}]
    async for row in await sample_query.db[CONTACTS].aggregate(pipeline):
        return count_of(row["sampled"]), count_of(row["members"])
    return 0, 0


def _inside_sample(members: list[dict], sample: dict) -> list[dict]:
    """The members' pipeline without the database and bucket-range tests that the sample's
    own $match has passed already: SecantusDB tests each condition of a $match on every
    document, and inside the $facet these two hold for all of them. Left as it is when its
    first stage does not test exactly the sample's database and range."""
    if not members or set(members[0]) != {"$match"}:
        return members
    condition = dict(members[0]["$match"])
    if any(condition.get(key) != value for key, value in sample.items()):
        return members
    for key in sample:
        del condition[key]
    return ([{"$match": condition}] if condition else []) + members[1:]
