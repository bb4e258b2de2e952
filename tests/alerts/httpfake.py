"""A loopback HTTP server standing in for a provider that cannot be reached from here.

Each test gives it a ``reply(request) -> (status, content_type, body)`` that checks the
request the way the real provider would and answers in the provider's format.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, str, bytes]


@dataclass
class FakeServer:
    """Handle on a running server: its URL and what it received."""

    url: str
    seen: list[Seen]


@contextmanager
def fake_provider(reply: Callable[[Seen], Reply]) -> Iterator[FakeServer]:
    """Serve on a free loopback port until the block exits."""
    seen: list[Seen] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            req = Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            seen.append(req)
            status, ctype, out = reply(req)
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-provider", daemon=True)
    thread.start()
    try:
        yield FakeServer(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
