import datetime as dt

import pytest

from dsl.schema import FieldType
from dsl.values import (ValueRejected, bucket_bounds, bucket_of, coerce_field, fold,
                        normalize_attributes, summary_key)

UTC = dt.timezone.utc


def test_bucket_is_fixed_per_database_and_id():
    assert bucket_of("main", "c1") == bucket_of("main", "c1")
    assert 0 <= bucket_of("main", "c1") < 10_000
    assert len({bucket_of("main", f"c{i}") for i in range(1000)}) > 900  # spread, not constant
    assert [bucket_of("other", f"c{i}") for i in range(20)] != [bucket_of("main", f"c{i}") for i in range(20)]


def test_ranges_do_not_overlap_and_cover_everything():
    assert bucket_bounds(0, 20) == (0, 2000)
    assert bucket_bounds(80, 100) == (8000, 10_000)
    assert bucket_bounds(0.01, 0.02) == (1, 2)
    with pytest.raises(ValueError):
        bucket_bounds(30, 20)


@pytest.mark.parametrize("field_type, given, stored", [
    (FieldType.TEXT, "Krakow", "Krakow"),
    (FieldType.TEXT, 48123456789, "48123456789"),
    (FieldType.TEXT, "", ""),
    (FieldType.NUMBER, 31, 31),
    (FieldType.NUMBER, "31", 31),
    (FieldType.NUMBER, " 2.5 ", 2.5),
    (FieldType.NUMBER, "", None),
    (FieldType.DATE, "2024-05-01", dt.datetime(2024, 5, 1, tzinfo=UTC)),
    (FieldType.DATE, "2024-05-01T12:00:00+02:00", dt.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    (FieldType.DATE, "2024-05-01T10:00:00.123456Z", dt.datetime(2024, 5, 1, 10, 0, 0, 123_000, tzinfo=UTC)),
    (FieldType.BOOLEAN, True, True),
    (FieldType.BOOLEAN, "Yes", True),
    (FieldType.BOOLEAN, "false", False),
    (FieldType.TEXT, None, None),
])
def test_coercion(field_type, given, stored):
    assert coerce_field(field_type, given) == stored


@pytest.mark.parametrize("field_type, given", [
    (FieldType.TEXT, True), (FieldType.TEXT, 2.5), (FieldType.TEXT, ["a"]),
    (FieldType.NUMBER, True), (FieldType.NUMBER, "31 years"), (FieldType.NUMBER, float("nan")),
    (FieldType.NUMBER, 2**60), (FieldType.DATE, "yesterday"), (FieldType.DATE, "2024-02-30"),
    (FieldType.DATE, 1714521600), (FieldType.BOOLEAN, "maybe"), (FieldType.BOOLEAN, 1),
])
def test_values_that_do_not_fit_are_rejected_with_the_value_named(field_type, given):
    with pytest.raises(ValueRejected) as error:
        coerce_field(field_type, given)
    assert repr(given)[:10] in str(error.value) or str(given)[:10] in str(error.value)


def test_fold_is_casefold():
    assert fold("STRASSE") == fold("Straße") and fold("KRAKÓW") == "kraków"


def test_summary_key_never_makes_a_path():
    assert summary_key("MailClick") == "MailClick"
    for name in ("order.completed", "$where", "a" * 200):
        key = summary_key(name)
        assert "." not in key and not key.startswith("$")
    assert summary_key("order.completed") != summary_key("order_completed")


def test_attributes_are_flat_and_typed():
    stored, folded = normalize_attributes({"url": "HTTPS://X/Pricing", "price": 5, "sent": "2024-05-01",
                                           "gift": False, "note": None})
    assert stored["sent"] == dt.datetime(2024, 5, 1, tzinfo=UTC) and stored["price"] == 5
    assert folded == {"url": "https://x/pricing"}
    for bad in ({"a": {"b": 1}}, {"a": [1]}, {"a.b": 1}, {"$x": 1}, [1]):
        with pytest.raises(ValueRejected):
            normalize_attributes(bad)
