"""convert.plain gives exactly what zeep's serialize_object(value, dict) gives (it is a faster copy)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import zeep
from zeep.helpers import serialize_object

from jetfort.jetshop import WSDL_PATH
from jetfort.jetshop.convert import items, plain


def test_plain_equals_zeep_serialize_object() -> None:
    client = zeep.Client(str(WSDL_PATH))
    variant = client.get_type("{WebServiceProvider}VariantData")
    array = client.get_type("{WebServiceProvider}ArrayOfVariantData")
    value = {"a": array(VariantData=[variant(ArticleNumber="A-1", ProductId=7), variant(AttValue="röd")]),
             "b": [variant(), None, Decimal("1.50"), dt.datetime(2026, 1, 2)], "c": "text"}
    for sample in (value, value["a"], [value["a"], None], None, 5):
        got, want = plain(sample), serialize_object(sample, dict)
        assert got == want
        assert repr(got) == repr(want)  # same types and key order


def test_items_takes_plain_data_as_it_is_and_zeep_objects_made_plain() -> None:
    client = zeep.Client(str(WSDL_PATH))
    variant = client.get_type("{WebServiceProvider}VariantData")
    array = client.get_type("{WebServiceProvider}ArrayOfVariantData")
    objects = [variant(ArticleNumber="A-1", ProductId=7), None, variant(AttValue="röd")]
    want = [d for d in serialize_object(objects, dict) if d is not None]
    for value in (array(VariantData=objects), objects, {"VariantData": serialize_object(objects, dict)}):
        got = items(value, "VariantData")
        assert got == want and repr(got) == repr(want)
    plain_rows = [{"ArticleNumber": "A-1"}, None, {"ArticleNumber": "A-2"}]
    got = items({"VariantData": plain_rows}, "VariantData")
    assert got == [plain_rows[0], plain_rows[2]] and got[0] is plain_rows[0]  # not copied again
    assert items(None, "VariantData") == [] and items({"VariantData": None}, "VariantData") == []
    assert items(array(VariantData=[]), "VariantData") == []
