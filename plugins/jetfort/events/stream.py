"""One WebSocket to Fortnox per app: all tenants' events, in batches, with offsets kept safe.

:class:`AppSocket` connects (``websockets``), adds the tenants with the client secret and each
tenant's current access token, adds the topics from the offsets to resume from, subscribes and hands
the events on in batches (one per tenant and purpose, events received within ``coalesce`` seconds).
It reconnects with backoff after a disconnect, resuming after the last offset it saw; a tenant that
joins later, or a new topic, makes it reconnect replaying from the offsets it started from, so the
newcomer misses nothing. Access tokens are rotated while connected (a new one is added, then the
old one removed) before they expire or when the token store holds a newer one.

A second loop polls the ledger for batches whose runs succeeded (``event_applied``), lets the
:class:`~jetfort.events.offsets.OffsetTracker` move the safe offsets on and persists them; batches
left waiting longer than ``redeliver_after`` (their run failed) are delivered again under a new id.

A batch that follows the previous batch of its tenant and purpose within ``sweep_window`` seconds
may be left out of the run Airflow creates for it (Airflow 3.3 keeps one queued row per asset and
DAG, and an asset event that comes while that row waits joins only the next run of that asset). So
when such a batch is the last for ``sweep_after`` seconds, the stream hands over one empty *sweep*
batch (:func:`~jetfort.events.offsets.sweep_batch`): the run it starts takes any event left out.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields

import websockets
from websockets.asyncio.client import ClientConnection

from jetfort.events import protocol as p
from jetfort.events.credentials import App, Credentials, Subscriber, TenantToken
from jetfort.events.offsets import (
    Batch,
    Need,
    OffsetTracker,
    _Entry,
    applied_batches,
    persisted_offsets,
    prune_applied,
    save_offsets,
    stream_key_for,
    sweep_batch,
)
from jetfort.ledger import Ledger

log = logging.getLogger(__name__)


@dataclass
class StreamSettings:
    """Timings (seconds). Tests shorten them; the defaults suit Fortnox."""

    coalesce: float = 0.3  # events received within this window go into one batch
    poll_interval: float = 3.0  # how often applied batches are read and offsets persisted
    maintain_interval: float = 30.0  # token / tenant checks while connected
    invalid_retry: float = 300.0  # retry a tenant whose token was refused
    redeliver_after: float = 900.0  # a batch still waiting this long is delivered again
    orphan_grace: float = 900.0  # a gone trigger's waiting batches are given up after this
    command_timeout: float = 30.0
    open_timeout: float = 20.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    settle: float = 2.0  # wait this long after the first trigger registered, for its siblings
    #: after a batch that came within ``sweep_window`` of the one before it (same tenant and purpose)
    #: and no other for this long, one empty batch follows (0: never); see the module docstring
    sweep_after: float = 3.0
    sweep_window: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StreamSettings:
        """Defaults, each overridable by ``JETFORT_EVENTS_<NAME>`` (seconds), e.g.
        ``JETFORT_EVENTS_REDELIVER_AFTER=60`` in the triggerer's environment (tests, bench, demo)."""
        env = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for item in fields(cls):
            name = f"JETFORT_EVENTS_{item.name.upper()}"
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"${name} must be a number of seconds >= 0, got {raw!r}")
            values[item.name] = value
        return cls(**values)


class Reconnect(Exception):
    """Leave this session and start a new one (``rewind``: replay from the offsets we started from)."""

    def __init__(self, reason: str, *, rewind: bool) -> None:
        super().__init__(reason)
        self.rewind = rewind


class CommandFailed(RuntimeError):
    pass


@dataclass
class _Tenant:
    sub: Subscriber
    token: TenantToken | None = None
    tenant_id: int | None = None
    refused_at: float | None = None


class AppSocket:
    def __init__(self, app: App, credentials: Credentials, settings: StreamSettings,
                 deliver: Callable[[Batch], None], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.stream_key = stream_key_for(app.events_url, app.client_id)
        self.credentials = credentials
        self.settings = settings
        self.deliver = deliver
        self.clock = clock
        self.subs: dict[Need, Subscriber] = {}
        self.tracker = OffsetTracker()
        self.startup: dict[str, str] = {}
        self._ledger: Ledger | None = None
        self._tenants: dict[str, _Tenant] = {}
        self._by_id: dict[int, set[str]] = {}
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._responses: asyncio.Queue[p.CommandResponse] = asyncio.Queue()
        self._cmd_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._buffer: list[_Entry] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._last_batch: dict[Need, float] = {}
        self._sweeps: dict[Need, asyncio.TimerHandle] = {}
        self._session_topics: set[str] = set()
        self._orphans: dict[Need, float] = {}
        self._refused_at: dict[str, float] = {}
        self._pruned_at = 0.0
        self.stats = {"received": 0, "duplicates": 0, "batches": 0, "sessions": 0, "rotations": 0, "sweeps": 0}

    def __repr__(self) -> str:
        return f"AppSocket({self.app.events_url!r}, client {self.app.client_id!r})"

    # ------------------------------------------------------------------------------ wanted state
    def update(self, subs: Iterable[Subscriber]) -> None:
        """The triggers this socket serves now (the hub calls this when they come and go)."""
        self.subs = {s.need: s for s in subs}
        self._wake.set()

    def topics(self) -> list[str]:
        purposes = sorted({purpose for _, purpose in self.subs})
        return [t for purpose in purposes for t in p.PURPOSE_TOPICS[purpose]]

    def wanted_tenants(self) -> dict[str, Subscriber]:
        wanted: dict[str, Subscriber] = {}
        for sub in self.subs.values():
            wanted.setdefault(sub.tenant, sub)
        return wanted

    # ------------------------------------------------------------------------------ lifetime
    async def run(self) -> None:
        self._ledger = await self.credentials.ledger(self.app.ledger_conn_id)
        self.startup = await asyncio.to_thread(persisted_offsets, self._ledger, self.stream_key)
        self.tracker = OffsetTracker(self.startup)
        committer = asyncio.create_task(self._commit_loop(), name=f"{self!r} commit")
        try:
            await self._connection_loop()
        finally:
            committer.cancel()
            await asyncio.wait({committer})
            if self._flush_handle is not None:
                self._flush_handle.cancel()
            for handle in self._sweeps.values():
                handle.cancel()
            self._sweeps.clear()

    async def _connection_loop(self) -> None:
        delay = self.settings.backoff_initial
        rewind = False
        while True:
            started, received = self.clock(), self.stats["received"]
            try:
                await self._session(rewind=rewind)
            except Reconnect as again:
                log.info("Fortnox events %r: reconnecting (%s)", self, again)
                rewind, delay = again.rewind, self.settings.backoff_initial
                continue
            except (OSError, TimeoutError, websockets.WebSocketException, p.ProtocolError, CommandFailed) as exc:
                log.warning("Fortnox events %r: connection lost (%s: %s); reconnecting in %.1f s",
                            self, type(exc).__name__, exc, delay)
            rewind = False
            if self.stats["received"] > received or self.clock() - started > 60:
                delay = self.settings.backoff_initial
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, self.settings.backoff_max)

    async def _session(self, *, rewind: bool) -> None:
        topics = self.topics()
        if rewind:
            self.tracker.rewind()
            offsets: dict[str, str | None] = {t: self.startup.get(t) for t in topics}
        else:
            offsets = self.tracker.resume_offsets(topics)
        self._tenants = {}
        self._by_id = {}
        self.stats["sessions"] += 1
        async with websockets.connect(self.app.events_url, open_timeout=self.settings.open_timeout,
                                      ping_interval=20, ping_timeout=20, close_timeout=1,
                                      max_size=2 ** 22) as ws:
            self._ws = ws
            self._responses = asyncio.Queue()
            self._reader = asyncio.create_task(self._read(ws), name=f"{self!r} reader")
            try:
                await self._start(offsets)
                await self._maintain()
            finally:
                self._reader.cancel()
                await asyncio.wait({self._reader})
                self._ws = None

    async def _start(self, offsets: dict[str, str | None]) -> None:
        await self._add_tenants(self.wanted_tenants().values())
        if not self._tenants:
            raise CommandFailed("no tenant could be added (see the log lines before)")
        answer = await self._command(p.add_topics(offsets))
        if answer.invalidTopics:
            log.error("Fortnox events %r: the server refused topics %s", self, answer.invalidTopics)
        if not answer.ok:
            raise CommandFailed(f"add-topics-v1 failed: {answer.reason()}")
        answer = await self._command(p.subscribe())
        if not answer.ok:
            raise CommandFailed(f"subscribe-v1 failed: {answer.reason()}")
        self._session_topics = set(offsets)
        log.info("Fortnox events %r: subscribed for %d tenant(s), topics %s", self, len(self._tenants),
                 ", ".join(sorted(offsets)))

    # ------------------------------------------------------------------------------ commands
    async def _command(self, command: dict[str, object]) -> p.CommandResponse:
        ws, reader = self._ws, self._reader
        assert ws is not None and reader is not None
        name = str(command["command"])
        async with self._cmd_lock:
            await ws.send(p.encode(command))
            log.debug("Fortnox events %r: sent %s", self, p.describe(command))
            deadline = self.clock() + self.settings.command_timeout
            while True:
                getter = asyncio.ensure_future(self._responses.get())
                try:
                    done, _ = await asyncio.wait({getter, reader}, timeout=max(0.0, deadline - self.clock()),
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not getter.done():
                        getter.cancel()
                if getter not in done:
                    if reader in done:
                        reader.result()
                        raise ConnectionError("the server closed the socket")
                    raise TimeoutError(f"no answer to {name} within {self.settings.command_timeout} s")
                answer = getter.result()
                if answer.response == name:
                    return answer
                log.warning("Fortnox events %r: unexpected answer to %s while waiting for %s",
                            self, answer.response, name)

    async def _add_tenants(self, subs: Iterable[Subscriber]) -> None:
        now = self.clock()
        tokens: dict[str, TenantToken] = {}
        for sub in subs:
            try:
                tokens[sub.tenant] = await self.credentials.token(sub)
            except Exception as exc:
                self._refused(sub, now, f"no access token ({type(exc).__name__}: {exc})")
        if not tokens:
            return
        answer = await self._command(p.add_tenants(self.app.client_secret,
                                                   [t.access_token for t in tokens.values()]))
        for tenant, token in tokens.items():
            sub = self.wanted_tenants().get(tenant) or next(s for s in subs if s.tenant == tenant)
            tenant_id = answer.tenant_of(token.access_token)
            if tenant_id is None or answer.invalid(token.access_token):
                self._refused(sub, now, "Fortnox listed its access token in invalidTokens"
                              if answer.invalid(token.access_token) else f"not added ({answer.reason()})")
                continue
            self._tenants[tenant] = _Tenant(sub, token, tenant_id)
            self._refused_at.pop(tenant, None)
            self._by_id.setdefault(tenant_id, set()).add(tenant)

    def _refused(self, sub: Subscriber, now: float, why: str) -> None:
        log.error("Fortnox events %r: tenant %r (connection %r) is not subscribed: %s; retrying in %.0f s",
                  self, sub.tenant, sub.fortnox_conn_id, why, self.settings.invalid_retry)
        self._tenants.pop(sub.tenant, None)
        self._refused_at[sub.tenant] = now

    async def _remove(self, tenant: str) -> None:
        state = self._tenants.pop(tenant, None)
        if state is None or state.token is None:
            return
        if state.tenant_id is not None:
            self._by_id.get(state.tenant_id, set()).discard(tenant)
        if any(t.token and t.token.access_token == state.token.access_token for t in self._tenants.values()):
            return  # another jetfort tenant on the same Fortnox company still needs it
        answer = await self._command(p.remove_tenants([state.token.access_token]))
        if not answer.ok:
            log.warning("Fortnox events %r: removing tenant %r failed: %s", self, tenant, answer.reason())
        else:
            log.info("Fortnox events %r: tenant %r removed (no trigger watches it any more)", self, tenant)

    # ------------------------------------------------------------------------------ while connected
    async def _maintain(self) -> None:
        while True:
            reader = self._reader
            assert reader is not None
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                done, _ = await asyncio.wait({reader, waker}, timeout=self.settings.maintain_interval,
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                waker.cancel()
            if reader in done:
                reader.result()
                raise ConnectionError("the server closed the socket")
            self._wake.clear()
            await self._reconcile()
            await self._rotate_tokens()

    async def _reconcile(self) -> None:
        """Tenants and topics as the triggers want them now."""
        if set(self.topics()) != self._session_topics:
            raise Reconnect("the topics changed", rewind=True)
        wanted = self.wanted_tenants()
        for tenant in [t for t in self._tenants if t not in wanted]:
            await self._remove(tenant)
        now = self.clock()
        joined = [t for t in wanted if t not in self._tenants and t not in self._refused_at]
        retry = [t for t in wanted if t not in self._tenants and t in self._refused_at
                 and now - self._refused_at[t] >= self.settings.invalid_retry]
        if retry:
            # only worth a replaying reconnect once a refused tenant has a token again
            for tenant in retry:
                try:
                    await self.credentials.token(wanted[tenant])
                except Exception as exc:
                    self._refused(wanted[tenant], now, f"no access token ({type(exc).__name__}: {exc})")
                else:
                    joined.append(tenant)
                    self._refused_at.pop(tenant, None)
        if joined:
            # a tenant added mid-stream would miss its events since we started: replay from there
            raise Reconnect(f"tenant(s) {', '.join(sorted(joined))} joined", rewind=True)

    async def _rotate_tokens(self) -> None:
        """A tenant whose token was renewed (near expiry, or by another process) gets the new one."""
        for tenant, state in list(self._tenants.items()):
            try:
                fresh = await self.credentials.token(state.sub)
            except Exception as exc:
                log.warning("Fortnox events %r: tenant %r: could not read its access token (%s: %s); "
                            "keeping the current one", self, tenant, type(exc).__name__, exc)
                continue
            old = state.token
            if old is None or fresh.access_token == old.access_token:
                continue
            sharing = [t for t in self._tenants.values() if t.token and t.token.access_token == fresh.access_token]
            if sharing:  # another tenant on the same company already rotated to it
                state.token = fresh
                continue
            await self._rotate(tenant, state, fresh)

    async def _rotate(self, tenant: str, state: _Tenant, fresh: TenantToken) -> None:
        old = state.token
        assert old is not None
        # add the new token first, then remove the old one: no moment without the tenant
        answer = await self._command(p.add_tenants(self.app.client_secret, [fresh.access_token]))
        tenant_id = answer.tenant_of(fresh.access_token)
        if tenant_id is None or answer.invalid(fresh.access_token):
            log.error("Fortnox events %r: tenant %r: Fortnox refused its renewed access token; "
                      "keeping the current one until it expires", self, tenant)
            return
        state.token = fresh
        if not any(t.token and t.token.access_token == old.access_token for t in self._tenants.values()):
            removed = await self._command(p.remove_tenants([old.access_token]))
            if not removed.ok:
                log.warning("Fortnox events %r: tenant %r: removing its old token failed: %s",
                            self, tenant, removed.reason())
        listed = await self._command(p.list_tenants())
        ids = listed.tenantIds if isinstance(listed.tenantIds, list) else list((listed.tenantIds or {}).values())
        self.stats["rotations"] += 1
        if tenant_id not in ids:
            # the server dropped the company with the old token: resubscribe, replaying
            raise Reconnect(f"tenant {tenant!r} left the socket on token rotation", rewind=True)
        log.info("Fortnox events %r: tenant %r: access token rotated while connected", self, tenant)

    # ------------------------------------------------------------------------------ events
    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                message = p.parse(raw)
            except p.ProtocolError as exc:
                log.error("Fortnox events %r: unreadable server message skipped: %s", self, exc)
                continue
            if isinstance(message, p.Event):
                self._on_event(message)
            else:
                self._responses.put_nowait(message)

    def _on_event(self, event: p.Event) -> None:
        purpose = p.TOPIC_PURPOSE.get(event.topic)
        names = self._by_id.get(event.tenantId, set())
        needs = {(n, purpose) for n in names if purpose and (n, purpose) in self.subs}
        entry = self.tracker.receive(event, needs=needs)
        if entry is None:
            self.stats["duplicates"] += 1
            return
        self.stats["received"] += 1
        if entry.pending:
            self._buffer.append(entry)
            if self._flush_handle is None:
                self._flush_handle = asyncio.get_running_loop().call_later(self.settings.coalesce, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        entries, self._buffer = self._buffer, []
        groups: dict[Need, list[_Entry]] = {}
        for entry in entries:
            for need in sorted(entry.needs):
                groups.setdefault(need, []).append(entry)
        now = self.clock()
        for (tenant, purpose), group in groups.items():
            batch = self.tracker.new_batch(tenant, purpose, group, now)
            self.stats["batches"] += 1
            log.info("Fortnox events %r: batch %s for tenant %r (%s): %d event(s)",
                     self, batch.id, tenant, purpose, len(group))
            self._hand_over(batch, now)

    def _hand_over(self, batch: Batch, now: float) -> None:
        """Deliver ``batch`` and (re)arm its need's sweep when it came soon after the one before."""
        need = batch.need
        before = self._last_batch.get(need)
        self._last_batch[need] = now
        self.deliver(batch)
        pending = self._sweeps.pop(need, None)
        if pending is not None:
            pending.cancel()
        after = self.settings.sweep_after
        if after > 0 and (pending is not None or (before is not None and now - before <= self.settings.sweep_window)):
            self._sweeps[need] = asyncio.get_running_loop().call_later(after, self._sweep, need)

    def _sweep(self, need: Need) -> None:
        self._sweeps.pop(need, None)
        if need not in self.subs:
            return
        batch = sweep_batch(*need, self.clock())
        self.stats["sweeps"] += 1
        log.info("Fortnox events %r: sweep batch %s for tenant %r (%s): takes any event Airflow left "
                 "out of the runs of the batches before", self, batch.id, *need)
        self.deliver(batch)

    # ------------------------------------------------------------------------------ offsets
    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval)
            try:
                await self.commit_once()
            except Exception as exc:
                log.warning("Fortnox events %r: could not read applied batches or save offsets (%s: %s); "
                            "retrying", self, type(exc).__name__, exc)

    async def commit_once(self) -> dict[str, str]:
        """Read applied batches, move and persist the safe offsets; returns the offsets saved."""
        ledger = self._ledger
        assert ledger is not None
        ids = self.tracker.pending_batch_ids()
        if ids:
            done = await asyncio.to_thread(applied_batches, ledger, ids)
            if done:
                self.tracker.applied(done)
        now = self.clock()
        self._give_up_orphans(now)
        self._redeliver(now)
        changed = self.tracker.advance()
        if changed:
            await asyncio.to_thread(save_offsets, ledger, self.stream_key, changed)
            self.tracker.saved(changed)
        if now - self._pruned_at > 3600:
            self._pruned_at = now
            await asyncio.to_thread(prune_applied, ledger)
        return changed

    def _give_up_orphans(self, now: float) -> None:
        for need in self.tracker.pending_needs():
            if need in self.subs:
                self._orphans.pop(need, None)
                continue
            since = self._orphans.setdefault(need, now)
            if now - since >= self.settings.orphan_grace:
                count = self.tracker.drop(*need)
                self._orphans.pop(need, None)
                log.warning("Fortnox events %r: tenant %r (%s) has had no trigger for %.0f s: %d waiting "
                            "batch(es) given up (its scheduled run catches up)", self, need[0], need[1],
                            now - since, count)

    def _redeliver(self, now: float) -> None:
        for batch in self.tracker.stale(now, self.settings.redeliver_after):
            if batch.need not in self.subs:
                continue
            fresh = self.tracker.redeliver(batch, now)
            log.warning("Fortnox events %r: batch %s of tenant %r (%s) not applied after %.0f s: its %d "
                        "event(s) delivered again as batch %s", self, batch.id, batch.tenant, batch.purpose,
                        now - batch.created, len(fresh.entries), fresh.id)
            self._hand_over(fresh, now)


__all__ = ["AppSocket", "StreamSettings"]
