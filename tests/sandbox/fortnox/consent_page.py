"""What a browser does on the Fortnox sandbox's consent page (for tests of the consent's callers)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests


def give_consent(url: str, *, decision: str = "approve", tenant_id: int | None = None) -> str:
    """Open the consent page at ``url``, pick the company ``tenant_id`` (else the preselected one), press
    *Godkänn* (``approve``) or *Avbryt* (``deny``); returns where Fortnox sends the browser."""
    parts = urlsplit(url)
    with requests.Session() as browser:
        page = browser.get(url, allow_redirects=False, timeout=10)
        assert page.status_code == 200, page.text
        request_id = re.search(r'name="request" value="([^"]+)"', page.text)
        assert request_id is not None, page.text
        form = {"request": request_id.group(1), "decision": decision}
        if tenant_id is not None:
            form["tenant_id"] = str(tenant_id)
        answer = browser.post(f"{parts.scheme}://{parts.netloc}/oauth-v1/consent", data=form, allow_redirects=False,
                              timeout=10)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])
