"""OAuth tokens in the ledger, encrypted, with a cross-process lock for single-use refresh tokens.

Fortnox refresh tokens are single-use: whoever refreshes must store the rotated token before
anyone else can try. :meth:`TokenStore.locked` holds an exclusive lock (row lock on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite) for the whole read-refresh-save, so concurrent workers queue up
and the second one sees the already-rotated token instead of spending a dead one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from jetfort.ledger.crypto import TokenCipher
from jetfort.ledger.schema import oauth_tokens
from jetfort.ledger.store import Ledger, as_utc, utcnow


@dataclass(frozen=True)
class StoredToken:
    access_token: str | None
    refresh_token: str | None
    expires_at: dt.datetime | None
    scope: str | None
    version: int

    def valid_for(self, seconds: float, now: dt.datetime | None = None) -> bool:
        """True when the access token exists and lives at least ``seconds`` longer."""
        if not self.access_token or self.expires_at is None:
            return False
        return self.expires_at - (now or utcnow()) > dt.timedelta(seconds=seconds)

    def __repr__(self) -> str:  # never show secrets in logs or tracebacks
        return f"StoredToken(version={self.version}, expires_at={self.expires_at}, scope={self.scope!r})"


class TokenSlot:
    """The locked row: read ``current``, call ``save`` with the rotated token before using it."""

    def __init__(self, conn: sa.Connection, trans: sa.RootTransaction, key: str, cipher: TokenCipher,
                 current: StoredToken | None):
        self._conn = conn
        self._trans = trans
        self._key = key
        self._cipher = cipher
        self.current = current

    def save(self, *, access_token: str, refresh_token: str | None, expires_at: dt.datetime,
             scope: str | None = None) -> StoredToken:
        version = (self.current.version if self.current else 0) + 1
        self._conn.execute(
            sa.update(oauth_tokens).where(oauth_tokens.c.key == self._key).values(
                access_token=self._cipher.encrypt(access_token),
                refresh_token=self._cipher.encrypt(refresh_token),
                expires_at=expires_at, scope=scope, version=version, updated_at=utcnow(),
            )
        )
        # make the rotated token durable now (this also ends the lock): the old one is spent
        self._trans.commit()
        self.current = StoredToken(access_token, refresh_token, expires_at, scope, version)
        return self.current


class TokenStore:
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._cipher = TokenCipher(ledger.secret_key())

    def _decode(self, row: sa.Row | None) -> StoredToken | None:  # type: ignore[type-arg]
        if row is None or row.version == 0:
            return None
        return StoredToken(
            access_token=self._cipher.decrypt(row.access_token),
            refresh_token=self._cipher.decrypt(row.refresh_token),
            expires_at=as_utc(row.expires_at),
            scope=row.scope,
            version=row.version,
        )

    def get(self, key: str) -> StoredToken | None:
        with self._ledger.engine.connect() as conn:
            row = conn.execute(sa.select(oauth_tokens).where(oauth_tokens.c.key == key)).first()
        return self._decode(row)

    @contextmanager
    def locked(self, key: str) -> Iterator[TokenSlot]:
        """Exclusive access to one token row across threads, processes and hosts."""
        ledger = self._ledger
        with ledger.engine.connect() as conn:
            # the row must exist before it can be locked
            with conn.begin():
                conn.execute(ledger._insert(oauth_tokens).values(key=key, version=0, updated_at=utcnow())
                             .on_conflict_do_nothing(index_elements=["key"]))
            trans = conn.begin()
            try:
                query = sa.select(oauth_tokens).where(oauth_tokens.c.key == key)
                if ledger.dialect == "postgresql":
                    query = query.with_for_update()
                row = conn.execute(query).first()
                yield TokenSlot(conn, trans, key, self._cipher, self._decode(row))
            except BaseException:
                if trans.is_active:
                    trans.rollback()
                raise
            if trans.is_active:
                trans.commit()

    def seed(self, key: str, *, refresh_token: str, access_token: str | None = None,
             expires_at: dt.datetime | None = None, scope: str | None = None) -> StoredToken:
        """Store the first token of a connection (from the authorization-code exchange)."""
        with self.locked(key) as slot:
            return slot.save(access_token=access_token or "", refresh_token=refresh_token,
                             expires_at=expires_at or utcnow(), scope=scope)
