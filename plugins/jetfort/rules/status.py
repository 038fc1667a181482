"""Order status back to the shop (Fortnox → Jetshop): which Fortnox state sets which shop status."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal, get_args

from pydantic import ConfigDict, Field, model_validator

from jetfort.rules.errors import Problems
from jetfort.rules.files import load_mapping
from jetfort.rules.types import FortnoxState, Key, RulesModel, StatusId


def _partial_in_schema(schema: dict[str, Any]) -> None:
    """Rules may give only the fields that differ from the default state, so the schema requires none."""
    schema.pop("required", None)


class StatusAction(RulesModel):
    """What the shop order gets when the Fortnox document reaches a state (fields left out come from
    the default state; jetshop_status is required where the state has no default)."""

    model_config = ConfigDict(json_schema_extra=_partial_in_schema)

    jetshop_status: StatusId
    send_email: bool = False
    capture: bool = Field(
        default=False, description="Capture the payment (Klarna/DIBS) in Jetshop; never on cancelled."
    )
    include_tracking: bool = False


class StatusStates(RulesModel):
    """Fortnox state → action; null means the state is not pushed to the shop."""

    delivered: StatusAction | None = None
    invoiced: StatusAction | None = None
    paid: StatusAction | None = None
    cancelled: StatusAction | None = None
    credited: StatusAction | None = Field(
        default=None,
        description=("A shop return credited in Fortnox (partial credit invoice): the shop status to set; "
                     "null (default) = the shop keeps its own return status. Never captures."),
    )

    @model_validator(mode="after")
    def _capture_rules(self) -> StatusStates:
        problems = []
        if self.cancelled is not None and self.cancelled.capture:
            problems.append(("cancelled.capture", "a cancelled order is never captured"))
        if self.credited is not None and self.credited.capture:
            problems.append(("credited.capture", "a credited return is never captured"))
        capturing = [s for s, action in self.mapped() if action.capture and s not in ("cancelled", "credited")]
        if len(capturing) > 1:
            problems.extend(
                (f"{s}.capture", f"capture may be set on one state only (set on {', '.join(capturing)})")
                for s in capturing[1:]
            )
        if problems:
            raise Problems(problems)
        return self

    def mapped(self) -> Iterator[tuple[str, StatusAction]]:
        """The mapped states in Fortnox order (delivered, invoiced, paid, cancelled)."""
        for state in get_args(FortnoxState):
            action = getattr(self, state)
            if action is not None:
                yield state, action


TrackingField = Literal[
    "ExternalInvoiceReference1",
    "ExternalInvoiceReference2",
    "YourReference",
    "OurReference",
    "Remarks",
    "Comments",
]


class StatusMapRules(RulesModel):
    """Order status back to the shop; states merge field by field over include/mappings/status_map.json."""

    enabled: bool = Field(default=False, description="Default: true for flows erp and combo, false for ecom.")
    states: StatusStates = Field(
        default_factory=lambda: StatusStates.model_validate(load_mapping("status_map.json")["states"]),
        description="Each state merges field by field over status_map.json; null = not pushed.",
    )
    tracking_field: TrackingField = Field(
        default_factory=lambda: load_mapping("status_map.json")["tracking_field"],
        description=(
            "Fortnox document field holding the tracking number. Default ExternalInvoiceReference2: a short "
            "unprinted reference on orders and invoices that jetfort never writes."
        ),
    )
    tracking_url_template: str | None = Field(
        default=None,
        description="e.g. 'https://tracking.postnord.com/?id={tracking}'.",
        pattern=r"\{tracking\}",
    )
    states_by_shop: dict[Key, StatusStates] = Field(
        default_factory=dict,
        description="Shop key → states merged field by field over `states` (Jetshop status ids are per shop).",
    )
    trigger: Literal["poll", "websocket"] = Field(
        default="poll", description="websocket: Fortnox event stream as trigger, polling stays the fallback."
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        base = load_mapping("status_map.json")
        merged = {"tracking_field": base["tracking_field"], **data}
        states = _merge_states(base["states"], data.get("states", {}))
        merged["states"] = states
        by_shop = data.get("states_by_shop")
        if isinstance(by_shop, dict) and isinstance(states, dict):
            merged["states_by_shop"] = {shop: _merge_states(states, given) for shop, given in by_shop.items()}
        return merged

    def states_for(self, shop_key: str) -> StatusStates:
        """The status map for one shop (its override, else the tenant's)."""
        return self.states_by_shop.get(shop_key, self.states)


def _merge_states(base: Mapping[str, Any], given: Any) -> Any:
    """Per state: a dict merges field by field over the base action, null switches the state off."""
    if not isinstance(given, dict):
        return given
    states: dict[str, Any] = {}
    for state, action in base.items():
        if state not in given:
            states[state] = action
        elif isinstance(given[state], dict) and isinstance(action, dict):
            states[state] = {**action, **given[state]}
        else:
            states[state] = given[state]
    states.update({k: v for k, v in given.items() if k not in states})  # unknown → extra-field error
    return states
