"""The Jetshop SOAP service as a :class:`~jetfort.shop.interface.ShopBackend`: the hook, behind the interface.

Jetshop settles every catalog write at once, so writes carry results and never jobs, and Jetshop has
no push model, so its inbox stays empty and :meth:`JetshopShop.order_from_push` is never reached.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from jetfort.jetshop.errors import JetshopUnreadableOrder
from jetfort.jetshop.hook import JetshopHook
from jetfort.shop.errors import ShopUnreadableOrder
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

if TYPE_CHECKING:
    from jetfort.ledger import Ledger


class JetshopShop:
    """One Jetshop shop on its connection (type ``jetshop``)."""

    backend_name = "jetshop"

    def __init__(self, conn_id: str, *, ledger: Ledger | None = None, hook: JetshopHook | None = None) -> None:
        self.hook = hook or JetshopHook(conn_id)

    def __repr__(self) -> str:
        return f"JetshopShop({self.hook!r})"

    @property
    def shop_id(self) -> str:
        return self.hook.shop_id

    def test_connection(self) -> tuple[bool, str]:
        return self.hook.test_connection()

    def close(self) -> None:
        self.hook.close()

    # -- orders ------------------------------------------------------------------------------------
    def get_statuses(self) -> list[OrderStatus]:
        return self.hook.get_statuses()

    def get_channels(self) -> list[Channel]:
        return self.hook.get_channels()

    def known_price_lists(self) -> set[str] | None:
        return None  # the service has no operation that lists price lists

    def iter_orders(self, *, status_id: int | None = None, modified_from: datetime | None = None,
                    modified_to: datetime | None = None,
                    unreadable: list[ShopUnreadableOrder] | None = None) -> Iterator[ShopOrder]:
        return self.hook.iter_orders(status_id=status_id, modified_from=modified_from, modified_to=modified_to,
                                     unreadable=cast("list[JetshopUnreadableOrder] | None", unreadable))

    def get_order(self, order_id: int | None = None, *, order_number: str | None = None) -> ShopOrder:
        return self.hook.get_order(order_id, order_number=order_number)

    def order_from_push(self, payload: dict[str, Any]) -> ShopOrder:
        raise NotImplementedError("Jetshop does not push orders; nothing is ever stored in its inbox")

    def set_order_statuses(self, updates: Sequence[StatusUpdate], *,
                           strict: bool = True) -> list[StatusUpdateResult]:
        return self.hook.set_order_statuses(updates, strict=strict)

    def set_order_status(self, order_id: int, status_id: int, *, tracking_number: str | None = None,
                         tracking_url: str | None = None, send_email: bool = False,
                         erp_reference: str | None = None, strict: bool = True) -> StatusUpdateResult:
        return self.hook.set_order_status(order_id, status_id, tracking_number=tracking_number,
                                          tracking_url=tracking_url, send_email=send_email, strict=strict)

    def capture_payment(self, order_id: int, amount: Decimal | None = None, *, strict: bool = True,
                        erp_reference: str | None = None, invoice_number: str | None = None) -> CaptureResult:
        return self.hook.capture_payment(order_id, amount, strict=strict)

    # -- catalog -----------------------------------------------------------------------------------
    def iter_products(self, *, culture: str | None = None,
                      modified_from: datetime | None = None) -> Iterator[Product]:
        return self.hook.iter_products(culture=culture, modified_from=modified_from)

    def upsert_products(self, products: Sequence[ProductUpsert]) -> CatalogWrite[ProductUpsertResult]:
        return CatalogWrite(results=self.hook.upsert_products(products, strict=False))

    def update_prices(self, prices: Sequence[PriceListPrice]) -> CatalogWrite[PriceListResult]:
        return CatalogWrite(results=self.hook.update_prices(prices, strict=False))

    def update_stock(self, updates: Sequence[StockUpdate], *,
                     culture: str | None = None) -> CatalogWrite[ProductUpsertResult]:
        return CatalogWrite(results=self.hook.update_stock(updates, culture=culture, strict=False))

    def job_outcome(self, job: PendingJob) -> JobOutcome:
        raise ValueError(f"Jetshop writes are never jobs; job {job.job_id} is not Jetshop's")
