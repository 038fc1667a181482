"""A small OData v4 query engine over lists of dicts, as Norce Query 2.0 applies it to its entity sets.

Query 2.0 is ASP.NET OData over SQL: ``$filter``, ``$orderby``, ``$top``, ``$skip``, ``$select`` and
``$expand`` (with nested options) work; a server page is 500 rows. Anything the engine does not
understand is refused with the OData error body ``{"error": {"code", "message"}}`` rather than
ignored, so a client never believes a filter was applied when it was not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

PAGE_SIZE = 500
MAX_TOP = 500
MAX_EXPAND_DEPTH = 3
COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")
_TOKEN = re.compile(r"""\s*(?:(?P<str>'(?:[^']|'')*')|(?P<dt>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))
                    |(?P<num>-?\d+(?:\.\d+)?(?:[mMdDlL])?)|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_/]*))""",
                    re.VERBOSE)


class ODataError(Exception):
    """A query the service refuses: rendered as HTTP ``status`` with the OData error body."""

    def __init__(self, message: str, status: int = 400, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


# -- $filter ---------------------------------------------------------------------------------------------
Expr = tuple[Any, ...]


@dataclass
class _Literal:
    value: Any


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ODataError(f"Syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    """Recursive descent: or → and → not → comparison → primary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ODataError(f"Syntax error: unexpected end of '{self.text}'.")
        self.i += 1
        return tok

    def word(self, *words: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1] in words:
            self.i += 1
            return True
        return False

    def parse(self) -> Expr:
        expr = self.or_()
        if self.peek() is not None:
            raise ODataError(f"Syntax error at '{self.peek()[1]}' in '{self.text}'.")  # type: ignore[index]
        return expr

    def or_(self) -> Expr:
        left = self.and_()
        while self.word("or"):
            left = ("or", left, self.and_())
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self.word("and"):
            left = ("and", left, self.not_())
        return left

    def not_(self) -> Expr:
        if self.word("not"):
            return ("not", self.not_())
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.primary()
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1] in COMPARISONS:
            self.i += 1
            return ("cmp", tok[1], left, self.primary())
        if isinstance(left, tuple) and left[0] in ("or", "and", "not", "cmp"):
            return left
        raise ODataError(f"Syntax error: a comparison was expected in '{self.text}'.")

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "punct" and text == "(":
            inner = self.or_()
            if self.take() != ("punct", ")"):
                raise ODataError(f"Syntax error: ')' expected in '{self.text}'.")
            return inner
        if kind == "str":
            return _Literal(text[1:-1].replace("''", "'"))
        if kind == "dt":
            return _Literal(_parse_datetime(text))
        if kind == "num":
            return _Literal(Decimal(text.rstrip("mMdDlL")))
        if kind == "word":
            if text in ("null", "true", "false"):
                return _Literal({"null": None, "true": True, "false": False}[text])
            nxt = self.peek()
            if nxt == ("punct", "("):
                raise ODataError(f"The function '{text}' is not supported.", code="NotSupported")
            if "/" in text:
                raise ODataError(f"Navigation path '{text}' is not supported in $filter.", code="NotSupported")
            return ("prop", text)
        raise ODataError(f"Syntax error at '{text}' in '{self.text}'.")


def _parse_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _props(expr: Any) -> Iterable[str]:
    if isinstance(expr, tuple):
        if expr[0] == "prop":
            yield expr[1]
        else:
            for part in expr[1:]:
                yield from _props(part)


def _edm(value: Any) -> str | None:
    """The EDM type a value stands for (None for null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "Edm.Boolean"
    if isinstance(value, int | float | Decimal):
        return "Edm.Decimal"
    if isinstance(value, datetime) or (isinstance(value, str) and _DATETIME.fullmatch(value)):
        return "Edm.DateTimeOffset"
    return "Edm.String" if isinstance(value, str) else "Edm.Untyped"


def _property_types(rows: list[dict[str, Any]]) -> dict[str, str]:
    types: dict[str, str] = {}
    for row in rows:
        for key, value in row.items():
            if key not in types and (edm := _edm(value)) is not None:
                types[key] = edm
    return types


def _check_types(expr: Any, types: dict[str, str]) -> None:
    """Refuse comparisons of a property with a literal of another type, as the OData parser does."""
    if not isinstance(expr, tuple):
        return
    if expr[0] != "cmp":
        for part in expr[1:]:
            _check_types(part, types)
        return
    _, _op, left, right = expr
    sides = [types.get(n[1]) if isinstance(n, tuple) else
             "Edm.String" if isinstance(n.value, str) else _edm(n.value) for n in (left, right)]
    if None not in sides and sides[0] != sides[1]:
        raise ODataError(f"A binary operator with incompatible types was detected. Found operand types "
                         f"'{sides[0]}' and '{sides[1]}' for operator kind '{_op}'.")


def _sort_key(value: Any) -> Any:
    """Datetimes order by instant, not by text (``…00Z`` vs ``…00.5Z``)."""
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        return _parse_datetime(value)
    return value


def _coerce(value: Any, like: Any) -> Any:
    """Bring a row value to the literal's type: datetimes from ISO text, numbers as Decimal."""
    if value is None or like is None:
        return value
    if isinstance(like, datetime) and isinstance(value, str) and _DATETIME.fullmatch(value):
        return _parse_datetime(value)
    if isinstance(like, Decimal) and isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        if op == "eq":
            return left is None and right is None
        if op == "ne":
            return not (left is None and right is None)
        return False
    try:
        if op == "eq":
            return bool(left == right)
        if op == "ne":
            return bool(left != right)
        if op == "gt":
            return bool(left > right)
        if op == "ge":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        raise ODataError(f"A binary operator with incompatible types was detected: '{left!r}' {op} "
                         f"'{right!r}'.") from None


def _value(node: Any, row: dict[str, Any]) -> Any:
    if isinstance(node, _Literal):
        return node.value
    return row.get(node[1])


def _evaluate(expr: Expr, row: dict[str, Any]) -> bool:
    head = expr[0]
    if head == "or":
        return _evaluate(expr[1], row) or _evaluate(expr[2], row)
    if head == "and":
        return _evaluate(expr[1], row) and _evaluate(expr[2], row)
    if head == "not":
        return not _evaluate(expr[1], row)
    _, op, left_node, right_node = expr
    left, right = _value(left_node, row), _value(right_node, row)
    if isinstance(right_node, _Literal):
        left = _coerce(left, right)
    if isinstance(left_node, _Literal):
        right = _coerce(right, left)
    if isinstance(left, datetime) != isinstance(right, datetime) and left is not None and right is not None:
        raise ODataError(f"A binary operator with incompatible types was detected: {left!r} {op} {right!r}.")
    return _compare(op, left, right)


# -- the query object ------------------------------------------------------------------------------------
def _split_top_level(text: str, sep: str = ",") -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if depth != 0:
        raise ODataError(f"Syntax error: unbalanced parentheses in '{text}'.")
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _nav_names(rows: list[dict[str, Any]]) -> set[str]:
    return {k for row in rows for k, v in row.items() if isinstance(v, list | dict)}


def _int_option(name: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    if not re.fullmatch(r"\d+", raw.strip()):
        raise ODataError(f"Invalid value '{raw}' for {name} query option found. The {name} query option "
                         "requires a non-negative integer value.")
    return int(raw)


@dataclass
class ODataQuery:
    """Parsed system query options; :meth:`apply` runs them over rows (navigations as list/dict values)."""

    filter: Expr | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    top: int | None = None
    skip: int = 0
    select: list[str] | None = None
    expand: dict[str, ODataQuery] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, params: dict[str, str], depth: int = 0) -> ODataQuery:
        """Parse ``$``-options (names case-insensitive); unknown ``$`` options are refused."""
        known = {"$filter", "$orderby", "$top", "$skip", "$select", "$expand", "$format"}
        opts = {k.lower(): v for k, v in params.items() if k.startswith("$")}
        for key in opts:
            if key not in known:
                raise ODataError(f"The query parameter '{key}' is not supported.", code="NotSupported")
        query = cls(raw={k: v for k, v in params.items()})
        if opts.get("$filter"):
            query.filter = _Parser(opts["$filter"]).parse()
        for part in _split_top_level(opts.get("$orderby", "")):
            bits = part.split()
            if len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
                raise ODataError(f"Syntax error in $orderby '{part}'.")
            query.orderby.append((bits[0], len(bits) == 2 and bits[1].lower() == "desc"))
        query.top = _int_option("$top", opts.get("$top"))
        query.skip = _int_option("$skip", opts.get("$skip")) or 0
        if opts.get("$select"):
            query.select = [s.strip() for s in _split_top_level(opts["$select"])]
        for part in _split_top_level(opts.get("$expand", "")):
            query.expand.update(cls._parse_expand(part, depth))
        return query

    @classmethod
    def _parse_expand(cls, part: str, depth: int) -> dict[str, ODataQuery]:
        if depth + 1 > MAX_EXPAND_DEPTH:
            raise ODataError(f"The request includes a $expand path which is too deep. The maximum depth "
                             f"allowed is {MAX_EXPAND_DEPTH}.")
        name, _, rest = part.partition("(")
        nested: dict[str, str] = {}
        if rest:
            if not rest.endswith(")"):
                raise ODataError(f"Syntax error in $expand '{part}'.")
            for opt in _split_top_level(rest[:-1], ";"):
                key, eq, val = opt.partition("=")
                if not eq:
                    raise ODataError(f"Syntax error in $expand '{part}'.")
                nested[key.strip()] = val.strip()
        return {name.strip(): cls.parse(nested, depth + 1)}

    def check(self, properties: set[str], navigations: set[str], entity: str) -> None:
        """Refuse names the entity type does not have (OData answers 400 ``Could not find a property``)."""
        for name in [*(_props(self.filter) if self.filter else []), *(n for n, _ in self.orderby)]:
            if name not in properties:
                raise ODataError(f"Could not find a property named '{name}' on type '{entity}'.")
        for name in self.select or []:
            if name != "*" and name not in properties and name not in navigations:
                raise ODataError(f"Could not find a property named '{name}' on type '{entity}'.")
        for name in self.expand:
            if name not in navigations:
                raise ODataError(f"Could not find a property named '{name}' on type '{entity}'.")

    def filtered(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows matching ``$filter``, in ``$orderby`` order (nulls first ascending, as SQL Server)."""
        out = [r for r in rows if self.filter is None or _evaluate(self.filter, r)]
        for name, desc in reversed(self.orderby):
            present = [r for r in out if r.get(name) is not None]
            nulls = [r for r in out if r.get(name) is None]
            present.sort(key=lambda r, n=name: _sort_key(r[n]), reverse=desc)  # type: ignore[misc]
            out = present + nulls if desc else nulls + present
        return out

    def shape(self, row: dict[str, Any], navigations: set[str]) -> dict[str, Any]:
        """One row as returned: ``$select`` columns (all scalars by default) plus expanded navigations."""
        if self.select and "*" not in self.select:
            out = {k: row.get(k) for k in self.select if k not in navigations}
        else:
            out = {k: v for k, v in row.items() if k not in navigations}
        for name, sub in self.expand.items():
            value = row.get(name)
            if isinstance(value, list):
                inner = [v for v in value if isinstance(v, dict)]
                sub_navs = _nav_names(inner)
                sub.check(set().union(*(r.keys() for r in inner)) - sub_navs if inner else set(), sub_navs, name)
                items = sub.filtered(inner)[sub.skip:]
                items = items[:sub.top] if sub.top is not None else items
                out[name] = [sub.shape(v, sub_navs) for v in items]
            else:
                out[name] = sub.shape(value, _nav_names([value])) if isinstance(value, dict) else None
        return out

    def apply(self, rows: list[dict[str, Any]], context: str, next_base: str,
              properties: set[str] | None = None, entity: str = "",
              navigation_names: set[str] | None = None) -> dict[str, Any]:
        """The OData v4 collection envelope for one server page (ASP.NET OData paging, see modelled.py)."""
        navigations = _nav_names(rows) | (navigation_names or set())
        props = (properties or set()) | {k for r in rows for k in r if k not in navigations}
        self.check(props, navigations, entity or context)
        _check_types(self.filter, _property_types(rows))
        matched = self.filtered(rows)[self.skip:]
        wanted = min(self.top, MAX_TOP) if self.top is not None else None
        limit = PAGE_SIZE if wanted is None else min(wanted, PAGE_SIZE)
        page = matched[:limit]
        body: dict[str, Any] = {"@odata.context": context,
                                "value": [self.shape(r, navigations) for r in page]}
        if wanted is None and len(matched) > len(page):
            params = {k: v for k, v in self.raw.items() if k.lower() != "$skip"}
            params["$skip"] = str(self.skip + len(page))
            body["@odata.nextLink"] = f"{next_base}?{urlencode(params, safe='$,()/:', quote_via=quote)}"
        return body


RowProvider = Callable[[], list[dict[str, Any]]]
