"""Typed Fortnox errors, each with ``retryable`` so Airflow's ``retry_policy`` can decide.

Permanent errors (validation, not found, auth) subclass :class:`jetfort.errors.PermanentError` and
fail a task at once; transient ones (429, 5xx, lost connections) subclass
:class:`jetfort.errors.TransientError`. Messages carry Fortnox's numeric ``code`` and its (usually
Swedish) message, never the response body or a token.
"""

from __future__ import annotations

import re
from typing import Any

from jetfort.errors import JetfortError, PermanentError, TransientError, retry_after_seconds

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_LONG_DIGITS = re.compile(r"\d{6,}")


def redact(text: str) -> str:
    """Strip what could identify a person (e-mails, personal/org numbers) from text we show."""
    return _LONG_DIGITS.sub("<digits>", _EMAIL.sub("<email>", text))


class FortnoxError(JetfortError):
    """Base of every Fortnox failure; ``status`` is the HTTP status when there was a response."""

    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 method: str | None = None, path: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.method = method
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        code = f", code {self.code}" if self.code is not None else ""
        return f"{where}{status}{code}: {redact(self.message)}"

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes (xdist, Celery)
        return (_rebuild, (type(self), self._render(), self.__dict__))


def _rebuild(cls: type[FortnoxError], rendered: str, state: dict[str, Any]) -> FortnoxError:
    err = cls.__new__(cls)
    Exception.__init__(err, rendered)
    err.__dict__.update(state)
    return err


class FortnoxPermanentError(FortnoxError, PermanentError):
    """A retry with the same request gets the same answer."""

    retryable = False


class FortnoxTransientError(FortnoxError, TransientError):
    """May pass on its own; the hook already retried with backoff before raising it."""

    retryable = True


class FortnoxValidationError(FortnoxPermanentError):
    """400: Fortnox rejected the request (``ErrorInformation`` code and message)."""


class FortnoxNotFound(FortnoxPermanentError):
    """404: the resource does not exist (e.g. code 2000439 "Kan inte hitta ordern.")."""


class FortnoxAuthError(FortnoxPermanentError):
    """401/403 that a token refresh did not cure, or an OAuth client problem."""


class FortnoxTokenError(FortnoxAuthError):
    """The refresh token was refused (spent or expired): the integration must be re-authorized.

    ``oauth_error`` is the OAuth ``error`` field, e.g. ``invalid_grant`` or ``invalid_client``.
    """

    def __init__(self, message: str, *, oauth_error: str | None = None, status: int | None = None) -> None:
        self.oauth_error = oauth_error
        super().__init__(message, status=status)


class FortnoxRateLimited(FortnoxTransientError):
    """429 after all retries; ``retry_after`` in seconds when the server said so."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class FortnoxServerError(FortnoxTransientError):
    """5xx (or a non-JSON gateway page) after all retries."""


class FortnoxConnectionError(FortnoxTransientError):
    """Timeout or lost connection on a request that is safe to repeat, after all retries."""


class FortnoxAmbiguousWrite(FortnoxTransientError):
    """A create may or may not have been committed: the connection died after the request was sent.

    Retrying blindly could make a duplicate. The caller looks the document up by its idempotency
    key (e.g. ``ExternalInvoiceReference1``) before creating it again.
    """


class FortnoxBudgetTimeout(FortnoxTransientError):
    """No request slot in the shared per-company budget within the allowed wait."""


def error_fields(body: Any) -> tuple[int | str | None, str | None]:
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


def error_for_answer(status: int, body: Any, *, reason: str | None = None, retry_after: str | None = None,
                     method: str | None = None, path: str | None = None) -> FortnoxError:
    """The typed error of a non-2xx answer (``body``: its parsed JSON, or None)."""
    code, message = error_fields(body)
    text = message or reason or "error"
    kwargs: dict[str, Any] = {"status": status, "code": code if isinstance(code, int) else None,
                              "method": method, "path": path}
    if isinstance(code, str) and code:
        text = f"{code}: {text}"
    if status == 429:
        return FortnoxRateLimited(text, retry_after=retry_after_seconds(retry_after), **kwargs)
    if status >= 500:
        return FortnoxServerError(text, **kwargs)
    if status == 404:
        return FortnoxNotFound(text, **kwargs)
    if status in (401, 403):
        return FortnoxAuthError(text, **kwargs)
    return FortnoxValidationError(text, **kwargs)


__all__ = [
    "FortnoxAmbiguousWrite",
    "FortnoxAuthError",
    "FortnoxBudgetTimeout",
    "FortnoxConnectionError",
    "FortnoxError",
    "FortnoxNotFound",
    "FortnoxPermanentError",
    "FortnoxRateLimited",
    "FortnoxServerError",
    "FortnoxTokenError",
    "FortnoxTransientError",
    "FortnoxValidationError",
    "error_fields",
    "error_for_answer",
    "redact",
    "retry_after_seconds",
]
