"""jetfort's ledger: what was synced, links, audit, cursors, quarantine, snapshots, tokens, budget."""

from jetfort.ledger.crypto import SecretKeyMissing
from jetfort.ledger.engine import LedgerUnavailable
from jetfort.ledger.store import Ledger, QuarantineEntry, Record

__all__ = ["Ledger", "LedgerUnavailable", "QuarantineEntry", "Record", "SecretKeyMissing"]
