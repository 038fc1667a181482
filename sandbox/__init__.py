"""Local emulators of the Fortnox REST API and the Jetshop SOAP web service.

Used by tests, benchmarks and the demo; never imported by ``plugins/jetfort``.
"""
