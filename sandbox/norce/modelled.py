"""Every choice the Norce sandbox (orders side) makes where norce-api.md says UNCONFIRMED — listed once, here.

Each entry names the topic, what the sandbox does, and why. Replace an entry (and the code it points
to) when live Norce shows otherwise. Catalog/job choices come from ``catalog_modelled.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sandbox.norce.catalog_modelled import CATALOG_CHOICES


@dataclass(frozen=True)
class Modelled:
    topic: str
    choice: str
    why: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


MODELLED: tuple[Modelled, ...] = (
    # -- identity --------------------------------------------------------------------------------------------
    Modelled("token response", "JSON {access_token (JWT-like, opaque), expires_in 3600, token_type 'Bearer', "
             "scope (space-joined)} with Cache-Control: no-store",
             "§1.1: access_token/expires_in documented; token_type/scope are the IdentityServer standard shape"),
    Modelled("token errors", "HTTP 400 {'error': invalid_request | invalid_client | unsupported_grant_type | "
             "invalid_scope}; a body that is not form-urlencoded is invalid_request; client credentials are read "
             "only from the form body (an Authorization: Basic header is ignored)",
             "the /connect/token path is IdentityServer's, which answers client errors with 400 and these codes"),
    Modelled("token scope", "scope must be a subset of the client's environments ({'stage'} for the demo "
             "client); no scope = all of them; 'production' is NOT accepted as an alias of 'prod'",
             "§1.1 / §6.10: prod is canonical, the alias is unconfirmed, so the strict reading"),
    Modelled("token rate limit", "token bucket per client IP on the sandbox clock: capacity 20 (burst), refill "
             "3/minute; every POST counts (before credentials are read); 429 text body WITHOUT Retry-After "
             "(knob token_retry_after_header)",
             "§1.1 documents 3/min + burst 20 → 429 but not the algorithm or headers"),
    Modelled("expired or unknown token", "401 with WWW-Authenticate: Bearer error=\"invalid_token\" and no body",
             "standard bearer-token behaviour of ASP.NET; Norce documents no body"),
    Modelled("application id on Connect", "not required on Connect; when sent it must be an integer (else 400)",
             "§1.2: required on Query, unconfirmed on Connect"),
    # -- Query -----------------------------------------------------------------------------------------------
    Modelled("Query paging", "server page 500; $top is clamped to 500 silently; @odata.nextLink (…?$skip=n) "
             "appears only when $top is absent and more rows remain (ASP.NET OData semantics) — with $top use "
             "keyset paging (Id gt last, $orderby=Id)",
             "§2b: doc example pages by 500, [3P-PY] saw $top>500 clamped and pages by Id"),
    Modelled("Query errors", "400 {'error': {'code', 'message'}} for unknown properties, syntax errors, "
             "unsupported functions/options; 404 in the same shape for unknown entity sets/keys",
             "§5: OData v4 error shape presumed; refusing beats silently ignoring a filter"),
    Modelled("Query application header", "missing or non-integer applicationId/application-id/ApplicationId "
             "header → 400 OData error; the header does not filter rows",
             "§1.2 'requires'; [3P] observed it sets context only"),
    Modelled("Query datetimes and numbers", "datetimes UTC with 'Z'; Id/OrderId as JSON integers; decimals as "
             "JSON numbers; filters need unquoted UTC literals with Z or an offset",
             "§2b/§5: 2.0 OpenAPI samples show Z; Int64 representation unconfirmed"),
    Modelled("Query Order columns", "Order row = §2b list (Id … Updated) plus Delivery* columns; no VatNo, no "
             "order total, no row type: freight is an Items row whose LineAmount equals FreightCost",
             "the 2.0 Order page is truncated; the official OrderItem list has no type column"),
    Modelled("Query lookups", "Core/Currencies (SEK=1, EUR=2, NOK=3, DKK=4), Core/Countries (SE=1, NO=2, DK=3, "
             "FI=4, DE=5), Core/PaymentMethods (KLARNA=1, ADYEN=2, SWISH=3, INVOICE=4, GIFTCARD=5)",
             "ids are tenant data; these are the sandbox's"),
    Modelled("path case", "Query and Connect paths match case-insensitively", "§1.3: doc examples mix /Query/"),
    # -- Connect order service -------------------------------------------------------------------------------
    Modelled("Connect 400 body", "ProblemDetails-like {type, title, status, detail, errors{field: [msg]}}; "
             "binding errors name the JSON path (e.g. 'ClientOrderRef', 'Items[0].Quantity')",
             "§3.7: no error body is published; ASP.NET's default shape"),
    Modelled("Connect success", "HTTP 200 with an empty body", "contract methods return void"),
    Modelled("Connect media type", "body must be application/json (415 otherwise); empty body → 400",
             "ASP.NET input formatters"),
    Modelled("ClientOrderRef binding", "JSON integer or digit string within int32; anything else (e.g. 'ABC-1', "
             "2147483648, 1.5) → 400 naming ClientOrderRef",
             "§5 type pitfall: int32 in status/cancel/invoice; Newtonsoft accepts numeric strings"),
    Modelled("order matching", "by ClientOrderRef when given (an ErpOrderNo sent along must match the order's "
             "unless it has none; SendOrderStatus stores/overwrites it), else by ErpOrderNo; none → 400 "
             "'Order not found. ClientOrderRef: n' / 'Order not found. ErpOrderNo: x'",
             "§3.7: status and message for unknown orders unconfirmed"),
    Modelled("OrderStatus binding", "names case-insensitively or integers 0-20 (also as digit strings); other "
             "values → 400", "§3.1: accept all 21; Newtonsoft would accept undefined ints, we refuse them"),
    Modelled("repeated status", "same status again → 200, no change, Updated untouched; any transition "
             "allowed (no state machine is documented)", "§5: repeated-status behaviour unconfirmed"),
    Modelled("ItemStatuses", "applied per row (LineNo as string); an unknown LineNo → 400", "§3.1: [C] only"),
    Modelled("DeliveryNote matching", "OrderNo matches the order's Query OrderNo (ERP number, or the basket id "
             "while there is none)", "§3.2: OrderNo is 'the ERP order no'"),
    Modelled("DeliveryNote rules", "at least one item; item by RowNumber (= LineNo) else ItemNo; Qty > 0 and "
             "≤ not yet delivered; NoteNo unique (repeat → 400); refused on a cancelled order; all non-fee rows "
             "delivered → Delivered(4) else PartlyDelivered(8)",
             "§5: duplicate NoteNo unconfirmed; strict so double sends are visible"),
    Modelled("CancelOrder", "each Payments[i] needs a PaymentRef of the order (else 400) and gets a PSP cancel; "
             "an order with captures → 400; cancelling a cancelled order → 200 no-op (no second PSP cancel)",
             "§3.3 says the PSP is cancelled; a captured reservation cannot be cancelled"),
    Modelled("CreateInvoice capture", "synchronous capture recorded at once (State 'Captured'); amount = "
             "Payment.Amount if given else Σ (UnitPrice+UnitVat) x Quantity (UnitVat from VatRate when absent), "
             "rounded to cents; must be > 0 and ≤ reserved - captured; refused after a last invoice closed the "
             "reservation; CurrencyCode must equal the order's; item PartNo must be on the order; "
             "InvoiceItem.Quantity must be an int32",
             "§3.4: capture is really async (InvoiceCaptureCompletedEvent); over-capture is impossible at a PSP"),
    Modelled("duplicate InvoiceNo", "an InvoiceNo already used by any invoice or credit → 400",
             "§3.4 'must be unique'; what Norce answers is unconfirmed"),
    Modelled("last invoice", "IsLastInvoiceForOrder null or true → order Invoiced(5), reservation closed; "
             "false → status unchanged", "§3.4: null is treated as true"),
    Modelled("CreditPayment", "CreditedInvoiceNo must be an invoice of the order; PSP credit needs Items and a "
             "captured invoice; total credits ≤ that invoice's capture; refused for orders with a gift card or "
             "more than one payment type", "§3.5 limitations"),
    # -- push ------------------------------------------------------------------------------------------------
    Modelled("push request", "POST the OrderRequest JSON to the configured URL verbatim (legacy_path: + "
             "'/CreateOrder'), HTTP Basic, Content-Type application/json, 5 s timeout (knob)",
             "§2a/§6.2: path, headers and timeout unconfirmed"),
    Modelled("push success and retries", "success only on HTTP 200 + OrderResponse StatusCode 'OK' (property "
             "names case-insensitive); otherwise retried after 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1-6 h "
             "(the event backoff; knobs push_schedule/push_speed), then dead",
             "§2a: 'retries for a limited period'; the event webhook schedule is the documented one"),
    Modelled("push duplicates", "duplicate_push_percent of delivered orders are pushed once more (default 0)",
             "§5: Norce retries, receivers must de-duplicate on ClientOrderRef"),
    Modelled("OrderRequest datetimes", "SubmitDate is shop-local wall time (Europe/Stockholm) WITHOUT offset",
             "§5: doc samples have no offset; server zone unconfirmed; same choice as the catalog jobs"),
    Modelled("OrderRequest quantities", "Quantity = whole part of the quantity; Quantity2 set only for "
             "non-integer quantities (null otherwise)", "§2a: Quantity2 nullable in the contract"),
    Modelled("OrderRequest ErpOrderNo", "always null in the push; an ERP number from OrderResponse "
             "(HasErpOrderNo) becomes the order's OrderNo", "§2a: 'usually empty'"),
    Modelled("new order status", "a new checkout is StatusId 0 Created; the push outcome does not change it",
             "§3.1: Created exists since 2023-12; what Norce sets after push is unconfirmed"),
    # -- Query documents (query_documents.py) ---------------------------------------------------------------
    Modelled("Query Orders/Invoices", "one row per Order/CreateInvoice (credits from CreditPayment are not "
             "listed): Id, OrderId, ApplicationId, ClientOrderRef (int), ErpOrderNo (as sent, else the order's), "
             "InvoiceNo, InvoiceDate, CurrencyCode, TotalAmount (= Payment.Amount when sent, else Σ (UnitPrice+"
             "UnitVat) x Quantity), PaymentRef, IsCaptured, SuppressPspCall, IsLastInvoiceForOrder, Created; "
             "$expand=Items {InvoiceId, LineNo, PartNo, Quantity, UnitPrice, UnitVat}",
             "§2b names the set only; columns follow the Connect Invoice (§3.4) and the Orders/Orders conventions"),
    Modelled("Query Orders/DeliveryNotes", "one row per Order/CreateDeliveryNote: Id, OrderId, ApplicationId, "
             "NoteNo, OrderNo (as sent), DeliveryDate, StatusId, Created; $expand=Items {DeliveryNoteId, "
             "RowNumber, ItemNo, Description, Qty} and Packages {DeliveryNoteId, ParcelNumber, StatusId}",
             "§2b names the set only; columns follow the Connect DeliveryNote (§3.2)"),
    Modelled("Query document ids and dates", "a document's Id = its order's Id x 100 + its position on the order "
             "(500101 = first invoice of order 5001); Created = when Connect stored it (UTC Z); InvoiceDate and "
             "DeliveryDate as sent: with an offset → UTC Z, without → the same wall time with Z (a plain date → "
             "midnight)", "real ids are a database sequence; stable ids are what a client may rely on"),
    # -- live mode (live.py) ---------------------------------------------------------------------------------
    Modelled("live checkouts", "--live: one new order every 60/N s in application 1244, status Created (0), "
             "Created = now, Updated null, queued for push at once; mostly SEK private checkouts, some company "
             "(INVOICE, PO ref), EUR from Finland (VAT 25.5 %), coffee by weight, discount codes; about half "
             "with freight", "what a running Norce checkout produces; the order's push is Norce's own"),
    # -- catalog imports and jobs (listed in catalog_modelled.py) ---------------------------------------------
    *(Modelled(topic, choice, why) for topic, choice, why in CATALOG_CHOICES),
)
