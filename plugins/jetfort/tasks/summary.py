"""What one orders run did, per order and per shop, read from the ledger's audit trail.

The counts a stage passes through XCom describe only that stage's last try: after a clear, a retry
or a whole re-run, the try that runs last often finds the work already done ("posted 0" for a
run that posted 2). The truth is in the ledger: every step jetfort takes is an audit row carrying
the Airflow ``run_id``. So the summary asks the ledger what *this run* did to each order, whichever
try did it, and reports per order one outcome:

``posted`` / ``adopted``
    this run created the Fortnox document (or found and linked the one a lost answer had made),
``already_linked``
    an earlier run had linked it; this run only looked (and maybe acknowledged it in the shop),
``quarantined`` (with the reason) / ``held`` (plan cap) / ``unfinished`` (left mid-way, resumed later),
``would_post`` / ``would_quarantine`` / ``would_hold``
    in a dry run, which writes nothing, from what the map stage planned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jetfort.ledger import Ledger

#: the summary's columns per shop, in table order
SUMMARY_FIELDS = ("seen", "posted", "adopted", "already_linked", "acknowledged", "quarantined", "held",
                  "skipped", "retry_later", "fortnox_calls")
LINKED = ("posted", "acknowledged")
#: order lines per shop kept in the summary XCom (the task log lists them all; counts cover all)
MAX_ORDER_LINES = 2000


def push_partial(counts: Mapping[str, Any]) -> None:
    """Push a stage's counts so far under key ``summary`` (the failure notifier and summary read it)."""
    try:
        from airflow.sdk import get_current_context

        context = get_current_context()
    except Exception:  # outside a task (unit tests, bench)
        return
    context["ti"].xcom_push(key="summary", value={k: v for k, v in counts.items() if k != "keys"})


def order_outcome(key: str, entry: Mapping[str, Any], reasons: Mapping[str, str]) -> dict[str, Any]:
    """One order's line: what this run's steps (in order) amount to."""
    steps: Sequence[tuple[str, str, str]] = entry["steps"]
    detail = entry["detail"]
    linked = [step for step, state, _ in steps if step in ("post", "adopt") and state == "posted"]
    last_state = steps[-1][1]
    line: dict[str, Any] = {"shop": str(detail.get("shop") or key.split(":", 1)[0]), "key": key,
                            "order": detail.get("order_number")}
    if last_state in LINKED or linked:
        line["outcome"] = ("adopted" if linked[-1] == "adopt" else "posted") if linked else "already_linked"
        line["fortnox"] = f"{entry['target_type']} {entry['target_key']}" if entry["target_key"] else None
        line["document_number"] = entry["target_key"]
    elif last_state == "quarantined":
        message = next((m for step, _, m in reversed(steps) if step == "quarantine"), "")
        line["outcome"] = "quarantined"
        line["reason"] = reasons.get(key) or message.split(":", 1)[0]
    elif last_state == "held":
        line["outcome"] = "held"
        line["reason"] = next((m for _, state, m in reversed(steps) if state == "held"), "")
    else:
        line["outcome"] = "unfinished"
        line["reason"] = f"left in state {last_state}; the next try or run resumes it"
    line["acknowledged"] = any(step == "acknowledge" and state == "acknowledged" for step, state, _ in steps)
    return line


def run_outcomes(ledger: Ledger, tenant: str, kind: str, run_id: str) -> list[dict[str, Any]]:
    """Per order, what this run did (ordered by shop and key)."""
    reasons = {q.source_key: q.reason for q in ledger.open_quarantine(tenant, kind)}
    audit = ledger.audit_of_run(tenant, kind, run_id)
    return [order_outcome(key, entry, reasons) for key, entry in sorted(audit.items())]


def shop_row(shop: str, lines: Iterable[Mapping[str, Any]], stages: Mapping[str, Mapping[str, Any]],
             status: str) -> dict[str, Any]:
    """A shop's counts, from its order lines (what happened) and its stages' XCom (what was looked at)."""
    lines = list(lines)
    outcomes = [str(line["outcome"]) for line in lines]
    extract = stages.get("extract") or {}
    last = next((stages[s] for s in ("acknowledge", "post", "map", "extract") if stages.get(s)), {})
    row: dict[str, Any] = {"shop": shop, **dict.fromkeys(SUMMARY_FIELDS, 0)}
    row.update(
        seen=max(len(lines), int(extract.get("seen", 0))),
        posted=outcomes.count("posted") + outcomes.count("would_post"),
        adopted=outcomes.count("adopted"),
        already_linked=outcomes.count("already_linked"),
        acknowledged=sum(1 for line in lines if line.get("acknowledged")),
        quarantined=outcomes.count("quarantined") + outcomes.count("would_quarantine"),
        held=outcomes.count("held") + outcomes.count("would_hold"),
        skipped=int(extract.get("skipped", 0)),
        retry_later=max(outcomes.count("unfinished"), int(last.get("retry_later", 0))),
        fortnox_calls=int(last.get("fortnox_calls", 0)),
    )
    row["status"] = status
    row["orders"] = lines[:MAX_ORDER_LINES]
    if len(lines) > MAX_ORDER_LINES:
        row["orders_not_listed"] = len(lines) - MAX_ORDER_LINES
    return row


def total_row(rows: Sequence[Mapping[str, Any]], failed: bool) -> dict[str, Any]:
    total: dict[str, Any] = {"shop": "TOTAL", **{n: sum(int(r[n]) for r in rows) for n in SUMMARY_FIELDS}}
    total["status"] = "failed" if failed else "ok"
    return total


def order_lines_text(lines: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The per-order lines as a flat table for the task log."""
    return [{"shop": line["shop"], "order": line.get("order") or line["key"], "outcome": line["outcome"],
             "fortnox": line.get("fortnox") or "", "acknowledged": "yes" if line.get("acknowledged") else "",
             "reason / note": line.get("reason") or line.get("note") or ""} for line in lines]
