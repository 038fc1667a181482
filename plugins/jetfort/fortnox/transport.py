"""The Fortnox client's transport: connection settings, session, token, budget, bounded retries, paging.

:class:`FortnoxClient` is the base of :class:`jetfort.fortnox.hook.FortnoxHook` (which adds the
typed endpoint methods from :mod:`jetfort.fortnox.documents` and :mod:`jetfort.fortnox.registers`).
It is an ``HttpHook`` and uses only that hook's public API: ``get_conn`` builds the session from the
connection (proxies, verify, cert, adapters, extra headers) and ``url_from_endpoint`` gives the base
URL. jetfort's own extras (:data:`JETFORT_EXTRA_KEYS`) are taken out of the session's headers again,
so no secret ever travels as an HTTP header, and the session carries no basic auth (the client id
and secret authenticate to the token endpoint only).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Self, TypeVar
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
from jetfort.fortnox.budget import FORTNOX_LIMIT, FORTNOX_WINDOW, RequestBudget, capped, make_budget
from jetfort.fortnox.errors import (
    FortnoxAmbiguousWrite,
    FortnoxBudgetTimeout,
    FortnoxConnectionError,
    FortnoxRateLimited,
    FortnoxServerError,
    FortnoxTransientError,
    FortnoxValidationError,
    error_fields,
    error_for_answer,
)
from jetfort.fortnox.models import FortnoxModel, MetaInformation
from jetfort.httpsession import EnvCachedSession
from jetfort.ledger import Ledger
from jetfort.ledger.tokens import TokenStore

M = TypeVar("M", bound=FortnoxModel)

#: extra keys that are jetfort settings, never HTTP headers
JETFORT_EXTRA_KEYS = frozenset({"refresh_token", "tenant_id", "auth_url", "company", "budget",
                                "client_secret", "client_id", "refresh_margin", "rate_window", "events_url",
                                "redirect_uri"})
MAX_PAGE_SIZE = 500
#: answers from a proxy that stopped waiting: the request may have been processed behind it
GATEWAY_TIMEOUTS = frozenset({502, 504})
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


def path_segment(value: Any) -> str:
    """One URL path segment; ``/`` and spaces in article numbers must be %-encoded."""
    if isinstance(value, Decimal):
        value = format(value.normalize(), "f") if value != 0 else "0"
    return quote(str(value), safe="")


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
    #: the redirect URI registered for the integration in Fortnox's developer portal (consent flow)
    redirect_uri: str | None = None


def _rate_window(conn_id: str, value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        window = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        window = math.nan
    if not (math.isfinite(window) and window > 0):
        raise ValueError(f"connection {conn_id!r}: extra rate_window must be a number of seconds > 0, "
                         f"got {value!r}")
    return window


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


class FortnoxClient(HttpHook):
    """Connection, session, token, budget and the request loop; the endpoints live in the subclasses."""

    conn_name_attr = "fortnox_conn_id"
    default_conn_name = "fortnox_default"
    conn_type = "fortnox"
    hook_name = "Fortnox"

    def __init__(self, fortnox_conn_id: str = default_conn_name, *, ledger: Any = None,
                 budget: RequestBudget | None = None, token_store: Any = None,
                 timeout: float | tuple[float, float] = (10.0, 60.0), max_attempts: int = 6,
                 max_backoff: float = 30.0, budget_timeout: float = 600.0, auth_retries: int = 3,
                 rate_limit: int = FORTNOX_LIMIT, rate_window: float = FORTNOX_WINDOW,
                 ledger_conn_id: str = "jetfort_ledger", budget_share: float | None = None,
                 **kwargs: Any) -> None:
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
        self._budget_given = budget is not None
        #: at most this share of the company's budget for this hook's requests (None: all of it)
        self.budget_share = budget_share
        self._token_store = token_store
        self._settings: FortnoxSettings | None = None
        self._session: EnvCachedSession | None = None
        self._allow_redirects = True  # the http provider's default; a connection extra may change it
        self._auth: FortnoxAuth | None = None
        self.request_count = 0  # requests sent by this hook (tests, bench)

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def from_params(cls, *, base_url: str, client_id: str, client_secret: str,
                    refresh_token: str | None = None, tenant_id: str | int | None = None,
                    auth_url: str | None = None, company: str | None = None, ledger: Any = None,
                    budget: RequestBudget | str | None = None, token_store: Any = None,
                    refresh_margin: float = DEFAULT_REFRESH_MARGIN, **kwargs: Any) -> Self:
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
        hook.base_url = hook._settings.base_url  # HttpHook's public base URL: no connection to look up
        return hook

    @property
    def settings(self) -> FortnoxSettings:
        if self._settings is None:
            conn = self.get_connection(self.fortnox_conn_id)
            extra = conn.extra_dejson
            self._settings = FortnoxSettings(
                base_url=self.url_from_endpoint(None).rstrip("/"),
                client_id=conn.login or str(extra.get("client_id") or ""),
                client_secret=conn.password or str(extra.get("client_secret") or ""),
                auth_url=str(extra.get("auth_url") or DEFAULT_AUTH_URL),
                refresh_token=extra.get("refresh_token") or None,
                tenant_id=str(extra["tenant_id"]) if extra.get("tenant_id") else None,
                company=str(extra.get("company") or self.fortnox_conn_id),
                budget=extra.get("budget") or None,
                refresh_margin=float(extra.get("refresh_margin") or DEFAULT_REFRESH_MARGIN),
                rate_window=_rate_window(self.fortnox_conn_id, extra.get("rate_window")),
                redirect_uri=str(extra.get("redirect_uri") or "") or None)
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
            self._ledger = Ledger.from_conn_id(self.ledger_conn_id)
        return self._ledger

    @property
    def budget(self) -> RequestBudget:
        if self._budget is None:
            def build(limit: int) -> RequestBudget:
                return make_budget(self.settings.budget, ledger=self.ledger, limit=limit,
                                   window=self.settings.rate_window or self.rate_window)

            company_budget = build(self.rate_limit)
            self._budget = (company_budget if self.budget_share is None
                            else capped(company_budget, self.budget_share, build))
        return self._budget

    def limit_budget_share(self, share: float | None) -> None:
        """From the next request on, take at most ``share`` of the company's budget (None: all of it),
        e.g. when a task turns from latency-sensitive work to a bulk read. Not for a hook given its
        budget (that budget is the caller's to shape)."""
        if self._budget_given:
            raise ValueError("this hook was given its request budget; shape that budget instead")
        if share != self.budget_share:
            self.budget_share, self._budget = share, None

    @property
    def auth(self) -> FortnoxAuth:
        if self._auth is None:
            s = self.settings
            store = self._token_store
            if store is None:
                store = TokenStore(self.ledger) if self.ledger is not None else MemoryTokenStore()
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
        """One session per hook (keep-alive), without basic auth or jetfort extras."""
        if self._session is None:
            self._session = self._new_session(extra_options)
        if headers:
            self._session.headers.update(headers)
        return self._session

    def _new_session(self, extra_options: dict[str, Any] | None) -> EnvCachedSession:
        settings = self.settings
        if self._params_only:  # no connection: the http provider's default keep-alive adapter
            session = EnvCachedSession()
            adapter = self.adapter or self.keep_alive_adapter
            if adapter is not None:
                session.mount("http://", adapter)
                session.mount("https://", adapter)
        else:  # the http provider's own reading of the connection (its public get_conn)
            session = EnvCachedSession.like(super().get_conn(extra_options=extra_options))
            for key in JETFORT_EXTRA_KEYS:  # settings, never headers (the provider sends every extra)
                session.headers.pop(key, None)
            session.auth = None  # client id/secret authenticate to the token endpoint only, never to the API
            self._allow_redirects = bool(self.merged_extra.get("allow_redirects", True))
        self.base_url = settings.base_url
        session.headers.update({"Accept": "application/json"})  # Content-Type is set per request
        return session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
            self._auth = None

    def __enter__(self) -> Self:
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
        method = response.request.method if response.request is not None else None
        path = urlparse(response.url).path if response.url else None
        error = error_for_answer(response.status_code, body, reason=response.reason,
                                 retry_after=response.headers.get("Retry-After"), method=method, path=path)
        # a 404 is a normal answer to a lookup: not worth a warning
        level = logging.INFO if error.status == 404 else logging.WARNING
        code = error_fields(body)[0]
        self.log.log(level, "Fortnox %s %s answered %s%s", method, path, error.status,
                     f" (code {code})" if code is not None else "")
        raise error

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

    def _listing(self, path: str, list_key: str, model: type[M], *, since: dt.datetime | str | None,
                 filter: str | None, search: Mapping[str, Any]) -> Iterator[M]:
        """A list resource searched by ``search`` (lower-cased query names; Fortnox allows one resource
        filter), ``lastmodified`` (``since``) and ``filter`` (e.g. ``unbooked``)."""
        params = {k.lower(): v for k, v in search.items() if v is not None}
        if since is not None:
            params["lastmodified"] = lastmodified(since)
        if filter:
            params["filter"] = filter
        return self.iter_list(path, list_key, model, params)

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
