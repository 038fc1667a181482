"""Fortnox registers (currencies, terms of payment, ways of delivery, company, accounts) and paging."""

from __future__ import annotations

from pydantic import Field

from jetfort.fortnox.models.base import Date, FortnoxModel, Int, Money, api_field


class MetaInformation(FortnoxModel):
    total_resources: Int = Field(0, alias="@TotalResources")
    total_pages: Int = Field(0, alias="@TotalPages")
    current_page: Int = Field(1, alias="@CurrentPage")


class Currency(FortnoxModel):
    url: str | None = api_field("@url", read_only=True)
    code: str | None = api_field("Code")
    description: str | None = api_field("Description")
    buy_rate: Money | None = api_field("BuyRate")
    sell_rate: Money | None = api_field("SellRate")
    unit: Money | None = api_field("Unit")
    date: Date | None = api_field("Date")
    is_automatic: bool | None = api_field("IsAutomatic")


class TermsOfPayment(FortnoxModel):
    url: str | None = api_field("@url", read_only=True)
    code: str | None = api_field("Code", 25)
    description: str | None = api_field("Description")


class WayOfDelivery(FortnoxModel):
    url: str | None = api_field("@url", read_only=True)
    code: str | None = api_field("Code", 50)
    description: str | None = api_field("Description", 100)
    description_english: str | None = api_field("DescriptionEnglish", 100)


class CompanyInformation(FortnoxModel):
    company_name: str | None = api_field("CompanyName")
    organization_number: str | None = api_field("OrganizationNumber")
    address: str | None = api_field("Address")
    zip_code: str | None = api_field("ZipCode")
    city: str | None = api_field("City")
    country_code: str | None = api_field("CountryCode")
    database_number: Int | None = api_field("DatabaseNumber")
    """The tenant id (``TenantId`` for client credentials)."""
    visit_address: str | None = api_field("VisitAddress")
    visit_zip_code: str | None = api_field("VisitZipCode")
    visit_city: str | None = api_field("VisitCity")
    visit_country_code: str | None = api_field("VisitCountryCode")


class Account(FortnoxModel):
    """Chart-of-accounts entry (``/3/accounts/{Number}``) for checking configured accounts."""

    url: str | None = api_field("@url", read_only=True)
    number: Int | None = api_field("Number")
    description: str | None = api_field("Description", 200)
    active: bool | None = api_field("Active")
    vat_code: str | None = api_field("VATCode")
    year: Int | None = api_field("Year")


class EUVatLimitRegulation(FortnoxModel):
    """``/3/euvatlimitregulation?year=``: the company's EU distance sales to private buyers against the
    EU threshold (EUR 10 000, which Fortnox gives as 99 680 SEK)."""

    is_over_limit: bool | None = api_field("IsOverLimit")
    limit: Int | None = api_field("Limit")
    total_excl_vat: Money | None = api_field("TotalExclVat")
    year: str | None = api_field("Year")
