"""Where jetfort finds its tenants: Airflow Variables ``jetfort_tenant_<id>`` (the metastore),
``AIRFLOW_VAR_JETFORT_TENANT_<ID>`` environment variables and ``$JETFORT_TENANTS_DIR/<id>.json``.

Every kind of Airflow process reads the metastore its own way: a supervised one (the DAG processor,
a task, ``dag.test()``) through the Task SDK, an ``airflow`` CLI command (``dags list|test|
reserialize``, ``tasks list|test``, ``python -m jetfort.bootstrap``) straight from the metadata DB,
and a process that never imported Airflow not at all. What the rules *are* is :mod:`jetfort.rules`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from jetfort.errors import TransientError
from jetfort.rules import (
    ENV_PREFIX,
    TENANTS_DIR_ENV,
    VARIABLE_PREFIX,
    RulesError,
    TenantRules,
    load_tenants,
)

log = logging.getLogger(__name__)

__all__ = ["MetastoreUnavailable", "collect_tenant_variables", "load_tenants_from_airflow",
           "metastore_tenant_variables", "tenant_variable"]


class MetastoreUnavailable(TransientError):
    """The Airflow metastore could not list the tenant Variables.

    Raised instead of carrying on with the other sources: a parse that silently dropped the
    metastore's tenants would remove their DAGs. Raised at parse time it becomes an import error of
    every jetfort DAG file, in the UI and in ``airflow dags list-import-errors``.
    """


def _unreadable_variable(key: str, reason: str) -> RulesError:
    tenant_id = key[len(VARIABLE_PREFIX) :]
    return RulesError(tenant_id, [("(variable)", f"cannot read Variable {key} from the metastore: {reason}")])


def _supervised() -> bool:
    """Inside a process an Airflow supervisor runs (DAG processor, task runner, ``dag.test()``)."""
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return runner is not None and getattr(runner, "SUPERVISOR_COMMS", None) is not None


def _metadata_db_configured() -> bool:
    """Airflow is imported in this process and its ORM is set up (a CLI command, a script, pytest).

    Airflow leaves the engine unset where a process must not use the metadata DB (a re-executed
    worker process, virtualenv operators); a process that never imported Airflow has no metastore.
    """
    settings = sys.modules.get("airflow.settings")
    return settings is not None and getattr(settings, "engine", None) is not None


def _variables_through_supervisor() -> tuple[dict[str, str], dict[str, RulesError]]:
    """Task-SDK path: keys and values over the supervisor channel (the API server reads the DB)."""
    from airflow.sdk import Variable

    try:
        keys = list(Variable.keys(prefix=VARIABLE_PREFIX))
    except Exception as exc:
        raise MetastoreUnavailable(
            f"jetfort: cannot list the tenant Variables ({VARIABLE_PREFIX}*) through the Airflow API "
            f"server: {type(exc).__name__}: {exc}") from exc
    return _read_each(keys, Variable.get)


def _variables_from_metadata_db() -> tuple[dict[str, str], dict[str, RulesError]]:
    """Core path for a process with the metadata DB and no supervisor (``airflow dags list``,
    ``airflow dags test``, ``airflow tasks list|test``, ``airflow dags reserialize``): one query
    lists the keys, Airflow's own ``Variable.get`` reads each value (secrets backends, Fernet)."""
    import sqlalchemy as sa
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    try:
        with create_session() as session:
            table = Variable.__table__
            if not sa.inspect(session.get_bind()).has_table(table.name, schema=table.schema):
                # a metadata DB that was never migrated holds no Variables (plain test processes)
                log.info("jetfort: the Airflow metadata DB has no %s table yet; no tenant Variables there",
                         table.name)
                return {}, {}
            keys = session.scalars(
                sa.select(Variable.key)
                .where(Variable.key.startswith(VARIABLE_PREFIX, autoescape=True))
                .order_by(Variable.key)
            ).all()
    except sa.exc.SQLAlchemyError as exc:
        raise MetastoreUnavailable(
            f"jetfort: cannot list the tenant Variables ({VARIABLE_PREFIX}*) in the Airflow metadata DB: "
            f"{type(exc).__name__}: {exc}") from exc
    return _read_each(keys, Variable.get)


def _env_tenants(env: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(tenant id, rules JSON) of each ``AIRFLOW_VAR_JETFORT_TENANT_<ID>`` environment variable."""
    for name, value in env.items():
        if name.upper().startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            yield name[len(ENV_PREFIX) :].lower(), value


def _read_each(keys: Iterable[str], get: Callable[[str], Any]) -> tuple[dict[str, str], dict[str, RulesError]]:
    """Each listed Variable's value (JSON text); one that cannot be read becomes its tenant's error."""
    found: dict[str, str] = {}
    unreadable: dict[str, RulesError] = {}
    for key in keys:
        try:
            value = get(key)
        except KeyError:
            # listed a moment ago; Airflow answers "does not exist" also for a value it cannot decrypt
            unreadable[key[len(VARIABLE_PREFIX) :]] = _unreadable_variable(
                key, "no value (deleted meanwhile, encrypted with another [core] fernet_key, or a "
                "secrets backend failed: see the log)")
            continue
        except Exception as exc:
            unreadable[key[len(VARIABLE_PREFIX) :]] = _unreadable_variable(key, f"{type(exc).__name__}: {exc}")
            continue
        found[key] = value if isinstance(value, str) else json.dumps(value)
    return found, unreadable


def metastore_tenant_variables() -> tuple[dict[str, str], dict[str, RulesError]]:
    """Tenant Variables (key → JSON) stored in the Airflow metastore, and per-tenant read errors.

    * under an Airflow supervisor: through the Task SDK (``airflow.sdk.Variable``);
    * in a process with Airflow's metadata DB (the ``airflow`` CLI): straight from the DB;
    * in a process that never imported Airflow, or whose ORM is off: nothing (files and env count).

    Raises :class:`MetastoreUnavailable` when the keys cannot be listed; one Variable that cannot
    be read becomes that tenant's error.
    """
    if _supervised():
        return _variables_through_supervisor()
    if _metadata_db_configured():
        return _variables_from_metadata_db()
    return {}, {}


def collect_tenant_variables(
    environ: Mapping[str, str] | None = None,
    *,
    metastore: bool = True,
) -> tuple[dict[str, str], dict[str, RulesError]]:
    """Variable key → JSON from, in rising precedence: ``$JETFORT_TENANTS_DIR/<id>.json``, the
    metastore, ``AIRFLOW_VAR_JETFORT_TENANT_<ID>`` (env wins, as in Airflow's own lookup chain);
    plus per-tenant errors for files or Variables that cannot be read.

    ``metastore=False`` skips the metastore; otherwise see :func:`metastore_tenant_variables`
    (raises :class:`MetastoreUnavailable`)."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    unreadable: dict[str, RulesError] = {}
    tenants_dir = env.get(TENANTS_DIR_ENV)
    if tenants_dir and not Path(tenants_dir).is_dir():
        log.warning("jetfort: %s=%s is not a directory; no tenant files read", TENANTS_DIR_ENV, tenants_dir)
    elif tenants_dir:
        for path in sorted(Path(tenants_dir).glob("*.json")):
            try:
                found[VARIABLE_PREFIX + path.stem] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                unreadable[path.stem] = RulesError(path.stem, [("(file)", f"cannot read {path}: {exc}")])
    if metastore:
        stored, failed = metastore_tenant_variables()
        found.update(stored)
        for tenant_id, problem in failed.items():
            # the metastore outranks files: an unreadable Variable must not let a stale file stand in
            found.pop(VARIABLE_PREFIX + tenant_id, None)
            unreadable[tenant_id] = problem
    found.update((VARIABLE_PREFIX + tenant_id, value) for tenant_id, value in _env_tenants(env))
    return found, unreadable


def tenant_variable(tenant_id: str, environ: Mapping[str, str] | None = None) -> str | None:
    """One tenant's rules JSON by the precedence of :func:`collect_tenant_variables`; None when no
    source has it. Under a supervisor (a task) only its own Variable is read when the metastore has
    it: one round trip through the API server, not a listing plus one per tenant. Anything else (the
    Variable absent or unreadable, a CLI process, no metastore) takes the full path, so a file never
    stands in for an unreadable Variable and errors read as before (raises that tenant's
    :class:`RulesError`)."""
    env = os.environ if environ is None else environ
    key = VARIABLE_PREFIX + tenant_id
    stored: Any = None
    if _supervised():
        from airflow.sdk import Variable

        try:
            stored = Variable.get(key)
        except Exception:  # absent ("does not exist"), undecryptable or unreachable: see the full path
            stored = None
    if stored is not None:
        overrides = [value for env_tenant, value in _env_tenants(env) if env_tenant == tenant_id]
        if overrides:
            return overrides[-1]  # env wins, as in Airflow's own lookup chain
        return stored if isinstance(stored, str) else json.dumps(stored)
    found, unreadable = collect_tenant_variables(env)
    if tenant_id in unreadable:
        raise unreadable[tenant_id]
    return found.get(key)


def load_tenants_from_airflow(
    environ: Mapping[str, str] | None = None,
    *,
    metastore: bool = True,
) -> tuple[dict[str, TenantRules], dict[str, RulesError]]:
    """All tenants jetfort can see: Variables ``jetfort_tenant_*`` (metastore: through the
    supervisor in the DAG processor and tasks, from the metadata DB in ``airflow`` CLI commands),
    ``AIRFLOW_VAR_JETFORT_TENANT_*`` env vars and ``$JETFORT_TENANTS_DIR``. Reads each source once
    (one key listing); no network beyond Airflow's own supervisor channel or metadata DB.

    Raises :class:`MetastoreUnavailable` when the metastore cannot list the Variables."""
    variables, unreadable = collect_tenant_variables(environ, metastore=metastore)
    tenants, errors = load_tenants(variables)
    for tenant_id, exc in unreadable.items():
        if tenant_id not in tenants:
            errors.setdefault(tenant_id, exc)
    return tenants, errors
