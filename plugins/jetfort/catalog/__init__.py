"""The catalog diff engine: master-side rows as a pandas frame, hashed, compared to the ledger snapshot.

Pure: no I/O, no Airflow. :mod:`jetfort.tasks.catalog` reads the sides and the ledger and writes.
"""

from jetfort.catalog.diff import Diff, diff_frame, frame_of, hash_rows, snapshot_frame

__all__ = ["Diff", "diff_frame", "frame_of", "hash_rows", "snapshot_frame"]
