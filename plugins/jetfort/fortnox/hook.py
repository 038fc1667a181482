"""``FortnoxHook``: the Fortnox REST API v3 client every jetfort task uses.

Built on the http provider's ``HttpHook`` (connection handling, keep-alive adapter), and adds what
Fortnox needs: OAuth with single-use refresh tokens kept in the ledger, one request budget per
company shared by all workers, bounded retries for 429/5xx/lost connections, typed errors instead of
``AirflowException("400:Bad Request")``, no blind retry of a create whose answer was lost, paging,
and typed methods returning :mod:`jetfort.fortnox.models`.

One job per module: :mod:`~jetfort.fortnox.transport` (connection, session, token, budget, request
loop, paging), :mod:`~jetfort.fortnox.documents` (orders, invoices, payments) and
:mod:`~jetfort.fortnox.registers` (customers, articles, prices, registers, stock),
:mod:`~jetfort.fortnox.purchases` (warehouse purchase orders: expected delivery dates); this module puts
them together as the hook Airflow knows (``conn_type`` ``fortnox``).

Connection (type ``fortnox``): host = API base URL, login = client id, password = client secret,
extra ``refresh_token`` (initial seed), ``tenant_id`` (client credentials), ``auth_url``,
``company`` (budget key), optionally ``budget`` (``ledger`` | ``local`` | ``redis://...``) and
``rate_window`` (seconds; only a sandbox with a shorter window than Fortnox's 5 s sets it). Those
keys are jetfort's: they are removed before the http provider turns the remaining extras into
headers, so no secret ever travels as an HTTP header.
"""

from __future__ import annotations

from jetfort.fortnox.documents import DOCUMENT_ENDPOINTS, DocumentEndpoints
from jetfort.fortnox.errors import FortnoxError, redact
from jetfort.fortnox.purchases import PurchaseOrderEndpoints
from jetfort.fortnox.registers import RegisterEndpoints
from jetfort.fortnox.transport import (
    GATEWAY_TIMEOUTS,
    JETFORT_EXTRA_KEYS,
    MAX_PAGE_SIZE,
    FortnoxClient,
    FortnoxSettings,
    lastmodified,
)


class FortnoxHook(DocumentEndpoints, RegisterEndpoints, PurchaseOrderEndpoints):
    """Fortnox API client; build it in ``execute`` (cheap), reuse it for many calls (one session)."""

    conn_name_attr = "fortnox_conn_id"
    default_conn_name = "fortnox_default"
    conn_type = "fortnox"
    hook_name = "Fortnox"

    def test_connection(self) -> tuple[bool, str]:
        try:
            info = self.company_information()
        except FortnoxError as exc:
            return False, str(exc)
        return True, f"Connected to {info.company_name or 'Fortnox'}"


__all__ = ["DOCUMENT_ENDPOINTS", "GATEWAY_TIMEOUTS", "JETFORT_EXTRA_KEYS", "MAX_PAGE_SIZE", "FortnoxClient",
           "FortnoxHook", "FortnoxSettings", "lastmodified", "redact"]
