"""The package surface the tasks import, and MappingProblem as the quarantine reads it."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import jetfort.extensions as extensions
import jetfort.mapping as mapping
from jetfort.errors import PermanentError
from jetfort.mapping.problems import MappingProblem


def test_package_exports() -> None:
    from jetfort.mapping import FortnoxFacts, MappingProblem, fortnox_total, map_document, plan_customer
    from jetfort.mapping.orders import map_document as direct

    assert map_document is direct
    assert {FortnoxFacts.__name__, MappingProblem.__name__, plan_customer.__name__, fortnox_total.__name__}
    assert set(mapping.__all__) >= {"MappingProblem", "FortnoxFacts", "MappedDocument", "CustomerPlan",
                                    "idempotency_key", "map_document", "plan_customer", "fortnox_total"}
    with pytest.raises(AttributeError):
        _ = mapping.no_such_name


def test_the_mapping_never_imports_the_extensions_module() -> None:
    """The dependency goes one way: jetfort.extensions re-exports the mapping's plugin functions, the
    mapping (which applies plugins itself) never needs jetfort.extensions, in a fresh interpreter."""
    plugins_dir = Path(__file__).resolve().parents[3] / "plugins"
    code = ("import sys; import jetfort.mapping, jetfort.mapping.orders, jetfort.mapping.customers; "
            "print(sorted(m for m in sys.modules if m == 'jetfort.extensions'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(plugins_dir), "PATH": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
    assert extensions.apply_document_plugins is mapping.apply_document_plugins


def test_mapping_problem_is_permanent_and_survives_pickling() -> None:
    problem = MappingProblem("total_mismatch", "total", "Order 1: shop 100.00 SEK, Fortnox 90 SEK")
    assert isinstance(problem, PermanentError) and problem.retryable is False
    again = pickle.loads(pickle.dumps(problem))
    assert (again.reason, again.field, again.message) == (problem.reason, problem.field, problem.message)
    assert again.as_dict() == {"reason": "total_mismatch", "field": "total",
                               "message": "Order 1: shop 100.00 SEK, Fortnox 90 SEK"}
    assert "total_mismatch" in str(problem) and "Order 1" in str(problem)
