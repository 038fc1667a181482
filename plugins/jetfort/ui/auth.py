"""Who is asking and what they may do, decided by Airflow's auth manager; writes guarded against
cross-site requests.

* **Who:** Airflow does not authenticate plugin apps, so every route resolves the user itself with
  Airflow's own dependency :func:`airflow.api_fastapi.core_api.security.get_user` (a ``Bearer`` JWT, else
  the ``_token`` cookie the Airflow UI logs in with). The same JWT is what calls to Airflow's REST API
  forward, so Airflow checks the user again there.
* **What:** a tenant is visible when the auth manager lets the user read its orders DAG
  (``is_authorized_dag`` GET); retry needs the right to create runs of that DAG (POST on
  ``DagAccessEntity.RUN``), dismiss the right to edit it (PUT). Connecting Fortnox needs the right to edit
  the tenant's Fortnox connection, saving a new tenant the right to create its rules Variable.
* **Cross-site requests:** a write authenticated by the cookie must come from this origin
  (``Origin``, else ``Sec-Fetch-Site``) and carry the double-submit token: the ``jetfort_csrf`` cookie,
  repeated in the ``X-Jetfort-CSRF`` header, signed for this user with a key derived from Airflow's JWT
  secret (so every api-server worker accepts it). A write with a ``Bearer`` header is not forgeable by
  another site (a browser never adds that header by itself) and needs no token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import (
    ConnectionDetails,
    DagAccessEntity,
    DagDetails,
    VariableDetails,
)
from airflow.api_fastapi.core_api.security import bearer_scheme, get_user
from airflow.configuration import conf
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials

from jetfort.factory import dag_id
from jetfort.rules.files import VARIABLE_PREFIX

CSRF_COOKIE = "jetfort_csrf"
CSRF_HEADER = "X-Jetfort-CSRF"


class CsrfKeyMissing(RuntimeError):
    """Airflow has no JWT signing secret to derive the page's CSRF key from."""


@dataclass(frozen=True)
class Access:
    """What the user may do with one tenant."""

    tenant: str
    read: bool
    retry: bool
    dismiss: bool


def orders_dag(tenant: str) -> str:
    return dag_id(tenant, "orders")


def access(user: Any, tenant: str) -> Access:
    """The auth manager's answers for the tenant's orders DAG."""
    manager = get_auth_manager()
    details = DagDetails(id=orders_dag(tenant))
    read = manager.is_authorized_dag(method="GET", details=details, user=user)
    retry = read and manager.is_authorized_dag(method="POST", access_entity=DagAccessEntity.RUN, details=details,
                                                user=user)
    dismiss = read and manager.is_authorized_dag(method="PUT", details=details, user=user)
    return Access(tenant, read, retry, dismiss)


def may_connect(user: Any, tenant: str, conn_id: str) -> bool:
    """Connecting Fortnox writes the credentials of the tenant's connection: the auth manager's right to
    edit that connection (PUT), beside reading the tenant."""
    return access(user, tenant).read and get_auth_manager().is_authorized_connection(
        method="PUT", details=ConnectionDetails(conn_id=conn_id), user=user)


def may_onboard(user: Any, tenant: str) -> bool:
    """Adding a tenant creates its rules Variable: the auth manager's right to create that Variable."""
    details = VariableDetails(key=f"{VARIABLE_PREFIX}{tenant}")
    return get_auth_manager().is_authorized_variable(method="POST", details=details, user=user)


def user_token(request: Request) -> str:
    """The JWT this request was authenticated with (the ``Bearer`` header wins, as in Airflow)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated")
    return token


def by_bearer(request: Request) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(value.strip())


def user_name(user: Any) -> str:
    return str(user.get_name() or user.get_id())


# ------------------------------------------------------------------------------------------ CSRF
def csrf_key() -> bytes:
    """The CSRF signing key: derived from Airflow's ``[api_auth] jwt_secret`` (or its private key file)."""
    secret = conf.get("api_auth", "jwt_secret", fallback="") or ""
    material = secret.encode()
    if not material:
        path = conf.get("api_auth", "jwt_private_key_path", fallback="") or ""
        if path:
            material = Path(path).read_bytes()
    if not material:
        raise CsrfKeyMissing("the jetfort page signs its CSRF tokens with a key derived from Airflow's JWT secret: "
                             "set [api_auth] jwt_secret (or jwt_private_key_path)")
    return hmac.new(material, b"jetfort-ui-csrf-v1", hashlib.sha256).digest()


def _signature(key: bytes, user_id: str, nonce: str) -> str:
    return hmac.new(key, f"{user_id}\x00{nonce}".encode(), hashlib.sha256).hexdigest()


def new_csrf_token(key: bytes, user_id: str) -> str:
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_signature(key, user_id, nonce)}"


def csrf_token_valid(key: bytes, user_id: str, token: str | None) -> bool:
    if not token or "." not in token:
        return False
    nonce, _, signature = token.partition(".")
    return hmac.compare_digest(signature, _signature(key, user_id, nonce))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(request: Request) -> set[str]:
    """This request's own origin and the one of Airflow's ``[api] base_url``."""
    found = {_origin(str(request.base_url))}
    base = conf.get("api", "base_url", fallback="") or ""
    if base.startswith(("http://", "https://")):
        found.add(_origin(base))
    return found


def check_write(request: Request, user: Any, key: bytes) -> None:
    """Refuse (403) a cookie-authenticated write that is cross-site or lacks this user's CSRF token."""
    if by_bearer(request):
        return
    origin = request.headers.get("origin")
    if origin is not None:
        if origin.lower() not in allowed_origins(request):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused (Origin)")
    elif request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused (Sec-Fetch-Site)")
    cookie = request.cookies.get(CSRF_COOKIE)
    header = request.headers.get(CSRF_HEADER)
    if not cookie or not header or not hmac.compare_digest(cookie, header):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused (CSRF token missing or "
                                                       "not matching; reload the page)")
    if not csrf_token_valid(key, str(user.get_id()), header):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused (CSRF token of another "
                                                       "user or session; reload the page)")


class NotLoggedIn(Exception):
    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code, self.detail = status_code, detail


async def current_user(request: Request,
                       bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]) -> BaseUser:
    """The Airflow user of this request, resolved by Airflow's own ``get_user`` (Bearer, else cookie)."""
    try:
        return await get_user(request, None, bearer)
    except HTTPException as exc:
        raise NotLoggedIn(exc.status_code, str(exc.detail)) from None


User = Annotated[BaseUser, Depends(current_user)]


async def writer(request: Request, user: User) -> BaseUser:
    """A user allowed to write from here: same-origin and with their CSRF token (checked before the body)."""
    check_write(request, user, request.app.state.csrf_key)
    return user


Writer = Annotated[BaseUser, Depends(writer)]
