"""The fast reply reader is generic: schema shapes beyond jetfort's WSDL, checked against zeep on a small WSDL.

Required elements (what a live .NET WSDL declares for value types), a bounded ``maxOccurs``, a recursive
type, a result with several parts, and shapes the compiler must leave to zeep (attributes, choice).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from zeep.helpers import serialize_object

from jetfort.jetshop.convert import plain
from jetfort.jetshop.fastreply import FastReplies, compile_reader

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

WSDL = """<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:tns="urn:t" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" targetNamespace="urn:t">
  <wsdl:types>
    <s:schema elementFormDefault="qualified" targetNamespace="urn:t">
      <s:simpleType name="code"><s:restriction base="s:string"><s:maxLength value="3"/></s:restriction></s:simpleType>
      <s:simpleType name="count"><s:restriction base="s:int"><s:minInclusive value="0"/></s:restriction></s:simpleType>
      <s:complexType name="Node">
        <s:sequence>
          <s:element minOccurs="1" maxOccurs="1" name="Id" type="s:int"/>
          <s:element minOccurs="0" maxOccurs="1" name="Name" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="3" name="Tag" type="tns:code"/>
          <s:element minOccurs="1" maxOccurs="1" name="Flag" type="s:boolean"/>
          <s:element minOccurs="0" maxOccurs="1" name="At" nillable="true" type="s:dateTime"/>
          <s:element minOccurs="0" maxOccurs="1" name="Amount" type="s:decimal"/>
          <s:element minOccurs="0" maxOccurs="1" name="Size" type="tns:count"/>
          <s:element minOccurs="0" maxOccurs="1" name="Ratio" type="s:double"/>
          <s:element minOccurs="0" maxOccurs="unbounded" name="Child" type="tns:Node"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="Attributed">
        <s:sequence><s:element minOccurs="0" maxOccurs="1" name="Id" type="s:int"/></s:sequence>
        <s:attribute name="kind" type="s:string"/>
      </s:complexType>
      <s:complexType name="Chosen">
        <s:choice><s:element name="A" type="s:int"/><s:element name="B" type="s:string"/></s:choice>
      </s:complexType>
      <s:element name="Ask"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="id" type="s:int"/></s:sequence></s:complexType></s:element>
      <s:element name="GetResponse"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="GetResult" type="tns:Node"/></s:sequence></s:complexType></s:element>
      <s:element name="PairResponse"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="First" type="tns:Node"/>
        <s:element minOccurs="1" maxOccurs="1" name="Count" type="s:int"/></s:sequence></s:complexType></s:element>
      <s:element name="ManyResponse"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="unbounded" name="Item" type="s:int"/></s:sequence></s:complexType></s:element>
      <s:element name="AttrResponse"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="AttrResult" type="tns:Attributed"/></s:sequence></s:complexType></s:element>
      <s:element name="ChoiceResponse"><s:complexType><s:sequence>
        <s:element minOccurs="0" maxOccurs="1" name="ChoiceResult" type="tns:Chosen"/></s:sequence></s:complexType></s:element>
    </s:schema>
  </wsdl:types>
  <wsdl:message name="AskIn"><wsdl:part name="parameters" element="tns:Ask"/></wsdl:message>
  {messages}
  <wsdl:portType name="P">{port_ops}</wsdl:portType>
  <wsdl:binding name="B" type="tns:P">
    <soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/>
    {binding_ops}
  </wsdl:binding>
  <wsdl:service name="S"><wsdl:port name="B" binding="tns:B">
    <soap12:address location="http://127.0.0.1:9/s.asmx"/></wsdl:port></wsdl:service>
</wsdl:definitions>
"""
OPERATIONS = ("Get", "Pair", "Many", "Attr", "Choice")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> zeep.Client:
    messages = "".join(f'<wsdl:message name="{op}Out"><wsdl:part name="parameters" element="tns:{op}Response"/>'
                       "</wsdl:message>" for op in OPERATIONS)
    port_ops = "".join(f'<wsdl:operation name="{op}"><wsdl:input message="tns:AskIn"/>'
                       f'<wsdl:output message="tns:{op}Out"/></wsdl:operation>' for op in OPERATIONS)
    binding_ops = "".join(f'<wsdl:operation name="{op}"><soap12:operation soapAction="urn:t/{op}" style="document"/>'
                          '<wsdl:input><soap12:body use="literal"/></wsdl:input>'
                          '<wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation>'
                          for op in OPERATIONS)
    path: Path = tmp_path_factory.mktemp("wsdl") / "t.wsdl"
    path.write_text(WSDL.replace("{messages}", messages).replace("{port_ops}", port_ops)
                    .replace("{binding_ops}", binding_ops))
    return zeep.Client(str(path), settings=zeep.Settings(strict=True))


def binding_of(client: zeep.Client) -> Any:
    return client.wsdl.bindings["{urn:t}B"]


def reply(operation: str, inner: str, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP12}" '
                         'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>'
                         f'<{operation}Response xmlns="urn:t">{inner}</{operation}Response>'
                         "</soap:Body></soap:Envelope>").encode()
    response.headers["Content-Type"] = "application/soap+xml; charset=utf-8"
    return response


def both(client: zeep.Client, operation: str, response: requests.Response) -> tuple[Any, Any, FastReplies]:
    """(fast outcome, zeep outcome, the FastReplies used)."""
    binding = binding_of(client)
    replies = FastReplies(client, binding)

    def run(read: Any) -> Any:
        try:
            return "result", repr(read())
        except Exception as exc:
            return type(exc).__qualname__, str(exc)
    fast = run(lambda: replies.read(operation, response))
    slow = run(lambda: plain(binding.process_reply(client, binding.get(operation), response)))
    return fast, slow, replies


NODE = ("<Id>1</Id><Name>root</Name><Tag>a</Tag><Tag>bc</Tag><Tag/><Flag> true </Flag>"
        "<At>2026-03-29T02:30:00+01:00</At><Amount>\n12.50 </Amount><Size>4</Size><Ratio>0.5</Ratio>"
        "<Child><Id>2</Id><Flag>True</Flag><At xsi:nil=\"true\"/>"
        "<Child><Id>3</Id><Flag>1</Flag><Child><Id>4</Id><Flag>0</Flag></Child></Child></Child>"
        "<Child><Id>5</Id><Tag>x</Tag><Flag>false</Flag></Child>")

#: name -> (operation, body inner XML, read the fast way?)
CASES: dict[str, tuple[str, str, bool]] = {
    "recursive_nodes": ("Get", f"<GetResult>{NODE}</GetResult>", True),
    "result_missing": ("Get", "", True),
    "result_empty": ("Get", "<GetResult/>", True),
    "bounded_list_at_the_bound": ("Get", "<GetResult><Id>1</Id><Tag>a</Tag><Tag>b</Tag><Tag>c</Tag>"
                                         "<Flag>true</Flag></GetResult>", True),
    "bounded_list_over_the_bound": ("Get", "<GetResult><Id>1</Id><Tag>a</Tag><Tag>b</Tag><Tag>c</Tag><Tag>d</Tag>"
                                           "<Flag>true</Flag></GetResult>", False),
    "required_missing_before_others": ("Get", "<GetResult><Name>n</Name><Flag>true</Flag></GetResult>", False),
    "required_missing_at_the_end": ("Get", "<GetResult><Id>1</Id><Name>n</Name></GetResult>", False),
    "required_nil_object": ("Get", '<GetResult xsi:nil="true"/>', False),
    "restricted_int_not_a_number": ("Get", "<GetResult><Id>1</Id><Flag>true</Flag><Size>many</Size></GetResult>",
                                    False),
    "two_parts": ("Pair", f"<First>{NODE}</First><Count>7</Count>", True),
    "two_parts_empty": ("Pair", "", False),  # Count is required: zeep gives its default, without complaint
    "two_parts_required_missing": ("Pair", f"<First>{NODE}</First>", False),
    "repeated_simple_result": ("Many", "<Item>1</Item><Item/><Item> 3</Item>", True),
    "repeated_simple_result_none": ("Many", "", True),
    "attributes_left_to_zeep": ("Attr", '<AttrResult kind="k"><Id>1</Id></AttrResult>', False),
    "choice_left_to_zeep": ("Choice", "<ChoiceResult><B>b</B></ChoiceResult>", False),
    "out_of_sequence_in_a_child": ("Get", "<GetResult><Id>1</Id><Flag>true</Flag><Child><Id>5</Id><Flag>0</Flag>"
                                          "<Tag>x</Tag></Child></GetResult>", False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_generic_shapes_read_as_zeep_reads_them(name: str, client: zeep.Client,
                                               caplog: pytest.LogCaptureFixture) -> None:
    operation, inner, fast = CASES[name]
    with caplog.at_level(logging.ERROR, logger="zeep"):
        got, want, replies = both(client, operation, reply(operation, inner))
    assert got == want
    assert (replies.fast_reads, replies.zeep_reads) == ((1, 0) if fast else (0, 1))


def test_compiled_operations_and_the_ones_left_to_zeep(client: zeep.Client) -> None:
    binding = binding_of(client)
    compiled = {op for op in OPERATIONS if compile_reader(binding, op) is not None}
    assert compiled == {"Get", "Pair", "Many"}


def test_values_come_from_zeeps_own_conversions(client: zeep.Client) -> None:
    replies = FastReplies(client, binding_of(client))
    node = replies.read("Get", reply("Get", f"<GetResult>{NODE}</GetResult>"))
    assert replies.fast_reads == 1
    assert list(node) == ["Id", "Name", "Tag", "Flag", "At", "Amount", "Size", "Ratio", "Child"]
    assert node["Tag"] == ["a", "bc", None] and node["Flag"] is True and str(node["Amount"]) == "12.50"
    assert node["At"].utcoffset().total_seconds() == 3600 and node["Ratio"] == 0.5 and node["Size"] == 4
    child = node["Child"][0]
    assert child["Flag"] is False and child["At"] is None and child["Tag"] == [] and child["Name"] is None
    assert child["Child"][0]["Child"][0]["Id"] == 4 and node["Child"][1]["Child"] == []
    # the same values as zeep's objects, serialized by zeep itself
    binding = binding_of(client)
    response = reply("Get", f"<GetResult>{NODE}</GetResult>")
    assert node == serialize_object(binding.process_reply(client, binding.get("Get"), response), dict)


def test_call_reads_raw_responses_and_restores_the_setting(client: zeep.Client) -> None:
    replies = FastReplies(client, binding_of(client))
    seen = []

    def send_get() -> requests.Response:
        seen.append(client.settings.raw_response)
        return reply("Get", "<GetResult><Id>9</Id><Flag>1</Flag></GetResult>")

    assert replies.call("Get", send_get)["Id"] == 9 and seen == [True]
    assert client.settings.raw_response is False

    def send_attr() -> Any:  # not compiled: zeep reads it in the call, the result is made plain
        seen.append(client.settings.raw_response)
        binding = binding_of(client)
        return binding.process_reply(client, binding.get("Attr"), reply("Attr", '<AttrResult kind="k"/>'))

    assert replies.call("Attr", send_attr) == {"Id": None, "kind": "k"} and seen == [True, False]
    assert (replies.fast_reads, replies.zeep_reads) == (1, 1)

    def send_fails() -> Any:
        raise requests.ConnectionError("gone")

    with pytest.raises(requests.ConnectionError):
        replies.call("Get", send_fails)
    assert client.settings.raw_response is False
