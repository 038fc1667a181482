"""Hash master rows and diff them against the last snapshot, vectorised with pandas.

A *snapshot* (ledger ``catalog_snapshots``) holds per key the hash last seen on a side and the hash
jetfort itself last wrote there (``written``). Reading the side again:

* hash == last seen             → **unchanged**;
* hash == what jetfort wrote    → **echo** of jetfort's own write: nothing to send back (no loop);
* key not in the snapshot       → **new**;
* otherwise                     → **changed**;
* snapshot keys absent from a *full* read → **missing** (deleted or out of scope).

The row hash is BLAKE2b-128 over the row's values joined by U+001F, the same digest as
:func:`jetfort.mapping.products.canonical_hash`, so a hash stored by one run (or computed row by
row elsewhere) compares equal with a vectorised one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Diff", "diff_frame", "frame_of", "hash_rows", "hash_values", "snapshot_frame"]

SEP = "\x1f"


def hash_values(values: Iterable[Any]) -> str:
    """Digest of one row's values (strings; None counts as empty)."""
    text = SEP.join("" if v is None else str(v) for v in values)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def frame_of(records: Iterable[Mapping[str, Any]], columns: Sequence[str], key: str = "key") -> pd.DataFrame:
    """Records → frame indexed by ``key`` with string ``columns`` (missing values are empty strings)."""
    frame = pd.DataFrame.from_records(list(records), columns=[key, *columns])
    frame = frame.fillna("").astype({c: str for c in [key, *columns]})
    return frame.set_index(key)


def hash_rows(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One digest per row over ``columns`` (vectorised concatenation, then BLAKE2b per row)."""
    if frame.empty:
        return pd.Series([], index=frame.index, dtype=object)
    joined = frame[columns[0]].astype(str)
    for column in columns[1:]:
        joined = joined + SEP + frame[column].astype(str)
    digests = [hashlib.blake2b(text.encode(), digest_size=16).hexdigest() for text in joined.tolist()]
    return pd.Series(digests, index=frame.index, dtype=object)


def snapshot_frame(snapshot: Mapping[str, tuple[str, str | None]]) -> pd.DataFrame:
    """Ledger snapshot ``{key: (hash, written_hash)}`` → frame with columns ``seen`` and ``written``."""
    if not snapshot:
        return pd.DataFrame({"seen": pd.Series([], dtype=object), "written": pd.Series([], dtype=object)},
                            index=pd.Index([], dtype=object))
    keys = list(snapshot)
    values = list(snapshot.values())
    return pd.DataFrame({"seen": [v[0] for v in values], "written": [v[1] for v in values]},
                        index=pd.Index(keys, dtype=object))


@dataclass
class Diff:
    """Keys per outcome; ``missing`` only means something after a full read."""

    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    echo: list[str] = field(default_factory=list)
    unchanged: int = 0
    missing: list[str] = field(default_factory=list)

    @property
    def to_write(self) -> list[str]:
        return [*self.new, *self.changed]

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "changed": len(self.changed), "echo": len(self.echo),
                "unchanged": self.unchanged, "missing": len(self.missing)}


def diff_frame(current: pd.Series | pd.DataFrame, snapshot: pd.DataFrame | Mapping[str, tuple[str, str | None]],
               *, full: bool = False) -> Diff:
    """Compare current hashes (a Series, or a frame with a ``hash`` column) with a snapshot."""
    hashes = current["hash"] if isinstance(current, pd.DataFrame) else current
    snap = snapshot if isinstance(snapshot, pd.DataFrame) else snapshot_frame(snapshot)
    hashes = hashes[~hashes.index.duplicated(keep="first")]
    seen = snap["seen"].reindex(hashes.index)
    written = snap["written"].reindex(hashes.index)
    unchanged = (seen == hashes).to_numpy()
    echo = (~unchanged) & (written == hashes).to_numpy()
    new = (~unchanged) & (~echo) & seen.isna().to_numpy()
    changed = (~unchanged) & (~echo) & (~new)
    index = hashes.index
    result = Diff(new=index[new].tolist(), changed=index[changed].tolist(), echo=index[echo].tolist(),
                  unchanged=int(unchanged.sum()))
    if full:
        result.missing = snap.index.difference(index).tolist()
    return result
