"""A small process supervisor: starts programs, restarts the ones that die, records it all.

Each command runs in its own session (process group), so stopping it, or cleaning up after it
died, reaches its children too (a scheduler's task processes, uvicorn's workers). A program that
dies is restarted after a backoff that doubles with every exit inside ``window`` seconds; after
``max_restarts`` exits inside that window the supervisor gives up on it (state ``fatal``) and
leaves the others running. A program can wait for a gate file (``start_after``) before its first
start, so a caller can start some programs, prepare something, then release the rest.

Everything is recorded in a JSON status file (rewritten atomically on every change and every few
seconds): per program pid, state, alive, restarts, last exit code, port and log file. SIGTERM,
SIGINT or SIGHUP stop the programs in reverse order (stop signal, then SIGKILL to the group after
``stop_timeout``), write the final status and exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

RUNNING, WAITING, BACKOFF, FATAL, STOPPED = "running", "waiting", "backoff", "fatal", "stopped"


@dataclass
class Spec:
    """What to run. ``argv`` for a command; other program kinds may ignore it."""

    name: str
    argv: list[str] = field(default_factory=list)
    log: str = ""
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    start_after: str | None = None
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 20.0
    #: stopped after all the others (e.g. the database they use)
    stop_last: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Spec:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("stop_signal"), str):
            known["stop_signal"] = int(signal.Signals[known["stop_signal"]])
        return cls(**known)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_group(pgid: int, sig: int = signal.SIGTERM, timeout: float = 20.0,
               leader: subprocess.Popen[bytes] | None = None) -> None:
    """``sig`` to the process group, SIGKILL to what is left after ``timeout`` seconds. ``leader``
    (our child) is reaped while waiting: a zombie still counts as a member of its group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if leader is not None:
            leader.poll()
        if not group_alive(pgid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class Program:
    """One supervised thing; subclasses say how to start, watch and stop it."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.pid: int | None = None

    def launch(self) -> int:
        raise NotImplementedError

    def poll(self) -> int | None:
        """None while running, else the exit code (-1 when unknown)."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def reap(self) -> None:
        """After an exit: clean up what the dead program left behind."""


class CommandProgram(Program):
    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.popen: subprocess.Popen[bytes] | None = None

    def launch(self) -> int:
        log_path = Path(self.spec.log)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(self.spec.argv, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True,
                                          env={**os.environ, **self.spec.env})
        self.pid = self.popen.pid
        return self.pid

    def poll(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def reap(self) -> None:
        if self.pid and group_alive(self.pid):  # children of the dead leader, e.g. task processes
            stop_group(self.pid, signal.SIGTERM, timeout=5.0)

    def stop(self) -> None:
        if self.popen is None:
            return
        stop_group(self.popen.pid, self.spec.stop_signal, self.spec.stop_timeout, leader=self.popen)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


@dataclass
class _Record:
    program: Program
    state: str = WAITING
    restarts: int = 0
    starts: int = 0
    last_exit_code: int | None = None
    started_at: float | None = None
    next_start: float = 0.0
    message: str = ""
    exits: deque[float] = field(default_factory=deque)


class Supervisor:
    def __init__(self, programs: Iterable[Program], status_path: Path, *, max_restarts: int = 5,
                 window: float = 60.0, backoff: float = 1.0, max_backoff: float = 30.0,
                 poll_interval: float = 0.25, extra_status: Mapping[str, Any] | None = None) -> None:
        self.records = [_Record(p) for p in programs]
        self.status_path = status_path
        self.max_restarts = max_restarts
        self.window = window
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.poll_interval = poll_interval
        self.extra_status = dict(extra_status or {})
        self.state = RUNNING
        self.started_at = time.time()
        self._stop_requested = False

    # ------------------------------------------------------------------------------ lifecycle
    def request_stop(self, *_: object) -> None:
        self._stop_requested = True

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self.request_stop)
        last_write = 0.0
        try:
            while not self._stop_requested:
                changed = self.step()
                if changed or time.monotonic() - last_write > 2.0:
                    self.write_status()
                    last_write = time.monotonic()
                time.sleep(self.poll_interval)
        finally:
            self.shutdown()
        return 0

    def step(self) -> bool:
        """One pass: start what may start, notice exits, restart what is due. True if anything changed."""
        now = time.monotonic()
        changed = False
        for rec in self.records:
            if rec.state == RUNNING:
                code = rec.program.poll()
                if code is not None:
                    self._exited(rec, code, now)
                    changed = True
            elif rec.state == WAITING:
                gate = rec.program.spec.start_after
                if gate is None or Path(gate).exists():
                    self._launch(rec)
                    changed = True
            elif rec.state == BACKOFF and now >= rec.next_start:
                rec.restarts += 1
                self._launch(rec)
                changed = True
        return changed

    def _launch(self, rec: _Record) -> None:
        try:
            rec.program.launch()
        except Exception as exc:  # a start that fails counts as an exit
            rec.message = f"start failed: {type(exc).__name__}: {exc}"[:500]
            self._exited(rec, -1, time.monotonic(), launched=False)
            return
        rec.state = RUNNING
        rec.starts += 1
        rec.started_at = time.time()
        rec.message = ""

    def _exited(self, rec: _Record, code: int, now: float, *, launched: bool = True) -> None:
        rec.last_exit_code = code
        if launched:
            rec.program.reap()
        rec.exits.append(now)
        while rec.exits and now - rec.exits[0] > self.window:
            rec.exits.popleft()
        if len(rec.exits) >= self.max_restarts:
            rec.state = FATAL
            rec.message = (f"GAVE UP: exited {len(rec.exits)} times within {self.window:.0f} s "
                           f"(last exit code {code}); see {rec.program.spec.log}")
            return
        delay = min(self.backoff * 2 ** (len(rec.exits) - 1), self.max_backoff)
        rec.state = BACKOFF
        rec.next_start = now + delay
        if launched:
            rec.message = f"exited with code {code}; restarting in {delay:.1f} s"

    def shutdown(self) -> None:
        """Stop every running program at once, then the ``stop_last`` ones (in reverse order)."""
        self.state = "stopping"
        self.write_status()
        first = [rec for rec in self.records if not rec.program.spec.stop_last]
        last = [rec for rec in reversed(self.records) if rec.program.spec.stop_last]
        with ThreadPoolExecutor(max_workers=max(len(first), 1)) as pool:
            list(pool.map(self._stop_one, first))
        for rec in last:
            self._stop_one(rec)
        self.state = STOPPED
        self.write_status()

    @staticmethod
    def _stop_one(rec: _Record) -> None:
        if rec.state == RUNNING:
            with contextlib.suppress(Exception):
                rec.program.stop()
            rec.last_exit_code = rec.program.poll()
        rec.state = STOPPED
        rec.message = ""

    # ------------------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        processes = {}
        for rec in self.records:
            spec = rec.program.spec
            processes[spec.name] = {
                "pid": rec.program.pid,
                "state": rec.state,
                "alive": rec.state == RUNNING and pid_alive(rec.program.pid),
                "restarts": rec.restarts,
                "last_exit_code": rec.last_exit_code,
                "port": spec.port,
                "log": spec.log,
                "started_at": rec.started_at,
                "message": rec.message,
            }
        return {
            "supervisor": {"pid": os.getpid(), "state": self.state, "started_at": self.started_at,
                           "updated_at": time.time()},
            "processes": processes,
            **self.extra_status,
        }

    def write_status(self) -> None:
        write_json(self.status_path, self.status())


def write_json(path: Path, data: Mapping[str, Any], mode: int = 0o644) -> None:
    """Atomically replace ``path`` with ``data`` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None
