"""What ``jetshop/fastreply.py`` relies on inside zeep is still there, in the shape it reads.

The fast reader (kept: it saves about a quarter of jetfort's CPU per order, ``bench/internals.py``)
walks zeep's schema objects, which are not zeep's public API. A zeep upgrade that renames or reshapes
them must fail here, by name, rather than quietly send every reply down the slow path or misread one.
The end-to-end check that the fast reader gives exactly zeep's own result on the sandbox's replies is
``test_fastreply.py``; this file names the parts.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import zeep
from zeep.loader import parse_xml
from zeep.utils import get_media_type
from zeep.wsdl.bindings.soap import SoapBinding
from zeep.wsdl.messages.soap import DocumentMessage
from zeep.xsd.elements.element import Element
from zeep.xsd.elements.indicators import Sequence
from zeep.xsd.types.builtins import Boolean, DateTime, Decimal, Integer, String
from zeep.xsd.types.complex import ComplexType
from zeep.xsd.types.simple import AnySimpleType

from jetfort.jetshop import WSDL_PATH
from jetfort.jetshop.fastreply import FastReplies
from jetfort.jetshop.hook import BINDING

#: the operations of the orders flow's hot path
HOT = ("Order_Search", "Order_Get", "Order_UpdateStatus", "Order_CapturePayment")


def params(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


@pytest.fixture(scope="module")
def binding() -> Any:
    client = zeep.Client(str(WSDL_PATH), settings=zeep.Settings(strict=True, xml_huge_tree=True))
    return client, client.wsdl.bindings[BINDING]


def test_the_functions_it_calls_keep_their_signatures() -> None:
    assert params(parse_xml)[:2] == ["content", "transport"] and "settings" in params(parse_xml)
    assert get_media_type("application/soap+xml; charset=utf-8") == "application/soap+xml"
    assert params(SoapBinding.process_reply) == ["self", "client", "operation", "response"]
    assert params(ComplexType.parse_xmlelement)[:2] == ["self", "xmlelement"]
    assert params(AnySimpleType.parse_xmlelement)[:2] == ["self", "xmlelement"]
    assert params(AnySimpleType.pythonvalue)[:2] == ["self", "value"]
    # fastreply takes a type whose pythonvalue *is* String's for text (no conversion): String must define
    # its own, or every number and date would be read as text
    assert "pythonvalue" in vars(String) and String().pythonvalue("007") == "007"
    for converting in (Decimal, Integer, Boolean, DateTime):
        assert converting.pythonvalue is not String.pythonvalue, converting


def test_the_schema_objects_of_jetshops_wsdl_have_the_shape_it_reads(binding: tuple[Any, Any]) -> None:
    client, soap = binding
    assert soap.nsmap["soap-env"] == "http://www.w3.org/2003/05/soap-envelope" and soap.transport is not None
    assert client.wsse is None and client.plugins == []
    with client.settings(raw_response=True):
        assert client.settings.raw_response is True
    for name in HOT:
        output = soap.get(name).output
        assert type(output) is DocumentMessage, name
        assert output._is_body_wrapped is False and output.body is not None, name
        element = output.body
        assert type(element) is Element and isinstance(element.type, ComplexType), name
        nested = element.type.elements_nested
        assert len(nested) == 1 and type(nested[0][1]) is Sequence, name
        sequence = nested[0][1]
        assert sequence.max_occurs == 1 and sequence.elements, name
        for key, child in sequence.elements:
            assert isinstance(key, str) and child.qname.text.startswith("{WebServiceProvider}")
            assert isinstance(child.min_occurs, int) and (child.max_occurs == "unbounded"
                                                          or isinstance(child.max_occurs, int))
        assert element.type.attributes == [], name


def test_every_hot_operation_compiles_to_a_fast_reader(binding: tuple[Any, Any]) -> None:
    client, soap = binding
    replies = FastReplies(client, soap)
    missing = [name for name in HOT if replies.reader(name) is None]
    assert missing == [], f"zeep's schema objects changed: {missing} would be read by zeep (slow path)"
