"""convert.plain gives exactly what zeep's serialize_object(value, dict) gives (it is a faster copy)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import zeep
from zeep.helpers import serialize_object

from jetfort.jetshop import WSDL_PATH
from jetfort.jetshop.convert import plain


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
