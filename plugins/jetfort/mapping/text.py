"""Text, identifiers and countries: cleaning and checks shared by the customer and document mapping."""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

__all__ = [
    "EU_COUNTRIES",
    "clean",
    "cut",
    "is_eu",
    "luhn_ok",
    "money",
    "normalise_country",
    "normalise_email",
    "normalise_org_number",
    "swedish_org_from_vat",
]

EU_COUNTRIES = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})
"""EU member states (ISO 3166-1 alpha-2). Greece is ``GR`` here; its VAT numbers start with ``EL``."""

_ELLIPSIS = "…"
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_VAT_PREFIX = re.compile(r"^([A-Z]{2})")


@lru_cache(maxsize=4096)
def clean(value: str | None) -> str:
    """Text Fortnox stores safely: NFC, no control characters, nothing outside the Basic Multilingual
    Plane (emoji are refused by Fortnox, error 2000359), whitespace runs collapsed, trimmed."""
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value)
    if text.isascii() and text.isprintable():
        return " ".join(text.split())
    kept = []
    for ch in text:
        if ord(ch) > 0xFFFF:
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            kept.append(" " if ch in "\t\r\n" else "")
            continue
        kept.append(ch)
    return " ".join("".join(kept).split())


def cut(value: str, limit: int | None) -> str:
    """``value`` within ``limit`` characters; a cut text ends with an ellipsis so a reader sees it."""
    if limit is None or len(value) <= limit:
        return value
    return value[: limit - 1].rstrip() + _ELLIPSIS


def money(amount: Decimal | int | str, currency: str | None = "SEK") -> str:
    """An amount for a person: two decimals and the currency, ``-71.00 SEK`` (never ``-71.0000``)."""
    value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{value} {currency}" if currency else str(value)


def normalise_email(value: str | None) -> str | None:
    """Trimmed, lower-cased address, or None when empty or not an address (never a match key then)."""
    text = (value or "").strip().lower()
    if not text or not _EMAIL.match(text):
        return None
    return text


def normalise_country(value: str | None) -> str | None:
    code = (value or "").strip().upper()
    if code == "UK":
        code = "GB"
    return code if len(code) == 2 and code.isalpha() and code.isascii() else None


def is_eu(country: str | None) -> bool:
    return country in EU_COUNTRIES


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) check as Swedish organisation and personal numbers use it."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def normalise_org_number(value: str) -> str | None:
    """A Swedish organisation number as ``NNNNNN-NNNN`` when it is one (10 digits, or 12 with the
    century ``16``/``19``/``20``, Luhn-valid), else None. Accepts spaces, dashes and an ``SE`` prefix."""
    digits = re.sub(r"[\s\-+]", "", value.strip().upper())
    if digits.startswith("SE"):
        digits = digits[2:]
        if len(digits) == 12 and digits.endswith("01"):  # a VAT number: SE + 10 digits + 01
            digits = digits[:10]
    if not digits.isdigit() or not digits.isascii():
        return None
    if len(digits) == 12 and digits[:2] in ("16", "19", "20"):
        digits = digits[2:]
    if len(digits) != 10 or not luhn_ok(digits):
        return None
    return f"{digits[:6]}-{digits[6:]}"


def swedish_org_from_vat(vat_number: str) -> str | None:
    """``SE556677889901`` → ``556677-8899`` (a Swedish VAT number carries the org number)."""
    text = re.sub(r"\s", "", vat_number.upper())
    if not text.startswith("SE"):
        return None
    return normalise_org_number(text)


def vat_number_country(vat_number: str) -> str | None:
    """Country of an EU VAT number from its prefix (``EL`` is Greece, ``XI`` Northern Ireland)."""
    match = _VAT_PREFIX.match(re.sub(r"\s", "", vat_number.upper()))
    if not match:
        return None
    prefix = match.group(1)
    return {"EL": "GR", "XI": "GB"}.get(prefix, prefix)


_VAT_NUMBER = re.compile(r"^[A-Z]{2}[0-9A-Z+*]{2,13}$")


def normalise_vat_number(value: str, country: str | None = None) -> str:
    """Upper case without spaces, dots and dashes; a Swedish buyer's bare ``NNNNNNNNNN`` or
    ``NNNNNNNNNN01`` becomes ``SENNNNNNNNNN01`` (Fortnox refuses VAT numbers without country prefix)."""
    text = re.sub(r"[\s.\-]", "", value.strip().upper())
    if text.isdigit() and country in (None, "SE"):
        if len(text) == 10 and luhn_ok(text):
            return f"SE{text}01"
        if len(text) == 12 and text.endswith("01") and luhn_ok(text[:10]):
            return f"SE{text}"
    return text


def valid_vat_number(value: str) -> bool:
    """Plausible EU VAT number: two-letter prefix and 2-13 letters/digits (the VIES shapes)."""
    return bool(_VAT_PREFIX.match(value)) and bool(_VAT_NUMBER.match(value))
