"""Fault injection shared by both sandboxes.

A :class:`FaultPlan` is a set of probabilities (and counters for "the next N requests") that the
sandboxes consult once per request. Decisions come from a seeded RNG so a failing test can be
replayed. Tests change the plan through each sandbox's ``/_sandbox/faults`` endpoint or directly.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Fault(StrEnum):
    """What the sandbox does instead of (or after) serving a request normally."""

    RATE_LIMIT = "rate_limit"  # answer 429 without doing the work
    SERVER_ERROR = "server_error"  # answer 5xx without doing the work
    RESET = "reset"  # close the connection without an answer, work not done
    DROP_AFTER_COMMIT = "drop_after_commit"  # do the work, then close without an answer
    EXPIRE_TOKEN = "expire_token"  # treat the presented access token as expired


@dataclass
class FaultPlan:
    """Probabilities per fault (0..1), forced counts, and fixed latency in seconds."""

    rate_limit: float = 0.0
    server_error: float = 0.0
    reset: float = 0.0
    drop_after_commit: float = 0.0
    expire_token: float = 0.0
    latency: float = 0.0
    seed: int = 0
    # "fail the next N requests this way": consumed before probabilities are considered
    forced: dict[str, int] = field(default_factory=dict)
    # only requests whose method is in this set are eligible for drop_after_commit
    drop_methods: tuple[str, ...] = ("POST", "PUT")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class FaultInjector:
    """Thread-safe decision maker over a :class:`FaultPlan`."""

    _ORDER = (Fault.RESET, Fault.SERVER_ERROR, Fault.RATE_LIMIT, Fault.EXPIRE_TOKEN, Fault.DROP_AFTER_COMMIT)

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(plan or FaultPlan())
        self.counts: dict[str, int] = {f.value: 0 for f in Fault}

    def configure(self, plan: FaultPlan) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self.plan = plan
            self._rng = random.Random(plan.seed)

    def update(self, **changes: object) -> FaultPlan:
        """Replace some knobs; unknown names raise ``TypeError`` naming the knob."""
        data = self.plan.as_dict()
        for key in changes:
            if key not in data:
                raise TypeError(f"unknown fault knob {key!r}; known: {sorted(data)}")
        data.update(changes)
        if isinstance(data.get("drop_methods"), list):
            data["drop_methods"] = tuple(data["drop_methods"])  # type: ignore[arg-type]
        plan = FaultPlan(**data)  # type: ignore[arg-type]
        self.configure(plan)
        return plan

    def decide(self, method: str) -> Fault | None:
        """Pick at most one fault for this request (forced counts first)."""
        with self._lock:
            for fault in self._ORDER:
                left = self.plan.forced.get(fault.value, 0)
                if left > 0 and self._eligible(fault, method):
                    self.plan.forced[fault.value] = left - 1
                    self.counts[fault.value] += 1
                    return fault
            for fault in self._ORDER:
                p = float(getattr(self.plan, fault.value))
                if p > 0 and self._eligible(fault, method) and self._rng.random() < p:
                    self.counts[fault.value] += 1
                    return fault
        return None

    def _eligible(self, fault: Fault, method: str) -> bool:
        return fault is not Fault.DROP_AFTER_COMMIT or method.upper() in self.plan.drop_methods
