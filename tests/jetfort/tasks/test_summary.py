"""What a run did to each order, read from its audit rows (tasks.summary), and a shop's status."""

from __future__ import annotations

from typing import Any

from jetfort.tasks.orders_run import shop_status
from jetfort.tasks.summary import order_outcome, shop_row


def entry(*steps: tuple[str, str, str], state: str = "seen", target: str | None = None) -> dict[str, Any]:
    return {"state": state, "target_type": "invoice" if target else None, "target_key": target,
            "detail": {"shop": "se", "order_number": "10001"}, "steps": list(steps)}


def test_each_order_gets_the_outcome_of_this_runs_steps() -> None:
    steps = (("extract", "seen", ""), ("map", "mapped", ""), ("post", "posting", ""),
             ("post", "posted", "created Fortnox invoice 7"), ("acknowledge", "acknowledged", ""))
    posted = order_outcome("se:1", entry(*steps, state="acknowledged", target="7"), {})
    assert (posted["outcome"], posted["document_number"], posted["acknowledged"]) == ("posted", "7", True)
    adopted = order_outcome("se:2", entry(("post", "posting", ""), ("adopt", "posted", ""), state="posted",
                                          target="8"), {})
    assert (adopted["outcome"], adopted["acknowledged"]) == ("adopted", False)
    earlier = order_outcome("se:3", entry(("acknowledge", "acknowledged", ""), state="acknowledged", target="9"), {})
    assert earlier["outcome"] == "already_linked" and earlier["fortnox"] == "invoice 9"
    quarantined = order_outcome("se:4", entry(("extract", "seen", ""), ("quarantine", "quarantined",
                                                                       "unknown_article: GIFT-500")), {})
    assert (quarantined["outcome"], quarantined["reason"]) == ("quarantined", "unknown_article")
    held = order_outcome("se:5", entry(("map", "held", "monthly order cap 4 reached")), {})
    assert held["outcome"] == "held" and "cap" in held["reason"]
    stuck = order_outcome("se:6", entry(("extract", "seen", ""), ("post", "posting", "")), {})
    assert stuck["outcome"] == "unfinished" and "posting" in stuck["reason"]
    # quarantined by this run, then fixed and posted by a later run: this run's line says quarantined
    later = order_outcome("se:7", entry(("quarantine", "quarantined", "x: y"), state="acknowledged", target="3"),
                          {})
    assert later["outcome"] == "quarantined"


def test_counts_come_from_the_lines_and_a_shop_without_orders_is_ok() -> None:
    lines = [{"outcome": "posted", "acknowledged": True}, {"outcome": "already_linked", "acknowledged": True},
             {"outcome": "quarantined"}, {"outcome": "unfinished"}]
    row = shop_row("se", lines, {"extract": {"seen": 3, "skipped": 2}, "post": {"fortnox_calls": 9}}, "ok")
    assert (row["seen"], row["posted"], row["already_linked"], row["acknowledged"]) == (4, 1, 1, 2)
    assert (row["quarantined"], row["retry_later"], row["skipped"], row["fortnox_calls"]) == (1, 1, 2, 9)
    nothing = {"extract": {"finished": True, "handed_on": 0}}  # found nothing: map, post, acknowledge skipped
    assert shop_status({**nothing, "credits": {"finished": True}}) == "ok"
    assert shop_status(nothing) == "failed at credits"  # the credits stage runs all the same
    assert shop_status({"extract": {"finished": True, "handed_on": 2}, "map": {"finished": True}}) == "failed at post"
    assert shop_status({"extract": {"finished": True, "handed_on": 2}, "map": {"handed_on": 2}}) == "failed at map"
    done = {stage: {"finished": True, "handed_on": 1} for stage in ("extract", "map", "post", "acknowledge",
                                                                     "credits")}
    assert shop_status(done) == "ok" and shop_status({}) == "failed at extract"
