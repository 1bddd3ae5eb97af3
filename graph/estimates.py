"""Estimates: a segment's size from a bucket sample, with a 95 % interval, before the exact
count (store/estimate.py; docs/estimates.md)."""

from __future__ import annotations

import strawberry

from graph.context import Info, value
from graph.errors import SegmentError, attempt
from graph.segments import PreviewInput
from store.estimate import estimate_segment
from store.fields import DEFAULT_DATABASE


@strawberry.type(description="An estimated count of members with a 95 % interval for the "
                             "exact count.")
class Estimate:
    count: int = strawberry.field(description="The estimated number of members.")
    low: int = strawberry.field(description="The 95 % interval's lower end.")
    high: int = strawberry.field(description="The 95 % interval's upper end.")
    sampled: int = strawberry.field(description="The contacts the expression was evaluated on.")
    exact: bool = strawberry.field(description="The whole range was evaluated (or the sample "
                                               "alone reached the maximum): low = high = count.")


@strawberry.type
class EstimateResult:
    estimate: Estimate | None
    errors: list[SegmentError]


@strawberry.type
class EstimateQueries:
    @strawberry.field(description="Estimate what previewSegment would count, from the contacts "
                                  "of a bucket sub-range of about 10,000 contacts: fast at any "
                                  "database size, exact when the database is small.")
    async def estimate_segment(self, info: Info, input: PreviewInput) -> EstimateResult:
        database = value(input.database, DEFAULT_DATABASE)

        async def work():
            info.context.access.require_database(database)
            return await info.context.heavy(estimate_segment(
                info.context.db, database, expression=value(input.expression),
                json=value(input.json), range_from=value(input.range_from, 0),
                range_to=value(input.range_to, 100), maximum=value(input.maximum),
                now=value(input.now)))
        found, errors = await attempt(work())
        if errors:
            return EstimateResult(estimate=None, errors=errors)
        return EstimateResult(estimate=Estimate(count=found.count, low=found.low,
                                                high=found.high, sampled=found.sampled,
                                                exact=found.exact), errors=[])
