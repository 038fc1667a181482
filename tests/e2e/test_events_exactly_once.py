"""Fortnox events end to end, exactly once: 200 status changes under duplicates, a disconnect and a
killed worker (issue 16's acceptance).

The chain is the production one, driven the way Airflow drives it:

* the Fortnox sandbox's WebSocket (``/topics-v1``) with duplicated events (its ``duplicate_every``
  knob) and every socket dropped in the middle (``POST /_sandbox/events/disconnect``);
* the tenant's status asset watcher, taken from the status DAG as the dag-processor parses it, its
  trigger re-made from ``serialize()`` and run in Airflow's own ``SharedStreamManager`` the way the
  triggerer's ``TriggerRunner`` runs a shared-stream event trigger (in a thread of this process);
  a "triggerer restart" stops that manager and starts a new one;
* each trigger event becomes an asset event through ``AssetManager.register_asset_change`` (what
  ``Trigger.submit_event`` does) and the events waiting when a run starts are the run's
  ``consumed_asset_events`` (what the scheduler does for an asset-triggered run);
* the run is the status DAG's ``dag.test()`` in a WORKER SUBPROCESS; one of them is killed with
  SIGKILL after it took its batches and pushed part of them, then its run is retried (the same run
  id, a new try: what Airflow does with a task whose worker died);
* the DAG's last task (``commit_events``) marks the run's batches applied; the stream advances the
  offsets it persists in the ledger.

Oracles are the sandboxes' own records: the Fortnox sandbox's event log (which event each of our
changes produced, in which position of its topic) and the Jetshop sandbox's status changes and
captures. A checker samples all along that the offsets the ledger persists never point past an event
whose change is not yet in the shop (positions come from the sandbox's log; jetfort never compares
offsets).

Run as a script (``python -m tests.e2e.test_events_exactly_once worker ...``) it is the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
TENANT = "demo_erp"
SHOP = "demoshop"
DAG_ID = f"jetfort__{TENANT}__order_status"
STATUS_TOPICS = ("orders", "invoices")
ORDERS = 100
INVOICE = 60  # of the delivered orders, this many are invoiced ...
PAY = 40  # ... and of those, this many are paid: 100 + 60 + 40 = 200 changes
DELIVERED, INVOICED, PAID = 3, 11, 12  # shop statuses (demo_erp + tests.e2e.test_order_status.full_status_map)
REQUIRED = {"deliver": DELIVERED, "invoice": INVOICED, "pay": PAID}
DUPLICATE_EVERY = 3
WORKER_SECONDS = 420
STOP_SECONDS = 20  # a triggerer's graceful stop


# ------------------------------------------------------------------------------------------------ oracles
@dataclass
class Change:
    """One status change made in Fortnox: which shop order, which step, the events it produced."""

    order_id: int
    step: str  # deliver | invoice | pay
    events: list[tuple[str, int]] = field(default_factory=list)  # (topic, position in the sandbox's log)

    @property
    def required(self) -> int:
        return REQUIRED[self.step]


class FortnoxEvents:
    """The Fortnox sandbox's event log and knobs, through its admin routes (the test's oracle)."""

    def __init__(self, url: str, tenant_id: int) -> None:
        self.url = url.rstrip("/")
        self.tenant_id = tenant_id

    def log(self, topic: str) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url}/_sandbox/events/log", params={"topic": topic}, timeout=30)
        body.raise_for_status()
        data = body.json()
        return list(data["events"] if isinstance(data, dict) else data)

    def positions(self, topic: str) -> dict[str, int]:
        return {str(e["offset"]): i for i, e in enumerate(self.log(topic))}

    def ours(self, topic: str, start: int = 0) -> list[tuple[int, dict[str, Any]]]:
        return [(i, e) for i, e in enumerate(self.log(topic)) if i >= start and int(e["tenantId"]) == self.tenant_id]

    def knobs(self, **values: Any) -> None:
        httpx.post(f"{self.url}/_sandbox/events/knobs", json=values, timeout=30).raise_for_status()

    def disconnect(self) -> int:
        """Drop every open socket now; how many there were."""
        answer = httpx.post(f"{self.url}/_sandbox/events/disconnect", timeout=30).raise_for_status()
        return int(answer.json()["closed"])

    def connections(self) -> Any:
        return httpx.get(f"{self.url}/_sandbox/events/connections", timeout=30).raise_for_status().json()


def shop_statuses(env: Any) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for change in env.jetshop.status_changes(SHOP):
        out.setdefault(int(change["order_id"]), []).append(int(change["to_status_id"]))
    return out


# ------------------------------------------------------------------------------------------------ triggerer
class Triggerer:
    """The status asset's watcher trigger run as the triggerer runs it: re-made from ``serialize()``,
    subscribed to Airflow's ``SharedStreamManager`` under its ``shared_stream_key()`` and read through
    ``filter_shared_stream``; its events land in ``payloads`` (a thread with its own event loop)."""

    def __init__(self, classpath: str, kwargs: dict[str, Any]) -> None:
        self.classpath, self.kwargs = classpath, kwargs
        self.payloads: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        ready = threading.Event()

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._task = self._loop.create_task(self._run())
                ready.set()
                self._loop.run_until_complete(self._task)
            except asyncio.CancelledError:
                pass
            except RuntimeError as exc:  # "Event loop stopped before Future completed": a crash
                if self._task is not None and not self._task.done():
                    self._bury()
                    return
                self.error = exc
            except BaseException as exc:  # surfaced by the test (check())
                self.error = exc
            finally:
                if not self._loop.is_running():
                    self._loop.close()

        self._thread = threading.Thread(target=main, name="triggerer", daemon=True)
        self._thread.start()
        ready.wait(30)

    def _bury(self) -> None:
        """After a crash (the loop stopped dead, nothing of the trigger ran since): cancel what was left
        and let it unwind, so no half-dead socket or task outlives the "process" (nothing persists
        offsets on the way out: they are only saved by the stream's commit loop)."""
        assert self._loop is not None
        for _ in range(3):
            left = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
            if not left:
                break
            for t in left:
                t.cancel()
            self._loop.run_until_complete(asyncio.wait(left, timeout=5))
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.run_until_complete(self._loop.shutdown_default_executor())

    async def _run(self) -> None:
        from airflow.triggers.shared_stream import SharedStreamManager

        module, _, name = self.classpath.rpartition(".")
        trigger = getattr(importlib.import_module(module), name)(**self.kwargs)  # as the triggerer re-makes it
        key = trigger.shared_stream_key()
        assert key is not None, "the status trigger shares no stream (shared_stream_key() is None)"
        manager = SharedStreamManager()
        try:
            stream = manager.subscribe(trigger_id=1, trigger=trigger, key=key)
            async for event in trigger.filter_shared_stream(stream):
                with self.lock:
                    self.payloads.append(dict(event.payload))
        finally:
            with contextlib.suppress(Exception):
                await manager.unsubscribe(1, key)
            await manager.stop_all()
            with contextlib.suppress(Exception):
                await trigger.cleanup()

    def take(self) -> list[dict[str, Any]]:
        self.check()
        with self.lock:
            taken, self.payloads = self.payloads, []
        return taken

    def check(self) -> None:
        if self.error is not None:
            raise AssertionError(f"the trigger failed: {type(self.error).__name__}: {self.error}") from self.error

    def stop(self, *, crash: bool = False) -> str:
        """Stop the trigger: cancelled as on a triggerer's shutdown, or (``crash``, or when the cancel does
        not finish within STOP_SECONDS) its event loop stopped dead as when the process dies; then the
        process-level hub is forgotten, as a new process would start without it. Says which it was."""
        from jetfort.events import hub

        began = time.monotonic()
        how = "crashed"
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            if not crash:
                self._loop.call_soon_threadsafe(self._task.cancel)
                assert self._thread is not None
                self._thread.join(STOP_SECONDS)
                how = f"cancelled in {time.monotonic() - began:.1f} s"
            if self._thread is not None and self._thread.is_alive():
                if not crash:
                    how = f"cancel did not finish in {STOP_SECONDS} s: crashed"
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(30)
            assert not self._thread.is_alive(), "the trigger's thread did not end"
        hub.reset()
        return how


# ------------------------------------------------------------------------------------------------ scheduler
class Runs:
    """Asset-triggered runs of the status DAG in worker subprocesses (one at a time, like one slot)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.count = 0
        self.results: list[dict[str, Any]] = []

    def start(self, payloads: list[dict[str, Any]], run_after: str) -> tuple[subprocess.Popen[bytes], Path]:
        self.count += 1
        payload_file = self.workdir / f"run{self.count}.payloads.json"
        payload_file.write_text(json.dumps(payloads))
        out = self.workdir / f"run{self.count}.result.json"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
        log = open(self.workdir / f"run{self.count}.log", "wb")  # noqa: SIM115 - closed by the child's end
        proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.test_events_exactly_once", "worker",
                                 str(payload_file), run_after, str(out)], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return proc, out

    def finish(self, proc: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
        try:
            code = proc.wait(WORKER_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"worker {proc.pid} still running after {WORKER_SECONDS} s") from None
        assert code == 0 and out.exists(), (
            f"worker exit {code}; its log:\n{(out.parent / out.name.replace('.result.json', '.log')).read_text()[-4000:]}")
        result = dict(json.loads(out.read_text()))
        self.results.append(result)
        return result

    def run(self, payloads: list[dict[str, Any]], run_after: str | None = None) -> dict[str, Any]:
        proc, out = self.start(payloads, run_after or dt.datetime.now(dt.UTC).isoformat())
        return self.finish(proc, out)


# ------------------------------------------------------------------------------------------------ the test
class Scenario:
    def __init__(self, env: Any, workdir: Path) -> None:
        self.env = env
        self.events = FortnoxEvents(env.fortnox_url, env.env.fortnox_tenant_id)
        self.changes: list[Change] = []
        self.orders: list[tuple[int, str]] = []  # (shop order id, Fortnox order number)
        self.invoices: dict[int, str] = {}
        self.runs = Runs(workdir)
        self.violations: list[str] = []
        self.samples = 0
        self.stream_key: Any = None
        self.sockets: dict[int, dict[str, Any]] = {}  # the sandbox's view of each socket it served
        self.ledger = env.ledger()
        self._stop = threading.Event()

    # -- changes in Fortnox, each with the events it produced ----------------------------------------
    def change(self, order_id: int, number: str, step: str) -> None:
        from jetfort.tasks.runtime import TenantRuntime
        from sandbox.demo_status import _tracking_model

        before = {t: len(self.events.log(t)) for t in STATUS_TOPICS}
        with TenantRuntime.for_tenant(TENANT) as rt:
            fortnox = rt.fortnox
            if step == "deliver":
                from jetfort.fortnox.models import FortnoxOrder

                fortnox.update_order(number, _tracking_model(FortnoxOrder, rt.rules.status_map.tracking_field,
                                                             f"PN{order_id:08d}SE"))
            elif step == "invoice":
                self.invoices[order_id] = str(fortnox.create_invoice_from_order(number))
            else:
                _pay(fortnox, self.invoices[order_id])
        made = Change(order_id, step)
        for topic in STATUS_TOPICS:
            made.events += [(topic, i) for i, _ in self.events.ours(topic, before[topic])]
        assert made.events, f"the Fortnox sandbox emitted no event for {step} of shop order {order_id}"
        self.changes.append(made)

    # -- the invariant: persisted offsets never ahead of what the shop shows ---------------------------
    def check_offsets(self) -> dict[str, int]:
        from jetfort.events.offsets import persisted_offsets

        offsets = persisted_offsets(self.ledger, self.stream_key)  # first the offsets, then the shop
        shop = shop_statuses(self.env)
        at: dict[str, int] = {}
        for topic, offset in offsets.items():
            if topic not in STATUS_TOPICS:
                continue
            positions = self.events.positions(topic)
            if str(offset) not in positions:
                self.violations.append(f"persisted offset {offset!r} of {topic} is not in the sandbox's log")
                continue
            at[topic] = positions[str(offset)]
        for change in self.changes:
            covered = [(t, p) for t, p in change.events if t in at and p <= at[t]]
            if covered and change.required not in shop.get(change.order_id, []):
                self.violations.append(
                    f"offset of {covered[0][0]} persisted at position {at[covered[0][0]]} covers the {change.step} "
                    f"of shop order {change.order_id} (event at {covered[0][1]}), not in the shop yet")
        self.samples += 1
        return at

    @contextlib.contextmanager
    def checker(self) -> Iterator[None]:
        def loop() -> None:
            while not self._stop.wait(0.3):
                try:
                    self.check_offsets()
                    for conn in self.events.connections()["connections"]:
                        self.sockets[int(conn["id"])] = conn
                except Exception as exc:  # the test fails on it (violations), never silently
                    self.violations.append(f"offset check failed: {type(exc).__name__}: {exc}")

        thread = threading.Thread(target=loop, name="offset-checker", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(30)

    def wait_subscribed(self, newer_than: int = 0, seconds: float = 60) -> int:
        """Until the sandbox shows a subscribed socket (id > ``newer_than``) holding our tenant: a
        subscription without a persisted offset gets the events from then on."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for conn in self.events.connections()["connections"]:
                if conn["id"] > newer_than and conn["subscribed"] and self.events.tenant_id in conn["tenantIds"]:
                    return int(conn["id"])
            time.sleep(0.2)
        raise AssertionError(f"no subscribed socket for tenant {self.events.tenant_id} within {seconds} s: "
                             f"{self.events.connections()}")

    # -- waiting for the stream --------------------------------------------------------------------------
    def wait_delivered(self, triggerer: Triggerer, since: int, taken: list[dict[str, Any]],
                       seconds: float = 90) -> list[dict[str, Any]]:
        """Take the trigger's batches until every event of the changes from ``since`` on was received."""
        wanted = {(t, p) for c in self.changes[since:] for t, p in c.events}
        deadline = time.monotonic() + seconds
        while True:
            taken += triggerer.take()
            positions = {t: self.events.positions(t) for t in STATUS_TOPICS}
            got = {(e["topic"], positions[e["topic"]].get(str(e["offset"]), -1)) for p in taken for e in p["events"]}
            missing = wanted - got
            if not missing:
                return taken
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(missing)} events of our changes never reached the trigger, "
                                     f"e.g. {sorted(missing)[:5]}; trigger batches {len(taken)}")
            time.sleep(0.3)


def _pay(fortnox: Any, invoice_number: str) -> None:
    from jetfort.fortnox.models import InvoicePayment

    invoice = fortnox.get_invoice(invoice_number)
    amount = Decimal(invoice.balance if invoice.balance is not None else invoice.total or 0)
    fortnox.create_invoice_payment(InvoicePayment(
        invoice_number=int(invoice_number), amount=amount.quantize(Decimal("0.01")),
        payment_date=max(invoice.invoice_date or dt.date.today(), dt.date.today())))


def status_watcher(dag: Any) -> tuple[Any, Any]:
    """(asset, trigger) of the status DAG's Fortnox event watcher, as the DAG declares it."""
    todo = [dag.timetable.asset_condition]
    while todo:
        node = todo.pop()
        todo.extend(getattr(node, "objects", ()))  # AssetAny / AssetAll
        for watcher in getattr(node, "watchers", None) or []:
            if type(watcher.trigger).__name__ == "FortnoxEventTrigger":
                return node, watcher.trigger
    raise AssertionError(f"{dag.dag_id} has no Fortnox event watcher in its schedule: {dag.timetable!r}")


def enable_events(env: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Events on for demo_erp (its rules) and the sandbox's WebSocket in the Fortnox connection."""
    from tests.e2e.test_order_status import full_status_map

    full_status_map(env)
    rules = env.tenant_rules(TENANT)
    rules["events"] = {"enabled": True, "status": True, "catalog": False}
    env.set_tenant(TENANT, rules)
    ws = env.fortnox_url.replace("http://", "ws://", 1).rstrip("/") + "/topics-v1"
    for conn_id, conn in env.env.connections.items():
        if conn["conn_type"] == "fortnox":
            conn["extra"]["events_url"] = ws
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return ws


def link_orders(env: Any, count: int) -> list[tuple[int, str]]:
    from tests.e2e.test_order_status import link_order

    return [link_order(env) for _ in range(count)]


@pytest.mark.timeout(1500)
def test_200_changes_reach_the_shop_exactly_once_under_duplicates_disconnect_and_a_killed_worker(
        orders_env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from jetfort.events.offsets import stream_key_for
    from tests.harness import load_dag

    env = orders_env
    ws = enable_events(env, monkeypatch)
    _, trigger = status_watcher(load_dag(DAG_ID))
    classpath, kwargs = trigger.serialize()
    sc = Scenario(env, tmp_path)
    sc.orders = link_orders(env, ORDERS)
    sc.events.knobs(duplicate_every=DUPLICATE_EVERY)
    triggerer = Triggerer(classpath, kwargs)
    triggerer.start()
    figures: dict[str, Any] = {}
    sc.stream_key = stream_key_for(ws, env.env.company["client_id"])  # where the stream keeps its offsets
    try:
        figures["socket"] = sc.wait_subscribed()
        with sc.checker():
            _phases(sc, triggerer, figures)
            triggerer = figures.pop("_triggerer")
            _settle(sc, triggerer, figures)
        _assert_exactly_once(sc, figures)
    finally:
        figures["triggerer stop at the end"] = triggerer.stop()
        print("\nevents exactly-once figures:\n" + "\n".join(f"  {k}: {v}" for k, v in figures.items()))


def _phases(sc: Scenario, triggerer: Triggerer, figures: dict[str, Any]) -> None:
    env = sc.env
    delivered_half = sc.orders[: ORDERS // 2]
    # 1. the first 50 deliveries: one asset-triggered run
    for order_id, number in delivered_half:
        sc.change(order_id, number, "deliver")
    batches = sc.wait_delivered(triggerer, 0, [])
    first = sc.runs.run(batches)
    assert first["state"] == "success", first
    assert {task for task, state in first["tasks"].items() if state != "skipped"} == {"read_changes"}, first
    # 2. 50 more deliveries, every socket dropped in the middle; the run that takes them is killed
    mark = len(sc.changes)
    for i, (order_id, number) in enumerate(sc.orders[ORDERS // 2:]):
        if i == 25:
            assert sc.events.disconnect() == 1  # ONE socket for the app, dropped
            figures["disconnect after change"] = len(sc.changes)
        sc.change(order_id, number, "deliver")
    batches = sc.wait_delivered(triggerer, mark, [])
    figures["socket after the disconnect"] = sc.wait_subscribed(newer_than=figures["socket"])  # it reconnected
    shop_before = sum(len(v) for v in shop_statuses(env).values())
    run_after = dt.datetime.now(dt.UTC).isoformat()
    proc, _ = sc.runs.start(batches, run_after)
    deadline = time.monotonic() + WORKER_SECONDS
    while sum(len(v) for v in shop_statuses(env).values()) < shop_before + 5:
        assert proc.poll() is None, f"the worker ended (exit {proc.returncode}) before it pushed anything"
        assert time.monotonic() < deadline, "the worker pushed nothing"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    pushed_when_killed = sum(len(v) for v in shop_statuses(env).values()) - shop_before
    figures["killed worker had pushed"] = f"{pushed_when_killed} of 50 changes"
    assert 0 < pushed_when_killed < 50, "the worker must die in the middle of its pushes"
    at = sc.check_offsets()
    figures["offsets after the kill (positions)"] = at
    taken = [p for c in sc.changes[mark:] for t, p in c.events if t == "orders"]
    assert at.get("orders", -1) < min(taken), "offsets moved past the events of the killed run"
    # the triggerer restarts (replays from the persisted offsets), then the killed run is retried
    figures["triggerer restart"] = triggerer.stop(crash=True)
    triggerer = Triggerer(triggerer.classpath, triggerer.kwargs)
    triggerer.start()
    figures["socket after the restart"] = sc.wait_subscribed(newer_than=figures["socket after the disconnect"])
    retried = sc.runs.run(batches, run_after)  # the same run, a new try: Airflow's answer to a dead worker
    assert retried["state"] == "success", retried
    assert retried["run_id"] == f"manual__{run_after}_events", retried
    assert retried["try_numbers"].get("read_changes", 0) >= 2, retried  # an event run pushes in its first task
    figures["killed run retried"] = f"{retried['run_id']} tries {retried['try_numbers']}"
    replayed = sc.wait_delivered(triggerer, mark, [])
    figures["batches replayed after the restart"] = len(replayed)
    replay = sc.runs.run(replayed)
    assert replay["state"] == "success", replay
    # 3. 60 invoiced, then 40 of those paid: two more runs
    for step, chosen in (("invoice", sc.orders[:INVOICE]), ("pay", sc.orders[:PAY])):
        mark = len(sc.changes)
        for order_id, number in chosen:
            sc.change(order_id, number, step)
        done = sc.runs.run(sc.wait_delivered(triggerer, mark, []))
        assert done["state"] == "success", done
    figures["_triggerer"] = triggerer


def _settle(sc: Scenario, triggerer: Triggerer, figures: dict[str, Any], seconds: float = 120) -> None:
    """Runs for whatever the trigger still yields (duplicates), until the persisted offsets reached our
    last events and no batch is left."""
    deadline = time.monotonic() + seconds
    last = {t: max((p for c in sc.changes for tt, p in c.events if tt == t), default=-1) for t in STATUS_TOPICS}
    while True:
        left = triggerer.take()
        if left:
            assert sc.runs.run(left)["state"] == "success"
        at = sc.check_offsets()
        if all(at.get(t, -1) >= p for t, p in last.items() if p >= 0) and not triggerer.payloads:
            figures["persisted offsets at the end (positions)"] = at
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"persisted offsets {at} never reached our last events {last}")
        time.sleep(1)


def _assert_exactly_once(sc: Scenario, figures: dict[str, Any]) -> None:
    env = sc.env
    shop = shop_statuses(env)
    expected: dict[int, list[int]] = {}
    for change in sc.changes:
        expected.setdefault(change.order_id, []).append(change.required)
    figures["changes"] = Counter(c.step for c in sc.changes)
    figures["runs"] = sc.runs.count
    figures["offset samples"] = sc.samples
    assert len(sc.changes) == 200
    wrong = {o: (shop.get(o), want) for o, want in expected.items() if shop.get(o) != want}
    assert not wrong, f"{len(wrong)} shop orders not changed exactly once per step: {list(wrong.items())[:10]}"
    captures = Counter(int(c["order_id"]) for c in env.jetshop.captures(SHOP))
    figures["captures"] = sum(captures.values())
    doubles = {o: n for o, n in captures.items() if n > 1}
    assert doubles == {}, f"double captures: {doubles}"
    assert set(captures) == set(expected), "every delivered order is captured once"
    mails = Counter((int(m["order_id"]), int(m["status_id"])) for m in env.jetshop.emails(SHOP))
    assert all(n == 1 for n in mails.values()), {k: n for k, n in mails.items() if n > 1}
    assert sc.samples >= 10
    figures["sockets the sandbox served"] = len(sc.sockets)
    figures["duplicates the sandbox sent"] = sum(int(c["duplicates"]) for c in sc.sockets.values())
    assert figures["duplicates the sandbox sent"] > 0, sc.sockets
    assert not sc.violations, f"{len(sc.violations)} times the persisted offsets were ahead:\n" + "\n".join(
        sc.violations[:20])
    figures["events in the runs' batches"] = sum(len(events) for events in _payload_events(sc))


def _payload_events(sc: Scenario) -> Iterator[list[dict[str, Any]]]:
    for path in sorted(sc.runs.workdir.glob("run*.payloads.json")):
        for payload in json.loads(path.read_text()):
            yield list(payload["events"])


# ------------------------------------------------------------------------------------------------ worker
def worker(payload_file: str, run_after: str, out: str) -> int:
    """One asset-triggered run of the status DAG with these trigger payloads as its asset events."""
    from tests.harness import load_dag, run_asset_triggered, task_states

    dag = load_dag(DAG_ID)
    asset, _ = status_watcher(dag)
    payloads = json.loads(Path(payload_file).read_text())
    # the run id a scheduler gives an asset-triggered run; the same again for a retry of the run
    run_id = f"manual__{run_after}_events"  # created by dag.test as manual, then typed asset_triggered
    dag_run = run_asset_triggered(dag, asset, payloads, run_id, dt.datetime.fromisoformat(run_after))
    result = {"run_id": dag_run.run_id, "state": str(dag_run.state), "tasks": task_states(dag_run),
              "try_numbers": {ti.task_id: ti.try_number for ti in dag_run.get_task_instances()},
              "batches": len(payloads)}
    Path(out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["worker"]:
        raise SystemExit("usage: python -m tests.e2e.test_events_exactly_once worker PAYLOADS RUN_AFTER OUT")
    raise SystemExit(worker(*sys.argv[2:5]))
