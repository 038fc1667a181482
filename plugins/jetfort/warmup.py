"""jetfort's modules imported once in the Airflow processes that fork task processes.

Before each task, Airflow's task runner parses the task's DAG file in a new process. On the
LocalExecutor (``make up``) that process is forked from one of the executor's workers, and the
workers are forked from the scheduler when it starts. A module the scheduler imported is therefore
already in memory in every task process, and the parse does not import it again: jetfort's DAG
files otherwise import its task modules (pandas for the catalog, SQLAlchemy and Alembic for the
ledger) in every task, 0.3 to 1 s of CPU each, and the shop and Fortnox clients (zeep, the HTTP
provider) on first use. On a small machine, when many tenants' crons fire together, that CPU is
what keeps tasks queued. Airflow's DAG processor does the same for its parse processes
(``[dag_processor] parsing_pre_import_modules``).

:func:`on_starting` is Airflow's lifecycle listener hook, called when an Airflow job starts
(scheduler, DAG processor, triggerer) and when a task runner starts. It imports :data:`MODULES` in
jobs only: a task process imports what its DAG needs itself. An import that fails here is logged
and left to the task that needs the module, which then fails with the error in its log.

Registered by :class:`WarmupPlugin` through the ``airflow.plugins`` entry point ``jetfort_warmup``.
This module itself imports nothing heavy: Airflow loads plugins in every process.
"""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

#: What jetfort's DAG files and tasks import: the DAG wiring of each flow, the Fortnox client and
#: both shop backends.
MODULES = (
    "jetfort.factory",
    "jetfort.tasks.params",
    "jetfort.tasks.orders_dag",
    "jetfort.tasks.order_status",
    "jetfort.tasks.catalog.dag",
    "jetfort.fortnox.hook",
    "jetfort.jetshop.backend",
    "jetfort.norce.backend",
)


def warm(modules: tuple[str, ...] = MODULES) -> dict[str, str]:
    """Import ``modules``; what failed, by module (logged, never raised)."""
    began = time.monotonic()
    failed: dict[str, str] = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # the task that needs it imports it again and fails with the error
            failed[name] = f"{type(exc).__name__}: {exc}"
            log.warning("jetfort: could not import %s ahead of the tasks: %s", name, failed[name])
    log.info("jetfort: imported %d modules ahead of the tasks in %.2f s", len(modules) - len(failed),
             time.monotonic() - began)
    return failed


class _Listener:
    """Airflow's lifecycle listener (``on_starting``)."""

    @hookimpl
    def on_starting(self, component: Any) -> None:
        if type(component).__name__ == "Job":  # a scheduler, DAG processor or triggerer, not a task runner
            warm()


class WarmupPlugin(AirflowPlugin):
    """Registers the listener."""

    name = "jetfort_warmup"
    listeners = [_Listener()]
