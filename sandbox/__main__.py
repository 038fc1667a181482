"""``python -m sandbox {fortnox|jetshop} [--host H] [--port P] [--seed N]`` starts one emulator."""

from __future__ import annotations

import argparse
import importlib

import uvicorn

APPS = {
    "fortnox": ("sandbox.fortnox.app", 8801),
    "jetshop": ("sandbox.jetshop.app", 8802),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("service", choices=sorted(APPS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1, help="seed for the deterministic demo data")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    module_name, default_port = APPS[args.service]
    module = importlib.import_module(module_name)
    app = module.create_app(seed=args.seed)
    port = args.port or default_port
    print(f"{args.service} sandbox on http://{args.host}:{port} (seed {args.seed})", flush=True)
    uvicorn.run(app, host=args.host, port=port, log_level=args.log_level)


if __name__ == "__main__":
    main()
