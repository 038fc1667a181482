"""The trigger against the Fortnox sandbox's real /topics-v1 WebSocket (helper A's), run the way
Airflow's triggerer runs shared streams: one socket for all tenants, offsets persisted only after
mark_applied, a crash replays, disconnects and duplicates, token rotation while connected."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from airflow.sdk import Asset, AssetWatcher

from jetfort.events import hub as hubs
from jetfort.events.offsets import mark_applied, persisted_offsets, stream_key_for
from jetfort.events.stream import StreamSettings
from jetfort.events.trigger import FortnoxEventsUnavailable, FortnoxEventTrigger
from tests.jetfort.events.support import FAST, Env, events_of, running, until

pytestmark = pytest.mark.timeout(120)


def trig(tenant: str, purpose: str, conn: str) -> FortnoxEventTrigger:
    return FortnoxEventTrigger(tenant=tenant, purpose=purpose, fortnox_conn_id=conn)


def emit(env: Env, conn: str, topic: str, kind: str, entity: str) -> dict[str, Any]:
    return env.sandbox.events.emit(env.creds.companies[conn].tenant_id, topic, kind, entity)


def subscribed(env: Env, *tenant_ids: int) -> bool:
    conns = env.connections()
    return len(conns) == 1 and conns[0]["subscribed"] and set(conns[0]["tenantIds"]) == set(tenant_ids)


def key(env: Env, conn: str = "fx_a") -> str:
    return stream_key_for(env.ws_url, env.creds.companies[conn].client_id)


def test_trigger_serializes_and_is_an_asset_watcher_trigger() -> None:
    trigger = FortnoxEventTrigger(tenant="acme", purpose="status", fortnox_conn_id="fortnox_acme")
    classpath, kwargs = trigger.serialize()
    assert classpath == "jetfort.events.trigger.FortnoxEventTrigger"
    assert kwargs == {"tenant": "acme", "purpose": "status", "fortnox_conn_id": "fortnox_acme",
                      "events_url": None, "ledger_conn_id": None}
    again = FortnoxEventTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert again.shared_stream_key() == FortnoxEventTrigger(tenant="b", purpose="catalog",
                                                            fortnox_conn_id="x").shared_stream_key()
    watcher = AssetWatcher(name="acme_status_events", trigger=trigger)
    Asset("jetfort://acme/fortnox-status", watchers=[watcher])
    with pytest.raises(ValueError, match="purpose"):
        FortnoxEventTrigger(tenant="acme", purpose="orders", fortnox_conn_id="x")


def test_two_tenants_share_one_socket_and_each_trigger_gets_only_its_events(env: Env) -> None:
    a, b, c = env.creds.company("fx_a"), env.creds.company("fx_b"), env.creds.company("fx_c")

    async def scenario() -> None:
        async with running() as runner:
            runner.start(1, trig("acme", "status", "fx_a"))
            runner.start(2, trig("beta", "status", "fx_b"))
            runner.start(3, trig("acme", "catalog", "fx_a"))
            await until(lambda: subscribed(env, a.tenant_id, b.tenant_id), what="one socket with both tenants")
            emit(env, "fx_a", "orders", "order-updated-v1", "101")
            emit(env, "fx_c", "orders", "order-updated-v1", "900")  # not watched: never reaches anyone
            emit(env, "fx_b", "invoices", "invoice-bookkeep-v1", "55")
            emit(env, "fx_a", "articles", "article-updated-v1", "ART-1")
            emit(env, "fx_a", "invoices", "invoicepayment-bookkeep-v1", "77")
            await until(lambda: len(events_of(runner.events[1])) == 2 and runner.events[2] and runner.events[3],
                        what="events for every trigger")
            await asyncio.sleep(0.3)
            assert len(env.connections()) == 1  # ONE socket for the app's tenants
            for trigger_id, (tenant, purpose) in {1: ("acme", "status"), 2: ("beta", "status"),
                                                  3: ("acme", "catalog")}.items():
                for payload in runner.events[trigger_id]:
                    assert payload["tenant"] == tenant and payload["purpose"] == purpose and payload["batch"]
            sandbox_a = [(e["topic"], e["offset"], e["entityId"])
                         for topic in ("orders", "invoices") for e in env.sandbox.events.log(topic, a.tenant_id)]
            assert sorted(events_of(runner.events[1])) == sorted(sandbox_a)
            assert [e[2] for e in events_of(runner.events[2])] == ["55"]
            assert [(e[0], e[2]) for e in events_of(runner.events[3])] == [("articles", "ART-1")]
            assert not runner.errors
            assert c.tenant_id not in env.connections()[0]["tenantIds"]

    asyncio.run(scenario())


def test_offsets_move_only_after_mark_applied_and_a_crash_replays(env: Env) -> None:
    a = env.creds.company("fx_a")

    async def scenario() -> None:
        async with running() as runner:  # first life: anchor the offsets with one applied event
            runner.start(1, trig("acme", "status", "fx_a"))
            await until(lambda: subscribed(env, a.tenant_id), what="subscribed")
            first = emit(env, "fx_a", "orders", "order-created-v1", "1")
            await until(lambda: runner.events[1], what="first batch")
            await asyncio.sleep(0.4)
            assert persisted_offsets(env.ledger, key(env)) == {}  # not applied yet: nothing persisted
            assert mark_applied(env.ledger, "acme", "status", [p["batch"] for p in runner.events[1]]) == 1
            await until(lambda: persisted_offsets(env.ledger, key(env)) == {"orders": first["offset"]},
                        what="offset persisted after mark_applied")
            later = [emit(env, "fx_a", "orders", "order-updated-v1", str(n)) for n in (2, 3, 4)]
            await until(lambda: len(events_of(runner.events[1])) == 4, what="three more events")
            taken = runner.events[1][1:]
            await asyncio.sleep(0.4)
            assert persisted_offsets(env.ledger, key(env)) == {"orders": first["offset"]}
        # the triggerer died before the run succeeded: a new life replays those events
        async with running() as runner:
            runner.start(1, trig("acme", "status", "fx_a"))
            await until(lambda: len(events_of(runner.events[1])) == 3, what="replayed events")
            assert [e[1] for e in events_of(runner.events[1])] == [e["offset"] for e in later]
            assert {p["batch"] for p in runner.events[1]}.isdisjoint({p["batch"] for p in taken})
            mark_applied(env.ledger, "acme", "status", [p["batch"] for p in taken])  # old ids: unknown now
            await asyncio.sleep(0.4)
            assert persisted_offsets(env.ledger, key(env)) == {"orders": first["offset"]}
            mark_applied(env.ledger, "acme", "status", [p["batch"] for p in runner.events[1]])
            await until(lambda: persisted_offsets(env.ledger, key(env)) == {"orders": later[-1]["offset"]},
                        what="offset after the replayed batches were applied")

    asyncio.run(scenario())


def test_disconnects_and_duplicates_lose_nothing_and_repeat_nothing(env: Env) -> None:
    a = env.creds.company("fx_a")
    env.sandbox.events.set_knobs(duplicate_every=2, disconnect_after=3, shuffle_topics=True)

    async def scenario() -> None:
        async with running() as runner:
            runner.start(1, trig("acme", "status", "fx_a"))
            await until(lambda: subscribed(env, a.tenant_id), what="subscribed")
            for n in range(12):
                emit(env, "fx_a", "orders" if n % 3 else "invoices", "order-updated-v1", str(n))
                await asyncio.sleep(0.02)
            oracle = {(e["topic"], e["offset"], e["entityId"])
                      for topic in ("orders", "invoices") for e in env.sandbox.events.log(topic, a.tenant_id)}
            await until(lambda: set(events_of(runner.events[1])) == oracle, timeout=20, what="all 12 events")
            await asyncio.sleep(0.5)
            got = events_of(runner.events[1])
            assert len(got) == 12 == len(set(got))  # none twice
            for topic in ("orders", "invoices"):  # per topic in the log's order
                assert [e for e in got if e[0] == topic] == [(e["topic"], e["offset"], e["entityId"])
                                                            for e in env.sandbox.events.log(topic, a.tenant_id)]
            [socket] = hubs.hub_for(("jetfort.events", "fortnox")).sockets()
            assert socket.stats["sessions"] >= 3 and socket.stats["duplicates"] >= 1

    asyncio.run(scenario())


def test_token_rotation_while_connected_and_refused_tokens_name_the_tenant(
        env: Env, caplog: pytest.LogCaptureFixture) -> None:
    a, b = env.creds.company("fx_a"), env.creds.company("fx_b")
    env.creds.tokens["fx_b"] = "tok-REFUSED-4711"
    caplog.set_level(logging.DEBUG, logger="jetfort.events")

    async def scenario() -> None:
        async with running() as runner:
            runner.start(1, trig("acme", "status", "fx_a"))
            runner.start(2, trig("beta", "status", "fx_b"))
            await until(lambda: subscribed(env, a.tenant_id), what="acme subscribed")
            [socket] = hubs.hub_for(("jetfort.events", "fortnox")).sockets()
            sessions = socket.stats["sessions"]
            new = env.creds.rotate("fx_a")
            await until(lambda: socket.stats["rotations"] == 1, what="rotation")
            assert socket.stats["sessions"] == sessions  # rotated on the open socket
            assert subscribed(env, a.tenant_id)
            emit(env, "fx_a", "orders", "order-updated-v1", "5")
            await until(lambda: runner.events[1], what="event after rotation")
            # beta gets a valid token: it joins (the socket replays for it) and its events flow
            env.creds.rotate("fx_b")
            await until(lambda: subscribed(env, a.tenant_id, b.tenant_id), what="beta joined")
            emit(env, "fx_b", "invoices", "invoice-updated-v1", "9")
            await until(lambda: runner.events[2], what="beta's event")
            text = caplog.text
            assert "tenant 'beta'" in text and "invalidTokens" in text
            for secret in ("tok-REFUSED-4711", new, env.creds.tokens["fx_b"], a.client_secret):
                assert secret not in text

    asyncio.run(scenario())


def test_a_tenant_joining_later_gets_its_events_since_the_socket_started(env: Env) -> None:
    a, b = env.creds.company("fx_a"), env.creds.company("fx_b")

    async def scenario() -> None:
        async with running() as runner:  # anchor acme's offsets
            runner.start(1, trig("acme", "status", "fx_a"))
            await until(lambda: subscribed(env, a.tenant_id), what="subscribed")
            emit(env, "fx_a", "orders", "order-created-v1", "1")
            await until(lambda: runner.events[1], what="anchor batch")
            mark_applied(env.ledger, "acme", "status", [p["batch"] for p in runner.events[1]])
            await until(lambda: persisted_offsets(env.ledger, key(env)), what="anchored")
        async with running() as runner:
            runner.start(1, trig("acme", "status", "fx_a"))
            await until(lambda: subscribed(env, a.tenant_id), what="subscribed again")
            missed = emit(env, "fx_b", "orders", "order-created-v1", "42")  # beta not watched yet
            emit(env, "fx_a", "orders", "order-updated-v1", "2")
            await until(lambda: runner.events[1], what="acme event")
            runner.start(2, trig("beta", "status", "fx_b"))
            await until(lambda: runner.events[2], what="beta's earlier event")
            assert events_of(runner.events[2]) == [("orders", missed["offset"], "42")]
            await asyncio.sleep(0.3)
            assert len(events_of(runner.events[1])) == 1  # acme's event was not delivered twice
            assert subscribed(env, a.tenant_id, b.tenant_id)  # still ONE socket, now with both

    asyncio.run(scenario())


def test_a_tenant_whose_connection_cannot_be_read_fails_alone(env: Env) -> None:
    a = env.creds.company("fx_a")

    async def scenario() -> None:
        async with running() as runner:
            runner.start(1, trig("acme", "status", "fx_a"))
            runner.start(2, trig("ghost", "status", "fx_missing"))
            await until(lambda: 2 in runner.errors, what="ghost's trigger failed")
            error = runner.errors[2]
            assert isinstance(error, FortnoxEventsUnavailable)
            assert "tenant 'ghost'" in str(error) and "fx_missing" in str(error)
            await until(lambda: subscribed(env, a.tenant_id), what="acme subscribed")
            emit(env, "fx_a", "orders", "order-updated-v1", "8")
            await until(lambda: runner.events[1], what="acme still served")
            assert 1 not in runner.errors

    asyncio.run(scenario())


def test_a_batch_whose_run_failed_is_delivered_again_and_then_the_offset_moves(env: Env) -> None:
    a = env.creds.company("fx_a")
    hubs.configure(settings=lambda: StreamSettings(**{**FAST, "redeliver_after": 0.6}))

    async def scenario() -> None:
        async with running() as runner:
            runner.start(1, trig("acme", "status", "fx_a"))
            await until(lambda: subscribed(env, a.tenant_id), what="subscribed")
            event = emit(env, "fx_a", "orders", "order-updated-v1", "31")
            await until(lambda: len(runner.events[1]) >= 2, what="the same events again")  # nobody applied
            first, again = runner.events[1][:2]
            assert first["batch"] != again["batch"] and first["events"] == again["events"]
            assert persisted_offsets(env.ledger, key(env)) == {}
            mark_applied(env.ledger, "acme", "status", [again["batch"]])  # the retry's run succeeded
            await until(lambda: persisted_offsets(env.ledger, key(env)) == {"orders": event["offset"]},
                        what="offset after the redelivered batch was applied")
            count = len(runner.events[1])
            await asyncio.sleep(1.0)
            assert len(runner.events[1]) == count  # done: not delivered again

    asyncio.run(scenario())


def test_a_batch_soon_after_another_is_followed_by_one_empty_sweep_batch(env: Env) -> None:
    """Airflow 3.3 may leave an asset event that came while the asset's queued row waited out of the
    run it then creates; the sweep batch after a run of close batches makes one more run take it."""
    a = env.creds.company("fx_a")
    hubs.configure(settings=lambda: StreamSettings(**{**FAST, "sweep_after": 0.5, "sweep_window": 1.0}))

    async def scenario() -> None:
        async with running() as runner:
            runner.start(1, trig("acme", "status", "fx_a"))
            runner.start(2, trig("acme", "catalog", "fx_a"))
            await until(lambda: subscribed(env, a.tenant_id), what="subscribed")
            emit(env, "fx_a", "orders", "order-updated-v1", "1")  # alone: no sweep after it
            emit(env, "fx_a", "articles", "article-updated-v1", "A-1")  # another purpose: alone too
            await until(lambda: runner.events[1] and runner.events[2], what="the first batches")
            await asyncio.sleep(1.5)  # past sweep_window and sweep_after
            assert [len(p["events"]) for p in runner.events[1]] == [1]
            assert [len(p["events"]) for p in runner.events[2]] == [1]
            for n in range(2, 6):  # a burst: each batch within sweep_window of the one before
                emit(env, "fx_a", "orders", "order-updated-v1", str(n))
                await asyncio.sleep(0.15)
            await until(lambda: len(events_of(runner.events[1])) == 5, what="the burst's events")
            assert not any(p.get("sweep") for p in runner.events[1])  # none while the burst goes on
            await until(lambda: runner.events[1][-1].get("sweep"), timeout=3, what="the sweep batch")
            sweep = runner.events[1][-1]
            assert sweep["events"] == [] and sweep["tenant"] == "acme" and sweep["purpose"] == "status"
            assert sweep["batch"] not in {p["batch"] for p in runner.events[1][:-1]}
            await asyncio.sleep(1.0)
            assert sum(1 for p in runner.events[1] if p.get("sweep")) == 1  # one per burst, not a chain
            assert [len(p["events"]) for p in runner.events[2]] == [1]  # the catalog trigger: nothing
            # the sweep holds no event: offsets move once the real batches were applied, sweep or not
            real = [p["batch"] for p in runner.events[1] if not p.get("sweep")]
            mark_applied(env.ledger, "acme", "status", real)
            await until(lambda: persisted_offsets(env.ledger, key(env)).get("orders")
                        == env.sandbox.events.log("orders", a.tenant_id)[-1]["offset"], what="offset moved")
            assert not runner.errors

    asyncio.run(scenario())


def test_no_sweep_when_sweep_after_is_zero(env: Env) -> None:
    a = env.creds.company("fx_a")
    hubs.configure(settings=lambda: StreamSettings(**{**FAST, "sweep_after": 0.0, "sweep_window": 5.0}))

    async def scenario() -> None:
        async with running() as runner:
            runner.start(1, trig("acme", "status", "fx_a"))
            await until(lambda: subscribed(env, a.tenant_id), what="subscribed")
            for n in range(3):
                emit(env, "fx_a", "orders", "order-updated-v1", str(n))
                await asyncio.sleep(0.15)
            await until(lambda: len(events_of(runner.events[1])) == 3, what="the events")
            await asyncio.sleep(1.0)
            assert len(runner.events[1]) >= 2 and not any(p.get("sweep") for p in runner.events[1])

    asyncio.run(scenario())
