"""The chaos suite uses the orders end-to-end fixtures (fast sandbox window, short task retries)."""

from tests.e2e.conftest import fast, orders_env

__all__ = ["fast", "orders_env"]
