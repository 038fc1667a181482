"""``python -m sandbox {fortnox|jetshop|norce} [--host H] [--port P] [--seed N] [--live ...]`` starts one emulator.

``--live`` makes the sandbox move on by itself: new shop orders keep arriving in the Jetshop sandbox
(``--orders-per-minute``) and buyers return some of what jetfort posted (``--returns-percent``);
documents in the Fortnox sandbox get delivered, invoiced, booked, paid or cancelled a while after they
were created (``--live-delay-seconds``). ``GET /_sandbox/live`` reports it.
"""

from __future__ import annotations

import argparse
import importlib

import uvicorn

APPS = {
    "fortnox": ("sandbox.fortnox.app", 8801),
    "jetshop": ("sandbox.jetshop.app", 8802),
    "norce": ("sandbox.norce.app", 8803),
}
DEFAULT_ORDERS_PER_MINUTE = 3.0
DEFAULT_RETURNS_PERCENT = 10.0
DEFAULT_LIVE_DELAY_SECONDS = 120.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("service", choices=sorted(APPS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1, help="seed for the deterministic demo data")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--live", action="store_true",
                        help="live mode: new orders arrive (jetshop, norce) / documents move on (fortnox)")
    parser.add_argument("--orders-per-minute", type=float, default=None,
                        help=f"jetshop/norce --live: new orders per minute (default {DEFAULT_ORDERS_PER_MINUTE:g})")
    parser.add_argument("--returns-percent", type=float, default=None,
                        help="jetshop --live: percent of posted orders a buyer returns goods from, 0 = never "
                             f"(default {DEFAULT_RETURNS_PERCENT:g})")
    parser.add_argument("--live-delay-seconds", type=float, default=None,
                        help="fortnox --live: seconds from a document's creation to its first move "
                             f"(default {DEFAULT_LIVE_DELAY_SECONDS:g})")
    args = parser.parse_args(argv)
    if args.orders_per_minute is not None and (args.service not in ("jetshop", "norce") or not args.live):
        parser.error("--orders-per-minute goes with: jetshop --live, norce --live")
    if args.returns_percent is not None and (args.service != "jetshop" or not args.live):
        parser.error("--returns-percent goes with: jetshop --live")
    if args.returns_percent is not None and not 0 <= args.returns_percent <= 100:
        parser.error("--returns-percent must be 0..100")
    if args.live_delay_seconds is not None and (args.service != "fortnox" or not args.live):
        parser.error("--live-delay-seconds goes with: fortnox --live")
    if args.orders_per_minute is not None and args.orders_per_minute <= 0:
        parser.error("--orders-per-minute must be above 0")
    if args.live_delay_seconds is not None and args.live_delay_seconds < 0:
        parser.error("--live-delay-seconds must be 0 or more")
    module_name, default_port = APPS[args.service]
    module = importlib.import_module(module_name)
    kwargs: dict[str, object] = {"live": True} if args.live else {}
    if args.orders_per_minute is not None:
        kwargs["orders_per_minute"] = args.orders_per_minute
    if args.returns_percent is not None:
        kwargs["returns_percent"] = args.returns_percent
    if args.live_delay_seconds is not None:
        kwargs["live_delay_seconds"] = args.live_delay_seconds
    app = module.create_app(seed=args.seed, **kwargs)
    port = args.port or default_port
    mode = app.state.live
    live = ("" if mode is None
            else f", live: {mode.orders_per_minute:g} orders/min, returns {mode.returns_percent:g}%"
            if args.service == "jetshop"
            else f", live: {mode.orders_per_minute:g} orders/min, each pushed" if args.service == "norce"
            else f", live: documents move from {mode.delay:g} s after creation")
    print(f"{args.service} sandbox on http://{args.host}:{port} (seed {args.seed}{live})", flush=True)
    uvicorn.run(app, host=args.host, port=port, log_level=args.log_level)


if __name__ == "__main__":
    main()
