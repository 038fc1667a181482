"""Error reporting: every message names the tenant and the field path.

Validators raise :class:`Problems` (paths relative to their model); :func:`problems_from` turns a
pydantic ValidationError into ``(field path, message)`` pairs and :class:`RulesError` names the tenant.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from pydantic import ValidationError


class Problems(ValueError):
    """Cross-field problems raised inside a validator, each with a path relative to that model."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{path}: {msg}" if path else msg for path, msg in problems))


class RulesError(ValueError):
    """Invalid tenant rules; one line per problem: ``tenant '<id>': <field path>: <message>``."""

    def __init__(self, tenant_id: str, problems: list[tuple[str, str]]) -> None:
        self.tenant_id = tenant_id
        self.problems = problems
        super().__init__("\n".join(f"tenant '{tenant_id}': {path}: {msg}" for path, msg in problems))

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.problems]

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes (DAG processor, workers)
        return (type(self), (self.tenant_id, self.problems))


def join_path(base: str, rel: str) -> str:
    if not base:
        return rel
    if not rel:
        return base
    return f"{base}{rel}" if rel.startswith("[") else f"{base}.{rel}"


def _format_loc(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """Pydantic loc → ``shops[0].channels[1].currency``; a bad dict key gives a ``key`` prefix."""
    path = ""
    prefix = ""
    for part in loc:
        if part == "[key]":
            prefix = "invalid key: "
            continue
        path = join_path(path, f"[{part}]" if isinstance(part, int) else str(part))
    return path, prefix


def problems_from(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        path, prefix = _format_loc(tuple(err["loc"]))
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, Problems):
            problems.extend((join_path(path, rel) or "(rules)", msg) for rel, msg in cause.problems)
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (Extra inputs are not permitted)"
        problems.append((path or "(rules)", prefix + msg))
    return problems


def duplicate_problems(keys: Iterable[Hashable], where: str, field: str, what: str) -> list[tuple[str, str]]:
    """``(<where>[i].<field>, "duplicate <what> 'k' (also <where>[j])")`` for each key seen before."""
    seen: dict[Hashable, int] = {}
    problems = []
    for i, key in enumerate(keys):
        if key in seen:
            problems.append((f"{where}[{i}].{field}", f"duplicate {what} {key!r} (also {where}[{seen[key]}])"))
        seen.setdefault(key, i)
    return problems
