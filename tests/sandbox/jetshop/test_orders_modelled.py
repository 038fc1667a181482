"""Modelled order operations, seed data and the awkward-order catalogue of the Jetshop sandbox."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import requests

from sandbox.jetshop import seed as seeding
from sandbox.jetshop.state import JetshopSandbox
from tests.sandbox.jetshop.wire import all_text, fault_of, post, text, xml

D = Decimal
Order = dict[str, Any]


def _rates(o: Order) -> set[Decimal]:
    return {r["Vat"] for r in o["OrderItems"]}


def _types(o: Order) -> list[str]:
    return [r["ItemType"] for r in o["OrderItems"]]


# kind -> what makes that order awkward; every kind must have one, and it must hold on the seed
TRAITS: dict[str, Callable[[Order], bool]] = {
    "plain_single_row": lambda o: len(o["OrderItems"]) == 1 and o["CurrencyCode"] == "SEK",
    "mixed_vat_25_12_6_0": lambda o: _rates(o) == {D("0.25"), D("0.12"), D("0.06"), D("0")},
    "vat_12_only": lambda o: _rates(o) == {D("0.12")} and o["FreightVat"] == D("0.12"),
    "vat_6_only": lambda o: _rates(o) == {D("0.06")} and o["FreightPriceIncVat"] == 0,
    "vat_0_export_non_eu": lambda o: _rates(o) == {D("0")} and o["ShipToCountryCode"] == "US",
    "row_discount": lambda o: any(r["DiscountIncVat"] > 0 for r in o["OrderItems"]),
    "order_discount_code": lambda o: o["OrderDiscountIncVat"] > 0 and o["DiscountCode"] == "HÖST100",
    "row_and_order_discount": lambda o: o["OrderDiscountIncVat"] > 0
    and any(r["DiscountIncVat"] > 0 for r in o["OrderItems"]),
    "free_freight": lambda o: o["FreightPriceIncVat"] == 0,
    "paid_freight_mixed_vat": lambda o: o["FreightPriceIncVat"] > 0 and len(_rates(o)) > 1,
    "payment_fee": lambda o: o["PaymentFeeIncVat"] == D("29.00"),
    "currency_eur_eu_consumer": lambda o: o["CurrencyCode"] == "EUR" and o["BillToCountryCode"] == "DE"
    and o["CurrencyRate"] > 1,
    "currency_nok_non_eu": lambda o: o["CurrencyCode"] == "NOK" and o["Culture"] == "nb-NO",
    "company_buyer_se": lambda o: o["OrgNumber"] == "556677-8899" and o["VatNumber"].startswith("SE"),
    "company_buyer_eu_reverse_charge": lambda o: o["VatNumber"].startswith("NL") and _rates(o) == {D("0")},
    "eu_address_sek": lambda o: o["BillToCountryCode"] == "FI" and o["CurrencyCode"] == "SEK",
    "non_eu_address_ch": lambda o: o["ShipToCountryCode"] == "CH",
    "separate_billing_delivery": lambda o: o["BillToAddress"] != o["ShipToAddress"] and o["ShipToCo"],
    "very_long_names": lambda o: len(o["BillToFirstName"]) > 200 and len(o["OrderItems"][0]["Name"]) > 200,
    "non_latin_text": lambda o: any(ord(ch) > 0x400 for ch in o["BillToLastName"] + o["ShipToCity"]),
    "xml_special_chars": lambda o: "<" in o["BillToAddress"] and "&" in o["CompanyName"] + o["BillToCompany"],
    "zero_price_row": lambda o: any(r["UnitPriceIncVat"] == 0 for r in o["OrderItems"]),
    "gift_card_purchase": lambda o: set(_types(o)) == {"GiftCard"},
    "gift_card_redeemed_row": lambda o: any(r["ItemType"] == "GiftCard" and r["UnitPriceIncVat"] < 0
                                            for r in o["OrderItems"]),
    "missing_article_number": lambda o: any(r["ArticleNumber"] == "" for r in o["OrderItems"]),
    "negative_quantity": lambda o: any(r["Quantity"] < 0 for r in o["OrderItems"]),
    "unknown_status_id": lambda o: o["OrderStatusId"] == 99,
    "cancelled_order": lambda o: o["OrderStatusId"] == 4,
    "already_captured": lambda o: o["PaymentStatus"] == "Captured" and o["CapturedAmount"] == o["AuthorizedAmount"],
    "invoice_payment_not_capturable": lambda o: o["PaymentProvider"] == "Invoice",
    "swish_payment": lambda o: o["PaymentProvider"] == "Swish",
    "card_payment": lambda o: o["PaymentProvider"] == "Card",
    "dibs_payment": lambda o: o["PaymentProvider"] == "DIBS",
    "many_rows": lambda o: len(o["OrderItems"]) >= 50,
    "large_amounts": lambda o: o["OrderTotalIncVat"] > D("10000000"),
    "rounding_edge": lambda o: any(r["UnitPriceIncVat"] != r["UnitPriceIncVat"].quantize(D("0.01"))
                                   for r in o["OrderItems"]),
    "variant_rows": lambda o: all(r["AttValue"] for r in o["OrderItems"]),
    "duplicate_article_rows": lambda o: len({r["ArticleNumber"] for r in o["OrderItems"]}) < len(o["OrderItems"]),
    "missing_email": lambda o: o["Email"] == "",
    "empty_optional_fields": lambda o: o["BillToFirstName"] == "" and o["BillToPhone"] == "",
    "authorized_below_total": lambda o: o["AuthorizedAmount"] < o["OrderTotalIncVat"],
    "decimal_quantity_1_5_kg": lambda o: D("1.5") in [r["Quantity"] for r in o["OrderItems"]],
    "decimal_quantity_0_25_m": lambda o: D("0.25") in [r["Quantity"] for r in o["OrderItems"]],
}


def test_at_least_thirty_awkward_kinds_each_seeded_once_and_tagged(sb: JetshopSandbox) -> None:
    kinds = sb.awkward_kinds()
    assert len(kinds) >= 30
    assert set(TRAITS) == set(kinds), "every kind needs a trait in this test"
    seeded = sb.awkward_orders("demoshop")
    assert set(seeded) == set(kinds)
    for kind, order_id in seeded.items():
        order = sb.order("demoshop", order_id)
        assert order["_kind"] == kind
        assert TRAITS[kind](order), f"{kind} (order {order_id}) lost what makes it awkward"


def test_order_totals_add_up_like_the_shop_computes_them(sb: JetshopSandbox) -> None:
    for order in sb.orders("demoshop") + sb.orders("nordicshop"):
        rows = sum((r["RowTotalIncVat"] for r in order["OrderItems"]), D(0))
        for r in order["OrderItems"]:
            assert r["RowTotalIncVat"] == (r["UnitPriceIncVat"] * r["Quantity"] - r["DiscountIncVat"]).quantize(D("0.0001"))
            assert abs(r["UnitPriceExVat"] * (1 + r["Vat"]) - r["UnitPriceIncVat"]) < D("0.001")
        expected = rows + order["FreightPriceIncVat"] + order["PaymentFeeIncVat"] - order["OrderDiscountIncVat"]
        assert order["OrderTotalIncVat"] == expected.quantize(D("0.01")), order["_kind"]
        assert order["OrderTotalExVat"] + order["VatTotal"] == order["OrderTotalIncVat"]


def test_seed_is_deterministic_and_the_seed_number_matters() -> None:
    a, b, c = JetshopSandbox(seed=3), JetshopSandbox(seed=3), JetshopSandbox(seed=4)
    assert a.orders("demoshop") == b.orders("demoshop")
    assert a.orders("demoshop") != c.orders("demoshop")
    assert a.generate_orders("demoshop", 25, seed=9) == b.generate_orders("demoshop", 25, seed=9)
    assert a.orders("demoshop") == b.orders("demoshop")


def test_generator_makes_ordinary_orders_in_bulk(sb: JetshopSandbox) -> None:
    ids = sb.generate_orders("demoshop", 1000, seed=1)
    assert len(ids) == len(set(ids)) == 1000
    orders = {o["OrderId"]: o for o in sb.orders("demoshop")}
    assert all(orders[i]["_kind"] == "generated" and orders[i]["OrderStatusId"] == 1 for i in ids)
    assert all(orders[i]["PaymentProvider"] in ("Klarna", "DIBS", "Card") for i in ids)
    dates = [orders[i]["OrderDate"] for i in ids]
    assert dates == sorted(dates)


def _search(status: int | None = None, channel: int | None = None, page: int = 0, size: int = 50,
            frm: str | None = None, to: str | None = None) -> str:
    parts = [f"<OrderStatusId>{status}</OrderStatusId>" if status is not None else "",
             f"<ModifiedFrom>{frm}</ModifiedFrom>" if frm else "", f"<ModifiedTo>{to}</ModifiedTo>" if to else "",
             f"<ChannelId>{channel}</ChannelId>" if channel is not None else "",
             f"<PageIndex>{page}</PageIndex><PageSize>{size}</PageSize>"]
    return (f'<Order_Search xmlns="WebServiceProvider"><orderSearchOptions>{"".join(parts)}'
            "</orderSearchOptions></Order_Search>")


def test_order_search_filters_and_pages(http: requests.Session, url: str, sb: JetshopSandbox) -> None:
    everything = sb.orders("demoshop")
    new = [o["OrderId"] for o in sorted(everything, key=lambda o: (o["ModifiedDate"], o["OrderId"]))
           if o["OrderStatusId"] == 1]
    seen: list[int] = []
    for page in range(10):
        root = xml(post(http, url, _search(status=1, page=page, size=7)))
        assert text(root, "TotalCount") == str(len(new))
        ids = [int(x) for x in all_text(root, "OrderId")]
        if not ids:
            break
        seen += ids
    assert seen == new
    eur = xml(post(http, url, _search(channel=4)))
    assert set(all_text(eur, "CurrencyCode")) == {"EUR"}
    window = [o for o in everything if "2026-11-02T10:00:00" <= o["ModifiedDate"].isoformat() < "2026-11-02T12:00:00"]
    root = xml(post(http, url, _search(frm="2026-11-02T10:00:00", to="2026-11-02T12:00:00")))
    assert sorted(int(x) for x in all_text(root, "OrderId")) == sorted(o["OrderId"] for o in window)
    assert window


def test_order_search_rejects_an_oversized_page(http: requests.Session, url: str) -> None:
    r = post(http, url, _search(size=5000))
    assert r.status_code == 500 and fault_of(r)[0] == "soap:Sender"


def _status(order_id: int, status: int, tracking: str = "", email: bool = False) -> str:
    track = f"<TrackingNumber>{tracking}</TrackingNumber><TrackingUrl>https://t.example/{tracking}</TrackingUrl>" \
        if tracking else ""
    return (f'<Order_UpdateStatus xmlns="WebServiceProvider"><orderStatusUpdates><OrderStatusUpdate>'
            f"<OrderId>{order_id}</OrderId><OrderStatusId>{status}</OrderStatusId>{track}"
            f"<SendEmailToCustomer>{str(email).lower()}</SendEmailToCustomer></OrderStatusUpdate>"
            "</orderStatusUpdates></Order_UpdateStatus>")


def _capture(order_id: int, amount: str | None = None) -> str:
    amt = f"<Amount>{amount}</Amount>" if amount else ""
    return (f'<Order_CapturePayment xmlns="WebServiceProvider"><paymentCaptures><PaymentCapture>'
            f"<OrderId>{order_id}</OrderId>{amt}</PaymentCapture></paymentCaptures></Order_CapturePayment>")


def test_delivered_status_captures_once_and_mails_once(http: requests.Session, url: str,
                                                        sb: JetshopSandbox) -> None:
    oid = sb.awkward_orders()["plain_single_row"]
    authorised = sb.order("demoshop", oid)["AuthorizedAmount"]
    for _ in range(3):
        root = xml(post(http, url, _status(oid, 3, "TRK1", email=True)))
        assert text(root, "Success") == "true" and text(root, "PaymentCaptured") == "true"
        assert D(text(root, "CapturedAmount") or "0") == authorised
    assert [c["amount"] for c in sb.captures("demoshop", oid)] == [authorised]
    mails = sb.emails("demoshop", oid)
    assert len(mails) == 1 and "TRK1" in mails[0]["body"] and mails[0]["to"] == "kund@example.se"
    assert len(sb.status_changes("demoshop", oid)) == 1
    order = sb.order("demoshop", oid)
    assert (order["OrderStatusId"], order["TrackingNumber"], order["PaymentStatus"]) == (3, "TRK1", "Captured")


def test_capture_limits(http: requests.Session, url: str, sb: JetshopSandbox) -> None:
    kinds = sb.awkward_orders()
    card = kinds["card_payment"]
    authorised = sb.order("demoshop", card)["AuthorizedAmount"]
    too_much = xml(post(http, url, _capture(card, str(authorised + D("0.01")))))
    assert text(too_much, "Success") == "false" and "exceeds" in (text(too_much, "Message") or "")
    assert sb.captures("demoshop", card) == []
    partial = xml(post(http, url, _capture(card, "100.00")))
    assert text(partial, "Success") == "true" and text(partial, "CapturedAmount") == "100.0000"
    repeat = xml(post(http, url, _capture(card)))
    assert (text(repeat, "AlreadyCaptured"), text(repeat, "CapturedAmount")) == ("true", "100.0000")
    assert len(sb.captures("demoshop", card)) == 1
    for kind, needle in (("cancelled_order", "cancelled"), ("invoice_payment_not_capturable", "capturable"),
                         ("swish_payment", "capturable")):
        root = xml(post(http, url, _capture(kinds[kind])))
        assert text(root, "Success") == "false" and needle in (text(root, "Message") or ""), kind
        assert sb.captures("demoshop", kinds[kind]) == []
    seeded = xml(post(http, url, _capture(kinds["already_captured"])))
    assert text(seeded, "AlreadyCaptured") == "true"


def test_cancelled_order_refuses_delivery_and_captured_order_refuses_cancel(
        http: requests.Session, url: str, sb: JetshopSandbox) -> None:
    kinds = sb.awkward_orders()
    cancelled = xml(post(http, url, _status(kinds["cancelled_order"], 3)))
    assert text(cancelled, "Success") == "false" and "cancelled" in (text(cancelled, "Message") or "")
    captured = xml(post(http, url, _status(kinds["already_captured"], 4)))
    assert text(captured, "Success") == "false"
    assert sb.order("demoshop", kinds["already_captured"])["OrderStatusId"] == 1
    unknown = xml(post(http, url, _status(kinds["plain_single_row"], 12345)))
    assert text(unknown, "Success") == "false" and "12345" in (text(unknown, "Message") or "")


def test_status_with_mail_flag_but_no_address_sends_nothing(http: requests.Session, url: str,
                                                            sb: JetshopSandbox) -> None:
    oid = sb.awkward_orders()["missing_email"]
    root = xml(post(http, url, _status(oid, 2, email=True)))
    assert text(root, "Success") == "true" and "e-mail" in (text(root, "Message") or "")
    assert sb.emails("demoshop", oid) == []
    plain = sb.awkward_orders()["plain_single_row"]
    post(http, url, _status(plain, 2, email=False))
    assert sb.emails("demoshop", plain) == [] and len(sb.status_changes("demoshop", plain)) == 1


def test_shops_have_their_own_status_ids_and_orders(http: requests.Session, url: str,
                                                    sb: JetshopSandbox) -> None:
    nordic = requests.Session()
    nordic.auth = ("jetfort-nordic", "nordic-secret")
    body = '<OrderStatus_GetList xmlns="WebServiceProvider"><culture>sv-SE</culture></OrderStatus_GetList>'
    ids = all_text(xml(post(nordic, url, body, shop_id="nordicshop")), "OrderStatusId")
    assert ids == ["10", "20", "30", "40", "50"]
    demo_ids = all_text(xml(post(http, url, body)), "OrderStatusId")
    assert demo_ids[:4] == ["1", "2", "3", "4"]
    nordic_orders = {o["OrderId"] for o in sb.orders("nordicshop")}
    demo_orders = {o["OrderId"] for o in sb.orders("demoshop")}
    assert nordic_orders & demo_orders, "same order numbers in two shops: identity must include the shop"


def test_add_order_builds_totals_from_rows(sb: JetshopSandbox) -> None:
    oid = sb.add_order("demoshop", rows=[seeding.row("1011", 2), seeding.row("1016", 1)], freight="0")
    order = sb.order("demoshop", oid)
    assert order["OrderTotalIncVat"] == D("377.00")  # 2 x 89 + 199
    assert order["VatTotal"] == (D(178) * D("0.12") / D("1.12") + D(199) * D("0.06") / D("1.06")).quantize(D("0.01"))
    assert order["_kind"] == "added"


@pytest.mark.parametrize("culture,name", [("sv-SE", "Skickad"), ("nb-NO", "Sendt"), ("en-GB", "Delivered")])
def test_status_names_are_localised(http: requests.Session, url: str, culture: str, name: str) -> None:
    body = f'<OrderStatus_GetList xmlns="WebServiceProvider"><culture>{culture}</culture></OrderStatus_GetList>'
    root = xml(post(http, url, body))
    names = dict(zip(all_text(root, "OrderStatusId"), all_text(root, "Name"), strict=True))
    assert names["3"] == name
