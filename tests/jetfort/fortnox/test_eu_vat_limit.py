"""FortnoxHook.eu_vat_limit reads the EU distance-sales threshold (``/3/euvatlimitregulation``)."""

from __future__ import annotations

from decimal import Decimal

from sandbox.fortnox.emulator import Credentials
from sandbox.fortnox.resources import documents as fortnox_documents
from sandbox.fortnox.seed import customer_entity

from .conftest import HookFactory, Server


def test_reads_the_threshold_for_a_year(make_hook: HookFactory, server: Server, company: Credentials) -> None:
    hook = make_hook()
    fortnox = server.sandbox.company(company.tenant_id)
    year = fortnox.clock.today().year
    with fortnox.lock:  # 120 000 SEK (EUR 10 476) ex VAT to a private buyer in France this year
        fortnox.put("customers", "90", customer_entity("90", "Camille", Type="PRIVATE", CountryCode="FR",
                                                       VATType="EUVAT"))
        invoice = fortnox_documents.build(fortnox_documents.INVOICE, fortnox, {"CustomerNumber": "90", "InvoiceRows": [
            {"Description": "Marchandises", "AccountNumber": 3106, "DeliveredQuantity": 1, "Price": 120000,
             "VAT": 25}]})
        fortnox.put("invoices", invoice["DocumentNumber"], invoice)
    now = hook.eu_vat_limit()
    assert now.is_over_limit is True and now.limit == 99680 and now.year == str(year)
    assert now.total_excl_vat == Decimal(120000)
    before = hook.eu_vat_limit(year - 1)
    assert before.is_over_limit is False and before.total_excl_vat == 0 and before.year == str(year - 1)
