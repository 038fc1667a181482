"""A ``requests.Session`` for API clients: environment read once per host, lean requests.

Plain ``requests`` calls ``get_environ_proxies`` on every request, which scans the whole process
environment (twice: proxies, then ``NO_PROXY``) — under Airflow, with its many variables, that was
about 0.7 ms of CPU per Fortnox call. The answer only depends on the URL's scheme and host and on the
environment, which does not change during a hook's life, so it is remembered per (scheme, host).
Everything else stays as in ``requests``: ``trust_env`` still governs netrc, proxies and CA bundles
(``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` are read per request, which is cheap), and per-request or
session ``proxies``/``verify``/``cert`` still win over the environment.

:meth:`EnvCachedSession.send_lean` sends one API request without the parts of
``Session.request`` an API client with its own ``Authorization`` header does not use: the session's
cookie jar (merged into every request's headers) and the ``~/.netrc`` lookup (three
``stat`` calls per request, and a matching entry would replace the bearer token with basic auth).
A ``json`` body is encoded by :mod:`jetfort.jsoncodec` (compact UTF-8: the JSON value requests
would send, for less CPU). Everything else is requests' own code: URL/params quoting, the body's
headers, the mounted adapter, proxies, TLS verification, timeouts, session hooks and its exception
types. Against the local Fortnox sandbox this took the client side of one call from about 0.47 to
0.33 ms of CPU; over the whole orders flow it saves about a fifth of jetfort's CPU per order
(``bench/internals.py``, issue 17). ``tests/jetfort/test_httpsession.py`` compares what it sends with
what requests' own path sends and pins the parts of requests' API it overrides or calls.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.structures import CaseInsensitiveDict
from requests.utils import get_environ_proxies

from jetfort import jsoncodec

#: the documented state of a ``requests.Session``
SESSION_ATTRIBUTES = ("headers", "cookies", "auth", "proxies", "hooks", "params", "verify", "cert", "adapters",
                      "stream", "trust_env", "max_redirects")


class EnvCachedSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self._environ_proxies: dict[tuple[str, str, str | None], dict[str, str]] = {}
        self._urls: dict[str, str] = {}

    @classmethod
    def like(cls, configured: requests.Session) -> EnvCachedSession:
        """A session with everything ``configured`` has (headers, auth, proxies, verify, adapters, ...),
        e.g. the one the http provider's ``HttpHook.get_conn`` built from a connection (its documented
        attributes; the mounted adapters are shared)."""
        session = cls()
        for name in SESSION_ATTRIBUTES:
            setattr(session, name, getattr(configured, name))
        return session

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        """``requests.Session.merge_environment_settings`` with the environment's proxies cached."""
        if self.trust_env:
            no_proxy = proxies.get("no_proxy") if proxies is not None else None
            parts = urlsplit(url)
            key = (parts.scheme, parts.netloc, no_proxy)
            env_proxies = self._environ_proxies.get(key)
            if env_proxies is None:
                env_proxies = self._environ_proxies[key] = get_environ_proxies(url, no_proxy=no_proxy)
            if proxies is not None:
                for k, v in env_proxies.items():
                    proxies.setdefault(k, v)
            if verify is True or verify is None:
                verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        return {"proxies": merge_setting(proxies, self.proxies), "stream": merge_setting(stream, self.stream),
                "verify": merge_setting(verify, self.verify), "cert": merge_setting(cert, self.cert)}

    def send_lean(self, method: str, url: str, *, params: Any = None, json: Any = None,
                  headers: Mapping[str, str] | None = None, timeout: Any = None,
                  allow_redirects: bool = True) -> requests.Response:
        """``self.request(method, url, ...)`` minus session cookies and netrc auth (see the module doc)."""
        req = requests.PreparedRequest()
        req.prepare_method(method)
        if params:
            req.prepare_url(url, params)
        else:  # the same few URLs again and again (e.g. POST 3/invoices): quoted once
            prepared = self._urls.get(url)
            if prepared is None:
                req.prepare_url(url, None)
                prepared = self._urls[url] = str(req.url)
            req.url = prepared
        merged = CaseInsensitiveDict(self.headers)
        merged.update(headers or {})
        if json is not None and "Content-Type" not in merged:
            merged["Content-Type"] = "application/json"  # as requests does for a json= body
        req.prepare_headers({k: v for k, v in merged.items() if v is not None})  # None removes, as in requests
        req.prepare_body(None if json is None else jsoncodec.dumps_bytes(json), None)
        req.prepare_hooks(self.hooks)
        # as the http provider's HttpHook.run_and_check: the session's (connection's) proxies, stream,
        # verify and cert win over the environment's (plain Session.request lets the environment win)
        settings = self.merge_environment_settings(req.url, dict(self.proxies), self.stream, self.verify, self.cert)
        return self.send(req, timeout=timeout, allow_redirects=allow_redirects, **settings)
