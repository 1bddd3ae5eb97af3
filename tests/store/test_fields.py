"""Profile databases and field definitions."""

from __future__ import annotations

import pytest

from dsl.errors import SegmentTypeError
from dsl.schema import FieldDef, FieldType
from store.collections import CONTACTS, MAX_FIELD_INDEXES, contact_index_paths
from store.errors import StoreInputError
from store.fields import define_field, ensure_database, list_databases, load_schema

pytestmark = pytest.mark.asyncio


async def test_define_and_load(store) -> None:
    city = await define_field(store.db, "main", "City", FieldType.TEXT)
    assert city == FieldDef("City", FieldType.TEXT)
    await define_field(store.db, "main", "Age", "number")
    await define_field(store.db, "main", "Customer Status", "TEXT")
    schema = await load_schema(store.db, "main")
    assert schema.get("City").type is FieldType.TEXT
    assert schema.get("Age").type is FieldType.NUMBER
    assert schema.get("Customer Status").type is FieldType.TEXT
    assert schema.get("Email").standard
    paths = await contact_index_paths(store.db)
    assert {"folded.City", "fields.Age", "folded.Customer Status"} <= paths
    stored = await store.db["fields"].find_one({"_id": "main:City"})
    assert stored["name_folded"] == "city" and stored["standard"] is False


async def test_same_definition_again_is_a_no_op(store) -> None:
    first = await define_field(store.db, "main", "Age", FieldType.NUMBER)
    again = await define_field(store.db, "main", "Age", FieldType.NUMBER)
    assert first == again
    assert await store.db["fields"].count_documents({"database": "main", "name": "Age"}) == 1
    assert (await define_field(store.db, "main", "Email", "text")).standard


async def test_duplicate_ignoring_case_is_refused(store) -> None:
    await define_field(store.db, "main", "City", FieldType.TEXT)
    with pytest.raises(StoreInputError) as caught:
        await define_field(store.db, "main", "city", FieldType.TEXT)
    assert "City" in str(caught.value)
    with pytest.raises(StoreInputError) as caught:
        await define_field(store.db, "main", "EMAIL", FieldType.TEXT)
    assert "Email" in str(caught.value)


async def test_redefinition_with_another_type_is_refused(store) -> None:
    await define_field(store.db, "main", "Age", FieldType.NUMBER)
    with pytest.raises(StoreInputError) as caught:
        await define_field(store.db, "main", "Age", FieldType.TEXT)
    message = str(caught.value)
    assert "Age" in message and "number" in message and "text" in message
    with pytest.raises(StoreInputError):
        await define_field(store.db, "main", "CreateTime", FieldType.TEXT)


@pytest.mark.parametrize("name", ["$x", "a.b", "", " ", "x" * 65, "tab\there", "a$b",
                                  " lead", "semi;colon"])
async def test_bad_names_are_refused(store, name: str) -> None:
    with pytest.raises(SegmentTypeError):
        await define_field(store.db, "main", name, FieldType.TEXT)
    assert await store.db["fields"].count_documents({"database": "main"}) == 5


async def test_a_bad_type_is_refused(store) -> None:
    with pytest.raises(StoreInputError) as caught:
        await define_field(store.db, "main", "Age", "integer")
    assert "integer" in str(caught.value)


async def test_profile_databases(store) -> None:
    assert await ensure_database(store.db, "brand-2")
    assert not await ensure_database(store.db, "brand-2")
    assert await list_databases(store.db) == ["brand-2", "main"]
    assert len(await load_schema(store.db, "brand-2")) == 5
    # One index per field name, shared by the profile databases.
    await define_field(store.db, "main", "City", FieldType.TEXT)
    before = await contact_index_paths(store.db)
    await define_field(store.db, "brand-2", "City", FieldType.TEXT)
    assert await contact_index_paths(store.db) == before
    # The schemas are separate.
    await define_field(store.db, "brand-2", "Age", FieldType.NUMBER)
    assert (await load_schema(store.db, "main")).get("Age") is None


@pytest.mark.parametrize("name", ["", "a:b", "a b", "x" * 65, "$main", "a.b", "ü"])
async def test_bad_database_names(store, name: str) -> None:
    with pytest.raises(StoreInputError):
        await ensure_database(store.db, name)


async def test_unknown_database(store) -> None:
    with pytest.raises(StoreInputError) as caught:
        await load_schema(store.db, "nope")
    assert "nope" in str(caught.value)
    with pytest.raises(StoreInputError):
        await define_field(store.db, "nope", "City", FieldType.TEXT)


async def test_field_indexes_are_capped(store) -> None:
    # The 5 standard fields have indexes already: 35 more reach the cap.
    for number in range(MAX_FIELD_INDEXES + 3):
        await define_field(store.db, "main", f"F{number}", FieldType.NUMBER)
    paths = await contact_index_paths(store.db)
    field_paths = {path for path in paths if path.startswith(("fields.", "folded."))}
    assert len(field_paths) == MAX_FIELD_INDEXES
    assert len(await load_schema(store.db, "main")) == 5 + MAX_FIELD_INDEXES + 3
    total = [index async for index in await store.db[CONTACTS].list_indexes()]
    assert len(total) <= 64 - 20  # room left for the event-type indexes
