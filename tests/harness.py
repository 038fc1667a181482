"""End-to-end harness: the sandboxes (Fortnox, Jetshop, Norce) in-process, connections and tenants
fed like a deployment, and DAG runs through Airflow's own ``dag.test()``.

Use the ``sync_env`` fixture (tests/conftest.py); it yields a :class:`SyncEnv`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox import demo_setup
from sandbox.server import serve_in_thread

REPO = Path(__file__).resolve().parents[1]


@dataclass
class SyncEnv:
    fortnox_url: str
    jetshop_url: str
    fortnox_app: Any  # FastAPI apps; in-process handles: ``fortnox``, ``jetshop`` below
    jetshop_app: Any
    env: demo_setup.SandboxEnvironment
    tenants_dir: Path
    ledger_url: str
    norce_url: str | None = None  # None: started with ``norce=False``
    norce_app: Any = None

    @property
    def fortnox(self) -> Any:
        return self.fortnox_app.state.sandbox

    @property
    def jetshop(self) -> Any:
        return self.jetshop_app.state.jetshop

    @property
    def norce(self) -> Any:
        """The Norce sandbox's state (``NorceSandbox``); connection ``norce_demo`` points at it."""
        if self.norce_app is None:
            raise RuntimeError("this environment runs without the Norce sandbox (norce=False)")
        return self.norce_app.state.norce

    def set_tenant(self, tenant_id: str, rules: dict[str, Any] | str) -> None:
        """Write (or replace) a tenant's rules, as editing its Variable would."""
        text = rules if isinstance(rules, str) else json.dumps(rules)
        (self.tenants_dir / f"{tenant_id}.json").write_text(text)
        import jetfort.factory

        jetfort.factory._cache = None

    def set_rate_window(self, monkeypatch: pytest.MonkeyPatch, window: float) -> None:
        """Tell the Fortnox connection the sandbox's (shorter) rate window, as its extra would."""
        for conn_id, conn in self.env.connections.items():
            if conn["conn_type"] == "fortnox":
                conn["extra"]["rate_window"] = window
                monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))

    def tenant_rules(self, tenant_id: str) -> dict[str, Any]:
        return dict(json.loads((self.tenants_dir / f"{tenant_id}.json").read_text()))

    def ledger(self) -> Any:
        from jetfort.ledger import Ledger

        return Ledger.from_url(self.ledger_url)


@contextmanager
def sandboxes(seed: int = 1, *, fortnox_kwargs: dict[str, Any] | None = None) -> Iterator[tuple[str, Any, str, Any]]:
    from sandbox.fortnox.app import create_app as fortnox_app
    from sandbox.jetshop.app import create_app as jetshop_app

    fapp = fortnox_app(seed=seed, **(fortnox_kwargs or {}))
    japp = jetshop_app(seed=seed)
    with ExitStack() as stack:
        furl = stack.enter_context(serve_in_thread(fapp))
        jurl = stack.enter_context(serve_in_thread(japp))
        yield furl, fapp, jurl, japp


@contextmanager
def norce_sandbox(seed: int = 1, **knobs: Any) -> Iterator[tuple[str, Any]]:
    """The Norce sandbox on a free loopback port: ``(url, app)``; ``app.state.norce`` is its state."""
    from sandbox.norce.app import create_app as norce_app

    app = norce_app(seed=seed, **knobs)
    try:
        with serve_in_thread(app) as url:
            yield url, app
    finally:
        app.state.norce.pusher.stop()  # its push thread: one per sandbox, not one per test left running


@contextmanager
def sync_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, seed: int = 1,
                     fortnox_kwargs: dict[str, Any] | None = None, norce: bool = True,
                     norce_kwargs: dict[str, Any] | None = None) -> Iterator[SyncEnv]:
    """Fortnox, Jetshop and (unless ``norce=False``) Norce sandboxes with every demo connection in
    ``AIRFLOW_CONN_*``, the example tenants in a tenants directory and a SQLite ledger.

    ``norce_kwargs``: knobs for the Norce sandbox's ``create_app`` (e.g. ``push_auto=False``)."""
    with ExitStack() as stack:
        furl, fapp, jurl, japp = stack.enter_context(sandboxes(seed, fortnox_kwargs=fortnox_kwargs))
        nurl, napp = stack.enter_context(norce_sandbox(seed, **(norce_kwargs or {}))) if norce else (None, None)
        env = demo_setup.provision(furl, jurl, norce_url=nurl)
        for name, value in env.env().items():
            monkeypatch.setenv(name, value)
        tenants = tmp_path / "tenants"
        shutil.copytree(demo_setup.EXAMPLE_TENANTS, tenants)
        for path in tenants.glob("*.json"):  # dag.test() waits out retry delays: short ones, set as a user would
            rules = json.loads(path.read_text())
            rules["retries"] = {"delay_seconds": 1}
            path.write_text(json.dumps(rules))
        monkeypatch.setenv("JETFORT_TENANTS_DIR", str(tenants))
        ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
        monkeypatch.setenv("JETFORT_LEDGER_URL", ledger_url)
        import jetfort.factory

        monkeypatch.setattr(jetfort.factory, "_cache", None)
        yield SyncEnv(furl, jurl, fapp, japp, env, tenants, ledger_url, nurl, napp)


def load_dag(dag_id: str) -> Any:
    """The DAG as Airflow parses it from dags/ with the current tenants."""
    from airflow.dag_processing.dagbag import DagBag

    import jetfort.factory

    jetfort.factory._cache = None
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert dag_id in bag.dags, f"{dag_id} not found; import errors: {bag.import_errors}"
    return bag.dags[dag_id]


def run_dag(dag_id: str, *, logical_date: dt.datetime | None = None, conf: dict[str, Any] | None = None) -> Any:
    """Run a whole DAG in-process with ``dag.test()``; returns the DagRun (check ``.state``)."""
    dag = load_dag(dag_id)
    kwargs: dict[str, Any] = {"run_conf": conf}
    if logical_date is not None:
        kwargs["logical_date"] = logical_date
    return dag.test(**kwargs)


def run_asset_triggered(dag: Any, asset: Any, payloads: list[dict[str, Any]], run_id: str,
                        run_after: dt.datetime) -> Any:
    """An asset-triggered run of ``dag`` through ``dag.test()``: the run consumes one asset event of
    ``asset`` per trigger payload (registered by Airflow's AssetManager, as the triggerer's are), so its
    tasks get them in ``triggering_asset_events``. ``run_id`` again continues that run (a dead worker's
    running tasks are retried, as the scheduler does). ``dag.test`` creates the run as a manual one
    before it is typed asset-triggered, so ``run_id`` must not use the ``asset_triggered__`` prefix."""
    from unittest import mock

    import airflow.models.dagrun as dagrun_module
    from airflow.assets.manager import AssetManager
    from airflow.models.dagrun import DagRun
    from airflow.utils.state import TaskInstanceState
    from airflow.utils.types import DagRunType
    from sqlalchemy import select

    original = dagrun_module.get_or_create_dagrun

    def with_asset_events(*args: Any, **kwargs: Any) -> Any:
        session = kwargs["session"]
        existing = session.scalar(select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == kwargs["run_id"]))
        if existing is not None:  # this run's worker died: its task is retried (what the scheduler does)
            for ti in existing.get_task_instances(session=session):
                if ti.state in (TaskInstanceState.RUNNING, TaskInstanceState.RESTARTING):
                    ti.state = TaskInstanceState.UP_FOR_RETRY
                    ti.end_date = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)  # its retry delay is over
            session.commit()
            existing.dag = kwargs["dag"]
            return existing
        dr = original(*args, **kwargs)
        if not dr.consumed_asset_events:
            for payload in payloads:
                event = AssetManager.register_asset_change(
                    asset=asset, extra={"from_trigger": True, "payload": payload}, session=session)
                assert event is not None, f"asset {asset.name} unknown to the metadata DB"
                dr.consumed_asset_events.append(event)
            dr.run_type = DagRunType.ASSET_TRIGGERED
            session.commit()
        return dr

    with mock.patch.object(dagrun_module, "get_or_create_dagrun", with_asset_events), \
            mock.patch.object(dagrun_module.DagRun, "generate_run_id", staticmethod(lambda **_: run_id)):
        return dag.test(logical_date=None, run_after=run_after)


def task_states(dag_run: Any) -> dict[str, str]:
    """task_id (with map index when mapped) → state, for assertions that name what failed."""
    out = {}
    for ti in dag_run.get_task_instances():
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        out[key] = str(ti.state)
    return out


def crash_ledger_writes(monkeypatch: pytest.MonkeyPatch, crash: Any) -> None:
    """Make the ledger raise inside a write transaction (so it rolls back) whenever
    ``crash(key, state, step)`` says so: "the worker died after the external effect (a Fortnox
    document, a shop status) and before jetfort recorded it". Covers both write paths, single
    :meth:`Ledger.transition` and batched :meth:`Ledger.transition_many`, which share no code path."""
    from jetfort.ledger.store import Ledger

    single, batch = Ledger._transition, Ledger.transition_many

    def one(ledger: Any, conn: Any, tenant: str, kind: str, key: str, state: str, **kwargs: Any) -> bool:
        if crash(key, state, kwargs.get("step")):
            raise RuntimeError(f"worker killed before recording {state} for {key}")
        return single(ledger, conn, tenant, kind, key, state, **kwargs)

    def many(ledger: Any, tenant: str, kind: str, changes: Any) -> set[str]:
        changes = list(changes)
        for change in changes:
            if crash(change["source_key"], change["state"], change.get("step")):
                raise RuntimeError(f"worker killed before recording {change['state']} for {change['source_key']}")
        return batch(ledger, tenant, kind, changes)

    monkeypatch.setattr(Ledger, "_transition", one)
    monkeypatch.setattr(Ledger, "transition_many", many)
