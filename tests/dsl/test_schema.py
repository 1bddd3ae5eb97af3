"""The field schema: types, standard fields, name rules, suggestions, the JSON form."""

from __future__ import annotations

import pytest

from dsl.errors import SegmentTypeError
from dsl.schema import (STANDARD_FIELDS, SYSTEM_EVENT_TYPES, FieldDef, FieldSchema, FieldType,
                        closest_name, validate_attribute_name, validate_field_name)

T, N, D, B = FieldType.TEXT, FieldType.NUMBER, FieldType.DATE, FieldType.BOOLEAN


def test_field_types_and_standard_fields():
    assert [kind.value for kind in FieldType] == ["text", "number", "date", "boolean"]
    assert {field.name: field.type for field in STANDARD_FIELDS} == {
        "Email": T, "MobilePhone": T, "FirstName": T, "LastName": T, "CreateTime": D}
    assert all(field.standard for field in STANDARD_FIELDS)
    assert SYSTEM_EVENT_TYPES == {"MailOpen", "MailClick", "SmsClick", "PushClick", "PageVisit"}


def test_field_def_is_frozen():
    field = FieldDef("City", T)
    assert field.standard is False
    with pytest.raises(AttributeError):
        field.name = "Town"  # type: ignore[misc]


@pytest.mark.parametrize("name", [
    "City", "Customer Status", "order_count", "plan-tier", "x", "A1", "1st purchase",
    "Größe", "Ville été", "東京", "नाम", "Cafe\u0301", "a" * 64,
])
def test_valid_names(name):
    validate_field_name(name)
    validate_attribute_name(name)


@pytest.mark.parametrize("name, message", [
    ("", "the field name cannot be empty"),
    ("   ", "the field name cannot be empty"),
    ("a" * 65, "is 65 characters long; the limit is 64"),
    ("a.b", "the field name 'a.b' contains '.'"),
    ("$where", "contains '$'"),
    ("price$", "contains '$'"),
    ("a/b", "contains '/'"),
    ("tab\there", "contains '\\t'"),
    ("new\nline", "contains '\\n'"),
    ("nul\0", "contains '\\x00'"),
    ("emoji😀", "contains '😀'"),
    ("quote\"", "contains '\"'"),
    (" City", "starts or ends with a space"),
    ("City ", "starts or ends with a space"),
    (5, "the field name must be text, not 5"),
])
def test_invalid_field_names(name, message):
    with pytest.raises(SegmentTypeError) as caught:
        validate_field_name(name)
    assert message in caught.value.message
    assert caught.value.suggestion


def test_attribute_names_follow_the_same_rule():
    with pytest.raises(SegmentTypeError, match="the event attribute name 'a.b' contains '.'"):
        validate_attribute_name("a.b")
    with pytest.raises(SegmentTypeError, match="the event attribute name cannot be empty"):
        validate_attribute_name("")


def test_schema_always_has_the_standard_fields():
    schema = FieldSchema()
    assert len(schema) == 5
    assert schema.get("Email") == FieldDef("Email", T, standard=True)
    assert schema.get("CreateTime").type is D
    assert list(schema) == list(STANDARD_FIELDS)


def test_get_is_exact_and_case_sensitive():
    schema = FieldSchema([FieldDef("City", T)])
    assert schema.get("City") == FieldDef("City", T)
    assert schema.get("city") is None
    assert schema.get("Citty") is None


def test_a_standard_field_listed_again_is_the_same_field():
    schema = FieldSchema([FieldDef("Email", T), FieldDef("City", T), FieldDef("City", T)])
    assert len(schema) == 6
    assert schema.get("Email").standard
    with pytest.raises(SegmentTypeError, match="a field named Email already exists"):
        FieldSchema([FieldDef("Email", N)])


def test_names_never_differ_only_by_case():
    with pytest.raises(SegmentTypeError, match="a field named City already exists"):
        FieldSchema([FieldDef("City", T), FieldDef("CITY", N)])
    with pytest.raises(SegmentTypeError, match="a field named Email already exists"):
        FieldSchema([FieldDef("email", T)])


def test_bad_field_defs_are_refused():
    with pytest.raises(SegmentTypeError, match="contains '.'"):
        FieldSchema([FieldDef("a.b", T)])
    with pytest.raises(SegmentTypeError, match="'text' is not a field type"):
        FieldSchema([FieldDef("City", "text")])  # type: ignore[arg-type]


@pytest.mark.parametrize("name, suggestion", [
    ("City", "City"), ("city", "City"), ("CITY", "City"), ("Citty", "City"), ("Cty", "City"),
    ("email", "Email"), ("Emial", "Email"), ("first_name", "FirstName"),
    ("Customer Statu", "Customer Status"), ("Zzzzzz", None), ("Age", None),
])
def test_suggest(name, suggestion):
    schema = FieldSchema([FieldDef("City", T), FieldDef("Customer Status", T)])
    assert schema.suggest(name) == suggestion


def test_case_insensitive_match_wins_over_a_closer_spelling():
    schema = FieldSchema([FieldDef("Ages", N), FieldDef("age", N)])
    assert schema.suggest("AGE") == "age"


def test_closest_name():
    assert closest_name("MailClik", SYSTEM_EVENT_TYPES) == "MailClick"
    assert closest_name("mailclick", SYSTEM_EVENT_TYPES) == "MailClick"
    assert closest_name("Purchase", SYSTEM_EVENT_TYPES) is None
    assert closest_name("ab", ["abc"], cutoff=0.9) is None
    assert closest_name("x", []) is None


def test_with_field_returns_a_new_schema():
    schema = FieldSchema()
    larger = schema.with_field("Age", N).with_field("City", "text")
    assert schema.get("Age") is None and len(schema) == 5
    assert larger.get("Age") == FieldDef("Age", N)
    assert larger.get("City") == FieldDef("City", T)
    assert [field.name for field in larger][-2:] == ["Age", "City"]


@pytest.mark.parametrize("name, type, message", [
    ("city", "text", "a field named City already exists (text)"),
    ("City", "number", "a field named City already exists (text)"),
    ("EMAIL", "text", "a field named Email already exists (text)"),
    ("a.b", "text", "contains '.'"),
    ("", "text", "cannot be empty"),
    ("Age", "integer", "field Age: 'integer' is not a field type"),
])
def test_with_field_refuses(name, type, message):
    schema = FieldSchema([FieldDef("City", T)])
    with pytest.raises(SegmentTypeError) as caught:
        schema.with_field(name, type)
    assert message in caught.value.message
    assert caught.value.suggestion


def test_json_form_round_trips():
    data = {"City": "text", "Age": "number", "Signup": "date", "Newsletter": "boolean"}
    schema = FieldSchema.from_json(data)
    assert schema.get("Age") == FieldDef("Age", N)
    assert schema.to_json() == {"Email": "text", "MobilePhone": "text", "FirstName": "text",
                                "LastName": "text", "CreateTime": "date", **data}
    assert FieldSchema.from_json(schema.to_json()).to_json() == schema.to_json()
    assert [field.standard for field in FieldSchema.from_json(schema.to_json())].count(True) == 5


@pytest.mark.parametrize("data, message", [
    ({"Age": "int"}, "field 'Age': 'int' is not a field type"),
    ({"Age": None}, "field 'Age': None is not a field type"),
    ({"Age": ["number"]}, "field 'Age': ['number'] is not a field type"),
    ({"a.b": "text"}, "field 'a.b': the field name 'a.b' contains '.'"),
    ({"": "text"}, "field '': the field name cannot be empty"),
    ({"City": "text", "city": "text"}, "a field named City already exists"),
    ({"Email": "date"}, "a field named Email already exists (text)"),
    (["City"], "the fields must be a JSON object"),
    ("City", "the fields must be a JSON object"),
])
def test_json_form_errors_name_the_entry(data, message):
    with pytest.raises(SegmentTypeError) as caught:
        FieldSchema.from_json(data)
    assert message in caught.value.message
    assert caught.value.suggestion
