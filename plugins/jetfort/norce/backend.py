"""Norce Commerce as a :class:`~jetfort.shop.interface.ShopBackend` (connection type ``norce``).

Orders come from the Query API (``Orders/Orders``, OData) or from the order receiver's stored pushes;
status, delivery notes, cancellation and capture go out through Connect (:mod:`.connect_orders`);
catalog writes are Connect import jobs (:mod:`.catalog`) handed back as :class:`PendingJob` s, never
waited for here. The class is also the conn type's hook (Airflow's "Test connection" builds it with
``norce_conn_id=``); settings, token provider and client are built on first use.

Choices the reference leaves open (each also noted where it is made):

* ``get_channels`` returns one channel, the connection's application, with culture and currency
  empty (Query has no documented application settings to read them from; pre-flight then takes the
  tenant rules' currency as given).
* ``send_email`` and ``tracking_url`` have no Norce field: Norce mails its customers on its own
  events (Delivered, Invoiced); the tracking number travels as the delivery note's parcel number.
* Capture = ``Order/CreateInvoice`` with the Fortnox invoice number; it is asked for once per
  invoice number (looked up first, and again after a lost answer), never for a cancelled order.
  Norce captures asynchronously at the PSP: success here means Norce accepted the invoice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from airflow.sdk.bases.hook import BaseHook

from jetfort.fortnox.auth import MemoryTokenStore
from jetfort.ledger.store import Ledger
from jetfort.ledger.tokens import TokenStore
from jetfort.norce import catalog as cat
from jetfort.norce import connect_orders as co
from jetfort.norce import convert
from jetfort.norce.auth import NorceTokenProvider
from jetfort.norce.client import NorceClient
from jetfort.norce.errors import NorceNotFound, NorceRejected
from jetfort.norce.settings import NorceSettings
from jetfort.shop.errors import ShopCaptureRefused, ShopItemError, ShopRejected, ShopUnreadableOrder
from jetfort.shop.interface import CatalogWrite, JobOutcome, PendingJob
from jetfort.shop.models import (
    CaptureResult,
    Channel,
    OrderStatus,
    PriceListPrice,
    PriceListResult,
    Product,
    ProductUpsert,
    ProductUpsertResult,
    ShopOrder,
    StatusUpdate,
    StatusUpdateResult,
    StockUpdate,
)

ORDERS = "Orders/Orders"
ORDER_EXPAND = "Items,Buyer,Payer,ShipTo"
#: how long an order read by id is reused within one task (no write of jetfort's to it in between)
ROW_REUSE_SECONDS = 10.0
PAGE_SIZE = 500


def order_filter(application_id: int, *, status_id: int | None = None, modified_from: datetime | None = None,
                 modified_to: datetime | None = None) -> str:
    """The ``$filter`` of an order pull: the application, the status, and changed (Updated, or Created when
    never updated) inside the window, both ends included (UTC ``Z`` literals, unquoted)."""
    parts = [f"ApplicationId eq {int(application_id)}"]
    if status_id is not None:
        parts.append(f"StatusId eq {int(status_id)}")
    if modified_from is not None:
        at = co.utc_text(modified_from)
        parts.append(f"(Updated ge {at} or (Updated eq null and Created ge {at}))")
    if modified_to is not None:
        at = co.utc_text(modified_to)
        parts.append(f"(Updated le {at} or (Updated eq null and Created le {at}))")
    return " and ".join(parts)


class NorceShop(BaseHook):
    """One Norce Commerce application on its connection (type ``norce``)."""

    conn_name_attr = "norce_conn_id"
    default_conn_name = "norce_default"
    conn_type = "norce"
    hook_name = "Norce Commerce"
    backend_name: ClassVar[str] = "norce"

    def __init__(self, conn_id: str | None = None, *, ledger: Ledger | None = None,
                 norce_conn_id: str | None = None, settings: NorceSettings | None = None,
                 client: co.ConnectClient | None = None, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.norce_conn_id = conn_id or norce_conn_id or self.default_conn_name
        self.ledger = ledger
        self._settings = settings
        self._client = client
        self._now = clock or (lambda: datetime.now(UTC))
        self._lookups: tuple[dict[int, str], dict[int, str], dict[int, str]] | None = None
        # Query rows read by order id, with when: reused for a few seconds until jetfort itself changes
        # the order (status back reads an order, then captures it: one read, not two)
        self._rows: dict[int, tuple[float, dict[str, Any]]] = {}
        # the order as first read, for the rows a delivery note lists (an order's rows never change)
        self._items: dict[int, ShopOrder] = {}

    def __repr__(self) -> str:
        return f"NorceShop(conn_id={self.norce_conn_id!r})"

    # ------------------------------------------------------------------ connection and client
    @property
    def settings(self) -> NorceSettings:
        if self._settings is None:
            self._settings = NorceSettings.from_connection(self.get_connection(self.norce_conn_id))
        return self._settings

    @property
    def client(self) -> co.ConnectClient:
        """The Norce client, built once; its token lives in the ledger (shared by every worker)."""
        if self._client is None:
            settings = self.settings
            store = TokenStore(self.ledger) if self.ledger is not None else MemoryTokenStore()
            self._client = NorceClient(settings, NorceTokenProvider(settings, store, settings.token_key))
        return self._client

    def get_conn(self) -> co.ConnectClient:
        return self.client

    @property
    def shop_id(self) -> str:
        return self.settings.shop_id

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.timezone

    def close(self) -> None:
        if self._client is not None:
            closer = getattr(self._client, "close", None)
            if callable(closer):
                closer()
            self._client = None

    def test_connection(self) -> tuple[bool, str]:
        """A token and one Query page of the application's orders."""
        try:
            app = self.settings.application_id
            pages = self.client.query_pages(ORDERS, {"$filter": f"ApplicationId eq {app}", "$top": 1})
            next(iter(pages), [])
        except Exception as exc:  # the UI wants a message, not a traceback
            return False, str(exc)
        return True, f"Connected to Norce {self.settings.slug} ({self.settings.environment}), application {app}"

    # ------------------------------------------------------------------ orders
    def get_statuses(self) -> list[OrderStatus]:
        """Norce's 21 ``OrderStatus`` values; none captures (capture is CreateInvoice's job)."""
        return [OrderStatus(status_id=sid, name=name, is_cancelled=sid == co.CANCELLED, sort_order=sid)
                for sid, name in co.ORDER_STATUSES.items()]

    def get_channels(self) -> list[Channel]:
        app = self.settings.application_id
        return [Channel(channel_id=app, name=f"{self.settings.slug} application {app}", culture="", currency="",
                        is_default=True)]

    def known_price_lists(self) -> set[str] | None:
        """Price list codes from Query ``Products/PriceLists`` (what ``norce_price_list`` names)."""
        return cat.price_list_codes(self.client)

    def iter_orders(self, *, status_id: int | None = None, modified_from: datetime | None = None,
                    modified_to: datetime | None = None,
                    unreadable: list[ShopUnreadableOrder] | None = None) -> Iterator[ShopOrder]:
        """Orders changed in the window; every page is read before the first order is yielded (a caller that
        changes orders while iterating would otherwise move them between offset pages)."""
        params = {"$filter": order_filter(self.settings.application_id, status_id=status_id,
                                          modified_from=modified_from, modified_to=modified_to),
                  "$expand": ORDER_EXPAND, "$orderby": "Id", "$top": PAGE_SIZE}
        orders: dict[int, ShopOrder] = {}
        refused: dict[Any, ShopUnreadableOrder] = {}
        for page in self.client.query_pages(ORDERS, params):
            for row in page:
                try:
                    order = self._from_query(row)
                except ShopUnreadableOrder as exc:
                    if unreadable is None:
                        raise exc.during(ORDERS) from None
                    refused.setdefault(exc.order_id if exc.order_id is not None else id(exc), exc)
                    continue
                orders.setdefault(order.order_id, order)
        if unreadable is not None:
            unreadable.extend(refused.values())
        yield from orders.values()

    def get_order(self, order_id: int | None = None, *, order_number: str | None = None) -> ShopOrder:
        order = self._read(self._order_row(order_id, order_number=order_number))
        self._items.setdefault(order.order_id, order)
        return order

    def _order_row(self, order_id: int | None = None, *, order_number: str | None = None) -> dict[str, Any]:
        """The Query ``Orders/Orders`` row of one order (by basket id = QuotationId, or by OrderNo); a row
        read by id less than :data:`ROW_REUSE_SECONDS` ago is reused unless jetfort has changed the order."""
        if order_id is None and not order_number:
            raise ValueError("give order_id or order_number")
        if order_id is not None and order_id in self._rows:
            read_at, cached = self._rows[order_id]
            if time.monotonic() - read_at < ROW_REUSE_SECONDS:
                return cached
        row = self._query_order_row(order_id, order_number=order_number)
        if order_id is not None:
            self._rows[order_id] = (time.monotonic(), row)
        return row

    def _changed(self, order_id: int) -> None:
        """jetfort wrote to the order: the next read asks Norce again."""
        self._rows.pop(order_id, None)

    def _query_order_row(self, order_id: int | None, *, order_number: str | None) -> dict[str, Any]:
        app = self.settings.application_id
        which = (f"QuotationId eq {co.client_order_ref(order_id)}" if order_id is not None
                 else f"OrderNo eq {co.odata_text(str(order_number))}")
        params = {"$filter": f"ApplicationId eq {app} and {which}", "$expand": ORDER_EXPAND, "$top": 1}
        for page in self.client.query_pages(ORDERS, params):
            if page:
                return page[0]
        raise NorceNotFound(f"order {order_id if order_id is not None else order_number} not found in "
                            f"Norce application {app}", operation=ORDERS)

    def _read(self, row: dict[str, Any]) -> ShopOrder:
        try:
            return self._from_query(row)
        except ShopUnreadableOrder as exc:
            raise exc.during(ORDERS) from None

    def order_from_push(self, payload: dict[str, Any]) -> ShopOrder:
        """A pushed ``OrderRequest``; its date when it has no ``SubmitDate`` is the time it is read here
        (the receiver stores the payload as Norce sent it)."""
        return convert.order_from_request(payload, shop_id=self.shop_id, tz=self.tz, received_at=self._now(),
                                          application_id=self.settings.application_id)

    def _from_query(self, row: dict[str, Any]) -> ShopOrder:
        currencies, countries, methods = self._core_lookups()
        return convert.order_from_query(row, shop_id=self.shop_id, tz=self.tz, currencies=currencies,
                                        countries=countries, payment_methods=methods)

    def _core_lookups(self) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
        """Query ``Core/Currencies``, ``Core/Countries`` and ``Core/PaymentMethods`` (id → code), read once."""
        if self._lookups is None:
            self._lookups = (self._codes("Core/Currencies"), self._codes("Core/Countries"),
                             self._codes("Core/PaymentMethods"))
        return self._lookups

    def _codes(self, entity: str) -> dict[int, str]:
        codes: dict[int, str] = {}
        for page in self.client.query_pages(entity, {}):
            for row in page:
                code = row.get("Code") or row.get("Name")
                if isinstance(row.get("Id"), int) and code:
                    codes[row["Id"]] = str(code)
        return codes

    # ------------------------------------------------------------------ status back
    def set_order_statuses(self, updates: Sequence[StatusUpdate], *,
                           strict: bool = True) -> list[StatusUpdateResult]:
        results = [self.set_order_status(u.order_id, u.status_id, tracking_number=u.tracking_number,
                                         tracking_url=u.tracking_url, send_email=u.send_email,
                                         erp_reference=u.erp_reference, strict=False)
                   for u in updates]
        failures = [r for r in results if not r.success]
        if strict and failures:
            raise ShopItemError(co.OP_STATUS, failures, results)
        return results

    def set_order_status(self, order_id: int, status_id: int, *, tracking_number: str | None = None,
                         tracking_url: str | None = None, send_email: bool = False,
                         erp_reference: str | None = None, strict: bool = True) -> StatusUpdateResult:
        """``SendOrderStatus``; with a tracking number and Delivered/PartlyDelivered also a delivery note
        (one per parcel, never twice). ``tracking_url`` and ``send_email`` have no Norce field."""
        note = ""
        try:
            if tracking_number and status_id in co.DELIVERY_STATUSES:
                note = self._delivery_note(order_id, status_id, tracking_number, erp_reference)
            self._changed(order_id)
            co.send_order_status(self.client, order_id, status_id, erp_reference)
        except ShopRejected as exc:
            if strict:
                raise
            return StatusUpdateResult(order_id=order_id, success=False, message=str(exc))
        return StatusUpdateResult(order_id=order_id, success=True,
                                  message=f"status {co.ORDER_STATUSES[status_id]}{note}")

    def _delivery_note(self, order_id: int, status_id: int, tracking: str, erp_reference: str | None) -> str:
        if not erp_reference:
            raise NorceRejected(f"order {order_id}: a delivery note with tracking {tracking!r} needs the ERP "
                                "order number (erp_reference): Norce matches DeliveryNote.OrderNo on it",
                                operation=co.OP_DELIVERY_NOTE)
        note_no = co.note_number(erp_reference, tracking)
        if co.find_delivery_note(self.client, note_no) is not None:
            return f", delivery note {note_no} exists"
        order = self._items.get(order_id) or self.get_order(order_id)
        self._changed(order_id)
        body = co.delivery_note_body(order, erp_reference=erp_reference, note_no=note_no,
                                     tracking_number=tracking, status_id=status_id, delivery_date=self._now())
        made = co.create_delivery_note(self.client, body, look_first=False)
        return f", delivery note {note_no} " + ("created" if made else "exists")

    def cancel_order(self, order_id: int, erp_reference: str | None = None, *,
                     strict: bool = True) -> StatusUpdateResult:
        """``Order/CancelOrder`` (no PSP cancel asked for: the authorisation is left to the shop)."""
        try:
            self._changed(order_id)
            co.cancel_order(self.client, order_id, erp_reference)
        except ShopRejected as exc:
            if strict:
                raise
            return StatusUpdateResult(order_id=order_id, success=False, message=str(exc))
        return StatusUpdateResult(order_id=order_id, success=True, message="cancelled")

    # ------------------------------------------------------------------ capture
    def capture_payment(self, order_id: int, amount: Decimal | None = None, *, strict: bool = True,
                        erp_reference: str | None = None, invoice_number: str | None = None) -> CaptureResult:
        """``CreateInvoice`` for the Fortnox invoice ``invoice_number``: once, never for a cancelled order.

        A Norce invoice with that number → ``already_captured`` (nothing sent). Transient errors raise
        (the capture is then in doubt; the next call looks first); refusals are results (``strict=False``).
        """
        if not invoice_number:
            raise NorceRejected(f"order {order_id}: capture needs invoice_number (the Fortnox invoice number, "
                                "Norce's unique InvoiceNo)", operation=co.OP_INVOICE)
        row = self._order_row(order_id)
        order = self._read(row)
        ref = order.payment.transaction_id
        if order.status_id in co.CANCELLED_STATUSES:
            return self._refused(order, f"order is {co.ORDER_STATUSES[order.status_id]} in Norce: "
                                        "never captured (cancelled)", strict)
        existing = co.find_invoice(self.client, invoice_number)
        if existing is not None:
            return CaptureResult(order_id=order_id, success=True, already_captured=True, capture_id=invoice_number,
                                 captured_amount=_invoice_amount(existing, amount), transaction_id=ref,
                                 message=f"invoice {invoice_number} exists in Norce: nothing captured again")
        remaining = _remaining(order)
        refusal = _capture_problem(remaining, amount)
        if refusal:
            return self._refused(order, refusal, strict)
        to_capture = remaining if amount is None else amount
        items: list[dict[str, Any]] = row["Items"] if isinstance(row.get("Items"), list) else []
        body = co.invoice_body(order, items, erp_reference=erp_reference, invoice_number=invoice_number,
                               amount=to_capture, is_last=to_capture >= remaining,
                               invoice_date=self._now().astimezone(self.tz).date())
        try:
            self._changed(order_id)
            found = co.create_invoice(self.client, body, look_first=False)
        except ShopRejected as exc:
            return self._refused(order, f"Norce refused the invoice: {exc}", strict)
        if found is not None:  # only Norce's refusal of a taken InvoiceNo showed it: it exists
            return CaptureResult(order_id=order_id, success=True, already_captured=True, capture_id=invoice_number,
                                 captured_amount=to_capture, transaction_id=ref,
                                 message=f"invoice {invoice_number} exists in Norce: nothing captured again")
        return CaptureResult(order_id=order_id, success=True, capture_id=invoice_number, captured_amount=to_capture,
                             transaction_id=ref, message=f"invoice {invoice_number} created: capture requested")

    def _refused(self, order: ShopOrder, message: str, strict: bool) -> CaptureResult:
        result = CaptureResult(order_id=order.order_id, success=False, message=message,
                               transaction_id=order.payment.transaction_id)
        if strict:
            raise ShopCaptureRefused(co.OP_INVOICE, [result], [result])
        return result

    # ------------------------------------------------------------------ catalog
    def iter_products(self, *, culture: str | None = None,
                      modified_from: datetime | None = None) -> Iterator[Product]:
        return cat.iter_products(self.client, culture=culture, modified_from=modified_from, tz=self.tz)

    def upsert_products(self, products: Sequence[ProductUpsert]) -> CatalogWrite[ProductUpsertResult]:
        """Product jobs, plus on-hand jobs for the upserts that carry stock."""
        account = int(self.settings.require("account_id"))
        batches = cat.product_batches(self._with_manufacturer(products), account_id=account)
        stock = [p.stock for p in products if p.stock is not None]
        if stock:
            batches += self._onhand_batches(stock)
        return CatalogWrite(jobs=[cat.submit(self.client, b) for b in batches])

    def _with_manufacturer(self, products: Sequence[ProductUpsert]) -> list[ProductUpsert]:
        """New products without a manufacturer get the connection's ``default_manufacturer`` (and their
        article number as manufacturer part no): Norce creates no product without both. Products Norce
        has already are left as they are (an update matches on the SKU part no)."""
        default = self.settings.default_manufacturer
        missing = [p for p in products if p.manufacturer is None]
        if not default or not missing:
            return list(products)
        known = cat.known_skus(self.client, sorted({p.article_number for p in missing}))
        return [p.model_copy(update={"manufacturer": default, "manufacturer_article_number":
                                     p.manufacturer_article_number or p.article_number})
                if p.manufacturer is None and p.article_number not in known else p for p in products]

    def update_prices(self, prices: Sequence[PriceListPrice]) -> CatalogWrite[PriceListResult]:
        """SKU price jobs, ex VAT with each article's VAT rate as Norce holds it."""
        account = int(self.settings.require("account_id"))
        rates = cat.vat_rates(self.client, sorted({p.article_number for p in prices}))
        batches, refused = cat.price_batches(prices, account_id=account, vat_rates=rates)
        return CatalogWrite(results=refused, jobs=[cat.submit(self.client, b) for b in batches])

    def update_stock(self, updates: Sequence[StockUpdate], *,
                     culture: str | None = None) -> CatalogWrite[ProductUpsertResult]:
        return CatalogWrite(jobs=[cat.submit(self.client, b) for b in self._onhand_batches(updates)])

    def _onhand_batches(self, updates: Sequence[StockUpdate]) -> list[cat.Batch]:
        s = self.settings
        return cat.onhand_batches(updates, account_id=int(s.require("account_id")),
                                  warehouse_code=str(s.require("warehouse_code")),
                                  location_code=str(s.require("location_code")), now=self._now(), tz=self.tz)

    def job_outcome(self, job: PendingJob) -> JobOutcome:
        return cat.job_outcome(self.client, job)


def _remaining(order: ShopOrder) -> Decimal:
    """What is still authorised: the PSP's authorisation (else the order total) less what was captured."""
    authorised = order.payment.authorized_amount or order.total_inc_vat
    return authorised - order.payment.captured_amount


def _capture_problem(remaining: Decimal, amount: Decimal | None) -> str:
    """Why a capture cannot be asked for, or ''."""
    if remaining <= 0:
        return "nothing left to capture (the authorisation is used up)"
    if amount is not None and amount <= 0:
        return f"amount {amount} is not positive"
    if amount is not None and amount > remaining:
        return f"amount {amount} is above what remains authorised ({remaining})"
    return ""


def _invoice_amount(invoice: dict[str, Any], fallback: Decimal | None) -> Decimal:
    """The amount of an invoice Norce holds (property names UNCONFIRMED), else what was asked for."""
    for name in ("TotalAmount", "Amount", "InvoiceAmount", "AmountIncVat"):
        value = invoice.get(name)
        if value is not None:
            try:
                return Decimal(str(value))
            except ArithmeticError:
                continue
    return fallback if fallback is not None else Decimal(0)


__all__ = ["NorceShop", "order_filter"]
