"""Orders and invoices: totals as Fortnox computes them, actions, and the immutability rules."""

from __future__ import annotations

from typing import Any

from .conftest import Api


def _order(api: Api, **header: Any) -> dict[str, Any]:
    rows = header.pop("rows", [{"ArticleNumber": "1001", "OrderedQuantity": 2, "DeliveredQuantity": 2}])
    response = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "OrderRows": rows, **header}})
    assert response.status_code == 201, response.text
    return response.json()["Order"]


def _invoice(api: Api, **header: Any) -> dict[str, Any]:
    rows = header.pop("rows", [{"ArticleNumber": "1001", "DeliveredQuantity": 1, "Price": 100}])
    response = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "InvoiceRows": rows, **header}})
    assert response.status_code == 201, response.text
    return response.json()["Invoice"]


def test_totals_follow_fortnox_with_freight_vat_and_whole_krona_roundoff(api: Api) -> None:
    # the real invoice behind the reference: 10 x 159 at 25 %, freight 95 -> 2106, round-off -0.25
    invoice = _invoice(api, Freight=95, rows=[{"ArticleNumber": "1001", "DeliveredQuantity": 10, "Price": 159, "VAT": 25}])
    assert (invoice["Net"], invoice["FreightVAT"], invoice["TotalVAT"]) == (1590, 23.75, 421.25)
    assert (invoice["Total"], invoice["RoundOff"], invoice["Balance"]) == (2106, -0.25, 2106)
    assert invoice["InvoiceRows"][0]["DeliveredQuantity"] == "10"
    assert invoice["Credit"] == "false" and invoice["CreditInvoiceReference"] == "0"


def test_mixed_vat_rates_admin_fee_discount_and_vat_included(api: Api) -> None:
    invoice = _invoice(api, AdministrationFee=29, rows=[
        {"ArticleNumber": "1011", "DeliveredQuantity": 3, "Price": 50, "VAT": 12},  # 150 net, 18 VAT
        {"ArticleNumber": "1016", "DeliveredQuantity": 1, "Price": 200, "VAT": 6, "Discount": 10},  # 180 net, 10.8
    ])
    assert invoice["Net"] == 330
    assert invoice["AdministrationFeeVAT"] == 7.25
    assert invoice["TotalVAT"] == 36.05  # 18 + 10.80 + 7.25
    assert invoice["Total"] == 395 and invoice["RoundOff"] == -0.05  # 330 + 29 + 36.05 = 395.05
    gross = _invoice(api, VATIncluded=True, rows=[{"ArticleNumber": "1001", "DeliveredQuantity": 1, "Price": 125}])
    row = gross["InvoiceRows"][0]
    assert (row["Price"], row["PriceExcludingVAT"], row["Total"], row["TotalExcludingVAT"]) == (125, 100, 125, 100)
    assert (gross["Net"], gross["TotalVAT"], gross["Total"]) == (100, 25, 125)


def test_order_totals_use_delivered_not_ordered_quantity(api: Api) -> None:
    order = _order(api, rows=[{"ArticleNumber": "1001", "OrderedQuantity": 4, "Price": 100}])
    assert order["OrderRows"][0]["OrderedQuantity"] == "4"
    assert order["OrderRows"][0]["DeliveredQuantity"] == "0"
    assert order["Total"] == 0
    updated = api.put(f"/3/orders/{order['DocumentNumber']}",
                      {"Order": {"OrderRows": [{"RowId": order["OrderRows"][0]["RowId"], "DeliveredQuantity": 4}]}})
    assert updated.status_code == 200
    assert updated.json()["Order"]["Total"] == 500


def test_row_price_comes_from_the_customers_price_list_with_quantity_breaks(api: Api) -> None:
    prices = {(p["PriceList"], p["FromQuantity"]): p["Price"]
              for p in api.get("/3/prices/sublist/A/1001").json()["Prices"]}
    reseller = api.get("/3/prices/B/1001").json()["Price"]["Price"]
    one = _order(api, rows=[{"ArticleNumber": "1001", "OrderedQuantity": 1, "DeliveredQuantity": 1}])
    many = _order(api, rows=[{"ArticleNumber": "1001", "OrderedQuantity": 12, "DeliveredQuantity": 12}])
    assert one["OrderRows"][0]["Price"] == prices[("A", 0)]
    assert many["OrderRows"][0]["Price"] == prices[("A", 10)]
    company_customer = api.get("/3/customers/3").json()["Customer"]  # every third seeded customer is a company
    assert company_customer["PriceList"] == "B"
    b = api.post("/3/orders", {"Order": {"CustomerNumber": "3", "OrderRows": [{"ArticleNumber": "1001", "OrderedQuantity": 1}]}})
    assert b.json()["Order"]["OrderRows"][0]["Price"] == reseller


def test_create_invoice_once_and_answer_with_the_order(api: Api) -> None:
    order = _order(api, ExternalInvoiceReference1="shop-77", Freight=49)
    number = order["DocumentNumber"]
    first = api.put(f"/3/orders/{number}/createinvoice")
    assert first.status_code == 200
    invoice_number = first.json()["Order"]["InvoiceReference"]
    assert invoice_number != "0"
    invoice = api.get(f"/3/invoices/{invoice_number}").json()["Invoice"]
    assert invoice["OrderReference"] == number
    assert invoice["ExternalInvoiceReference1"] == "shop-77"
    assert invoice["Total"] == order["Total"]
    again = api.put(f"/3/orders/{number}/createinvoice")
    assert again.status_code == 400
    assert set(again.json()["ErrorInformation"]) == {"error", "message", "code"}
    assert api.put(f"/3/orders/{number}", {"Order": {"Comments": "late"}}).status_code == 400
    assert api.get("/3/orders?filter=invoicecreated").json()["MetaInformation"]["@TotalResources"] == 1


def test_cancelled_documents_are_immutable_and_nothing_is_deleted(api: Api) -> None:
    order = _order(api)
    number = order["DocumentNumber"]
    assert api.put(f"/3/orders/{number}/cancel").json()["Order"]["Cancelled"] is True
    assert api.put(f"/3/orders/{number}", {"Order": {"Comments": "x"}}).status_code == 400
    assert api.put(f"/3/orders/{number}/createinvoice").status_code == 400
    assert api.delete(f"/3/orders/{number}", contract=False).status_code >= 400  # no DELETE in the contract either
    invoice = _invoice(api)
    assert api.delete(f"/3/invoices/{invoice['DocumentNumber']}", contract=False).status_code >= 400
    assert api.company.counts()["orders"] == 1 and api.company.counts()["invoices"] == 1


def test_booked_invoice_cannot_change_or_be_cancelled_and_credits_once(api: Api) -> None:
    invoice = _invoice(api)
    number = invoice["DocumentNumber"]
    booked = api.put(f"/3/invoices/{number}/bookkeep").json()["Invoice"]
    assert booked["Booked"] is True and booked["VoucherSeries"] == "B"
    assert api.put(f"/3/invoices/{number}", {"Invoice": {"Comments": "x"}}).status_code == 400
    assert api.put(f"/3/invoices/{number}/cancel").status_code == 400
    credited = api.put(f"/3/invoices/{number}/credit")
    assert credited.status_code == 200
    credit_number = credited.json()["Invoice"]["CreditInvoiceReference"]
    credit = api.get(f"/3/invoices/{credit_number}").json()["Invoice"]
    assert credit["Credit"] == "true" and credit["CreditInvoiceReference"] == number
    assert credit["Total"] == -invoice["Total"]
    assert api.put(f"/3/invoices/{number}/credit").status_code == 400
    assert api.put(f"/3/invoices/{credit_number}/credit").status_code == 400


def test_unbooked_invoice_can_be_cancelled_but_not_twice(api: Api) -> None:
    number = _invoice(api)["DocumentNumber"]
    assert api.put(f"/3/invoices/{number}/cancel").json()["Invoice"]["Cancelled"] is True
    assert api.put(f"/3/invoices/{number}/cancel").status_code == 400
    assert api.put(f"/3/invoices/{number}/bookkeep").status_code == 400
    assert api.get("/3/invoices?filter=cancelled").json()["MetaInformation"]["@TotalResources"] == 1


def test_payments_update_balance_final_pay_date_and_filters(api: Api) -> None:
    invoice = _invoice(api, rows=[{"ArticleNumber": "1001", "DeliveredQuantity": 1, "Price": 800}])
    number = invoice["DocumentNumber"]
    assert invoice["Total"] == 1000
    part = api.post("/3/invoicepayments", {"InvoicePayment": {"InvoiceNumber": int(number), "Amount": 400,
                                                               "PaymentDate": invoice["InvoiceDate"]}})
    assert part.status_code == 201
    assert api.get(f"/3/invoices/{number}").json()["Invoice"]["Balance"] == 600
    assert api.get("/3/invoices?filter=unpaid").json()["MetaInformation"]["@TotalResources"] == 1
    api.post("/3/invoicepayments", {"InvoicePayment": {"InvoiceNumber": int(number), "Amount": 600,
                                                        "PaymentDate": invoice["InvoiceDate"]}})
    paid = api.get(f"/3/invoices/{number}").json()["Invoice"]
    assert paid["Balance"] == 0 and paid["FinalPayDate"] == invoice["InvoiceDate"]
    assert api.get("/3/invoices?filter=fullypaid").json()["MetaInformation"]["@TotalResources"] == 1
    assert api.get("/3/invoices?filter=unpaid").json()["MetaInformation"]["@TotalResources"] == 0
    listed = api.get(f"/3/invoicepayments?invoicenumber={number}").json()
    assert listed["MetaInformation"]["@TotalResources"] == 2
    early = api.post("/3/invoicepayments", {"InvoicePayment": {"InvoiceNumber": int(number), "Amount": 1,
                                                                "PaymentDate": "2000-01-01"}})
    assert early.status_code == 400


def test_unknown_article_customer_and_account_give_the_real_errors(api: Api) -> None:
    no_article = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "OrderRows": [{"ArticleNumber": "NOPE-1",
                                                                                       "OrderedQuantity": 1}]}})
    assert no_article.status_code == 400
    assert no_article.json()["ErrorInformation"]["code"] == 2001302
    no_customer = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "99999"}})
    assert no_customer.status_code == 400
    assert no_customer.json()["ErrorInformation"] == {"error": 1, "message": "Kunde inte hämta/hitta kund (kundnummer)",
                                                      "code": 2000204}
    no_account = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "InvoiceRows": [{"Price": 10,
                                                                                              "DeliveredQuantity": 1}]}})
    assert no_account.json()["ErrorInformation"]["code"] == 2001304
    assert api.company.counts()["orders"] == 0 and api.company.counts()["invoices"] == 0


def test_spec_limits_enums_unknown_fields_and_vat_rates_are_enforced(api: Api) -> None:
    too_long = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "YourOrderNumber": "x" * 76}})
    assert too_long.status_code == 400
    ok = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "YourOrderNumber": "x" * 75,
                                              "ExternalInvoiceReference1": "y" * 80}})
    assert ok.status_code == 201
    assert api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "ExternalInvoiceReference1": "y" * 81}},
                    ).status_code == 400
    bad_enum = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "OrderRows": [
        {"ArticleNumber": "1001", "OrderedQuantity": 1, "DiscountType": "HALF"}]}})
    assert bad_enum.status_code == 400
    unknown = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "Colour": "red"}})
    assert unknown.json()["ErrorInformation"]["code"] == 2001399
    not_number = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "Freight": "lots"}})
    assert not_number.json()["ErrorInformation"]["code"] == 2000108
    vat = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "OrderRows": [
        {"ArticleNumber": "1001", "OrderedQuantity": 1, "VAT": 19}]}})
    assert vat.status_code == 400
    missing = api.post("/3/customers", {"Customer": {"Email": "a@b.se"}})
    assert missing.status_code == 400
    no_json_type = api.server.session.put(f"{api.server.base}/3/invoices/1/bookkeep",
                                          headers={"Authorization": f"Bearer {api.token}"})
    assert no_json_type.json()["ErrorInformation"]["code"] == 1000031


def test_substring_search_one_filter_lastmodified_and_paging(api: Api) -> None:
    for ref in ("1001", "10011", "2001"):
        _order(api, ExternalInvoiceReference1=ref)
    hits = api.get("/3/orders?externalinvoicereference1=1001").json()
    assert sorted(o["ExternalInvoiceReference1"] for o in hits["Orders"]) == ["1001", "10011"]
    assert api.get("/3/orders?filter=cancelled&filter=invoicecreated").status_code == 400
    assert api.get("/3/orders?filter=paid").json()["ErrorInformation"]["code"] == 2000587
    assert api.get("/3/orders?limit=501").status_code == 400
    page = api.get("/3/orders?limit=2&page=2").json()
    assert page["MetaInformation"] == {"@TotalResources": 3, "@TotalPages": 2, "@CurrentPage": 2}
    assert len(page["Orders"]) == 1
    assert api.get("/3/orders?offset=2").json()["MetaInformation"]["@TotalResources"] == 1
    numbers = [o["DocumentNumber"] for o in api.get("/3/orders?sortby=documentnumber&sortorder=descending").json()["Orders"]]
    assert numbers == ["3", "2", "1"]
    future = api.company.clock.now().replace(year=api.company.clock.now().year + 1).strftime("%Y-%m-%d %H:%M")
    assert api.get(f"/3/orders?lastmodified={future}").json()["MetaInformation"]["@TotalResources"] == 0
    assert api.get("/3/orders?lastmodified=2000-01-01 00:00").json()["MetaInformation"]["@TotalResources"] == 3
    empty = api.get("/3/orders?customername=nobody").json()["MetaInformation"]
    assert empty == {"@TotalResources": 0, "@TotalPages": 0, "@CurrentPage": 1}


def test_invoicing_reduces_stock_and_stock_balance_is_a_camelcase_array(api: Api) -> None:
    before = api.get("/api/warehouse/status-v1/stockbalance?itemIds=1001").json()
    assert isinstance(before, list) and set(before[0]) == {"itemId", "stockPointCode", "inStock", "availableStock"}
    order = _order(api, rows=[{"ArticleNumber": "1001", "OrderedQuantity": 3, "DeliveredQuantity": 3}])
    api.put(f"/3/orders/{order['DocumentNumber']}/createinvoice")
    after = api.get("/api/warehouse/status-v1/stockbalance?itemIds=1001").json()
    assert after[0]["inStock"] == before[0]["inStock"] - 3
    assert api.get("/3/articles/1001").json()["Article"]["QuantityInStock"] == after[0]["inStock"]


def test_foreign_customers_get_vat_free_rows_and_their_currency(api: Api) -> None:
    eu = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "16", "InvoiceRows": [
        {"ArticleNumber": "1001", "DeliveredQuantity": 2, "Price": 10}]}}).json()["Invoice"]
    assert eu["Currency"] == "EUR" and eu["CurrencyRate"] == 11.45
    assert eu["InvoiceRows"][0]["VAT"] == 0 and eu["TotalVAT"] == 0
    assert eu["InvoiceRows"][0]["AccountNumber"] == 3108  # the article's EU account
    export = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "17", "InvoiceRows": [
        {"ArticleNumber": "1001", "DeliveredQuantity": 1, "Price": 10}]}}).json()["Invoice"]
    assert export["InvoiceRows"][0]["AccountNumber"] == 3105 and export["TotalVAT"] == 0
    assert eu["Total"] == 20 and eu["RoundOff"] == 0
    listed = api.post("/3/orders", {"Order": {"CustomerNumber": "16", "OrderRows": [
        {"ArticleNumber": "1001", "OrderedQuantity": 1, "DeliveredQuantity": 1}]}}).json()["Order"]
    list_price_b = api.get("/3/prices/B/1001").json()["Price"]["Price"]
    assert listed["OrderRows"][0]["Price"] == round(list_price_b / 11.45, 2)  # SEK list price in EUR


def test_document_number_may_be_given_once(api: Api) -> None:
    first = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "DocumentNumber": "90001"}})
    assert first.status_code == 201 and first.json()["Invoice"]["DocumentNumber"] == "90001"
    assert first.json()["Invoice"]["OCR"] == "900017" + first.json()["Invoice"]["OCR"][-1]
    again = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "DocumentNumber": "90001"}})
    assert again.status_code == 400
    assert api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1"}}).json()["Invoice"]["DocumentNumber"] == "90002"


def test_rows_without_row_ids_replace_all_rows_on_update(api: Api) -> None:
    order = _order(api, rows=[{"ArticleNumber": "1001", "OrderedQuantity": 1, "DeliveredQuantity": 1},
                              {"ArticleNumber": "1002", "OrderedQuantity": 1, "DeliveredQuantity": 1}])
    number = order["DocumentNumber"]
    replaced = api.put(f"/3/orders/{number}", {"Order": {"OrderRows": [
        {"ArticleNumber": "1003", "OrderedQuantity": 2, "DeliveredQuantity": 2}]}}).json()["Order"]
    assert [r["ArticleNumber"] for r in replaced["OrderRows"]] == ["1003"]
    kept = api.put(f"/3/orders/{number}", {"Order": {"OrderRows": [
        {"RowId": replaced["OrderRows"][0]["RowId"]}, {"ArticleNumber": "1004", "OrderedQuantity": 1}]}}).json()["Order"]
    assert [r["ArticleNumber"] for r in kept["OrderRows"]] == ["1003", "1004"]
    assert kept["OrderRows"][0]["DeliveredQuantity"] == "2"


def test_sent_overdue_and_expired_follow_actions_and_the_clock(api: Api) -> None:
    invoice = _invoice(api, rows=[{"ArticleNumber": "1001", "DeliveredQuantity": 1, "Price": 100}])
    number = invoice["DocumentNumber"]
    assert api.put(f"/3/invoices/{number}/externalprint").json()["Invoice"]["Sent"] is True
    assert api.get("/3/invoices?sent=true").json()["MetaInformation"]["@TotalResources"] == 1
    assert api.get("/3/invoices?filter=unpaidoverdue").json()["MetaInformation"]["@TotalResources"] == 0
    order = _order(api, DeliveryDate=invoice["InvoiceDate"])
    assert api.get(f"/3/orders/{order['DocumentNumber']}/email").json()["Order"]["Sent"] is True
    sandbox = api.server.sandbox
    long_lived = sandbox.mint_access_token(api.credentials.tenant_id, api.credentials.client_id, ttl=90 * 86400)
    sandbox.clock.advance(40 * 86400)
    try:
        overdue = api.get("/3/invoices?filter=unpaidoverdue", token=long_lived).json()
        assert overdue["MetaInformation"]["@TotalResources"] == 1
        expired = api.get("/3/orders?filter=expired", token=long_lived).json()
        assert expired["MetaInformation"]["@TotalResources"] == 1
    finally:
        api.server.sandbox.clock.advance(-40 * 86400)
    assert api.get("/3/orders?sortby=colour").status_code == 400


def test_cancelling_an_invoice_gives_the_stock_back(api: Api) -> None:
    def stock() -> float:
        return float(api.get("/api/warehouse/status-v1/stockbalance?itemIds=1002").json()[0]["inStock"])

    before = stock()
    invoice = _invoice(api, rows=[{"ArticleNumber": "1002", "DeliveredQuantity": 2, "Price": 10}])
    assert stock() == before - 2
    api.put(f"/3/invoices/{invoice['DocumentNumber']}/cancel")
    assert stock() == before


def test_dates_projects_and_short_codes_are_checked(api: Api) -> None:
    assert api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "InvoiceDate": "2024-13-45"}}).status_code == 400
    assert api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "DueDate": "tomorrow"}}).status_code == 400
    assert api.post("/3/orders", {"Order": {"CustomerNumber": "1", "Project": "P-404"}}).status_code == 400
    assert api.post("/3/customers", {"Customer": {"Name": "X", "CountryCode": "S"}}).status_code == 400
    dated = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "InvoiceDate": "2024-02-10",
                                                 "TermsOfPayment": "10"}}).json()["Invoice"]
    assert dated["DueDate"] == "2024-02-20"


def test_an_invoice_made_from_an_order_looks_like_any_other_invoice(api: Api) -> None:
    order = _order(api, YourOrderNumber="W-1", OurReference="Lager", Freight=10)
    number = api.put(f"/3/orders/{order['DocumentNumber']}/createinvoice").json()["Order"]["InvoiceReference"]
    from_order = api.get(f"/3/invoices/{number}").json()["Invoice"]
    direct = _invoice(api)
    assert set(from_order) == set(direct)
    assert set(from_order["InvoiceRows"][0]) == set(direct["InvoiceRows"][0])
    assert (from_order["YourOrderNumber"], from_order["OurReference"], from_order["Freight"]) == ("W-1", "Lager", 10)


def test_open_orders_reserve_stock_until_invoiced_or_cancelled(api: Api) -> None:
    def balance() -> dict[str, Any]:
        return dict(api.get("/api/warehouse/status-v1/stockbalance?itemIds=1003").json()[0])

    start = balance()
    order = _order(api, rows=[{"ArticleNumber": "1003", "OrderedQuantity": 3}])
    reserved = balance()
    assert (reserved["inStock"], reserved["availableStock"]) == (start["inStock"], start["availableStock"] - 3)
    article = api.get("/3/articles/1003").json()["Article"]
    assert article["ReservedQuantity"] == 3 and article["DisposableQuantity"] == start["availableStock"] - 3
    api.put(f"/3/orders/{order['DocumentNumber']}/cancel")
    assert balance() == start
