"""jetfort's modules are imported when an Airflow job (the scheduler) starts, so the task processes
the LocalExecutor forks from it do not import them again before each task; a task runner does not."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jetfort import warmup
from tests.jetfort.plugin_probe import declared_plugins, probe_environment

#: In a fresh interpreter, through the entry points pyproject.toml declares: Airflow's own listener
#: manager (what Job.__init__ calls) with a task runner's component first, then a Job's.
_PROBE = textwrap.dedent("""
    import json, sys
    from airflow.jobs.job import Job
    from airflow.listeners.listener import get_listener_manager
    from airflow.sdk.execution_time.task_runner import TaskRunnerMarker
    from jetfort.warmup import MODULES

    loaded = lambda: sorted(m for m in MODULES if m in sys.modules)
    before = loaded()
    get_listener_manager().hook.on_starting(component=TaskRunnerMarker())
    after_task_runner = loaded()
    Job()  # a scheduler's job object calls on_starting as it is made
    print(json.dumps({"before": before, "after_task_runner": after_task_runner, "after_job": loaded()}))
""")


def test_pyproject_declares_the_warmup_plugin() -> None:
    assert declared_plugins()["jetfort_warmup"] == "jetfort.warmup:WarmupPlugin"


def test_a_starting_job_imports_jetforts_modules_and_a_task_runner_does_not(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], env=probe_environment(tmp_path), capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == [] and seen["after_task_runner"] == []
    assert seen["after_job"] == sorted(warmup.MODULES)


def test_a_module_that_fails_to_import_is_named_and_the_rest_still_load(caplog: pytest.LogCaptureFixture) -> None:
    failed = warmup.warm(("jetfort.no_such_module", "json"))
    assert list(failed) == ["jetfort.no_such_module"] and "ModuleNotFoundError" in failed["jetfort.no_such_module"]
    assert "could not import jetfort.no_such_module ahead of the tasks" in caplog.text
