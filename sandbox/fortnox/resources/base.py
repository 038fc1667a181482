"""A keyed Fortnox resource (list, create, get, update, optional delete) described by data.

Customers, articles, price lists and the small registers (currencies, terms of payment, ways of
delivery, units, projects) share the same HTTP behaviour and differ only in their envelope names,
key field, defaults, list-item fields and a few hooks; documents have their own module.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import errors
from ..errors import bad_request, not_found
from ..query import ListSpec, page, select
from ..state import Company
from ..validation import BLANK, validate
from ..web import base_url, company_of, params_of, read_json, reply, with_url

Entity = dict[str, Any]


@dataclass
class Resource:
    """One keyed resource: routes, defaults, list shape and hooks for its rules."""

    collection: str  # path segment and storage collection, e.g. "customers"
    singular: str  # envelope key, e.g. "Customer"
    key_field: str  # e.g. "CustomerNumber"
    list_spec: ListSpec
    defaults: Callable[[Company, str, Entity], Entity] = lambda company, key, body: {}
    list_fields: tuple[str, ...] | None = None  # slim list items; None = full entity
    list_render: Callable[[Entity], Entity] | None = None
    auto_number: bool = False
    allow_delete: bool = True
    normalize_key: Callable[[str], str] = field(default=str)
    check_key: Callable[[Company, str], None] | None = None
    after_write: Callable[[Company, Entity, Entity], None] | None = None  # (company, entity, changes)
    check_delete: Callable[[Company, Entity], None] | None = None
    after_delete: Callable[[Company, Entity], None] | None = None
    read_only: tuple[str, ...] = ()
    # quirks of the answer to a create only, e.g. Customer.SalesAccount comes back as a number
    created_render: Callable[[Entity], Entity] | None = None

    def url(self, request: Request, key: str) -> str:
        return f"{base_url(request)}/3/{self.collection}/{quote(key, safe='')}"

    def render(self, request: Request, entity: Entity) -> Entity:
        return with_url(copy.deepcopy(entity), self.url(request, str(entity[self.key_field])))

    def render_item(self, request: Request, entity: Entity) -> Entity:
        url = self.url(request, str(entity[self.key_field]))
        if self.list_render is not None:
            return with_url(self.list_render(entity), url)
        if self.list_fields is None:
            return with_url(copy.deepcopy(entity), url)
        return with_url({k: entity.get(k) for k in self.list_fields}, url)

    def router(self) -> APIRouter:
        router = APIRouter()
        base = f"/3/{self.collection}"
        router.add_api_route(base, self.list_items, methods=["GET"])
        router.add_api_route(base, self.create, methods=["POST"])
        router.add_api_route(base + "/{key}", self.get_one, methods=["GET"])
        router.add_api_route(base + "/{key}", self.update, methods=["PUT"])
        if self.allow_delete:
            router.add_api_route(base + "/{key}", self.delete, methods=["DELETE"])
        return router

    # --- handlers ----------------------------------------------------------------------------------
    async def list_items(self, request: Request) -> Response:
        company = company_of(request)
        params, multi = params_of(request)
        with company.lock:
            items = [(e, company.modified_at(self.collection, k)) for k, e in company.data[self.collection].items()]
            chosen = select(items, params, multi, self.list_spec)
            rows, meta = page(chosen, params)
            body = {"MetaInformation": meta, self.list_spec.plural: [self.render_item(request, e) for e in rows]}
        return reply(body)

    async def get_one(self, request: Request, key: str) -> Response:
        company = company_of(request)
        with company.lock:
            entity = company.get(self.collection, key)
            if entity is None:
                raise not_found(self.collection)
            return reply({self.singular: self.render(request, entity)})

    async def create(self, request: Request) -> Response:
        body = await read_json(request)
        company = company_of(request)
        changes = validate(self.singular, body, create=True)
        with company.lock:
            key = changes.get(self.key_field)
            if key in (None, "", BLANK):
                if not self.auto_number:
                    raise bad_request(errors.REQUIRED, self.key_field)
                key = company.next_number(self.collection)
            key = self.normalize_key(str(key))
            if self.check_key is not None:
                self.check_key(company, key)
            if company.get(self.collection, key) is not None:
                raise bad_request(errors.DUPLICATE_KEY, key)
            entity = self.defaults(company, key, changes)
            _merge(entity, changes, self.read_only)
            entity[self.key_field] = key
            if self.after_write is not None:
                self.after_write(company, entity, changes)
            company.put(self.collection, key, entity)
            rendered = self.render(request, entity)
            if self.created_render is not None:
                rendered = self.created_render(rendered)
            return reply({self.singular: rendered}, 201)

    async def update(self, request: Request, key: str) -> Response:
        body = await read_json(request)
        company = company_of(request)
        changes = validate(self.singular, body, create=False)
        with company.lock:
            entity = company.get(self.collection, key)
            if entity is None:
                raise not_found(self.collection)
            changes.pop(self.key_field, None)  # identifiers cannot be changed
            _merge(entity, changes, self.read_only)
            if self.after_write is not None:
                self.after_write(company, entity, changes)
            company.put(self.collection, key, entity)
            return reply({self.singular: self.render(request, entity)})

    async def delete(self, request: Request, key: str) -> Response:
        company = company_of(request)
        with company.lock:
            entity = company.get(self.collection, key)
            if entity is None:
                raise not_found(self.collection)
            if self.check_delete is not None:
                self.check_delete(company, entity)
            company.delete(self.collection, key)
            if self.after_delete is not None:
                self.after_delete(company, entity)
        return Response(status_code=204)


def _merge(entity: Entity, changes: Entity, read_only: tuple[str, ...]) -> None:
    """PUT is partial: given fields change, others stay; ``API_BLANK`` clears a field, while an
    empty string leaves it as it was (recorded: ``PUT {"Invoice": {"Comments": ""}}`` kept them)."""
    for name, value in changes.items():
        if name in read_only or value == "":
            continue
        if value == BLANK:
            entity[name] = "" if isinstance(entity.get(name), str) or entity.get(name) is None else 0
        elif isinstance(value, dict) and isinstance(entity.get(name), dict):
            _merge(entity[name], value, ())
        else:
            entity[name] = value
