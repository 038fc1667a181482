"""Norce Commerce emulator: OAuth2 identity, Query 2.0 (OData), Connect 4.0 Order/Product/Job, order push.

``create_app(seed)`` (in :mod:`sandbox.norce.app`) builds the FastAPI app; ``app.state.norce`` is the
:class:`~sandbox.norce.state.NorceSandbox` handle for in-process tests. See README.md in this folder.
"""
