"""A counting HTTP proxy: how many requests actually reached the server, counted on the server side.

Put in front of the Jetshop sandbox, it counts every request as it arrives (before anything else
happens to it), optionally holds it for ``delay`` seconds (a slow server, for client timeouts), then
forwards it and relays the answer. The count is what the server saw, whatever the client believes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

#: hop-by-hop and framing headers the proxy sets itself
_SKIP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


class CountingProxy:
    def __init__(self, target: str, *, delay: float = 0.0) -> None:
        self.target = target.rstrip("/")
        self.delay = delay
        self.arrivals: list[str] = []  # "METHOD path", in arrival order
        self._lock = threading.Lock()

    def count(self, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for a in self.arrivals if method is None or a.startswith(f"{method} "))

    def _arrived(self, method: str, path: str) -> None:
        with self._lock:
            self.arrivals.append(f"{method} {path}")


def _handler(proxy: CountingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            proxy._arrived(self.command, self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if proxy.delay:
                time.sleep(proxy.delay)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _SKIP}
            answer = requests.request(self.command, proxy.target + self.path, data=body, headers=headers,
                                      timeout=30)
            try:
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in _SKIP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)
            except OSError:
                pass  # the client gave up waiting (a timeout under test)

        do_GET = do_POST = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def counting_proxy(target: str, *, delay: float = 0.0) -> Iterator[tuple[CountingProxy, str]]:
    """A running proxy to ``target`` and its base URL."""
    proxy = CountingProxy(target, delay=delay)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
