"""Connect a tenant's Fortnox company from a terminal (a server without a browser at hand).

``python -m jetfort.onboard TENANT [--service-account] [--redirect-uri URI]`` prints Fortnox's consent
URL; open it in any browser, give the consent, then paste the address Fortnox sent the browser to (the
integration's redirect URI with ``code`` and ``state``; it does not matter whether that page loads).
The exchange and the storage are the jetfort page's (:mod:`jetfort.onboard.consent`): the state is
bound to ``cli:<OS user>`` and used once, the refresh token goes encrypted into the ledger and is
never printed. The redirect URI is ``--redirect-uri``, else the Fortnox connection's extra
``redirect_uri``; it must be the one registered for the integration in Fortnox's developer portal.

Run it where the ``airflow`` CLI runs (it reads the tenant Variables and the ``jetfort_ledger``
connection the same way). Exit status: 0 connected, 2 refused or bad input.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Mapping
from typing import TextIO
from urllib.parse import parse_qs, urlsplit

from jetfort.ledger import Ledger
from jetfort.onboard.consent import ConsentRefused, FortnoxConsent
from jetfort.rules import TenantRules
from jetfort.tenants import load_tenants_from_airflow


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jetfort.onboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tenant", help="the tenant id (its rules are the Variable jetfort_tenant_<id>)")
    parser.add_argument("--service-account", action="store_true",
                        help="ask for a service account (client credentials) beside the refresh token")
    parser.add_argument("--redirect-uri", help="the integration's registered redirect URI (default: the Fortnox "
                                               "connection's extra redirect_uri)")
    return parser


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def main(argv: list[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
         ledger: Ledger | None = None,
         tenants: Callable[[], tuple[Mapping[str, TenantRules], Mapping[str, object]]] = load_tenants_from_airflow) -> int:
    args = _parser().parse_args(argv)
    read, out = stdin or sys.stdin, stdout or sys.stdout
    rules, errors = tenants()
    if args.tenant not in rules:
        why = f"its rules do not validate: {errors[args.tenant]}" if args.tenant in errors else \
            f"no Variable jetfort_tenant_{args.tenant}"
        print(f"tenant {args.tenant}: {why}", file=sys.stderr)
        return 2
    flow = FortnoxConsent(ledger or Ledger.from_conn_id())
    user = f"cli:{getpass.getuser()}"
    try:
        started = flow.begin(args.tenant, rules[args.tenant], user_id=user, redirect_uri=args.redirect_uri,
                             service_account=args.service_account)
        print(f"Fortnox consent for tenant {args.tenant} (scopes: {' '.join(started.scopes)}).\n"
              f"1. Open this address in a browser and give the consent within 10 minutes:\n\n{started.url}\n\n"
              "2. Paste the address Fortnox sent the browser to (it starts with the redirect URI):", file=out)
        out.flush()
        pasted = read.readline().strip()
        query = parse_qs(urlsplit(pasted).query)
        if not query.get("state"):
            raise ConsentRefused("bad_input", "the pasted address has no state parameter: paste the whole address "
                                 "Fortnox redirected the browser to")
        connected = flow.complete(user_id=user, state=_first(query, "state") or "",
                                  code=_first(query, "code"), error=_first(query, "error"),
                                  error_description=_first(query, "error_description"))
    except ConsentRefused as exc:
        print(f"not connected: {exc}", file=sys.stderr)
        return 2
    print(f"Connected: tenant {connected.tenant}, connection {connected.conn_id}, company {connected.company}"
          f" (Fortnox tenant id {connected.fortnox_tenant_id}), scopes {' '.join(connected.scopes)}; the token is "
          "stored encrypted in the ledger.", file=out)
    if connected.missing_scopes:
        print(f"Fortnox did not grant: {' '.join(connected.missing_scopes)}", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
