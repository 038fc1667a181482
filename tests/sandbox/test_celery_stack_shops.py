"""The Celery stack's shared Jetshop sandbox (``shared_jetshop=True``, used by bench/many_tenants.py):
every tenant gets shops of its own, with its own logins, in one sandbox, and its Jetshop connections
point at them."""

from __future__ import annotations

from pathlib import Path

import httpx

from sandbox.celery_stack import CeleryStack, example_tenants
from sandbox.jetshop.app import create_app
from sandbox.server import serve_in_thread


def test_each_tenant_gets_its_own_shops_and_logins_in_the_shared_sandbox(tmp_path: Path) -> None:
    tenants = example_tenants(2)  # two shops each: se (demoshop) and nordic (nordicshop)
    stack = CeleryStack(postgres_url="postgresql+psycopg2://nobody@127.0.0.1:1/none", redis_url="redis://127.0.0.1:1/15",
                        workdir=tmp_path, tenants=tenants, shared_jetshop=True)
    app = create_app(seed=1)
    with serve_in_thread(app) as base:
        for spec in tenants:
            spec.jetshop_url = base
            stack._open_shops(spec)
        listed = {s["shop_id"]: s for s in httpx.get(f"{base}/_sandbox/shops", timeout=10).json()}

    assert set(listed) == {"demoshop", "nordicshop", "demoshop-dist_t1", "nordicshop-dist_t1",
                           "demoshop-dist_t2", "nordicshop-dist_t2"}
    assert tenants[0].jetshop_shops == {"se": "demoshop-dist_t1", "nordic": "nordicshop-dist_t1"}
    assert tenants[1].jetshop_shops == {"se": "demoshop-dist_t2", "nordic": "nordicshop-dist_t2"}
    logins = [listed[shop]["login"] for spec in tenants for shop in spec.jetshop_shops.values()]
    assert len(set(logins)) == 4 and "jetfort-demo" not in logins
    # a copy keeps its seeded shop's channels (the rules' channel ids and price lists hold there)
    assert listed["nordicshop-dist_t2"]["channels"] == listed["nordicshop"]["channels"]
    sandbox = app.state.jetshop
    assert sandbox.orders("demoshop-dist_t1") == [] and sandbox.orders("demoshop") != []
