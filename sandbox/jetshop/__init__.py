"""Jetshop Commerce integration web service emulator (SOAP 1.2, ASMX style).

``create_app(seed)`` builds the FastAPI app; ``app.state.jetshop`` is the :class:`JetshopSandbox`
handle for in-process tests. See README.md in this folder.
"""
