"""Fast reading of successful Jetshop SOAP replies, compiled once per operation from zeep's own schema.

Why this exists: in the orders extract stage, zeep's generic XSD deserialization (``Element.parse`` →
``Sequence.parse_xmlelements`` → ``CompoundValue.__init__`` for every element of every order) and then
:func:`convert.plain` turning zeep's objects into dicts were most of jetfort's CPU (under cProfile:
2.1 s and 0.7 s of the stage's 3.1 s for 500 orders). ``bench/orders_flow.py`` measured the extract
stage at 0.78-0.82 ms CPU per order before and 0.27-0.29 ms with this reader, which reads a 100-order
``Order_Search`` page in ~0.05 ms per order (lxml's parse included) where zeep + ``convert.plain``
took ~0.55 ms. What is left of the stage is the HTTP exchange, jetfort's models and the ledger.
Over the whole orders flow it saves about a quarter of jetfort's CPU per order (``bench/internals.py``,
issue 17). It reads zeep's schema objects, which are not zeep's public API: ``test_zeep_internals.py``
names every part it relies on and ``test_fastreply.py`` checks that it gives exactly zeep's result, so
a zeep upgrade that changes them fails those tests instead of quietly slowing down or misreading.

What it does: zeep keeps the WSDL, request building, transport, SOAP headers and faults. Only the
body of a *successful* reply is read here. For each operation :func:`compile_reader` walks zeep's
objects for the operation's output (element names and namespaces, which elements repeat
(``max_occurs``), each simple type's own ``pythonvalue``) and builds a small reader. The reader runs
over the lxml tree of the reply and returns exactly what ``convert.plain(<zeep's result>)`` returns
for it: the same dicts in the same key order, ``None`` for missing optional, empty or nil simple
elements, ``[]`` for absent repeated elements, zeep's unwrapping of single-child results
(``ArrayOfOrderData`` → the list of orders).

Anything the reader is not sure about is zeep's to read, so results and errors stay as they were:
not HTTP 200, a SOAP Fault, a multipart reply, WS-Security or zeep plugins configured, an
``xsi:type`` attribute anywhere in the reply, an element that is unknown, out of order, unqualified or
repeated beyond ``max_occurs``, a missing required element, a value the simple type cannot convert,
and schema shapes outside plain ``sequence``-of-elements complex types without attributes (those
operations are not compiled at all). In all these cases the same HTTP response goes through zeep's
``binding.process_reply``, which raises what it always raised (``Fault``, ``TransportError``,
``XMLParseError``, ...) or returns its result, made plain.

One deliberate difference: for the order reads (``keep_unreadable``, see :data:`hook.ORDER_READS`) a
value its type cannot convert is kept as :class:`convert.Unreadable` instead of sending the reply
to zeep — zeep would log it and read it as None (``1.5`` in an int element) or fail the whole reply
(``1,5`` in a decimal one); the order it belongs to is then refused by name and the rest is read.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.loader import parse_xml
from zeep.utils import get_media_type
from zeep.wsdl.messages.soap import DocumentMessage
from zeep.xsd.elements.element import Element
from zeep.xsd.elements.indicators import Sequence
from zeep.xsd.types.builtins import String
from zeep.xsd.types.complex import ComplexType
from zeep.xsd.types.simple import AnySimpleType

from jetfort.jetshop.convert import Unreadable, plain

XSI = "http://www.w3.org/2001/XMLSchema-instance"
_HAS_XSI_TYPE = etree.XPath("boolean(//@xsi:type)", namespaces={"xsi": XSI})  # anywhere in the document

#: how a field's element is read: its text as is (strings), its text through the type's conversion, or nested
_TEXT, _VALUE, _COMPLEX = 0, 1, 2
#: results of zeep's conversions that may be shared between replies (the same text gives an equal value)
_IMMUTABLE = frozenset({str, int, bool, float, Decimal, datetime.datetime, datetime.date, datetime.time,
                        datetime.timedelta})
_CACHE_SIZE = 4096
_ABSENT = object()  # placeholder of a required element until it is seen

#: one element of a sequence, by qualified tag: (position, dict key, how to read, reader, repeats, max count)
_Field = tuple[int, str, int, Any, bool, int | None]


class NotFast(Exception):
    """The reply is not in the shape the compiled reader handles: zeep reads it instead."""


class _Unsupported(Exception):
    """The schema has a shape the compiler does not handle: the operation is left to zeep."""


class _ComplexReader:
    """Reads one element of a complex type (a plain ``xsd:sequence`` of elements, no attributes)."""

    __slots__ = ("index", "nested", "repeated", "required", "template")

    def __init__(self) -> None:
        self.index: dict[str, _Field] = {}  # qualified tag -> field
        self.template: dict[str, Any] = {}  # key -> None (or _ABSENT when required), in sequence order
        self.required: tuple[str, ...] = ()
        self.repeated: tuple[str, ...] = ()
        self.nested: dict[str, _ComplexReader] = {}  # the readers of the complex-typed fields, by key

    def read(self, elem: Any, allow_none: bool = True) -> dict[str, Any] | None:
        """What zeep's ``ComplexType.parse_xmlelement`` gives, as a plain dict; raises NotFast.

        One pass over the children: each must be a known element, in sequence order, repeated only
        if it may. Nested elements are parsed with ``allow_none`` (no children and no attributes →
        None); the reply's top element is not (it always gives a dict, of defaults when empty).
        """
        out = self.template.copy()
        index = self.index
        last = -1
        for child in elem:
            field = index.get(child.tag)
            if field is None:
                raise NotFast(f"unexpected element {child.tag!r}")  # unknown, unqualified, or not an element
            position, key, how, reader, repeats, limit = field
            if how == _TEXT:
                value = child.text
            elif how == _VALUE:
                text = child.text
                value = None if text is None else reader[text]
            else:
                value = reader(child)
            if position > last:
                out[key] = [value] if repeats else value
                last = position
            elif position == last and repeats:
                out[key].append(value)
                if limit is not None and len(out[key]) > limit:
                    raise NotFast(f"more than {limit} {child.tag}")
            else:
                raise NotFast(f"{child.tag} out of sequence order")
        if last < 0 and allow_none and not len(elem.attrib):
            return None
        for key in self.required:
            if out[key] is _ABSENT:
                raise NotFast(f"required element {key} missing")
        for key in self.repeated:
            if out[key] is None:
                out[key] = []
        return out


class _Converted(dict[str, Any]):
    """text → the simple type's ``pythonvalue(text)``, remembering immutable results (a dict, for speed).

    zeep's decimal and boolean conversions run a whitespace regex per value, and money values repeat a
    lot within and across pages; a hit is a plain dict lookup. ``keep_unreadable``: a text the type
    cannot convert becomes :class:`convert.Unreadable` (the order operations: the order it belongs
    to is refused by name, the rest of the page is read) instead of sending the reply to zeep, which
    would log it and read it as None, or fail the whole reply.
    """

    __slots__ = ("convert", "keep_unreadable")

    def __init__(self, convert: Callable[[str], Any], keep_unreadable: bool = False) -> None:
        super().__init__()
        self.convert = convert
        self.keep_unreadable = keep_unreadable

    def __missing__(self, text: str) -> Any:
        try:
            value = self.convert(text)
        except (ValueError, TypeError, ArithmeticError):
            if not self.keep_unreadable:
                raise
            value = Unreadable(text)
            self[text] = value
            return value
        if type(value) in _IMMUTABLE:
            if len(self) >= _CACHE_SIZE:
                self.clear()
            self[text] = value
        return value


def _conversion(xsd_type: AnySimpleType, keep_unreadable: bool = False) -> _Converted | None:
    """The type's own ``pythonvalue`` (None: the identity, as for strings), remembering immutable results.

    zeep's ``AnySimpleType.parse_xmlelement`` is: no text → None, else ``pythonvalue(text)``, and it logs
    and returns None when that raises ValueError/TypeError. Here any conversion error propagates and
    the reply goes to zeep, which then does exactly that.
    """
    if type(xsd_type).pythonvalue is String.pythonvalue:  # strings and their restrictions (guid)
        return None
    return _Converted(xsd_type.pythonvalue, keep_unreadable)


def _complex_reader(xsd_type: ComplexType, memo: dict[Any, Any]) -> _ComplexReader:
    """The reader of a complex type, compiled once per type object (``memo``); raises _Unsupported."""
    known = memo.get(id(xsd_type))
    if known is not None:
        return known  # type: ignore[no-any-return]  # a recursive type: filled in (or being filled in) already
    if type(xsd_type).parse_xmlelement is not ComplexType.parse_xmlelement or xsd_type.attributes:
        raise _Unsupported(f"{xsd_type}: attributes or a custom parser")
    nested = xsd_type.elements_nested
    if len(nested) != 1 or type(nested[0][1]) is not Sequence:
        raise _Unsupported(f"{xsd_type}: not a single xsd:sequence")
    sequence = nested[0][1]
    if sequence.max_occurs != 1:
        raise _Unsupported(f"{xsd_type}: a repeating sequence")
    reader = memo[id(xsd_type)] = _ComplexReader()
    elements = sequence.elements
    if not elements:
        raise _Unsupported(f"{xsd_type}: no elements")
    for position, (key, element) in enumerate(elements):
        if type(element) is not Element:  # xsd:any, nested indicators, groups, subclasses with their own parse
            raise _Unsupported(f"{element!r}: not a plain element")
        tag = element.qname.text
        if tag in reader.index or key in reader.template:
            raise _Unsupported(f"{xsd_type}: {tag} twice")
        xsd_element_type = element.type
        read: Any
        if isinstance(xsd_element_type, ComplexType):
            reader.nested[key] = _complex_reader(xsd_element_type, memo)
            how, read = _COMPLEX, reader.nested[key].read
        elif (isinstance(xsd_element_type, AnySimpleType)
              and type(xsd_element_type).parse_xmlelement is AnySimpleType.parse_xmlelement):
            read = _simple_conversion(xsd_element_type, memo)
            how = _TEXT if read is None else _VALUE
        else:
            raise _Unsupported(f"{element!r}: type {xsd_element_type!r}")
        max_occurs = element.max_occurs
        repeats = max_occurs != 1
        limit = max_occurs if repeats and isinstance(max_occurs, int) else None
        reader.index[tag] = (position, key, how, read, repeats, limit)
        required = element.min_occurs > 0
        reader.template[key] = _ABSENT if required else None
        if required:
            reader.required += (key,)
        if repeats:
            reader.repeated += (key,)
    return reader


def _simple_conversion(xsd_type: AnySimpleType, memo: dict[Any, Any]) -> _Converted | None:
    """One conversion (and cache) per simple type object, shared by all its elements."""
    key = ("conversion", id(xsd_type))
    if key not in memo:
        memo[key] = _conversion(xsd_type, bool(memo.get("keep_unreadable")))
    return memo[key]  # type: ignore[no-any-return]


class ReplyReader:
    """The compiled reader of one operation's successful reply: envelope → plain result."""

    def __init__(self, operation: str, body_tag: str, response_tag: str, root: _ComplexReader,
                 unwrap: Callable[[dict[str, Any]], Any]) -> None:
        self.operation = operation
        self._body_tag = body_tag
        self._response_tag = response_tag
        self._root = root
        self._unwrap = unwrap

    def read(self, envelope: Any) -> Any:
        """``convert.plain(operation.process_reply(envelope))`` for a reply without a fault; raises NotFast."""
        body = envelope.find(self._body_tag)
        if body is None:
            raise NotFast("no soap Body")
        parts = list(body)
        if len(parts) != 1 or parts[0].tag != self._response_tag:
            raise NotFast(f"the Body does not hold exactly one {self._response_tag}")
        if _HAS_XSI_TYPE(envelope):
            raise NotFast("xsi:type in the reply")
        top = self._root.read(parts[0], allow_none=False)
        assert top is not None
        return self._unwrap(top)


def compile_reader(binding: Any, operation: str, keep_unreadable: bool = False) -> ReplyReader | None:
    """A reader for ``operation``'s replies, or None when its output is not a shape handled here.

    ``keep_unreadable``: values the type cannot convert are kept as :class:`convert.Unreadable`."""
    op = binding.get(operation)
    output = getattr(op, "output", None)
    if type(output) is not DocumentMessage or output._is_body_wrapped or output.body is None:
        return None
    if output.header is not None and output.header.type.elements:
        return None  # declared SOAP headers come back as a full envelope object
    body_element = output.body
    if type(body_element) is not Element or not isinstance(body_element.type, ComplexType):
        return None
    try:
        root = _complex_reader(body_element.type, {"keep_unreadable": keep_unreadable})
    except _Unsupported:
        return None
    return ReplyReader(operation, f"{{{binding.nsmap['soap-env']}}}Body", body_element.qname.text, root,
                       _unwrapper(root))


def _unwrapper(root: _ComplexReader) -> Callable[[dict[str, Any]], Any]:
    """What ``SoapMessage.deserialize`` does to the body: a single-child result loses its wrapper.

    More than one child: the body object itself. One child: its value, and when that value is an
    object whose type has exactly one element, the value of that element (``ArrayOfX`` → the list).
    """
    if len(root.template) > 1:
        return _itself
    ((name, _how, repeats),) = [(f[1], f[2], f[4]) for f in root.index.values()]
    inner = root.nested.get(name)
    if repeats or inner is None or len(inner.template) != 1:
        return lambda top: top[name]
    (item,) = inner.template

    def unwrap(top: dict[str, Any]) -> Any:
        value = top[name]
        return None if value is None else value[item]
    return unwrap


def _itself(top: dict[str, Any]) -> Any:
    return top


class FastReplies:
    """Runs zeep operation calls of one client and binding, reading successful replies the fast way.

    ``fast_reads`` and ``zeep_reads`` count which way each reply was read.
    """

    def __init__(self, client: zeep.Client, binding: Any, keep_unreadable: frozenset[str] = frozenset()) -> None:
        self._client = client
        self._binding = binding
        self._keep_unreadable = keep_unreadable  # operations whose unreadable values are kept (see _Converted)
        self._readers: dict[str, ReplyReader | None] = {}
        self.fast_reads = 0
        self.zeep_reads = 0

    def reader(self, operation: str) -> ReplyReader | None:
        if operation not in self._readers:
            self._readers[operation] = compile_reader(self._binding, operation,
                                                      operation in self._keep_unreadable)
        return self._readers[operation]

    def call(self, operation: str, send: Callable[[], Any]) -> Any:
        """``send()`` is the zeep operation call; returns its result as plain data (dicts, lists, values)."""
        if self.reader(operation) is None:
            self.zeep_reads += 1
            return plain(send())
        with self._client.settings(raw_response=True):
            response = send()
        return self.read(operation, response)

    def read(self, operation: str, response: requests.Response) -> Any:
        """The plain result of ``response`` (a raw reply of ``operation``): fast, or zeep's when in doubt."""
        reader = self.reader(operation)
        client = self._client
        if (reader is not None and response.status_code == 200 and response.content and not client.wsse
                and not client.plugins
                and get_media_type(response.headers.get("Content-Type", "text/xml")) != "multipart/related"):
            try:
                envelope = parse_xml(response.content, self._binding.transport,  # type: ignore[arg-type]
                                     settings=client.settings)  # (bytes, as zeep passes them)
            except zeep.exceptions.Error:  # zeep's own parse below raises it again, as it always did
                envelope = None
            if (envelope is not None and envelope.tag == f"{{{self._binding.nsmap['soap-env']}}}Envelope"
                    and envelope.find("soap-env:Body/soap-env:Fault", namespaces=self._binding.nsmap) is None):
                try:
                    result = reader.read(envelope)
                except (NotFast, ValueError, TypeError, ArithmeticError):
                    pass  # conversion errors included: zeep logs or raises them its own way
                else:
                    self.fast_reads += 1
                    return result
        self.zeep_reads += 1
        return plain(self._binding.process_reply(client, self._binding.get(operation), response))
