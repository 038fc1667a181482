"""Norce's order push: the receiver Norce Commerce calls when a checkout completes (norce-api.md §2a).

Norce POSTs an ``OrderRequest`` and waits for an ``OrderResponse``; when the call fails it retries for a
while, then alerts. So the receiver answers "OK" only after the order is committed to the ledger's
inbox (:mod:`jetfort.ledger.inbox`), and ``StatusCode: "Failed"`` with HTTP 500 when it could not store
it, so that Norce sends it again. The orders DAG reads the inbox later (push and pull give the same
ledger keys, so an order arriving both ways is handled once).

Mounted in Airflow's api-server by :mod:`jetfort.norce.plugin` under ``/jetfort-norce``; the URL to
configure in Norce Admin (ERP integration, endpoint type REST) is
``https://<airflow>/jetfort-norce/<norce conn id>/orders`` (type "REST (Legacy)" appends
``/CreateOrder``, also served). Norce authenticates with HTTP Basic: the user name and password are
those of the Airflow connection named by the Norce connection's extra ``receiver_conn_id``. XML bodies
(endpoint type SOAP, or REST sending XML) are refused with 415: configure JSON.

Never logged: the Basic password (nor the user name a caller sent) and the payload, which holds the
buyer's name, address and e-mail; logs name the connection and the order ref (the basket id) only.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from jetfort.ledger import Ledger
from jetfort.ledger.inbox import MAX_REF_LENGTH

log = logging.getLogger(__name__)

#: Where the Airflow plugin mounts the receiver in the api-server.
URL_PREFIX = "/jetfort-norce"
#: The largest body accepted (an order of a few hundred rows is well under 1 MB).
MAX_BODY_BYTES = 8 * 1024 * 1024
REALM = "jetfort-norce"
_CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'
_CONN_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,250}$")


@dataclass(frozen=True)
class BasicCredentials:
    """What Norce must send; the password never shows in ``repr``."""

    login: str
    password: str = field(repr=False)


class ReceiverNotConfigured(Exception):
    """No receiver for this connection id (no such Norce connection, or no usable ``receiver_conn_id``);
    the message names connections and fields only and is logged, never sent to the caller."""


CredentialsLookup = Callable[[str], BasicCredentials]
LedgerFactory = Callable[[], Ledger]


def receiver_credentials(conn_id: str) -> BasicCredentials:
    """The Basic credentials Norce must send for the Norce connection ``conn_id``: login and password of
    the connection its extra ``receiver_conn_id`` names. Raises :class:`ReceiverNotConfigured`; a
    connection store that fails raises its own error (the caller answers 500: Norce retries)."""
    norce = _connection(conn_id, f"no Airflow connection {conn_id!r}")
    if norce.conn_type != "norce":
        raise ReceiverNotConfigured(f"connection {conn_id!r} is of type {norce.conn_type!r}, not 'norce'")
    extra = norce.extra_dejson
    receiver_id = extra.get("receiver_conn_id") if isinstance(extra, dict) else None
    if not receiver_id or not isinstance(receiver_id, str):
        raise ReceiverNotConfigured(f"connection {conn_id!r} has no extra 'receiver_conn_id' (the connection "
                                    "holding the user name and password Norce sends)")
    basic = _connection(receiver_id, f"connection {conn_id!r}: its receiver_conn_id {receiver_id!r} "
                                     "is not an Airflow connection")
    if not basic.login or not basic.password:
        raise ReceiverNotConfigured(f"connection {receiver_id!r} (receiver of {conn_id!r}) needs both a login "
                                    "and a password: an open receiver is never served")
    return BasicCredentials(str(basic.login), str(basic.password))


def _connection(conn_id: str, missing: str) -> Any:
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ReceiverNotConfigured(missing) from None


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic`` header (RFC 7617, UTF-8); None for anything else."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def credentials_match(given: tuple[str, str], expected: BasicCredentials) -> bool:
    """Both parts compared in constant time (no early exit that would tell which part was wrong)."""
    user_ok = hmac.compare_digest(given[0].encode(), expected.login.encode())
    password_ok = hmac.compare_digest(given[1].encode(), expected.password.encode())
    return user_ok & password_ok


def order_response(ok: bool, description: str) -> dict[str, Any]:
    """Norce's ``OrderResponse``: jetfort never suggests an ERP number at receipt (Fortnox has none yet)."""
    return {"StatusCode": "OK" if ok else "Failed", "Description": description,
            "HasErpOrderNo": False, "ErpOrderNo": ""}


class RequestRefused(Exception):
    """A push the receiver answers with ``status`` and a Failed ``OrderResponse`` saying why."""

    def __init__(self, status: int, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.headers = status, description, headers


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def parse_order_request(body: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """(order ref, payload) of a pushed body; :class:`RequestRefused` naming the problem otherwise."""
    head = body.lstrip()[:1]
    if "xml" in content_type.lower() or head == b"<":
        raise RequestRefused(415, "XML OrderRequest is not supported by jetfort's receiver: set the ERP "
                                  "integration to send JSON (endpoint type REST); the order was not stored")
    try:
        payload = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise RequestRefused(400, f"the body is not JSON ({exc}); the order was not stored") from None
    if not isinstance(payload, dict):
        raise RequestRefused(400, f"OrderRequest must be a JSON object, got {type(payload).__name__}; "
                                  "the order was not stored")
    value = payload.get("ClientOrderRef")
    if isinstance(value, bool) or not isinstance(value, str | int):
        shown = "is missing" if value is None else f"must be text, got {type(value).__name__}"
        raise RequestRefused(400, f"OrderRequest: ClientOrderRef {shown}; the order was not stored")
    ref = str(value)
    if not ref.strip() or len(ref) > MAX_REF_LENGTH:
        raise RequestRefused(400, f"OrderRequest: ClientOrderRef {ref[:60]!r} must be 1 to {MAX_REF_LENGTH} "
                                  "characters; the order was not stored")
    return ref, payload


def _safe_reason(exc: BaseException) -> str:
    """Why a store failed, without the statement's parameters (they hold the payload's personal data)."""
    if isinstance(exc, sa.exc.StatementError):
        return f"{type(exc).__name__}: {exc.orig}" if exc.orig is not None else type(exc).__name__
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class OrderReceiver:
    """The receiver's behaviour, apart from the HTTP framework (one per app; thread-safe)."""

    def __init__(self, ledger_factory: LedgerFactory, credentials: CredentialsLookup) -> None:
        self._ledger_factory, self._credentials = ledger_factory, credentials
        self._ledger: Ledger | None = None
        self._lock = threading.Lock()

    def ledger(self) -> Ledger:
        """The ledger, opened (and migrated) on the first push; a failure is not kept, the next push tries again."""
        with self._lock:
            if self._ledger is None:
                self._ledger = self._ledger_factory()
            return self._ledger

    def authenticate(self, conn_id: str, header: str | None) -> None:
        """Raise :class:`RequestRefused` 401 unless ``header`` carries the receiver's credentials."""
        if not _CONN_ID.match(conn_id):  # not echoed in the log: it is whatever the caller sent
            raise _unauthorized("(invalid id)", "the connection id in the URL is not a valid Airflow connection id")
        given = parse_basic(header)
        if given is None:  # also the first call of a client that answers the challenge: not a warning
            raise _unauthorized(conn_id, "no Basic credentials sent", level=logging.INFO)
        try:
            expected = self._credentials(conn_id)
        except ReceiverNotConfigured as exc:
            raise _unauthorized(conn_id, str(exc)) from None
        except Exception as exc:
            log.error("norce receiver %s: cannot read the receiver's connections: %s", conn_id, _safe_reason(exc))
            raise RequestRefused(500, "the receiver cannot check credentials now; send again later") from None
        if not credentials_match(given, expected):
            raise _unauthorized(conn_id, "wrong user name or password")

    def store(self, conn_id: str, ref: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Commit the push to the inbox and say so; :class:`RequestRefused` 500 when that failed."""
        try:
            new = self.ledger().inbox_put(conn_id, ref, payload)
        except Exception as exc:
            log.error("norce receiver %s: could not store order %s, answered Failed (Norce sends it again): %s",
                      conn_id, ref, _safe_reason(exc))
            raise RequestRefused(500, f"order {ref} could not be stored now; send it again later") from None
        if new:
            log.info("norce receiver %s: order %s stored", conn_id, ref)
            return order_response(True, f"order {ref} received and stored")
        log.info("norce receiver %s: order %s pushed again; already stored (stored once)", conn_id, ref)
        return order_response(True, f"order {ref} was already received; stored once")


def _unauthorized(conn_id: str, reason: str, *, level: int = logging.WARNING) -> RequestRefused:
    log.log(level, "norce receiver %s: refused a push: %s", conn_id, reason)
    return RequestRefused(401, "authentication required", {"WWW-Authenticate": _CHALLENGE})


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise RequestRefused(413, f"the body is larger than {MAX_BODY_BYTES} bytes; the order was not stored")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestRefused(413, f"the body is larger than {MAX_BODY_BYTES} bytes; the order was not stored")
        chunks.append(chunk)
    return b"".join(chunks)


def create_receiver_app(ledger_factory: LedgerFactory | None = None, *,
                        credentials: CredentialsLookup | None = None) -> FastAPI:
    """The receiver as a FastAPI app (routes ``POST /{conn_id}/orders`` and ``.../orders/CreateOrder``).

    ``ledger_factory`` opens the ledger on the first push (default: the ledger connection, as tasks
    read it); ``credentials`` finds the Basic credentials of a Norce connection id (default: Airflow
    connections, see :func:`receiver_credentials`)."""
    receiver = OrderReceiver(ledger_factory or Ledger.from_conn_id, credentials or receiver_credentials)
    app = FastAPI(title="jetfort Norce order receiver", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.receiver = receiver

    async def create_order(request: Request, conn_id: str) -> JSONResponse:
        """Norce's CreateOrder: authenticate, read, store, then answer."""
        try:
            await run_in_threadpool(receiver.authenticate, conn_id, request.headers.get("authorization"))
            body = await _read_body(request)
            ref, payload = parse_order_request(body, request.headers.get("content-type", ""))
            answer = await run_in_threadpool(receiver.store, conn_id, ref, payload)
        except RequestRefused as refused:
            if refused.status in (400, 413, 415):
                log.warning("norce receiver %s: refused a push (%d): %s", conn_id, refused.status,
                            refused.description)
            return JSONResponse(order_response(False, refused.description), status_code=refused.status,
                                headers=refused.headers)
        return JSONResponse(answer, status_code=200)

    app.add_api_route("/{conn_id}/orders", create_order, methods=["POST"], name="norce_create_order")
    app.add_api_route("/{conn_id}/orders/CreateOrder", create_order, methods=["POST"],
                      name="norce_create_order_legacy")
    return app
