"""The one interface every flow uses to talk to a shop, whatever its backend (Jetshop SOAP, Norce Commerce).

A backend is built per task from the tenant's shop rules (:func:`jetfort.shop.open_shop`); flows never
ask which backend they hold. Two things differ by nature between backends and are part of the
interface rather than hidden behind it:

* **Catalog writes may be asynchronous.** Jetshop answers each item at once; Norce queues an import
  job. A write returns a :class:`CatalogWrite`: per-item ``results`` for what the shop settled, and
  ``jobs`` for what it will settle later. The catalog DAG waits for jobs in a sensor (reschedule mode,
  no worker slot held) through :meth:`ShopBackend.job_outcome` and only then records what was written.
* **Orders may arrive by push.** A backend that receives pushed orders reads the stored payload with
  :meth:`ShopBackend.order_from_push`; a backend without a push model never finds any in its inbox.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from jetfort.shop.errors import ShopUnreadableOrder
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

R = TypeVar("R")


class JobState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class PendingJob:
    """An asynchronous catalog write the shop accepted but has not settled yet.

    ``keys`` are the item keys the job carries, in the key scheme of the write's results
    (article numbers for products and stock, ``<article>@<price list>`` for prices).
    """

    job_id: str
    operation: str
    keys: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "operation": self.operation, "keys": list(self.keys)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingJob:
        return cls(str(data["job_id"]), str(data["operation"]), tuple(str(k) for k in data["keys"]))


@dataclass(frozen=True)
class JobOutcome:
    """Where a :class:`PendingJob` stands; ``failed`` maps item key → the shop's message for that row."""

    state: JobState
    failed: dict[str, str] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class CatalogWrite(Generic[R]):
    """What a catalog write did: items settled now (``results``) and jobs still running (``jobs``)."""

    results: list[R] = field(default_factory=list)
    jobs: list[PendingJob] = field(default_factory=list)


@runtime_checkable
class ShopBackend(Protocol):
    """What every flow needs of a shop: orders, status, capture, catalog."""

    #: "jetshop" | "norce": for logs and summaries only, never for branching in a flow.
    backend_name: str

    @property
    def shop_id(self) -> str:
        """The ``ShopOrder.shop_id`` of this shop's orders (ledger keys are ``<shop_id>:<order_id>``)."""
        ...

    def test_connection(self) -> tuple[bool, str]: ...

    def close(self) -> None: ...

    # -- orders ------------------------------------------------------------------------------------
    def get_statuses(self) -> list[OrderStatus]:
        """The order statuses the shop knows (ids usable in ``StatusUpdate.status_id``)."""
        ...

    def get_channels(self) -> list[Channel]:
        """The shop's markets (Jetshop channels, Norce applications)."""
        ...

    def known_price_lists(self) -> set[str] | None:
        """The price lists the shop has, as its rules name them; None when the shop cannot list them."""
        ...

    def iter_orders(self, *, status_id: int | None = None, modified_from: datetime | None = None,
                    modified_to: datetime | None = None,
                    unreadable: list[ShopUnreadableOrder] | None = None) -> Iterator[ShopOrder]:
        """Orders changed in the window (any status when ``status_id`` is None).

        An order that cannot be read is appended to ``unreadable`` (when given) and skipped;
        without ``unreadable`` it raises :class:`ShopUnreadableOrder`.
        """
        ...

    def get_order(self, order_id: int | None = None, *, order_number: str | None = None) -> ShopOrder:
        """One order by id or number; :class:`~jetfort.shop.errors.ShopNotFound` when there is none."""
        ...

    def order_from_push(self, payload: dict[str, Any]) -> ShopOrder:
        """An order the shop pushed to jetfort's receiver, from its stored payload."""
        ...

    def set_order_statuses(self, updates: Sequence[StatusUpdate], *,
                           strict: bool = True) -> list[StatusUpdateResult]: ...

    def set_order_status(self, order_id: int, status_id: int, *, tracking_number: str | None = None,
                         tracking_url: str | None = None, send_email: bool = False,
                         erp_reference: str | None = None, strict: bool = True) -> StatusUpdateResult:
        """Set one order's status; ``erp_reference`` is the Fortnox document number (Norce's ErpOrderNo)."""
        ...

    def capture_payment(self, order_id: int, amount: Decimal | None = None, *, strict: bool = True,
                        erp_reference: str | None = None, invoice_number: str | None = None) -> CaptureResult:
        """Capture (part of) the authorisation, idempotently; ``invoice_number`` is the Fortnox invoice's."""
        ...

    # -- catalog -----------------------------------------------------------------------------------
    def iter_products(self, *, culture: str | None = None,
                      modified_from: datetime | None = None) -> Iterator[Product]: ...

    def upsert_products(self, products: Sequence[ProductUpsert]) -> CatalogWrite[ProductUpsertResult]: ...

    def update_prices(self, prices: Sequence[PriceListPrice]) -> CatalogWrite[PriceListResult]: ...

    def update_stock(self, updates: Sequence[StockUpdate], *,
                     culture: str | None = None) -> CatalogWrite[ProductUpsertResult]: ...

    def job_outcome(self, job: PendingJob) -> JobOutcome:
        """Where an asynchronous write stands (a backend without jobs never hands one out)."""
        ...
