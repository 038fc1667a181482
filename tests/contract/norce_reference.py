"""Norce Commerce's data contracts, transcribed by hand from the reference (docs.norce.io and Norce's own
public .NET contracts, as summarised in the project's Norce reference), and a validator for them.

This is the contract test's oracle: it shares nothing with jetfort's client or with the sandbox. Each
object lists its properties with a small type language:

* ``int32``, ``int64``, ``number``, ``string``, ``bool``, ``datetime`` (ISO 8601, offset optional),
  ``date`` (a date or a datetime), ``enum:A|B|C`` (a name, or an integer: the .NET contracts accept both);
* ``[Name]`` an array of object ``Name``, ``{Name}`` one object ``Name``, ``[int|string]`` an array of
  enum members, ``any`` an object whose members the reference does not list;
* a leading ``!`` marks a required property, a trailing ``?`` one that may be null, ``/N`` a max length.

Property names are matched exactly (jetfort sends and expects PascalCase, as the contracts serialise).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

ORDER_STATUS = ("Created|Allocation|Confirmed|BackOrder|Delivered|Invoiced|Cancelled|CreditControl|PartlyDelivered|"
                "Acknowledged|ErpConfirmed|ReadyForPickup|PickedUp|NotPickedUp|OnHold|WaitingForCancel|"
                "WaitingForOnHoldRemoved|CancelError|AcknowledgementError|ReadyForReservation|Reserved")
ITEM_TYPE = "Undefined|ErpStandard|Refurbished|Freight|Insurance|GiftCertificate|Bid|Download|Structure|Invoice"
TYPE_GROUP = "Undefined|Physical|Virtual|Fee|Service|AddedFee"

OBJECTS: dict[str, dict[str, str]] = {
    # ---------------------------------------------------------------- jetfort → Norce (Connect 4.0)
    "SendOrderStatusRequest": {"ClientOrderRef": "int32", "ErpOrderNo": "string", "OrderStatus": f"!enum:{ORDER_STATUS}",
                               "AccountId": "int32?", "Infos": "[OrderInfo]", "ItemStatuses": "[ItemStatus]"},
    "OrderInfo": {"Code": "!string", "Value": "string?"},
    "ItemStatus": {"LineNo": "string", "ItemStatus": f"enum:{ORDER_STATUS}?"},
    "DeliveryNote": {"OrderNo": "string", "NoteNo": "string", "DeliveryDate": "datetime?", "BuyerCompanyCode": "string?",
                     "BuyerCustomerCode": "string?", "DeliveryAddress": "{Address}?", "DeliveryName": "string?",
                     "DeliveryAttention": "string?", "DeliveryMode": "string?", "NoteText": "string?",
                     "DivisionCode": "string?", "StatusId": "int32?", "IsPrinted": "bool?",
                     "DeliveryNoteItems": "[DeliveryNoteItem]", "DeliveryNotePackages": "[DeliveryNotePackage]"},
    "DeliveryNoteItem": {"RowNumber": "number?", "ItemNo": "string", "Description": "string?", "Qty": "number",
                         "Comment": "string?", "Id": "int32?"},
    "DeliveryNotePackage": {"ParcelNumber": "string", "StatusId": "int32?", "Id": "int32?"},
    "CancelOrderRequest": {"ClientOrderRef": "int32", "ErpOrderNo": "string", "Payments": "[Payment]"},
    "Invoice": {"ClientOrderRef": "int32", "ErpOrderNo": "string", "InvoiceNo": "string", "InvoiceDate": "!date",
                "CurrencyCode": "!string/3", "InvoiceDueDate": "date?", "DeliveryDate": "date?", "Items": "[InvoiceItem]",
                "Payment": "{Payment}?", "SuppressPspCall": "bool?", "IsLastInvoiceForOrder": "bool?",
                "GroupCode": "string?", "CreditedInvoiceNo": "string?", "CountryCode": "string?", "CultureCode": "string?",
                "Vat": "number?", "InvoiceRoundOff": "number?", "TotalAmount": "number?", "VatRoundOff": "number?",
                "Name": "string?", "AddressLine1": "string?", "AddressLine2": "string?", "ZipCode": "string?",
                "City": "string?", "Region": "string?", "Country": "string?", "CareOf": "string?", "Attention": "string?",
                "Gln": "string?", "Comment": "string?", "PaymentMethodCode": "string?", "PaymentMethodName": "string?",
                "ApplicationKey": "string?"},
    "InvoiceItem": {"PartNo": "!string", "Quantity": "!int32", "UnitPrice": "!number", "UnitVat": "number?",
                    "VatRate": "number?", "Description": "string?", "ProductName": "string?", "PriceList": "string?",
                    "LineNo": "number?", "SalePrice": "number?", "LineAmount": "number?", "Discount": "number?"},
    "Payment": {"PaymentCode": "int32?", "PaymentMethodCode": "string?", "PaymentRef": "string?", "Amount": "number?",
                "CurrencyCode": "string?", "PaymentName": "string?", "AdditionalInfo": "[CodeValue]"},
    "CodeValue": {"Id": "int32?", "Code": "string?", "Code2": "string?", "Value": "string?"},
    "SkuOnhand": {"PartNo": "!string", "WarehouseCode": "!string", "LocationCode": "!string", "OnhandValue": "number",
                  "IncomingValue": "number?", "NextDeliveryDate": "datetime?", "LeadTimeDayCount": "int32?",
                  "MinimumValue": "number?", "MaximumValue": "number?", "IsActive": "bool?", "Infos": "[InfoField]",
                  "OnOrderValue": "number?"},
    "InfoField": {"Code": "!string", "Value": "!string"},
    "SkuPriceList": {"PartNo": "!string", "PriceListCode": "!string", "QuantityBreak": "int32?", "PriceSale": "number?",
                     "CostPurchase": "number?", "CostUnit": "number?", "PriceRecommended": "number?",
                     "PricePrevious": "number?", "PriceCatalog": "number?", "IsPriceDiscountable": "bool?",
                     "IsActive": "bool?", "CurrencyCode": "string?", "PriceRule": "int32?", "PriceRuleValue": "number?"},
    "PriceList": {"Code": "!string", "Name": "string/50?", "Description": "string?", "CurrencyCode": "string?",
                  "StartDate": "datetime?", "EndDate": "datetime?", "IsPrimary": "bool?", "IsPublic": "bool?",
                  "IsFavorite": "bool?", "TypeCode": "string?", "DefaultPriceRule": "int32?",
                  "DefaultPriceRuleValue": "number?", "Warehouses": "[any]", "SalesArea": "any",
                  "ParentPriceListCode": "string?"},
    "Product": {"Code": "string?", "ManufacturerCode": "string?", "ManufacturerName": "string?", "Alias": "string?",
                "AssortmentCode": "string?", "Cultures": "[any]", "Categories": "[Category]", "MainImage": "any",
                "AdditionalImages": "[any]", "Family": "any", "ProductFlags": "[any]", "ProductParametrics": "[any]",
                "VariantDefinitionGroup": "any", "Variants": "[Variant]"},
    "Category": {"Code": "!string", "SortOrder": "int32?"},
    "Variant": {"ManufacturerPartNo": "string?", "SortOrderValue": "int32?", "StockDisplayBreakPoint": "int32?",
                "IsDangerousGoods": "bool?", "TranslationRequested": "bool?", "Cultures": "[any]", "Skus": "[Sku]",
                "MainImage": "any", "AdditionalImages": "[any]", "VariantFlags": "[any]", "VariantParametrics": "[any]",
                "NonParametricVariantDefinitions": "[any]", "DeliveryMethods": "[any]"},
    "Sku": {"PartNo": "!string", "Status": "enum:Active|Coming|Expiring|Hidden|Inactive|NotActivated?",
            "Type": "enum:ErpStandard|Freight|Service|Standard|EnvironmentalFee|PackingFee|Compensation?",
            "IntegrationPartNo": "string?", "CommodityCode": "string?", "EanCode": "string?", "TrackingCode": "string?",
            "UnitOfMeasurementType": "int32?", "UnitOfMeasurementCount": "number?", "IsDropShipOnly": "bool?",
            "IsBuyable": "bool?", "DiscountClass": "string?", "RecommendedSalesQty": "number?",
            "IsRecommendedSalesQtyFixed": "bool?", "ActualWeight": "number?", "VolumeWeight": "number?",
            "LogisticWidth": "number?", "LogisticHeight": "number?", "LogisticDepth": "number?",
            "StandardPrice": "{SkuPriceList}?", "VatRates": "[VatRate]", "Cultures": "[SkuCulture]",
            "StartDate": "datetime?", "StopDate": "datetime?", "StructureItems": "[any]"},
    "VatRate": {"SalesArea": "!int32", "Rate": "!number"},
    "SkuCulture": {"CultureCode": "!string", "ErpName": "string?", "Comment": "string?"},
    # X-StormConnect-Header of each import (base fields + the operation's own)
    "SkuOnhandHeader": {"AccountId": "!int32", "SupplierId": "int32?", "JobId": "int32?", "StorageName": "string?",
                        "SerializationType": "int32?", "FullFile": "!bool", "SkuOnhandFieldsThatAreSet": "[int|string]"},
    "SkuPriceListHeader": {"AccountId": "!int32", "SupplierId": "int32?", "JobId": "int32?", "StorageName": "string?",
                           "SerializationType": "int32?", "FullFile": "!bool",
                           "SkuPriceListFieldsThatAreSet": "[int|string]",
                           "IgnoreSkuPriceListFieldsWhenEmpty": "[int|string]"},
    "PriceListHeader": {"AccountId": "!int32", "SupplierId": "int32?", "JobId": "int32?", "StorageName": "string?",
                        "SerializationType": "int32?", "FullFile": "bool?", "PriceListFieldsThatAreSet": "[int|string]",
                        "WarehouseFieldsThatAreSet": "[int|string]",
                        "WarehouseLocationFieldsThatAreSet": "[int|string]",
                        "PriceListPriceRuleFieldsThatAreSet": "[int|string]"},
    "ProductHeader": {"AccountId": "!int32", "SupplierId": "int32?", "JobId": "int32?", "StorageName": "string?",
                      "SerializationType": "int32?", "FullFile": "!bool", "ProductFieldsThatAreSet": "[int|string]",
                      "ProductCultureFieldsThatAreSet": "[int|string]", "VariantFieldsThatAreSet": "[int|string]",
                      "VariantCultureFieldsThatAreSet": "[int|string]", "SkuFieldsThatAreSet": "[int|string]",
                      "SkuCultureFieldsThatAreSet": "[int|string]", "SkuPriceListFieldsThatAreSet": "[int|string]",
                      "IgnoreSkuPriceListFieldsWhenEmpty": "[int|string]",
                      "SkuStructureItemFieldsThatAreSet": "[int|string]",
                      "ImageCultureFieldsThatAreSet": "[int|string]"},
    # ------------------------------------------------------------------------ Norce → jetfort
    "TokenResponse": {"access_token": "!string", "expires_in": "!int32", "token_type": "string?", "scope": "string?"},
    "OrderRequest": {"Header": "{Header}?", "ClientOrderRef": "!string/50", "ErpOrderNo": "string/50?",
                     "OrderType": "int32?", "SubmitDate": "datetime?", "CurrencyCode": "string/3?",
                     "SellTo": "{ClientCustomer}?", "BillTo": "{ClientCustomer}?", "ShipTo": "{ClientCustomer}?",
                     "Items": "[OrderItem]", "Payments": "[Payment]", "Fees": "[Fee]", "Discounts": "[Discount]",
                     "ShippingAdvice": "any", "AdditionalInfo": "[CodeValue]", "CustomerOrderRef": "string/50?",
                     "CustomerOrderComment": "string?", "CustomerInvoiceRef": "string?", "DiscountCode": "string?",
                     "Source": "string?", "DoHold": "bool?", "ReferId": "int32?", "SalesContactCode": "string/50?",
                     "SalesContactDivision": "string/50?"},
    "Header": {"ApplicationKey": "string?"},
    "ClientCustomer": {"Company": "{Company}?", "Person": "{Person}?"},
    "Company": {"Code": "string/50?", "Name": "string/100?", "VatNo": "string/50?", "AdditionalInfo": "any",
                "Addresses": "any", "Email": "string?", "Fax": "string?", "Phone": "string?", "IsActive": "bool?",
                "PriceListCodes": "any", "PriceListLimit": "any", "PricelistCodes": "any", "PricelistLimit": "any",
                "PaymentCodes": "any", "PaymentCodeLimit": "any", "DeliveryCodes": "any", "DeliveryCodeLimit": "any"},
    "Person": {"Address": "{Address}?", "CellPhone": "string/50?", "CompanyCode": "string?",
               "CustomerCode": "string/50?", "Email": "string/255?", "FirstName": "string/50?",
               "LastName": "string/50?", "JobTitle": "string/10?", "PrivatePhone": "string/50?",
               "WorkPhone": "string/50?", "SSN": "string/50?", "IsActive": "bool?", "AdditionalInfo": "any"},
    "Address": {"Line1": "string/100?", "Line2": "string/100?", "Box": "string/100?", "CareOf": "string/100?",
                "ZipCode": "string/50?", "City": "string/50?", "Region": "string/50?", "Country": "string/2?",
                "Type": "any", "ShippingPhoneNumber": "string?", "Gln": "string?"},
    "OrderItem": {"LineNo": "!int32", "ParentLineNo": "int32?", "PartNo": "!string", "ErpPartNo": "string?",
                  "InternalProductId": "int32?", "Description": "string?", "Quantity": "!int32",
                  "Quantity2": "number?", "UnitOfMeasure": "string?", "UnitPrice": "!number",
                  "UnitPriceOriginal": "!number", "UnitVat": "!number", "UnitPriceOriginalVat": "number?",
                  "VatRate": "!number", "Discount": "!number", "Type": f"!enum:{ITEM_TYPE}",
                  "TypeGroup": f"!enum:{TYPE_GROUP}", "PriceListNo": "int32?", "PriceLists": "[any]",
                  "Promotions": "[any]", "Comment": "string?", "AdditionalInfo": "[CodeValue]",
                  "ManufacturerCode": "string?"},
    "Fee": {"Amount": "number?", "Description": "string?", "Type": "any", "VatRate": "number?"},
    "Discount": {"Amount": "number?", "Code": "string?", "Type": "string?"},
    "OrderResponse": {"StatusCode": "!string/50", "Description": "string?", "HasErpOrderNo": "bool?",
                      "ErpOrderNo": "string?"},
    "QueryAddress": {"Id": "int64?", "TypeId": "int32?", "Name": "string/100?", "Attention": "string/100?",
                     "CareOf": "string/100?", "Line1": "string/255?", "Line2": "string/255?", "ZipCode": "string/50?",
                     "City": "string/50?", "Region": "string/50?", "CountryId": "int32?", "EmailAddress": "string/255?",
                     "PhoneNumber": "string/50?", "ShippingPhoneNumber": "string/50?", "Gln": "string/50?",
                     "Created": "datetime?", "CreatedBy": "int32?", "RowId": "any", "ClientId": "int32?"},
    "QueryOrderItem": {"Id": "int64|string", "OrderId": "int64|string", "LineNumber": "number?",
                       "ParentLineNumber": "number?", "StatusId": "int32?", "PartNo": "string/50?",
                       "ExternalPartNo": "string?", "ProductName": "string/255?", "StockUnitOfMeasurementCount": "number?",
                       "PriceUnitOfMeasurementCount": "number?", "WarehouseId": "int32?", "LocationId": "int32?",
                       "QtyOrdered": "number?", "CurrencyId": "int32?", "VatRate": "number?", "CostUnit": "number?",
                       "PriceSale": "number?", "DiscountPercentage": "number?", "DiscountAmount": "number?",
                       "LineAmount": "number?", "DeliveryMode": "any", "IsPartDelivery": "bool?",
                       "ExpectedDeliveryDate": "datetime?", "ConfirmedDeliveryDate": "datetime?",
                       "SalesRepContactId": "int32?", "LedgerAccount": "string?", "Department": "string?",
                       "Centre": "string?", "TransId": "any", "ExternalStatusText": "string?", "Created": "datetime?",
                       "CreatedBy": "int32?", "Updated": "datetime?", "UpdatedBy": "int32?",
                       "LineNumberString": "string?", "PriceRecommended": "number?", "PriceCatalog": "number?",
                       "PriceStandard": "number?", "ClientId": "int32?", "InvoiceItem": "[any]", "Infos": "[any]"},
    # Query 2.0 Orders/Orders (§2b; the 2.0 page is partly UNCONFIRMED: the reference lists these names,
    # "and other Delivery* address columns", so a Delivery… column is accepted as text)
    "QueryOrder": {"Id": "!int64|string", "ClientId": "int32?", "ApplicationId": "int32?", "QuotationId": "int64?",
                   "OrderNo": "string/50?", "OrderDate": "datetime?", "StatusId": "int32?", "TypeId": "int32?",
                   "Source": "string?", "CurrencyId": "int32?", "PaymentMethodId": "int32?", "PaymentTerms": "any",
                   "DeliveryMode": "any", "IsPartDelivery": "bool?", "FreightCost": "number?", "OrderFee": "number?",
                   "CashDiscount": "number?", "LineDiscount": "number?", "DeliveryAttention": "string?",
                   "DeliveryCountryId": "int32?", "DeliveryZipCode": "string?", "Delivery*": "string?",
                   "DeliveryMark": "string?", "InvoiceMark": "string?", "BuyerCompanyCode": "string?",
                   "BuyerCompanyId": "int32?", "BuyerCustomerCode": "string?", "BuyerCustomerId": "int32?",
                   "PayerCompanyCode": "string?", "PayerCompanyId": "int32?", "PayerCustomerCode": "string?",
                   "PayerCustomerId": "int32?", "BuyerCustomerInfoId": "int32?", "PayerCustomerInfoId": "int32?",
                   "ShipToCustomerInfoId": "int32?", "TmsReference": "string?", "IsForgotten": "bool?",
                   "Created": "datetime?", "Updated": "datetime?", "Items": "[QueryOrderItem]",
                   "Buyer": "{QueryAddress}?", "Payer": "{QueryAddress}?", "ShipTo": "{QueryAddress}?", "Infos": "[any]"},
    "JobResponse": {"StatusCode": "string?", "Description": "string?", "JobId": "!string",
                    "ValidationSummary": "{ValidationSummary}?"},
    "ValidationSummary": {"NrOfItemsInTotal": "int32", "NrOfValidationFailures": "int32", "Messages": "[string]"},
    "JobDto": {"JobId": "!int32", "StatusId": "!int32", "IsFinished": "!bool", "Totals": "int32?", "Fail": "int32?",
               "Updates": "int32?", "Inserts": "int32?", "Insert": "int32?", "Start": "datetime?", "Stop": "datetime?",
               "LastUpdated": "datetime?", "RunTime": "string?", "StorageName": "string?"},
    "JobLogDto": {"SeverityId": "!int32", "Message": "string?", "TimeStamp": "datetime?", "ImportedRow": "any"},
}

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?)?$")
INT32 = (-(2**31), 2**31 - 1)


class ContractError(AssertionError):
    """A message that breaks Norce's documented contract; the path names the property."""


def validate(name: str, value: Any, path: str = "$") -> None:
    """Check ``value`` as object ``name``; raises :class:`ContractError` naming the first bad property."""
    if not isinstance(value, Mapping):
        raise ContractError(f"{path}: {name} must be an object, got {type(value).__name__}")
    spec = OBJECTS[name]
    prefixes = {key[:-1]: kind for key, kind in spec.items() if key.endswith("*")}
    for key in value:
        if key not in spec:
            kind = next((k for prefix, k in prefixes.items() if key.startswith(prefix)), None)
            if kind is None:
                raise ContractError(f"{path}.{key}: {name} has no property {key!r} in Norce's contract")
            check(kind, value[key], f"{path}.{key}")
    for key, kind in spec.items():
        if key.endswith("*"):
            continue
        required, kind = kind.startswith("!"), kind.lstrip("!")
        if key not in value:
            if required:
                raise ContractError(f"{path}.{key}: required by {name}")
            continue
        check(kind, value[key], f"{path}.{key}")


def check(kind: str, value: Any, path: str) -> None:
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    if value is None:
        if nullable or kind == "any" or kind.startswith("["):
            return
        raise ContractError(f"{path}: may not be null")
    limit = None
    if "/" in kind and not kind.startswith("enum"):
        kind, _, size = kind.partition("/")
        limit = int(size)
    if kind.startswith("[") and kind.endswith("]"):
        if not isinstance(value, list):
            raise ContractError(f"{path}: must be an array")
        for i, item in enumerate(value):
            check(kind[1:-1], item, f"{path}[{i}]")
        return
    if (kind.startswith("{") and kind.endswith("}")) or kind in OBJECTS:
        validate(kind.strip("{}"), value, path)
        return
    if "|" in kind and not kind.startswith("enum:"):
        errors = []
        for option in kind.split("|"):
            try:
                check(option, value, path)
                return
            except ContractError as exc:
                errors.append(str(exc))
        raise ContractError(" / ".join(errors))
    _scalar(kind, value, path)
    if limit is not None and len(value) > limit:
        raise ContractError(f"{path}: {len(value)} characters, at most {limit}")


def _scalar(kind: str, value: Any, path: str) -> None:
    if kind == "any":
        return
    if kind in ("int32", "int64", "int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ContractError(f"{path}: must be an integer, got {value!r}")
        if kind == "int32" and not INT32[0] <= value <= INT32[1]:
            raise ContractError(f"{path}: {value} does not fit an int32")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ContractError(f"{path}: must be a JSON number, got {value!r}")
    elif kind == "string":
        if not isinstance(value, str):
            raise ContractError(f"{path}: must be a string, got {value!r}")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ContractError(f"{path}: must be true or false, got {value!r}")
    elif kind in ("datetime", "date"):
        if not isinstance(value, str) or not _DATETIME.match(value):
            raise ContractError(f"{path}: must be an ISO 8601 date/time, got {value!r}")
        _parse_moment(value, path)
    elif kind.startswith("enum:"):
        names = kind[5:].split("|")
        if isinstance(value, bool) or not (isinstance(value, int) or value in names):
            raise ContractError(f"{path}: {value!r} is not one of {names} (or its integer)")
    else:
        raise ContractError(f"{path}: unknown contract type {kind!r}")


def _parse_moment(value: str, path: str) -> date:
    try:
        text = value.replace("Z", "+00:00")
        if "." in text:  # .NET writes up to 7 fraction digits; Python reads 6
            head, _, tail = text.partition(".")
            digits = re.match(r"\d+", tail)
            assert digits is not None
            text = head + "." + digits.group(0)[:6].ljust(6, "0") + tail[len(digits.group(0)):]
        return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    except ValueError as exc:
        raise ContractError(f"{path}: {value!r} is not a real date/time ({exc})") from exc
