"""The Norce Commerce HTTP client: Connect 4.0 calls and Query 2.0 (OData) pages, typed errors, bounded retries.

Every call carries ``Authorization: Bearer``, ``application-id`` and ``Accept: application/json``
(reference norce-api.md §1.2). What is retried, with tenacity and a bound:

* 429 (after ``Retry-After`` when given) and 500/502/503/504;
* a connection that failed before the request left (refused, connect timeout) - always;
* a connection lost after sending (reset, read timeout) - only when the call says it is safe
  (``retry_on_reset``): by default GETs yes, Connect POSTs no. A POST whose answer was lost raises
  :class:`NorceConnectionError` and the caller decides (Connect has no idempotency keys, §5); a 502/504
  to such a POST is treated the same way (the gateway gave up, Norce may have applied the call).

A 400 (or other 4xx) raises :class:`NorceRejected` with the server's message and is never retried;
a 401 makes the token provider fetch a new token and the call is sent once more; 404 raises
:class:`NorceNotFound`. JSON numbers with a fraction are read as ``Decimal``; ``Decimal`` values in a
body are written as JSON numbers.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any, Protocol, Self
from urllib.parse import quote, urlencode, urljoin, urlsplit

import msgspec
import requests
import tenacity

from jetfort.errors import retry_after_seconds
from jetfort.norce.errors import (
    NorceAuthError,
    NorceConnectionError,
    NorceError,
    NorceNotFound,
    NorceRejected,
    NorceServerError,
)
from jetfort.norce.settings import NorceSettings

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
GATEWAY_TIMEOUTS = frozenset({502, 504})
_encoder = msgspec.json.Encoder(decimal_format="number")
_decoder = msgspec.json.Decoder(float_hook=Decimal)


class TokenSource(Protocol):
    """What the client needs of :class:`jetfort.norce.auth.NorceTokenProvider`."""

    def access_token(self) -> str: ...

    def invalidate(self, token: str) -> None: ...


class _NeverSent(NorceConnectionError):
    """The connection failed before the request left: always safe to send again."""


def encode(value: Any) -> bytes:
    """JSON body bytes: ``Decimal`` as a JSON number, datetimes as ISO-8601 strings."""
    return _encoder.encode(value)


def decode(data: bytes) -> Any:
    """JSON answer: numbers with a fraction as ``Decimal`` (money and quantities stay exact)."""
    return _decoder.decode(data)


def _never_sent(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if type(cause).__name__ in {"NewConnectionError", "NameResolutionError"} or isinstance(
                cause, ConnectionRefusedError):
            return True
        nested = next((a for a in getattr(cause, "args", ()) if isinstance(a, BaseException)), None)
        cause = getattr(cause, "reason", None) or nested or cause.__cause__ or cause.__context__
    return False


def server_message(resp: requests.Response) -> str:
    """The server's own words: OData ``{"error":{"message"}}``, ``Message``, ProblemDetails or plain text."""
    text = resp.text.strip() if resp.content else ""
    try:
        body = decode(resp.content) if resp.content else None
    except (msgspec.DecodeError, ValueError):
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            code = error.get("code")
            return f"{error['message']}" + (f" (code {code})" if code else "")
        if isinstance(error, str) and error:
            return f"{error}: {body.get('error_description') or ''}".rstrip(": ")
        for key in ("Message", "message", "detail", "title", "Description", "StatusCode"):
            if body.get(key):
                return str(body[key])[:500]
    return text[:500] or (resp.reason or f"HTTP {resp.status_code}")


class NorceClient:
    """One session per client; ``calls`` counts HTTP requests sent per operation (tests, bench)."""

    def __init__(self, settings: NorceSettings, tokens: TokenSource, *, retries: int = 4,
                 retry_wait: float = 0.5, max_wait: float = 30.0, timeout: float = 30.0,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.tokens = tokens
        self.retries = max(0, retries)
        self.retry_wait = retry_wait
        self.max_wait = max_wait
        self.timeout = timeout
        self._sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json",
                                     "application-id": str(settings.application_id)})
        self.calls: Counter[str] = Counter()

    def close(self) -> None:
        self.session.close()
        closer = getattr(self.tokens, "close", None)
        if callable(closer):
            closer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------------------------- public calls
    def connect_post(self, op: str, body: Any, headers: Mapping[str, Any] | None = None, *,
                     retry_on_reset: bool = False) -> Any:
        """POST a Connect operation (``"Order/SendOrderStatus"``); the JSON answer, None for an empty one.

        ``headers`` values that are dicts (``X-StormConnect-Header``) are sent as one-line JSON.
        """
        url = self.settings.connect_base + op.lstrip("/")
        return self._call("POST", url, op, body=encode(body), headers=headers, retry_on_reset=retry_on_reset)

    def connect_get(self, op: str, params: Mapping[str, Any] | None = None, *,
                    retry_on_reset: bool = True) -> Any:
        """GET a Connect operation (``"Job/Get"`` with ``{"id": 12}``)."""
        url = self.settings.connect_base + op.lstrip("/")
        return self._call("GET", url, op, params=params, retry_on_reset=retry_on_reset)

    def query_get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET one Query 2.0 resource (an entity by key, a small lookup like ``Core/Currencies``)."""
        return self._call("GET", self.settings.query_base + path.lstrip("/"), path.split("?")[0],
                          params=params, retry_on_reset=True)

    def query_pages(self, entity: str, params: Mapping[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Pages of an OData collection (``"Orders/Orders"``), following ``@odata.nextLink`` until absent."""
        url: str | None = self.settings.query_base + entity.lstrip("/")
        query: Mapping[str, Any] | None = params
        seen: set[str] = set()
        while url is not None:
            body = self._call("GET", url, entity, params=query, retry_on_reset=True)
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise NorceError(f"the answer to {entity} is not an OData collection (no 'value' list)",
                                 operation=entity)
            rows = body["value"]
            if not all(isinstance(row, dict) for row in rows):
                raise NorceError(f"the answer to {entity} holds a value that is not an object", operation=entity)
            yield rows
            link = body.get("@odata.nextLink")
            if not link:
                return
            url, query = self._next_url(str(link), url, entity), None
            if url in seen:
                raise NorceError(f"@odata.nextLink repeats a page ({link}); paging stopped", operation=entity)
            seen.add(url)

    # --------------------------------------------------------------------------------- internals
    def _next_url(self, link: str, current: str, entity: str) -> str:
        """An absolute nextLink must stay on the API's host (the bearer token goes with it); a relative one
        is read against the Query service root (``Orders/Orders?$skip=500``), the host (``/commerce/…``) or
        the current resource (``?$skip=500``)."""
        if "://" in link:
            target, base = urlsplit(link), urlsplit(self.settings.base_url)
            if (target.scheme, target.netloc) != (base.scheme, base.netloc):
                raise NorceError(f"@odata.nextLink points to another host ({target.netloc}); not followed",
                                 operation=entity)
            return link
        if link.startswith("?"):
            return current.split("?", 1)[0] + link
        if link.startswith("/"):
            return urljoin(self.settings.base_url + "/", link)
        return self.settings.query_base + link

    def _call(self, method: str, url: str, op: str, *, params: Mapping[str, Any] | None = None,
              body: bytes | None = None, headers: Mapping[str, Any] | None = None,
              retry_on_reset: bool) -> Any:
        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, _NeverSent):
                return True
            if isinstance(exc, NorceConnectionError):
                return retry_on_reset
            return isinstance(exc, NorceServerError) and exc.status_code in RETRY_STATUSES

        retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(self.retries + 1), wait=self._wait,
                                     retry=tenacity.retry_if_exception(retryable), before_sleep=self._log_retry,
                                     sleep=self._sleep, reraise=True)
        query = urlencode(dict(params), quote_via=quote, safe="$,()'/:@") if params else None
        sent = {k: v if isinstance(v, str) else encode(v).decode() for k, v in (headers or {}).items()}
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
        for attempt in retrying:
            with attempt:
                resp = self._send_authorized(method, url, op, query, body, sent, retry_on_reset)
                if not resp.content or not resp.content.strip():
                    return None
                try:
                    return decode(resp.content)
                except (msgspec.DecodeError, ValueError):
                    return resp.text  # a 2xx that is not JSON: applied all the same, never resent
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_authorized(self, method: str, url: str, op: str, query: str | None, body: bytes | None,
                         headers: dict[str, str], retry_on_reset: bool) -> requests.Response:
        token = self.tokens.access_token()
        resp = self._send(method, url, op, query, body, headers, token)
        if resp.status_code == 401:  # expired or revoked mid-run: one new token, one more try
            self.tokens.invalidate(token)
            resp = self._send(method, url, op, query, body, headers, self.tokens.access_token())
        if resp.status_code < 300:
            return resp
        raise self._error(resp, method, op, retry_on_reset)

    def _send(self, method: str, url: str, op: str, query: str | None, body: bytes | None,
              headers: dict[str, str], token: str) -> requests.Response:
        self.calls[op] += 1
        try:
            return self.session.request(method, url, params=query, data=body, timeout=self.timeout,
                                        headers={**headers, "Authorization": f"Bearer {token}"})
        except requests.RequestException as exc:
            kind = type(exc).__name__
            if _never_sent(exc):
                raise _NeverSent(f"could not connect ({kind})", operation=op) from None
            what = "the call may have been applied" if method == "POST" else "no answer"
            raise NorceConnectionError(f"connection lost after sending ({kind}); {what}", operation=op) from None

    def _error(self, resp: requests.Response, method: str, op: str, retry_on_reset: bool) -> NorceError:
        status = resp.status_code
        message = server_message(resp)
        log.log(logging.INFO if status == 404 else logging.WARNING, "Norce %s %s answered %s", method, op, status)
        if status in (401, 403):
            return NorceAuthError(f"HTTP {status}: {message}", operation=op)
        if status == 404:
            return NorceNotFound(f"HTTP 404: {message}", operation=op)
        if method == "POST" and not retry_on_reset and status in GATEWAY_TIMEOUTS:
            return NorceConnectionError(f"gateway answered {status} after the request was sent; the call may "
                                        "have been applied", operation=op)
        if status == 429 or status >= 500:
            return NorceServerError(f"HTTP {status}: {message}", status_code=status, operation=op,
                                    retry_after=retry_after_seconds(resp.headers.get("Retry-After")))
        return NorceRejected(message, status_code=status, body=resp.text[:2000], operation=op)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, NorceServerError) and exc.retry_after is not None:
            return min(self.max_wait, exc.retry_after)
        backoff = self.retry_wait * 2 ** (state.attempt_number - 1)
        backoff *= 0.5 + 0.5 * ((time.monotonic_ns() // 1000) % 1000) / 1000  # jitter 50-100 %
        return min(self.max_wait, backoff)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        log.warning("Norce call failed (%s, attempt %s), retrying in %.1f s", exc, state.attempt_number, wait)


__all__ = ["NorceClient", "TokenSource", "decode", "encode", "server_message"]
