"""The docker-compose topology without containers: Airflow 3.3 on the CeleryExecutor from .venv.

Scheduler, dag-processor, api-server, triggerer and N ``airflow celery worker`` processes, a fresh
PostgreSQL metadata database and a PostgreSQL ledger database per stack (``jetfort_dist_<id>``,
``jetfort_dist_<id>_ledger``, both dropped on stop), a dedicated Redis database as broker and one
for the shared Fortnox request budget, the Fortnox sandbox, one Jetshop sandbox per tenant or one
serving every tenant's own shops (``shared_jetshop``), a Norce sandbox per tenant with a Norce shop:
all subprocesses on 127.0.0.1 with free ports.

Settings that must match docker-compose.yaml come from ``tests/distributed/topology.json``.
Every process runs in its own process group and is always stopped (SIGTERM, then SIGKILL); logs
stay under the stack's work directory. Used by ``tests/distributed/test_celery_topology.py``; by
hand: ``python -m sandbox.celery_stack up`` (Ctrl-C stops everything). Its Fortnox sandbox is
``sandbox/fortnox/audited.py`` (the emulator with audit counters).

The workers' budget window (the Fortnox connection's extra ``rate_window``) is the sandbox's window
times ``client_window_factor`` plus ``client_jitter`` seconds: a request may wait between its budget
slot and its arrival (scheduling on a loaded machine), and if no request waits more than ``J``
seconds longer than another, a client window of ``window + J`` keeps every sandbox window within the
limit. The jitter is absolute, so against a short sandbox window it costs a large share of the rate
(figures: :meth:`CeleryStack.client_window` and the audit's ``shortest_span_over_limit``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from jetfort.fortnox.budget import padded_window
from sandbox.procs import Proc, free_port, pgid_of

REPO = Path(__file__).resolve().parents[1]
TOPOLOGY_FILE = REPO / "tests" / "distributed" / "topology.json"
SOAP_PATH = "/Webservice20/v3.0/webservice.asmx"
#: Jetshop sandbox shop id per example shop connection suffix (see sandbox/demo_setup.py)
SHOPS = {"se": "demoshop", "nordic": "nordicshop"}


def load_topology() -> dict[str, Any]:
    return dict(json.loads(TOPOLOGY_FILE.read_text()))


def fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@dataclass
class TenantSpec:
    """One merchant: its own Fortnox company and connection, its own Jetshop shops (a sandbox of its own or its shops in a shared one)."""

    tenant_id: str
    rules: dict[str, Any]
    jetshop_seed: int = 1
    fortnox_conn_id: str = ""
    jetshop_url: str = ""
    #: its Norce sandbox, started when a shop of its rules has ``backend: norce``
    norce_url: str = ""
    company: dict[str, Any] = field(default_factory=dict)
    #: the fortnox connection's ``company`` extra: budget key and token key (unique per stack)
    budget_company: str = ""
    #: shop key → Jetshop sandbox shop id (default :data:`SHOPS`; a shared sandbox opens one per tenant)
    jetshop_shops: dict[str, str] = field(default_factory=dict)

    @property
    def fortnox_tenant(self) -> int:
        return int(self.company["tenant_id"])

    @property
    def has_norce_shop(self) -> bool:
        return any(shop.get("backend") == "norce" for shop in self.rules.get("shops", []))


class StackError(RuntimeError):
    pass


class CeleryStack:
    """Start with ``with CeleryStack(...) as stack:``; everything stops on exit, failure or not."""

    def __init__(self, *, postgres_url: str, redis_url: str, workdir: Path, tenants: list[TenantSpec],
                 workers: int | None = None, rate_limit: int = 25, rate_window: float = 5.0,
                 access_ttl: float = 3600.0, refresh_margin: float = 300.0,
                 client_window_factor: float = 1.0, extra_env: Mapping[str, str] | None = None,
                 startup_timeout: float = 240.0, client_jitter: float = 0.0, shared_jetshop: bool = False) -> None:
        import sqlalchemy as sa

        self.topology = load_topology()
        self.workdir = workdir
        self.home = workdir / "airflow-home"
        self.logs = workdir / "logs"
        self.tenants = tenants
        self.workers = workers or int(self.topology["local"]["workers"])
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.access_ttl = access_ttl
        self.refresh_margin = refresh_margin
        self.client_window_factor = client_window_factor
        self.client_jitter = client_jitter
        self.extra_env = dict(extra_env or {})
        self.startup_timeout = startup_timeout
        #: one Jetshop sandbox serving every tenant's shops (opened per tenant) instead of one per tenant
        self.shared_jetshop = shared_jetshop
        self.run_id = uuid.uuid4().hex[:8]
        self.db_name = f"jetfort_dist_{self.run_id}"
        self.ledger_db_name = f"{self.db_name}_ledger"
        base = sa.make_url(postgres_url)
        self.pg_admin_url = base
        self.metadata_url = base.set(drivername="postgresql+psycopg2", database=self.db_name)
        self.ledger_url = base.set(drivername="postgresql+psycopg2", database=self.ledger_db_name)
        self._redis_base = redis_url.rsplit("/", 1)[0] if redis_url.count("/") >= 3 else redis_url.rstrip("/")
        self.broker_db: int | None = None
        self.budget_db: int | None = None
        self.procs: dict[str, Proc] = {}
        self.api_port = free_port()
        self.fortnox_port = free_port()
        self.password = secrets.token_urlsafe(12)
        self._token: str | None = None
        self._dbs_created = False
        self.env: dict[str, str] = {}
        self.startup_seconds = 0.0
        self._strays: set[int] = set()  # orphaned task processes of a killed worker

    # -------------------------------------------------------------------------------- URLs
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def fortnox_url(self) -> str:
        return f"http://127.0.0.1:{self.fortnox_port}"

    @property
    def broker_url(self) -> str:
        return f"{self._redis_base}/{self.broker_db}"

    @property
    def budget_url(self) -> str:
        return f"{self._redis_base}/{self.budget_db}"

    def _pg_url(self, url: Any) -> str:
        return str(url.render_as_string(hide_password=False))

    # -------------------------------------------------------------------------------- budget
    @property
    def client_rate_window(self) -> float:
        """The Fortnox connections' extra ``rate_window``: the sandbox's, scaled, plus the jitter allowance."""
        return round(self.rate_window * self.client_window_factor + self.client_jitter, 4)

    @property
    def client_window(self) -> float:
        """The window the workers' budget enforces (``make_budget`` pads the connection's window)."""
        return padded_window(self.client_rate_window)

    # -------------------------------------------------------------------------------- lifecycle
    def __enter__(self) -> CeleryStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        t0 = time.monotonic()
        self.logs.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self._create_databases()
        self._pick_redis_dbs()
        self.env = self._airflow_env()
        # the simple auth manager keeps a user's password if the file has one; none is generated
        (self.home / "passwords.json").write_text(json.dumps({"admin": self.password}))
        self._log(f"stack {self.run_id}: metadata DB {self.db_name}, ledger DB {self.ledger_db_name}, "
                  f"broker {self.broker_url}, budget {self.budget_url}, work dir {self.workdir}")
        self._run("airflow-db-migrate", [self.airflow, "db", "migrate"], timeout=300)
        self._start_sandboxes()
        self._start("api-server", [self.airflow, "api-server", "--port", str(self.api_port),
                                   "--host", "127.0.0.1"])
        self.wait_http(f"{self.api_url}/api/v2/monitor/health", self.startup_timeout, "api-server")
        self._configure_tenants()
        self._run("jetfort-bootstrap", [sys.executable, "-m", "jetfort.bootstrap"], timeout=180)
        self._start("scheduler", [self.airflow, "scheduler"])
        self._start("dag-processor", [self.airflow, "dag-processor"])
        self._start("triggerer", [self.airflow, "triggerer"])
        for index in range(1, self.workers + 1):
            self.start_worker(index)
        self.wait_for_dags(self.startup_timeout)
        self.startup_seconds = time.monotonic() - t0
        self._log(f"stack {self.run_id} up in {self.startup_seconds:.0f}s: {', '.join(self.procs)}")

    def stop(self) -> None:
        """SIGTERM every process group, SIGKILL what is left after a grace period (task processes in
        groups of their own included), drop the databases, flush the Redis databases."""
        below: set[int] = set(self._strays)
        for name in self.procs:
            with contextlib.suppress(Exception):
                below.update(self.tree(name))
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pgid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            while proc.alive() and time.monotonic() < deadline:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=0.2)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pgid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5)
        for pid in below:  # still ours? (a pid is only re-used after a wrap-around)
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"airflow" in title or sys.executable.encode() in title:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        self._flush_redis()
        self._drop_databases()

    # -------------------------------------------------------------------------------- pieces
    @property
    def airflow(self) -> str:
        return str(Path(sys.executable).with_name("airflow"))

    def _log(self, message: str) -> None:
        print(f"[celery-stack {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def _create_databases(self) -> None:
        import sqlalchemy as sa

        admin = sa.create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{self.db_name}"')
                conn.exec_driver_sql(f'CREATE DATABASE "{self.ledger_db_name}"')
        finally:
            admin.dispose()
        self._dbs_created = True

    def _drop_databases(self) -> None:
        if not self._dbs_created:
            return
        import sqlalchemy as sa

        admin = sa.create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for name in (self.db_name, self.ledger_db_name):
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as exc:  # never hide the test's own failure behind a cleanup error
            self._log(f"could not drop databases: {exc}")
        finally:
            admin.dispose()
        self._dbs_created = False

    def _pick_redis_dbs(self) -> None:
        """Two empty Redis databases (broker, budget), claimed with a marker key; 1..14 are tried."""
        import redis

        claimed: list[int] = []
        for db in range(1, 15):
            client = redis.Redis.from_url(f"{self._redis_base}/{db}")
            try:
                if client.dbsize() == 0 and client.set("jetfort:dist:claim", self.run_id, nx=True, ex=3600):
                    claimed.append(db)
            finally:
                client.close()
            if len(claimed) == 2:
                break
        if len(claimed) < 2:
            raise StackError(f"no two empty Redis databases free at {self._redis_base}")
        self.broker_db, self.budget_db = claimed

    def _flush_redis(self) -> None:
        import redis

        for db in (self.broker_db, self.budget_db):
            if db is None:
                continue
            client = redis.Redis.from_url(f"{self._redis_base}/{db}")
            try:
                if client.get("jetfort:dist:claim") in (self.run_id.encode(), None):
                    client.flushdb()
            except Exception as exc:
                self._log(f"could not flush Redis db {db}: {exc}")
            finally:
                client.close()

    def _airflow_env(self) -> dict[str, str]:
        top = self.topology
        ledger_conn = {
            "conn_type": top["ledger"]["conn_type"],
            "host": self.ledger_url.host, "port": self.ledger_url.port or 5432,
            "login": self.ledger_url.username or "", "password": self.ledger_url.password or "",
            "schema": self.ledger_db_name,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_",
                                                                         "AIRFLOW_VAR_", "JETFORT_"))}
        env.update({
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")]),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "JETFORT_MAPPINGS_DIR": str(REPO / "include" / "mappings"),
            **top["airflow_env"],
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__CORE__FERNET_KEY": fernet_key(),
            top["jwt_secret_env"]: secrets.token_urlsafe(32),
            top["metadata_db"]["env"]: self._pg_url(self.metadata_url),
            top["metadata_db"]["async_env"]: self._pg_url(self.metadata_url.set(
                drivername=top["metadata_db"]["async_scheme"])),
            top["result_backend"]["env"]: "db+" + self._pg_url(self.metadata_url.set(drivername="postgresql")),
            top["broker"]["env"]: self.broker_url,
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__WORKERS": "1",
            top["execution_api_env"]: f"{self.api_url}/execution/",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            top["ledger"]["env"]: json.dumps(ledger_conn),
            top["ledger"]["secret_key_env"]: fernet_key(),
            top["fortnox_budget"]["env"]: self.budget_url,
            **top["local"]["env"],
        })
        env.update(self.extra_env)
        return env

    def _run(self, name: str, argv: list[str], *, timeout: float) -> None:
        log = self.logs / f"{name}.log"
        with open(log, "ab") as fh:
            done = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, env=self.env, timeout=timeout,
                                  cwd=self.workdir, start_new_session=True, check=False)
        if done.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise StackError(f"{name} failed (exit {done.returncode}):\n{tail}")

    def _start(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Proc:
        log = self.logs / f"{name}.log"
        fh = open(log, "ab")  # noqa: SIM115 - owned by the child
        popen = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env={**self.env, **(env or {})},
                                 cwd=self.workdir, start_new_session=True)
        fh.close()
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def start_worker(self, index: int) -> Proc:
        name = f"worker-{index}"
        return self._start(name, [self.airflow, "celery", "worker", "--celery-hostname", f"w{index}-{self.run_id}@%h",
                                  "--concurrency", self.topology["airflow_env"]["AIRFLOW__CELERY__WORKER_CONCURRENCY"]],
                           env={"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})

    def kill(self, name: str) -> list[int]:
        """SIGKILL only the named process group. Airflow's task processes lead groups of their own
        (supervisor ``setpgid``), so a worker's running tasks survive this as orphans; they are
        remembered and killed on :meth:`stop`. Returns the orphaned task processes' pids."""
        proc = self.procs[name]
        orphans = [p for p in self.tree(name) if pgid_of(p) not in (None, proc.pgid)]
        self._strays.update(orphans)
        os.killpg(proc.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=10)
        return orphans

    def tree(self, name: str) -> list[int]:
        """Every live process the named process started, however deep (the task runner processes
        Airflow's supervisor puts in process groups of their own included)."""
        children: dict[int, list[int]] = defaultdict(list)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            children[int(fields[1])].append(int(stat.parent.name))
        root = self.procs[name].popen.pid
        found, todo = [], [root]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def task_runners(self, name: str) -> dict[str, int]:
        """Task instance id → pid of the task processes running under the named worker right now."""
        out = {}
        for pid in self.tree(name):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title.startswith("airflow worker -- "):
                out[title.split("--", 1)[1].strip()] = pid
        return out

    def kill_tree(self, name: str) -> list[int]:
        """SIGKILL a worker the way a lost host or container loses it: its process group and every
        process group below it (Airflow's task processes lead groups of their own)."""
        pids = self.tree(name)
        groups = {g for g in (pgid_of(p) for p in pids) if g is not None}
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.procs[name].popen.wait(timeout=10)
        return pids

    def owner_of(self, pid: int | None) -> str | None:
        """Which started process group a pid belongs to (for 'which worker runs this task')."""
        if not pid:
            return None
        group = pgid_of(pid)
        return next((name for name, proc in self.procs.items() if proc.pgid == group), None)

    def check_alive(self, *, except_: tuple[str, ...] = ()) -> None:
        dead = [n for n, p in self.procs.items() if n not in except_ and p.popen.poll() is not None]
        if dead:
            raise StackError(f"process(es) exited: {', '.join(dead)}\n" + self.log_tails(dead))

    def log_tails(self, names: list[str] | None = None, lines: int = 60) -> str:
        out = []
        for name, proc in self.procs.items():
            if names is None or name in names:
                out.append(f"----- {name} ({proc.log}) -----\n{proc.tail(lines)}")
        for log in sorted(self.logs.glob("*.log")):
            if log.stem not in self.procs and (names is None or log.stem in names):
                out.append(f"----- {log.stem} -----\n" + "\n".join(log.read_text(errors='replace').splitlines()[-lines:]))
        return "\n".join(out)

    @staticmethod
    def wait_http(url: str, seconds: float, name: str) -> None:
        deadline = time.monotonic() + seconds
        last: str = ""
        while time.monotonic() < deadline:
            try:
                resp = httpx.get(url, timeout=5)
                if resp.status_code < 500:
                    return
                last = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.5)
        raise StackError(f"{name} did not answer at {url} within {seconds:.0f}s ({last})")

    # -------------------------------------------------------------------------------- sandboxes
    def _start_sandboxes(self) -> None:
        self._start("fortnox-sandbox", [sys.executable, "-m", "sandbox.fortnox.audited",
                                        "--port", str(self.fortnox_port), "--rate-limit", str(self.rate_limit),
                                        "--rate-window", str(self.rate_window), "--access-ttl", str(self.access_ttl)])
        shared = f"http://127.0.0.1:{free_port()}" if self.shared_jetshop else ""
        if shared:
            self._start("jetshop-sandbox", [sys.executable, "-m", "sandbox", "jetshop", "--port",
                                            shared.rsplit(":", 1)[1], "--seed", "1"])
        for spec in self.tenants:
            if shared:
                spec.jetshop_url = shared
            else:
                port = free_port()
                spec.jetshop_url = f"http://127.0.0.1:{port}"
                self._start(f"jetshop-sandbox-{spec.tenant_id}", [sys.executable, "-m", "sandbox", "jetshop", "--port",
                                                                  str(port), "--seed", str(spec.jetshop_seed)])
            if spec.has_norce_shop:
                port = free_port()
                spec.norce_url = f"http://127.0.0.1:{port}"
                self._start(f"norce-sandbox-{spec.tenant_id}",
                            [sys.executable, "-m", "sandbox", "norce", "--port", str(port), "--seed", str(spec.jetshop_seed)])
        self.wait_http(f"{self.fortnox_url}/_sandbox/ratelimit", 60, "fortnox-sandbox")
        for spec in self.tenants:
            self.wait_http(f"{spec.jetshop_url}/_sandbox/shops", 60, f"jetshop-sandbox-{spec.tenant_id}")
            if shared:
                self._open_shops(spec)
            if spec.norce_url:
                self.wait_http(f"{spec.norce_url}/_sandbox/docs", 60, f"norce-sandbox-{spec.tenant_id}")

    def _open_shops(self, spec: TenantSpec) -> None:
        """The tenant's own shops in the shared Jetshop sandbox: ``<seeded shop>-<tenant>``, own login."""
        for shop in (s for s in spec.rules.get("shops", []) if s.get("backend") != "norce"):
            shop_id = f"{SHOPS[shop['key']]}-{spec.tenant_id}"
            httpx.post(f"{spec.jetshop_url}/_sandbox/shops", timeout=30, json={
                "shop_id": shop_id, "like": SHOPS[shop["key"]], "login": f"jetfort-{spec.tenant_id}-{shop['key']}",
                "password": secrets.token_urlsafe(12)}).raise_for_status()
            spec.jetshop_shops[shop["key"]] = shop_id

    def fortnox_audit(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.fortnox_url}/_sandbox/dist/audit", timeout=30).raise_for_status().json())

    # -------------------------------------------------------------------------------- REST API
    def token(self) -> str:
        if self._token is None:
            resp = httpx.post(f"{self.api_url}/auth/token", json={"username": "admin", "password": self.password},
                              timeout=30)
            if resp.status_code >= 300:
                raise StackError(f"POST /auth/token: HTTP {resp.status_code} {resp.text[:300]}")
            self._token = str(resp.json()["access_token"])
        return self._token

    def api(self, method: str, path: str, *, json_body: Any = None, params: Mapping[str, Any] | None = None,
            ok: tuple[int, ...] = (200, 201, 204)) -> Any:
        """One call to Airflow's public REST API (``/api/v2``) with the simple auth manager's JWT."""
        for attempt in range(2):
            resp = httpx.request(method, f"{self.api_url}{path}", json=json_body, params=params, timeout=60,
                                 headers={"Authorization": f"Bearer {self.token()}"})
            if resp.status_code == 401 and attempt == 0:
                self._token = None
                continue
            break
        if resp.status_code not in ok:
            raise StackError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:500]}")
        return resp.json() if resp.content else None

    def _configure_tenants(self) -> None:
        """Per tenant: a Fortnox sandbox company, its connections and its rules Variable (via REST)."""
        for spec in self.tenants:
            company = httpx.post(f"{self.fortnox_url}/_sandbox/companies",
                                 json={"name": f"{spec.tenant_id} AB"}, timeout=30).raise_for_status().json()
            spec.company = company
            # what the example rules name beyond the seeded company (projects, FRAKT, ...), as
            # `make demo` provisions it; the orders DAG's pre-flight checks for it
            from sandbox import demo_setup

            demo_setup.add_example_registers(self.fortnox_url, company)
            spec.fortnox_conn_id = f"fortnox_{spec.tenant_id}"
            spec.budget_company = f"{spec.tenant_id}-{company['tenant_id']}-{self.run_id}"
            connections: dict[str, dict[str, Any]] = {spec.fortnox_conn_id: {
                "conn_type": "fortnox", "host": self.fortnox_url,
                "login": company["client_id"], "password": company["client_secret"],
                "extra": {"refresh_token": company["refresh_token"], "auth_url": f"{self.fortnox_url}/oauth-v1/token",
                          # the budget key: unique per run, so nothing from an earlier run counts
                          "company": spec.budget_company,
                          "refresh_margin": self.refresh_margin,
                          # the client's budget window follows the sandbox's (25 per window either
                          # way) plus the arrival-jitter allowance (see the module docstring)
                          "rate_window": self.client_rate_window},
            }}
            shops = {s["shop_id"]: s for s in httpx.get(f"{spec.jetshop_url}/_sandbox/shops", timeout=30).json()}
            rules = json.loads(json.dumps(spec.rules))
            rules["fortnox_conn_id"] = spec.fortnox_conn_id
            for shop in rules["shops"]:
                if shop.get("backend") == "norce":
                    shop["norce_conn_id"] = f"norce_{spec.tenant_id}_{shop['key']}"
                    connections.update(demo_setup.norce_connections(
                        spec.norce_url, conn_id=shop["norce_conn_id"],
                        receiver_conn_id=f"norce_receiver_{spec.tenant_id}_{shop['key']}"))
                    continue
                conn_id = f"jetshop_{spec.tenant_id}_{shop['key']}"
                sandbox_shop = shops[spec.jetshop_shops.get(shop["key"], SHOPS[shop["key"]])]
                shop["jetshop_conn_id"] = conn_id
                connections[conn_id] = {"conn_type": "jetshop", "host": f"{spec.jetshop_url}{SOAP_PATH}",
                                        "login": sandbox_shop["login"], "password": sandbox_shop["password"],
                                        "extra": {"shop_id": sandbox_shop["shop_id"]}}
            spec.rules = rules
            for conn_id, conn in connections.items():
                self.api("POST", "/api/v2/connections", json_body={
                    "connection_id": conn_id, "conn_type": conn["conn_type"], "host": conn.get("host"),
                    "login": conn["login"], "password": conn["password"], "extra": json.dumps(conn["extra"])})
            self.api("POST", "/api/v2/variables", json_body={
                "key": f"jetfort_tenant_{spec.tenant_id}", "value": json.dumps(rules),
                "description": f"jetfort tenant rules ({spec.tenant_id}), distributed test"})

    def wait_for_dags(self, seconds: float, dag_ids: list[str] | None = None) -> list[str]:
        """Wait until the dag-processor has serialised the tenants' DAGs; returns every jetfort DAG id."""
        wanted = set(dag_ids or [])
        deadline = time.monotonic() + seconds
        found: set[str] = set()
        while time.monotonic() < deadline:
            self.check_alive()
            body = self.api("GET", "/api/v2/dags", params={"limit": 100, "dag_id_pattern": "jetfort__"})
            found = {d["dag_id"] for d in body["dags"]}
            tenant_dags = {d for d in found if any(d.startswith(f"jetfort__{t.tenant_id}__") for t in self.tenants)}
            if (wanted and wanted <= found) or (not wanted and tenant_dags):
                return sorted(found)
            time.sleep(2)
        errors = self.api("GET", "/api/v2/importErrors")
        raise StackError(f"DAGs not serialised within {seconds:.0f}s (have {sorted(found)}); "
                         f"import errors: {json.dumps(errors)[:2000]}")

    # convenience wrappers -----------------------------------------------------------------
    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", json_body={"is_paused": False})

    def trigger(self, dag_id: str, *, start: str, end: str, conf: dict[str, Any] | None = None,
                run_id: str | None = None) -> str:
        body = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json_body={
            # logical date = interval start, as the scheduler dates its own runs (a manual run dated
            # like a scheduled one collides with it on dag_run's unique (dag_id, logical_date))
            "dag_run_id": run_id, "logical_date": start, "data_interval_start": start, "data_interval_end": end,
            "conf": conf or {}})
        return str(body["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        body = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        return list(body["task_instances"])

    def wait_runs(self, runs: list[tuple[str, str]], seconds: float) -> dict[tuple[str, str], str]:
        """Wait until every (dag_id, run_id) is success or failed; returns the states."""
        deadline = time.monotonic() + seconds
        states: dict[tuple[str, str], str] = {}
        while time.monotonic() < deadline:
            states = {key: self.run_state(*key) for key in runs}
            if all(s in ("success", "failed") for s in states.values()):
                return states
            time.sleep(2)
        raise StackError(f"runs not finished within {seconds:.0f}s: {states}")

    def clear_failed(self, dag_id: str, run_id: str) -> list[str]:
        body = self.api("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", json_body={
            "dry_run": False, "dag_run_id": run_id, "only_failed": True, "reset_dag_runs": True,
            "include_downstream": True})
        return [ti["task_id"] for ti in body.get("task_instances", [])]

    def backfill_cli(self, dag_id: str, *, start: str, end: str, max_active_runs: int = 2,
                     reprocess: str = "completed") -> str:
        """``airflow backfill create`` as a data engineer types it (against this stack's metadata DB);
        returns what it printed. The scheduler then runs the backfill's runs on the workers."""
        name = f"backfill-{dag_id}"
        self._run(name, [self.airflow, "backfill", "create", "--dag-id", dag_id, "--from-date", start,
                         "--to-date", end, "--max-active-runs", str(max_active_runs),
                         "--reprocess-behavior", reprocess], timeout=180)
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def runs(self, dag_id: str, *, run_type: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 100}
        if run_type:
            params["run_type"] = run_type
        return list(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params=params)["dag_runs"])


# ------------------------------------------------------------------------------------- by hand
def example_tenants(count: int = 2) -> list[TenantSpec]:
    """``count`` tenants derived from include/mappings/tenants/demo_combo.json (two shops each)."""
    base = json.loads((REPO / "include" / "mappings" / "tenants" / "demo_combo.json").read_text())
    base.pop("$schema", None)
    out = []
    for index in range(1, count + 1):
        rules = json.loads(json.dumps(base))
        rules["display_name"] = f"Distributed test tenant {index} (two shops)"
        rules["retries"] = {"count": 3, "delay_seconds": 5}  # Airflow retries a killed task after 5 s
        out.append(TenantSpec(tenant_id=f"dist_t{index}", rules=rules, jetshop_seed=index))
    return out


@contextlib.contextmanager
def local_stack(workdir: Path | None = None, **kwargs: Any) -> Iterator[CeleryStack]:
    import tempfile

    workdir = workdir or Path(tempfile.mkdtemp(prefix="jetfort-celery-stack-"))
    postgres = os.environ.get("JETFORT_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("JETFORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    with CeleryStack(postgres_url=postgres, redis_url=redis_url, workdir=workdir,
                     tenants=kwargs.pop("tenants", None) or example_tenants(), **kwargs) as stack:
        yield stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.celery_stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up", help="start the whole topology with two example tenants; Ctrl-C stops it")
    parser.parse_args(argv)
    with local_stack() as stack:
        print(f"Airflow UI: {stack.api_url}  (admin / {stack.password})")
        print(f"Fortnox sandbox: {stack.fortnox_url}; Jetshop sandboxes: "
              + ", ".join(f"{t.tenant_id}={t.jetshop_url}" for t in stack.tenants))
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                stack.check_alive()
                time.sleep(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
