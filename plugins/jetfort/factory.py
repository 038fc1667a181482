"""The DAG factory: one DAG per tenant and flow part, built from the tenant rules.

A file in ``dags/`` calls :func:`tenant_dags` with the flow part it wires and a function that
adds the tasks; this module adds what every jetfort DAG has in common: the id
``jetfort__<tenant>__<part>``, a data-interval timetable (so windows and backfills mean
something; with Fortnox events on, or'ed with the event assets, see :mod:`jetfort.assets`, and a last
task ``commit_events``), tags, ``doc_md``, retries with backoff and a retry policy that fails fast on
permanent errors, the failure notifier, and a cap on a run's concurrent tasks.

Rules are read once per parse and nothing here touches the network. A task process parses a DAG
file only to run one task of one DAG: there (Airflow's parsing context names the DAG, see
:func:`parse_target`) the file builds that one tenant's DAG of that part from the tenant's own
Variable, not every tenant's DAGs (Airflow's documented optimization for generated DAGs; the task
starts in a fraction of the time, whatever the number of tenants). A tenant whose rules do not
validate gets no DAGs; ``dags/jetfort_rules_check.py`` turns its errors into an import error
shown in the UI, naming the tenant and the field, while every other tenant's DAGs stay.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow.sdk import (
    DAG,
    CronDataIntervalTimetable,
    ExceptionRetryPolicy,
    Param,
    RetryRule,
    get_parsing_context,
)
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.definitions.retry_policy import RetryAction

from jetfort.assets import schedule_for
from jetfort.rules import RulesError, TenantRules
from jetfort.tasks.events_commit import add_commit_events
from jetfort.tasks.notify import FailureNotifier
from jetfort.tasks.runtime import load_rules
from jetfort.tenants import load_tenants_from_airflow

START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

#: What a task instance may retry; permanent errors fail at once (see jetfort.errors).
RETRY_POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(exception="jetfort.errors.PermanentError", action=RetryAction.FAIL,
                  reason="permanent error: fix the input or the rules, then clear the task"),
        RetryRule(exception="jetfort.errors.TransientError", action=RetryAction.RETRY),
    ],
)

TaskBuilder = Callable[[TenantRules], None]


class InvalidTenantRules(ValueError):
    """Raised at parse time by dags/jetfort_rules_check.py, listing every invalid tenant."""


DAG_PREFIX = "jetfort__"


def dag_id(tenant: str, part: str) -> str:
    return f"{DAG_PREFIX}{tenant}__{part}"


def parse_target() -> tuple[str, str] | None:
    """(tenant, part) of the one jetfort DAG this parse is for: Airflow's parsing context names the
    DAG when a task process parses the file to run one of its tasks. None for a full parse (the DAG
    processor, the CLI, tests) and for another DAG's id."""
    wanted = get_parsing_context().dag_id
    if not wanted or not wanted.startswith(DAG_PREFIX):
        return None
    tenant, sep, part = wanted[len(DAG_PREFIX):].rpartition("__")
    return (tenant, part) if sep and tenant and part else None


#: Task slots one DAG run may hold at once (its Fortnox requests share the company's budget anyway).
MAX_ACTIVE_TASKS = 4
#: Runs of a status DAG on Fortnox events that may be active at once: a run for new events must not
#: wait for the previous one (the ledger claims each status push per order, and the event stream
#: persists an offset only once every earlier batch was applied). The DAG allows one run more: the
#: scheduled (safety-net) run, whose read of a busy window may last a minute, must not take an
#: event run's place.
EVENT_STATUS_RUNS = 4


def tenant_of(rules: TenantRules) -> str:
    """The tenant id (set when the rules were parsed from their Variable)."""
    if rules.tenant_id is None:
        raise ValueError("tenant rules were not parsed with a tenant id (use jetfort.rules.parse_tenant)")
    return rules.tenant_id


def failure_notifier(rules: TenantRules) -> FailureNotifier:
    notes = rules.notifications
    return FailureNotifier(tenant=tenant_of(rules), kind=notes.kind if notes.on_failure else None,
                           conn_id=notes.conn_id, to=notes.to)


def default_args(rules: TenantRules) -> dict[str, Any]:
    return {
        "owner": "jetfort",
        "retries": rules.retries.count,
        "retry_delay": dt.timedelta(seconds=rules.retries.delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=rules.retries.max_delay_minutes),
        "retry_policy": RETRY_POLICY,
        "execution_timeout": dt.timedelta(hours=2),
    }


def _doc(rules: TenantRules, part: str, description: str) -> str:
    shops = ", ".join(f"`{shop.key}`" for shop in rules.shops)
    return (
        f"### jetfort · tenant `{rules.tenant_id}` · {part}\n\n{description}\n\n"
        f"- flow: **{rules.flow}**; plan: **{rules.plan or 'none'}**\n"
        f"- Fortnox connection: `{rules.fortnox_conn_id}`; shops: {shops}\n"
        f"- rules: Airflow Variable `jetfort_tenant_{rules.tenant_id}`\n"
    )


def tenant_dags(
    part: str,
    build: TaskBuilder,
    *,
    description: str,
    applies: Callable[[TenantRules], bool] = lambda rules: True,
    params: Mapping[str, Param] | None = None,
    schedule: Callable[[TenantRules], str | None] | None = None,
    tenants: Mapping[str, TenantRules] | None = None,
) -> dict[str, DAG]:
    """Build ``jetfort__<tenant>__<part>`` for every valid tenant the part applies to (``tenants``,
    by default :func:`parse_tenants`; when a task process parses the file, only its own DAG).

    ``schedule`` picks the cron from the rules (default ``rules.schedules.<part>``); ``None``
    from it makes a manual-only DAG (e.g. the initial sync).
    """
    target = parse_target()
    if target is not None and target[1] != part:
        return {}
    if tenants is None:
        tenants = parse_tenants()
    elif target is not None:
        tenants = {tenant_id: rules for tenant_id, rules in tenants.items() if tenant_id == target[0]}
    # Every DAG of the part gets the same Params. Airflow checks a scheduled DAG's Params (valid defaults)
    # when they are set; checked here once, they are then added to each DAG's own (empty) ParamsDict, which
    # does not check them again: a JSON-schema check per Param and DAG was about a sixth of a parse.
    shared_params = ParamsDict(params or {})
    shared_params.validate()
    timetables: dict[tuple[str, str], CronDataIntervalTimetable] = {}  # one per cron and time zone
    dags: dict[str, DAG] = {}
    for tenant_id, rules in sorted(tenants.items()):
        if not applies(rules):
            continue
        cron = schedule(rules) if schedule else getattr(rules.schedules, part)
        timetable = None
        if cron:
            where = (cron, rules.schedules.timezone)
            if where not in timetables:
                timetables[where] = CronDataIntervalTimetable(cron, timezone=rules.schedules.timezone)
            timetable = timetables[where]
        purpose = rules.events_purpose(part)
        with DAG(
            dag_id=dag_id(tenant_id, part),
            schedule=schedule_for(rules, part, timetable),
            start_date=START_DATE,
            catchup=False,
            max_active_runs=EVENT_STATUS_RUNS + 1 if purpose == "status" else 1,
            max_active_tasks=MAX_ACTIVE_TASKS,
            tags=["jetfort", f"tenant:{tenant_id}", f"flow:{rules.flow}", part],
            doc_md=_doc(rules, part, description),
            description=f"{description} (tenant {tenant_id})",
            default_args=default_args(rules),
            dagrun_timeout=dt.timedelta(hours=6),
        ) as dag:
            build(rules)
            if purpose is not None:  # the run's Fortnox events count as handled only if all else succeeded
                add_commit_events(dag, tenant_id, purpose)
        # Given to each task, not in default_args: Airflow serializes default_args with every DAG and
        # renders a callable there as source code (the notifier's __call__, read and tokenized per DAG).
        notifier = failure_notifier(rules)
        for task in dag.tasks:
            task.on_failure_callback = [notifier]
        # Given once the tasks exist, the params stay the DAG's alone (its trigger form, the run's conf), and
        # each task reads them from its run's context. Given to DAG(), every task would carry a copy that
        # Airflow deep-copies at parse time and validates and serializes once more per task.
        dag.params.update(shared_params)
        dags[dag.dag_id] = dag
    return dags


def parse_tenants() -> dict[str, TenantRules]:
    """The tenants this parse builds DAGs for: every valid tenant (a full parse), or only the tenant
    whose DAG a task process parses the file for. A DAG file that wires several parts reads them
    once and passes them to each :func:`tenant_dags` call, so the list is read once per parse
    however long the parse takes."""
    target = parse_target()
    if target is None:
        return load_tenants()[0]
    return one_tenant(target[0])


_cache: tuple[float, tuple[dict[str, TenantRules], dict[str, RulesError]]] | None = None


def load_tenants(max_age: float = 5.0) -> tuple[dict[str, TenantRules], dict[str, RulesError]]:
    """Tenant rules for this parse: one read shared by all DAG files parsed within ``max_age`` s."""
    global _cache
    now = time.monotonic()
    if _cache is None or now - _cache[0] > max_age:
        _cache = (now, load_tenants_from_airflow())
    return _cache[1]


def one_tenant(tenant_id: str) -> dict[str, TenantRules]:
    """The tenant's rules alone, read as a task reads them (:func:`jetfort.tasks.runtime.load_rules`);
    empty when it has none or they do not validate, as the full parse would give it no DAGs."""
    try:
        return {tenant_id: load_rules(tenant_id)}
    except RulesError:
        return {}


def rules_errors_message(errors: Mapping[str, RulesError]) -> str:
    lines = [f"jetfort: {len(errors)} tenant(s) have invalid rules and get no DAGs until fixed:"]
    for tenant_id in sorted(errors):
        lines.append(str(errors[tenant_id]))
    return "\n".join(lines)
