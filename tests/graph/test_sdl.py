"""The committed SDL (schema.graphql) is the schema the code serves."""

from __future__ import annotations

from pathlib import Path

from graph.sdl import sdl

SDL_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_schema_graphql_matches_the_code() -> None:
    committed = SDL_FILE.read_text() if SDL_FILE.exists() else ""
    assert committed == sdl(), (
        "schema.graphql differs from the schema the code serves; if the change is meant, "
        "regenerate it with `.venv/bin/python -m graph.sdl > schema.graphql` and review the "
        "diff (docs/interfaces.md: add to the contract, never reshape it)")


def test_the_contract_is_in_the_schema() -> None:
    text = sdl()
    for line in [
        'fields(database: String = "main"): [Field!]!',
        'contact(database: String = "main", id: ID!): Contact',
        "previewSegment(input: PreviewInput!): Preview!",
        'parseSegment(expression: String!, database: String = "main"',
        "segment(id: ID!): Segment",
        'segments(database: String = "main", search: String, tag: String, inBin: Boolean = false, '
        "first: Int = 50, after: String): SegmentConnection!",
        "campaign(id: ID!): Campaign",
        'defineField(database: String = "main", name: String!, type: FieldType!): MutationResult!',
        'upsertContacts(database: String = "main", contacts: [ContactInput!]!): WriteResult!',
        # docs/interfaces.md "Additions (2026-11-30)" adds createContacts to trackEvents.
        'trackEvents(database: String = "main", events: [EventInput!]!, createContacts: '
        "Boolean = false): WriteResult!",
        "databases: [Database!]!",
        'createDatabase(name: String!, timezone: String = "UTC"): MutationResult!',
        "setDatabaseTimezone(name: String!, timezone: String!): MutationResult!",
        "skipped: [SkipCount!]!", "consent: JSON!", "consent: JSON",
        "createSegment(input: SegmentInput!): SegmentResult!",
        "updateSegment(id: ID!, input: SegmentInput!",
        "cloneSegment(id: ID!, name: String!): SegmentResult!",
        "deleteSegment(id: ID!): SegmentResult!",
        "restoreSegment(id: ID!): SegmentResult!",
        "createCampaign(name: String!, channel: Channel!, segmentId: ID!): CampaignResult!",
        "sendCampaign(id: ID!, now: DateTime): CampaignResult!",
        "count(now: DateTime): Int!",
        "scalar DateTime", "scalar JSON",
    ]:
        assert line in text, line
