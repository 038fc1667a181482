"""Shop buyer → Fortnox customer: who it is (match keys), what to create, which VAT treatment.

Decisions (with the reasons; the orders side is in :mod:`jetfort.mapping.orders`):

* **Match keys.** Organisation number first, then e-mail (order from ``rules.orders.customer_match``),
  each normalised; a key that is missing or malformed is never used, so an order without e-mail can
  never land on (or overwrite) another buyer's customer. No key left → create.
* **Collective customer.** With ``rules.orders.collective_customer_number`` set, private buyers taxed
  as Swedish sales (VAT type SEVAT) go to that customer; the buyer's name and addresses travel on
  the document. EU consumers, exports and companies always get their own customer, because the
  VAT type lives on the Fortnox customer, not on the document.
* **VAT type** from the delivery country (the place of supply for goods), else the billing country,
  else Sweden: SE → ``SEVAT``; another EU country and a VAT number of that country → ``EUREVERSEDVAT``
  (rows at 0 %) — only when the number is valid (check digits per country, python-stdnum), else the
  order is quarantined (``invalid_vat_number``, ``vat_number_country_mismatch``; see
  :mod:`jetfort.mapping.vat`); another EU country otherwise → ``EUVAT`` (Swedish VAT as the shop
  charged it, or, for an OSS-registered tenant, the buyer country's rates: :mod:`jetfort.mapping.vat`);
  outside the EU → ``EXPORT`` (0 %).
* **Organisation numbers.** Swedish ones (Swedish buyer or an ``SE`` VAT number) must be 10 digits
  (or 12 with century) and pass Luhn; stored as ``NNNNNN-NNNN``. A Swedish company without an org
  number gets it from its ``SE…01`` VAT number. Foreign ones are kept as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jetfort.fortnox.models import CustomerType, FortnoxCustomer, VatType, max_length
from jetfort.mapping.plugins import apply_customer_plugins
from jetfort.mapping.problems import MappingProblem
from jetfort.mapping.text import (
    clean,
    cut,
    is_eu,
    normalise_country,
    normalise_email,
    normalise_org_number,
    normalise_vat_number,
    swedish_org_from_vat,
    valid_vat_number,
    vat_number_country,
)
from jetfort.mapping.totals import VAT_FREE_TYPES
from jetfort.mapping.vat import HOME, buyer_country, check_reverse_charge_number
from jetfort.rules import TenantRules
from jetfort.shop.models import Address, ShopOrder

__all__ = ["VAT_FREE_TYPES", "CustomerPlan", "buyer_country", "buyer_name", "buyer_vat_number", "is_company_buyer", "plan_customer",
           "vat_type_for"]

@dataclass(frozen=True)
class CustomerPlan:
    """What the post stage does about the buyer: look up by ``match_order`` keys (values below),
    else use the collective customer, else create ``customer``."""

    org_number: str | None
    email: str | None
    use_collective: str | None
    customer: FortnoxCustomer
    match_order: tuple[str, ...]
    vat_type: VatType = VatType.SEVAT
    country: str = HOME
    is_company: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def match_values(self) -> tuple[tuple[str, str], ...]:
        """(key, value) pairs in lookup order, e.g. (("organisation_number", "556677-8899"), ...)."""
        values = {"organisation_number": self.org_number, "email": self.email}
        return tuple((key, value) for key in self.match_order if (value := values.get(key)))


def vat_type_for(order: ShopOrder) -> VatType:
    """The Fortnox VAT type of the buyer of ``order`` (see the module docstring)."""
    country, _ = buyer_country(order)
    return _vat_type(order, country)


def buyer_vat_number(order: ShopOrder, country: str | None = None) -> str | None:
    """The buyer's VAT number, normalised, or None when there is none or it is not one."""
    if not order.customer.vat_number.strip():
        return None
    text = normalise_vat_number(order.customer.vat_number, country)
    return text if valid_vat_number(text) else None


def is_company_buyer(order: ShopOrder) -> bool:
    """A company name, an org number or a VAT number makes the buyer a company (a VAT number alone
    must never give a private customer: peers' users lost reverse charge that way)."""
    return order.customer.is_company or buyer_vat_number(order) is not None


def _vat_type(order: ShopOrder, country: str) -> VatType:
    if country == HOME:
        return VatType.SEVAT
    if is_eu(country):
        vat_number = buyer_vat_number(order, country)
        prefix = vat_number_country(vat_number) if vat_number else None
        if vat_number and prefix and prefix != HOME and is_eu(prefix):
            check_reverse_charge_number(order, vat_number, country)
            return VatType.EUREVERSEDVAT
        return VatType.EUVAT
    return VatType.EXPORT


def buyer_name(order: ShopOrder) -> str:
    """Company name, else the billing person, else the delivery person, else the e-mail."""
    customer = order.customer
    company = (customer.company_name, order.billing.company) if is_company_buyer(order) else ()
    people = (order.billing.full_name, order.delivery.full_name, order.billing.company, customer.email)
    for candidate in (*company, *people):
        text = clean(candidate)
        if text:
            return text
    return f"Webbkund order {order.order_number}"


def _org_number(order: ShopOrder, country: str) -> tuple[str | None, list[str]]:
    """Normalised org number (None for private buyers or when there is none), notes; raises on invalid."""
    customer = order.customer
    notes: list[str] = []
    raw = customer.org_number.strip()
    vat = buyer_vat_number(order, country) or ""
    swedish = country == HOME or vat.startswith("SE")
    if not raw:
        if vat.startswith("SE"):
            derived = swedish_org_from_vat(vat)
            if derived:
                notes.append(f"organisation number {derived} taken from VAT number {vat}")
            return derived, notes
        return None, notes
    if swedish:
        normalised = normalise_org_number(raw)
        if normalised is None:
            raise MappingProblem(
                "invalid_org_number", "customer.organisation_number",
                f"Order {order.order_number}: organisation number {raw!r} of {buyer_name(order)!r} is not a "
                "valid Swedish organisation number (NNNNNN-NNNN with a correct check digit); "
                "correct it in the shop order or the customer record.")
        return normalised, notes
    text = clean(raw)
    limit = max_length(FortnoxCustomer, "organisation_number") or 30
    if len(text) > limit:
        raise MappingProblem(
            "field_too_long", "customer.organisation_number",
            f"Order {order.order_number}: organisation number {text!r} has {len(text)} characters and "
            f"Fortnox stores at most {limit} — correct it in the shop order or the customer record.")
    return text, notes


def _street(address: Address) -> tuple[str, str]:
    return clean(address.street), clean(address.care_of)


def _zip(order: ShopOrder, address: Address, path: str) -> str | None:
    text = clean(address.zip_code)
    limit = max_length(FortnoxCustomer, "zip_code") or 10
    if len(text) > limit:
        compact = text.replace(" ", "")
        if len(compact) <= limit:
            return compact
        raise MappingProblem(
            "field_too_long", f"{path}.zip_code",
            f"Order {order.order_number}: zip code {text!r} has {len(text)} characters; Fortnox customers "
            f"store at most {limit} and a cut zip code would be wrong — correct it in the shop.")
    return text or None


def _same_place(a: Address, b: Address) -> bool:
    keys = ("company", "first_name", "last_name", "street", "care_of", "zip_code", "city", "country_code")
    return all(clean(getattr(a, k)).casefold() == clean(getattr(b, k)).casefold() for k in keys)


def plan_customer(order: ShopOrder, rules: TenantRules, shop_key: str) -> CustomerPlan:
    """How the buyer of ``order`` becomes (or finds) a Fortnox customer. Pure; raises MappingProblem."""
    country, guessed = buyer_country(order)
    vat_type = _vat_type(order, country)
    notes: list[str] = []
    if guessed:
        notes.append(f"order {order.order_number} has no country; treated as a Swedish buyer")
    org_number, org_notes = _org_number(order, country)
    notes += org_notes
    is_company = is_company_buyer(order) or org_number is not None
    vat_number = buyer_vat_number(order, country)
    if order.customer.vat_number.strip() and vat_number is None:
        notes.append(f"VAT number {order.customer.vat_number!r} is not a VAT number; not used (no reverse charge)")
    email = normalise_email(order.customer.email)
    if order.customer.email.strip() and email is None:
        notes.append(f"e-mail {order.customer.email!r} is not an address; not used to find or create the customer")
    defaults = rules.orders.customer_defaults
    keys = {"organisation_number": org_number if is_company else None, "email": email}
    match_order = tuple(key for key in rules.orders.customer_match if keys.get(key))
    collective = None
    if not is_company and vat_type == VatType.SEVAT:
        collective = rules.orders.collective_customer_number

    billing, delivery = order.billing, order.delivery
    street1, street2 = _street(billing)
    values: dict[str, Any] = {
        "name": cut(buyer_name(order), max_length(FortnoxCustomer, "name")),
        "type": CustomerType.COMPANY if is_company else CustomerType.PRIVATE,
        "organisation_number": org_number if is_company else None,
        "email": email,
        "address1": street1 or None,
        "address2": street2 or None,
        "zip_code": _zip(order, billing, "billing"),
        "city": clean(billing.city) or None,
        "country_code": normalise_country(billing.country_code) or (None if guessed else country),
        "phone1": clean(billing.phone or billing.mobile_phone) or None,
        "phone2": clean(billing.mobile_phone) if billing.phone and billing.mobile_phone else None,
        "currency": order.currency.upper() if order.currency else "SEK",
        "vat_type": vat_type,
        "vat_number": vat_number,
        "terms_of_payment": defaults.terms_of_payment,
        "way_of_delivery": defaults.way_of_delivery,
        "terms_of_delivery": defaults.terms_of_delivery,
        "price_list": defaults.price_list,
        "show_price_vat_included": not is_company,
        "external_reference": (f"jetshop:{shop_key}:{order.customer.customer_id}"
                               if order.customer.customer_id is not None else None),
    }
    if is_company and clean(billing.full_name):
        values["your_reference"] = cut(clean(billing.full_name), max_length(FortnoxCustomer, "your_reference"))
    if not _same_place(billing, delivery) and any(clean(getattr(delivery, k)) for k in ("street", "city")):
        d1, d2 = _street(delivery)
        values.update({
            "delivery_name": clean(delivery.company or delivery.full_name) or None,
            "delivery_address1": d1 or None,
            "delivery_address2": d2 or None,
            "delivery_zip_code": _zip(order, delivery, "delivery"),
            "delivery_city": clean(delivery.city) or None,
            "delivery_country_code": normalise_country(delivery.country_code),
            "delivery_phone1": clean(delivery.phone or delivery.mobile_phone) or None,
        })
    customer = FortnoxCustomer(**{k: v for k, v in values.items() if v is not None})
    if rules.plugins:
        customer = apply_customer_plugins(customer, order, rules)
    plan = CustomerPlan(org_number=keys["organisation_number"], email=email, use_collective=collective,
                        customer=customer, match_order=match_order, vat_type=vat_type, country=country,
                        is_company=is_company, notes=tuple(notes))
    return plan


def vat_free(vat_type: VatType | str | None) -> bool:
    return vat_type in VAT_FREE_TYPES
