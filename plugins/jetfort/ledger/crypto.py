"""Encryption of OAuth secrets at rest (Fernet from ``cryptography``).

The key comes from the ledger connection's ``extra.secret_key``, else ``JETFORT_LEDGER_SECRET_KEY``.
For the embedded SQLite default only, a key file beside the database is created on first use
(mode 0600), so a demo needs no setup; PostgreSQL ledgers must be given a key.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_ENV = "JETFORT_LEDGER_SECRET_KEY"


class SecretKeyMissing(RuntimeError):
    pass


class TokenCipher:
    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key if isinstance(key, bytes) else key.encode())

    def encrypt(self, value: str | None) -> bytes | None:
        return None if value is None else self._fernet.encrypt(value.encode())

    def decrypt(self, value: bytes | None) -> str | None:
        if value is None:
            return None
        try:
            return self._fernet.decrypt(bytes(value)).decode()
        except InvalidToken as exc:
            raise SecretKeyMissing("stored token cannot be decrypted with the configured key") from exc


def resolve_key(explicit: str | None, sqlite_path: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV]
    if sqlite_path and sqlite_path != ":memory:":
        key_file = Path(sqlite_path).with_suffix(".key")
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        return key_file.read_text().strip()
    raise SecretKeyMissing(
        f"no ledger secret key: set {KEY_ENV} or extra.secret_key on the ledger connection "
        "(jetfort_ledger); a ledger other than SQLite needs one, the same on every worker"
    )
