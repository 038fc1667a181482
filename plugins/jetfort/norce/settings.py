"""The ``norce`` Airflow connection, read once into a frozen :class:`NorceSettings`.

Fields (reference norce-api.md §1): ``host`` overrides the base URL (tests, sandbox); otherwise it is
built from the tenant's ``slug`` and ``environment`` - production has no environment segment
(``https://{slug}.api-se.norce.tech``), playground and stage do (``https://{slug}.api-se.stage.norce.tech``).
The environment is also the OAuth scope. ``login``/``password`` are the OAuth client id and secret.
Every missing or unusable field raises :class:`NorceConfigError` naming the connection and the field.

``warehouse_code``/``location_code`` have no default: on-hand imports need the real codes of the
tenant's Norce warehouse, and a guessed code would be silently ignored by Norce (unknown rows are
skipped), so :meth:`NorceSettings.require` refuses them when unset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jetfort.norce.errors import NorceConfigError

ENVIRONMENTS = ("playground", "stage", "prod")
DEFAULT_TIMEZONE = "Europe/Stockholm"
TOKEN_PATH = "/identity/1.0/connect/token"
CONNECT_PATH = "/commerce/connect/4.0/"
QUERY_PATH = "/commerce/query/2.0/"
INT32_MAX = 2**31 - 1
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def default_base_url(slug: str, environment: str) -> str:
    """The tenant's API host: production has no environment segment."""
    if environment == "prod":
        return f"https://{slug}.api-se.norce.tech"
    return f"https://{slug}.api-se.{environment}.norce.tech"


@dataclass(frozen=True)
class NorceSettings:
    """Everything the Norce client needs; ``client_secret`` never shows in ``repr``."""

    conn_id: str
    slug: str
    environment: str
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    application_id: int = 0
    account_id: int | None = None
    shop_id: str = ""
    warehouse_code: str | None = None
    location_code: str | None = None
    receiver_conn_id: str | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    #: manufacturer code for NEW products whose article names none (Norce requires one to create a
    #: product); unset: such a product is refused by Norce and quarantined with its message
    default_manufacturer: str | None = None

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def connect_base(self) -> str:
        """Connect 4.0 base, ending in ``/``: ``connect_base + "Order/SendOrderStatus"``."""
        return self.base_url + CONNECT_PATH

    @property
    def query_base(self) -> str:
        """Query 2.0 base, ending in ``/``: ``query_base + "Orders/Orders"``."""
        return self.base_url + QUERY_PATH

    @property
    def scope(self) -> str:
        """The OAuth scope: the environment's name."""
        return self.environment

    @property
    def token_key(self) -> str:
        """Ledger token-store key: one token per connection, shared by every worker."""
        return f"norce:{self.conn_id}"

    def require(self, name: str) -> Any:
        """The value of an optional field an operation needs; :class:`NorceConfigError` when unset."""
        value = getattr(self, name)
        if value is None or value == "":
            raise NorceConfigError(f"connection {self.conn_id!r}: extra {name!r} is required for this operation")
        return value

    @classmethod
    def from_params(cls, *, conn_id: str = "norce_default", slug: str, environment: str, client_id: str,
                    client_secret: str, application_id: Any, base_url: str | None = None,
                    account_id: Any = None, shop_id: str | None = None, warehouse_code: str | None = None,
                    location_code: str | None = None, receiver_conn_id: str | None = None,
                    timezone: str | None = None, default_manufacturer: str | None = None) -> NorceSettings:
        """Settings without an Airflow connection (tests, bench, demo), validated like a connection."""
        check = _Check(conn_id)
        slug_ = check.slug(slug)
        env = check.environment(environment)
        return cls(
            conn_id=conn_id, slug=slug_, environment=env,
            base_url=check.base_url(base_url) if base_url else default_base_url(slug_, env),
            client_id=check.text("login (client id)", client_id),
            client_secret=check.text("password (client secret)", client_secret),
            application_id=check.int32("application_id", application_id, required=True) or 0,
            account_id=check.int32("account_id", account_id, required=False),
            shop_id=check.optional("shop_id", shop_id) or slug_,
            warehouse_code=check.optional("warehouse_code", warehouse_code),
            location_code=check.optional("location_code", location_code),
            receiver_conn_id=check.optional("receiver_conn_id", receiver_conn_id),
            timezone=check.zone(timezone),
            default_manufacturer=check.optional("default_manufacturer", default_manufacturer))

    @classmethod
    def from_connection(cls, conn: Any) -> NorceSettings:
        """From an Airflow ``Connection`` of type ``norce`` (see the module doc for its fields)."""
        conn_id = str(getattr(conn, "conn_id", None) or "norce_default")
        try:
            extra = conn.extra_dejson
        except Exception:  # Airflow logs and returns {} for bad JSON in some versions; others raise
            raise NorceConfigError(f"connection {conn_id!r}: extra is not a JSON object") from None
        if not isinstance(extra, dict):
            raise NorceConfigError(f"connection {conn_id!r}: extra is not a JSON object")
        return cls.from_params(
            conn_id=conn_id, slug=extra.get("slug"), environment=extra.get("environment"),  # type: ignore[arg-type]
            client_id=conn.login, client_secret=conn.password, application_id=extra.get("application_id"),
            base_url=_host_url(conn), account_id=extra.get("account_id"), shop_id=extra.get("shop_id"),
            warehouse_code=extra.get("warehouse_code"), location_code=extra.get("location_code"),
            receiver_conn_id=extra.get("receiver_conn_id"), timezone=extra.get("timezone"),
            default_manufacturer=extra.get("default_manufacturer"))


def _host_url(conn: Any) -> str | None:
    """The connection's host as a base URL (``http://127.0.0.1`` + port), or None when empty."""
    host = str(getattr(conn, "host", None) or "").strip()
    if not host:
        return None
    port = getattr(conn, "port", None)
    if "://" not in host:
        host = f"{getattr(conn, 'schema', None) or 'https'}://{host}"
    host = host.rstrip("/")
    if port and not re.search(r":\d+$", host.split("://", 1)[1].split("/", 1)[0]):
        scheme, rest = host.split("://", 1)
        netloc, _, path = rest.partition("/")
        host = f"{scheme}://{netloc}:{port}" + (f"/{path}" if path else "")
    return host


class _Check:
    """Validation of one connection's fields; every message names the connection and the field."""

    def __init__(self, conn_id: str) -> None:
        self.conn_id = conn_id

    def fail(self, name: str, problem: str) -> NorceConfigError:
        return NorceConfigError(f"connection {self.conn_id!r}: {name} {problem}")

    def text(self, name: str, value: Any) -> str:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise self.fail(name, "is required")
        if not isinstance(value, str):
            raise self.fail(name, f"must be text, got {type(value).__name__}")
        return value.strip()

    def optional(self, name: str, value: Any) -> str | None:
        if value is None or value == "":
            return None
        return self.text(f"extra {name!r}", value)

    def slug(self, value: Any) -> str:
        slug = self.text("extra 'slug'", value).lower()
        if not _SLUG.match(slug):
            raise self.fail("extra 'slug'", f"{value!r} is not a host name label (letters, digits, '-')")
        return slug

    def environment(self, value: Any) -> str:
        env = self.text("extra 'environment'", value).lower()
        if env == "production":
            raise self.fail("extra 'environment'", "'production' is not a Norce Commerce environment name: "
                                                   "use 'prod' (the OAuth scope and host use 'prod')")
        if env not in ENVIRONMENTS:
            raise self.fail("extra 'environment'", f"{value!r} must be one of {', '.join(ENVIRONMENTS)}")
        return env

    def int32(self, name: str, value: Any, *, required: bool) -> int | None:
        label = f"extra {name!r}"
        if value is None or value == "":
            if required:
                raise self.fail(label, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.fail(label, f"must be a whole number, got {value!r}")
        text = str(value).strip()
        if not re.fullmatch(r"\d+", text) or not 0 < int(text) <= INT32_MAX:
            raise self.fail(label, f"must be a positive whole number (int32), got {value!r}")
        return int(text)

    def base_url(self, value: str) -> str:
        url = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", url):
            raise self.fail("host", f"{value!r} is not an http(s) base URL")
        return url

    def zone(self, value: Any) -> ZoneInfo:
        name = DEFAULT_TIMEZONE if value is None or value == "" else value
        if not isinstance(name, str):
            raise self.fail("extra 'timezone'", f"must be an IANA time zone name, got {value!r}")
        try:
            return ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail("extra 'timezone'", f"{value!r} is not an IANA time zone name") from None


__all__ = ["CONNECT_PATH", "DEFAULT_TIMEZONE", "ENVIRONMENTS", "QUERY_PATH", "TOKEN_PATH", "NorceSettings",
           "default_base_url"]
