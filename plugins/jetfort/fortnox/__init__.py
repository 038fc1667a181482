"""Fortnox client: ``FortnoxHook`` (OAuth, shared request budget, paging, typed errors) and models.

Import the hook from :mod:`jetfort.fortnox.hook`; this package init stays cheap (no Airflow import)
so mapping code can use :mod:`jetfort.fortnox.models` without pulling in HTTP or Airflow.
"""
