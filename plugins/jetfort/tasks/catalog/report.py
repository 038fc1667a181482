"""The drift report files: the drift table as CSV and a bar chart (differences per kind and shop) as PNG,
under ``$AIRFLOW_HOME/jetfort/reports/<tenant>/<run id>``.

matplotlib is imported when a report is written, not when a DAG file is parsed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from jetfort.tasks.catalog.base import Counts


def report_dir(tenant_id: str) -> Path:
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    return home / "jetfort" / "reports" / tenant_id


def write_report(frame: pd.DataFrame, counts: Sequence[Counts], directory: Path, run_id: str) -> tuple[Path, Path]:
    """The drift table as CSV and a bar chart (differences per kind and shop) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    directory.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    csv_path, png_path = directory / f"{safe}.csv", directory / f"{safe}.png"
    frame.to_csv(csv_path, index=False)
    fig, ax = plt.subplots(figsize=(7, 4))
    if frame.empty:
        ax.bar(["products", "stock", "prices"], [0, 0, 0])
        ax.set_title(f"No drift ({', '.join(f'{c.entity}: {c.read} compared' for c in counts)})", fontsize=8)
    else:
        table = frame.groupby(["kind", "shop"]).size().unstack(fill_value=0)
        table.plot.bar(ax=ax, rot=0)
        ax.set_title(f"Catalog drift: {len(frame)} difference(s) per kind and shop")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("differences")
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return csv_path, png_path
