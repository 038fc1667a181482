"""Fortnox customers (``/3/customers``)."""

from __future__ import annotations

from jetfort.fortnox.models.base import CustomerType, FortnoxModel, Text, VatType, api_field


class DefaultDeliveryTypes(FortnoxModel):
    invoice: str | None = api_field("Invoice")
    order: str | None = api_field("Order")
    offer: str | None = api_field("Offer")


class FortnoxCustomer(FortnoxModel):
    """``/3/customers/{CustomerNumber}``; ``name`` is required on create."""

    url: str | None = api_field("@url", read_only=True)
    customer_number: Text | None = api_field("CustomerNumber", 1024)
    name: str | None = api_field("Name", 1024)
    type: CustomerType | None = api_field("Type")
    organisation_number: str | None = api_field("OrganisationNumber", 30)
    email: str | None = api_field("Email", 1024)
    email_invoice: str | None = api_field("EmailInvoice", 1024)
    email_order: str | None = api_field("EmailOrder", 1024)
    address1: str | None = api_field("Address1", 1024)
    address2: str | None = api_field("Address2", 1024)
    zip_code: str | None = api_field("ZipCode", 10)
    city: str | None = api_field("City", 1024)
    country_code: str | None = api_field("CountryCode", 2)
    country: str | None = api_field("Country", read_only=True)
    phone1: str | None = api_field("Phone1", 1024)
    phone2: str | None = api_field("Phone2", 1024)
    delivery_name: str | None = api_field("DeliveryName", 1024)
    delivery_address1: str | None = api_field("DeliveryAddress1", 1024)
    delivery_address2: str | None = api_field("DeliveryAddress2", 1024)
    delivery_zip_code: str | None = api_field("DeliveryZipCode", 10)
    delivery_city: str | None = api_field("DeliveryCity", 1024)
    delivery_country_code: str | None = api_field("DeliveryCountryCode", 2)
    delivery_country: str | None = api_field("DeliveryCountry", read_only=True)
    delivery_phone1: str | None = api_field("DeliveryPhone1", 1024)
    currency: str | None = api_field("Currency", 3)
    price_list: str | None = api_field("PriceList")
    vat_type: VatType | None = api_field("VATType")
    vat_number: str | None = api_field("VATNumber")
    terms_of_payment: str | None = api_field("TermsOfPayment")
    terms_of_delivery: str | None = api_field("TermsOfDelivery")
    way_of_delivery: str | None = api_field("WayOfDelivery")
    our_reference: str | None = api_field("OurReference", 50)
    your_reference: str | None = api_field("YourReference", 50)
    external_reference: str | None = api_field("ExternalReference", 1024)
    comments: str | None = api_field("Comments", 1024)
    active: bool | None = api_field("Active")
    show_price_vat_included: bool | None = api_field("ShowPriceVATIncluded")
    sales_account: Text | None = api_field("SalesAccount", 4)
    cost_center: str | None = api_field("CostCenter")
    project: str | None = api_field("Project")
    default_delivery_types: DefaultDeliveryTypes | None = api_field("DefaultDeliveryTypes")


class CustomerListItem(FortnoxModel):
    url: str | None = api_field("@url")
    customer_number: Text | None = api_field("CustomerNumber")
    name: str | None = api_field("Name")
    email: str | None = api_field("Email")
    organisation_number: str | None = api_field("OrganisationNumber")
    address1: str | None = api_field("Address1")
    address2: str | None = api_field("Address2")
    zip_code: str | None = api_field("ZipCode")
    city: str | None = api_field("City")
    phone: str | None = api_field("Phone")
