"""Fortnox REST API v3 sandbox: a local emulator that behaves like the real API (see README.md)."""

from .app import create_app
from .emulator import FortnoxSandbox

__all__ = ["FortnoxSandbox", "create_app"]
