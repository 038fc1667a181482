"""The preset dictionaries the SQLite ledger compresses its JSON values with (:mod:`jetfort.ledger.packing`).

zlib compresses a short text poorly on its own: an order's record is about 2.8 KB of JSON, mostly the
same keys in every order, and zlib has nothing to refer back to at the start of a value. A preset
dictionary (RFC 1950 ``FDICT``; ``zlib.compressobj(zdict=...)``) gives it those keys to refer to.

Each dictionary is the skeleton of what the ledger stores most: the keys of an order's record detail
(the shop order as posted), of the Fortnox documents and customers the audit keeps, and values that
recur in every order, with the most frequent last (zlib refers to the nearest match most cheaply). It
holds no data of any shop or company.

**A dictionary is never changed once released.** A compressed value names its dictionary by the
Adler-32 checksum of its bytes (in the zlib header), and reading it needs exactly those bytes; a new
dictionary gets a new entry in :data:`DICTIONARIES` and becomes :data:`CURRENT`, and the old ones stay
for the rows they wrote. ``tests/jetfort/ledger/test_packing.py`` pins each one's checksum.
"""

from __future__ import annotations

import zlib

#: Version 1: orders, Fortnox invoices/orders/customers (jetfort 0.1).
V1 = b"".join((
    # Fortnox document keys the mapping sets less often, then the order and invoice variants
    b'"OrganisationNumber":"","Country":"","DeliveryCountry":"","DeliveryAddress2":"","Address2":"",'
    b'"Freight":0,"AdministrationFee":0,"PriceList":"","TermsOfDelivery":"","YourReference":"",'
    b'"ExternalInvoiceReference2":"","Remarks":"","CostCenter":"","Project":"","CurrencyRate":"",'
    b'"OrderRows":[{"ArticleNumber":"","Description":"","OrderedQuantity":"","DeliveredQuantity":"",'
    b'"Price":0,"VAT":0,"AccountNumber":0,"Discount":0,"DiscountType":"PERCENT","Unit":"st"}],'
    b'"CreditInvoiceReference":"","Credit":true,"EUVATNumber":"","VATNumber":"",'
    b'{"Order":{',
    # a Fortnox customer as created
    b'{"Customer":{"Name":"","Type":"PRIVATE","Type":"COMPANY","Email":"","Address1":"","ZipCode":"",'
    b'"City":"","CountryCode":"SE","Phone1":"","Currency":"SEK","PriceList":"A","VATType":"SEVAT",'
    b'"VATType":"EUVAT","VATType":"EXPORT","TermsOfPayment":"0","WayOfDelivery":"",'
    b'"ShowPriceVATIncluded":true}}',
    # a Fortnox invoice as posted
    b'{"Invoice":{"CustomerNumber":"","CustomerName":"","Currency":"SEK","Language":"SV","VATIncluded":true,'
    b'"OurReference":"Webbshop","YourOrderNumber":"","ExternalInvoiceReference1":"jetfort:","Comments":"",'
    b'"Address1":"","ZipCode":"","City":"","Phone1":"","DeliveryName":"","DeliveryAddress1":"",'
    b'"DeliveryZipCode":"","DeliveryCity":"","InvoiceRows":[{"ArticleNumber":"","Description":"",'
    b'"DeliveredQuantity":"1","Price":0,"VAT":25,"AccountNumber":3001}]}}',
    # values in every order
    b'"0.12000000","0.06000000","EUR","NOK","DKK","Freight","Klarna","Authorized","sv-SE","T00:00:00+01:00"',
    # an order's record detail: the shop order as posted
    b'{"shop":"","order_id":0,"order_number":"","currency":"SEK","total":"","payment_provider":"",'
    b'"authorized_amount":"","channel_id":1,"order_date":"","status_id":0,"order":{"shop_id":"",'
    b'"order_id":0,"order_number":"","order_date":"","modified_date":"","status_id":0,"status_name":"",'
    b'"channel_id":1,"culture":"sv-SE","currency":"SEK","currency_rate":"1.0000","customer":'
    b'{"customer_id":null,"email":"","company_name":"","org_number":"","vat_number":""},"billing":'
    b'{"company":"","first_name":"","last_name":"","street":"","care_of":"","zip_code":"","city":"",'
    b'"country_code":"SE","phone":"","mobile_phone":""},"delivery":{"company":"","first_name":"",'
    b'"last_name":"","street":"","care_of":"","zip_code":"","city":"","country_code":"SE","phone":"",'
    b'"mobile_phone":""},"rows":[{"row_id":1,"article_number":"","product_id":0,"name":"",'
    b'"variant_text":"","row_type":"Product","quantity":"1.0000","unit_price_inc_vat":"",'
    b'"unit_price_ex_vat":"","vat_rate":"0.25000000","discount_inc_vat":"0.0000","total_inc_vat":""}],'
    b'"delivery_method":"","freight_inc_vat":"0.0000","freight_vat_rate":"0.25000000","payment":'
    b'{"method":"","provider":"","transaction_id":"","status":"Authorized","authorized_amount":"",'
    b'"captured_amount":"0.0000","fee_inc_vat":"0.0000","fee_vat_rate":"0.25000000"},"discount_code":"",'
    b'"order_discount_inc_vat":"0.0000","total_inc_vat":"","total_ex_vat":"","vat_total":"",'
    b'"tracking_number":"","tracking_url":"","comment":"","returns":[]},"doc_kind":"invoice",'
    b'"idempotency_key":"jetfort:","idempotency_field":"ExternalInvoiceReference1","totals":'
    b'{"shop_total":"","fortnox_total":""},"notes":[],"customer_number":""}',
))

#: Every dictionary a stored value may name, by its Adler-32 checksum (the zlib header's DICTID).
DICTIONARIES: dict[int, bytes] = {zlib.adler32(V1): V1}

#: The dictionary new values are compressed with.
CURRENT = V1
