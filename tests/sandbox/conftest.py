"""Shared by the sandbox test suites: nothing sandbox-specific lives here (see each subpackage)."""
