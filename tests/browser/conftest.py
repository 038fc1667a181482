"""The real-browser test of the jetfort page: the ``make up`` stack, the system's Chromium, Playwright.

Runs in ``make test-distributed`` (``JETFORT_DISTRIBUTED=1``, as the newcomer's ``make up`` walk does),
which first installs Debian's ``chromium`` with apt-get when it is missing (``make install-browser``).
Playwright drives that browser through ``executable_path``; it never downloads one. A missing browser
fails the test with what to run, it is never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.distributed.conftest import DISTRIBUTED_ENV
from tests.distributed.test_newcomer import Stack, running_stack

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("JETFORT_CHROMIUM", "/usr/bin/chromium"))
#: headless, and nothing that reaches past this machine (no component or safe-browsing updates, no sync)
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")
USERS = ("admin", "viewer")
FIGURES: dict[str, Any] = {}

collect_ignore = [] if os.environ.get(DISTRIBUTED_ENV) == "1" else ["test_jetfort_page.py"]


class BrowserStack(Stack):
    """The ``make up`` stack as the browser test reads it: where the UI is, each user's password."""

    @property
    def ui_url(self) -> str:
        # the origin the stack's [api] base_url names (sandbox/stack.py): the one a user opens
        return f"http://localhost:{self.ports['JETFORT_UI_PORT']}"

    def token(self, user: str) -> str:
        """A JWT for ``user`` from Airflow's own token endpoint (for REST calls the test makes itself)."""
        answer = httpx.post(f"{self.api_url}/auth/token", json={"username": user, "password": self.password(user)},
                            timeout=30)
        answer.raise_for_status()
        return str(answer.json()["access_token"])


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The system's Chromium (Debian's ``chromium`` package); its absence fails the test."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"no Chromium at {CHROMIUM}: the browser test drives the system's Chromium, never a downloaded "
                    "one. Install it with `make install-browser` (apt-get install chromium), or point "
                    "JETFORT_CHROMIUM at its executable.", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: `make install` (requirements-dev.txt pins it)", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[BrowserStack]:
    """``make up`` on its own AIRFLOW_HOME and free ports; ``make down`` afterwards. The stack's logs are
    kept (path printed) when the test failed or something was left running."""
    def failed() -> bool:
        return any(getattr(item, "rep_call", None) and item.rep_call.failed for item in request.session.items
                   if item.module is request.module)

    with running_stack("jetfort-browser-", FIGURES, make=BrowserStack, keep=failed) as made:
        yield made


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so the stack fixture keeps the logs of a failed test."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
