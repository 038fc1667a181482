"""Registers, customers, articles, prices, company information: shapes and rules from recordings."""

from __future__ import annotations

from .conftest import Api


def test_errors_use_the_recorded_key_casing(api: Api) -> None:
    missing = api.get("/3/customers/123456789")
    assert missing.status_code == 404
    assert missing.json() == {"ErrorInformation": {"Error": 1, "Message": "Kan inte hitta kunden.", "Code": 2000433}}
    bad = api.get("/3/invoices?filter=doesntexist")
    assert bad.json() == {"ErrorInformation": {"error": 1, "message": "Ett ogiltigt filter har använts.",
                                               "code": 2000587}}
    assert "\\u00e4" in bad.text  # non-ASCII escaped like Fortnox does
    assert api.get("/3/articles/123456789").json()["ErrorInformation"]["Code"] == 2000428


def test_customer_create_defaults_trailing_slash_and_reserved_numbers(api: Api) -> None:
    created = api.post("/3/customers/", {"Customer": {"Name": "Ny Kund AB", "CountryCode": "SE", "SalesAccount": "3001"}})
    assert created.status_code == 201
    customer = created.json()["Customer"]
    assert customer["Country"] == "Sverige" and customer["VATType"] == "SEVAT" and customer["PriceList"] == "A"
    assert customer["SalesAccount"] == 3001 and customer["Type"] == "COMPANY"  # a number on create (recorded)
    assert api.get(f"/3/customers/{customer['CustomerNumber']}").json()["Customer"]["SalesAccount"] == "3001"
    assert customer["@url"].endswith(f"/3/customers/{customer['CustomerNumber']}")
    number = customer["CustomerNumber"]
    updated = api.put(f"/3/customers/{number}", {"Customer": {"Email": "inkop@nykund.se"}}).json()["Customer"]
    assert updated["Email"] == "inkop@nykund.se" and updated["Name"] == "Ny Kund AB"  # PUT is partial
    kept = api.put(f"/3/customers/{number}", {"Customer": {"Email": ""}}).json()["Customer"]
    assert kept["Email"] == "inkop@nykund.se"  # "" changes nothing (recorded); API_BLANK clears
    assert api.put(f"/3/customers/{number}", {"Customer": {"Email": "API_BLANK"}}).json()["Customer"]["Email"] == ""
    assert api.delete(f"/3/customers/{number}").status_code == 204
    reuse = api.post("/3/customers", {"Customer": {"Name": "Again", "CustomerNumber": number}})
    assert reuse.status_code == 400 and reuse.json()["ErrorInformation"]["code"] == 2000637
    assert int(api.post("/3/customers", {"Customer": {"Name": "Next"}}).json()["Customer"]["CustomerNumber"]) > int(number)


def test_customer_search_is_a_case_insensitive_substring(api: Api) -> None:
    api.post("/3/customers", {"Customer": {"Name": "A", "Email": "Kalle.Anka@Example.SE", "OrganisationNumber": "556677-8899"}})
    assert api.post("/3/customers", {"Customer": {"Name": "B", "Email": "not-an-address"}}).status_code == 400
    assert api.post("/3/customers", {"Customer": {"Name": "C", "EmailInvoiceCC": "a@b.se, c@d.se"}}).status_code == 201
    by_mail = api.get("/3/customers?email=anka@example").json()["Customers"]
    assert [c["Email"] for c in by_mail] == ["Kalle.Anka@Example.SE"]
    by_org = api.get("/3/customers?organisationnumber=6677-88").json()["Customers"]
    assert len(by_org) == 1 and set(by_org[0]) == {"@url", "Address1", "Address2", "City", "CustomerNumber", "Email",
                                                   "Name", "OrganisationNumber", "Phone", "ZipCode"}


def test_article_list_items_are_slim_with_numbers_as_strings(api: Api) -> None:
    item = api.get("/3/articles?articlenumber=1001").json()["Articles"][0]
    assert isinstance(item["QuantityInStock"], str) and isinstance(item["PurchasePrice"], str)
    assert item["VAT"] is None
    full = api.get("/3/articles/1001").json()["Article"]
    assert isinstance(full["QuantityInStock"], (int, float)) and full["SalesPrice"] is not None
    vat_rates = {a["VAT"] for a in (api.get(f"/3/articles/{n}").json()["Article"] for n in ("1001", "1011", "1016"))}
    assert vat_rates == {25, 12, 6}


def test_article_create_and_sales_price_is_read_only(api: Api) -> None:
    created = api.post("/3/articles", {"Article": {"Description": "Ny artikel", "VAT": 12, "SalesPrice": 999}})
    assert created.status_code == 201
    article = created.json()["Article"]
    assert article["SalesPrice"] is None and article["SalesAccount"] == 3002
    number = article["ArticleNumber"]
    price = api.post("/3/prices", {"Price": {"PriceList": "A", "ArticleNumber": number, "FromQuantity": 0, "Price": 59}})
    assert price.status_code == 201
    assert api.get(f"/3/articles/{number}").json()["Article"]["SalesPrice"] == 59
    assert api.post("/3/prices", {"Price": {"PriceList": "A", "ArticleNumber": number, "Price": 1}}).status_code == 400
    assert api.put(f"/3/prices/A/{number}/0", {"Price": {"Price": 69}}).json()["Price"]["Price"] == 69
    assert api.delete(f"/3/prices/A/{number}/0").status_code == 204
    assert api.get(f"/3/prices/A/{number}/0").status_code == 404
    too_long = api.post("/3/articles", {"Article": {"Description": "x" * 201}})
    assert too_long.status_code == 400


def test_registers_company_information_and_accounts(api: Api) -> None:
    currencies = {c["Code"] for c in api.get("/3/currencies").json()["Currencies"]}
    assert {"SEK", "EUR", "NOK", "USD"} <= currencies
    terms = api.post("/3/termsofpayments", {"TermsOfPayment": {"Code": "45days", "Description": "45 dagar"}})
    assert terms.json()["TermsOfPayment"]["Code"] == "45DAYS"  # Fortnox upper-cases the code
    assert api.post("/3/termsofpayments", {"TermsOfPayment": {"Code": "30 days", "Description": "x"}}).status_code == 400
    ways = api.get("/3/wayofdeliveries").json()
    assert ways["MetaInformation"]["@TotalResources"] >= 3
    info = api.get("/3/companyinformation").json()["CompanyInformation"]
    assert info["DatabaseNumber"] == api.credentials.tenant_id
    accounts = {a["Number"]: a["VATCode"] for a in api.get("/3/accounts?limit=500").json()["Accounts"]}
    assert (accounts[3001], accounts[3002], accounts[3003]) == ("MP1", "MP2", "MP3")
    assert api.get("/3/settings/company").json()["CompanySettings"]["DatabaseNumber"] == str(api.credentials.tenant_id)
    assert api.get("/3/pricelists/B").json()["PriceList"]["Description"] == "Återförsäljare"


def test_seed_is_deterministic(api: Api) -> None:
    from sandbox.fortnox import FortnoxSandbox

    one, two = FortnoxSandbox(seed=5), FortnoxSandbox(seed=5)
    assert one.company().data["articles"] == two.company().data["articles"]
    assert one.company().data["customers"] == two.company().data["customers"]
    assert FortnoxSandbox(seed=6).company().data["customers"] != one.company().data["customers"]
