"""Jetshop side of jetfort: the SOAP hook, jetfort's Jetshop models, typed errors and the shipped WSDL.

Import the hook from :mod:`jetfort.jetshop.hook` (it pulls in Airflow and zeep); models and errors
are importable without either.
"""

from __future__ import annotations

from pathlib import Path

WSDL_PATH = Path(__file__).resolve().parent / "wsdl" / "webservice.wsdl"

__all__ = ["WSDL_PATH"]
