"""Estimates from a bucket sample: exact when the sample is everything, the maximum, the
errors of a preview, and the coverage of the 95 % interval on generated data."""

from __future__ import annotations

import math
import random

import pytest
import pytest_asyncio

from dsl.errors import SegmentErrors
from dsl.values import bucket_bounds, bucket_of
from store.clock import utc_now
from store.contacts import upsert_contacts
from store.errors import StoreInputError
from store.estimate import _inside_sample, binomial_interval, estimate_segment, scale_up
from store.preview import preview_segment
from store.query import planner
from tests.store.seed import NOW, seed, seed_events


# The coverage test. What is random in an estimate is where the hash puts each contact: its
# bucket is uniform and independent of the others, so, given the M members of a range,
# each lies in the sampled buckets with probability p independently. The test reproduces
# that with one fixed data set by estimating on RANGES disjoint ranges: their contacts are
# disjoint, so each range is an independent draw of bucket positions for its contacts.
# Every range is estimated for each of the lists, whose shares of the contacts go from
# rare to nearly everyone (drawn with a fixed seed).
SEED = 20261130
CONTACTS = 3000
SHARES = [0.005, 0.01, 0.03, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95, 0.99]
RANGES = [(start, start + 5) for start in range(0, 100, 5)]  # about 150 contacts each
TRIALS = len(SHARES) * len(RANGES)
NOMINAL = 0.95
# A correctly calibrated 95 % interval lands outside NOMINAL ± 3 standard deviations of a
# Binomial(TRIALS, 0.95) proportion (±0.042 for 240 trials) with probability 0.3 %; one of
# 85 % or 99.5 % real coverage lands outside it more often than not.
BAND = 3 * math.sqrt(NOMINAL * (1 - NOMINAL) / TRIALS)


def test_binomial_interval_contains_the_scaled_count_and_is_exact_at_share_one():
    assert binomial_interval(7, 1.0) == (7.0, 7.0)
    low, high = binomial_interval(100, 0.1)
    assert low < 1000 < high
    assert 800 < low and high < 1250  # ± 2 sd of the scaled count: about ± 190
    low, high = binomial_interval(0, 0.01)
    assert low == 0 and 300 < high < 400  # z²(1 - p)/p = 380: nothing found is not "none"


def test_scale_up_clips_to_the_maximum_and_never_below_the_members_found():
    count, low, high = scale_up(3, 1, 100, None)
    assert count == 300 and low >= 3 and low < 300 < high
    count, low, high = scale_up(30, 10, 100, 250)
    assert (count, high) == (250, 250) and low <= 250


@pytest.mark.asyncio
async def test_a_small_database_is_counted_exactly_and_says_so(store):
    await seed(store.db)
    estimate = await estimate_segment(store.db, "main", expression='City equals "krakow"',
                                      now=NOW)
    preview = await preview_segment(store.db, "main", expression='City equals "krakow"', now=NOW)
    assert estimate.exact and estimate.count == estimate.low == estimate.high == preview.count == 3
    assert estimate.sampled == 6
    assert estimate.expression == 'City equals "krakow"'


@pytest.mark.asyncio
async def test_the_estimate_takes_the_range_and_maximum_of_the_preview(store):
    await seed(store.db)
    for settings in ({"range_from": 0, "range_to": 50}, {"maximum": 1},
                     {"range_from": 20, "range_to": 90, "maximum": 2}):
        estimate = await estimate_segment(store.db, "main", expression="Age > 20", now=NOW,
                                          **settings)
        preview = await preview_segment(store.db, "main", expression="Age > 20", now=NOW,
                                        **settings)
        assert estimate.exact and estimate.count == preview.count, settings


@pytest.mark.asyncio
@pytest.mark.parametrize("joined", [False, True], ids=["counted", "joined"])
async def test_event_conditions_are_estimated_as_the_preview_counts_them(store, monkeypatch,
                                                                         joined):
    # Counted on the events side (an `_id` test in the sample's $facet), or, with no
    # counting allowed, joined per contact (a $lookup inside the $facet).
    if joined:
        monkeypatch.setattr(planner, "SEMI_JOIN_CONTACTS", -1)
    await seed(store.db)
    await seed_events(store.db)
    for expression in ("event MailOpen occurred at least 1 times in last 30 days",
                       'event PageVisit occurred where url contains "pricing"',
                       "event MailClick did not occur and Age > 20"):
        estimate = await estimate_segment(store.db, "main", expression=expression, now=NOW)
        preview = await preview_segment(store.db, "main", expression=expression, now=NOW)
        assert estimate.exact and estimate.count == preview.count, expression


@pytest.mark.asyncio
async def test_bad_input_is_refused_as_in_a_preview(store):
    await seed(store.db)
    with pytest.raises(SegmentErrors, match="Citty"):
        await estimate_segment(store.db, "main", expression='Citty equals "x"', now=NOW)
    with pytest.raises(StoreInputError, match="range"):
        await estimate_segment(store.db, "main", expression="Age > 1", range_from=60,
                               range_to=10, now=utc_now())


@pytest_asyncio.fixture
async def generated(store):
    """CONTACTS contacts, in list Lj with probability SHARES[j]."""
    rng = random.Random(SEED)
    rows = [{"id": f"g{n}", "lists": [f"L{j}" for j, share in enumerate(SHARES)
                                      if rng.random() < share]}
            for n in range(CONTACTS)]
    await seed(store.db, contacts=[])
    for offset in range(0, len(rows), 1000):
        report = await upsert_contacts(store.db, "main", rows[offset:offset + 1000])
        assert not report.rejected
    return store.db, rows, rng


def members(rows: list[dict], name: str, range_from: float, range_to: float) -> int:
    """The exact count, from the generated rows and the buckets' own rule."""
    low, high = bucket_bounds(range_from, range_to)
    return sum(name in row["lists"] and low <= bucket_of("main", row["id"]) < high
               for row in rows)


@pytest.mark.asyncio
async def test_the_interval_contains_the_exact_count_about_95_percent_of_the_time(generated):
    db, rows, rng = generated
    covered = sampled = 0
    for range_from, range_to in RANGES:
        for j in range(len(SHARES)):
            name = f"L{j}"
            estimate = await estimate_segment(
                db, "main", expression=f'in list "{name}"', now=NOW, range_from=range_from,
                range_to=range_to, sample_size=rng.randint(30, 60))
            truth = members(rows, name, range_from, range_to)
            assert estimate.low <= estimate.count <= estimate.high
            if estimate.exact:
                assert estimate.count == truth
            covered += estimate.low <= truth <= estimate.high
            sampled += not estimate.exact
    assert sampled >= 0.9 * TRIALS  # nearly every trial was a real sample, not a full count
    coverage = covered / TRIALS
    print(f"coverage {coverage:.3f} over {TRIALS} trials ({sampled} sampled)")
    assert NOMINAL - BAND <= coverage <= NOMINAL + BAND, (coverage, BAND)


def test_the_members_pipeline_drops_only_the_tests_the_sample_has_passed():
    sample = {"database": "main", "bucket": {"$gte": 10, "$lt": 20}}
    planned = [{"$match": {"database": "main", "bucket": {"$gte": 10, "$lt": 20},
                           "lists": "VIP"}}, {"$limit": 5}]
    assert _inside_sample(planned, sample) == [{"$match": {"lists": "VIP"}}, {"$limit": 5}]
    assert _inside_sample([{"$match": dict(sample)}], sample) == []
    other_range = [{"$match": {"database": "main", "bucket": {"$gte": 0, "$lt": 20},
                               "lists": "VIP"}}]
    assert _inside_sample(other_range, sample) == other_range
    joined = [{"$lookup": {"from": "events", "as": "e", "pipeline": []}}]
    assert _inside_sample(joined, sample) == joined


@pytest.mark.asyncio
async def test_a_sampled_estimate_applies_the_maximum_to_the_members_it_found(generated):
    db, rows, _ = generated
    # The sample (the first buckets) holds more than 5 members: exactly the maximum.
    reached = await estimate_segment(db, "main", expression='in list "L11"', now=NOW,
                                     maximum=5, sample_size=100)
    preview = await preview_segment(db, "main", expression='in list "L11"', now=NOW,
                                    maximum=5)
    assert reached.sampled < CONTACTS and reached.exact
    assert reached.count == reached.low == reached.high == preview.count == 5
    # A maximum the sample does not reach clips the scaled count and its interval.
    truth = min(members(rows, "L7", 0, 100), 1400)
    clipped = await estimate_segment(db, "main", expression='in list "L7"', now=NOW,
                                     maximum=1400, sample_size=300)
    assert not clipped.exact and clipped.sampled < CONTACTS
    assert clipped.low <= clipped.count <= clipped.high <= 1400
    assert clipped.low <= truth <= clipped.high
