"""The ``make up`` stack's supervisor and its up/status/down bookkeeping, with tiny dummy programs
(no Airflow, no PostgreSQL): restart after SIGKILL, giving up, the status file, ``up`` on a
running stack, the private files."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox import stack
from sandbox.supervisor import (
    FATAL,
    RUNNING,
    WAITING,
    CommandProgram,
    Spec,
    Supervisor,
    pid_alive,
    read_status,
)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(300)"]


def crasher(code: int) -> list[str]:
    return [sys.executable, "-c", f"raise SystemExit({code})"]


def wait_for(check: Callable[[], Any], seconds: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {seconds} s")


@pytest.fixture
def layout(tmp_path: Path) -> stack.Layout:
    return stack.Layout(home=tmp_path / "home", ui_port=1, fortnox_port=2, jetshop_port=3)


@contextmanager
def supervised(layout: stack.Layout, programs: list[dict[str, Any]]) -> Iterator[stack.Layout]:
    """A supervisor process started the way ``make up`` starts it, with ``programs``."""
    layout.run.mkdir(parents=True)
    config = {"programs": programs, "status_file": str(layout.status_file),
              "policy": {"backoff": 0.05, "poll_interval": 0.05},
              "extra_status": {"postgres": {"socket_dir": "-", "databases": []}, "ui_url": "http://x"}}
    stack.write_json(layout.supervisor_config, config)
    env = {**os.environ, "AIRFLOW_HOME": str(layout.home)}
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.stack", "supervise", str(layout.supervisor_config)],
                            cwd=stack.REPO, env=env, start_new_session=True)
    layout.supervisor_pid.write_text(str(proc.pid))
    wait_for(lambda: read_status(layout.status_file), what="status file")
    try:
        yield layout
    finally:
        with_group = proc.pid
        if proc.poll() is None:
            os.killpg(with_group, signal.SIGKILL)
        for item in (read_status(layout.status_file) or {}).get("processes", {}).values():
            if item.get("pid") and pid_alive(item["pid"]):
                os.killpg(item["pid"], signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture
def running(layout: stack.Layout) -> Iterator[stack.Layout]:
    """Two sleepers under a supervisor, both running."""
    programs = [{"name": name, "argv": SLEEPER, "log": str(layout.logs / f"{name}.log"), "port": port,
                 "stop_timeout": 2.0} for name, port in (("alpha", 1111), ("beta", None))]
    with supervised(layout, programs):
        wait_for(lambda: all(p["state"] == RUNNING for p in processes(layout).values()), what="programs running")
        yield layout


def processes(layout: stack.Layout) -> dict[str, Any]:
    return dict((read_status(layout.status_file) or {})["processes"])


def test_a_program_killed_with_sigkill_is_restarted_and_counted(running: stack.Layout) -> None:
    old = processes(running)["alpha"]
    os.kill(old["pid"], signal.SIGKILL)
    new = wait_for(lambda: (p := processes(running)["alpha"])["pid"] != old["pid"] and p["state"] == RUNNING and p,
                   what="alpha restarted")
    assert new["restarts"] == 1 and new["last_exit_code"] == -signal.SIGKILL and new["alive"]
    assert pid_alive(new["pid"]) and not pid_alive(old["pid"])
    assert processes(running)["beta"]["restarts"] == 0


def test_status_file_names_pid_state_restarts_exit_code_port_and_log(running: stack.Layout) -> None:
    status = read_status(running.status_file)
    assert status is not None
    assert status["supervisor"]["pid"] == int(running.supervisor_pid.read_text())
    alpha = status["processes"]["alpha"]
    assert {"pid", "state", "alive", "restarts", "last_exit_code", "port", "log"} <= set(alpha)
    assert (alpha["state"], alpha["alive"], alpha["restarts"], alpha["last_exit_code"], alpha["port"]) == (
        RUNNING, True, 0, None, 1111)
    assert alpha["log"] == str(running.logs / "alpha.log")
    assert status["postgres"]["socket_dir"] == "-"


def test_up_on_a_running_stack_changes_nothing(running: stack.Layout, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def forbidden(*_: Any, **__: Any) -> None:
        raise AssertionError("up on a running stack must not touch anything")

    for target, name in ((stack.demo_setup, "configure"), (stack.pgserver, "start"), (stack, "start_supervisor"),
                         (stack, "stop_everything"), (stack, "stack_secrets"), (stack, "ensure_admin_password")):
        monkeypatch.setattr(target, name, forbidden)
    files = {p: p.stat().st_mtime_ns for p in running.home.rglob("*") if p.is_file() and p != running.status_file}
    pids = {name: p["pid"] for name, p in processes(running).items()}

    assert stack.up(running) == 0
    out = capsys.readouterr().out
    assert "already running" in out and "alpha" in out and "1111" in out
    assert {p: p.stat().st_mtime_ns for p in files} == files
    assert {name: p["pid"] for name, p in processes(running).items()} == pids


def test_status_exits_non_zero_when_a_process_is_down(running: stack.Layout,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert stack.status(running) == 0
    os.kill(int(running.supervisor_pid.read_text()), signal.SIGKILL)
    wait_for(lambda: stack.supervisor_running(running) is None, what="supervisor gone")
    assert stack.status(running) == 1
    assert "NO" in capsys.readouterr().out


def test_up_fails_naming_a_process_that_keeps_dying_and_its_log(layout: stack.Layout) -> None:
    # named like a sandbox, so its health is an HTTP check (on a port nothing listens on)
    programs = [{"name": "fortnox", "argv": crasher(2), "log": str(layout.logs / "crashy.log")}]
    with supervised(layout, programs):
        with pytest.raises(stack.StackError, match=r"fortnox keeps dying .*last exit code 2.*crashy\.log"):
            stack.wait_healthy(layout, ("fortnox",), 30)
        assert stack.down(layout) == 0


def test_down_stops_the_supervisor_and_every_program(running: stack.Layout) -> None:
    pids = [p["pid"] for p in processes(running).values()] + [int(running.supervisor_pid.read_text())]
    assert stack.down(running) == 0
    assert not any(pid_alive(pid) for pid in pids)
    assert read_status(running.status_file)["supervisor"]["state"] == "stopped"  # type: ignore[index]
    assert not running.supervisor_pid.exists()


def test_down_after_the_supervisor_was_killed_stops_its_orphans(running: stack.Layout) -> None:
    children = [p["pid"] for p in processes(running).values()]
    os.killpg(int(running.supervisor_pid.read_text()), signal.SIGKILL)
    assert all(pid_alive(pid) for pid in children)
    assert stack.down(running) == 0
    assert not any(pid_alive(pid) for pid in children)


# ------------------------------------------------------------------------------ in-process supervisor
def supervisor(tmp_path: Path, *specs: Spec, **policy: Any) -> Supervisor:
    return Supervisor([CommandProgram(spec) for spec in specs], tmp_path / "status.json",
                      **{"backoff": 0.01, "poll_interval": 0.01, **policy})


def run_until(sup: Supervisor, check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, sup.status()
        sup.step()
        time.sleep(0.01)


def test_gives_up_on_a_program_that_keeps_dying_and_says_so(tmp_path: Path) -> None:
    sup = supervisor(tmp_path, Spec("crashy", crasher(3), log=str(tmp_path / "crashy.log")),
                     Spec("steady", SLEEPER, log=str(tmp_path / "steady.log")), max_restarts=5, window=60)
    try:
        run_until(sup, lambda: sup.status()["processes"]["crashy"]["state"] == FATAL)
        sup.write_status()
        crashy, steady = (read_status(tmp_path / "status.json") or {})["processes"].values()
        assert crashy["restarts"] == 4 and crashy["last_exit_code"] == 3 and not crashy["alive"]
        assert "GAVE UP" in crashy["message"] and "crashy.log" in crashy["message"]
        assert steady["state"] == RUNNING and steady["alive"]
        pid = crashy["pid"]
        for _ in range(20):
            sup.step()
        assert sup.status()["processes"]["crashy"]["pid"] == pid  # no further attempts
    finally:
        sup.shutdown()
    assert not pid_alive(steady["pid"])


def test_backoff_doubles_between_restarts(tmp_path: Path) -> None:
    sup = supervisor(tmp_path, Spec("crashy", crasher(1), log=str(tmp_path / "c.log")), backoff=0.2,
                     max_restarts=10)
    starts: list[float] = []
    try:
        while len(starts) < 3:
            before = sup.status()["processes"]["crashy"]["pid"]
            sup.step()
            if sup.status()["processes"]["crashy"]["pid"] != before:
                starts.append(time.monotonic())
            time.sleep(0.01)
    finally:
        sup.shutdown()
    first, second = starts[1] - starts[0], starts[2] - starts[1]
    assert first >= 0.2 and second >= 0.4 and second > first


def test_a_gated_program_waits_for_its_gate_file(tmp_path: Path) -> None:
    gate = tmp_path / "go"
    sup = supervisor(tmp_path, Spec("early", SLEEPER, log=str(tmp_path / "e.log")),
                     Spec("late", SLEEPER, log=str(tmp_path / "l.log"), start_after=str(gate)))
    try:
        for _ in range(5):
            sup.step()
        assert [p["state"] for p in sup.status()["processes"].values()] == [RUNNING, WAITING]
        gate.touch()
        sup.step()
        assert sup.status()["processes"]["late"]["state"] == RUNNING
    finally:
        sup.shutdown()


def test_a_program_whose_group_outlives_it_is_cleaned_up_before_the_restart(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"
    script = (f"import subprocess, sys, pathlib; p = subprocess.Popen({SLEEPER!r}); "
              f"pathlib.Path({str(child)!r}).write_text(str(p.pid)); raise SystemExit(1)")
    sup = supervisor(tmp_path, Spec("parent", [sys.executable, "-c", script], log=str(tmp_path / "p.log")),
                     backoff=5.0)
    try:
        run_until(sup, lambda: sup.status()["processes"]["parent"]["last_exit_code"] == 1)
        assert not pid_alive(int(child.read_text()))
    finally:
        sup.shutdown()


# ------------------------------------------------------------------------------ files and settings
def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_env_file_and_admin_password_are_private_and_kept(layout: stack.Layout) -> None:
    keys = stack.stack_secrets(layout)
    assert stack.stack_secrets(layout) == keys and mode(layout.secret_file) == 0o600
    stack.ensure_admin_password(layout)
    password = json.loads(layout.password_file.read_text())["admin"]
    stack.ensure_admin_password(layout)
    assert json.loads(layout.password_file.read_text())["admin"] == password
    assert mode(layout.password_file) == 0o600
    layout.password_file.chmod(0o644)  # as an older stack left it: treated as leaked
    stack.ensure_admin_password(layout)
    assert json.loads(layout.password_file.read_text())["admin"] != password
    assert mode(layout.password_file) == 0o600
    env = stack.stack_env(layout, keys, "postgresql+psycopg2://postgres@/airflow?host=/s", "sqlite://")
    stack.write_env_file(layout, env)
    assert mode(layout.env_file) == 0o600
    assert f"export AIRFLOW__CORE__FERNET_KEY={keys['fernet_key']}" in layout.env_file.read_text().splitlines()


def test_every_port_and_the_airflow_settings_come_from_the_environment(tmp_path: Path) -> None:
    layout = stack.Layout.from_env({"AIRFLOW_HOME": str(tmp_path), "JETFORT_UI_PORT": "18080",
                                    "JETFORT_FORTNOX_PORT": "18801", "JETFORT_JETSHOP_PORT": "18802",
                                    "JETFORT_NORCE_PORT": "18803", "JETFORT_LOG_PORT": "18793",
                                    "JETFORT_TRIGGER_LOG_PORT": "18794"})
    assert stack.Layout.from_env({}).ui_port == 8080 and stack.Layout.from_env({}).norce_port == 8803
    keys = {"fernet_key": "f", "jwt_secret": "j", "api_secret_key": "a", "ledger_secret_key": "l"}
    env = stack.stack_env(layout, keys, "postgresql+psycopg2://postgres@/airflow?host=/s", "ledger-url")
    assert env["AIRFLOW_HOME"] == str(tmp_path)
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__API__PORT"] == "18080" and env["AIRFLOW__API__BASE_URL"] == "http://localhost:18080"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "18793"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "18794"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith("postgresql+psycopg://")
    specs = {spec["name"]: spec for spec in stack.program_specs(layout)}
    assert specs["fortnox"]["port"] == 18801 and "18801" in specs["fortnox"]["argv"]
    assert specs["jetshop"]["port"] == 18802 and "--live" in specs["jetshop"]["argv"]
    assert specs["norce"]["port"] == 18803
    assert specs["norce"]["argv"][1:6] == ["-m", "sandbox", "norce", "--port", "18803"]
    assert layout.sandbox_url("norce") == "http://127.0.0.1:18803"
    assert layout.ports["JETFORT_NORCE_PORT"] == 18803  # `make up` refuses to start when it is taken
    assert "18080" in specs["api-server"]["argv"]
    assert all(specs[name]["start_after"] == str(layout.gate) for name in stack.AIRFLOW_PROGRAMS)
    assert specs["postgres"]["stop_last"]


def test_the_norce_sandbox_starts_from_the_stacks_command_line(tmp_path: Path) -> None:
    """The supervisor's Norce program, run as `make up` runs it, answers the stack's health check and
    hands out the seeded demo application (the one demo_setup's connection names)."""
    from sandbox.server import free_port

    layout = stack.Layout(home=tmp_path, norce_port=free_port())
    spec = {s["name"]: s for s in stack.program_specs(layout)}["norce"]
    assert "--live" in spec["argv"]  # new checkouts keep arriving and are pushed, as in the Jetshop one
    proc = subprocess.Popen(spec["argv"], cwd=stack.REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        def answers() -> Any:
            if proc.poll() is not None:
                raise AssertionError(f"norce sandbox exited {proc.returncode}: {proc.stderr.read()[-2000:]!r}")
            try:
                return httpx.get(f"{layout.sandbox_url('norce')}/_sandbox/docs", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, 60, "the norce sandbox's docs")
        seeded = httpx.get(f"{layout.sandbox_url('norce')}/_sandbox/credentials", timeout=5).json()
        assert (seeded["client_id"], seeded["slug"], seeded["application_id"]) == ("jetfort-demo", "demoshop", 1244)
        live = httpx.get(f"{layout.sandbox_url('norce')}/_sandbox/live", timeout=5).json()
        assert live["enabled"] and live["service"] == "norce" and live["application_id"] == 1244
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
