"""Live mode of the Fortnox sandbox: documents move on the way a Fortnox user would move them.

``python -m sandbox fortnox --live [--live-delay-seconds S]`` (or ``create_app(live=True)``) starts a
:class:`LiveFortnox`. Every order and invoice that appears in any company after the start (whoever
created it; credit notes excepted) gets a plan, drawn from an RNG seeded with ``--seed`` and the
document's tenant, type and number, so the same seed moves the same documents the same way:

* an order is delivered (tracking number in ``ExternalInvoiceReference2``, ``DeliveryDate`` today)
  and later invoiced, or invoiced straight away, or (now and then) cancelled, or left open;
* an invoice made from an order is booked, and most are paid later;
* an invoice created directly is sent or given a tracking number, then booked, then mostly paid,
  now and then credited; a few are cancelled before anything else happens.

The first move comes ``S`` to ``1.5 x S`` seconds after the document was created (its modification
stamp, on the sandbox clock), each later one ``0.5 x S`` to ``1.5 x S`` after the previous. Moves go
through the sandbox's own API handlers in process (``PUT /3/orders/{n}`` / ``createinvoice`` /
``cancel``, ``PUT /3/invoices/{n}`` / ``externalprint`` / ``bookkeep`` / ``credit`` / ``cancel``,
``POST /3/invoicepayments`` + ``bookkeep``), with every rule those apply, but like a person in the
Fortnox web app: no token, no request budget, no fault knobs, no request-log entry. A move the API
refuses (someone changed the document first) ends that document's plan and is counted as refused.

``GET /_sandbox/live`` reports it; ``POST /_sandbox/live/tick`` runs the due moves now (after
``POST /_sandbox/clock {"advance": s}`` for instance).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import deque
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.live import OFF, LiveLoop, bump

from .state import STOCKHOLM

if TYPE_CHECKING:
    from .emulator import FortnoxSandbox

DEFAULT_DELAY_SECONDS = 120.0
MOVES = ("order_delivered", "order_invoiced", "order_cancelled", "invoice_delivered", "invoice_sent",
         "invoice_booked", "invoice_paid", "invoice_credited", "invoice_cancelled")
TRACKING_PREFIXES = ("UA", "RR", "CC", "VV")


@dataclass
class Step:
    at: float  # sandbox clock, epoch seconds
    move: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    tenant_id: int
    collection: str
    number: str
    created: float
    steps: list[Step]
    done: list[str] = field(default_factory=list)
    ended: str | None = None  # "refused: ..." / "superseded: ..."
    ignored: bool = False  # there before live mode started, or a credit note


def s10_check_digit(digits: str) -> int:
    """The UPU S10 check digit of 8 serial digits (weights 8 6 4 2 3 5 9 7, mod 11)."""
    check = 11 - sum(int(d) * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11
    return 0 if check == 10 else 5 if check == 11 else check


def tracking_number(rng: random.Random) -> str:
    """A UPU S10 parcel id (PostNord style): 2 letters, 8 digits, check digit, ``SE``."""
    digits = f"{rng.randint(0, 99_999_999):08d}"
    return f"{rng.choice(TRACKING_PREFIXES)}{digits}{s10_check_digit(digits)}SE"


def _epoch(stamp: datetime) -> float:
    return stamp.replace(tzinfo=STOCKHOLM).timestamp()


class LiveFortnox:
    """Moves documents on, deterministically per seed; ``await tick()`` does what is due."""

    def __init__(self, app: FastAPI, sandbox: FortnoxSandbox, *, seed: int = 1,
                 delay_seconds: float = DEFAULT_DELAY_SECONDS) -> None:
        if delay_seconds < 0:
            raise ValueError("delay_seconds must be 0 or more")
        self.app = app
        self.sb = sandbox
        self.seed = seed
        self.delay = float(delay_seconds)
        self.started = sandbox.clock.time()
        self.plans: dict[tuple[int, str, str], Plan] = {}
        self._data: dict[int, Any] = {}  # tenant → the data dict seen (a reset replaces it)
        self.moves: dict[str, int] = {}
        self.refused: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        self.ignored = 0
        self.recent: deque[dict[str, Any]] = deque(maxlen=100)
        self._busy = threading.Lock()  # one tick at a time (the loop, the admin route, a test thread)

    # ------------------------------------------------------------------ planning
    def plan_for(self, tenant_id: int, collection: str, doc: dict[str, Any], created: float) -> list[Step]:
        rng = random.Random(f"fortnox-live:{self.seed}:{tenant_id}:{collection}:{doc['DocumentNumber']}")
        d = self.delay
        first = created + d * (1 + 0.5 * rng.random())

        def later(t: float) -> float:
            return t + d * (0.5 + rng.random())

        if collection == "orders":
            roll = rng.random()
            if roll < 0.08:
                return [Step(first, "order_cancelled")]
            if roll < 0.50:
                return [Step(first, "order_delivered", {"tracking": tracking_number(rng)}),
                        Step(later(first), "order_invoiced")]
            if roll < 0.92:
                return [Step(first, "order_invoiced")]
            return []  # left open (back-ordered)
        if str(doc.get("OrderReference") or "0") != "0":  # made from an order: book, usually paid
            steps = [Step(first, "invoice_booked")]
            if rng.random() < 0.85:
                steps.append(Step(later(first), "invoice_paid"))
            return steps
        if rng.random() < 0.06:
            return [Step(first, "invoice_cancelled")]
        steps = [Step(first, "invoice_delivered", {"tracking": tracking_number(rng)}) if rng.random() < 0.55
                 else Step(first, "invoice_sent")]
        booked = later(first)
        steps.append(Step(booked, "invoice_booked"))
        roll = rng.random()
        if roll < 0.04:
            steps.append(Step(later(booked), "invoice_credited"))
        elif roll < 0.84:
            steps.append(Step(later(booked), "invoice_paid"))
        return steps

    def scan(self) -> int:
        """Plan every document not seen yet; returns how many new plans there are."""
        new = 0
        for tenant_id, company in list(self.sb.companies.items()):
            with company.lock:
                if self._data.get(tenant_id) is not company.data:  # new company, or reset: start over
                    self.plans = {k: p for k, p in self.plans.items() if k[0] != tenant_id}
                    self._data[tenant_id] = company.data
                for collection in ("orders", "invoices"):
                    for number, doc in company.data[collection].items():
                        key = (tenant_id, collection, number)
                        if key in self.plans:
                            continue
                        created = _epoch(company.modified_at(collection, number))
                        ignored = created < self.started - 1 or doc.get("Credit") == "true"
                        steps = [] if ignored else self.plan_for(tenant_id, collection, doc, created)
                        self.ignored += ignored
                        self.plans[key] = Plan(tenant_id, collection, number, created, steps, ignored=ignored)
                        new += 1
        return new

    # ------------------------------------------------------------------ moving
    async def tick(self, now: float | None = None) -> list[dict[str, Any]]:
        """Plan new documents, then make every move due by ``now`` (sandbox clock); returns the moves."""
        while not self._busy.acquire(blocking=False):
            await asyncio.sleep(0.01)
        try:
            return await self._tick(now)
        finally:
            self._busy.release()

    async def _tick(self, now: float | None) -> list[dict[str, Any]]:
        self.scan()
        now = self.sb.clock.time() if now is None else now
        due = sorted(((p.steps[0].at, k) for k, p in self.plans.items() if p.steps and p.steps[0].at <= now))
        made = []
        for _at, key in due:
            plan = self.plans[key]
            while plan.steps and plan.steps[0].at <= now and plan.ended is None:
                step = plan.steps.pop(0)
                entry = await self._move(plan, step)
                if entry is not None:
                    made.append(entry)
        return made

    async def _move(self, plan: Plan, step: Step) -> dict[str, Any] | None:
        company = self.sb.company(plan.tenant_id)
        with company.lock:
            doc = company.get(plan.collection, plan.number)
            doc = json.loads(json.dumps(doc, default=str)) if doc is not None else None
            today = company.clock.today().isoformat()
        superseded = self._superseded(plan, step, doc)
        if superseded is not None:
            why, ends = superseded
            if ends:
                plan.ended, plan.steps = f"superseded: {why}", []
            bump(self.skipped, step.move)
            return None
        assert doc is not None
        kind, number = ("Order", "orders") if plan.collection == "orders" else ("Invoice", "invoices")
        path = f"/3/{number}/{quote(plan.number, safe='')}"
        detail: dict[str, Any] = {}
        if step.move in ("order_delivered", "invoice_delivered"):
            if str(doc.get("ExternalInvoiceReference2") or ""):
                bump(self.skipped, step.move)  # the field is taken: leave it, the rest of the plan goes on
                return None
            fields: dict[str, Any] = {"ExternalInvoiceReference2": step.detail["tracking"]}
            if plan.collection == "orders":
                fields["DeliveryDate"] = today
            status, body = await self.call(plan.tenant_id, "PUT", path, {kind: fields})
            detail["tracking"] = step.detail["tracking"]
        elif step.move == "invoice_paid":
            status, body, detail = await self._pay(plan, doc, today)
        else:
            action = {"order_invoiced": "createinvoice", "order_cancelled": "cancel", "invoice_sent": "externalprint",
                      "invoice_booked": "bookkeep", "invoice_credited": "credit",
                      "invoice_cancelled": "cancel"}[step.move]
            status, body = await self.call(plan.tenant_id, "PUT", f"{path}/{action}")
            if step.move == "order_invoiced" and status == 200:
                detail["invoice"] = body["Order"]["InvoiceReference"]
            if step.move == "invoice_credited" and status == 200:
                detail["credit_invoice"] = body["Invoice"]["CreditInvoiceReference"]
        entry = {"tenant_id": plan.tenant_id, "document": plan.collection[:-1], "number": plan.number,
                 "move": step.move, "at": datetime.fromtimestamp(self.sb.clock.time(), STOCKHOLM)
                 .isoformat(timespec="seconds"), **detail}
        if status >= 300:
            error = (body or {}).get("ErrorInformation", {}) if isinstance(body, dict) else {}
            message = error.get("message") or error.get("Message")
            plan.ended, plan.steps = f"refused: HTTP {status} {message or body}", []
            bump(self.refused, step.move)
            entry["refused"] = f"HTTP {status}: {message or body}"
        else:
            bump(self.moves, step.move)
            plan.done.append(step.move)
        self.recent.append(entry)
        return entry

    @staticmethod
    def _superseded(plan: Plan, step: Step, doc: dict[str, Any] | None) -> tuple[str, bool] | None:
        """Why this move is not needed (someone else got there first) and whether the plan ends, or None."""
        if doc is None:
            return "document gone", True
        if doc.get("Cancelled"):
            return "cancelled", True
        if plan.collection == "orders" and str(doc.get("InvoiceReference") or "0") != "0":
            return f"invoiced as {doc['InvoiceReference']}", True  # that invoice gets a plan of its own
        if plan.collection == "invoices":
            if str(doc.get("CreditInvoiceReference") or "0") != "0":
                return "credited", True
            if doc.get("FinalPayDate"):
                return "paid", True
            if step.move == "invoice_paid" and float(doc.get("Balance") or 0) <= 0:
                return "nothing to pay", True
            if doc.get("Booked") and step.move == "invoice_cancelled":
                return "booked", True
            if doc.get("Booked") and step.move in ("invoice_booked", "invoice_delivered"):
                return "booked", False  # the rest of the plan (payment) still goes on
        return None

    async def _pay(self, plan: Plan, doc: dict[str, Any], today: str) -> tuple[int, Any, dict[str, Any]]:
        """The customer pays the balance: register the payment, then book it."""
        balance = float(doc.get("Balance") or 0)
        payment: dict[str, Any] = {"InvoiceNumber": int(plan.number) if plan.number.isdigit() else plan.number,
                                   "PaymentDate": max(today, str(doc.get("InvoiceDate") or today))}
        payment["AmountCurrency" if doc.get("Currency", "SEK") != "SEK" else "Amount"] = round(balance, 2)
        status, body = await self.call(plan.tenant_id, "POST", "/3/invoicepayments", {"InvoicePayment": payment})
        if status != 201:
            return status, body, {}
        number = str(body["InvoicePayment"]["Number"])
        status, body = await self.call(plan.tenant_id, "PUT", f"/3/invoicepayments/{number}/bookkeep")
        return status, body, {"payment": number, "amount": round(balance, 2), "currency": doc.get("Currency")}

    async def call(self, tenant_id: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request to the sandbox's own handlers, in process, past the gateway (a web-app user)."""
        payload = b"" if body is None else json.dumps(body).encode()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"sandbox.live"), (b"content-type", b"application/json"),
                             (b"content-length", str(len(payload)).encode())],
                 "client": ("127.0.0.1", 0), "server": ("sandbox.live", 80), "state": {"tenant_id": tenant_id}}
        delivered = False
        result: dict[str, Any] = {"status": 0, "chunks": []}

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": payload, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                result["status"] = message["status"]
            elif message["type"] == "http.response.body":
                result["chunks"].append(message.get("body", b""))

        await FastAPI.__call__(self.app, scope, receive, send)
        raw = b"".join(result["chunks"])
        return int(result["status"]), (json.loads(raw) if raw.strip() else None)

    # ------------------------------------------------------------------ report
    def report(self) -> dict[str, Any]:
        now = self.sb.clock.time()
        plans = list(self.plans.values())
        upcoming = [p.steps[0].at for p in plans if p.steps]
        return {
            "enabled": True, "service": "fortnox", "seed": self.seed, "delay_seconds": self.delay,
            "started_at": datetime.fromtimestamp(self.started, STOCKHOLM).isoformat(timespec="seconds"),
            "documents": {c: sum(1 for p in plans if p.collection == c and not p.ignored)
                          for c in ("orders", "invoices")},
            "left_open": sum(1 for p in plans if not p.ignored and not p.steps and not p.done and not p.ended),
            "ignored": self.ignored,
            "moves": {m: self.moves.get(m, 0) for m in MOVES},
            "moved_total": sum(self.moves.values()),
            "refused": dict(self.refused), "skipped": dict(self.skipped),
            "pending_moves": sum(len(p.steps) for p in plans),
            "next_move_in_seconds": round(min(upcoming) - now, 1) if upcoming else None,
            "recent": list(self.recent)[-30:],
        }


def install(app: FastAPI, sandbox: FortnoxSandbox, *, live: bool, seed: int,
            delay_seconds: float = DEFAULT_DELAY_SECONDS) -> LiveFortnox | None:
    """``/_sandbox/live`` routes always; with ``live`` the mover and its loop in the app's lifespan."""
    mover = LiveFortnox(app, sandbox, seed=seed, delay_seconds=delay_seconds) if live else None
    loop: LiveLoop | None = None
    if mover is not None:
        async def tick() -> None:
            await mover.tick()

        loop = LiveLoop("fortnox", tick, period=max(0.2, min(5.0, mover.delay / 24)))
        app.router.lifespan_context = loop.lifespan
    app.state.live = mover
    app.state.live_loop = loop

    @app.get("/_sandbox/live")
    async def live_report() -> JSONResponse:
        if mover is None or loop is None:
            return JSONResponse(OFF)
        return JSONResponse({**mover.report(), "loop": loop.status()})

    @app.post("/_sandbox/live/tick")
    async def live_tick(request: Request) -> JSONResponse:
        """Run the moves due now (on the sandbox clock) instead of waiting for the loop."""
        if mover is None:
            return JSONResponse({"detail": "live mode is off: start the sandbox with --live"}, status_code=409)
        made = await mover.tick()
        return JSONResponse({"moves": made, "report": mover.report()})

    return mover

