"""The fast reply reader gives exactly what zeep gives (made plain), for real sandbox replies and edge cases.

Each comparison reads the *same* HTTP response twice: with :class:`FastReplies` (which must take the
fast path where stated) and with zeep's own ``binding.process_reply`` followed by ``convert.plain``.
"Exactly" is checked as equal ``repr`` (values, types, key order) and equal type trees.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import zeep.exceptions
from lxml import etree

from jetfort.jetshop import convert as cv
from jetfort.jetshop.errors import JetshopError, JetshopReceiverFault, JetshopSenderFault, JetshopServerError
from jetfort.jetshop.fastreply import FastReplies
from jetfort.jetshop.hook import BINDING, JetshopHook
from jetfort.shop.models import DynamicFieldValue, PriceListPrice, ProductUpsert, StatusUpdate
from sandbox.jetshop.seed import AWKWARD_KINDS
from sandbox.jetshop.soap import fault_envelope
from sandbox.jetshop.state import JetshopSandbox

NS = "WebServiceProvider"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
PL_SE = "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"


# ------------------------------------------------------------------------------------------ helpers
def raw_reply(hook: JetshopHook, operation: str, **params: Any) -> requests.Response:
    """The HTTP response of one call, unread (zeep's raw_response setting)."""
    client = hook.get_conn()
    service = client.create_service(BINDING, hook.settings.endpoint)
    header = etree.Element("ShopId")
    header.text = hook.shop_id
    with client.settings(raw_response=True):
        response: requests.Response = getattr(service, operation)(**params, _soapheaders=[header])
    return response


def replies_of(hook: JetshopHook) -> FastReplies:
    client = hook.get_conn()
    return FastReplies(client, client.wsdl.bindings[BINDING])


def zeep_plain(hook: JetshopHook, operation: str, response: requests.Response) -> Any:
    """What jetfort got before the fast reader: zeep's deserialization, made plain."""
    client = hook.get_conn()
    binding: Any = client.wsdl.bindings[BINDING]  # a SoapBinding
    return cv.plain(binding.process_reply(client, binding.get(operation), response))


def types_of(value: Any) -> Any:
    if isinstance(value, dict):
        return (type(value).__name__, {k: types_of(v) for k, v in value.items()})
    if isinstance(value, list):
        return (type(value).__name__, [types_of(v) for v in value])
    return type(value).__name__


def assert_identical(fast: Any, slow: Any) -> None:
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert types_of(fast) == types_of(slow)


def read_both(hook: JetshopHook, operation: str, response: requests.Response, *, fast: bool = True) -> Any:
    """Read ``response`` both ways, check they are identical and that the fast path was (not) taken."""
    replies = replies_of(hook)
    got = replies.read(operation, response)
    assert (replies.fast_reads, replies.zeep_reads) == ((1, 0) if fast else (0, 1))
    assert_identical(got, zeep_plain(hook, operation, response))
    return got


def outcome(read: Callable[[], Any]) -> tuple[str, str]:
    """A result or an error, comparable across the two readers."""
    try:
        return "result", repr(read())
    except Exception as exc:
        return type(exc).__qualname__, str(exc)


def response_of(content: bytes, status: int = 200,
                content_type: str = "application/soap+xml; charset=utf-8") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = content
    response.headers["Content-Type"] = content_type
    response.encoding = "utf-8"
    return response


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


# ------------------------------------------------------------------------------ real sandbox replies
@pytest.mark.parametrize("kind", AWKWARD_KINDS)
def test_every_awkward_order_kind_reads_identically(kind: str, hook: JetshopHook, sb: JetshopSandbox) -> None:
    oid = sb.awkward_orders()[kind]
    orders = read_both(hook, "Order_Get", raw_reply(hook, "Order_Get", orderOptions={"OrderId": oid}))
    assert [o["OrderId"] for o in orders] == [oid]  # a single-item list, unwrapped from ArrayOfOrderData


def test_search_pages_of_every_order_read_identically(hook: JetshopHook, sb: JetshopSandbox) -> None:
    sb.generate_orders("demoshop", 150, seed=3)
    sb.add_order("demoshop", kind="bench", email="bench@example.se")
    total = len(sb.orders("demoshop"))
    seen = 0
    for page in range(2):
        response = raw_reply(hook, "Order_Search", orderSearchOptions={"PageIndex": page, "PageSize": 200})
        result = read_both(hook, "Order_Search", response)
        assert list(result) == ["TotalCount", "PageIndex", "PageSize", "Orders"] and result["TotalCount"] == total
        seen += len((result["Orders"] or {"OrderData": []})["OrderData"])
    assert seen == total


def test_no_match_empty_list_and_not_found_read_identically(hook: JetshopHook) -> None:
    nothing = read_both(hook, "Order_Search", raw_reply(hook, "Order_Search", orderSearchOptions={
        "OrderStatusId": 12345, "PageIndex": 0, "PageSize": 10}))
    assert nothing["TotalCount"] == 0 and nothing["Orders"] is None  # <Orders /> is None, as zeep has it
    assert read_both(hook, "Order_Get", raw_reply(hook, "Order_Get", orderOptions={"OrderId": 1})) is None
    assert read_both(hook, "Product_Get", raw_reply(hook, "Product_Get", productOptions={
        "ArticleNumber": "NO-SUCH", "Culture": "sv-SE"})) is None


def test_every_operation_of_the_wsdl_is_compiled_and_reads_identically(hook: JetshopHook,
                                                                         sb: JetshopSandbox) -> None:
    updates = [StatusUpdate(order_id=10000, status_id=2, tracking_number="T-1"),
               StatusUpdate(order_id=999999, status_id=2)]
    calls: dict[str, dict[str, Any]] = {
        "OrderStatus_GetList": {"culture": "en-GB"},
        "Channel_GetList": {},
        "Order_Search": {"orderSearchOptions": {"PageIndex": 0, "PageSize": 5}},
        "Order_Get": {"orderOptions": {"OrderNumber": "10003"}},
        "Order_UpdateStatus": {"orderStatusUpdates": {
            "OrderStatusUpdate": [cv.status_update_to_wire(u) for u in updates]}},
        "Order_CapturePayment": {"paymentCaptures": {"PaymentCapture": [{"OrderId": 10001}, {"OrderId": 5}]}},
        "Product_Get": {"productOptions": {"ArticleNumber": "1003", "Culture": "sv-SE"}},
        "Product_Search": {"productSearchOptions": {"Culture": "nb-NO", "PageIndex": 0, "PageSize": 200}},
        "Product_AddUpdate": {"products": {"ProductData": [
            cv.upsert_to_wire(ProductUpsert(article_number="C-1", name="c"), STOCKHOLM),
            cv.upsert_to_wire(ProductUpsert(article_number="C-2", vat_rate=Decimal(25)), STOCKHOLM)]}},
        "PriceList_UpdateArticleIncVAT": {"articlePriceLists": {"ArticlePriceListIncVat": [
            cv.price_to_wire(PriceListPrice(article_number=a, price_list_id=PL_SE, price_inc_vat=Decimal(10)),
                             STOCKHOLM) for a in ("C-1", "NOPE")]}},
        "ProductDynamicField_SaveProductDynamicFieldData": {"dynamicFieldOnProductInputs": {
            "DynamicFieldOnProductInput": [cv.dynamic_to_wire(DynamicFieldValue(
                article_number="1001", key="atr_colour", values={"sv-SE": "Röd", "en-GB": "Red"}))]}},
        "ProductDynamicField_GetProductDynamicFieldData": {"articleNumbers": {"string": ["1001", "1003"]},
                                                           "cultures": {"string": ["sv-SE", "en-GB"]}},
        "Product_Delete": {"productDeleteRequest": {"ArticleNumber": "C-1", "AddRedirect": False}},
    }
    binding = hook.get_conn().wsdl.bindings[BINDING]
    assert set(calls) == set(binding.all())  # a new operation in the WSDL gets a case here
    replies = replies_of(hook)
    for operation, params in calls.items():
        assert replies.reader(operation) is not None, operation
        read_both(hook, operation, raw_reply(hook, operation, **params))


# ------------------------------------------------------------------------- edge cases, crafted replies
def _awkward_reply(hook: JetshopHook, sb: JetshopSandbox, kind: str = "separate_billing_delivery") -> bytes:
    return raw_reply(hook, "Order_Get", orderOptions={"OrderId": sb.awkward_orders()[kind]}).content


def _edit(content: bytes, change: Callable[[Any], None]) -> bytes:
    root = etree.fromstring(content)
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _order(root: Any) -> Any:
    return root.find(f".//{q('OrderData')}")


def _set_nil(name: str) -> Callable[[Any], None]:
    def change(root: Any) -> None:
        elem = _order(root).find(q(name))
        for child in list(elem):
            elem.remove(child)
        elem.text = None
        elem.set(f"{{{XSI}}}nil", "true")
    return change


def _remove(*names: str) -> Callable[[Any], None]:
    def change(root: Any) -> None:
        order = _order(root)
        for name in names:
            order.remove(order.find(q(name)))
    return change


def _empty(name: str) -> Callable[[Any], None]:
    def change(root: Any) -> None:
        elem = _order(root).find(q(name))
        for child in list(elem):
            elem.remove(child)
        elem.text = None
    return change


def _set_text(name: str, text: str) -> Callable[[Any], None]:
    def change(root: Any) -> None:
        _order(root).find(q(name)).text = text
    return change


def _insert_after(name: str, new: Callable[[], Any]) -> Callable[[Any], None]:
    def change(root: Any) -> None:
        elem = _order(root).find(q(name))
        elem.addnext(new())
    return change


def _element(tag: str, text: str | None = None) -> Callable[[], Any]:
    def make() -> Any:
        elem = etree.Element(tag)
        elem.text = text
        return elem
    return make


def _swap(first: str, second: str) -> Callable[[Any], None]:
    def change(root: Any) -> None:
        order = _order(root)
        a, b = order.find(q(first)), order.find(q(second))
        a.addprevious(copy.deepcopy(b))
        order.remove(b)
    return change


def _unqualify(name: str) -> Callable[[Any], None]:
    def change(root: Any) -> None:
        elem = _order(root).find(q(name))
        bare = etree.fromstring(f'<{name} xmlns=""/>'.encode())  # (renaming the tag would not serialize so)
        bare.text = elem.text
        elem.getparent().replace(elem, bare)
    return change


def _xsi_type(name: str, type_name: str) -> Callable[[Any], None]:
    def change(root: Any) -> None:
        _order(root).find(q(name)).set(f"{{{XSI}}}type", type_name)
    return change


def _second_order_items_empty(root: Any) -> None:
    items = _order(root).find(q("OrderItems"))
    for child in list(items):
        items.remove(child)


def _no_orders(root: Any) -> None:
    result = root.find(f".//{q('Order_GetResult')}")
    for child in list(result):
        result.remove(child)


def _no_result(root: Any) -> None:
    result = root.find(f".//{q('Order_GetResult')}")
    result.getparent().remove(result)


def _empty_response(root: Any) -> None:
    response = root.find(f".//{q('Order_GetResponse')}")
    for child in list(response):
        response.remove(child)


def _second_body_child(root: Any) -> None:
    root.find(f"{{{SOAP12}}}Body").append(etree.Element(q("Extra")))


def _rename_response(root: Any) -> None:
    root.find(f".//{q('Order_GetResponse')}").tag = q("SomethingElse")


def _processing_instruction(root: Any) -> None:
    _order(root).find(q("Email")).addnext(etree.ProcessingInstruction("note", "x"))


def _fault_with_200(root: Any) -> None:
    body = root.find(f"{{{SOAP12}}}Body")
    for child in list(body):
        body.remove(child)
    body.append(etree.fromstring(fault_envelope("boom", "Receiver")).find(f".//{{{SOAP12}}}Fault"))


def _pretty(content: bytes) -> bytes:
    return etree.tostring(etree.fromstring(content), pretty_print=True, xml_declaration=True, encoding="utf-8")


#: name -> (edit of a real Order_Get reply, read the fast way?)
EDGES: dict[str, tuple[Callable[[Any], None] | None, bool]] = {
    "as_served": (None, True),
    "nil_simple_element": (_set_nil("Email"), True),
    "nil_nullable_int": (_set_nil("CustomerId"), True),
    "nil_complex_element": (_set_nil("OrderItems"), True),
    "empty_complex_element": (_empty("OrderItems"), True),
    "empty_row_list": (_second_order_items_empty, True),
    "missing_optional_elements": (_remove("Email", "CurrencyRate", "OrderItems", "ModifiedDate"), True),
    "empty_strings": (_empty("Comment"), True),
    "whitespace_in_numbers": (_set_text("CurrencyRate", "\n  11.4523 \t"), True),
    "boolean_like_text": (_set_text("OrderStatusId", " 7 "), True),
    "date_only": (_set_text("OrderDate", "2026-11-02"), True),
    "date_with_offset": (_set_text("OrderDate", "2026-11-02T10:00:00+01:00"), True),
    "no_orders_in_result": (_no_orders, True),
    "no_result_element": (_no_result, True),
    "empty_response_element": (_empty_response, True),
    "unknown_element": (_insert_after("Email", _element(q("Loyalty"), "gold")), False),
    "unknown_element_at_end": (_insert_after("OrderItems", _element(q("Loyalty"), "gold")), False),
    "element_in_other_namespace": (_insert_after("Email", _element("{urn:other}Email", "x@y.se")), False),
    "unqualified_element": (_unqualify("Email"), False),
    "out_of_order_elements": (_swap("OrderNumber", "OrderDate"), False),
    "repeated_single_element": (_insert_after("Email", _element(q("Email"), "again@example.se")), False),
    "xsi_type_attribute": (_xsi_type("OrderId", "xsd:string"), False),
    "unconvertible_int": (_set_text("OrderStatusId", "seven"), False),
    "unconvertible_decimal": (_set_text("VatTotal", "12,50"), False),
    "unconvertible_datetime": (_set_text("OrderDate", "yesterday"), False),
    "processing_instruction": (_processing_instruction, False),
    "second_body_child": (_second_body_child, False),
    "renamed_response_element": (_rename_response, False),
    "fault_with_http_200": (_fault_with_200, False),
}


@pytest.mark.parametrize("name", list(EDGES))
def test_edge_case_replies_read_as_zeep_reads_them(name: str, hook: JetshopHook, sb: JetshopSandbox,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    change, fast = EDGES[name]
    content = _awkward_reply(hook, sb)
    if change is not None:
        content = _edit(content, change)
    response = response_of(content)
    replies = replies_of(hook)
    with caplog.at_level(logging.ERROR, logger="zeep"):
        got = outcome(lambda: replies.read("Order_Get", response))
        want = outcome(lambda: zeep_plain(hook, "Order_Get", response))
    assert got == want
    assert (replies.fast_reads, replies.zeep_reads) == ((1, 0) if fast else (0, 1))
    if fast:
        assert_identical(replies_of(hook).read("Order_Get", response), zeep_plain(hook, "Order_Get", response))


def test_some_edges_mean_what_zeep_makes_of_them(hook: JetshopHook, sb: JetshopSandbox) -> None:
    """Spot checks that the edge cases above really exercise what their names say."""
    content = _awkward_reply(hook, sb)
    replies = replies_of(hook)

    def order(change: Callable[[Any], None]) -> dict[str, Any]:
        result = replies.read("Order_Get", response_of(_edit(content, change)))
        return result[0]  # type: ignore[no-any-return]

    assert order(_set_nil("OrderItems"))["OrderItems"] == {"OrderItemData": []}  # zeep ignores nil on objects
    assert order(_empty("OrderItems"))["OrderItems"] is None
    assert order(_empty("Comment"))["Comment"] is None
    missing = order(_remove("Email", "OrderItems"))
    assert missing["Email"] is None and missing["OrderItems"] is None and "Email" in missing
    assert order(_set_text("CurrencyRate", "\n  11.4523 \t"))["CurrencyRate"] == Decimal("11.4523")
    assert order(_set_text("OrderDate", "2026-11-02"))["OrderDate"] == datetime(2026, 11, 2)
    assert replies.read("Order_Get", response_of(_edit(content, _no_orders))) is None
    assert replies.zeep_reads == 0
    as_served = replies.read("Order_Get", response_of(content))[0]
    assert b'xmlns=""' in _edit(content, _unqualify("Email"))
    assert order(_unqualify("Email")) == as_served and replies.zeep_reads == 1  # zeep matches by local name
    with pytest.raises(zeep.exceptions.XMLParseError, match="Unexpected element"):  # strict zeep, as before
        replies.read("Order_Get", response_of(_edit(content, _insert_after("Email", _element(q("X"), "1")))))


def test_pretty_printed_replies_are_still_read_fast(hook: JetshopHook, sb: JetshopSandbox) -> None:
    response = raw_reply(hook, "Order_Search", orderSearchOptions={"PageIndex": 0, "PageSize": 60})
    read_both(hook, "Order_Search", response_of(_pretty(response.content)))


def test_fault_and_http_errors_go_to_zeep_with_the_same_outcome(hook: JetshopHook) -> None:
    cases = [
        response_of(fault_envelope("PageSize must be between 1 and 200.", "Sender"), 500),
        response_of(fault_envelope("database timeout", "Receiver"), 500),
        response_of(b"<html><body>HTTP Error 503. The service is unavailable.</body></html>", 503, "text/html"),
        response_of(b"", 500, "text/html"),
        response_of(b"not xml at all", 200, "text/xml"),
    ]
    for response in cases:
        replies = replies_of(hook)
        got = outcome(partial(replies.read, "Order_Search", response))
        assert got == outcome(partial(zeep_plain, hook, "Order_Search", response))
        assert got[0] in ("Fault", "TransportError") and replies.zeep_reads == 1


# ------------------------------------------------------------------------------- through the hook
@pytest.fixture
def slow_hook(make_hook: Callable[..., JetshopHook]) -> JetshopHook:
    return make_hook(fast_replies=False)


def test_the_hook_gives_the_same_models_with_and_without_the_fast_reader(
        hook: JetshopHook, slow_hook: JetshopHook, sb: JetshopSandbox) -> None:
    sb.generate_orders("demoshop", 120, seed=9)
    assert hook.list_orders(page_size=50) == slow_hook.list_orders(page_size=50)
    for oid in sb.awkward_orders().values():
        assert hook.get_order(oid) == slow_hook.get_order(oid)
    assert hook.get_statuses() == slow_hook.get_statuses()
    assert hook.get_channels() == slow_hook.get_channels()
    assert hook.get_product("1003") == slow_hook.get_product("1003")
    assert list(hook.iter_products(page_size=7)) == list(slow_hook.iter_products(page_size=7))
    assert hook.get_dynamic_fields("1001") == slow_hook.get_dynamic_fields("1001")
    replies = hook._replies
    assert replies is not None and replies.fast_reads > 0 and replies.zeep_reads == 0
    assert slow_hook._replies is None


def test_the_hook_raises_the_same_typed_errors_with_and_without_the_fast_reader(
        hook: JetshopHook, slow_hook: JetshopHook, sb: JetshopSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.jetshop import state

    def errors(call: Callable[[JetshopHook], Any]) -> list[tuple[str, str, str | None]]:
        found = []
        for h in (hook, slow_hook):
            with pytest.raises(Exception) as info:
                call(h)
            found.append((type(info.value).__name__, str(info.value), getattr(info.value, "code", None)))
        return found

    sender = errors(lambda h: h.search_orders_page(page_size=5000))  # HTTP 500 with a soap:Sender fault
    assert sender[0] == sender[1] and sender[0][0] == JetshopSenderFault.__name__

    def broken(*args: object) -> object:
        raise RuntimeError("database timeout")

    monkeypatch.setitem(state.HANDLERS, "Order_Get", broken)  # HTTP 500 with a soap:Receiver fault, retried
    receiver = errors(lambda h: h.get_order(10000))
    assert receiver[0] == receiver[1] and receiver[0][0] == JetshopReceiverFault.__name__

    sb.faults.update(forced={"server_error": 100})  # HTTP 503 without a fault, retried
    server = errors(lambda h: h.get_channels())
    assert server[0] == server[1] and server[0][0] == JetshopServerError.__name__
    assert hook.get_conn().settings.raw_response is False  # the per-call setting never leaks


def test_a_hook_keeps_one_reader_per_operation(hook: JetshopHook) -> None:
    hook.get_order(10000)
    replies = hook._replies
    assert replies is not None
    reader = replies.reader("Order_Get")
    hook.get_order(10001)
    assert replies.reader("Order_Get") is reader and replies.fast_reads == 2


# ------------------------------------------------------------------------ replies the WSDL does not describe
def _served_with(hook: JetshopHook, monkeypatch: pytest.MonkeyPatch, change: Callable[[bytes], bytes]) -> list[int]:
    """Every reply of the live exchange passes through ``change`` on its way back; returns the posts."""
    transport = hook.get_conn().transport
    real = transport.post_xml
    posts: list[int] = []

    def post_xml(*args: Any, **kwargs: Any) -> requests.Response:
        response = real(*args, **kwargs)
        posts.append(1)
        response._content = change(response.content)
        return response

    monkeypatch.setattr(transport, "post_xml", post_xml)
    return posts


@pytest.mark.parametrize("fast", [True, False])
def test_a_field_the_wsdl_does_not_know_stops_the_call_with_a_jetshop_error_naming_it(
        fast: bool, make_hook: Callable[..., JetshopHook], sb: JetshopSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Jetshop adds a field to a reply: a typed error that says what and where, never a half-read order
    (zeep's non-strict mode would drop the new element and every one after it: rows, totals)."""
    hook = make_hook(fast_replies=fast)
    posts = _served_with(hook, monkeypatch, lambda content: _edit(
        content, _insert_after("Email", _element(q("LoyaltyTier"), "gold"))))
    with pytest.raises(JetshopError, match=r"^Order_Get: unreadable reply: .*LoyaltyTier.*wsdl_url") as info:
        hook.get_order(sb.awkward_orders()["separate_billing_delivery"])
    assert not info.value.retryable and len(posts) == 1  # not retried: the same reply would come back


def test_a_reply_that_cannot_be_read_raises_a_jetshop_error_naming_the_operation(
        hook: JetshopHook, sb: JetshopSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    posts = _served_with(hook, monkeypatch, lambda content: content[: len(content) // 2])  # cut off mid-reply
    with pytest.raises(JetshopError, match=r"^Order_Get: unreadable reply") as info:
        hook.get_order(sb.awkward_orders()["separate_billing_delivery"])
    assert not info.value.retryable and len(posts) == 1
