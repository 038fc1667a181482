"""JetshopHook: the Jetshop integration web service (SOAP 1.2) through zeep, with typed results.

Connection (``conn_type`` ``jetshop``): ``host`` = endpoint URL, ``login``/``password`` = the
integration login (HTTP Basic), extra ``shop_id`` (sent as ``<ShopId>`` in the SOAP header) and
optional ``wsdl_url`` (the live service's own ``?WSDL``; without it jetfort's shipped WSDL is used
with the endpoint overridden), ``timezone`` (default Europe/Stockholm), ``culture`` (default sv-SE),
``timeout`` (seconds).

Replies are read by :mod:`jetfort.jetshop.fastreply` (a reader compiled from zeep's schema objects,
several times cheaper than zeep's generic deserialization); zeep still reads faults, errors and any
reply that reader is not sure about. ``fast_replies=False`` leaves every reply to zeep. A reply
zeep cannot read (not XML, or an element the WSDL does not describe) raises :class:`JetshopError`
naming the operation and the element.

Order reads are strict: an order with a value that cannot be read (a quantity ``1,5``, a date
that is not one) or without a required one raises :class:`JetshopUnreadableOrder` naming the order,
the row and the element; ``iter_orders(unreadable=[...])`` collects those instead and reads the rest.
zeep alone (``fast_replies=False`` or a reply the fast reader declines) would read such a value as
None with only a log line: that fails the call instead (``JetshopError``, "unreadable value").

Retries (tenacity): HTTP 5xx/408/429 without a SOAP fault, ``soap:Receiver`` faults, timeouts and
dropped connections. Never retried: ``soap:Sender`` faults (the input is wrong and stays wrong).
Per-item results are the success signal: a refused item raises :class:`JetshopItemError` (or is
returned with ``strict=False``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

import requests
import tenacity
import zeep
import zeep.exceptions
from airflow.sdk.bases.hook import BaseHook
from airflow.sdk.log import mask_secret
from lxml import etree
from zeep.transports import Transport

from jetfort.httpsession import EnvCachedSession
from jetfort.jetshop import WSDL_PATH
from jetfort.jetshop import convert as cv
from jetfort.jetshop.errors import (
    JetshopAuthError,
    JetshopCaptureRefused,
    JetshopConfigError,
    JetshopConnectionError,
    JetshopError,
    JetshopFault,
    JetshopItemError,
    JetshopNotFound,
    JetshopReceiverFault,
    JetshopSenderFault,
    JetshopServerError,
    JetshopTransientError,
    JetshopUnreadableOrder,
)
from jetfort.jetshop.fastreply import FastReplies
from jetfort.jetshop.modelled import CATALOG_OPERATIONS, ORDER_OPERATIONS
from jetfort.shop.models import (
    CaptureResult,
    Channel,
    DeleteResult,
    DynamicFieldResult,
    DynamicFieldValue,
    OrderPage,
    OrderStatus,
    PriceListPrice,
    PriceListResult,
    Product,
    ProductPage,
    ProductUpsert,
    ProductUpsertResult,
    ShopOrder,
    StatusUpdate,
    StatusUpdateResult,
    StockUpdate,
)

ENDPOINT_PATH = "/Webservice20/v3.0/webservice.asmx"
#: operations whose replies are read strictly: an unreadable value refuses its order, by name
ORDER_READS = frozenset({ORDER_OPERATIONS["search_orders"], ORDER_OPERATIONS["get_order"]})
BINDING = "{WebServiceProvider}WebServiceSoap12"
T = TypeVar("T")


@dataclass(frozen=True)
class JetshopSettings:
    """Everything needed to talk to one shop; the password never appears in repr or logs."""

    endpoint: str
    login: str
    password: str = field(repr=False)
    shop_id: str
    wsdl_url: str | None = None
    timezone: str = "Europe/Stockholm"
    culture: str = "sv-SE"
    timeout: float = 30.0


class _ConversionLosses(logging.Handler):
    """Collects what zeep logs when it reads a value as None because its type cannot convert it.

    zeep's simple types catch the ValueError, log it on ``zeep.xsd.types.simple`` and return None, so
    an order read by zeep would lose the value silently (``1.5`` in an int element). Only this
    thread's records count.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.thread = threading.get_ident()
        self.losses: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            exc = record.exc_info[1] if record.exc_info else None
            self.losses.append(str(exc) if exc else record.getMessage())


@contextlib.contextmanager
def _strict_zeep(operation: str) -> Iterator[None]:
    """zeep reading an order reply: a value it could not convert fails the call instead of becoming None."""
    if operation not in ORDER_READS:
        yield
        return
    handler = _ConversionLosses()
    zeep_log = logging.getLogger("zeep.xsd.types.simple")
    zeep_log.addHandler(handler)
    try:
        yield
    except ArithmeticError as exc:  # zeep does not catch decimal.InvalidOperation ("1,5" in a decimal)
        raise JetshopError(f"unreadable value in the reply ({exc!r}); no order of it is read",
                           operation=operation) from None
    finally:
        zeep_log.removeHandler(handler)
    if handler.losses:
        raise JetshopError(f"unreadable value in the reply ({handler.losses[0]}); no order of it is read",
                           operation=operation)


class _CheckedTransport(Transport):
    """zeep transport that turns non-SOAP HTTP failures into typed errors before zeep parses them."""

    def post(self, address: str, message: Any, headers: dict[str, str]) -> requests.Response:
        response = super().post(address, message, headers)
        status = response.status_code
        if status in (401, 403):
            raise JetshopAuthError(f"HTTP {status}: the integration login was refused for this shop")
        if (status >= 500 or status in (408, 429)) and not _is_soap_fault(response):
            raise JetshopServerError(f"HTTP {status} without a SOAP fault", status_code=status)
        return response


def _is_soap_fault(response: requests.Response) -> bool:
    head = response.content[:4096]
    return b"xml" in response.headers.get("Content-Type", "").encode() and b"Fault" in head


class JetshopHook(BaseHook):
    """Typed access to one Jetshop shop: orders (modelled ops), statuses, capture, products, stock, prices."""

    conn_name_attr = "jetshop_conn_id"
    default_conn_name = "jetshop_default"
    conn_type = "jetshop"
    hook_name = "Jetshop"

    TRANSIENT: ClassVar[tuple[type[BaseException], ...]] = (JetshopTransientError,)

    def __init__(self, jetshop_conn_id: str = default_conn_name, *, retries: int = 4, retry_wait: float = 0.5,
                 retry_max_wait: float = 30.0, settings: JetshopSettings | None = None,
                 fast_replies: bool = True) -> None:
        super().__init__()
        self.jetshop_conn_id = jetshop_conn_id
        self.retries = retries
        self.retry_wait = retry_wait
        self.retry_max_wait = retry_max_wait
        self._settings = settings
        self.fast_replies = fast_replies
        self._client: zeep.Client | None = None
        self._service: Any = None
        self._replies: FastReplies | None = None

    @classmethod
    def from_params(cls, *, endpoint: str, login: str, password: str, shop_id: str, wsdl_url: str | None = None,
                    timezone: str = "Europe/Stockholm", culture: str = "sv-SE", timeout: float = 30.0,
                    retries: int = 4, retry_wait: float = 0.5, retry_max_wait: float = 30.0,
                    fast_replies: bool = True) -> JetshopHook:
        """Build a hook without an Airflow connection (tests, benchmarks, scripts)."""
        if len(password) >= 5:
            mask_secret(password)  # redact it from Airflow task logs, as connection passwords are
        settings = JetshopSettings(endpoint=_endpoint(endpoint), login=login, password=password, shop_id=shop_id,
                                   wsdl_url=wsdl_url, timezone=timezone, culture=culture, timeout=timeout)
        return cls(retries=retries, retry_wait=retry_wait, retry_max_wait=retry_max_wait, settings=settings,
                   fast_replies=fast_replies)

    def __repr__(self) -> str:
        s = self._settings
        return f"JetshopHook(conn_id={self.jetshop_conn_id!r}, shop_id={s.shop_id if s else None!r})"

    # ------------------------------------------------------------------ connection and client
    @property
    def settings(self) -> JetshopSettings:
        if self._settings is None:
            conn = self.get_connection(self.jetshop_conn_id)
            extra = conn.extra_dejson
            if not conn.host or not conn.login or not extra.get("shop_id"):
                raise JetshopConfigError(
                    f"connection {self.jetshop_conn_id!r} needs host (endpoint URL), login and extra.shop_id")
            self._settings = JetshopSettings(
                endpoint=_endpoint(conn.host, conn.schema, conn.port), login=conn.login,
                password=conn.password or "", shop_id=str(extra["shop_id"]), wsdl_url=extra.get("wsdl_url") or None,
                timezone=extra.get("timezone") or "Europe/Stockholm", culture=extra.get("culture") or "sv-SE",
                timeout=float(extra.get("timeout") or 30))
        return self._settings

    @property
    def shop_id(self) -> str:
        return self.settings.shop_id

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def get_conn(self) -> zeep.Client:
        """The zeep client, built once (WSDL loaded lazily, on first use)."""
        if self._client is None:
            s = self.settings
            session = EnvCachedSession()
            session.auth = (s.login, s.password)
            session.headers["User-Agent"] = "jetfort-jetshop/1"
            transport = _CheckedTransport(session=session, timeout=s.timeout, operation_timeout=s.timeout)
            wsdl = s.wsdl_url or str(WSDL_PATH)
            try:
                client = zeep.Client(wsdl, transport=transport,
                                     settings=zeep.Settings(strict=True, xml_huge_tree=True))
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status in (401, 403):
                    raise JetshopAuthError(f"HTTP {status} loading the WSDL {wsdl}") from None
                if status >= 500:
                    raise JetshopServerError(f"HTTP {status} loading the WSDL {wsdl}", status_code=status) from None
                raise JetshopConfigError(f"HTTP {status} loading the WSDL {wsdl}: check wsdl_url") from None
            except requests.RequestException as exc:
                raise JetshopConnectionError(f"could not load the WSDL {wsdl}: {_short(exc)}") from None
            binding = BINDING if BINDING in {str(b) for b in client.wsdl.bindings} else _soap12_binding(client)
            self._service = client.create_service(binding, s.endpoint)
            self._replies = FastReplies(client, client.wsdl.bindings[binding],
                                        keep_unreadable=ORDER_READS) if self.fast_replies else None
            self._client = client
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.transport.session.close()
            self._client = None
            self._service = None
            self._replies = None

    def _call(self, operation: str, **params: Any) -> Any:
        """One SOAP call with the ShopId header, typed errors and retries for transient failures.

        Returns the reply as plain data (dicts, lists and values, as :func:`convert.plain` makes them).
        """
        self.get_conn()
        header = etree.Element("ShopId")
        header.text = self.settings.shop_id
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=tenacity.wait_exponential(multiplier=self.retry_wait, max=self.retry_max_wait),
            retry=tenacity.retry_if_exception_type(self.TRANSIENT),
            before_sleep=lambda rs: self.log.warning(
                "Jetshop %s failed (%s); retry %d of %d", operation,
                type(rs.outcome.exception()).__name__ if rs.outcome else "?", rs.attempt_number, self.retries),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._call_once(operation, header, params)
        raise AssertionError("unreachable")  # pragma: no cover

    def _call_once(self, operation: str, header: Any, params: dict[str, Any]) -> Any:
        def send() -> Any:
            return getattr(self._service, operation)(**params, _soapheaders=[header])

        try:
            with _strict_zeep(operation):
                if self._replies is None:
                    return cv.plain(send())
                return self._replies.call(operation, send)
        except zeep.exceptions.Fault as fault:
            raise _typed_fault(operation, fault) from None
        except (zeep.exceptions.XMLParseError, zeep.exceptions.XMLSyntaxError) as exc:
            # e.g. an element the WSDL does not describe: zeep in non-strict mode would drop it *and*
            # every element after it (rows, totals), so the reply is refused, not half read
            raise JetshopError(f"unreadable reply: {exc}. If Jetshop has added fields, point the connection's "
                               "wsdl_url at the service's current WSDL", operation=operation) from None
        except requests.Timeout as exc:
            raise JetshopConnectionError(f"timed out: {type(exc).__name__}", operation=operation) from None
        except requests.ConnectionError as exc:
            raise JetshopConnectionError(f"connection lost: {_short(exc)}", operation=operation) from None
        except zeep.exceptions.TransportError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 429):
                raise JetshopServerError(f"HTTP {exc.status_code}", status_code=exc.status_code,
                                         operation=operation) from None
            if exc.status_code == 200:  # zeep's word for a 200 whose body is not XML (e.g. cut off)
                raise JetshopError("unreadable reply: HTTP 200 with a body that is not valid XML",
                                   operation=operation) from None
            raise JetshopError(f"HTTP {exc.status_code}", operation=operation) from None
        except JetshopError as exc:
            exc.during(operation)
            raise

    def test_connection(self) -> tuple[bool, str]:
        try:
            statuses = self.get_statuses()
        except Exception as exc:  # the UI wants a message, not a traceback
            return False, str(exc)
        return True, f"Connected to shop {self.shop_id}: {len(statuses)} order statuses"

    # ------------------------------------------------------------------ orders (MODELLED operations)
    def get_statuses(self, culture: str | None = None) -> list[OrderStatus]:
        result = self._call(ORDER_OPERATIONS["list_statuses"], culture=culture or self.settings.culture)
        return [cv.status_from_wire(d) for d in cv.items(result, "OrderStatusData")]

    def get_channels(self) -> list[Channel]:
        result = self._call(ORDER_OPERATIONS["list_channels"])
        return [cv.channel_from_wire(d) for d in cv.items(result, "ChannelData")]

    def search_orders_page(self, *, status_id: int | None = None, modified_from: datetime | None = None,
                           modified_to: datetime | None = None, channel_id: int | None = None,
                           page_index: int = 0, page_size: int = 100,
                           unreadable: list[JetshopUnreadableOrder] | None = None) -> OrderPage:
        """One page of orders, oldest modification first; ``modified_to`` is exclusive.

        An order with a value that cannot be read raises :class:`JetshopUnreadableOrder`; with an
        ``unreadable`` list it is appended there instead and the page's other orders are returned."""
        options = {"OrderStatusId": status_id, "ModifiedFrom": cv.to_wire_time(modified_from, self.tz),
                   "ModifiedTo": cv.to_wire_time(modified_to, self.tz), "ChannelId": channel_id,
                   "PageIndex": page_index, "PageSize": page_size}
        result = self._call(ORDER_OPERATIONS["search_orders"],
                            orderSearchOptions={k: v for k, v in options.items() if v is not None})
        orders = []
        for data in cv.items(result.get("Orders"), "OrderData"):
            try:
                orders.append(cv.order_from_wire(data, self.shop_id, self.tz))
            except JetshopUnreadableOrder as exc:
                if unreadable is None:
                    raise exc.during(ORDER_OPERATIONS["search_orders"]) from None
                unreadable.append(exc)
        return OrderPage(orders=orders, total_count=int(result.get("TotalCount") or 0),
                         page_index=int(result.get("PageIndex") or page_index),
                         page_size=int(result.get("PageSize") or page_size))

    def iter_orders(self, *, status_id: int | None = None, modified_from: datetime | None = None,
                    modified_to: datetime | None = None, channel_id: int | None = None,
                    page_size: int = 100, unreadable: list[JetshopUnreadableOrder] | None = None
                    ) -> Iterator[ShopOrder]:
        """Every matching order, each once (``unreadable``: see :meth:`search_orders_page`).

        All pages are read before the first order is yielded: the search is offset-paged, so a caller
        that changes orders while iterating (e.g. acknowledges them) would otherwise shift later pages
        and miss orders.
        """
        seen: set[int] = set()
        collected: list[ShopOrder] = []
        refused: list[JetshopUnreadableOrder] = []
        page_index = 0
        while True:
            before = len(refused)
            page = self.search_orders_page(status_id=status_id, modified_from=modified_from,
                                           modified_to=modified_to, channel_id=channel_id,
                                           page_index=page_index, page_size=page_size,
                                           unreadable=None if unreadable is None else refused)
            for order in page.orders:
                if order.order_id not in seen:
                    seen.add(order.order_id)
                    collected.append(order)
            if (not page.orders and len(refused) == before) or not page.has_more:
                break
            page_index += 1
        if unreadable is not None:
            ids: set[int | None] = set()
            for problem in refused:  # an order read twice (it moved between pages) is reported once
                if problem.order_id is None or problem.order_id not in ids:
                    ids.add(problem.order_id)
                    unreadable.append(problem)
        yield from collected

    def list_orders(self, **filters: Any) -> list[ShopOrder]:
        """``iter_orders`` as a list."""
        return list(self.iter_orders(**filters))

    def get_order(self, order_id: int | None = None, *, order_number: str | None = None) -> ShopOrder:
        if order_id is None and not order_number:
            raise ValueError("give order_id or order_number")
        options = {"OrderId": order_id} if order_id is not None else {"OrderNumber": order_number}
        found = cv.items(self._call(ORDER_OPERATIONS["get_order"], orderOptions=options), "OrderData")
        if not found:
            raise JetshopNotFound(f"order {order_id or order_number} not found in shop {self.shop_id}",
                                  operation=ORDER_OPERATIONS["get_order"])
        try:
            return cv.order_from_wire(found[0], self.shop_id, self.tz)
        except JetshopUnreadableOrder as exc:
            raise exc.during(ORDER_OPERATIONS["get_order"]) from None

    def set_order_statuses(self, updates: Sequence[StatusUpdate], *, strict: bool = True) -> list[StatusUpdateResult]:
        if not updates:
            return []
        op = ORDER_OPERATIONS["update_status"]
        result = self._call(op, orderStatusUpdates={
            "OrderStatusUpdate": [cv.status_update_to_wire(u) for u in updates]})
        results = [cv.status_result_from_wire(d) for d in cv.items(result, "OrderStatusUpdateResult")]
        return _checked(op, results, strict)

    def set_order_status(self, order_id: int, status_id: int, *, tracking_number: str | None = None,
                         tracking_url: str | None = None, carrier: str | None = None, send_email: bool = False,
                         comment: str | None = None, strict: bool = True) -> StatusUpdateResult:
        """Set status (and tracking); a status that captures payments captures it, once."""
        update = StatusUpdate(order_id=order_id, status_id=status_id, tracking_number=tracking_number,
                              tracking_url=tracking_url, carrier=carrier, send_email=send_email, comment=comment)
        return self.set_order_statuses([update], strict=strict)[0]

    def capture_payment(self, order_id: int, amount: Decimal | None = None, *, strict: bool = True) -> CaptureResult:
        """Capture the authorised amount (or less); a repeat returns the first capture (``already_captured``)."""
        op = ORDER_OPERATIONS["capture_payment"]
        request: dict[str, Any] = {"OrderId": order_id}
        if amount is not None:
            request["Amount"] = amount
        result = self._call(op, paymentCaptures={"PaymentCapture": [request]})
        results = [cv.capture_result_from_wire(d) for d in cv.items(result, "PaymentCaptureResult")]
        failures = [r for r in results if not r.success]
        if strict and failures:
            raise JetshopCaptureRefused(op, failures, results)
        return results[0]

    # ------------------------------------------------------------------ catalog (CONFIRMED operations)
    def get_product(self, article_number: str, culture: str | None = None) -> Product | None:
        """The article in one culture, or None (the service answers a missing product with an empty result)."""
        found = cv.items(self._call("Product_Get", productOptions={
            "ArticleNumber": article_number, "Culture": culture or self.settings.culture}), "ProductData")
        return cv.product_from_wire(found[0], self.tz) if found else None

    def search_products_page(self, *, culture: str | None = None, modified_from: datetime | None = None,
                             modified_to: datetime | None = None, page_index: int = 0,
                             page_size: int = 200) -> ProductPage:
        """One page of the shop's products in one culture (MODELLED ``Product_Search``)."""
        options = {"Culture": culture or self.settings.culture,
                   "ModifiedFrom": cv.to_wire_time(modified_from, self.tz),
                   "ModifiedTo": cv.to_wire_time(modified_to, self.tz),
                   "PageIndex": page_index, "PageSize": page_size}
        result = self._call(CATALOG_OPERATIONS["search_products"],
                            productSearchOptions={k: v for k, v in options.items() if v is not None})
        products = [cv.product_from_wire(d, self.tz) for d in cv.items(result.get("Products"), "ProductData")]
        return ProductPage(products=products, total_count=int(result.get("TotalCount") or 0),
                           page_index=int(result.get("PageIndex") or page_index),
                           page_size=int(result.get("PageSize") or page_size))

    def iter_products(self, *, culture: str | None = None, modified_from: datetime | None = None,
                      modified_to: datetime | None = None, page_size: int = 200) -> Iterator[Product]:
        """Every product of the shop (or those modified in [from, to)), each once (MODELLED listing)."""
        seen: set[str] = set()
        page_index = 0
        while True:
            page = self.search_products_page(culture=culture, modified_from=modified_from,
                                             modified_to=modified_to, page_index=page_index,
                                             page_size=page_size)
            for product in page.products:
                if product.article_number not in seen:
                    seen.add(product.article_number)
                    yield product
            if not page.products or not page.has_more:
                return
            page_index += 1

    def upsert_products(self, products: Sequence[ProductUpsert], *, strict: bool = True,
                        batch_size: int = 100) -> list[ProductUpsertResult]:
        """Create or update articles per culture; only set fields are sent (partial update)."""
        results: list[ProductUpsertResult] = []
        for batch in _batches(products, batch_size):
            result = self._call("Product_AddUpdate", products={
                "ProductData": [cv.upsert_to_wire(p, self.tz) for p in batch]})
            results.extend(cv.upsert_result_from_wire(d) for d in cv.items(result, "ProductResult"))
        return _checked("Product_AddUpdate", results, strict)

    def update_stock(self, updates: Sequence[StockUpdate], *, culture: str | None = None, strict: bool = True,
                     batch_size: int = 100) -> list[ProductUpsertResult]:
        """Stock only, the way integrators do it: ``Product_AddUpdate`` with ArticleNumber, Culture and StockData.

        Like every ``Product_AddUpdate`` this is an upsert: an unknown article number is created.
        """
        items = [ProductUpsert(article_number=u.article_number, culture=culture or self.settings.culture, stock=u)
                 for u in updates]
        return self.upsert_products(items, strict=strict, batch_size=batch_size)

    def delete_product(self, article_number: str) -> DeleteResult:
        result = self._call("Product_Delete", productDeleteRequest={
            "ArticleNumber": article_number, "AddRedirect": False})
        return cv.delete_result_from_wire(result or {}, article_number)

    def update_prices(self, prices: Sequence[PriceListPrice], *, strict: bool = True,
                      batch_size: int = 200) -> list[PriceListResult]:
        """Prices incl. VAT per price-list GUID; ``discounted_price_inc_vat=None`` sends the -1 'none' sentinel."""
        results: list[PriceListResult] = []
        for batch in _batches(prices, batch_size):
            result = self._call("PriceList_UpdateArticleIncVAT", articlePriceLists={
                "ArticlePriceListIncVat": [cv.price_to_wire(p, self.tz) for p in batch]})
            results.extend(cv.price_result_from_wire(d) for d in cv.items(result, "ArticlePriceListResult"))
        return _checked("PriceList_UpdateArticleIncVAT", results, strict)

    def get_dynamic_fields(self, article_number: str, cultures: Sequence[str] | None = None) -> dict[str, dict[str, str]]:
        """Dynamic (custom) field values of one article: key -> culture -> value."""
        result = self._call("ProductDynamicField_GetProductDynamicFieldData",
                            articleNumbers={"string": [article_number]},
                            cultures={"string": list(cultures or [self.settings.culture])})
        return cv.dynamic_values_from_wire(cv.items(result, "DynamicFieldOnProductOutput"))

    def save_dynamic_fields(self, values: Sequence[DynamicFieldValue], *,
                            strict: bool = True) -> list[DynamicFieldResult]:
        """Save values; a key that is not configured on the article's template fails per item."""
        result = self._call("ProductDynamicField_SaveProductDynamicFieldData", dynamicFieldOnProductInputs={
            "DynamicFieldOnProductInput": [cv.dynamic_to_wire(v) for v in values]})
        results = [cv.dynamic_result_from_wire(d) for d in cv.items(result, "DynamicFieldItemResult")]
        return _checked("ProductDynamicField_SaveProductDynamicFieldData", results, strict)


def _checked(operation: str, results: list[T], strict: bool) -> list[T]:
    failures = [r for r in results if not getattr(r, "success", False)]
    if strict and failures:
        raise JetshopItemError(operation, failures, results)
    return results


def _batches(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _typed_fault(operation: str, fault: zeep.exceptions.Fault) -> JetshopFault:
    code = str(fault.code or "")
    message = str(fault.message or "")
    local = code.rsplit(":", 1)[-1].rsplit("}", 1)[-1]
    if local in ("Sender", "Client"):
        return JetshopSenderFault(message, code=code, operation=operation)
    if local in ("Receiver", "Server"):
        return JetshopReceiverFault(message, code=code, operation=operation)
    return JetshopFault(message, code=code, operation=operation)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:200] + "…"


def _endpoint(host: str, schema: str | None = None, port: int | None = None) -> str:
    """Accept a full endpoint URL, a base URL or a bare host; return the .asmx endpoint URL."""
    url = host.strip()
    if "://" not in url:
        url = f"{schema or 'https'}://{url}"
    if port and url.count(":") < 2:
        scheme, rest = url.split("://", 1)
        host_part, _, path = rest.partition("/")
        url = f"{scheme}://{host_part}:{port}/{path}"
    if not url.lower().rstrip("/").endswith(".asmx"):
        url = url.rstrip("/") + ENDPOINT_PATH
    return url


def _soap12_binding(client: zeep.Client) -> str:
    for name in client.wsdl.bindings:
        if str(name).endswith("Soap12"):
            return str(name)
    raise JetshopConfigError("the WSDL has no SOAP 1.2 binding")


