"""The jetfort page in the Airflow UI: a FastAPI app the api-server mounts under ``/jetfort`` (see
:mod:`jetfort.ui.plugin`; the app itself is :func:`jetfort.ui.app.create_app`)."""
