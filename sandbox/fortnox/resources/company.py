"""Company information, company settings and the chart of accounts (read-only here)."""

from __future__ import annotations

import copy

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..errors import not_found
from ..query import ListSpec, page, select
from ..web import base_url, company_of, params_of, reply, with_url

router = APIRouter()
ACCOUNTS = ListSpec(plural="Accounts", search={"sru": "SRU"}, sort={"number": "Number"}, default_sort="number")


@router.get("/3/companyinformation")
async def company_information(request: Request) -> Response:
    company = company_of(request)
    info = company.info
    body = {k: info.get(k, "") for k in ("Address", "City", "CompanyName", "CountryCode", "OrganizationNumber",
                                         "VisitAddress", "VisitCity", "VisitCountryCode", "VisitZipCode", "ZipCode")}
    body["DatabaseNumber"] = company.tenant_id  # = the tenant id of the access token
    return reply({"CompanyInformation": body})


@router.get("/3/settings/company")
async def company_settings(request: Request) -> Response:
    company = company_of(request)
    info = company.info
    body = {
        "Address": info.get("Address", ""), "BG": "123-4567", "BIC": "", "BranchCode": "", "City": info.get("City", ""),
        "ContactFirstName": "Sandra", "ContactLastName": "Sandbox", "Country": "Sverige", "CountryCode": "SE",
        "DatabaseNumber": str(company.tenant_id), "Domicile": info.get("City", ""), "Email": info.get("Email", ""),
        "Fax": "", "IBAN": "", "Name": company.name, "OrganizationNumber": company.organisation_number, "PG": "",
        "Phone1": info.get("Phone1", ""), "Phone2": "", "TaxEnabled": True, "VATNumber": info.get("VATNumber", ""),
        "VisitAddress": info.get("VisitAddress", ""), "VisitCity": info.get("VisitCity", ""), "VisitCountry": "Sverige",
        "VisitCountryCode": "SE", "VisitName": "", "VisitZipCode": info.get("VisitZipCode", ""), "WWW": "",
        "ZipCode": info.get("ZipCode", ""),
    }
    return reply({"CompanySettings": body})


@router.get("/3/accounts")
async def list_accounts(request: Request) -> Response:
    company = company_of(request)
    params, multi = params_of(request)
    with company.lock:
        items = [(a, company.modified_at("accounts", k)) for k, a in company.data["accounts"].items()]
        rows, meta = page(select(items, params, multi, ACCOUNTS), params)
        listed = [with_url(copy.deepcopy(a), f"{base_url(request)}/3/accounts/{a['Number']}") for a in rows]
        return reply({"MetaInformation": meta, "Accounts": listed})


@router.get("/3/accounts/{number}")
async def get_account(request: Request, number: str) -> Response:
    company = company_of(request)
    account = company.get("accounts", number)
    if account is None:
        raise not_found("accounts")
    return reply({"Account": with_url(copy.deepcopy(account), f"{base_url(request)}/3/accounts/{number}")})
