"""``make up`` / ``make down``: both sandboxes and ``airflow standalone`` with the demo tenants.

Every process is started in its own session (process group) and its pid written under
``$AIRFLOW_HOME/run``; ``down`` signals exactly those groups, so nothing it did not start is
touched and nothing it started is left behind (``airflow standalone`` spawns children with
their own process titles, which a plain kill of the parent would orphan).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sandbox import demo_setup

HOME = Path(os.environ.get("AIRFLOW_HOME", ".airflow")).resolve()
RUN = HOME / "run"
LOGS = HOME / "stack-logs"
UI_PORT = int(os.environ.get("JETFORT_UI_PORT", "8080"))
FORTNOX_PORT = int(os.environ.get("JETFORT_FORTNOX_PORT", "8801"))
JETSHOP_PORT = int(os.environ.get("JETFORT_JETSHOP_PORT", "8802"))


def _start(name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, **(env or {})})
    (RUN / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def _wait_http(url: str, seconds: float, name: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{name} did not come up at {url}; see {LOGS / (name + '.log')}")


def _running(name: str) -> bool:
    pid_file = RUN / f"{name}.pid"
    if not pid_file.exists():
        return False
    try:
        os.killpg(int(pid_file.read_text()), 0)
    except (ProcessLookupError, ValueError, PermissionError):
        return False
    return True


def up() -> None:
    py = sys.executable
    fortnox_url = f"http://127.0.0.1:{FORTNOX_PORT}"
    jetshop_url = f"http://127.0.0.1:{JETSHOP_PORT}"
    subprocess.run([py, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
    for name, port in (("fortnox", FORTNOX_PORT), ("jetshop", JETSHOP_PORT)):
        if not _running(name):
            _start(name, [py, "-m", "sandbox", name, "--port", str(port), "--seed", "1"])
    _wait_http(f"{fortnox_url}/_sandbox/docs", 30, "fortnox")
    _wait_http(f"{jetshop_url}/_sandbox/docs", 30, "jetshop")
    demo_setup.configure(fortnox_url=fortnox_url, jetshop_url=jetshop_url)
    subprocess.run([py, "-m", "jetfort.bootstrap"], check=True)
    subprocess.run([py, "-m", "airflow", "dags", "reserialize"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not _running("airflow"):
        base = f"http://localhost:{UI_PORT}"
        _start("airflow", [str(Path(py).with_name("airflow")), "standalone"], env={
            "AIRFLOW__API__PORT": str(UI_PORT),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        })
    _wait_http(f"http://localhost:{UI_PORT}/api/v2/monitor/health", 180, "airflow")
    passwords = HOME / "simple_auth_manager_passwords.json.generated"
    login = json.loads(passwords.read_text()) if passwords.exists() else {}
    print(f"Airflow UI:       http://localhost:{UI_PORT}")
    for user, password in login.items():
        print(f"login:            {user} / {password}")
    print(f"Fortnox sandbox:  {fortnox_url}   Jetshop sandbox: {jetshop_url}")
    dags = subprocess.run([py, "-m", "airflow", "dags", "list", "-o", "plain"], capture_output=True, text=True)
    print(dags.stdout.strip())
    print("stop everything with: make down")


def down() -> None:
    if not RUN.exists():
        print("nothing to stop")
        return
    groups = {}
    for pid_file in sorted(RUN.glob("*.pid")):
        try:
            groups[pid_file] = int(pid_file.read_text())
        except ValueError:
            pid_file.unlink()
    for pid in groups.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for pid_file, pid in groups.items():
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.3)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)
        print(f"stopped {pid_file.stem} (process group {pid})")


if __name__ == "__main__":
    {"up": up, "down": down}[sys.argv[1] if len(sys.argv) > 1 else "up"]()
