"""jetfort: keeps Jetshop Commerce shops and a Fortnox company in sync, on Apache Airflow 3."""

__version__ = "0.1.0"
