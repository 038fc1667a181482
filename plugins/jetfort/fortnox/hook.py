"""``FortnoxHook``: the Fortnox REST API v3 client every jetfort task uses.

Built on the http provider's ``HttpHook`` (connection handling, keep-alive adapter), and adds what
Fortnox needs: OAuth with single-use refresh tokens kept in the ledger, one request budget per
company shared by all workers, bounded retries for 429/5xx/lost connections, typed errors instead of
``AirflowException("400:Bad Request")``, no blind retry of a create whose answer was lost, paging,
and typed methods returning :mod:`jetfort.fortnox.models`.

Connection (type ``fortnox``): host = API base URL, login = client id, password = client secret,
extra ``refresh_token`` (initial seed), ``tenant_id`` (client credentials), ``auth_url``,
``company`` (budget key), optionally ``budget`` (``ledger`` | ``local`` | ``redis://...``). Those
keys are jetfort's: they are removed before the http provider turns the remaining extras into
headers, so no secret ever travels as an HTTP header.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, TypeVar
from urllib.parse import quote, urlparse
from zoneinfo import ZoneInfo

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook

from jetfort import jsoncodec
from jetfort.fortnox.auth import (
    DEFAULT_AUTH_URL,
    DEFAULT_REFRESH_MARGIN,
    FortnoxAuth,
    MemoryTokenStore,
    OAuthSettings,
)
from jetfort.fortnox.budget import FORTNOX_LIMIT, FORTNOX_WINDOW, RequestBudget, make_budget
from jetfort.fortnox.errors import (
    FortnoxAmbiguousWrite,
    FortnoxAuthError,
    FortnoxBudgetTimeout,
    FortnoxConnectionError,
    FortnoxError,
    FortnoxNotFound,
    FortnoxRateLimited,
    FortnoxServerError,
    FortnoxTransientError,
    FortnoxValidationError,
    redact,
)
from jetfort.fortnox.models import (
    Account,
    ArticleListItem,
    CompanyInformation,
    Currency,
    CustomerListItem,
    FortnoxArticle,
    FortnoxCustomer,
    FortnoxInvoice,
    FortnoxModel,
    FortnoxOrder,
    InvoiceListItem,
    InvoicePayment,
    MetaInformation,
    OrderListItem,
    Price,
    PriceList,
    StockBalance,
    TermsOfPayment,
    WayOfDelivery,
)
from jetfort.httpsession import EnvCachedSession

M = TypeVar("M", bound=FortnoxModel)

#: extra keys that are jetfort settings, never HTTP headers
JETFORT_EXTRA_KEYS = frozenset({"refresh_token", "tenant_id", "auth_url", "company", "budget",
                                "client_secret", "client_id", "refresh_margin", "rate_window"})
MAX_PAGE_SIZE = 500
#: answers from a proxy that stopped waiting: the request may have been processed behind it
GATEWAY_TIMEOUTS = frozenset({502, 504})
#: document kind → (envelope key, collection path) for :meth:`FortnoxHook.create_document`
DOCUMENT_ENDPOINTS = {"order": ("Order", "3/orders"), "invoice": ("Invoice", "3/invoices")}
STOCKHOLM = ZoneInfo("Europe/Stockholm")

def lastmodified(since: dt.datetime | str) -> str:
    """Fortnox ``lastmodified`` value: Swedish local time ``YYYY-MM-DD HH:MM:SS``.

    Naive datetimes are taken as UTC (Airflow's data intervals are aware UTC anyway).
    """
    if isinstance(since, str):
        return since
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return since.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M:%S")


def _segment(value: Any) -> str:
    """One URL path segment; ``/`` and spaces in article numbers must be %-encoded."""
    if isinstance(value, Decimal):
        value = format(value.normalize(), "f") if value != 0 else "0"
    return quote(str(value), safe="")


def _same_digits(a: str | None, b: str | None) -> bool:
    """Org/personal numbers compare by digits (``556677-8899`` == ``5566778899``)."""
    da, db = re.sub(r"\D", "", a or ""), re.sub(r"\D", "", b or "")
    return bool(da) and da == db


def _doc_key(item: Any) -> tuple[int, str]:
    number = str(item.document_number or "")
    return (int(number) if number.isdigit() else 0, number)


def _same_email(a: str | None, b: str | None) -> bool:
    return bool(a) and (a or "").strip().casefold() == (b or "").strip().casefold()


@dataclass
class FortnoxSettings:
    """Everything the hook needs; from an Airflow connection or :meth:`FortnoxHook.from_params`."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    auth_url: str = DEFAULT_AUTH_URL
    refresh_token: str | None = field(default=None, repr=False)
    tenant_id: str | None = None
    company: str = "fortnox_default"
    budget: str | None = None
    refresh_margin: float = DEFAULT_REFRESH_MARGIN
    #: the API's rate window in seconds (Fortnox: 5); only a sandbox running a shorter one sets it
    rate_window: float | None = None


def _rate_window(conn_id: str, value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        window = float(value)
    except (TypeError, ValueError):
        window = 0.0
    if not window > 0:
        raise ValueError(f"connection {conn_id!r}: extra rate_window must be a number of seconds > 0, "
                         f"got {value!r}")
    return window


def _error_fields(body: Any) -> tuple[int | str | None, str | None]:
    """``(code, message)`` from any Fortnox error body.

    400s use ``{"ErrorInformation": {"error", "message", "code"}}`` (lowercase), 404s the same
    capitalised; 401s ``{"message": ...}``; OAuth ``{"error", "error_description"}``; the warehouse
    API ``{"error": "<code>", "message", "id"}``.
    """
    if not isinstance(body, dict):
        return None, None
    info = body.get("ErrorInformation")
    if isinstance(info, dict):
        lower = {str(k).lower(): v for k, v in info.items()}
        code = lower.get("code")
        if isinstance(code, str) and code.strip().isdigit():
            code = int(code)
        return code, (str(lower["message"]) if lower.get("message") is not None else None)
    if "error_description" in body:
        return body.get("error"), str(body.get("error_description"))
    if "message" in body:
        return (body.get("error") if isinstance(body.get("error"), str) else None), str(body["message"])
    return None, None


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            from email.utils import parsedate_to_datetime

            return max(0.0, (parsedate_to_datetime(value) - dt.datetime.now(dt.UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def _request_was_sent(exc: requests.RequestException) -> bool:
    """False only when the request certainly never reached the server (connect failed)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        name = type(cause).__name__
        if name in {"NewConnectionError", "ConnectTimeoutError", "NameResolutionError"} or isinstance(
                cause, ConnectionRefusedError):
            return False
        args = getattr(cause, "args", ())
        nested = next((a for a in args if isinstance(a, BaseException)), None)
        cause = getattr(cause, "reason", None) or nested or cause.__cause__ or cause.__context__
    return True


class FortnoxHook(HttpHook):
    """Fortnox API client; build it in ``execute`` (cheap), reuse it for many calls (one session)."""

    conn_name_attr = "fortnox_conn_id"
    default_conn_name = "fortnox_default"
    conn_type = "fortnox"
    hook_name = "Fortnox"

    def __init__(self, fortnox_conn_id: str = default_conn_name, *, ledger: Any = None,
                 budget: RequestBudget | None = None, token_store: Any = None,
                 timeout: float | tuple[float, float] = (10.0, 60.0), max_attempts: int = 6,
                 max_backoff: float = 30.0, budget_timeout: float = 600.0, auth_retries: int = 3,
                 rate_limit: int = FORTNOX_LIMIT, rate_window: float = FORTNOX_WINDOW,
                 ledger_conn_id: str = "jetfort_ledger", **kwargs: Any) -> None:
        super().__init__(method="GET", http_conn_id=fortnox_conn_id, **kwargs)
        self.fortnox_conn_id = fortnox_conn_id
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_backoff = max_backoff
        self.budget_timeout = budget_timeout
        self.auth_retries = auth_retries
        self.rate_limit = rate_limit  # Fortnox's: 25 per 5 s; tests and bench use shorter windows
        self.rate_window = rate_window
        self._ledger = ledger
        self.ledger_conn_id = ledger_conn_id
        self._params_only = False
        self._budget = budget
        self._token_store = token_store
        self._settings: FortnoxSettings | None = None
        self._session: EnvCachedSession | None = None
        self._allow_redirects = True  # the http provider's default; a connection extra may change it
        self._auth: FortnoxAuth | None = None
        self._conn_extra: dict[str, Any] | None = None
        self.request_count = 0  # requests sent by this hook (tests, bench)

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def from_params(cls, *, base_url: str, client_id: str, client_secret: str,
                    refresh_token: str | None = None, tenant_id: str | int | None = None,
                    auth_url: str | None = None, company: str | None = None, ledger: Any = None,
                    budget: RequestBudget | str | None = None, token_store: Any = None,
                    refresh_margin: float = DEFAULT_REFRESH_MARGIN, **kwargs: Any) -> FortnoxHook:
        """A hook without an Airflow connection (tests, bench, demo).

        ``ledger`` keeps tokens (and, by default, the budget) shared across processes; without it
        both live in this process only. ``budget`` may be a :class:`RequestBudget` or a backend name
        for :func:`~jetfort.fortnox.budget.make_budget`.
        """
        hook = cls(fortnox_conn_id=company or "fortnox_default", ledger=ledger,
                   budget=budget if not isinstance(budget, str) else None, token_store=token_store, **kwargs)
        hook._settings = FortnoxSettings(
            base_url=base_url.rstrip("/"), client_id=client_id, client_secret=client_secret,
            auth_url=auth_url or DEFAULT_AUTH_URL, refresh_token=refresh_token,
            tenant_id=str(tenant_id) if tenant_id is not None else None,
            company=company or "fortnox_default", budget=budget if isinstance(budget, str) else None,
            refresh_margin=refresh_margin)
        hook._params_only = True
        hook.base_url = hook._settings.base_url
        hook._base_url_initialized = True
        return hook

    @property
    def settings(self) -> FortnoxSettings:
        if self._settings is None:
            conn = self.get_connection(self.fortnox_conn_id)
            self._set_base_url(conn)
            extra = conn.extra_dejson
            self._conn_extra = dict(extra)
            self._settings = FortnoxSettings(
                base_url=self.base_url.rstrip("/"), client_id=conn.login or str(extra.get("client_id") or ""),
                client_secret=conn.password or str(extra.get("client_secret") or ""),
                auth_url=str(extra.get("auth_url") or DEFAULT_AUTH_URL),
                refresh_token=extra.get("refresh_token") or None,
                tenant_id=str(extra["tenant_id"]) if extra.get("tenant_id") else None,
                company=str(extra.get("company") or self.fortnox_conn_id),
                budget=extra.get("budget") or None,
                refresh_margin=float(extra.get("refresh_margin") or DEFAULT_REFRESH_MARGIN),
                rate_window=_rate_window(self.fortnox_conn_id, extra.get("rate_window")))
        return self._settings

    @property
    def company(self) -> str:
        return self.settings.company

    @property
    def ledger(self) -> Any:
        """Where tokens (and by default the budget) live.

        A hook built from an Airflow connection always has one (the ``jetfort_ledger`` connection,
        else the embedded SQLite default): a rotated refresh token kept only in memory would be
        lost with the worker process. ``from_params`` without a ledger keeps both in this process.
        """
        if self._ledger is None and not self._params_only:
            from jetfort.ledger import Ledger

            self._ledger = Ledger.from_conn_id(self.ledger_conn_id)
        return self._ledger

    @property
    def budget(self) -> RequestBudget:
        if self._budget is None:
            self._budget = make_budget(self.settings.budget, ledger=self.ledger, limit=self.rate_limit,
                                       window=self.settings.rate_window or self.rate_window)
        return self._budget

    @property
    def auth(self) -> FortnoxAuth:
        if self._auth is None:
            s = self.settings
            store = self._token_store
            if store is None:
                if self.ledger is not None:
                    from jetfort.ledger.tokens import TokenStore

                    store = TokenStore(self.ledger)
                else:
                    store = MemoryTokenStore()
            self._auth = FortnoxAuth(
                OAuthSettings(auth_url=s.auth_url, client_id=s.client_id, client_secret=s.client_secret,
                              refresh_token=s.refresh_token, tenant_id=s.tenant_id),
                store, self.token_key, session=self.get_conn(), refresh_margin=s.refresh_margin)
        return self._auth

    @property
    def token_key(self) -> str:
        """Ledger key of this connection's token: one per (client, company)."""
        s = self.settings
        return f"fortnox:{s.company}:{s.client_id}"

    def get_conn(self, headers: dict[Any, Any] | None = None,
                 extra_options: dict[str, Any] | None = None) -> EnvCachedSession:
        """One ``requests.Session`` per hook (keep-alive), without basic auth or jetfort extras."""
        if self._session is not None:
            if headers:
                self._session.headers.update(headers)
            return self._session
        settings = self.settings
        session = EnvCachedSession()
        if self._conn_extra is not None:  # provider options (proxies, verify, ...) and extra headers
            extra = {k: v for k, v in self._conn_extra.items() if k not in JETFORT_EXTRA_KEYS}
            shim = SimpleNamespace(extra_dejson=extra, host=settings.base_url)
            self._configure_session_from_extra(session, shim, extra_options or {})
            self._allow_redirects = bool(self.merged_extra.get("allow_redirects", True))
        self.base_url = settings.base_url
        self._configure_session_from_mount_adapters(session)
        session.headers.update({"Accept": "application/json"})  # Content-Type is set per request
        if headers:
            session.headers.update(headers)
        self._session = session
        return session

    def _configure_session_from_auth(self, session: requests.Session, connection: Any) -> requests.Session:
        # client id/secret authenticate to the token endpoint only, never to the API
        session.auth = None
        return session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
            self._auth = None

    def __enter__(self) -> FortnoxHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------- transport
    def run(self, endpoint: str | None = None, data: dict[str, Any] | str | None = None,
            headers: dict[str, Any] | None = None, extra_options: dict[str, Any] | None = None,
            **request_kwargs: Any) -> Any:
        """``HttpHook.run`` contract (used by ``HttpOperator``), routed through auth/budget/retries."""
        method = self.method
        params = data if method == "GET" and isinstance(data, dict) else None
        body = request_kwargs.pop("json", None)
        if body is None and method != "GET" and isinstance(data, dict):
            body = data
        return self._request(method, endpoint or "", params=params, json=body, raw=True)

    def check_response(self, response: requests.Response) -> None:
        """Raise a typed :class:`FortnoxError` for a non-2xx answer; log status and code only."""
        if response.status_code < 400:
            return
        try:
            body = response.json()
        except ValueError:
            body = None
        code, message = _error_fields(body)
        method = response.request.method if response.request is not None else None
        path = urlparse(response.url).path if response.url else None
        status = response.status_code
        text = message or response.reason or "error"
        # a 404 is a normal answer to a lookup: not worth a warning
        level = logging.INFO if status == 404 else logging.WARNING
        self.log.log(level, "Fortnox %s %s answered %s%s", method, path, status,
                     f" (code {code})" if code is not None else "")
        kwargs: dict[str, Any] = {"status": status, "code": code if isinstance(code, int) else None,
                                  "method": method, "path": path}
        if isinstance(code, str) and code:
            text = f"{code}: {text}"
        if status == 429:
            raise FortnoxRateLimited(text, retry_after=_retry_after(response), **kwargs)
        if status >= 500:
            raise FortnoxServerError(text, **kwargs)
        if status == 404:
            raise FortnoxNotFound(text, **kwargs)
        if status in (401, 403):
            raise FortnoxAuthError(text, **kwargs)
        raise FortnoxValidationError(text, **kwargs)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = min(self.max_backoff, 0.5 * 2 ** (state.attempt_number - 1))
        backoff *= 0.5 + 0.5 * ((time.monotonic_ns() // 1000) % 1000) / 1000  # jitter 50-100 %
        if isinstance(exc, FortnoxRateLimited) and exc.retry_after is not None:
            return min(self.max_backoff, max(exc.retry_after, 0.05))
        return backoff

    def _should_retry(self, exc: BaseException) -> bool:
        return isinstance(exc, FortnoxTransientError) and not isinstance(
            exc, FortnoxAmbiguousWrite | FortnoxBudgetTimeout)

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                 json: Any = None, idempotent: bool | None = None, raw: bool = False) -> Any:
        """Send one logical request with budget, token, 401-refresh and bounded retries.

        ``idempotent`` defaults to True for GET/PUT/DELETE. A non-idempotent request (POST create,
        or an action PUT the caller marks so) whose connection dies after sending raises
        :class:`FortnoxAmbiguousWrite` instead of being repeated.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in {"GET", "PUT", "DELETE", "HEAD"}
        url = f"{self.settings.base_url}/{path.lstrip('/')}"
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(self._should_retry),
            before_sleep=self._log_retry,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                resp = self._send_authorized(method, url, params, json, idempotent)
                if raw:
                    return resp
                if resp.status_code == 204 or not resp.content:
                    return None
                try:
                    return jsoncodec.loads(resp.content)
                except ValueError:
                    raise FortnoxServerError("answer is not JSON", status=resp.status_code,
                                             method=method, path=path) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        self.log.warning("Fortnox request failed (%s, attempt %s), retrying in %.1fs",
                         type(exc).__name__, state.attempt_number, wait)

    def _send_authorized(self, method: str, url: str, params: Mapping[str, Any] | None, json: Any,
                         idempotent: bool) -> requests.Response:
        rejected: str | None = None
        for refreshed in range(self.auth_retries + 1):
            token, resp = self._send(method, url, params, json, idempotent)
            if resp.status_code != 401 or refreshed == self.auth_retries:
                break
            # expired mid-run: refresh (or pick up another worker's refresh) and send again
            if token != rejected:
                self.auth.invalidate(token)
                rejected = token
        if not idempotent and resp.status_code in GATEWAY_TIMEOUTS:
            # a proxy gave up waiting for Fortnox, which may still have committed the create
            raise FortnoxAmbiguousWrite(f"gateway answered {resp.status_code} after the request was sent",
                                        status=resp.status_code, method=method, path=urlparse(url).path)
        self.check_response(resp)
        return resp

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, json: Any,
              idempotent: bool) -> tuple[str, requests.Response]:
        """Token first, then a budget slot, then send at once.

        The slot's timestamp and the arrival at Fortnox must stay close (Fortnox counts arrivals),
        so nothing slow may happen in between: should the token have aged past its margin while
        we waited for the slot, it is renewed and a new slot taken (the old one is given up).
        """
        session = self.get_conn()
        for _ in range(3):  # bounded: a token shorter-lived than the margin must not spin forever
            token = self.auth.access_token()
            try:
                self.budget.acquire(self.company, timeout=self.budget_timeout)
            except TimeoutError as exc:
                raise FortnoxBudgetTimeout(str(exc)) from None
            if self.auth.still_fresh(token):
                break
        self.request_count += 1
        try:
            # JSON content type even on body-less action PUTs (bookkeep/credit reject others, 1000031)
            return token, session.send_lean(method, url, params=params, json=json, timeout=self.timeout,
                                            allow_redirects=self._allow_redirects,
                                            headers={"Authorization": f"Bearer {token}",
                                                     "Content-Type": "application/json"})
        except requests.RequestException as exc:
            kind, path = type(exc).__name__, urlparse(url).path
            if not idempotent and _request_was_sent(exc):
                raise FortnoxAmbiguousWrite(
                    f"connection lost after sending ({kind}); the write may have been committed",
                    method=method, path=path) from None
            raise FortnoxConnectionError(f"{kind}", method=method, path=path) from None

    # ----------------------------------------------------------------------------- generic helpers
    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._request("GET", path, params=params)

    def iter_pages(self, path: str, list_key: str, params: Mapping[str, Any] | None = None, *,
                   limit: int = MAX_PAGE_SIZE) -> Iterator[tuple[MetaInformation, list[dict[str, Any]]]]:
        """Pages of a classic list resource, following ``MetaInformation.@TotalPages``."""
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        page = 1
        while True:
            query = {**(params or {}), "page": page, "limit": limit}
            body = self._request("GET", path, params=query) or {}
            meta = MetaInformation.model_validate(body.get("MetaInformation") or {"@CurrentPage": page})
            items = body.get(list_key) or []
            yield meta, items
            if not items or page >= meta.total_pages:
                return
            page += 1

    def iter_list(self, path: str, list_key: str, model: type[M],
                  params: Mapping[str, Any] | None = None, *, limit: int = MAX_PAGE_SIZE) -> Iterator[M]:
        """Every item of a list resource, across pages, parsed into ``model``."""
        for _meta, items in self.iter_pages(path, list_key, params, limit=limit):
            for item in items:
                yield model.model_validate(item)

    def _one(self, path: str, key: str, model: type[M]) -> M:
        return model.model_validate((self._request("GET", path) or {})[key])

    def _write(self, method: str, path: str, key: str, model: type[M], obj: FortnoxModel | None = None,
               *, idempotent: bool | None = None) -> M:
        body = {key: obj.to_payload()} if obj is not None else None
        answer = self._request(method, path, json=body, idempotent=idempotent) or {}
        return model.model_validate(answer[key])

    @staticmethod
    def _search(filters: Mapping[str, Any]) -> dict[str, Any]:
        """Lower-case query names; Fortnox allows one resource filter (plus paging/lastmodified)."""
        return {k.lower(): v for k, v in filters.items() if v is not None}

    # ----------------------------------------------------------------------------- customers
    def get_customer(self, customer_number: str) -> FortnoxCustomer:
        return self._one(f"3/customers/{_segment(customer_number)}", "Customer", FortnoxCustomer)

    def list_customers(self, *, since: dt.datetime | str | None = None, filter: str | None = None,
                       **search: Any) -> Iterator[CustomerListItem]:
        params = self._search(search)
        if since is not None:
            params["lastmodified"] = lastmodified(since)
        if filter:
            params["filter"] = filter
        return self.iter_list("3/customers", "Customers", CustomerListItem, params)

    def find_customers_by_org_number(self, organisation_number: str) -> list[CustomerListItem]:
        """Customers whose org/personal number *equals* this one, by digits.

        Fortnox's search is a substring match on the number as typed, with or without the hyphen,
        so both spellings are searched and the hits compared digit for digit.
        """
        digits = re.sub(r"\D", "", organisation_number)
        spellings = dict.fromkeys(s for s in (organisation_number.strip(), digits,
                                              f"{digits[:-4]}-{digits[-4:]}" if len(digits) > 4 else "") if s)
        found: dict[str, CustomerListItem] = {}
        for spelling in spellings:
            for c in self.list_customers(organisationnumber=spelling):
                if _same_digits(c.organisation_number, digits) and c.customer_number:
                    found[c.customer_number] = c
        return list(found.values())

    def find_customers_by_email(self, email: str) -> list[CustomerListItem]:
        """Customers whose e-mail equals this one, case-insensitively (search is substring)."""
        return [c for c in self.list_customers(email=email.strip()) if _same_email(c.email, email)]

    def create_customer(self, customer: FortnoxCustomer) -> FortnoxCustomer:
        return self._write("POST", "3/customers", "Customer", FortnoxCustomer, customer)

    def update_customer(self, customer_number: str, customer: FortnoxCustomer) -> FortnoxCustomer:
        """Partial update: only the fields set on ``customer`` change."""
        return self._write("PUT", f"3/customers/{_segment(customer_number)}", "Customer", FortnoxCustomer,
                           customer)

    # ----------------------------------------------------------------------------- articles
    def get_article(self, article_number: str) -> FortnoxArticle:
        return self._one(f"3/articles/{_segment(article_number)}", "Article", FortnoxArticle)

    def find_article(self, article_number: str) -> FortnoxArticle | None:
        """The article with exactly this number, or None (a GET by id, not a substring search)."""
        try:
            return self.get_article(article_number)
        except FortnoxNotFound:
            return None

    def list_articles(self, *, since: dt.datetime | str | None = None, filter: str | None = None,
                      **search: Any) -> Iterator[ArticleListItem]:
        params = self._search(search)
        if since is not None:
            params["lastmodified"] = lastmodified(since)
        if filter:
            params["filter"] = filter
        return self.iter_list("3/articles", "Articles", ArticleListItem, params)

    def create_article(self, article: FortnoxArticle) -> FortnoxArticle:
        return self._write("POST", "3/articles", "Article", FortnoxArticle, article)

    def update_article(self, article_number: str, article: FortnoxArticle) -> FortnoxArticle:
        data = article.model_copy(update={"article_number": None}) if article.article_number else article
        return self._write("PUT", f"3/articles/{_segment(article_number)}", "Article", FortnoxArticle, data)

    # ----------------------------------------------------------------------------- orders
    def create_order(self, order: FortnoxOrder) -> FortnoxOrder:
        """POST an order. Lost answer → :class:`FortnoxAmbiguousWrite`: look it up before retrying."""
        return self._write("POST", "3/orders", "Order", FortnoxOrder, order, idempotent=False)

    def get_order(self, document_number: str) -> FortnoxOrder:
        return self._one(f"3/orders/{_segment(document_number)}", "Order", FortnoxOrder)

    def update_order(self, document_number: str, order: FortnoxOrder) -> FortnoxOrder:
        return self._write("PUT", f"3/orders/{_segment(document_number)}", "Order", FortnoxOrder, order)

    def list_orders(self, *, since: dt.datetime | str | None = None, filter: str | None = None,
                    **search: Any) -> Iterator[OrderListItem]:
        params = self._search(search)
        if since is not None:
            params["lastmodified"] = lastmodified(since)
        if filter:
            params["filter"] = filter
        return self.iter_list("3/orders", "Orders", OrderListItem, params)

    def orders_changed_since(self, since: dt.datetime | str) -> Iterator[OrderListItem]:
        return self.list_orders(since=since)

    def find_orders_by_reference(self, value: str, *, field: str = "ExternalInvoiceReference1"
                                 ) -> list[OrderListItem]:
        """Orders whose ``field`` equals ``value`` exactly (the idempotency lookup).

        ``field``: ``ExternalInvoiceReference1``/``ExternalInvoiceReference2`` (searchable and in
        the list item) or ``YourOrderNumber`` (not searchable on orders: callers should prefer the
        external references for orders).
        """
        attr = {"externalinvoicereference1": "external_invoice_reference1",
                "externalinvoicereference2": "external_invoice_reference2"}.get(field.lower())
        if attr is None:
            raise ValueError(f"orders cannot be searched by {field!r}; use ExternalInvoiceReference1/2")
        hits = self.list_orders(**{field.lower(): value})
        return sorted((o for o in hits if getattr(o, attr) == value),
                      key=_doc_key)

    def create_invoice_from_order(self, document_number: str) -> str:
        """Invoice an order; returns the invoice number. Safe to repeat (reads back on doubt)."""
        path = f"3/orders/{_segment(document_number)}/createinvoice"
        try:
            answer = self._request("PUT", path, idempotent=False) or {}
        except (FortnoxAmbiguousWrite, FortnoxValidationError):
            order = self.get_order(document_number)
            if order.invoice_reference:
                return order.invoice_reference
            raise
        if "Order" in answer:  # what the real API returns
            ref = FortnoxOrder.model_validate(answer["Order"]).invoice_reference
        else:  # what the spec says (Invoice_Wrap)
            ref = FortnoxInvoice.model_validate(answer.get("Invoice") or {}).document_number
        if not ref:
            ref = self.get_order(document_number).invoice_reference
        if not ref:
            raise FortnoxServerError("createinvoice answered without an invoice reference",
                                     method="PUT", path=path)
        return ref

    def cancel_order(self, document_number: str) -> FortnoxOrder:
        return self._action(f"3/orders/{_segment(document_number)}/cancel", "Order", FortnoxOrder,
                            lambda: self.get_order(document_number), lambda o: bool(o.cancelled))

    def create_document(self, kind: str, payload: Mapping[str, Any]) -> str:
        """POST an order (``kind="order"``) or invoice payload built and validated earlier — e.g. the
        ``to_payload()`` of a mapped document kept in the ledger — and return its ``DocumentNumber``.

        The batch path of the orders flow: it neither validates the payload again nor parses the whole
        answer into a model (together about a fifth of jetfort's CPU per order). Lost answer →
        :class:`FortnoxAmbiguousWrite`, as :meth:`create_order`/:meth:`create_invoice`.
        """
        key, path = DOCUMENT_ENDPOINTS[kind]
        answer = self._request("POST", path, json={key: dict(payload)}, idempotent=False) or {}
        number = (answer.get(key) or {}).get("DocumentNumber")
        if number in (None, ""):
            raise FortnoxServerError(f"{key} created without a DocumentNumber in the answer", method="POST",
                                     path=f"/{path}")
        return str(number)

    def document_references(self, kind: str, field: str, *, since: dt.datetime | str) -> Iterator[tuple[str, str]]:
        """``(value of field, DocumentNumber)`` for every order or invoice changed since ``since`` whose
        ``field`` (e.g. ``ExternalInvoiceReference1``) is set, cancelled ones included.

        The orders flow's idempotency list for a whole batch: the list items are read for these two
        fields only instead of one model each (a busy hour lists thousands).
        """
        path = DOCUMENT_ENDPOINTS[kind][1]
        list_key = "Invoices" if kind == "invoice" else "Orders"
        for _meta, items in self.iter_pages(path, list_key, {"lastmodified": lastmodified(since)}):
            for item in items:
                value, number = item.get(field), item.get("DocumentNumber")
                if value and number not in (None, ""):
                    yield str(value), str(number)

    # ----------------------------------------------------------------------------- invoices
    def create_invoice(self, invoice: FortnoxInvoice) -> FortnoxInvoice:
        """POST an invoice. Lost answer → :class:`FortnoxAmbiguousWrite`: look it up first."""
        return self._write("POST", "3/invoices", "Invoice", FortnoxInvoice, invoice, idempotent=False)

    def get_invoice(self, document_number: str) -> FortnoxInvoice:
        return self._one(f"3/invoices/{_segment(document_number)}", "Invoice", FortnoxInvoice)

    def update_invoice(self, document_number: str, invoice: FortnoxInvoice) -> FortnoxInvoice:
        return self._write("PUT", f"3/invoices/{_segment(document_number)}", "Invoice", FortnoxInvoice,
                           invoice)

    def list_invoices(self, *, since: dt.datetime | str | None = None, filter: str | None = None,
                      **search: Any) -> Iterator[InvoiceListItem]:
        params = self._search(search)
        if since is not None:
            params["lastmodified"] = lastmodified(since)
        if filter:
            params["filter"] = filter
        return self.iter_list("3/invoices", "Invoices", InvoiceListItem, params)

    def invoices_changed_since(self, since: dt.datetime | str) -> Iterator[InvoiceListItem]:
        return self.list_invoices(since=since)

    def find_invoices_by_reference(self, value: str, *, field: str = "ExternalInvoiceReference1"
                                   ) -> list[InvoiceListItem]:
        """Invoices whose ``field`` equals ``value`` exactly (substring search, then equality).

        ``field``: ``ExternalInvoiceReference1``/``2`` (compared on the list item) or
        ``YourOrderNumber`` (not in the list item: each candidate is fetched and compared).
        """
        key = field.lower()
        hits = list(self.list_invoices(**{key: value}))
        if key in {"externalinvoicereference1", "externalinvoicereference2"}:
            attr = "external_invoice_reference1" if key.endswith("1") else "external_invoice_reference2"
            found = [i for i in hits if getattr(i, attr) == value]
        elif key == "yourordernumber":
            found = [i for i in hits if i.document_number
                     and self.get_invoice(i.document_number).your_order_number == value]
        else:
            raise ValueError(f"unsupported idempotency field {field!r}")
        return sorted(found, key=_doc_key)

    def bookkeep_invoice(self, document_number: str) -> FortnoxInvoice:
        return self._action(f"3/invoices/{_segment(document_number)}/bookkeep", "Invoice", FortnoxInvoice,
                            lambda: self.get_invoice(document_number), lambda i: bool(i.booked))

    def cancel_invoice(self, document_number: str) -> FortnoxInvoice:
        return self._action(f"3/invoices/{_segment(document_number)}/cancel", "Invoice", FortnoxInvoice,
                            lambda: self.get_invoice(document_number), lambda i: bool(i.cancelled))

    def credit_invoice(self, document_number: str) -> FortnoxInvoice:
        """Credit an invoice; returns the original with ``credit_invoice_reference`` set."""
        return self._action(f"3/invoices/{_segment(document_number)}/credit", "Invoice", FortnoxInvoice,
                            lambda: self.get_invoice(document_number),
                            lambda i: bool(i.credit_invoice_reference))

    def _action(self, path: str, key: str, model: type[M], read: Callable[[], M],
                done: Callable[[M], bool]) -> M:
        """A state-changing PUT made repeatable: on a lost answer or a refusal, read the document
        back and accept it when it is already in the target state (a re-run after a crash)."""
        try:
            return self._write("PUT", path, key, model, idempotent=False)
        except (FortnoxAmbiguousWrite, FortnoxValidationError):
            current = read()
            if done(current):
                return current
            raise

    # ----------------------------------------------------------------------------- payments
    def list_invoice_payments(self, invoice_number: str | int) -> list[InvoicePayment]:
        """Payments registered on exactly this invoice (the search matches substrings)."""
        wanted = int(invoice_number)
        hits = self.iter_list("3/invoicepayments", "InvoicePayments", InvoicePayment,
                              {"invoicenumber": wanted})
        return [p for p in hits if p.invoice_number == wanted]

    def create_invoice_payment(self, payment: InvoicePayment) -> InvoicePayment:
        return self._write("POST", "3/invoicepayments", "InvoicePayment", InvoicePayment, payment,
                           idempotent=False)

    def bookkeep_invoice_payment(self, number: str) -> InvoicePayment:
        return self._action(f"3/invoicepayments/{_segment(number)}/bookkeep", "InvoicePayment",
                            InvoicePayment, lambda: self._one(f"3/invoicepayments/{_segment(number)}",
                                                              "InvoicePayment", InvoicePayment),
                            lambda p: bool(p.booked))

    # ----------------------------------------------------------------------------- prices
    def list_price_lists(self) -> list[PriceList]:
        return list(self.iter_list("3/pricelists", "PriceLists", PriceList))

    def get_price_list(self, code: str) -> PriceList:
        return self._one(f"3/pricelists/{_segment(code)}", "PriceList", PriceList)

    def create_price_list(self, price_list: PriceList) -> PriceList:
        return self._write("POST", "3/pricelists", "PriceList", PriceList, price_list)

    def list_prices(self, price_list: str, article_number: str) -> list[Price]:
        """All quantity steps of one article in one price list."""
        body = self._request("GET", f"3/prices/sublist/{_segment(price_list)}/{_segment(article_number)}")
        return [Price.model_validate(p) for p in (body or {}).get("Prices") or []]

    def get_price(self, price_list: str, article_number: str, from_quantity: Decimal | int = 0) -> Price:
        return self._one(f"3/prices/{_segment(price_list)}/{_segment(article_number)}/"
                         f"{_segment(Decimal(from_quantity))}", "Price", Price)

    def create_price(self, price: Price) -> Price:
        return self._write("POST", "3/prices", "Price", Price, price)

    def update_price(self, price: Price) -> Price:
        if price.price_list is None or price.article_number is None:
            raise ValueError("a price needs price_list and article_number")
        qty = price.from_quantity if price.from_quantity is not None else Decimal(0)
        path = f"3/prices/{_segment(price.price_list)}/{_segment(price.article_number)}/{_segment(qty)}"
        return self._write("PUT", path, "Price", Price, price)

    def set_price(self, price: Price) -> Price:
        """Create or update the price row (price list, article, from quantity); safe to repeat."""
        try:
            return self.update_price(price)
        except FortnoxNotFound:
            pass
        try:
            return self.create_price(price)
        except (FortnoxAmbiguousWrite, FortnoxValidationError):
            # the answer was lost, or another worker created the row meanwhile: make it ours
            return self.update_price(price)

    # ----------------------------------------------------------------------------- registers
    def list_currencies(self) -> list[Currency]:
        return list(self.iter_list("3/currencies", "Currencies", Currency))

    def get_currency(self, code: str) -> Currency:
        return self._one(f"3/currencies/{_segment(code)}", "Currency", Currency)

    def list_terms_of_payment(self) -> list[TermsOfPayment]:
        return list(self.iter_list("3/termsofpayments", "TermsOfPayments", TermsOfPayment))

    def get_terms_of_payment(self, code: str) -> TermsOfPayment:
        return self._one(f"3/termsofpayments/{_segment(code)}", "TermsOfPayment", TermsOfPayment)

    def list_ways_of_delivery(self) -> list[WayOfDelivery]:
        return list(self.iter_list("3/wayofdeliveries", "WayOfDeliveries", WayOfDelivery))

    def get_way_of_delivery(self, code: str) -> WayOfDelivery:
        return self._one(f"3/wayofdeliveries/{_segment(code)}", "WayOfDelivery", WayOfDelivery)

    def company_information(self) -> CompanyInformation:
        return self._one("3/companyinformation", "CompanyInformation", CompanyInformation)

    def get_account(self, number: int) -> Account:
        return self._one(f"3/accounts/{int(number)}", "Account", Account)

    def account_exists(self, number: int) -> bool:
        """Whether the chart of accounts has ``number`` and it is active (preflight for rules)."""
        try:
            account = self.get_account(number)
        except FortnoxNotFound:
            return False
        return account.active is not False

    def missing_accounts(self, numbers: Iterable[int]) -> list[int]:
        """Accounts from the tenant's VAT/account table that Fortnox lacks or has deactivated."""
        return [n for n in sorted(set(numbers)) if not self.account_exists(n)]

    # ----------------------------------------------------------------------------- warehouse
    def stock_balance(self, item_ids: Iterable[str] | None = None,
                      stock_point_codes: Iterable[str] | None = None, *, chunk: int = 100
                      ) -> list[StockBalance]:
        """Per item and stock point (warehouse module). Item ids go in chunks to keep URLs short."""
        points = ",".join(stock_point_codes) if stock_point_codes else None
        ids = list(item_ids) if item_ids is not None else None
        batches: list[list[str] | None] = [ids[i:i + chunk] for i in range(0, len(ids), chunk)] \
            if ids else [None]
        if ids == []:
            return []
        out: list[StockBalance] = []
        for batch in batches:
            params: dict[str, Any] = {}
            if batch:
                params["itemIds"] = ",".join(batch)
            if points:
                params["stockPointCodes"] = points
            body = self._request("GET", "api/warehouse/status-v1/stockbalance", params=params or None)
            out.extend(StockBalance.model_validate(x) for x in (body or []))
        return out

    # ----------------------------------------------------------------------------- Airflow
    def test_connection(self) -> tuple[bool, str]:
        try:
            info = self.company_information()
        except FortnoxError as exc:
            return False, str(exc)
        return True, f"Connected to {info.company_name or 'Fortnox'}"


__all__ = ["FortnoxHook", "FortnoxSettings", "lastmodified", "redact"]
