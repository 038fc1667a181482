"""docker compose ``sandbox-setup`` job: the demo tenants against the sandbox containers.

Provisions a fresh Fortnox sandbox company, writes the ``fortnox_demo``, ``jetshop_demo_*`` and
``norce_demo``/``norce_receiver_demo`` connections (hosts are the sandbox containers' service names, reachable from every worker) and
the example tenants' Variables into the metastore. Idempotent
apart from the sandbox company, which is new on every run (the sandbox forgets on restart anyway).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from sandbox import demo_setup


def wait_for(url: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"sandbox-setup: {url} did not answer within {seconds:.0f}s")
        time.sleep(1)


def main() -> int:
    fortnox = os.environ.get("JETFORT_SANDBOX_FORTNOX_URL", "http://fortnox-sandbox:8801")
    jetshop = os.environ.get("JETFORT_SANDBOX_JETSHOP_URL", "http://jetshop-sandbox:8802")
    norce = os.environ.get("JETFORT_SANDBOX_NORCE_URL", "http://norce-sandbox:8803")
    wait_for(f"{fortnox}/_sandbox/ratelimit")
    wait_for(f"{jetshop}/_sandbox/shops")
    wait_for(f"{norce}/_sandbox/docs")
    # every seeded order "modified now", so the demo's */5 schedule finds them in its first window
    for shop_id in demo_setup.SHOP_CONNECTIONS.values():
        httpx.post(f"{jetshop}/_sandbox/shops/{shop_id}/orders/touch", json={}, timeout=30).raise_for_status()
    # new Norce orders are pushed to the order receiver in the api-server container
    receiver = demo_setup.norce_receiver_url(os.environ.get("JETFORT_SANDBOX_AIRFLOW_URL", "http://airflow-apiserver:8080"))
    demo_setup.configure(fortnox_url=fortnox, jetshop_url=jetshop, norce_url=norce, norce_receiver=receiver)
    return subprocess.call([sys.executable, "-m", "jetfort.bootstrap"])


if __name__ == "__main__":
    raise SystemExit(main())
