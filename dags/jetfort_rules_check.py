"""Makes invalid tenant rules visible: the error (tenant + field path) shows as an import error.

Each flow's DAG file skips tenants whose rules do not validate, so one bad Variable never hides
another tenant's DAGs; this file is where the bad ones are reported, in the Airflow UI's
"DAG import errors" list, until the Variable is fixed.
"""

from jetfort.factory import InvalidTenantRules, load_tenants, rules_errors_message

_tenants, _errors = load_tenants()
if _errors:
    raise InvalidTenantRules(rules_errors_message(_errors))
