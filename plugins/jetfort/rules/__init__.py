"""Tenant rules: what a data engineer writes (JSON in an Airflow Variable) to tell jetfort how one
Fortnox company and its Jetshop shops are synced.

One Variable per tenant, key ``jetfort_tenant_<tenant_id>``. The model covers every flow (ecom, erp,
combo) from the start so later work only fills in behaviour. Defaults are data in
``include/mappings/`` (``defaults.json``, ``status_map.json``, ``vat_accounts.json``,
``product_fields.json``); ``JETFORT_MAPPINGS_DIR`` points elsewhere for an installed package.

One job per module:

* :mod:`~jetfort.rules.files` — the mappings directory, its data files, defaults as pydantic fields;
* :mod:`~jetfort.rules.errors` — :class:`RulesError` and field paths in every message;
* :mod:`~jetfort.rules.types` — value types, vocabularies and the base model;
* one module per section of the rules: :mod:`~jetfort.rules.shop`, :mod:`~jetfort.rules.schedules`,
  :mod:`~jetfort.rules.orders`, :mod:`~jetfort.rules.status`, :mod:`~jetfort.rules.prices`,
  :mod:`~jetfort.rules.stock`, :mod:`~jetfort.rules.catalog`, :mod:`~jetfort.rules.plugins`,
  :mod:`~jetfort.rules.notifications`, :mod:`~jetfort.rules.plans`, :mod:`~jetfort.rules.vat`
  (OSS, with the dated EU rate table ``eu_vat_rates.json``);
* :mod:`~jetfort.rules.tenant` — :class:`TenantRules`, the root, and the checks across sections;
* :mod:`~jetfort.rules.loading` — :func:`parse_tenant` and :func:`load_tenants`;
* :mod:`~jetfort.rules.schema` — the JSON schema (``python -m jetfort.rules`` writes it).

The package stays light: it does not import Airflow (reading the metastore is :mod:`jetfort.tenants`).
"""

from jetfort.rules.catalog import ArticleFilter, CatalogRules
from jetfort.rules.errors import RulesError
from jetfort.rules.files import (
    ENV_PREFIX,
    MAPPINGS_DIR_ENV,
    SCHEMA_FILE,
    TENANT_ID_PATTERN,
    TENANTS_DIR_ENV,
    VARIABLE_PREFIX,
    load_mapping,
    mappings_dir,
)
from jetfort.rules.loading import load_tenants, parse_tenant
from jetfort.rules.notifications import NotificationRules
from jetfort.rules.orders import CustomerDefaults, FeeRule, OrderAccounts, OrderRules
from jetfort.rules.plans import FEATURE_LABELS, PlanOverrides, minimum_plan, plan_table
from jetfort.rules.plugins import PluginSpec
from jetfort.rules.prices import PriceListRule
from jetfort.rules.schedules import RetryRules, Schedules
from jetfort.rules.schema import render_json_schema, write_json_schema
from jetfort.rules.shop import Channel, Shop
from jetfort.rules.status import StatusAction, StatusMapRules, StatusStates
from jetfort.rules.stock import StockOverride, StockRules, StockStatusIds, StockThresholds
from jetfort.rules.tenant import TenantRules
from jetfort.rules.types import FEATURES, PLANS, Feature, Flow, FortnoxState, Plan

__all__ = [
    "ENV_PREFIX",
    "FEATURES",
    "FEATURE_LABELS",
    "MAPPINGS_DIR_ENV",
    "PLANS",
    "SCHEMA_FILE",
    "TENANTS_DIR_ENV",
    "TENANT_ID_PATTERN",
    "VARIABLE_PREFIX",
    "ArticleFilter",
    "CatalogRules",
    "Channel",
    "CustomerDefaults",
    "Feature",
    "FeeRule",
    "Flow",
    "FortnoxState",
    "NotificationRules",
    "OrderAccounts",
    "OrderRules",
    "Plan",
    "PlanOverrides",
    "PluginSpec",
    "PriceListRule",
    "RetryRules",
    "RulesError",
    "Schedules",
    "Shop",
    "StatusAction",
    "StatusMapRules",
    "StatusStates",
    "StockOverride",
    "StockRules",
    "StockStatusIds",
    "StockThresholds",
    "TenantRules",
    "load_mapping",
    "load_tenants",
    "mappings_dir",
    "minimum_plan",
    "parse_tenant",
    "plan_table",
    "render_json_schema",
    "write_json_schema",
]
