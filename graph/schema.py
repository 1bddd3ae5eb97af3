"""The GraphQL schema: every feature module's queries and mutations, merged, with the
limits (graph/limits.py) and the error policy (graph/errors.py).

`schema.graphql` at the repository root is `str(schema)`; tests/graph/test_sdl.py fails
when they differ (regenerate with `python -m graph.sdl > schema.graphql`).
"""

from __future__ import annotations

from graphql import GraphQLError
from strawberry import Schema
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from graph.campaigns import CampaignMutations, CampaignQueries
from graph.contacts import ContactQueries
from graph.context import EvaluationTime
from graph.errors import ErrorPolicy, log_unexpected
from graph.estimates import EstimateQueries
from graph.fields import FieldMutations, FieldQueries
from graph.ingestion import IngestionMutations
from graph.keys import KeyMutations, KeyQueries
from graph.language_services import LanguageQueries
from graph.limits import validation_extensions
from graph.requests import OneOperation
from graph.live import LiveMutations, LiveSubscriptions
from graph.lists import ListMutations, ListQueries
from graph.scalars import SCALARS
from graph.segments import SegmentMutations, SegmentQueries

Query = merge_types("Query", (FieldQueries, ContactQueries, SegmentQueries, ListQueries,
                              CampaignQueries, KeyQueries, LanguageQueries, EstimateQueries))
Mutation = merge_types("Mutation", (FieldMutations, IngestionMutations, SegmentMutations,
                                    ListMutations, CampaignMutations, KeyMutations,
                                    LiveMutations))
Subscription = merge_types("Subscription", (LiveSubscriptions,))


class SegmentSchema(Schema):
    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        log_unexpected(errors)


def build_schema() -> Schema:
    return SegmentSchema(query=Query, mutation=Mutation, subscription=Subscription,
                         extensions=[*validation_extensions(), OneOperation, EvaluationTime,
                                     ErrorPolicy],
                         config=StrawberryConfig(scalar_map=SCALARS))


schema = build_schema()
