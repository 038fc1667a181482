"""SOAP plumbing of the Jetshop sandbox: envelopes, faults and an XmlSerializer-like reader/writer.

Element order and types come from the WSDL jetfort ships (read as a data file), so the sandbox and
the client share one contract. Reading is strict the way .NET's XmlSerializer is: text that does not
parse as the element's type is a ``soap:Sender`` fault naming the XML position; unknown elements
and elements in another namespace are ignored. Writing follows the observed live format: ``soap``
prefix, xsi/xsd declared, 4-decimal money, VAT as an 8-decimal fraction, zone-less local
timestamps, ``xsi:nil`` for null nullables, ``<X />`` for empty strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

NS = "WebServiceProvider"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"

WSDL_PATH = Path(__file__).resolve().parents[2] / "plugins" / "jetfort" / "jetshop" / "wsdl" / "webservice.wsdl"

# fractions reported with 8 decimals (observed: <Vat>0.25000000</Vat>)
VAT_FIELDS = frozenset({"Vat", "FreightVat", "PaymentFeeVat"})
_INT_RE = re.compile(r"^\s*[+-]?\d+\s*$")
_DEC_RE = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$")
_GUID_RE = re.compile(r"^\s*\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?\s*$")
_DT_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?(Z|[+-]\d{2}:\d{2})?\s*$")


class SoapFault(Exception):
    """Becomes an HTTP 500 SOAP fault; ``code`` is ``Sender`` or ``Receiver``."""

    def __init__(self, reason: str, code: str = "Sender") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # local type name: string/int/decimal/boolean/dateTime/guid or a complex type name
    nillable: bool
    repeated: bool

    @property
    def primitive(self) -> bool:
        return self.type in PRIMITIVES


PRIMITIVES = frozenset({"string", "int", "decimal", "boolean", "dateTime", "guid"})


class Schema:
    """Complex types and operations as declared in the shipped WSDL."""

    def __init__(self, wsdl_path: Path = WSDL_PATH) -> None:
        self.wsdl_bytes = wsdl_path.read_bytes()
        doc = etree.fromstring(self.wsdl_bytes)
        x = f"{{{XSD}}}"
        self.types: dict[str, list[Field]] = {}
        self.operations: dict[str, list[Field]] = {}
        self.results: dict[str, Field] = {}
        for schema in doc.iter(f"{x}schema"):
            if schema.get("targetNamespace") != NS:
                continue
            for ctype in schema.findall(f"{x}complexType"):
                self.types[ctype.get("name")] = self._fields(ctype)
            for elem in schema.findall(f"{x}element"):
                name = elem.get("name")
                fields = self._fields(elem.find(f"{x}complexType"))
                if name.endswith("Response"):
                    self.results[name[: -len("Response")]] = fields[0]
                else:
                    self.operations[name] = fields

    @staticmethod
    def _fields(ctype: Any) -> list[Field]:
        out = []
        for el in ctype.iter(f"{{{XSD}}}element"):
            out.append(Field(name=el.get("name"), type=el.get("type").split(":", 1)[1],
                             nillable=el.get("nillable") == "true", repeated=el.get("maxOccurs") == "unbounded"))
        return out

    def array_item(self, type_name: str) -> Field | None:
        """The item field when ``type_name`` is an ``ArrayOfX`` wrapper."""
        fields = self.types.get(type_name, [])
        return fields[0] if len(fields) == 1 and fields[0].repeated else None


# ----------------------------------------------------------------------------------------- reading

class Reader:
    """Turns request elements into dicts of the fields present (partial updates keep omissions)."""

    def __init__(self, schema: Schema, raw: bytes) -> None:
        self.schema = schema
        self.lines = raw.decode("utf-8", errors="replace").splitlines()

    def read_params(self, op_elem: Any, op: str) -> dict[str, Any]:
        return self._read_fields(op_elem, self.schema.operations[op])

    def read_complex(self, elem: Any, type_name: str) -> Any:
        item = self.schema.array_item(type_name)
        if item is not None:
            return [self._read_value(child, item) for child in elem
                    if _qualified(child) and etree.QName(child).localname == item.name]
        return self._read_fields(elem, self.schema.types[type_name])

    def _read_fields(self, elem: Any, fields: list[Field]) -> dict[str, Any]:
        by_name = {f.name: f for f in fields}
        out: dict[str, Any] = {}
        for child in elem:
            if not _qualified(child):
                continue  # XmlSerializer ignores elements it does not know (other namespaces too)
            field = by_name.get(etree.QName(child).localname)
            if field is None:
                continue
            value = self._read_value(child, field)
            if field.repeated:
                out.setdefault(field.name, []).append(value)
            else:
                out[field.name] = value
        return out

    def _read_value(self, child: Any, field: Field) -> Any:
        if child.get(f"{{{XSI}}}nil") in ("true", "1"):
            return None
        if not field.primitive:
            return self.read_complex(child, field.type)
        text = child.text or ""
        try:
            return parse_primitive(field.type, text)
        except ValueError as exc:
            line, col = self._position(child)
            raise SoapFault(
                f"Server was unable to read request. ---> There is an error in XML document ({line}, {col}). "
                f"---> {exc}") from None

    def _position(self, elem: Any) -> tuple[int, int]:
        line = elem.sourceline or 1
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        name = etree.QName(elem).localname
        match = re.search(rf"<([\w.-]+:)?{re.escape(name)}[\s/>]", text)
        col = (match.end() if match else 1)
        return line, col


def _qualified(elem: Any) -> bool:
    return isinstance(elem.tag, str) and etree.QName(elem).namespace == NS


def parse_primitive(type_name: str, text: str) -> Any:
    """Parse like .NET: failures raise ValueError with the .NET message."""
    if type_name == "string":
        return text
    if type_name == "int":
        if not _INT_RE.match(text):
            raise ValueError("Input string was not in a correct format.")
        value = int(text)
        if not -(2**31) <= value < 2**31:
            raise ValueError("Value was either too large or too small for an Int32.")
        return value
    if type_name == "decimal":
        if not _DEC_RE.match(text):
            raise ValueError("Input string was not in a correct format.")
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            raise ValueError("Input string was not in a correct format.") from None
    if type_name == "boolean":
        value = text.strip()
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise ValueError(f"The string '{text}' is not a valid Boolean value.")
    if type_name == "dateTime":
        return parse_datetime(text)
    if type_name == "guid":
        if not _GUID_RE.match(text):
            raise ValueError("Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).")
        return text.strip().strip("{}")
    raise ValueError(f"unknown type {type_name}")


STOCKHOLM = ZoneInfo("Europe/Stockholm")


def parse_datetime(text: str, local_tz: ZoneInfo = STOCKHOLM) -> datetime:
    """xsd:dateTime -> naive shop-local time (an offset is converted, like XmlSerializer does)."""
    match = _DT_RE.match(text)
    if not match:
        raise ValueError(f"The string '{text}' is not a valid AllXsd value.")
    y, mo, d, h, mi, s, frac, tz = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro)
    except ValueError:
        raise ValueError(f"The string '{text}' is not a valid AllXsd value.") from None
    if tz:
        from datetime import timedelta, timezone
        offset = timedelta(0) if tz == "Z" else timedelta(hours=int(tz[:3]), minutes=int(tz[0] + tz[4:]))
        value = value.replace(tzinfo=timezone(offset)).astimezone(local_tz).replace(tzinfo=None)
    return value


# ----------------------------------------------------------------------------------------- writing

def format_datetime(value: datetime) -> str:
    """.NET round-trip style without zone, trailing fraction zeros trimmed (``09:30:47.69``)."""
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        base += "." + f"{value.microsecond:06d}".rstrip("0")
    return base


def format_decimal(value: Decimal | int | float, places: int = 4) -> str:
    quant = Decimal(1).scaleb(-places)
    return str(Decimal(str(value)).quantize(quant, rounding=ROUND_HALF_UP))


def format_primitive(field: Field, value: Any) -> str:
    if isinstance(value, str):  # a raw wire text stored on purpose (tests of unreadable values): sent as is
        return value
    if field.type == "boolean":
        return "true" if value else "false"
    if field.type == "decimal":
        return format_decimal(value, 8 if field.name in VAT_FIELDS else 4)
    if field.type == "dateTime":
        return format_datetime(value) if isinstance(value, datetime) else str(value)
    return str(value)


class Writer:
    """Builds result elements from dicts in the WSDL's element order."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def write_field(self, parent: Any, field: Field, value: Any) -> None:
        values = value if field.repeated else [value]
        for item in values:
            elem = etree.SubElement(parent, f"{{{NS}}}{field.name}")
            if item is None:
                elem.set(f"{{{XSI}}}nil", "true")
            elif field.primitive:
                text = format_primitive(field, item)
                if text:
                    elem.text = text
            else:
                self.write_complex(elem, field.type, item)

    def write_complex(self, elem: Any, type_name: str, value: Any) -> None:
        item = self.schema.array_item(type_name)
        if item is not None:
            for entry in value or []:
                self.write_field(elem, Field(item.name, item.type, item.nillable, False), entry)
            return
        for field in self.schema.types[type_name]:
            if field.name not in value:
                continue
            v = value[field.name]
            if v is None and not field.nillable:
                continue
            self.write_field(elem, field, v)


def response_envelope(schema: Schema, op: str, result: Any, soap_ns: str = SOAP12) -> bytes:
    """``<soap:Envelope><soap:Body><OpResponse xmlns="WebServiceProvider"><OpResult>...``"""
    env = etree.Element(f"{{{soap_ns}}}Envelope", nsmap={"soap": soap_ns, "xsi": XSI, "xsd": XSD})
    body = etree.SubElement(env, f"{{{soap_ns}}}Body")
    resp = etree.SubElement(body, f"{{{NS}}}{op}Response", nsmap={None: NS})
    field = schema.results[op]
    if result is not None:
        res = etree.SubElement(resp, f"{{{NS}}}{field.name}")
        Writer(schema).write_complex(res, field.type, result)
    return _serialize(env)


def fault_envelope(reason: str, code: str = "Sender", soap_ns: str = SOAP12) -> bytes:
    """A .NET-style SOAP fault (1.2: Code/Value soap:Sender|soap:Receiver; 1.1: faultcode soap:Client|Server)."""
    env = etree.Element(f"{{{soap_ns}}}Envelope", nsmap={"soap": soap_ns, "xsi": XSI, "xsd": XSD})
    body = etree.SubElement(env, f"{{{soap_ns}}}Body")
    fault = etree.SubElement(body, f"{{{soap_ns}}}Fault")
    if soap_ns == SOAP12:
        value = etree.SubElement(etree.SubElement(fault, f"{{{soap_ns}}}Code"), f"{{{soap_ns}}}Value")
        value.text = f"soap:{code}"
        text = etree.SubElement(etree.SubElement(fault, f"{{{soap_ns}}}Reason"), f"{{{soap_ns}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = reason
        etree.SubElement(fault, f"{{{soap_ns}}}Detail")
    else:
        etree.SubElement(fault, "faultcode").text = "soap:" + ("Client" if code == "Sender" else "Server")
        etree.SubElement(fault, "faultstring").text = reason
        etree.SubElement(fault, "detail")
    return _serialize(env)


def _serialize(env: Any) -> bytes:
    xml = etree.tostring(env, encoding="unicode")
    xml = re.sub(r"(?<=[^\s/])/>", " />", xml)
    return ('<?xml version="1.0" encoding="utf-8"?>' + xml).encode("utf-8")


@dataclass
class Request:
    soap_ns: str
    operation: str
    op_elem: Any
    shop_id: str | None


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def parse_request(raw: bytes, schema: Schema) -> Request:
    """Parse the envelope and find the operation (dispatch on the body's root element)."""
    try:
        env = etree.fromstring(raw, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        line, col = (exc.position if exc.position else (1, 1))
        raise SoapFault("Server was unable to read request. ---> There is an error in XML document "
                        f"({line}, {col}). ---> {exc.msg}") from None
    qn = etree.QName(env)
    if qn.localname != "Envelope" or qn.namespace not in (SOAP12, SOAP11):
        raise SoapFault("Possible SOAP version mismatch: Envelope namespace "
                        f"{qn.namespace} was unexpected. Expecting {SOAP12}.")
    soap_ns = qn.namespace
    header = env.find(f"{{{soap_ns}}}Header")
    shop_id = None
    if header is not None:
        for el in header.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname == "ShopId":
                shop_id = (el.text or "").strip()
                break
    body = env.find(f"{{{soap_ns}}}Body")
    children = [c for c in (body if body is not None else []) if isinstance(c.tag, str)]
    if not children:
        raise SoapFault("Server was unable to process request. ---> The SOAP Body is empty.")
    op_elem = children[0]
    op_qn = etree.QName(op_elem)
    if op_qn.namespace != NS or op_qn.localname not in schema.operations:
        raise SoapFault(f"Unable to handle request. The request element '{op_qn.localname}' in namespace "
                        f"'{op_qn.namespace or ''}' does not match any operation of this service.")
    return Request(soap_ns=soap_ns, operation=op_qn.localname, op_elem=op_elem, shop_id=shop_id)
