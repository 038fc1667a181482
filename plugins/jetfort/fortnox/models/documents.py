"""Fortnox orders, invoices, their rows, list items and invoice payments."""

from __future__ import annotations

from typing import Any, Literal

from jetfort.fortnox.models.base import (
    Date,
    DiscountType,
    FortnoxModel,
    Int,
    InvoiceType,
    Money,
    Quantity,
    Reference,
    Text,
    api_field,
)


class EmailInformation(FortnoxModel):
    email_address_to: str | None = api_field("EmailAddressTo")
    email_address_cc: str | None = api_field("EmailAddressCC")
    email_address_bcc: str | None = api_field("EmailAddressBCC")
    email_address_from: str | None = api_field("EmailAddressFrom")
    email_subject: str | None = api_field("EmailSubject", 100)
    email_body: str | None = api_field("EmailBody", 20000)


class Label(FortnoxModel):
    id: Int | None = api_field("Id")


class DocumentRow(FortnoxModel):
    """A row of an order (``OrderRows``) or invoice (``InvoiceRows``).

    Row totals follow ``delivered_quantity`` — set it equal to ``ordered_quantity`` for an order
    that should carry its full amount. A row needs an ``article_number`` (article must exist) or
    an ``account_number``; text-only rows use ``account_number="API_BLANK"``-style blanking via
    :data:`API_BLANK` on the caller side. Invoices have no ordered/reserved quantity.
    """

    row_id: Int | None = api_field("RowId")
    article_number: Text | None = api_field("ArticleNumber")
    description: str | None = api_field("Description", 255)
    ordered_quantity: Quantity | None = api_field("OrderedQuantity")
    delivered_quantity: Quantity | None = api_field("DeliveredQuantity")
    reserved_quantity: Quantity | None = api_field("ReservedQuantity", read_only=True)
    price: Money | None = api_field("Price")
    discount: Money | None = api_field("Discount")
    discount_type: DiscountType | None = api_field("DiscountType")
    vat: Money | None = api_field("VAT")
    vat_code: str | None = api_field("VATCode")
    account_number: Int | None = api_field("AccountNumber", ge=1000, le=9999)
    unit: str | None = api_field("Unit")
    cost_center: str | None = api_field("CostCenter")
    project: str | None = api_field("Project")
    total: Money | None = api_field("Total", read_only=True)
    price_excluding_vat: Money | None = api_field("PriceExcludingVAT", read_only=True)
    total_excluding_vat: Money | None = api_field("TotalExcludingVAT", read_only=True)
    contribution_percent: Quantity | None = api_field("ContributionPercent", read_only=True)
    contribution_value: Quantity | None = api_field("ContributionValue", read_only=True)


class _Document(FortnoxModel):
    """Header fields shared by orders and invoices."""

    url: str | None = api_field("@url", read_only=True)
    document_number: Text | None = api_field("DocumentNumber")
    customer_number: Text | None = api_field("CustomerNumber")
    customer_name: str | None = api_field("CustomerName", 1024)
    organisation_number: str | None = api_field("OrganisationNumber", read_only=True)
    currency: str | None = api_field("Currency", 3)
    currency_rate: Money | None = api_field("CurrencyRate")
    currency_unit: Money | None = api_field("CurrencyUnit")
    price_list: str | None = api_field("PriceList")
    language: Literal["SV", "EN"] | None = api_field("Language")
    vat_included: bool | None = api_field("VATIncluded")
    freight: Money | None = api_field("Freight")
    administration_fee: Money | None = api_field("AdministrationFee")
    terms_of_payment: str | None = api_field("TermsOfPayment")
    terms_of_delivery: str | None = api_field("TermsOfDelivery")
    way_of_delivery: str | None = api_field("WayOfDelivery")
    our_reference: str | None = api_field("OurReference", 50)
    your_reference: str | None = api_field("YourReference", 50)
    your_order_number: str | None = api_field("YourOrderNumber", 75)
    external_invoice_reference1: str | None = api_field("ExternalInvoiceReference1", 80)
    external_invoice_reference2: str | None = api_field("ExternalInvoiceReference2", 80)
    remarks: str | None = api_field("Remarks", 1024)
    comments: str | None = api_field("Comments", 1024)
    cost_center: str | None = api_field("CostCenter")
    project: str | None = api_field("Project")
    print_template: str | None = api_field("PrintTemplate")
    not_completed: bool | None = api_field("NotCompleted")
    address1: str | None = api_field("Address1", 1024)
    address2: str | None = api_field("Address2", 1024)
    zip_code: str | None = api_field("ZipCode", 1024)
    city: str | None = api_field("City", 1024)
    country: str | None = api_field("Country")
    phone1: str | None = api_field("Phone1", 1024)
    phone2: str | None = api_field("Phone2", 1024)
    delivery_name: str | None = api_field("DeliveryName", 1024)
    delivery_address1: str | None = api_field("DeliveryAddress1", 1024)
    delivery_address2: str | None = api_field("DeliveryAddress2", 1024)
    delivery_zip_code: str | None = api_field("DeliveryZipCode", 1024)
    delivery_city: str | None = api_field("DeliveryCity", 1024)
    delivery_country: str | None = api_field("DeliveryCountry")
    delivery_date: Date | None = api_field("DeliveryDate")
    email_information: EmailInformation | None = api_field("EmailInformation")
    labels: list[Label] | None = api_field("Labels")
    # read-only results
    cancelled: bool | None = api_field("Cancelled", read_only=True)
    sent: bool | None = api_field("Sent", read_only=True)
    net: Money | None = api_field("Net", read_only=True)
    gross: Money | None = api_field("Gross", read_only=True)
    total: Money | None = api_field("Total", read_only=True)
    total_vat: Money | None = api_field("TotalVAT", read_only=True)
    total_to_pay: Money | None = api_field("TotalToPay", read_only=True)
    round_off: Money | None = api_field("RoundOff", read_only=True)
    freight_vat: Money | None = api_field("FreightVAT", read_only=True)
    administration_fee_vat: Money | None = api_field("AdministrationFeeVAT", read_only=True)
    warehouse_ready: bool | None = api_field("WarehouseReady", read_only=True)
    offer_reference: Reference = api_field("OfferReference", read_only=True)


class FortnoxOrder(_Document):
    """``/3/orders/{DocumentNumber}``. ``rows`` is ``OrderRows``; ``customer_number`` required."""

    order_date: Date | None = api_field("OrderDate")
    copy_remarks: bool | None = api_field("CopyRemarks")
    delivery_state: Literal["registration", "reservation", "delivery"] | None = api_field("DeliveryState")
    rows: list[DocumentRow] | None = api_field("OrderRows")
    invoice_reference: Reference = api_field("InvoiceReference", read_only=True)
    order_type: str | None = api_field("OrderType", read_only=True)

    @property
    def invoiced(self) -> bool:
        return self.invoice_reference is not None


_INVOICE_ROW_ONLY_ON_ORDERS = frozenset({"ordered_quantity", "reserved_quantity"})


class FortnoxInvoice(_Document):
    """``/3/invoices/{DocumentNumber}``. ``rows`` is ``InvoiceRows`` (no ordered quantity)."""

    invoice_date: Date | None = api_field("InvoiceDate")
    due_date: Date | None = api_field("DueDate")
    invoice_type: InvoiceType | None = api_field("InvoiceType")
    payment_way: Literal["CASH", "CARD", "AG"] | None = api_field("PaymentWay")
    ocr: str | None = api_field("OCR")
    rows: list[DocumentRow] | None = api_field("InvoiceRows")
    booked: bool | None = api_field("Booked", read_only=True)
    credit: bool | None = api_field("Credit", read_only=True)
    credit_invoice_reference: Reference = api_field("CreditInvoiceReference", read_only=True)
    invoice_reference: Reference = api_field("InvoiceReference", read_only=True)
    """On a credit invoice: the invoice it credits (not in the OpenAPI file; the live API returns it)."""
    order_reference: Reference = api_field("OrderReference", read_only=True)
    balance: Money | None = api_field("Balance", read_only=True)
    final_pay_date: Date | None = api_field("FinalPayDate", read_only=True)
    last_remind_date: Date | None = api_field("LastRemindDate", read_only=True)
    reminders: Int | None = api_field("Reminders", read_only=True)
    voucher_number: Int | None = api_field("VoucherNumber", read_only=True)
    voucher_series: str | None = api_field("VoucherSeries", read_only=True)
    voucher_year: Int | None = api_field("VoucherYear", read_only=True)
    accounting_method: str | None = api_field("AccountingMethod", read_only=True)

    @property
    def fully_paid(self) -> bool:
        return self.final_pay_date is not None or (self.balance is not None and self.balance == 0
                                                   and (self.total or 0) != 0)

    def to_payload(self) -> dict[str, Any]:
        payload = super().to_payload()
        rows = payload.get("InvoiceRows")
        if rows:
            for row in rows:
                row.pop("OrderedQuantity", None)
                row.pop("ReservedQuantity", None)
                if isinstance(row.get("VAT"), float):  # the spec types invoice-row VAT as integer
                    row["VAT"] = round(row["VAT"])
        return payload


class OrderListItem(FortnoxModel):
    url: str | None = api_field("@url")
    document_number: Text | None = api_field("DocumentNumber")
    customer_number: Text | None = api_field("CustomerNumber")
    customer_name: str | None = api_field("CustomerName")
    order_date: Date | None = api_field("OrderDate")
    delivery_date: Date | None = api_field("DeliveryDate")
    currency: str | None = api_field("Currency")
    total: Money | None = api_field("Total")
    cancelled: bool | None = api_field("Cancelled")
    sent: bool | None = api_field("Sent")
    order_type: str | None = api_field("OrderType")
    project: str | None = api_field("Project")
    external_invoice_reference1: str | None = api_field("ExternalInvoiceReference1")
    external_invoice_reference2: str | None = api_field("ExternalInvoiceReference2")


class InvoiceListItem(FortnoxModel):
    url: str | None = api_field("@url")
    document_number: Text | None = api_field("DocumentNumber")
    customer_number: Text | None = api_field("CustomerNumber")
    customer_name: str | None = api_field("CustomerName")
    invoice_date: Date | None = api_field("InvoiceDate")
    due_date: Date | None = api_field("DueDate")
    final_pay_date: Date | None = api_field("FinalPayDate")
    currency: str | None = api_field("Currency")
    currency_rate: Money | None = api_field("CurrencyRate")
    total: Money | None = api_field("Total")
    balance: Money | None = api_field("Balance")
    booked: bool | None = api_field("Booked")
    cancelled: bool | None = api_field("Cancelled")
    sent: bool | None = api_field("Sent")
    ocr: str | None = api_field("OCR")
    invoice_type: str | None = api_field("InvoiceType")
    terms_of_payment: str | None = api_field("TermsOfPayment")
    way_of_delivery: str | None = api_field("WayOfDelivery")
    external_invoice_reference1: str | None = api_field("ExternalInvoiceReference1")
    external_invoice_reference2: str | None = api_field("ExternalInvoiceReference2")
    voucher_number: Int | None = api_field("VoucherNumber")


class InvoicePayment(FortnoxModel):
    """``/3/invoicepayments/{Number}`` (also the list item shape, fields optional)."""

    url: str | None = api_field("@url", read_only=True)
    number: Text | None = api_field("Number", read_only=True)
    invoice_number: Int | None = api_field("InvoiceNumber")
    amount: Money | None = api_field("Amount")
    amount_currency: Money | None = api_field("AmountCurrency")
    currency: str | None = api_field("Currency", 3)
    currency_rate: Money | None = api_field("CurrencyRate")
    currency_unit: Money | None = api_field("CurrencyUnit")
    payment_date: Date | None = api_field("PaymentDate")
    mode_of_payment: str | None = api_field("ModeOfPayment")
    mode_of_payment_account: Int | None = api_field("ModeOfPaymentAccount", ge=1000, le=9999)
    booked: bool | None = api_field("Booked", read_only=True)
    source: str | None = api_field("Source", read_only=True)
    external_invoice_reference1: str | None = api_field("ExternalInvoiceReference1", read_only=True)
    external_invoice_reference2: str | None = api_field("ExternalInvoiceReference2", read_only=True)
    write_off_exist: bool | None = api_field("WriteOffExist", read_only=True)
