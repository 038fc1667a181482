"""The confirmed operations reproduce what the live service was observed to do, one quirk per test."""

from __future__ import annotations

import re

import requests
from lxml import etree

from sandbox.jetshop.state import JetshopSandbox
from tests.sandbox.jetshop.wire import (
    NS,
    SOAP11,
    SOAP12,
    add_update,
    all_text,
    fault_of,
    first,
    post,
    price_update,
    product_get,
    text,
    xml,
)

PL_SE_LOWER = "7c7dfec3-2312-4dc9-a74f-913f3da0c686"


def _new_product(http: requests.Session, url: str, article: str = "T-100", vat: str = "0.25") -> None:
    r = post(http, url, add_update(
        f"<ArticleNumber>{article}</ArticleNumber><Culture>sv-SE</Culture><TemplateId>1</TemplateId>"
        f"<Name>Testprodukt</Name><Vat>{vat}</Vat>"))
    assert r.status_code == 200, r.text


def test_wsdl_is_served_at_both_spellings_with_the_endpoint_pointing_here(base_url: str, url: str) -> None:
    for query in ("?WSDL", "?wsdl"):
        r = requests.get(url + query, timeout=10)
        assert r.status_code == 200
        doc = etree.fromstring(r.content)
        address = doc.xpath("//*[local-name()='address']/@location")
        assert address == [url]
        ops = set(doc.xpath("//*[local-name()='portType']/*[local-name()='operation']/@name"))
        assert {"Product_Get", "Product_AddUpdate", "Product_Delete", "PriceList_UpdateArticleIncVAT",
                "Order_Search", "Order_UpdateStatus"} <= ops
    help_page = requests.get(url, timeout=10)
    assert "Product_AddUpdate" in help_page.text and "(modelled)" in help_page.text


def test_response_envelope_matches_the_observed_shape(http: requests.Session, url: str) -> None:
    r = post(http, url, product_get("1001"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/soap+xml")
    assert r.text.startswith('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"')
    root = xml(r)
    assert root.nsmap == {"soap": SOAP12, "xsi": "http://www.w3.org/2001/XMLSchema-instance",
                          "xsd": "http://www.w3.org/2001/XMLSchema"}
    resp = root[0][0]
    assert resp.tag == f"{{{NS}}}Product_GetResponse" and resp.nsmap[None] == NS
    assert resp[0].tag == f"{{{NS}}}Product_GetResult"
    assert resp[0][0].tag == f"{{{NS}}}ProductData"
    # element order as the live service writes it
    names = [etree.QName(e).localname for e in resp[0][0]]
    assert names[:5] == ["ArticleNumber", "Culture", "DescriptionUrl", "DiscountEndDate", "DiscountStartDate"]
    assert names.index("StockData") < names.index("StockStatusName") < names.index("SubName")
    assert names[-1] in ("ModifiedDate", "ProductInCategories", "ParentArticleNumber", "AttValue", "Variants")


def test_money_has_four_decimals_and_price_is_reported_ex_vat(http: requests.Session, url: str) -> None:
    _new_product(http, url)
    r = post(http, url, price_update(
        f"<ArticleNumber>T-100</ArticleNumber><PriceListId>{PL_SE_LOWER}</PriceListId><PriceIncVat>123</PriceIncVat>"
        "<DiscountedPriceIncVat>20</DiscountedPriceIncVat><UseDiscountDateSpan>false</UseDiscountDateSpan>"))
    assert text(xml(r), "Success") == "true"
    root = xml(post(http, url, product_get("T-100")))
    assert text(root, "Price") == "98.4000"  # 123 / 1.25, observed
    assert text(root, "DiscountedPrice") == "16.0000"  # 20 / 1.25, observed
    assert text(root, "Weight") == "0.0000" and text(root, "Volume") == "0.0000"


def test_vat_is_a_fraction_with_eight_decimals(http: requests.Session, url: str) -> None:
    _new_product(http, url, "T-12", vat="0.12")
    assert text(xml(post(http, url, product_get("T-12"))), "Vat") == "0.12000000"
    assert text(xml(post(http, url, product_get("1001"))), "Vat") == "0.25000000"


def test_timestamps_are_zone_less_local_time(http: requests.Session, url: str) -> None:
    root = xml(post(http, url, product_get("1001")))
    for name in ("ModifiedDate", "DiscountStartDate", "DiscountEndDate"):
        value = text(root, name)
        assert value and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?", value), (name, value)


def test_null_nullables_are_xsi_nil_and_empty_strings_self_closing(http: requests.Session, url: str) -> None:
    r = post(http, url, product_get("1001"))
    nil = "{http://www.w3.org/2001/XMLSchema-instance}nil"
    root = xml(r)
    assert first(root, "PriceListChangeInheritPricePercent").get(nil) == "true"
    assert first(root, "PublishDate").get(nil) == "true"
    assert "<SubName />" in r.text and "<ManufacturerArtnr />" in r.text


def test_minus_one_sentinel_comes_back_through_the_ex_vat_divide(http: requests.Session, url: str) -> None:
    _new_product(http, url, "T-25", vat="0.25")
    _new_product(http, url, "T-6", vat="0.06")
    for article in ("T-25", "T-6"):
        post(http, url, price_update(
            f"<ArticleNumber>{article}</ArticleNumber><PriceListId>{PL_SE_LOWER}</PriceListId>"
            "<PriceIncVat>100</PriceIncVat><DiscountedPriceIncVat>-1</DiscountedPriceIncVat>"))
    assert text(xml(post(http, url, product_get("T-25"))), "DiscountedPrice") == "-0.8000"
    assert text(xml(post(http, url, product_get("T-6"))), "DiscountedPrice") == "-0.9434"


def test_article_without_any_price_reports_zero_and_raw_minus_one(http: requests.Session, url: str) -> None:
    _new_product(http, url, "T-NOPRICE")
    root = xml(post(http, url, product_get("T-NOPRICE")))
    assert (text(root, "Price"), text(root, "DiscountedPrice")) == ("0.0000", "-1.0000")


def test_missing_product_is_an_empty_result_not_a_fault(http: requests.Session, url: str) -> None:
    r = post(http, url, product_get("DOES-NOT-EXIST"))
    assert r.status_code == 200
    assert "<Product_GetResult />" in r.text
    # an existing article in a culture it has no record for is also empty
    _new_product(http, url, "T-SV-ONLY")
    assert "<Product_GetResult />" in post(http, url, product_get("T-SV-ONLY", "nb-NO")).text


def test_new_article_in_two_cultures_is_new_then_update(http: requests.Session, url: str) -> None:
    r = post(http, url, add_update(
        "<ArticleNumber>T-2C</ArticleNumber><Culture>sv-SE</Culture><Name>Blomma</Name>"
        "<StockData><ArticleNumber>T-2C</ArticleNumber><NewStockCount>4</NewStockCount></StockData>",
        "<ArticleNumber>T-2C</ArticleNumber><Culture>nb-NO</Culture><Name>Blomst</Name>"))
    root = xml(r)
    assert all_text(root, "StatusMainProductCreateDelete") == ["SuccessNew", "SuccessUpdate"]
    assert all_text(root, "ResultStockCreateUpdate") == ["Success", "None"]
    assert all_text(root, "Culture") == ["sv-SE", "nb-NO"]
    again = xml(post(http, url, add_update("<ArticleNumber>T-2C</ArticleNumber><Culture>sv-SE</Culture>")))
    assert all_text(again, "StatusMainProductCreateDelete") == ["SuccessUpdate"]


def test_partial_update_keeps_omitted_fields_and_stock_is_shared_by_cultures(
        http: requests.Session, url: str) -> None:
    post(http, url, add_update(
        "<ArticleNumber>T-P</ArticleNumber><Culture>sv-SE</Culture><Name>Stol</Name><SubName>Ek</SubName>",
        "<ArticleNumber>T-P</ArticleNumber><Culture>nb-NO</Culture><Name>Stol NO</Name>"))
    # the observed stock-only update: ArticleNumber, Culture, TemplateId and StockData
    r = post(http, url, add_update(
        "<ArticleNumber>T-P</ArticleNumber><Culture>sv-SE</Culture><TemplateId>1</TemplateId>"
        "<StockData><ArticleNumber>T-P</ArticleNumber><NewStockCount>17</NewStockCount>"
        "<StockStatusId>9</StockStatusId><DeliveryDate>2026-01-23T00:00:00</DeliveryDate></StockData>"))
    assert text(xml(r), "ResultStockCreateUpdate") == "Success"
    sv = xml(post(http, url, product_get("T-P", "sv-SE")))
    nb = xml(post(http, url, product_get("T-P", "nb-NO")))
    assert (text(sv, "Name"), text(sv, "SubName")) == ("Stol", "Ek")
    assert text(nb, "Name") == "Stol NO"
    for root in (sv, nb):
        stock = first(root, "StockData")
        assert stock.findtext(f"{{{NS}}}NewStockCount") == "17"
        assert stock.findtext(f"{{{NS}}}DeliveryDate") == "2026-01-23T00:00:00"
    assert text(sv, "StockStatusName") == "Kommer datum" and text(nb, "StockStatusName") == "Kommer dato"


def test_product_delete_reports_success_then_not_found(http: requests.Session, url: str,
                                                        sb: JetshopSandbox) -> None:
    _new_product(http, url, "T-DEL")
    body = ('<Product_Delete xmlns="WebServiceProvider"><productDeleteRequest><ArticleNumber>T-DEL'
            "</ArticleNumber><AddRedirect>false</AddRedirect><Redirects /></productDeleteRequest></Product_Delete>")
    first_try = xml(post(http, url, body))
    assert (text(first_try, "Identifier"), text(first_try, "Result")) == ("T-DEL", "Success")
    assert sb.product("demoshop", "T-DEL") is None
    assert text(xml(post(http, url, body)), "Result") == "NotFound"


def test_price_list_results_are_per_item_and_echo_the_guid_as_sent(http: requests.Session, url: str,
                                                                     sb: JetshopSandbox) -> None:
    r = post(http, url, price_update(
        f"<ArticleNumber>1001</ArticleNumber><PriceListId>{PL_SE_LOWER}</PriceListId><PriceIncVat>300</PriceIncVat>",
        "<ArticleNumber>1001</ArticleNumber><PriceListId>11111111-2222-3333-4444-555555555555</PriceListId>"
        "<PriceIncVat>300</PriceIncVat>",
        f"<ArticleNumber>NOPE</ArticleNumber><PriceListId>{PL_SE_LOWER}</PriceListId><PriceIncVat>1</PriceIncVat>"))
    assert r.status_code == 200
    root = xml(r)
    assert all_text(root, "Success") == ["true", "false", "false"]
    messages = all_text(root, "Message")
    assert messages[0] is None and "<Message />" in r.text
    assert "PriceList" in (messages[1] or "") and "NOPE" in (messages[2] or "")
    assert all_text(root, "PriceListId")[0] == PL_SE_LOWER  # echoed as sent
    assert text(xml(post(http, url, product_get("1001"))), "PriceListIdOrName") == PL_SE_LOWER.upper()
    assert sb.price("demoshop", "1001", PL_SE_LOWER)["PriceIncVat"] == 300  # type: ignore[index]


def test_empty_datetime_is_a_sender_fault_with_http_500(http: requests.Session, url: str,
                                                         sb: JetshopSandbox) -> None:
    r = post(http, url, add_update(
        "<ArticleNumber>1001</ArticleNumber><Culture>sv-SE</Culture><Name>changed</Name>"
        "<StockData><ArticleNumber>1001</ArticleNumber><DeliveryDate></DeliveryDate></StockData>"))
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/soap+xml")
    code, reason = fault_of(r)
    assert code == "soap:Sender"
    assert reason is not None and reason.startswith("Server was unable to read request. ---> There is an error in XML document (")
    assert reason.endswith("The string '' is not a valid AllXsd value.")
    # the whole call is refused: nothing of it was applied
    assert sb.product("demoshop", "1001")["cultures"]["sv-SE"]["Name"] == "T-shirt bomull"  # type: ignore[index]


def test_empty_or_non_numeric_number_is_a_sender_fault(http: requests.Session, url: str,
                                                        sb: JetshopSandbox) -> None:
    before = sb.price("demoshop", "1001", PL_SE_LOWER)
    for bad in ("<PriceListChangeInheritPricePercent></PriceListChangeInheritPricePercent>",
                "<PriceIncVat>12,50</PriceIncVat>"):
        r = post(http, url, price_update(
            f"<ArticleNumber>1001</ArticleNumber><PriceListId>{PL_SE_LOWER}</PriceListId>{bad}"))
        assert r.status_code == 500
        code, reason = fault_of(r)
        assert code == "soap:Sender"
        assert reason and reason.endswith("Input string was not in a correct format."), reason
        assert re.search(r"error in XML document \(\d+, \d+\)", reason)
    assert sb.price("demoshop", "1001", PL_SE_LOWER) == before


def test_malformed_xml_and_unknown_operation_are_faults(http: requests.Session, url: str) -> None:
    broken = http.post(url, data=b"<soap12:Envelope><oops", timeout=10,
                       headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    assert broken.status_code == 500 and fault_of(broken)[0] == "soap:Sender"
    unknown = post(http, url, '<Order_Explode xmlns="WebServiceProvider" />')
    assert unknown.status_code == 500
    code, reason = fault_of(unknown)
    assert code == "soap:Sender" and "Order_Explode" in (reason or "")


def test_unknown_elements_are_ignored_like_xmlserializer(http: requests.Session, url: str) -> None:
    r = post(http, url, add_update(
        "<ArticleNumber>T-UNK</ArticleNumber><Culture>sv-SE</Culture><Name>Ok</Name><NoSuchField>x</NoSuchField>"))
    assert r.status_code == 200 and text(xml(r), "StatusMainProductCreateDelete") == "SuccessNew"


def test_basic_auth_is_required_and_bound_to_the_shop(url: str) -> None:
    anonymous = requests.post(url, data=b"", timeout=10)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Basic")
    wrong = requests.Session()
    wrong.auth = ("jetfort-demo", "wrong")
    assert post(wrong, url, product_get("1001")).status_code == 401
    demo = requests.Session()
    demo.auth = ("jetfort-demo", "demo-secret")
    assert post(demo, url, product_get("1001"), shop_id="nordicshop").status_code == 401
    nordic = requests.Session()
    nordic.auth = ("jetfort-nordic", "nordic-secret")
    assert post(nordic, url, product_get("1001"), shop_id="nordicshop").status_code == 200
    missing = post(demo, url, product_get("1001"), shop_id=None)
    assert missing.status_code == 500 and "ShopId" in (fault_of(missing)[1] or "")


def test_shops_are_partitioned_by_shop_id(http: requests.Session, url: str) -> None:
    _new_product(http, url, "ONLY-DEMO")
    nordic = requests.Session()
    nordic.auth = ("jetfort-nordic", "nordic-secret")
    assert "<Product_GetResult />" in post(nordic, url, product_get("ONLY-DEMO"), shop_id="nordicshop").text
    assert "<Product_GetResult />" not in post(http, url, product_get("ONLY-DEMO")).text


def test_soap_11_requests_get_soap_11_answers(http: requests.Session, url: str) -> None:
    r = post(http, url, product_get("1001"), soap11=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    assert xml(r).nsmap["soap"] == SOAP11
    bad = post(http, url, price_update(f"<ArticleNumber>1001</ArticleNumber><PriceListId>{PL_SE_LOWER}"
                                       "</PriceListId><PriceIncVat>x</PriceIncVat>"), soap11=True)
    assert bad.status_code == 500 and text(xml(bad), "faultcode") == "soap:Client"


def test_variants_are_separate_articles_under_a_parent(http: requests.Session, url: str) -> None:
    parent = xml(post(http, url, product_get("1002")))
    assert text(parent, "HasAttributes") == "true"
    assert sorted(all_text(first(parent, "Variants"), "ArticleNumber")) == ["1003", "1004", "1005"]
    child = xml(post(http, url, product_get("1004")))
    assert (text(child, "ParentArticleNumber"), text(child, "AttValue")) == ("1002", "M")
    assert text(child, "ProductId") != text(parent, "ProductId")


def test_dynamic_field_for_a_key_the_template_lacks_fails_per_item(http: requests.Session, url: str) -> None:
    body = ('<ProductDynamicField_SaveProductDynamicFieldData xmlns="WebServiceProvider"><dynamicFieldOnProductInputs>'
            "<DynamicFieldOnProductInput><ArticleNumber>1001</ArticleNumber><Key>b2c_mp</Key>"
            "<ClearExistingListData>false</ClearExistingListData><ItemValues><Localization><Culture>sv-SE</Culture>"
            "<Value>true</Value></Localization></ItemValues><DynamicFieldItemListData />"
            "<DynamicFieldItemMultiLevelListData /></DynamicFieldOnProductInput>"
            "</dynamicFieldOnProductInputs></ProductDynamicField_SaveProductDynamicFieldData>")
    r = post(http, url, body)
    assert r.status_code == 200  # not a fault: the item fails, the call succeeds
    root = xml(r)
    assert (text(root, "ArticleNumber"), text(root, "Key"), text(root, "Success")) == ("1001", "b2c_mp", "false")
    assert text(root, "Message") == "No dynamic field, connected to product, found with key."
    assert text(root, "ProductId") == text(xml(post(http, url, product_get("1001"))), "ProductId")
