"""A small client for the ``/_sandbox`` admin API, for tests, benchmarks and the demo that talk to a
sandbox in another process (in-process code can use the :class:`~.emulator.FortnoxSandbox` handle)."""

from __future__ import annotations

from typing import Any

import httpx


class SandboxAdmin:
    """``SandboxAdmin("http://127.0.0.1:8801").create_company(name="Demo AB")`` and friends."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=f"{self.base_url}/_sandbox", timeout=timeout)

    def __enter__(self) -> SandboxAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth-v1/token"

    def create_company(self, **fields: Any) -> dict[str, Any]:
        """→ ``{tenant_id, client_id, client_secret, refresh_token, authorization_code}``."""
        return dict(self._call("POST", "/companies", fields))

    def add_client(self, tenant_id: int, **fields: Any) -> dict[str, Any]:
        """Another integration on an existing company (own credentials and request budget)."""
        return dict(self._call("POST", f"/companies/{tenant_id}/clients", fields))

    def companies(self) -> dict[str, Any]:
        return dict(self._call("GET", "/companies"))

    def mint(self, tenant_id: int, client_id: str | None = None, kind: str = "refresh", **extra: Any) -> str:
        """A fresh refresh token (or ``kind="access"``/``"code"``) for a company."""
        body = {"tenant_id": tenant_id, "kind": kind, **extra}
        if client_id:
            body["client_id"] = client_id
        return str(self._call("POST", "/tokens", body)["token"])

    def expire_tokens(self, tenant_id: int | None = None) -> int:
        return int(self._call("POST", "/tokens/expire", {} if tenant_id is None else {"tenant_id": tenant_id})["expired"])

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        return dict(self._call("PUT", "/faults", knobs)["plan"])

    def set_oauth_faults(self, **knobs: Any) -> dict[str, Any]:
        return dict(self._call("PUT", "/oauth-faults", knobs)["plan"])

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_rate_limit(self, limit: int | None = None, window: float | None = None) -> dict[str, Any]:
        body = {k: v for k, v in (("limit", limit), ("window", window)) if v is not None}
        return dict(self._call("PUT", "/ratelimit", body))

    def counts(self, tenant_id: int) -> dict[str, int]:
        return dict(self._call("GET", f"/companies/{tenant_id}/counts"))

    def stats(self, tenant_id: int, timestamps: bool = False) -> dict[str, Any]:
        return dict(self._call("GET", f"/companies/{tenant_id}/stats?timestamps={str(timestamps).lower()}"))

    def state(self, tenant_id: int, collection: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/companies/{tenant_id}/state/{collection}")[collection])

    def set_stock(self, tenant_id: int, item_id: str, in_stock: float, reserved: float = 0,
                  stock_point: str = "LAGER1") -> None:
        self._call("PUT", f"/companies/{tenant_id}/stock", {"itemId": item_id, "inStock": in_stock,
                                                            "reserved": reserved, "stockPointCode": stock_point})

    def requests(self, limit: int = 200) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/requests?limit={limit}")["requests"])

    def reset(self) -> None:
        self._call("POST", "/reset")

    def advance_clock(self, seconds: float) -> float:
        return float(self._call("POST", "/clock", {"advance": seconds})["offset"])
