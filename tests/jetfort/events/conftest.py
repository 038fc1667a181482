from tests.jetfort.events.support import env, sandbox_server  # noqa: F401 - fixtures
