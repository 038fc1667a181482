"""The ``airflow.plugins`` entry points pyproject.toml declares, and an environment in which a
subprocess sees them installed (a throwaway distribution on PYTHONPATH), so tests of the Airflow
plugins check the declaration itself rather than whatever jetfort happens to be installed."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GROUP = "airflow.plugins"


def declared_plugins() -> dict[str, str]:
    """Entry point name → target, as pyproject.toml declares them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return dict(project.get("entry-points", {}).get(GROUP, {}))


def probe_environment(tmp_path: Path) -> dict[str, str]:
    """os.environ plus a PYTHONPATH on which the declared entry points are installed."""
    dist = tmp_path / "site" / "jetfort_plugin_probe-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: jetfort-plugin-probe\nVersion: 0.0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in declared_plugins().items())
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\n{lines}")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), str(REPO), env.get("PYTHONPATH", "")])
    return env
