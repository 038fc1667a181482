"""Airflow glue: each stage = hooks + mapping + ledger, returning a small JSON summary."""
