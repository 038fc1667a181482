"""``python -m sandbox {jetshop|fortnox} --port P --seed 1 --live``: the command ``make up`` runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.__main__ import main
from sandbox.server import free_port

REPO = Path(__file__).resolve().parents[2]


def _wait_for(url: str, ready: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = requests.get(url, timeout=2).json()
            if ready(last):
                return dict(last)
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready: {last}")


def test_both_sandboxes_start_live_from_the_command_line_and_stop_on_ctrl_c() -> None:
    ports = {"jetshop": free_port(), "fortnox": free_port()}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = {name: subprocess.Popen([sys.executable, "-m", "sandbox", name, "--port", str(port), "--seed", "1",
                                     "--live"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True)
             for name, port in ports.items()}
    try:
        jetshop = _wait_for(f"http://127.0.0.1:{ports['jetshop']}/_sandbox/live",
                            lambda r: r.get("orders_created", 0) >= 1)
        fortnox = _wait_for(f"http://127.0.0.1:{ports['fortnox']}/_sandbox/live",
                            lambda r: r.get("loop", {}).get("ticks", 0) >= 1)
        assert jetshop["seed"] == 1 and jetshop["orders_per_minute"] == 3.0 and jetshop["loop"]["running"]
        assert jetshop["returns"]["percent"] == 10.0  # buyers return goods by default in live mode
        assert fortnox["seed"] == 1 and fortnox["delay_seconds"] == 120.0 and fortnox["loop"]["running"]
        order = jetshop["recent"][0]
        assert order["status_id"] in (1, 10)  # the release status of the shop it arrived in
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGINT)
        outputs = {name: proc.communicate(timeout=20)[0] for name, proc in procs.items()}
    assert all(proc.returncode == 0 for proc in procs.values()), outputs
    assert "live: 3 orders/min, returns 10%" in outputs["jetshop"]
    assert "live: documents move from 120 s after creation" in outputs["fortnox"]
    assert "Traceback" not in outputs["jetshop"] + outputs["fortnox"]


@pytest.mark.parametrize("argv", [
    ["fortnox", "--live", "--orders-per-minute", "3"],
    ["jetshop", "--live", "--live-delay-seconds", "30"],
    ["jetshop", "--orders-per-minute", "3"],
    ["jetshop", "--live", "--orders-per-minute", "0"],
    ["fortnox", "--live", "--returns-percent", "10"],
    ["jetshop", "--returns-percent", "10"],
    ["jetshop", "--live", "--returns-percent", "101"],
])
def test_live_options_are_refused_where_they_mean_nothing(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
