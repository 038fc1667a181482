"""Apply: each money-back event of a posted shop order done in Fortnox once, linked and audited.

Per event (ledger kind ``credit``, source key ``<shop>:<order id>:r<return id>`` or ``...:cancel``)::

    pending → crediting → credited        (+ waiting: the order is not invoiced yet; quarantined)

``crediting`` is written before the Fortnox call; a record found in it (a crash, a lost answer) is
finished by finding the earlier write first (see :mod:`.fortnox`). Returns go before the cancellation
of the same order, oldest first, so a cancellation after partial returns credits only what is left.
"""

from __future__ import annotations

import logging
from typing import Any

from jetfort.errors import TransientError
from jetfort.fortnox.errors import (
    FortnoxNotFound,
    FortnoxTransientError,
    FortnoxValidationError,
)
from jetfort.mapping.credits import (
    Credited,
    Extras,
    cancel_action,
    credited_from,
    plan_remainder,
    plan_return,
)
from jetfort.mapping.problems import MappingProblem
from jetfort.mapping.text import money
from jetfort.tasks.credits.find import DONE, KIND, OPEN_STATES, Candidate, credited_details
from jetfort.tasks.credits.fortnox import FortnoxCredits
from jetfort.tasks.credits.report import report_cancelled, report_credited
from jetfort.tasks.orders.common import fortnox_calls
from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)

COUNTS = ("orders", "credited", "cancelled", "adopted", "quarantined", "waiting", "retry_later", "planned")


class ShopCredits:
    """The credits stage of one shop."""

    def __init__(self, runtime: TenantRuntime, shop_key: str, *, run_id: str | None, dry_run: bool) -> None:
        self.runtime, self.shop_key, self.run_id, self.dry_run = runtime, shop_key, run_id, dry_run
        self.ledger, self.tenant, self.rules = runtime.ledger, runtime.tenant, runtime.rules
        self.counts: dict[str, Any] = {"shop": shop_key, **dict.fromkeys(COUNTS, 0)}
        self.failures: list[str] = []
        self.plan: list[str] = []
        self.calls_before = fortnox_calls(runtime)
        rules = self.rules.orders
        self.extras = Extras(freight_article=rules.freight.article_number if rules.freight.mode == "row" else None,
                             fee_article=rules.payment_fee.article_number if rules.payment_fee.mode == "row" else None)

    def run(self, candidates: list[Candidate]) -> dict[str, Any]:
        self.fortnox = FortnoxCredits(self.runtime)
        for candidate in candidates:
            self.counts["orders"] += 1
            try:
                self.order(candidate)
            except (FortnoxTransientError, TransientError) as exc:
                self.failures.append(f"order {candidate.current.order_number}: {exc}")
                self.counts["retry_later"] += 1
        self.counts["fortnox_calls"] = fortnox_calls(self.runtime) - self.calls_before
        if self.dry_run:
            self.counts.update(dry_run=True, plan=self.plan[:100])
        return self.counts

    # ------------------------------------------------------------------------------------ one order
    def order(self, c: Candidate) -> None:
        link = c.link
        try:
            original, invoice, model = self.fortnox.documents(str(link.target_type), str(link.target_key))
        except (FortnoxNotFound, FortnoxValidationError) as exc:  # e.g. deleted in Fortnox: this order waits
            for event in c.events:
                self.quarantine(c, event, "fortnox_document_unreadable", None,
                                f"order {c.current.order_number}: its Fortnox {link.target_type} {link.target_key} "
                                f"cannot be read ({exc})")
            return
        credited = credited_from(credited_details(c.records))
        posted = c.posted
        for event in c.events:
            try:
                if event == "cancel":
                    self.cancel(c, original, invoice, model, credited)
                    continue
                if invoice is None or model is None:
                    self.wait(c, event, f"order {original.document_number} is not invoiced in Fortnox yet; the "
                                        "return is credited once it is")
                    continue
                index = next(i for i, r in enumerate(c.current.returns) if f"r{r.return_id}" == event)
                ret = c.current.returns[index]
                if invoice.cancelled or invoice.credit_invoice_reference:
                    raise MappingProblem("nothing_to_credit", f"returns[{index}]",
                                         f"return {ret.return_id} of order {posted.order_number}: invoice "
                                         f"{invoice.document_number} is already cancelled or fully credited")
                plan = plan_return(posted, ret, index, invoice, credited, self.extras)
                remarks = (f"Kreditfaktura för faktura {invoice.document_number}: retur {ret.return_id} av order "
                           f"{posted.order_number}")
                if self.claim(c, event, f"crediting return {ret.return_id} against invoice "
                                        f"{invoice.document_number}"):
                    number, adopted = self.fortnox.post_credit(c.idempotency_key(event), plan, model, remarks)
                    self.done(c, event, "invoice", number, {**plan.to_detail(), "action": "credit_return",
                                                            "invoice": invoice.document_number}, adopted,
                              f"{'adopted' if adopted else 'created'} credit invoice {number} for return "
                              f"{ret.return_id} ({money(plan.total, posted.currency)} incl. VAT)")
                    report_credited(self.runtime, c, event)
                credited = credited.plus(plan)
            except MappingProblem as problem:
                self.quarantine(c, event, problem.reason, problem.field, problem.message)
            except FortnoxValidationError as exc:
                self.quarantine(c, event, "fortnox_rejected", None,
                                f"order {posted.order_number} ({event}): Fortnox said {exc.message}")

    def cancel(self, c: Candidate, original: Any, invoice: Any, model: Any, credited: Credited) -> None:
        posted = c.posted
        action, why = cancel_action(original, invoice, credited, self.rules.credits.accounting_method)
        if action == "done" and invoice is not None and invoice.credit_invoice_reference:
            action = "credit_full"  # (ours after a crash, or a person's): take it and give it the key
        if not self.claim(c, "cancel", f"cancellation: {why}"):
            return
        remarks = f"Kreditfaktura för faktura {invoice.document_number if invoice else ''}: order " \
                  f"{posted.order_number} makulerad i butiken"
        detail: dict[str, Any] = {"action": action, "reason": why}
        if action == "cancel_order":
            self.fortnox.hook.cancel_order(original.document_number)
            target, number = "order", original.document_number
        elif action == "cancel_invoice":
            self.fortnox.hook.cancel_invoice(invoice.document_number)
            target, number = "invoice", invoice.document_number
        elif action == "credit_full":
            number = self.fortnox.credit_full(invoice.document_number, c.idempotency_key("cancel"), remarks)
            target = "invoice"
            detail.update(rows={str(r.row_id): [str(r.quantity), str(r.total_inc_vat)] for r in posted.rows},
                          freight=str(posted.freight_inc_vat), payment_fee=str(posted.payment.fee_inc_vat),
                          total=str(posted.total_inc_vat), invoice=invoice.document_number)
        elif action == "credit_remainder":
            plan = plan_remainder(posted, invoice, credited, self.extras)
            if plan is None:
                target, number = "invoice", invoice.document_number
                detail["reason"] = f"invoice {invoice.document_number} is fully credited by returns"
            else:
                number, _adopted = self.fortnox.post_credit(c.idempotency_key("cancel"), plan, model, remarks)
                target = "invoice"
                detail.update(plan.to_detail(), invoice=invoice.document_number)
        else:
            target = "invoice" if invoice is not None else "order"
            number = invoice.document_number if invoice is not None else original.document_number
        self.done(c, "cancel", target, number, detail, False, f"{action}: {why} → {target} {number}")
        self.counts["cancelled"] += 1
        report_cancelled(self.runtime, c)

    # ------------------------------------------------------------------------------------ ledger
    def claim(self, c: Candidate, event: str, message: str) -> bool:
        """``→ crediting`` before the Fortnox call (a dry run only notes the plan)."""
        if self.dry_run:
            self.plan.append(f"order {c.current.order_number} {event}: {message}")
            self.counts["planned"] += 1
            return False
        key = c.key(event)
        self.ledger.ensure_record(self.tenant, KIND, key, state="pending",
                                  detail={"order_number": c.current.order_number, "shop": c.shop_key})
        return self.ledger.transition(self.tenant, KIND, key, "crediting", step="claim", expect=list(OPEN_STATES),
                                      run_id=self.run_id, message=message, count_attempt=True)

    def done(self, c: Candidate, event: str, target: str, number: str, detail: dict[str, Any], adopted: bool,
             message: str) -> None:
        key = c.key(event)
        self.ledger.transition(self.tenant, KIND, key, DONE, step="adopt" if adopted else "credit",
                               expect=["crediting"], target_type=target, target_key=number,
                               detail={**detail, "order_number": c.current.order_number, "shop": c.shop_key},
                               run_id=self.run_id, message=message)
        self.ledger.resolve_quarantine(self.tenant, KIND, key)
        self.counts["adopted" if adopted else "credited"] += 1
        log.info("shop %s order %s: %s", self.shop_key, c.current.order_number, message)

    def wait(self, c: Candidate, event: str, message: str) -> None:
        self.counts["waiting"] += 1
        if self.dry_run:
            self.plan.append(f"order {c.current.order_number} {event}: waits ({message})")
            return
        key = c.key(event)
        self.ledger.ensure_record(self.tenant, KIND, key, state="waiting",
                                  detail={"order_number": c.current.order_number, "shop": c.shop_key})
        self.ledger.transition(self.tenant, KIND, key, "waiting", step="wait", expect=list(OPEN_STATES),
                               run_id=self.run_id, message=message)

    def quarantine(self, c: Candidate, event: str, reason: str, field: str | None, message: str) -> None:
        self.counts["quarantined"] += 1
        log.warning("shop %s: %s quarantined: %s", self.shop_key, c.key(event), message)
        if self.dry_run:
            self.plan.append(f"order {c.current.order_number} {event}: quarantine ({message})")
            return
        self.ledger.quarantine(self.tenant, KIND, c.key(event), reason=reason, field=field, message=message,
                               run_id=self.run_id)
