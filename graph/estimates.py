"""Estimates: a segment's size from a bucket sample, with a 95 % interval, before the exact
count (store/estimate.py; docs/estimates.md)."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.errors import ExpectedErrors, SegmentError
from graph.permissions import Requires, input_database
from graph.segments import PreviewInput, evaluate_input
from store.estimate import estimate_segment


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
    estimate: Estimate | None = None
    errors: list[SegmentError] = strawberry.field(default_factory=list)


@strawberry.type
class EstimateQueries:
    @strawberry.field(description="Estimate what previewSegment would count, from the contacts "
                                  "of a bucket sub-range of about 2,500 contacts: fast at any "
                                  "database size, exact when the database is small.",
                      extensions=[Requires(database=input_database), ExpectedErrors()])
    async def estimate_segment(self, info: Info, input: PreviewInput) -> EstimateResult:
        found = await evaluate_input(info, input, estimate_segment)
        return EstimateResult(estimate=Estimate(count=found.count, low=found.low,
                                                high=found.high, sampled=found.sampled,
                                                exact=found.exact))
