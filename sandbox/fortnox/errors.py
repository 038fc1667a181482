"""Fortnox error bodies, with the quirks of the real API.

Recorded traffic shows two spellings of ``ErrorInformation``: 404 answers use capitalised keys
(``Error/Message/Code``), 400 answers lowercase ones (``error/message/code``). Gateway-level errors
(401, 429) are ``{"message": ...}``; OAuth errors are ``{"error", "error_description"}``; the
warehouse API answers ``{"error", "message", "id"}``. Messages are Swedish like Fortnox's.
Codes marked [I] are inferred (no recorded or documented code was found for that case).
"""

from __future__ import annotations

import uuid
from typing import Any

# --- codes seen in recordings or on Fortnox's error page -------------------------------------------
NOT_FOUND = {
    "customers": (2000433, "Kan inte hitta kunden."),
    "articles": (2000428, "Kan inte hitta artikeln."),
    "orders": (2000439, "Kan inte hitta ordern."),
    "invoices": (2000434, "Kan inte hitta fakturan."),
    "termsofpayments": (2000429, "Kan inte hitta betalningsvillkoret."),
    "units": (2000432, "Kan inte hitta enheten."),
    "projects": (2001161, "Kan inte hitta projektet."),
    "accounts": (2000423, "Kan inte hitta kontot."),
    # [I] no recorded 404 for these; same wording pattern
    "invoicepayments": (2000606, "Kan inte hitta inbetalningen."),
    "pricelists": (2000436, "Kan inte hitta prislistan."),
    "prices": (2000437, "Kan inte hitta priset."),
    "currencies": (2000438, "Kan inte hitta valutan."),
    "wayofdeliveries": (2000440, "Kan inte hitta leveranssättet."),
}

INVALID_FILTER = (2000587, "Ett ogiltigt filter har använts.")
INVALID_PARAMETER = (2000588, "Ogiltig parameter i anropet.")
CUSTOMER_NUMBER_USED = (2000637, "Kundnummer {} används redan. Kundnumret har redan använts men blivit raderat.")
NO_SCOPE = (2000663, "Har inte behörighet för scope")
NO_CUSTOMER = (2000204, "Kunde inte hämta/hitta kund (kundnummer)")
NO_ARTICLE = (2001302, "Kunde inte hitta artikel")
NO_ACCOUNT = (2001304, "Kunde inte hitta konto")
EMPTY_BODY = (2001392, "Ingen eller felaktig typ av data.")
INVALID_FIELD = (2001399, "Felaktigt fältnamn")
JSON_SYNTAX = (2002115, "Error deserializing JSON: JSON_ERROR_SYNTAX")
NOT_NUMERIC = (2000108, "Värdet måste vara numeriskt ({})")
NOT_BOOLEAN = (2000134, "Värdet måste vara en boolean ({})")
NOT_ALNUM = (2000106, "Värdet måste vara alfanumeriskt ({})")
INVALID_CONTENT_TYPE = (1000031, "Invalid content type")
HOUSEWORK_ENDED = (2003157, "Skattereduktion för den valda typen av husarbete har upphört.")
HOUSEWORK_OTHERCOSTS = (2002980, "Kan inte sätta typen övrig kostnad på en rad markerad som husarbete.")
HOUSEWORK_WRONG_TYPE = (
    2004021,
    "Dokument med skattereduktionstypen '{}' får inte innehålla rader med husarbetestypen '{}'.",
)
# [I] inferred codes for rules whose real code is not recorded
TOO_LONG = (2000359, "Värdet innehåller för många tecken ({}: max {})")
INVALID_VALUE = (2000588, "Ogiltigt värde för {}: {}")
REQUIRED = (2001795, "Obligatoriskt fält saknas: {}")
LIMIT_TOO_HIGH = (2000588, "Ogiltig parameter i anropet. limit får vara högst 500.")
ONE_FILTER_ONLY = (2000588, "Ogiltig parameter i anropet. Endast ett sökfilter åt gången.")
DOC_CANCELLED = (2000530, "Dokumentet är makulerat och kan inte ändras.")
INVOICE_BOOKED = (2000450, "Fakturan är bokförd och kan inte ändras.")
INVOICE_BOOKED_CANCEL = (2000451, "Bokförd faktura kan inte makuleras. Kreditera fakturan istället.")
ALREADY_CREDITED = (2000452, "Fakturan är redan krediterad.")
CREDIT_OF_CREDIT = (2000453, "En kreditfaktura kan inte krediteras.")
ORDER_INVOICED = (2000454, "Ordern är redan fakturerad och kan inte ändras.")
ALREADY_BOOKED = (2000455, "Fakturan är redan bokförd.")
PAYMENT_TOO_EARLY = (2000456, "Betaldatum kan inte vara före fakturadatum.")
PAYMENT_ON_CANCELLED = (2000457, "Kan inte registrera inbetalning på en makulerad faktura.")
DUPLICATE_KEY = (2000458, "Posten finns redan: {}")
INVALID_VAT = (2000459, "Kunde inte hitta moms: {} %")
CURRENCY_MISSING = (2000460, "Kunde inte hitta valuta: {}")
NO_DELETE = (2000461, "Posten kan inte raderas.")
DOCNUMBER_USED = (2000462, "Dokumentnumret {} används redan.")
INVALID_EMAIL = (2000463, "Ogiltig e-postadress: {}")
INVALID_DATE = (2000464, "Ogiltigt datum: {}")
NO_PROJECT = (2000465, "Projektet {} finns inte.")


class FortnoxError(Exception):
    """An error answer with ``ErrorInformation``; 404 uses Fortnox's capitalised key spelling."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        if self.status == 404:
            return {"ErrorInformation": {"Error": 1, "Message": self.message, "Code": self.code}}
        return {"ErrorInformation": {"error": 1, "message": self.message, "code": self.code}}


def bad_request(entry: tuple[int, str], *args: object) -> FortnoxError:
    """400 with lowercase keys; ``args`` fill the ``{}`` placeholders of the message."""
    code, message = entry
    return FortnoxError(400, code, message.format(*args) if args else message)


def not_found(resource: str) -> FortnoxError:
    code, message = NOT_FOUND.get(resource, (2000729, "A valid identifier was not provided."))
    return FortnoxError(404, code, message)


class WarehouseError(Exception):
    """Error of the ``/api/warehouse`` family: ``{"error", "message", "id"}``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "id": str(uuid.uuid4())}


UNAUTHORIZED_BODY = {"message": "unauthorized"}  # recorded (authentication/expired_token.yml)
RATE_LIMITED_BODY = {"message": "API rate limit exceeded"}  # [I] body not recorded; gateway style
NO_ROUTE_BODY = {"message": "no Route matched with those values"}  # [I] gateway style
SERVER_ERROR_BODY = {"ErrorInformation": {"error": 1, "message": "System exception", "code": 1000003}}
