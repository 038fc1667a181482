"""jetfort's ledger: what was synced, links, audit, cursors, quarantine, snapshots, tokens, budget."""

from jetfort.ledger.store import Ledger, QuarantineEntry, Record

__all__ = ["Ledger", "QuarantineEntry", "Record"]
